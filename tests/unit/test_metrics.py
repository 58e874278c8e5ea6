"""The measures of nsynth_widgets.metrics: STFT magnitudes and the spectral distance."""

import numpy as np
import pytest

from nsynth_widgets.dsp import quantize
from nsynth_widgets.metrics import spectral_distance, stft_magnitude

from . import numpy_reference

SR = 16000


def _sine(freq, n=8000, amplitude=0.5, sr=SR):
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float32)


@pytest.mark.parametrize("n", [1, 50, 1000, 3001])
@pytest.mark.parametrize("n_fft, hop", [(2, 1), (7, 3), (64, 16), (256, 64), (2048, 512), (1024, 256)])
def test_stft_magnitude_equals_the_frame_by_frame_reference(n, n_fft, hop):
    """librosa's STFT gives the centred, zero-padded, periodic-Hann frames the distances were defined with."""
    audio = np.random.default_rng(n + n_fft).uniform(-1, 1, n).astype(np.float32)
    got = stft_magnitude(audio, n_fft, hop)
    expected = numpy_reference.stft_magnitude(audio, n_fft, hop)
    assert got.shape == expected.shape == (n_fft // 2 + 1, 1 + n // hop if n_fft % 2 == 0 else -(-n // hop))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * expected.max())


def _reference_distance(reference, estimate, fft_sizes=(2048, 1024, 512, 256, 128, 64)):
    """spectral_distance's formula evaluated on the reference STFT."""
    n = min(reference.size, estimate.size)
    distances = []
    for n_fft in fft_sizes:
        x = numpy_reference.stft_magnitude(reference[:n], n_fft, n_fft // 4)
        y = numpy_reference.stft_magnitude(estimate[:n], n_fft, n_fft // 4)
        floor = 10.0 ** (-80 / 20) * max(x.max(), y.max())
        distances.append(np.mean(np.abs(20 * np.log10(x + floor) - 20 * np.log10(y + floor))))
    return float(np.mean(distances))


def test_spectral_distance_is_the_documented_formula():
    rng = np.random.default_rng(7)
    note = _sine(220, n=20000) * np.exp(-np.arange(20000) / 6000.0).astype(np.float32)
    resynthesis = (note[:19968] + rng.uniform(-0.01, 0.01, 19968)).astype(np.float32)
    assert spectral_distance(note, resynthesis) == pytest.approx(_reference_distance(note, resynthesis), rel=1e-12)


def test_spectral_distance_properties():
    rng = np.random.default_rng(1)
    sine = _sine(440, n=SR)
    noise = rng.uniform(-1.0, 1.0, SR).astype(np.float32)  # white, within full scale
    noise *= np.sqrt(np.mean(sine**2) / np.mean(noise**2))
    assert spectral_distance(sine, sine) == 0.0
    assert spectral_distance(sine, np.concatenate([sine, noise])) == 0.0  # trimmed
    assert spectral_distance(sine, noise) == pytest.approx(spectral_distance(noise, sine))
    scaled = spectral_distance(sine, 0.9 * sine)
    assert 0.0 < scaled <= abs(20 * np.log10(0.9)) + 1e-9
    assert spectral_distance(sine, noise) > 10 * scaled
    quantized = spectral_distance(sine, quantize(sine))
    assert 0.0 < quantized < spectral_distance(sine, noise) / 2


def test_spectral_distance_fft_sizes_and_silence():
    sine = _sine(440, n=3000)
    one = spectral_distance(sine, 0.5 * sine, fft_sizes=[256])
    two = spectral_distance(sine, 0.5 * sine, fft_sizes=(256, 64))
    assert one != two
    assert spectral_distance(np.zeros(100), np.zeros(50)) == 0.0


def test_inputs_are_left_untouched():
    audio = _sine(440, n=4096)
    audio.setflags(write=False)
    copy = audio.copy()
    spectral_distance(audio, audio[::-1].copy())
    stft_magnitude(audio, 256, 64)
    np.testing.assert_array_equal(audio, copy)
