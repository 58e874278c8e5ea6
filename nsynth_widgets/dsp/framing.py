"""Hop arithmetic shared by the encoder, the generator and the plots."""

from ..errors import AudioError

__all__ = ["frames_for", "trim_to_hop"]


def frames_for(n_samples, hop_length=512):
    """Number of encoding frames for ``n_samples`` of audio (``n_samples // hop_length``)."""
    return int(n_samples) // int(hop_length)


def trim_to_hop(audio, hop_length=512):
    """Trim the last axis to a whole number of hops, as the NSynth encoder does.

    Parameters
    ----------
    audio : np.ndarray [shape=(..., n)]
    hop_length : int

    Returns
    -------
    trimmed : np.ndarray [shape=(..., (n // hop_length) * hop_length)]
        A view of ``audio``; the input is never modified.
    """
    n = audio.shape[-1]
    if n < hop_length:
        raise AudioError(
            f"`audio` must have at least {hop_length} samples (one encoding frame). "
            f"Received: audio with {n} samples."
        )
    return audio[..., : frames_for(n, hop_length) * hop_length]

