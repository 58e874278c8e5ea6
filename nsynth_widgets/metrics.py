"""How close a resynthesis comes to its original: measures that compare two sounds.

* :func:`spectral_distance` (dB) is the number the resynthesis panel shows and the model card
  reports; :func:`stft_magnitude` is the spectrogram it (and
  :func:`nsynth_widgets.plotting.plot_spectrogram`) is computed from.
* :func:`f0_error_cents`, :func:`f0_offset_cents` and :func:`voiced_recall` compare the pitch of
  two sounds through pYIN tracks (:func:`pitch_track`); the ``track_*`` functions compare tracks
  already made, so an evaluation tracks each sound once.

librosa is imported when a measure first runs, so importing this module stays cheap. Nothing
here imports TensorFlow.
"""

import math

import numpy as np

from .audio import validate_audio
from .dsp.framing import SAMPLE_RATE
from .errors import ParameterError, check_integer, check_number, describe

__all__ = [
    "stft_magnitude",
    "spectral_distance",
    "pitch_track",
    "f0_error_cents",
    "f0_offset_cents",
    "voiced_recall",
    "track_error_cents",
    "track_offset_cents",
    "track_voiced_recall",
]

_RELATIVE_FLOOR_DB = -80.0  # spectral_distance ignores detail this far below the louder signal
_HELD_SECONDS = 3.0  # a rendered note's key is held for its first 3 s
_PYIN_FRAME = 2048
_VOICED_PROBABILITY = 0.5
# the pitch search range of the f0 measures: C2 to C7, as librosa.note_to_hz gives them
_FMIN, _FMAX = 440.0 * 2.0 ** ((36 - 69) / 12), 440.0 * 2.0 ** ((96 - 69) / 12)


