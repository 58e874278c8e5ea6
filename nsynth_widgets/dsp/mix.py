"""Mixing in latent space and in audio: interpolation, 4-corner pads, time-stretch."""

import numpy as np

from ..errors import EncodingError, ParameterError, check_integer, check_number, describe

__all__ = [
    "interpolate",
    "crossfade",
    "bilinear_weights",
    "bilinear_grid",
    "weighted_mix",
    "time_stretch",
    "match_lengths",
    "with_pitch_of",
]


def _check_fraction(name, value):
    return check_number(name, value, 0.0, 1.0)


def match_lengths(arrays, axis=-2):
    """Trim arrays to the shortest along ``axis`` (frames for encodings, use ``axis=-1`` for audio)."""
    shortest = min(a.shape[axis] for a in arrays)
    return [np.take(a, np.arange(shortest), axis=axis) for a in arrays]


def interpolate(encoding_a, encoding_b, weight):
    """Latent mix: ``(1 - weight) * a + weight * b`` (trimmed to the shorter encoding).

    Parameters
    ----------
    encoding_a, encoding_b : np.ndarray [shape=(..., frames, channels)]
    weight : float in [0, 1]
        0 gives ``a``, 1 gives ``b``.

    Returns
    -------
    mixed : np.ndarray [shape=(..., min(frames), channels)], float32
    """
    return weighted_mix([encoding_a, encoding_b], [1.0 - _check_fraction("weight", weight), float(weight)])


def crossfade(audio_a, audio_b, weight):
    """Plain audio mix (what latent mixing is compared against): ``(1 - weight) * a + weight * b``.

    Parameters
    ----------
    audio_a, audio_b : np.ndarray [shape=(..., n)]
    weight : float in [0, 1]

    Returns
    -------
    mixed : np.ndarray [shape=(..., min(n))], float32
    """
    weight = _check_fraction("weight", weight)
    a, b = match_lengths([np.asarray(audio_a, np.float32), np.asarray(audio_b, np.float32)], axis=-1)
    return ((1.0 - weight) * a + weight * b).astype(np.float32)


def bilinear_weights(x, y):
    """Weights of four corner sounds at pad position ``(x, y)``, NSynth-Super style.

    Corners are ordered top-left, top-right, bottom-left, bottom-right, with ``x`` growing to the
    right and ``y`` growing downwards, both in [0, 1].

    Returns
    -------
    weights : np.ndarray [shape=(4,)], summing to 1
    """
    x, y = _check_fraction("x", x), _check_fraction("y", y)
    return np.array([(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y])


def bilinear_grid(resolution):
    """Corner weights of every point of a ``resolution × resolution`` pad.

    Parameters
    ----------
    resolution : int >= 2
        Points per side (the corners included).

    Returns
    -------
    weights : np.ndarray [shape=(resolution, resolution, 4)]
        ``weights[row, column]`` is :func:`bilinear_weights` at x = column / (resolution - 1)
        (left → right) and y = row / (resolution - 1) (top → bottom).
    """
    resolution = check_integer("resolution", resolution, 2)
    steps = np.linspace(0.0, 1.0, resolution)
    return np.array([[bilinear_weights(float(x), float(y)) for x in steps] for y in steps])


def weighted_mix(encodings, weights):
    """Weighted sum of encodings (trimmed to the shortest).

    Parameters
    ----------
    encodings : sequence of np.ndarray [shape=(..., frames_i, channels)]
    weights : sequence of float, same length, non-negative, summing to 1

    Returns
    -------
    mixed : np.ndarray [shape=(..., min(frames_i), channels)], float32
    """
    weights = np.asarray(weights, dtype=np.float64)
    if len(encodings) == 0 or weights.shape != (len(encodings),):
        raise ParameterError(
            f"`weights` must have one value per encoding ({len(encodings)}). Received: weights={describe(weights)}."
        )
    if (weights < 0).any() or not np.isclose(weights.sum(), 1.0):
        raise ParameterError(f"`weights` must be non-negative and sum to 1. Received: weights={weights.tolist()}.")
    arrays = [np.asarray(e, np.float32) for e in encodings]
    if len({a.shape[-1] for a in arrays}) != 1:
        raise EncodingError(
            f"`encodings` must share their channel count. Received: channels {[a.shape[-1] for a in arrays]}."
        )
    arrays = match_lengths(arrays)
    return sum(w * a for w, a in zip(weights, arrays)).astype(np.float32)


def time_stretch(encoding, factor):
    """Stretch an encoding in time by linear interpolation between frames.

    Parameters
    ----------
    encoding : np.ndarray [shape=(..., frames, channels)]
    factor : float in [0.25, 4]
        2 makes the sound twice as long (``round(frames * factor)`` frames).

    Returns
    -------
    stretched : np.ndarray [shape=(..., round(frames * factor), channels)], float32
    """
    factor = check_number("factor", factor, 0.25, 4.0)
    encoding = np.asarray(encoding, np.float32)
    frames = encoding.shape[-2]
    new_frames = max(1, int(round(frames * factor)))
    # sample the old frame axis at the centres of the new frames
    positions = np.clip((np.arange(new_frames) + 0.5) / factor - 0.5, 0, frames - 1)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, frames - 1)
    frac = (positions - low)[:, None].astype(np.float32)
    return (np.take(encoding, low, axis=-2) * (1 - frac) + np.take(encoding, high, axis=-2) * frac).astype(np.float32)


def with_pitch_of(mixed, source, f0_channel):
    """``mixed`` playing at ``source``'s pitch: its f0 channel replaced by ``source``'s.

    For pitch-conditioned encodings (see :mod:`nsynth_widgets.dsp.pitch`): a latent mix glides
    its f0 between those of its sources; this keeps one source's melody instead.

    Parameters
    ----------
    mixed, source : np.ndarray [shape=(..., frames, channels)]
        Trimmed to the shorter.
    f0_channel : int
        Index of the f0 channel (``ModelConfig.f0_channel``).

    Returns
    -------
    np.ndarray [shape=(..., min(frames), channels)], float32
    """
    mixed, source = match_lengths([np.asarray(mixed, np.float32), np.asarray(source, np.float32)])
    out = mixed.copy()
    out[..., f0_channel] = source[..., f0_channel]
    return out
