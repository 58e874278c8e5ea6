"""The measured pitch channels: f0 and voicing per encoding frame, and transposition of them."""

import numpy as np
import pytest

from nsynth_widgets.dsp.pitch import channel_to_f0, estimate_pitch, f0_to_channel, median_pitch, transpose_pitch
from nsynth_widgets.errors import ParameterError

SR = 16000


def _tone(f0, seconds=1.0, amplitude=0.5):
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * f0 * t)).astype(np.float32)


@pytest.mark.parametrize("f0", [440.0, 261.63, 1000.0])
def test_a_sine_reads_its_frequency_within_one_cent_and_is_voiced(f0):
    pitch = estimate_pitch(_tone(f0))
    assert pitch.shape == (31, 2) and pitch.dtype == np.float32
    inner = pitch[3:-3]  # away from the zero padding at both ends
    cents = 1200 * np.log2(channel_to_f0(inner[:, 0]) / f0)
    assert np.abs(cents).max() < 1.0
    assert inner[:, 1].min() > 0.9


def test_silence_and_noise_are_unvoiced():
    assert estimate_pitch(np.zeros(8000, np.float32))[:, 1].max() == 0.0
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, 16000).astype(np.float32)
    assert estimate_pitch(noise)[:, 1].max() < 0.2


def test_frames_are_centred_on_their_hop():
    """Frame i describes samples [512 i, 512 (i + 1)): a pitch change at a frame edge shows there."""
    audio = np.concatenate([_tone(220.0, 0.512), _tone(330.0, 0.512)])  # 16 frames of each
    channel = estimate_pitch(audio)[:, 0]
    f0 = channel_to_f0(channel)
    assert np.allclose(f0[4:14], 220.0, rtol=1e-3) and np.allclose(f0[18:28], 330.0, rtol=1e-3)
    # the windows that straddle the change are unvoiced and glide: halfway between frames 15 and 16
    assert channel[15] < f0_to_channel(np.sqrt(220.0 * 330.0)) < channel[16]


def test_batches_and_extra_samples():
    audio = np.stack([_tone(220.0), _tone(440.0)])
    pitch = estimate_pitch(audio[:, : 16000 + 100])  # the 100 samples past the last whole frame are ignored
    assert pitch.shape == (2, 31, 2)
    np.testing.assert_allclose(channel_to_f0(pitch[:, 10, 0]), [220.0, 440.0], rtol=1e-3)
    np.testing.assert_allclose(pitch[1], estimate_pitch(audio[1]), atol=1e-6)


def test_unvoiced_frames_take_the_pitch_of_their_voiced_neighbours():
    audio = np.concatenate([_tone(220.0, 0.5), np.zeros(8192, np.float32), _tone(440.0, 0.5)])
    pitch = estimate_pitch(audio)
    gap = pitch[:, 1] < 0.5
    assert gap[18:28].all()
    channel = pitch[:, 0]
    inside = np.flatnonzero(gap[10:40]) + 10
    steps = np.diff(channel[inside[0] - 1 : inside[-1] + 2])
    np.testing.assert_allclose(steps, steps.mean(), rtol=1e-3)  # a straight glide in log f0 ...
    assert channel[inside[0] - 1] < f0_to_channel(221.0) and channel[inside[-1] + 1] > f0_to_channel(
        439.0
    )  # ... 220 → 440
    assert np.all(estimate_pitch(np.zeros(4096, np.float32))[:, 0] == 0.0)  # nothing voiced: 440 Hz


def test_channel_conversions_round_trip():
    f0 = np.array([27.5, 440.0, 3520.0])
    np.testing.assert_allclose(f0_to_channel(f0), [-4.0, 0.0, 3.0])
    np.testing.assert_allclose(channel_to_f0(f0_to_channel(f0)), f0)


def test_transpose_pitch_moves_by_semitones_and_checks_its_argument():
    channel = f0_to_channel([220.0, 440.0])
    np.testing.assert_allclose(channel_to_f0(transpose_pitch(channel, 12)), [440.0, 880.0], rtol=1e-6)
    np.testing.assert_allclose(
        channel_to_f0(transpose_pitch(channel, -0.5)), np.array([220.0, 440.0]) / 2 ** (0.5 / 12), rtol=1e-6
    )
    for bad in (float("nan"), float("inf"), True, "7", None):
        with pytest.raises(ParameterError, match=r"`semitones` must be a finite number. Received: semitones="):
            transpose_pitch(channel, bad)
    with pytest.raises(
        ParameterError,
        match=r"`semitones` must keep the pitch within 20-4000 Hz. Received: "
        r"semitones=48, which moves it to 3520.0-7040.0 Hz.",
    ):
        transpose_pitch(channel, 48)
    with pytest.raises(ParameterError, match=r"within 20-4000 Hz. Received: semitones=-48"):
        transpose_pitch(channel, -48)


def test_too_short_audio_is_refused():
    with pytest.raises(ParameterError, match=r"`audio` must have at least 512 samples \(one frame\)"):
        estimate_pitch(np.zeros(100, np.float32))


def test_median_pitch_counts_the_voiced_frames():
    channel = f0_to_channel([440.0, 880.0, 261.63, 261.63, 261.63, 100.0])  # A4, A5, then middle C
    voicing = [0.9, 0.2, 0.8, 0.6, 0.5, 0.1]  # A5 and 100 Hz below the voicing threshold
    pitch = np.stack([channel, voicing], axis=-1)
    assert median_pitch(pitch) == pytest.approx(60.0, abs=0.01)  # median of A4, C4, C4, C4
    unvoiced = np.stack([channel, np.zeros(6)], axis=-1)  # nothing voiced: every frame counts
    assert median_pitch(unvoiced) == pytest.approx(np.median(69 + 12 * channel))
    np.testing.assert_allclose(median_pitch(np.stack([pitch, unvoiced])), [median_pitch(pitch), median_pitch(unvoiced)])