def stft_magnitude(audio, n_fft, hop_length):
    """Magnitude of a Hann-windowed STFT with centred (zero-padded) frames (``librosa.stft``).

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)], float
    n_fft : int
        FFT size, also the length of the periodic Hann window.
    hop_length : int
        Samples between frames.

    Returns
    -------
    magnitude : np.ndarray [shape=(n_fft // 2 + 1, 1 + n // hop_length)], float64
        Column ``t`` is centred on sample ``t * hop_length``; ``n_fft // 2`` zeros pad either end.
    """
    import librosa

    n_fft = check_integer("n_fft", n_fft, 1)
    hop_length = check_integer("hop_length", hop_length, 1)
    # centred frames, padded here rather than by librosa (center=True), which warns for sounds
    # shorter than one frame; the frames are the same
    padded = np.pad(np.asarray(audio, dtype=np.float64), n_fft // 2)
    return np.abs(librosa.stft(padded, n_fft=n_fft, hop_length=hop_length, window="hann", center=False))


def spectral_distance(reference, estimate, sample_rate=SAMPLE_RATE, fft_sizes=(2048, 1024, 512, 256, 128, 64)):
    """Multi-resolution log-spectral distance between two sounds, in dB.

    Both signals are trimmed to the shorter length. For each FFT size ``N`` (Hann window, hop
    ``N // 4``, centred frames: :func:`stft_magnitude`) with magnitudes ``X`` and ``Y``::

        floor = 10 ** (-80 / 20) * max(X.max(), Y.max())
        d_N = mean(|20 * log10(X + floor) - 20 * log10(Y + floor)|)

    and the result is the mean of ``d_N`` over ``fft_sizes``. The floor sits 80 dB below the
    louder signal, so detail inaudible next to it (numerical leakage, a hiss far below the
    note) does not dominate; it is the same for both arguments, so the distance is symmetric.
    Identical signals give exactly 0; a copy scaled by ``g`` gives at most ``|20 log10 g|``.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n,)], float in [-1, 1]
        As :func:`~nsynth_widgets.audio.validate_audio` accepts them (silence included).
    sample_rate : float
        Samples per second (validated; the measure itself depends only on samples).
    fft_sizes : sequence of int
        FFT sizes, each at least 2.

    Returns
    -------
    distance : float
        Mean absolute log-magnitude difference in dB (>= 0).
    """
    reference = validate_audio(reference, "reference", allow_silence=True, ndim=1)
    estimate = validate_audio(estimate, "estimate", allow_silence=True, ndim=1)
    check_number("sample_rate", sample_rate, 0, low_open=True)
    if not isinstance(fft_sizes, (list, tuple, np.ndarray)) or len(fft_sizes) == 0:
        raise ParameterError(
            f"`fft_sizes` must be a non-empty sequence of integers >= 2. Received: fft_sizes={describe(fft_sizes)}."
        )
    sizes = [check_integer("fft_sizes", n, 2) for n in fft_sizes]
    n = min(reference.size, estimate.size)
    distances = []
    for n_fft in sizes:
        hop = max(1, n_fft // 4)
        x = stft_magnitude(reference[:n], n_fft, hop)
        y = stft_magnitude(estimate[:n], n_fft, hop)
        floor = 10.0 ** (_RELATIVE_FLOOR_DB / 20.0) * max(x.max(), y.max())
        if floor == 0.0:  # both silent
            distances.append(0.0)
            continue
        distances.append(float(np.mean(np.abs(20.0 * np.log10((x + floor) / (y + floor))))))
    return float(np.mean(distances))


def f0_error_cents(reference, estimate, sample_rate=SAMPLE_RATE, fmin=_FMIN, fmax=_FMAX):
    """Median pitch error of ``estimate`` against ``reference``, in cents.

    Both signals are cut to their common length and to the note's held part (the first 3 s),
    tracked with :func:`librosa.pyin` (frames of 2048 samples, hop 512), and compared on the
    frames that pYIN finds voiced in both (decoded as voiced, with a voicing probability of at
    least 0.5): the result is the median over those frames of
    ``|1200 * log2(f_estimate / f_reference)|``. An octave error reads 1200.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n,)], float in [-1, 1]
        Mono audio; lengths may differ.
    sample_rate : float
        Samples per second.
    fmin, fmax : float
        Pitch search range in Hz (default C2-C7, 65.4-2093 Hz), ``0 < fmin < fmax < sample_rate / 2``.

    Returns
    -------
    cents : float
        >= 0, or NaN when no frame is voiced in both signals (silence, noise, a pitch outside
        ``[fmin, fmax]``, or a common part shorter than one 2048-sample frame).
    """
    return track_error_cents(*_paired_tracks(reference, estimate, sample_rate, fmin, fmax))


def f0_offset_cents(reference, estimate, sample_rate=SAMPLE_RATE, fmin=_FMIN, fmax=_FMAX):
    """Median signed pitch offset of ``estimate`` from ``reference``, in cents.

    Measured like :func:`f0_error_cents` (same tracks, same frames) but without the absolute
    value: the median over frames of ``1200 * log2(f_estimate / f_reference)``. Positive means
    the estimate is sharp. It tells a steady transposition (an offset as large as the error)
    from a pitch that wanders around the right one (an offset near 0 with a large error).

    Parameters and the NaN case are those of :func:`f0_error_cents`.

    Returns
    -------
    cents : float
    """
    return track_offset_cents(*_paired_tracks(reference, estimate, sample_rate, fmin, fmax))


def voiced_recall(reference, estimate, sample_rate=SAMPLE_RATE, fmin=_FMIN, fmax=_FMAX):
    """Of the frames pYIN finds voiced in ``reference``, the share it finds voiced in ``estimate``.

    Tracked as in :func:`f0_error_cents` (first 3 s, common length). Parameters are its.

    Returns
    -------
    recall : float
        In [0, 1], or NaN when no frame of ``reference`` is voiced.
    """
    return track_voiced_recall(*_paired_tracks(reference, estimate, sample_rate, fmin, fmax))


def _paired_tracks(reference, estimate, sample_rate, fmin, fmax):
    """Validate the arguments of the f0 measures; pYIN tracks of ``estimate`` and ``reference``.

    Returns ``(estimate_track, reference_track)``, both ``(frames,)`` float64 over the common length.
    """
    reference = validate_audio(reference, "reference", allow_silence=True, ndim=1)
    estimate = validate_audio(estimate, "estimate", allow_silence=True, ndim=1)
    checked = _check_range(sample_rate, fmin, fmax)
    n = min(reference.size, estimate.size)
    return _track(estimate[:n], *checked), _track(reference[:n], *checked)


def pitch_track(audio, sample_rate=SAMPLE_RATE, fmin=_FMIN, fmax=_FMAX):
    """PYIN f0 in Hz per frame (2048 samples, hop 512) of the first 3 s; NaN where unvoiced.

    A frame is voiced when pYIN's decoding says so *and* its voicing probability is at least
    0.5: the decoding alone calls half the frames of white noise voiced (at a random pitch).
    The f0 measures of this module compare such tracks.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)], float in [-1, 1]
    sample_rate : float
    fmin, fmax : float
        Pitch search range in Hz (default C2-C7, 65.4-2093 Hz), ``0 < fmin < fmax < sample_rate / 2``.

    Returns
    -------
    track : np.ndarray [shape=(frames,)], float64
        Empty when the audio is shorter than one frame.
    """
    audio = validate_audio(audio, allow_silence=True, ndim=1)
    return _track(audio, *_check_range(sample_rate, fmin, fmax))


def _check_range(sample_rate, fmin, fmax):
    sample_rate = check_number("sample_rate", sample_rate, 0, low_open=True)
    fmin = check_number("fmin", fmin, 0, low_open=True)
    if not fmin < check_number("fmax", fmax, 0, low_open=True) < sample_rate / 2:
        raise ParameterError(
            f"`fmax` must exceed `fmin` (> 0) and stay below sample_rate / 2 = {sample_rate / 2:g}. "
            f"Received: fmin={describe(fmin)}, fmax={describe(fmax)}."
        )
    return sample_rate, fmin, float(fmax)


def _track(audio, sample_rate, fmin, fmax):
    """:func:`pitch_track` of checked arguments."""
    import librosa

    audio = audio[: int(_HELD_SECONDS * sample_rate)]
    if audio.size < _PYIN_FRAME:
        return np.empty(0)
    f0, voiced, probability = librosa.pyin(audio, fmin=fmin, fmax=fmax, sr=sample_rate, frame_length=_PYIN_FRAME)
    return np.where(voiced & (probability >= _VOICED_PROBABILITY), f0, np.nan)


def _cent_differences(track, reference_track):
    """``1200 * log2(track / reference_track)`` on the frames where both (Hz, array or scalar) are finite."""
    track, reference_track = np.broadcast_arrays(track, reference_track)
    both = np.isfinite(track) & np.isfinite(reference_track)
    return 1200.0 * np.log2(track[both] / reference_track[both])


def track_error_cents(track, reference_track):
    """Median ``|cents|`` of ``track`` against ``reference_track`` where both are finite (NaN if nowhere)."""
    differences = _cent_differences(track, reference_track)
    return float(np.median(np.abs(differences))) if differences.size else math.nan


def track_offset_cents(track, reference_track):
    """Median signed cents of ``track`` against ``reference_track`` where both are finite (NaN if nowhere)."""
    differences = _cent_differences(track, reference_track)
    return float(np.median(differences)) if differences.size else math.nan


def track_voiced_recall(track, reference_track):
    """Share of the finite frames of ``reference_track`` where ``track`` is finite too (NaN if none)."""
    voiced = np.isfinite(reference_track)
    return float(np.mean(np.isfinite(track[voiced]))) if voiced.any() else math.nan
