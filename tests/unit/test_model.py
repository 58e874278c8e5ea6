"""The Keras autoencoder: shapes, causality, agreement with the NumPy reference, layer rules."""

import numpy as np
import pytest

from nsynth_widgets.dsp import mu_law_encode
from nsynth_widgets.errors import EncodingError, ParameterError
from nsynth_widgets.model.config import H512_BO16, ModelConfig

from ..conftest import TINY
from . import numpy_reference as ref


def _scaled(audio):
    return (mu_law_encode(audio) / 128.0).astype(np.float32)


def test_published_model_encodes_40000_samples_to_78_frames():
    from nsynth_widgets.model.nsynth import NSynth

    model = NSynth(H512_BO16)
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 40000).astype(np.float32)
    enc = model.encode(audio)
    assert enc.shape == (1, 78, 16) and enc.dtype == np.float32
    assert sum(int(np.prod(w.shape)) for w in model.keras_model.weights) == 61_804_048


def test_encoder_agrees_with_numpy_reference(tiny_model, tiny_arrays):
    audio = np.random.default_rng(1).uniform(-0.9, 0.9, (2, 700)).astype(np.float32)
    got = tiny_model.encode(audio)
    expected = ref.encode(_scaled(audio[:, :640]), tiny_arrays, TINY)
    assert got.shape == (2, 10, 16)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_bfloat16_encoder_is_near_the_numpy_reference_and_follows_weight_changes(tiny_arrays):
    """``precision="bfloat16"``: the same encoder in bfloat16 arithmetic — near the float32 NumPy
    reference (about a percent of the channels' scale, which a wrong weight or tap is far from),
    not equal to it; after the weights change in place, it computes with the new ones."""
    from nsynth_widgets.model.nsynth import NSynth

    model = NSynth(TINY, {k: v.copy() for k, v in tiny_arrays.items()})
    audio = np.random.default_rng(1).uniform(-0.9, 0.9, (2, 640)).astype(np.float32)
    expected = ref.encode(_scaled(audio), tiny_arrays, TINY)
    got = model.encode(audio, precision="bfloat16")
    assert got.shape == (2, 10, 16) and got.dtype == np.float32
    error = np.sqrt(np.mean((got - expected) ** 2) / np.mean(expected**2))
    assert 1e-4 < error < 0.02, error
    model.keras_model.encoder.ae_bottleneck.bias.assign(np.full(16, 3.0, np.float32))
    model.weights_changed()
    moved = model.encode(audio, precision="bfloat16") - got
    np.testing.assert_allclose(
        moved, np.broadcast_to(3.0 - tiny_arrays["ae_bottleneck/biases"], moved.shape), atol=0.05
    )
    with pytest.raises(ParameterError, match=r"`precision` must be one of \['bfloat16', 'float32'\]"):
        model.encode(audio, precision="float16")


def test_decoder_agrees_with_numpy_reference(tiny_model, tiny_arrays):
    rng = np.random.default_rng(2)
    audio = rng.uniform(-0.9, 0.9, (2, 256)).astype(np.float32)
    enc = rng.normal(size=(2, 4, 16)).astype(np.float32)
    got = tiny_model.decode_logits(audio, enc)
    expected = ref.decode_logits(_scaled(audio), enc, tiny_arrays, TINY)
    assert got.shape == (2, 256, 256)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())


def test_decoder_is_causal(tiny_model):
    rng = np.random.default_rng(3)
    audio = rng.uniform(-0.9, 0.9, (1, 512)).astype(np.float32)
    enc = rng.normal(size=(1, 8, 16)).astype(np.float32)
    base = tiny_model.decode_logits(audio, enc)
    for t in (0, 100, 300, 511):
        changed = audio.copy()
        changed[0, t] = -changed[0, t] if abs(changed[0, t]) > 0.1 else 0.8
        out = tiny_model.decode_logits(changed, enc)
        np.testing.assert_array_equal(out[0, : t + 1], base[0, : t + 1])  # outputs up to t never see x[t]
        if t + 1 < 512:
            assert np.abs(out[0, t + 1] - base[0, t + 1]).max() > 0  # ... and t+1 does


