"""The int8 generation path: an exact kernel for the dequantized model, within tolerance of float32."""

import numpy as np
import pytest

from nsynth_widgets.errors import ParameterError
from nsynth_widgets.model import fastgen
from nsynth_widgets.model.config import EMBEDDED
from nsynth_widgets.model.nsynth import NSynth, classes_to_audio

from ..conftest import TINY, random_arrays

#: Documented tolerance of int8 weights (README, "Reduced precision"): mean KL divergence of the
#: float32 step distribution from the int8 one, in nats, on random weights (real weights do better).
MEAN_KL_TOLERANCE = 0.02


def _log_softmax(logits):
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def test_quantization_is_per_output_channel_and_round_trips_within_half_a_step(tiny_arrays):
    weights = fastgen.DecoderWeights.from_arrays(tiny_arrays, TINY)
    quantized = weights.quantize_int8()
    assert quantized.precision == "int8" and weights.precision == "float32"
    dilated, res, skip = quantized.matrices()
    assert dilated.dtype == res.dtype == skip.dtype == np.int8
    assert dilated.shape == (TINY.num_layers, 3 * TINY.width, 2 * TINY.width)
    assert res.shape == (TINY.num_layers, TINY.width, TINY.width)
    assert skip.shape == (TINY.num_layers, TINY.width, TINY.skip_width)
    # every column uses the full range once, and rounding is to the nearest step
    assert all((np.abs(m).max(axis=1) == 127).all() for m in (dilated, res, skip))
    error = np.abs(quantized.dequantized().matrices()[0] - weights.matrices()[0])
    assert (error <= 0.5 * quantized.dilated_scale[:, None, : 2 * TINY.width] + 1e-7).all()
    # the output head stays exact, and int8 reads about a quarter of the bytes (the embedded model's
    # float32 head and excitation map are most of the rest)
    np.testing.assert_array_equal(quantized.logits_w, weights.logits_w)
    big = fastgen.DecoderWeights.from_arrays(random_arrays(EMBEDDED), EMBEDDED)
    assert big.quantize_int8().nbytes_per_step < 0.35 * big.nbytes_per_step


def test_int8_generator_equals_the_teacher_forced_dequantized_model(tiny_arrays):
    """The int8 fast path computes exactly the model whose weights are its dequantized ones."""
    rng = np.random.default_rng(10)
    batch, steps = 2, 640
    classes = rng.integers(0, 256, (batch, steps)).astype(np.int32)
    enc = rng.normal(size=(batch, steps // TINY.hop_length, 16)).astype(np.float32)
    reference = NSynth(TINY, fastgen.int8_equivalent_arrays(tiny_arrays, TINY), source="test")
    expected = reference.decode_logits(classes_to_audio(classes), enc)
    decoder = fastgen.IncrementalDecoder(fastgen.DecoderWeights.from_arrays(tiny_arrays, TINY).quantize_int8(), enc)
    got = np.concatenate([decoder.step(n, forced=classes, record_logits=True) for n in (5, 300, 335)], axis=1)
    assert np.abs(got - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())


def test_int8_output_distribution_is_within_the_documented_tolerance_of_float32(tiny_model, tiny_arrays):
    rng = np.random.default_rng(11)
    classes = rng.integers(0, 256, (2, 640)).astype(np.int32)
    enc = rng.normal(size=(2, 10, 16)).astype(np.float32)
    exact = _log_softmax(tiny_model.decode_logits(classes_to_audio(classes), enc))
    decoder = fastgen.IncrementalDecoder(tiny_model.generation_weights("int8"), enc)
    approx = _log_softmax(decoder.step(640, forced=classes, record_logits=True))
    kl = (np.exp(exact) * (exact - approx)).sum(axis=-1)
    assert 0 < kl.mean() < MEAN_KL_TOLERANCE
    # and the difference is real: float32 weights reproduce the reference far more closely
    assert np.abs(approx - exact).max() > 1e-3


def test_synthesize_int8_gives_audio_and_is_reproducible(tiny_model):
    enc = np.random.default_rng(12).normal(size=(2, 4, 16)).astype(np.float32)
    a = tiny_model.synthesize(enc, seed=3, precision="int8")
    b = tiny_model.synthesize(enc, seed=3, precision="int8", chunk_size=17)
    assert a.shape == (2, 4 * TINY.hop_length) and a.dtype == np.float32 and np.abs(a).max() <= 1
    np.testing.assert_array_equal(a, b)
    assert tiny_model.generation_weights("int8") is tiny_model.generation_weights("int8")  # built once


def test_unknown_precision_is_refused(tiny_model):
    with pytest.raises(
        ParameterError, match=r"`precision` must be one of \['float32', 'int8', 'w8a8'\]\. Received: precision='int4'"
    ):
        tiny_model.synthesize(np.zeros((1, 2, 16), np.float32), precision="int4")
