"""The pitch-conditioned (source-filter) model: measured pitch channels, the oscillator every layer
hears, the fast generator equal to the teacher-forced model, transposition, warm starts."""

import numpy as np
import pytest

from nsynth_widgets.dsp import mu_law_encode
from nsynth_widgets.dsp.pitch import channel_to_f0, estimate_pitch
from nsynth_widgets.errors import ParameterError
from nsynth_widgets.model import fastgen
from nsynth_widgets.model.checkpoint import expected_variables
from nsynth_widgets.model.nsynth import NSynth, classes_to_audio
from nsynth_widgets.training.train import warm_start_arrays

from ..conftest import TINY, TINY_PITCH, random_arrays
from . import numpy_reference as ref


def _encoding(rng, batch, frames):
    """Random learned channels + plausible pitch channels (110-880 Hz, voicing in [0, 1])."""
    enc = rng.normal(size=(batch, frames, 16)).astype(np.float32)
    enc[..., 14] = rng.uniform(-2.0, 1.0, (batch, frames))
    enc[..., 15] = rng.uniform(0.0, 1.0, (batch, frames))
    return enc


def test_config_names_the_pitch_channels():
    assert TINY_PITCH.pitch_conditioned and not TINY.pitch_conditioned
    assert (TINY_PITCH.f0_channel, TINY_PITCH.voicing_channel, TINY_PITCH.learned_channels) == (14, 15, 14)
    assert (TINY.f0_channel, TINY.voicing_channel, TINY.learned_channels) == (None, None, 16)
    shapes = expected_variables(TINY_PITCH)
    assert shapes["ae_bottleneck/W"] == (1, 1, TINY_PITCH.ae_width, 14)
    assert shapes["exc_map_3/W"] == (1, 1, 6, 2 * TINY_PITCH.width) and "exc_map_1/W" not in expected_variables(TINY)
    with pytest.raises(ParameterError, match=r"`excitation_harmonics` must be an integer >= 0"):
        TINY.replace(excitation_harmonics=-1)
    with pytest.raises(ParameterError, match=r"`bottleneck_width` must be at least 3 for a pitch-conditioned"):
        TINY.replace(excitation_harmonics=2, bottleneck_width=2)


def test_encoding_carries_the_measured_pitch_after_the_learned_channels(pitch_model, pitch_arrays):
    t = np.arange(4096) / 16000.0
    audio = np.stack([0.5 * np.sin(2 * np.pi * 330.0 * t), np.zeros_like(t)]).astype(np.float32)
    audio[1, :2048] = 0.4 * np.sin(2 * np.pi * 220.0 * t[:2048])
    enc = pitch_model.encode(audio)
    assert enc.shape == (2, 64, 16)
    learned = ref.encode((mu_law_encode(audio) / 128.0).astype(np.float32), pitch_arrays, TINY_PITCH)
    np.testing.assert_allclose(enc[..., :14], learned, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(enc[..., 14:], estimate_pitch(audio, hop_length=64), atol=1e-6)
    assert np.allclose(channel_to_f0(enc[0, 20:40, 14]), 330.0, rtol=1e-3)


def test_decoder_with_the_oscillator_agrees_with_numpy_reference(pitch_model, pitch_arrays):
    rng = np.random.default_rng(2)
    audio = rng.uniform(-0.9, 0.9, (2, 256)).astype(np.float32)
    enc = _encoding(rng, 2, 4)
    got = pitch_model.decode_logits(audio, enc)
    excitation = ref.excitation(enc[..., 14:].astype(np.float64), 3, 64)
    expected = ref.decode_logits(
        (mu_law_encode(audio) / 128.0).astype(np.float32), enc, pitch_arrays, TINY_PITCH, excitation
    )
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())
    # the oscillator matters: a different pitch in one frame changes the logits from that frame's span on
    moved = enc.copy()
    moved[:, 2, 14] += 0.5
    diff = np.abs(pitch_model.decode_logits(audio, moved) - got).max(axis=(0, 2))
    assert diff[: 64 + 32].max() == 0 and diff[64 + 32 :].max() > 1e-3


