"""The source of a source-filter WaveNet: a harmonic oscillator driven by an encoding's pitch channels.

A pitch-conditioned decoder hears, at every sample, ``2 * harmonics`` excitation channels built
from the f0 and voicing channels of its encoding (see :mod:`nsynth_widgets.dsp.pitch`):
``sin`` and ``cos`` of ``2 pi k phi[t]`` for ``k = 1 .. harmonics``, each scaled by the voicing and
silenced where ``k f0`` reaches the Nyquist frequency. The pitch then comes from the encoding,
exactly, instead of from the decoder's guess from its own drifting past — the idea of neural
source-filter vocoders (Wang et al. 2019).

The frame values are interpolated to every sample (f0 linearly in log-frequency, voicing
linearly) between frame centres ``i * hop + hop / 2`` and held beyond the first and last. The
phase, in cycles, is accumulated sample by sample in float64: ``phi[t] = phi[t - 1] + f0[t] / sr``
with ``phi[-1] = 0``, by one sequential sum, so generating in chunks (carrying ``phi`` from one
chunk to the next) gives exactly the excitation of the whole sound at once.

Training aligns the oscillator with the recording: :func:`locked_phase_offset` measures, from the
audio, the phase of its fundamental against the oscillator's, so that the decoder learns to make
the waveform whose fundamental *is* the oscillator's. In generation nothing needs aligning: the
decoder follows the oscillator.
"""

import numpy as np

from ..errors import ParameterError, describe
from .framing import HOP_LENGTH, SAMPLE_RATE
from .pitch import channel_to_f0

__all__ = ["Oscillator", "excitation", "locked_phase_offset"]

_LOCK_WINDOW = 1024  # samples over which the fundamental's phase is measured (Hann)


def _check_pitch(pitch):
    """``pitch`` as float64 ``(batch, frames >= 1, 2)``, or raise."""
    pitch = np.asarray(pitch, dtype=np.float64)
    if pitch.ndim != 3 or pitch.shape[-1] != 2 or pitch.shape[1] < 1:
        raise ParameterError(
            f"`pitch` must have shape (batch, frames >= 1, 2) (f0 and voicing channels). Received: pitch={describe(pitch)}."
        )
    return pitch


def _frame_values(pitch, start, length, hop_length):
    """Per-sample f0 (Hz) and voicing of samples ``start .. start + length - 1``: ``(batch, length)`` each."""
    centres = np.arange(pitch.shape[1]) * hop_length + hop_length / 2.0
    t = np.arange(start, start + length, dtype=np.float64)
    log_f0 = np.stack([np.interp(t, centres, row[:, 0]) for row in pitch])
    voicing = np.stack([np.interp(t, centres, row[:, 1]) for row in pitch])
    return channel_to_f0(log_f0), np.clip(voicing, 0.0, 1.0)


def _phase(f0, sample_rate, phase0):
    """Cycles after each sample: ``phase0 + cumulative sum of f0 / sr`` (one sequential sum). ``(batch, n)``."""
    steps = np.concatenate([np.asarray(phase0, dtype=np.float64)[:, None], f0 / float(sample_rate)], axis=1)
    return np.add.accumulate(steps, axis=1)[:, 1:]


def _harmonics(phase, f0, voicing, harmonics, sample_rate):
    """``(batch, n, 2 * harmonics)`` float32: sin, cos of harmonic 1, then of 2, ... scaled by voicing."""
    k = np.arange(1, harmonics + 1, dtype=np.float64)
    angle = 2.0 * np.pi * np.mod(phase[..., None] * k, 1.0)
    gain = voicing[..., None] * (f0[..., None] * k < sample_rate / 2.0)
    out = np.empty(phase.shape + (2 * harmonics,), np.float32)
    out[..., 0::2] = gain * np.sin(angle)
    out[..., 1::2] = gain * np.cos(angle)
    return out


def excitation(pitch, harmonics, hop_length=HOP_LENGTH, sample_rate=SAMPLE_RATE, phase_offset=None):
    """The excitation of a whole sound (what the teacher-forced decoder hears).

    Parameters
    ----------
    pitch : np.ndarray [shape=(batch, frames, 2)]
        The f0 and voicing channels of an encoding.
    harmonics : int
        Harmonics of the oscillator (>= 1).
    hop_length, sample_rate : int
    phase_offset : np.ndarray [shape=(batch, frames * hop_length)], optional
        Cycles added to the oscillator's phase at every sample (training:
        :func:`locked_phase_offset`).

    Returns
    -------
    excitation : np.ndarray [shape=(batch, frames * hop_length, 2 * harmonics)], float32
    """
    pitch = _check_pitch(pitch)
    f0, voicing = _frame_values(pitch, 0, pitch.shape[1] * hop_length, hop_length)
    phase = _phase(f0, sample_rate, np.zeros(len(f0)))
    if phase_offset is not None:
        phase = phase + np.asarray(phase_offset, dtype=np.float64)
    return _harmonics(phase, f0, voicing, harmonics, sample_rate)


class Oscillator:
    """The excitation produced chunk by chunk, its phase carried as state (for generation).

    Parameters
    ----------
    pitch : np.ndarray [shape=(batch, frames, 2)]
    harmonics, hop_length, sample_rate : int

    Attributes
    ----------
    position : int
        Samples produced so far.
    phase : np.ndarray [shape=(batch,)], float64
        Cycles accumulated so far.
    """

    def __init__(self, pitch, harmonics, hop_length=HOP_LENGTH, sample_rate=SAMPLE_RATE):
        self.pitch = _check_pitch(pitch)
        self.harmonics, self.hop_length, self.sample_rate = harmonics, hop_length, sample_rate
        self.position = 0
        self.phase = np.zeros(self.pitch.shape[0])

    def next(self, n):
        """The next ``n`` samples of excitation: ``(batch, n, 2 * harmonics)`` float32."""
        f0, voicing = _frame_values(self.pitch, self.position, n, self.hop_length)
        phase = _phase(f0, self.sample_rate, self.phase)
        if n:
            self.phase = phase[:, -1].copy()
        self.position += n
        return _harmonics(phase, f0, voicing, self.harmonics, self.sample_rate)


def locked_phase_offset(audio, pitch, hop_length=HOP_LENGTH, sample_rate=SAMPLE_RATE):
    """Phase of ``audio``'s fundamental relative to the oscillator's, per sample (training only).

    The audio is demodulated by the oscillator (multiplied by ``exp(-2 pi i phi[t])``) and
    smoothed with a 1024-sample Hann window; the angle of the result is how far the recording's
    fundamental runs ahead of ``cos(2 pi phi)``. Adding it to the phase makes the excitation's
    first cosine line up with the fundamental. Where nothing is voiced the angle is noise, but
    the excitation is silent there.

    Parameters
    ----------
    audio : np.ndarray [shape=(batch, frames * hop_length)]
    pitch : np.ndarray [shape=(batch, frames, 2)]
        The f0 and voicing channels measured on ``audio``.

    Returns
    -------
    offset : np.ndarray [shape=(batch, frames * hop_length)], float64, cycles
    """
    from scipy.signal import fftconvolve

    audio = np.asarray(audio, dtype=np.float64)
    f0, _ = _frame_values(_check_pitch(pitch), 0, audio.shape[-1], hop_length)
    phase = _phase(f0, sample_rate, np.zeros(len(f0)))
    demodulated = audio * np.exp(-2j * np.pi * phase)
    window = np.hanning(_LOCK_WINDOW + 2)[1:-1][None]
    smoothed = fftconvolve(demodulated, window, mode="same", axes=-1)
    return np.angle(smoothed) / (2.0 * np.pi)
