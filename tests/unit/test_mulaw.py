"""NSynth's mu-law, pinned with golden values computed by hand from the published formula."""

import numpy as np
import pytest

from nsynth_widgets.dsp import mulaw
from nsynth_widgets.errors import ParameterError

from .numpy_reference import mu_law_codes

# x → code = floor(128 * sign(x) * ln(1 + 255|x|) / ln 256), clipped to [-128, 127]
GOLDEN = [
    (0.0, 0),
    (1e-3, 5),  # 128 * ln(1.255) / ln(256) = 5.24
    (-1e-3, -6),  # floor(-5.24)
    (0.01, 29),  # 128 * ln(3.55) / ln(256) = 29.245
    (0.5, 112),  # 128 * ln(128.5) / ln(256) = 112.09
    (-0.5, -113),
    (0.999, 127),
    (1.0, 127),  # raw formula gives 128: clipped
    (-1.0, -128),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_golden_codes(dtype):
    xs = np.array([x for x, _ in GOLDEN], dtype=dtype)
    expected = [c for _, c in GOLDEN]
    np.testing.assert_array_equal(mulaw.mu_law_encode(xs), expected)


def test_agrees_with_scalar_reference_on_a_sweep():
    x = np.linspace(-1.2, 1.2, 20001)
    np.testing.assert_array_equal(mulaw.mu_law_encode(x), mu_law_codes(x))


def test_decode_golden_and_centring():
    out = mulaw.mu_law_decode(np.array([0, 127, -128, 1, -1]))
    assert out.dtype == np.float32
    assert out[0] == 0.0
    # code 127: y = 127.5/128, x = (256**y - 1) / 255
    assert out[1] == pytest.approx((256 ** (127.5 / 128) - 1) / 255, rel=1e-6)
    assert out[2] == pytest.approx(-(256 ** (127.5 / 128) - 1) / 255, rel=1e-6)
    assert out[3] == pytest.approx((256 ** (1.5 / 128) - 1) / 255, rel=1e-6)
    assert out[4] == pytest.approx(-(256 ** (0.5 / 128) - 1) / 255, rel=1e-6)


def test_every_code_round_trips():
    codes = np.arange(-128, 128)
    np.testing.assert_array_equal(mulaw.mu_law_encode(mulaw.mu_law_decode(codes)), codes)


def test_classes_and_codes():
    np.testing.assert_array_equal(mulaw.codes_to_classes([-128, 0, 127]), [0, 128, 255])
    np.testing.assert_array_equal(mulaw.classes_to_codes([0, 128, 255]), [-128, 0, 127])


def test_quantize_keeps_shape_and_does_not_modify_input():
    x = np.random.default_rng(0).uniform(-1, 1, (2, 100)).astype(np.float32)
    before = x.copy()
    q = mulaw.quantize(x)
    assert q.shape == x.shape and q.dtype == np.float32
    np.testing.assert_array_equal(x, before)
    assert np.max(np.abs(q - x)) < 0.03  # 8-bit mu-law step is < 0.03 even at full scale


def test_bits_and_mu_parameters():
    assert mulaw.mu_law_encode(np.array([1.0]), bits=4)[0] == 7
    assert mulaw.mu_law_encode(np.array([-1.0]), bits=4)[0] == -8


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mu": 0}, r"`mu` must be an integer >= 1. Received: mu=0."),
        ({"mu": 2.5}, r"`mu` must be an integer >= 1. Received: mu=2.5."),
        ({"bits": 0}, r"`bits` must be an integer in \[1, 16\]. Received: bits=0."),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        mulaw.mu_law_encode(np.zeros(3), **kwargs)


def test_decode_rejects_codes_out_of_range():
    with pytest.raises(ParameterError, match=r"`codes` must lie in \[-128, 127\]"):
        mulaw.mu_law_decode(np.array([0, 128]))
