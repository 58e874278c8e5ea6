"""Pitch channels of an encoding: f0 and voicing per frame, estimated from the audio.

A pitch-conditioned model (``ModelConfig.excitation_harmonics > 0``) carries two channels that
are measured, not learned, as the last two of its ``(batch, frames, 16)`` encoding:

* ``log2(f0 / 440)``: the fundamental in octaves from A4 (0 is 440 Hz, -1 is 220 Hz), so a
  linear mix of two encodings glides the pitch in log-frequency and transposing by ``s``
  semitones adds ``s / 12``;
* voicing in [0, 1]: pYIN's probability that the frame is pitched (0 for silence and noise).

Frame ``i`` of an encoding covers samples ``[i * hop, (i + 1) * hop)``; its pitch is measured
in a 2048-sample window centred on that span (``i * hop + hop / 2``). The estimator is
librosa's pYIN (its hidden Markov model keeps octave errors rare and gives the voicing),
run on a grid of quarter-semitone bins for speed, then refined to a fraction of a cent by a
parabola through YIN's difference function around the period (a pure 440 Hz tone reads
440 Hz within 1 cent). Unvoiced frames take the pitch interpolated in log-frequency from the
voiced frames around them (so an oscillator built from it never jumps), or 440 Hz when no frame
is voiced.

pYIN's Viterbi decoding runs over the whole signal it is given, so its cost and memory grow with
the length and its answer for one frame could depend on audio minutes away. The estimate is
therefore defined blockwise, for every length: frames are taken in fixed blocks of
:data:`BLOCK_SAMPLES` (counted from the start), each analysed with :data:`CONTEXT_SAMPLES` of
audio on either side (less at the ends of the sound) and only its own frames kept. A sound of
at most one block is analysed whole. The gap filling then runs over all frames at once.
"""

import numpy as np

from ..errors import ParameterError, check_number, describe
from .framing import HOP_LENGTH, SAMPLE_RATE

__all__ = [
    "F0_REFERENCE_HZ",
    "PITCH_FMIN",
    "PITCH_FMAX",
    "BLOCK_SAMPLES",
    "CONTEXT_SAMPLES",
    "estimate_pitch",
    "f0_to_channel",
    "channel_to_f0",
    "transpose_pitch",
    "median_pitch",
]

#: The f0 channel is ``log2(f0 / F0_REFERENCE_HZ)``.
F0_REFERENCE_HZ = 440.0
#: The estimator's search range (Hz): C1 to C8, the piano's range and a little below.
PITCH_FMIN = 32.70319566257483
PITCH_FMAX = 4186.009044809578
#: Pitches a transposed encoding may reach (Hz).
TRANSPOSE_RANGE = (20.0, 4000.0)

#: The pitch of a long sound is estimated in blocks of this many samples (16.4 s at 16 kHz) ...
BLOCK_SAMPLES = 2**18
#: ... each analysed with this much audio of context on either side (3.1 s at 16 kHz).
CONTEXT_SAMPLES = 3 * 2**14

_FRAME = 2048  # pYIN analysis window (samples): two periods of the lowest pitch at 16 kHz
_RESOLUTION = 0.25  # pYIN bin width in semitones; the refinement makes f0 finer than this
_VOICED = 0.5  # voicing probability above which a frame's f0 is used as measured
_MIN_LAG = 48  # the refinement measures a multiple of the period at least this long (samples)
_REFINE_LIMIT = 50.0  # cents: a refined f0 farther than this from pYIN's is not trusted


def f0_to_channel(f0):
    """Hz → the f0 channel's value, ``log2(f0 / 440)``."""
    return np.log2(np.asarray(f0, dtype=np.float64) / F0_REFERENCE_HZ)


def channel_to_f0(channel):
    """The f0 channel's value → Hz."""
    return F0_REFERENCE_HZ * np.exp2(np.asarray(channel, dtype=np.float64))


def median_pitch(pitch):
    """The MIDI pitch a note is heard at: the median f0 of its voiced frames.

    Parameters
    ----------
    pitch : np.ndarray [shape=(..., frames, 2)]
        The pitch channels, ``[..., 0]`` ``log2(f0 / 440)`` and ``[..., 1]`` voicing (an
        encoding's last two channels, or a mix of them).

    Returns
    -------
    midi : np.ndarray [shape=(...)] or float
        ``69 + 12 * log2(f0 / 440)`` at the median over the frames whose voicing is at least
        0.5 (over every frame when none is).
    """
    pitch = np.asarray(pitch, dtype=np.float64)
    channel, voiced = pitch[..., 0], pitch[..., 1] >= _VOICED
    none_voiced = ~voiced.any(axis=-1, keepdims=True)
    median = np.nanmedian(np.where(voiced | none_voiced, channel, np.nan), axis=-1)
    return 69.0 + 12.0 * median


