"""The measures of nsynth_widgets.metrics: STFT magnitudes, the spectral distance, the pitch measures."""

import math

import numpy as np
import pytest

from nsynth_widgets import metrics
from nsynth_widgets.dsp import quantize
from nsynth_widgets.errors import ParameterError
from nsynth_widgets.metrics import spectral_distance, stft_magnitude

from ..conftest import harmonic_tone

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


# ------------------------------------------------------------------------------------- f0 error


def test_f0_error_of_a_tone_against_itself_is_zero():
    tone = harmonic_tone(220.0, SR)
    assert metrics.f0_error_cents(tone, tone.copy()) == 0.0


def test_f0_error_of_a_semitone_is_100_cents_either_way():
    low, high = harmonic_tone(220.0, SR), harmonic_tone(220.0 * 2 ** (1 / 12), SR)
    assert metrics.f0_error_cents(low, high) == pytest.approx(100.0, abs=5.0)
    assert metrics.f0_error_cents(high, low) == pytest.approx(100.0, abs=5.0)


def test_f0_offset_keeps_the_sign_of_a_transposition():
    low, high = harmonic_tone(220.0, SR), harmonic_tone(220.0 * 2 ** (1 / 12), SR)
    assert metrics.f0_offset_cents(low, high) == pytest.approx(100.0, abs=5.0)  # the estimate is sharp
    assert metrics.f0_offset_cents(high, low) == pytest.approx(-100.0, abs=5.0)
    assert metrics.f0_offset_cents(low, low.copy()) == 0.0
    assert math.isnan(metrics.f0_offset_cents(low, np.zeros_like(low)))


def test_f0_offset_is_near_zero_for_a_pitch_that_wanders_around_the_right_one():
    reference = harmonic_tone(220.0, 2 * SR, decay=100.0)
    sharp, flat = (harmonic_tone(220.0 * 2 ** (step / 12), SR, decay=100.0) for step in (1, -1))
    estimate = np.concatenate([sharp, flat])
    assert metrics.f0_error_cents(reference, estimate) == pytest.approx(100.0, abs=5.0)
    assert abs(metrics.f0_offset_cents(reference, estimate)) < 50.0


def test_f0_error_only_looks_at_the_held_part():
    reference = harmonic_tone(330.0, 4 * SR)
    estimate = reference.copy()
    estimate[3 * SR :] = harmonic_tone(495.0, SR)  # a fifth higher after the key is released
    before = estimate.copy()
    assert metrics.f0_error_cents(reference, estimate) == 0.0
    np.testing.assert_array_equal(estimate, before)


def test_f0_error_is_nan_without_common_voiced_frames():
    tone = harmonic_tone(220.0, SR)
    assert math.isnan(metrics.f0_error_cents(tone, np.zeros_like(tone)))
    assert math.isnan(metrics.f0_error_cents(tone[:1000], tone[:1000]))  # shorter than one frame


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"fmin": 500.0, "fmax": 100.0}, "`fmax` must exceed `fmin`"),
        ({"fmax": 9000.0}, "below sample_rate / 2 = 8000"),
        ({"sample_rate": 0}, "`sample_rate` must be a finite number > 0. Received: sample_rate=0."),
    ],
)
def test_f0_error_rejects_bad_parameters(kwargs, message):
    tone = harmonic_tone(220.0, 4000)
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(".", r"\.")):
        metrics.f0_error_cents(tone, tone, **kwargs)


def test_f0_error_rejects_stereo():
    with pytest.raises(ParameterError, match=r"`estimate` must have shape \(n,\) \(one mono sound\)"):
        metrics.f0_error_cents(np.zeros(4000, np.float32), np.zeros((2, 4000), np.float32))


def test_voiced_recall_counts_the_voiced_frames_of_the_original_kept_voiced():
    tone = harmonic_tone(220.0, SR, decay=100.0)
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, SR).astype(np.float32)
    assert metrics.voiced_recall(tone, tone.copy()) == 1.0
    assert metrics.voiced_recall(tone, noise) < 0.1
    half = tone.copy()
    half[SR // 2 :] = noise[SR // 2 :]
    assert 0.35 < metrics.voiced_recall(tone, half) < 0.65
    assert math.isnan(metrics.voiced_recall(noise, tone))
