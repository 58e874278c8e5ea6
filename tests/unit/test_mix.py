"""Latent mixing, crossfades, pad weights and time-stretch, against hand calculations."""

import numpy as np
import pytest

from nsynth_widgets.dsp import mix
from nsynth_widgets.errors import EncodingError, ParameterError


def test_interpolate_endpoints_and_midpoint():
    a = np.zeros((1, 4, 16), np.float32)
    b = np.ones((1, 6, 16), np.float32)
    np.testing.assert_array_equal(mix.interpolate(a, b, 0.0), a)
    np.testing.assert_array_equal(mix.interpolate(a, b, 1.0), b[:, :4])
    np.testing.assert_allclose(mix.interpolate(a, b, 0.25), np.full((1, 4, 16), 0.25))


def test_crossfade_is_a_plain_weighted_sum():
    a, b = np.full(10, 0.8, np.float32), np.full(8, -0.4, np.float32)
    out = mix.crossfade(a, b, 0.5)
    assert out.shape == (8,)
    np.testing.assert_allclose(out, 0.2)


@pytest.mark.parametrize(
    "x, y, expected",
    [
        (0, 0, [1, 0, 0, 0]),
        (1, 0, [0, 1, 0, 0]),
        (0, 1, [0, 0, 1, 0]),
        (1, 1, [0, 0, 0, 1]),
        (0.5, 0.5, [0.25, 0.25, 0.25, 0.25]),
        (0.25, 0.5, [0.375, 0.125, 0.375, 0.125]),
    ],
)
def test_bilinear_weights(x, y, expected):
    np.testing.assert_allclose(mix.bilinear_weights(x, y), expected)


def test_time_stretch_by_two_repeats_then_interpolates():
    enc = np.array([[0.0], [4.0]], np.float32)  # 2 frames, 1 channel
    out = mix.time_stretch(enc, 2.0)
    # new frame centres map to old positions -0.25, 0.25, 0.75, 1.25 -> clipped to [0, 1]
    np.testing.assert_allclose(out[:, 0], [0.0, 1.0, 3.0, 4.0])
    assert mix.time_stretch(np.zeros((1, 10, 16)), 0.5).shape == (1, 5, 16)
    np.testing.assert_allclose(mix.time_stretch(np.arange(6.0).reshape(1, 3, 2), 1.0), np.arange(6.0).reshape(1, 3, 2))


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: mix.interpolate(np.zeros((1, 2, 16)), np.zeros((1, 2, 16)), 1.5),
            r"`weight` must be a number in \[0, 1\]. Received: weight=1.5.",
        ),
        (lambda: mix.bilinear_weights(-0.1, 0), r"`x` must be a number in \[0, 1\]. Received: x=-0.1."),
        (
            lambda: mix.time_stretch(np.zeros((1, 2, 16)), 8),
            r"`factor` must be a number in \[0.25, 4\]. Received: factor=8.",
        ),
        (
            lambda: mix.weighted_mix([np.zeros((1, 2, 16))] * 2, [0.7, 0.7]),
            r"`weights` must be non-negative and sum to 1",
        ),
        (
            lambda: mix.weighted_mix([np.zeros((1, 2, 16))], [0.5, 0.5]),
            r"`weights` must have one value per encoding \(1\)",
        ),
    ],
)
def test_bad_mix_arguments(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


def test_mixing_encodings_of_different_widths_is_refused():
    with pytest.raises(
        EncodingError, match=r"`encodings` must share their channel count. Received: channels \[16, 8\]"
    ):
        mix.weighted_mix([np.zeros((1, 2, 16)), np.zeros((1, 2, 8))], [0.5, 0.5])
