"""The step loop's product kernels: 16-column panels, float32 × (float32 | int8) and int8 × int8."""

import numpy as np
import pytest

from nsynth_widgets.model import _simd

# (batch, rows, columns, first row, end row, offset into x): groups of 4 and 16 batch rows and lone
# ones, widths that are not whole panels or whole groups of 8 panels, row ranges against an offset
SHAPES = [
    (1, 64, 32, 0, 64, 0),
    (5, 24, 20, 8, 20, 3),
    (16, 1536, 1024, 512, 1536, 0),
    (21, 16, 7, 4, 16, 1),
    (9, 40, 200, 4, 36, 2),
    (1, 512, 768, 0, 512, 0),
]


@pytest.mark.parametrize("batch, rows, cols, r0, r1, x0", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.int8])
def test_float_activations_times_panels_add_to_the_output(batch, rows, cols, r0, r1, x0, dtype):
    rng = np.random.default_rng(rows + cols)
    w = rng.integers(-127, 128, (rows, cols)).astype(dtype)
    panels = _simd.to_panels(w)
    assert panels.shape == (-(-cols // 16), rows, 16) and panels.dtype == dtype
    np.testing.assert_array_equal(_simd.from_panels(panels, cols), w)
    x = rng.normal(size=(batch, x0 + r1 - r0 + 2)).astype(np.float32)
    out = rng.normal(size=(batch, _simd.padded(cols))).astype(np.float32)
    expected = out[:, :cols] + x[:, x0 : x0 + r1 - r0].astype(np.float64) @ w[r0:r1].astype(np.float64)
    _simd.accumulate(x, x0, panels, r0, r1, out)
    np.testing.assert_allclose(out[:, :cols], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


KERNELS = [_simd._product_int8_plain] + ([_simd._product_int8_vnni] if _simd.HAS_VNNI else [])


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("batch, rows, cols, r0, r1, x0", SHAPES)
def test_int8_dot_products_are_exact(kernel, batch, rows, cols, r0, r1, x0):
    """The integers NumPy computes, ``q + 128`` included, by VNNI (where the CPU has it) and without."""
    rng = np.random.default_rng(rows + cols)
    q = rng.integers(-127, 128, (rows, cols)).astype(np.int8)
    packed = _simd.interleave_rows(_simd.to_panels(q))
    assert packed.dtype == np.uint8 and packed.shape == (-(-cols // 16), -(-rows // 4), 16, 4)
    np.testing.assert_array_equal(_simd.from_panels(_simd.deinterleave_rows(packed, rows), cols), q)
    xq = rng.integers(-127, 128, (batch, x0 + r1 - r0 + 2)).astype(np.int8)
    out = np.full((batch, _simd.padded(cols)), 7, np.int32)
    kernel(xq, x0, packed, r0, r1, out)
    expected = xq[:, x0 : x0 + r1 - r0].astype(np.int64) @ (q[r0:r1].astype(np.int64) + 128)
    np.testing.assert_array_equal(out[:, :cols], expected)
