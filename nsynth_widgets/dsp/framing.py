"""NSynth's audio rate and frame hop, and the hop arithmetic shared by the encoder, the generator and the plots.

Every other module takes :data:`SAMPLE_RATE` and :data:`HOP_LENGTH` from here (a model's own
values are in its :class:`~nsynth_widgets.model.config.ModelConfig`, whose defaults they are).
"""

from ..errors import AudioError

__all__ = ["SAMPLE_RATE", "HOP_LENGTH", "frames_for", "trim_to_hop"]

#: Samples per second of every sound NSynth models hear and make (Hz).
SAMPLE_RATE = 16000
#: Samples per encoding frame of NSynth models (the encoder's average-pool window and stride).
HOP_LENGTH = 512


def frames_for(n_samples, hop_length=HOP_LENGTH):
    """Number of encoding frames for ``n_samples`` of audio (``n_samples // hop_length``)."""
    return int(n_samples) // int(hop_length)


def trim_to_hop(audio, hop_length=HOP_LENGTH):
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
            f"`audio` must have at least {hop_length} samples (one encoding frame). Received: audio with {n} samples."
        )
    return audio[..., : frames_for(n, hop_length) * hop_length]
