"""The w8a8 generation path: int8 weights and int8 activations, multiplied as int8 × int8 (VNNI)."""

import numpy as np
import pytest

from nsynth_widgets.dsp import mu_law_encode
from nsynth_widgets.errors import ParameterError
from nsynth_widgets.model import fastgen
from nsynth_widgets.model.nsynth import classes_to_audio

from ..conftest import TINY, TINY_PITCH, random_arrays
from . import numpy_reference as ref
from .test_fastgen_int8 import _log_softmax

#: Documented tolerance of w8a8 (README, "Reduced precision"): mean KL divergence of the float32
#: step distribution from the w8a8 one, in nats, on random weights (real weights do better).
W8A8_MEAN_KL_TOLERANCE = 0.03


@pytest.mark.parametrize("config", [TINY, TINY_PITCH], ids=["plain", "pitch"])
def test_w8a8_generator_computes_the_model_with_rounded_weights_and_activations(config):
    """Teacher-forced against an independent NumPy decoder whose weights are the dequantized ones and
    whose every dilated-conv input and gate output is rounded to int8 per vector: equal up to float
    rounding, except where float rounding puts a value on the other side of an int8 step (a few
    logits move by a step's effect); the difference from the float32 model is far larger."""
    arrays = random_arrays(config, seed=1)
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 256, (3, 640)).astype(np.int32)
    enc = rng.normal(size=(3, 10, 16)).astype(np.float32)
    excitation = None
    if config.pitch_conditioned:
        enc[..., 14] = rng.uniform(-2.0, 1.0, (3, 10))
        enc[..., 15] = rng.uniform(0.0, 1.0, (3, 10))
        excitation = ref.excitation(enc[..., 14:].astype(np.float64), 3, 64)
    x_scaled = (mu_law_encode(classes_to_audio(classes)) / 128.0).astype(np.float32)
    expected = ref.decode_logits(
        x_scaled, enc, fastgen.int8_equivalent_arrays(arrays, config), config, excitation, rounded=ref.round_to_int8
    )
    float32 = ref.decode_logits(x_scaled, enc, arrays, config, excitation)
    weights = fastgen.DecoderWeights.from_arrays(arrays, config).quantize_w8a8()
    assert weights.precision == "w8a8"
    got = np.concatenate(
        [fastgen.IncrementalDecoder(weights, enc).step(n, forced=classes, record_logits=True) for n in (640,)], axis=1
    )
    scale = np.abs(expected).max()
    error = np.abs(got - expected)
    assert np.median(error) < 1e-6 * scale
    assert (error > 1e-4 * scale).mean() < 0.02
    assert np.median(np.abs(float32 - expected)) > 100 * np.median(error)


def test_w8a8_output_distribution_is_within_the_documented_tolerance_of_float32(tiny_model):
    rng = np.random.default_rng(11)
    classes = rng.integers(0, 256, (2, 640)).astype(np.int32)
    enc = rng.normal(size=(2, 10, 16)).astype(np.float32)
    exact = _log_softmax(tiny_model.decode_logits(classes_to_audio(classes), enc))
    decoder = fastgen.IncrementalDecoder(tiny_model.generation_weights("w8a8"), enc)
    approx = _log_softmax(decoder.step(640, forced=classes, record_logits=True))
    kl = (np.exp(exact) * (exact - approx)).sum(axis=-1)
    assert 0 < kl.mean() < W8A8_MEAN_KL_TOLERANCE


def test_w8a8_weights_unpack_to_the_int8_ones(tiny_arrays):
    weights = fastgen.DecoderWeights.from_arrays(tiny_arrays, TINY)
    int8, w8a8 = weights.quantize_int8(), weights.quantize_w8a8()
    assert w8a8.quantize_w8a8() is w8a8 and w8a8.dilated_w.dtype == np.uint8
    np.testing.assert_array_equal(w8a8.matrices()[0], int8.matrices()[0])
    np.testing.assert_array_equal(w8a8.dequantized().matrices()[1], int8.dequantized().matrices()[1])


def test_w8a8_needs_a_width_that_is_a_multiple_of_four():
    config = TINY.replace(width=6)
    weights = fastgen.DecoderWeights.from_arrays(random_arrays(config), config)
    with pytest.raises(ParameterError, match=r"`width` must be a multiple of 4 for w8a8 weights. Received: width=6."):
        weights.quantize_w8a8()


def test_synthesize_w8a8_gives_audio_and_is_reproducible(tiny_model):
    enc = np.random.default_rng(12).normal(size=(5, 4, 16)).astype(np.float32)
    a = tiny_model.synthesize(enc, seed=3, precision="w8a8")
    b = tiny_model.synthesize(enc, seed=3, precision="w8a8", chunk_size=17, threads=1)
    assert a.shape == (5, 4 * TINY.hop_length) and np.abs(a).max() <= 1
    np.testing.assert_array_equal(a, b)
