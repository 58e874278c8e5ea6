"""The oscillator of a source-filter decoder: formula, chunking, alignment with a recording."""

import numpy as np
import pytest

from nsynth_widgets.dsp.excitation import Oscillator, excitation, locked_phase_offset
from nsynth_widgets.dsp.pitch import estimate_pitch, f0_to_channel
from nsynth_widgets.errors import ParameterError

from . import numpy_reference as ref


def _pitch(seed=0, batch=2, frames=6):
    rng = np.random.default_rng(seed)
    log_f0 = rng.uniform(-2.0, 1.5, (batch, frames))  # 110-1245 Hz: some harmonics pass Nyquist
    voicing = rng.uniform(0.0, 1.0, (batch, frames))
    return np.stack([log_f0, voicing], axis=-1).astype(np.float32)


def test_excitation_agrees_with_a_sample_by_sample_reference():
    pitch = _pitch()
    got = excitation(pitch, harmonics=8, hop_length=64)
    expected = ref.excitation(pitch.astype(np.float64), 8, 64)
    assert got.shape == (2, 384, 16) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-6)
    assert (expected[..., 14:] == 0).any() and (expected[..., :2] != 0).all()  # Nyquist silences high harmonics


def test_chunked_oscillator_equals_the_whole_sound_exactly():
    pitch = _pitch(1, frames=20)
    whole = excitation(pitch, 4, hop_length=512)
    oscillator = Oscillator(pitch, 4, hop_length=512)
    chunks = [oscillator.next(n) for n in (1, 511, 3000, 0, 37, 20 * 512 - 3549)]
    np.testing.assert_array_equal(np.concatenate(chunks, axis=1), whole)
    assert oscillator.position == 20 * 512


def test_voicing_scales_and_silence_mutes():
    pitch = np.stack([np.zeros((1, 4)), np.array([[1.0, 1.0, 0.0, 0.0]])], axis=-1)
    out = excitation(pitch, 2, hop_length=512)
    amplitude = np.hypot(out[0, :, 0], out[0, :, 1])  # sin and cos of the fundamental
    assert np.allclose(amplitude[:768], 1.0) and np.allclose(amplitude[1280:], 0.0)
    assert np.all(np.diff(amplitude[768:1280]) <= 1e-6)  # a linear fade between the frame centres


def test_locked_phase_lines_the_first_cosine_up_with_the_fundamental():
    t = np.arange(8192) / 16000.0
    audio = (0.5 * np.cos(2 * np.pi * 220.0 * t + 2.0) + 0.2 * np.cos(2 * np.pi * 440.0 * t - 1.0))[None]
    pitch = estimate_pitch(audio.astype(np.float32))
    free = excitation(pitch, 2)
    locked = excitation(pitch, 2, phase_offset=locked_phase_offset(audio, pitch))
    inner = slice(1024, -1024)
    fundamental = np.cos(2 * np.pi * 220.0 * t + 2.0)[inner]
    assert np.corrcoef(locked[0, inner, 1], fundamental)[0, 1] > 0.999
    assert abs(np.corrcoef(free[0, inner, 1], fundamental)[0, 1]) < 0.9  # phase 0 at the start is not aligned


@pytest.mark.parametrize("pitch", [np.zeros((4, 2)), np.zeros((1, 4, 3)), np.zeros((1, 0, 2))])
def test_bad_pitch_channels_are_refused(pitch):
    with pytest.raises(ParameterError, match=r"`pitch` must have shape \(batch, frames >= 1, 2\)"):
        excitation(pitch, 2)
    with pytest.raises(ParameterError, match=r"`pitch` must have shape"):
        Oscillator(pitch, 2)


def test_f0_channel_follows_the_reference_convention():
    pitch = np.stack([np.full((1, 3), f0_to_channel(1000.0)), np.ones((1, 3))], axis=-1)
    out = excitation(pitch, 1, hop_length=512)
    crossings = np.count_nonzero(np.diff(np.signbit(out[0, :, 0])))
    assert abs(crossings - 2 * 1000.0 * 1536 / 16000.0) <= 1  # 1000 Hz: 96 periods in 1536 samples
