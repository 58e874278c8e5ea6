"""How close a resynthesis comes to its original: measures that compare two sounds.

:func:`spectral_distance` is the number the resynthesis panel shows and the model card reports;
:func:`stft_magnitude` is the spectrogram it (and :func:`nsynth_widgets.plotting.plot_spectrogram`)
is computed from. librosa is imported when a measure first runs, so importing this module stays
cheap. Nothing here imports TensorFlow.
"""

import numpy as np

from .audio import validate_audio
from .dsp.framing import SAMPLE_RATE
from .errors import ParameterError, check_integer, check_number, describe

__all__ = ["stft_magnitude", "spectral_distance"]

_RELATIVE_FLOOR_DB = -80.0  # spectral_distance ignores detail this far below the louder signal


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
            "`fft_sizes` must be a non-empty sequence of integers >= 2. "
            f"Received: fft_sizes={describe(fft_sizes)}."
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