def estimate_pitch(audio, sample_rate=SAMPLE_RATE, hop_length=HOP_LENGTH):
    """f0 and voicing of every encoding frame.

    Parameters
    ----------
    audio : np.ndarray [shape=(..., n)], float
        Audio at ``sample_rate``; frames are ``n // hop_length`` (the rest is ignored, as the
        encoder ignores it). ``n >= hop_length``.
    sample_rate : int
    hop_length : int
        Samples per frame (512 for NSynth).

    Returns
    -------
    pitch : np.ndarray [shape=(..., n // hop_length, 2)], float32
        ``[..., 0]`` is ``log2(f0 / 440)``, ``[..., 1]`` the voicing in [0, 1]. Frames are
        estimated in blocks of :data:`BLOCK_SAMPLES` with :data:`CONTEXT_SAMPLES` of context on
        either side (module docstring), so memory does not grow with the length beyond the result.
    """
    audio = np.asarray(audio, dtype=np.float32)
    frames = audio.shape[-1] // hop_length
    if frames < 1:
        raise ParameterError(
            f"`audio` must have at least {hop_length} samples (one frame). Received: audio={describe(audio)}."
        )
    block = max(1, BLOCK_SAMPLES // hop_length)
    context = -(-CONTEXT_SAMPLES // hop_length)
    f0 = np.empty(audio.shape[:-1] + (frames,))
    probability = np.empty_like(f0)
    for first in range(0, frames, block):
        last = min(first + block, frames)
        low, high = (0, frames) if frames <= block else (max(0, first - context), min(frames, last + context))
        f0_part, probability_part = _pyin(audio[..., low * hop_length : high * hop_length], sample_rate, hop_length)
        f0[..., first:last] = f0_part[..., first - low : last - low]
        probability[..., first:last] = probability_part[..., first - low : last - low]
    voiced = np.isfinite(f0) & (probability >= _VOICED)
    channel = np.where(voiced, f0_to_channel(np.where(voiced, f0, F0_REFERENCE_HZ)), np.nan)
    channel = np.apply_along_axis(_fill_gaps, -1, channel.reshape(-1, frames)).reshape(channel.shape)
    return np.stack([channel, probability], axis=-1).astype(np.float32)


def _pyin(audio, sample_rate, hop_length):
    """PYIN over one stretch of whole frames: ``(refined f0 in Hz or NaN, voicing probability)``, each ``(..., frames)``."""
    import librosa

    frames = audio.shape[-1] // hop_length
    # centre=True puts analysis frame j at y[j * hop]: start y half a hop in to centre it on the span
    y = audio[..., hop_length // 2 : frames * hop_length]
    f0, _, probability = librosa.pyin(
        y,
        fmin=PITCH_FMIN,
        fmax=PITCH_FMAX,
        sr=sample_rate,
        frame_length=_FRAME,
        hop_length=hop_length,
        resolution=_RESOLUTION,
        fill_na=np.nan,
    )
    f0, probability = f0[..., :frames], probability[..., :frames]
    return _refine(y, f0, sample_rate, hop_length), probability


def _fill_gaps(channel):
    """``(frames,)`` with NaN gaps → interpolated between the measured values, held at the ends (0 if none)."""
    known = np.isfinite(channel)
    if not known.any():
        return np.zeros_like(channel)
    index = np.arange(channel.size)
    return np.interp(index, index[known], channel[known])


def _refine(y, f0, sample_rate, hop_length):
    """Sharpen pYIN's binned f0 with a parabola through YIN's difference function.

    For each frame the difference ``d(tau) = sum_j (x[j] - x[j + tau])**2`` over half the
    window is evaluated at the three integer lags around ``m`` periods (``m`` the smallest
    multiple reaching ``_MIN_LAG`` samples, so short periods are measured over several); the
    vertex of the parabola through them is ``m`` times the period. A frame whose vertex is
    not a clear minimum, or lands more than ``_REFINE_LIMIT`` cents from pYIN's value (whose
    hidden Markov model may settle a bin or two off), keeps that value.

    Returns ``f0`` refined, same shape (NaN stays NaN).
    """
    import librosa

    window = _FRAME // 2
    padded = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(_FRAME // 2, _FRAME // 2)])
    framed = librosa.util.frame(padded, frame_length=_FRAME, hop_length=hop_length)[..., : f0.shape[-1]]
    framed = np.moveaxis(framed, -2, -1).astype(np.float64)  # (..., frames, FRAME)
    period = sample_rate / np.where(np.isfinite(f0), f0, sample_rate / 2.0)
    multiple = np.maximum(1, np.ceil(_MIN_LAG / period))
    multiple = np.minimum(multiple, np.maximum(1, np.floor((window - 1) / period)))
    centre = np.clip(np.rint(multiple * period).astype(np.int64), 2, window - 1)
    head = framed[..., :window]
    d = []
    for shift in (-1, 0, 1):
        lag = (centre + shift)[..., None] + np.arange(window)
        d.append(np.sum((head - np.take_along_axis(framed, lag, axis=-1)) ** 2, axis=-1))
    before, at, after = d
    curvature = before - 2.0 * at + after
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = 0.5 * (before - after) / curvature
        refined = sample_rate * multiple / (centre + offset)
    limit = 2.0 ** (_REFINE_LIMIT / 1200.0)
    good = (curvature > 0) & (np.abs(offset) <= 1.0) & (refined < f0 * limit) & (refined > f0 / limit)
    return np.where(good, refined, f0)


def transpose_pitch(pitch_channel, semitones):
    """The f0 channel moved by ``semitones``, checked to stay within :data:`TRANSPOSE_RANGE`.

    Parameters
    ----------
    pitch_channel : np.ndarray [shape=(..., frames)]
        Values of the f0 channel (``log2(f0 / 440)``).
    semitones : float
        Finite; positive is up.

    Returns
    -------
    moved : np.ndarray [shape=(..., frames)], float32
    """
    semitones = check_number("semitones", semitones)
    moved = np.asarray(pitch_channel, dtype=np.float64) + semitones / 12.0
    low, high = TRANSPOSE_RANGE
    f0 = channel_to_f0(moved)
    if f0.size and (f0.min() < low or f0.max() > high):
        raise ParameterError(
            f"`semitones` must keep the pitch within {low:g}-{high:g} Hz. Received: semitones={semitones:g}, "
            f"which moves it to {f0.min():.1f}-{f0.max():.1f} Hz."
        )
    return moved.astype(np.float32)
