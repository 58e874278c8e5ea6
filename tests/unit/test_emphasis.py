"""Pre-emphasis (LPCNet's noise shaping): the filter pair against explicit loops, and a
pitch-conditioned model whose decoder reads, predicts and generates the pre-emphasized signal while
its encoder hears the audio itself."""

import numpy as np
import pytest

from nsynth_widgets.dsp.emphasis import de_emphasis, pre_emphasis
from nsynth_widgets.errors import ParameterError
from nsynth_widgets.model import fastgen
from nsynth_widgets.model.config import EMBEDDED, ModelConfig
from nsynth_widgets.model.nsynth import NSynth, classes_to_audio
from nsynth_widgets.training.train import model_inputs, warm_start_arrays

from ..conftest import TINY, TINY_PITCH, random_arrays
from . import numpy_reference as ref

EMPHASIZED = TINY_PITCH.replace(name="tiny-pitch-pe", pre_emphasis=0.85)


def _encoding(rng, batch, frames):
    enc = rng.normal(size=(batch, frames, 16)).astype(np.float32)
    enc[..., 14] = rng.uniform(-2.0, 1.0, (batch, frames))
    enc[..., 15] = rng.uniform(0.0, 1.0, (batch, frames))
    return enc


@pytest.mark.parametrize("a", [0.0, 0.5, 0.85, 0.99])
def test_the_filters_agree_with_explicit_loops_and_invert_each_other(a):
    x = np.random.default_rng(0).uniform(-1, 1, (3, 2, 500)).astype(np.float32)
    y = pre_emphasis(x, a)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, ref.pre_emphasis(x, a), atol=1e-6)
    np.testing.assert_allclose(de_emphasis(y, a), ref.de_emphasis(y, a), atol=1e-4)
    np.testing.assert_allclose(de_emphasis(y, a), x, atol=1e-4)
    # from rest: a prefix of the output depends only on the same prefix of the input
    np.testing.assert_array_equal(de_emphasis(y[..., :123], a), de_emphasis(y, a)[..., :123])


@pytest.mark.parametrize("bad", [-0.1, 1.0, float("nan"), "0.85", True])
def test_coefficients_outside_the_rule_are_refused_by_name(bad):
    with pytest.raises(ParameterError, match=r"`coefficient` must be a (finite )?number in \[0, 0.99\]"):
        pre_emphasis(np.zeros(4), bad)
    with pytest.raises(ParameterError, match=r"`pre_emphasis` must be a (finite )?number in \[0, 0.99\]"):
        EMBEDDED.replace(pre_emphasis=bad)


def test_the_config_stores_the_coefficient_only_when_set():
    """Models without pre-emphasis serialise (and digest) as before the field existed."""
    plain = EMBEDDED.replace(pre_emphasis=0.0)
    assert "pre_emphasis" not in plain.to_dict() and "pre_emphasis" not in plain.to_json()
    assert EMPHASIZED.to_dict()["pre_emphasis"] == 0.85
    assert ModelConfig.from_dict(EMPHASIZED.to_dict()) == EMPHASIZED
    with pytest.raises(ParameterError, match=r"`pre_emphasis` must be 0 for a model without pitch channels"):
        TINY.replace(pre_emphasis=0.5)


@pytest.fixture(scope="module")
def emphasized():
    return NSynth(EMPHASIZED, random_arrays(EMPHASIZED, seed=1), source="test")


def test_the_decoder_reads_the_emphasized_signal_and_the_encoder_the_audio(emphasized):
    rng = np.random.default_rng(2)
    audio = rng.uniform(-0.6, 0.6, (2, 256)).astype(np.float32)
    enc = _encoding(rng, 2, 4)
    arrays = emphasized.variables()
    got = emphasized.decode_logits(audio, enc)
    x = (ref.mu_law_codes(ref.pre_emphasis(audio, 0.85)) / 128.0).astype(np.float32)
    excitation = ref.excitation(enc[..., 14:].astype(np.float64), 3, 64)
    expected = ref.decode_logits(x, enc, arrays, EMPHASIZED, excitation)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())
    plain = NSynth(TINY_PITCH, arrays).decode_logits(audio, enc)
    assert np.abs(plain - got).max() > 1e-3  # the same weights hearing the plain signal differ
    learned = ref.encode((ref.mu_law_codes(audio) / 128.0).astype(np.float32), arrays, EMPHASIZED)
    np.testing.assert_allclose(emphasized.encode(audio)[..., :14], learned, rtol=1e-4, atol=1e-4)


def test_generated_classes_are_de_emphasized_into_audio_progress_and_all(emphasized):
    enc = _encoding(np.random.default_rng(3), 2, 5)
    weights = fastgen.DecoderWeights.from_arrays(emphasized.variables(), EMPHASIZED)
    classes = fastgen.generate(weights, enc, seed=4, temperature=0.7)
    partial = []
    got = emphasized.synthesize(
        enc, seed=4, temperature=0.7, chunk_size=100, progress=lambda done, total, audio: partial.append(audio)
    )
    expected = np.clip(ref.de_emphasis(classes_to_audio(classes), 0.85), -1, 1)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(got - classes_to_audio(classes)).max() > 0.01
    for audio in partial:  # what the player shows so far is the start of the final audio
        np.testing.assert_allclose(audio, got[:, : audio.shape[1]], atol=1e-6)


def test_round_trip_is_the_decoder_signal_quantized_then_de_emphasized(emphasized):
    audio = np.random.default_rng(5).uniform(-0.5, 0.5, (1, 640)).astype(np.float32)
    codes = ref.mu_law_codes(ref.pre_emphasis(audio, 0.85))
    expected = np.clip(ref.de_emphasis(classes_to_audio(codes + 128), 0.85), -1, 1)
    np.testing.assert_allclose(emphasized.round_trip(audio), expected, atol=1e-5)
    np.testing.assert_array_equal(
        NSynth(TINY_PITCH, emphasized.variables()).round_trip(audio), classes_to_audio(ref.mu_law_codes(audio) + 128)
    )


def test_training_inputs_emphasize_the_decoder_side_only():
    rng = np.random.default_rng(6)
    audio = rng.uniform(-0.8, 0.8, (2, 256)).astype(np.float32)
    pitch = np.zeros((2, 4, 2), np.float32)
    inputs, targets = model_inputs(EMPHASIZED, audio, pitch, phase_lock=False)
    codes = ref.mu_law_codes(ref.pre_emphasis(audio, 0.85))
    np.testing.assert_array_equal(inputs["audio"], codes / 128.0)
    np.testing.assert_array_equal(targets, codes + 128)
    np.testing.assert_array_equal(inputs["encoder_audio"], ref.mu_law_codes(audio) / 128.0)


def test_a_run_with_pre_emphasis_starts_from_weights_without_it_every_variable_copied():
    arrays = random_arrays(TINY_PITCH, seed=7)
    started = warm_start_arrays(arrays, TINY_PITCH, EMPHASIZED)
    assert started.keys() == arrays.keys()
    assert all(np.array_equal(started[name], arrays[name]) for name in arrays)
    with pytest.raises(ParameterError, match=r"`init_weights` must hold a model of the configuration being trained"):
        warm_start_arrays(arrays, TINY_PITCH, EMPHASIZED.replace(width=2 * EMPHASIZED.width))