@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_incremental_logits_equal_teacher_forced_with_the_oscillator(pitch_arrays, precision):
    """Primed with known samples, the fast generator's logits equal the teacher-forced model's at every
    step, over uneven chunks; int8 equals the model with the dequantized weights."""
    rng = np.random.default_rng(0)
    batch, steps = 3, 640
    classes = rng.integers(0, 256, (batch, steps)).astype(np.int32)
    enc = _encoding(rng, batch, steps // 64)
    weights = fastgen.DecoderWeights.from_arrays(pitch_arrays, TINY_PITCH)
    arrays = pitch_arrays
    if precision == "int8":
        weights = weights.quantize_int8()
        arrays = fastgen.int8_equivalent_arrays(pitch_arrays, TINY_PITCH)
    expected = NSynth(TINY_PITCH, arrays).decode_logits(classes_to_audio(classes), enc)
    decoder = fastgen.IncrementalDecoder(weights, enc)
    got = np.concatenate([decoder.step(n, forced=classes, record_logits=True) for n in (1, 63, 200, 376)], axis=1)
    assert np.abs(got - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())


def test_generation_follows_the_seed_not_the_chunk_size(pitch_arrays):
    weights = fastgen.DecoderWeights.from_arrays(pitch_arrays, TINY_PITCH)
    enc = _encoding(np.random.default_rng(3), 2, 6)
    a = fastgen.generate(weights, enc, seed=7, chunk_size=4096)
    b = fastgen.generate(weights, enc, seed=7, chunk_size=37)
    np.testing.assert_array_equal(a, b)
    greedy = fastgen.generate(weights, enc, greedy=True, chunk_size=50)
    logits = NSynth(TINY_PITCH, pitch_arrays).decode_logits(classes_to_audio(greedy), enc)
    np.testing.assert_array_equal(np.argmax(logits, axis=-1), greedy)


def test_transpose_moves_only_the_f0_channel_and_round_trips(pitch_model):
    enc = _encoding(np.random.default_rng(4), 1, 5)
    up = pitch_model.transpose(enc, 7)
    np.testing.assert_allclose(channel_to_f0(up[..., 14]), channel_to_f0(enc[..., 14]) * 2 ** (7 / 12), rtol=1e-5)
    np.testing.assert_array_equal(up[..., :14], enc[..., :14])
    np.testing.assert_array_equal(up[..., 15], enc[..., 15])
    np.testing.assert_allclose(pitch_model.transpose(pitch_model.transpose(enc, 2.5), -2.5), enc, atol=1e-6)
    assert pitch_model.transpose(enc[0], 1.0).shape == (1, 5, 16)
    with pytest.raises(ParameterError, match=r"`semitones` must be a finite number. Received: semitones=nan"):
        pitch_model.transpose(enc, float("nan"))
    with pytest.raises(ParameterError, match=r"`semitones` must keep the pitch within 20-4000 Hz"):
        pitch_model.transpose(enc, 60)


def test_transposing_with_a_model_without_pitch_channels_points_to_pitch_shift(tiny_model):
    with pytest.raises(
        ParameterError,
        match=r"has no pitch channels. Pitch-shift the audio before encoding instead: "
        r"nsynth_widgets.audio.pitch_shift",
    ):
        tiny_model.transpose(np.zeros((1, 2, 16), np.float32), 7)


def test_unvoiced_frames_sample_at_their_own_temperature(pitch_model, pitch_arrays, tiny_model):
    """``unvoiced_temperature``: each frame's temperature moves from it (voicing 0) to
    ``temperature`` (voicing 1) with the voicing channel, and the audio is the generator's at
    those per-frame temperatures; fully voiced frames are sampled as without it."""
    enc = _encoding(np.random.default_rng(8), 2, 4)
    enc[0, :, 15] = [0.0, 0.25, 1.0, 1.0]
    t = pitch_model.frame_temperatures(enc, 0.2, 0.8)
    np.testing.assert_allclose(t[0], [0.8, 0.65, 0.2, 0.2])
    np.testing.assert_allclose(t[1], 0.8 - 0.6 * enc[1, :, 15], rtol=1e-6)
    weights = fastgen.DecoderWeights.from_arrays(pitch_arrays, TINY_PITCH)
    got = pitch_model.synthesize(enc, seed=3, temperature=0.2, unvoiced_temperature=0.8)
    np.testing.assert_array_equal(got, classes_to_audio(fastgen.generate(weights, enc, seed=3, temperature=t)))
    assert (got != pitch_model.synthesize(enc, seed=3, temperature=0.2)).any()
    enc[..., 15] = 1.0
    np.testing.assert_array_equal(
        pitch_model.synthesize(enc, seed=3, temperature=0.2, unvoiced_temperature=0.8),
        pitch_model.synthesize(enc, seed=3, temperature=0.2),
    )
    with pytest.raises(ParameterError, match=r"`unvoiced_temperature` needs a model with pitch channels"):
        tiny_model.synthesize(np.zeros((1, 2, 16), np.float32), unvoiced_temperature=0.5)
    with pytest.raises(ParameterError, match=r"`unvoiced_temperature` must be a finite number > 0"):
        pitch_model.synthesize(enc, unvoiced_temperature=0.0)


def test_warm_start_keeps_what_the_source_computed_from_the_shared_channels():
    """A pitch-conditioned model started from one without pitch channels computes the same logits as
    the source whose two dropped channels are silenced: the new rows and maps start at zero."""
    source = random_arrays(TINY, seed=5)
    for name in ("W", "biases"):  # silence the source's learned channels 14 and 15
        source[f"ae_bottleneck/{name}"][..., 14:] = 0.0
    arrays = warm_start_arrays(source, TINY, TINY_PITCH)
    assert set(arrays) == set(expected_variables(TINY_PITCH))
    assert not any(arrays[f"exc_map_{i}/W"].any() for i in range(1, TINY.num_layers + 1))
    rng = np.random.default_rng(6)
    audio = (0.5 * np.sin(2 * np.pi * 300.0 * np.arange(512) / 16000.0)).astype(np.float32)[None]
    before, after = NSynth(TINY, source), NSynth(TINY_PITCH, arrays)
    np.testing.assert_allclose(after.encode(audio)[..., :14], before.encode(audio)[..., :14], atol=1e-6)
    enc = _encoding(rng, 1, 8)
    expected = before.decode_logits(audio, np.concatenate([enc[..., :14], np.zeros((1, 8, 2), np.float32)], -1))
    np.testing.assert_allclose(after.decode_logits(audio, enc), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ParameterError, match=r"`init_weights` must hold a model of the configuration being trained"):
        warm_start_arrays(source, TINY, TINY_PITCH.replace(width=16))