def test_decoder_receptive_field_matches_config(tiny_model):
    rng = np.random.default_rng(4)
    audio = rng.uniform(-0.9, 0.9, (1, 512)).astype(np.float32)
    enc = np.zeros((1, 8, 16), np.float32)
    base = tiny_model.decode_logits(audio, enc)
    changed = audio.copy()
    changed[0, 100] = -0.9 if changed[0, 100] > 0 else 0.9
    diff = np.abs(tiny_model.decode_logits(changed, enc) - base)[0].max(axis=1)
    affected = np.nonzero(diff > 0)[0]
    assert affected.min() == 101
    assert affected.max() == 100 + TINY.receptive_field


def test_encoding_conditions_only_its_frame(tiny_model):
    rng = np.random.default_rng(5)
    audio = rng.uniform(-0.9, 0.9, (1, 256)).astype(np.float32)
    enc = rng.normal(size=(1, 4, 16)).astype(np.float32)
    base = tiny_model.decode_logits(audio, enc)
    changed = enc.copy()
    changed[0, 2] += 1.0
    out = tiny_model.decode_logits(audio, changed)
    np.testing.assert_array_equal(out[0, :128], base[0, :128])  # frames 0-1 untouched
    assert np.abs(out[0, 128:192] - base[0, 128:192]).min() > 0 or np.abs(out[0, 128] - base[0, 128]).max() > 0


def test_config_receptive_field_of_published_decoder():
    # shift (1) + start conv (2) + 3 stacks * 2 * (1 + 2 + ... + 512)
    assert H512_BO16.receptive_field == 1 + 2 + 3 * 2 * 1023
    assert H512_BO16.dilations[:11] == (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1)


def test_keras_layer_config_round_trip():
    from nsynth_widgets.model.layers import NSynthConv1D

    layer = NSynthConv1D(4, 3, dilation=2, causal=False, name="dilatedconv_3")
    clone = NSynthConv1D.from_config(layer.get_config())
    assert (clone.filters, clone.kernel_size, clone.dilation, clone.causal, clone.name) == (
        4,
        3,
        2,
        False,
        "dilatedconv_3",
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": 0}, r"`filters` must be an integer >= 1. Received: filters=0."),
        (
            {"filters": 4, "kernel_size": 2, "causal": False},
            r"`kernel_size` must be odd for a non-causal convolution. Received: kernel_size=2.",
        ),
        ({"filters": 4, "dilation": -1}, r"Received: dilation=-1."),
    ],
)
def test_layer_argument_errors(kwargs, match):
    from nsynth_widgets.model.layers import NSynthConv1D

    with pytest.raises(ParameterError, match=match):
        NSynthConv1D(**kwargs)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"width": 0}, r"`width` must be an integer >= 1. Received: width=0."),
        ({"num_layers": 2.0}, r"`num_layers` must be an integer >= 1. Received: num_layers=2.0."),
        ({"quantization_channels": 65536}, r"`quantization_channels` must be 256"),
    ],
)
def test_config_errors(changes, match):
    with pytest.raises(ParameterError, match=match):
        TINY.replace(**changes)


def test_config_dict_round_trip_and_unknown_keys():
    assert ModelConfig.from_dict(TINY.to_dict()) == TINY
    with pytest.raises(ParameterError, match=r"Received unknown keys: \['depth'\]"):
        ModelConfig.from_dict({**TINY.to_dict(), "depth": 3})


def test_decode_logits_rejects_mismatched_encoding(tiny_model):
    audio = np.full((1, 256), 0.1, np.float32)
    with pytest.raises(EncodingError, match=r"`encoding` must have 4 frames for batch 1"):
        tiny_model.decode_logits(audio, np.zeros((1, 3, 16), np.float32))
