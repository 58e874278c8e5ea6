"""Incremental WaveNet generation: one compiled step loop, explicit state, chunked calls, two cores.

The decoder is re-expressed for one step at a time:

* every dilated layer keeps a ring buffer of its last ``(filter_length - 1) * dilation``
  inputs, so a step reads its taps instead of recomputing the past;
* the conditioning (``cond_map_i(encoding)`` plus the dilated conv's bias, and
  ``cond_map_out1(encoding)`` plus ``out1``'s bias) is computed once per frame;
* the last block's residual map is never applied (it feeds nothing);
* a pitch-conditioned model's excitation (:class:`nsynth_widgets.dsp.excitation.Oscillator`) is
  produced chunk by chunk with its phase carried over, and enters every layer through
  ``exc_map_i``;
* a numba-compiled loop (``nogil``: a widget thread never blocks the notebook) runs a chunk of
  steps per call; between chunks Python reports progress, checks the cancel hook and can hand
  out partial audio.

Sampling uses uniform numbers drawn from an injected :class:`numpy.random.Generator` in time
order, so the result depends on the seed only, never on the chunk size or the number of threads.

**Two cores.** A step is a strict chain (layer ``l`` needs layer ``l - 1``, step ``t + 1`` needs
the sample of step ``t``), but two kinds of work in it are off that chain. The *past part* of a
layer — its past taps ``h_l(t - 2d)``, ``h_l(t - d)`` times two thirds of the dilated matrix, plus
the excitation's map — is known a step or more before it is needed; the *skip part* —
``z_l @ skip_l`` — is only needed at the end of the step. So a helper thread computes past parts
for the next step and skip parts of this one, while the *present* thread does the chain: each
layer's current tap, gate and residual map, then the output head and sampling. Each part is a
work item with counters (:mod:`._sync`): the helper claims an item, computes it and announces it
done; the present thread, when it needs an item that is not done and not claimed, claims and
computes it itself. So it never waits for a helper that the OS has put aside (it then does all the
work, as on one thread), and the two share out the work by themselves. Items are added up in a
fixed order, so the numbers are the same on one thread or two, whoever computed what.

**Kernels.** Every product is a small batch of rows times a matrix stored as 16-column panels
(:mod:`._simd`): long contiguous weight streams, accumulators in registers, no BLAS (two threads
must not each start BLAS's own threads).

**Reduced precision.** :meth:`DecoderWeights.quantize_int8` stores the layers' matrices as int8
with one float32 scale per output channel: a step reads a quarter of the bytes, the kernel widens
the weights on the fly, and activations, biases, the gate and the accumulation stay float32 — the
generator computes exactly the model whose weights are the dequantized ones.
:meth:`DecoderWeights.quantize_w8a8` also rounds the activations that enter those matrices to int8
and multiplies int8 by int8 (VNNI): four times the multiply-adds per instruction, for batches.

This module needs NumPy and numba only: it reads checkpoint-layout arrays
(see :mod:`nsynth_widgets.model.checkpoint`), not a Keras model.
"""

import dataclasses
import math
import numbers
import os
import threading
import typing

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

from ..dsp.excitation import Oscillator
from ..errors import EncodingError, ParameterError, SynthesisCancelled, check_bool, check_integer, describe
from . import _simd
from ._sync import STOP, claim, load_acquire, store_release, wait_at_least
from .config import PRECISIONS

__all__ = [
    "DecoderWeights",
    "IncrementalDecoder",
    "PRECISIONS",
    "default_threads",
    "generate",
    "int8_equivalent_arrays",
]


@dataclasses.dataclass(frozen=True)
class DecoderWeights:
    """The decoder's weights rearranged for single-step use (C-contiguous).

    Shapes use ``L`` layers, ``k`` taps, ``C`` width, ``S`` skip width, ``E`` encoding width,
    ``X`` excitation channels. Every matrix the step loop multiplies by is stored as 16-column
    panels (``[..., ceil(N / 16), K, 16]``, :func:`._simd.to_panels`); :meth:`matrices` gives the
    layers' matrices in the ordinary ``[K, N]`` layout.
    """

    start_w: np.ndarray  # [k, C]
    start_b: np.ndarray  # [C]
    skip_start_w: np.ndarray  # panels of [C, S]
    skip_b: np.ndarray  # [S]  skip_start bias + every skip_i bias
    dilated_w: np.ndarray  # [L] panels of [k*C, 2C], taps stacked oldest first
    cond_w: np.ndarray  # [L, E, 2C]
    cond_b: np.ndarray  # [L, 2C]  cond_map_i bias + dilatedconv_i bias (+ exc_map_i bias)
    exc_w: np.ndarray  # [L] panels of [X, 2C]: exc_map_i; X = 0 without pitch conditioning
    res_w: np.ndarray  # [L] panels of [C, C]: res_i
    res_b: np.ndarray  # [L, C]
    skip_w: np.ndarray  # [L] panels of [C, S]: skip_i
    out1_w: np.ndarray  # panels of [S, S]
    cond_out_w: np.ndarray  # [E, S]
    cond_out_b: np.ndarray  # [S]  cond_map_out1 bias + out1 bias
    logits_w: np.ndarray  # panels of [S, 256]
    logits_b: np.ndarray  # [256]
    dilations: np.ndarray  # [L] int64
    hop_length: int
    sample_rate: int
    # int8 and w8a8 only (None for float32): one scale per output channel of dilated_w, res_w and
    # skip_w (padded to whole panels); their panels then hold int8 values (w8a8: q + 128 as uint8,
    # rows interleaved in fours by _simd.interleave_rows)
    dilated_scale: np.ndarray = None  # [L, 16 * panels]
    res_scale: np.ndarray = None  # [L, 16 * panels]
    skip_scale: np.ndarray = None  # [L, 16 * panels]

    @classmethod
    def from_arrays(cls, arrays, config):
        """Build from checkpoint-layout arrays (``NAME/W [1, k, in, out]``, ``NAME/biases``).

        Parameters
        ----------
        arrays : dict[str, np.ndarray]
        config : ModelConfig
        """

        def w(name):
            return np.asarray(arrays[f"{name}/W"], dtype=np.float32)[0]

        def b(name):
            return np.asarray(arrays[f"{name}/biases"], dtype=np.float32)

        layers = range(1, config.num_layers + 1)
        c, k, s = config.width, config.filter_length, config.skip_width
        # The last block's residual output feeds nothing; a checkpoint may omit `res_{last}`.
        res_b = [b(f"res_{i}") if f"res_{i}/biases" in arrays else np.zeros(c, np.float32) for i in layers]
        res_w = (w(f"res_{i}")[0] if f"res_{i}/W" in arrays else np.zeros((c, c), np.float32) for i in layers)

        def contiguous(x):
            return np.ascontiguousarray(x, dtype=np.float32)

        if config.pitch_conditioned:
            exc = [w(f"exc_map_{i}")[0] for i in layers]
            exc_b = np.stack([b(f"exc_map_{i}") for i in layers])
        else:
            exc = [np.zeros((0, 2 * c), np.float32) for _ in layers]
            exc_b = 0.0

        return cls(
            start_w=contiguous(w("startconv")[:, 0, :]),
            start_b=contiguous(b("startconv")),
            skip_start_w=_simd.to_panels(w("skip_start")[0]),
            skip_b=contiguous(b("skip_start") + sum(b(f"skip_{i}") for i in layers)),
            dilated_w=_layer_panels(
                (w(f"dilatedconv_{i}").reshape(k * c, 2 * c) for i in layers), config.num_layers, k * c, 2 * c
            ),
            cond_w=contiguous(np.stack([w(f"cond_map_{i}")[0] for i in layers])),
            cond_b=contiguous(np.stack([b(f"cond_map_{i}") + b(f"dilatedconv_{i}") for i in layers]) + exc_b),
            exc_w=_layer_panels(exc, config.num_layers, exc[0].shape[0], 2 * c),
            res_w=_layer_panels(res_w, config.num_layers, c, c),
            res_b=contiguous(np.stack(res_b)),
            skip_w=_layer_panels((w(f"skip_{i}")[0] for i in layers), config.num_layers, c, s),
            out1_w=_simd.to_panels(w("out1")[0]),
            cond_out_w=contiguous(w("cond_map_out1")[0]),
            cond_out_b=contiguous(b("cond_map_out1") + b("out1")),
            logits_w=_simd.to_panels(w("logits")[0]),
            logits_b=contiguous(b("logits")),
            dilations=np.asarray(config.dilations, dtype=np.int64),
            hop_length=config.hop_length,
            sample_rate=config.sample_rate,
        )

    def quantize_int8(self):
        """The same decoder with int8 per-step matrices (a quarter of the bytes per step).

        The layers' ``dilated_w``, ``res_w`` and ``skip_w`` (over 99 % of the bytes a step reads) are
        rounded to ``scale * q`` with ``q`` in [-127, 127] and one scale per output channel
        (symmetric, ``scale = max|column| / 127``); everything else stays float32 — keeping the
        small output head exact cuts the error on the output distribution a hundredfold.

        Returns
        -------
        DecoderWeights
            ``precision == "int8"``; :meth:`dequantized` gives its exact float32 equivalent.
        """
        if self.precision == "int8":
            return self
        if self.precision == "w8a8":
            return dataclasses.replace(
                self,
                dilated_w=_simd.deinterleave_rows(self.dilated_w, self.filter_length * self.width),
                res_w=_simd.deinterleave_rows(self.res_w, self.width),
                skip_w=_simd.deinterleave_rows(self.skip_w, self.width),
            )
        dilated_w, dilated_scale = _quantize_columns(self.dilated_w)
        res_w, res_scale = _quantize_columns(self.res_w)
        skip_w, skip_scale = _quantize_columns(self.skip_w)
        return dataclasses.replace(
            self,
            dilated_w=dilated_w,
            dilated_scale=dilated_scale,
            res_w=res_w,
            res_scale=res_scale,
            skip_w=skip_w,
            skip_scale=skip_scale,
        )

    def quantize_w8a8(self):
        """int8 weights *and* int8 activations: each layer's products as int8 × int8 dot products.

        The weights are :meth:`quantize_int8`'s, laid out for VNNI (:func:`._simd.product_int8`:
        AVX-512 VNNI, or plain integer arithmetic giving the same integers). Each step also
        rounds every layer's input (once, as it enters the ring buffer) and every gate output to
        int8, with one scale per batch row (``max|v| / 127``); the products accumulate exactly in
        int32 and are scaled back to float32, which everything else stays in. A batch is bound by
        arithmetic, and one VNNI instruction does four times the multiply-adds of a float32 FMA:
        this is the precision for batches. The activations' rounding makes it a different model
        from :meth:`dequantized`'s, so its tolerance is stated against float32 (README).

        Returns
        -------
        DecoderWeights
            ``precision == "w8a8"``.
        """
        if self.precision == "w8a8":
            return self
        if self.width % 4:
            raise ParameterError(f"`width` must be a multiple of 4 for w8a8 weights. Received: width={self.width}.")
        int8 = self.quantize_int8()
        return dataclasses.replace(
            int8,
            dilated_w=_simd.interleave_rows(int8.dilated_w),
            res_w=_simd.interleave_rows(int8.res_w),
            skip_w=_simd.interleave_rows(int8.skip_w),
        )

    def dequantized(self):
        """Float32 weights equal to what the int8 kernels multiply by (identity for float32).

        For w8a8 these are the weights only: its activations are rounded too.
        """
        if self.precision == "float32":
            return self
        int8 = self.quantize_int8()

        def widen(q, scale):  # q [L, P, K, 16], scale [L, 16 P]
            n_layers, n_panels = q.shape[:2]
            return np.ascontiguousarray(q.astype(np.float32) * scale.reshape(n_layers, n_panels, 1, _simd.PANEL))

        return dataclasses.replace(
            self,
            dilated_w=widen(int8.dilated_w, self.dilated_scale),
            dilated_scale=None,
            res_w=widen(int8.res_w, self.res_scale),
            res_scale=None,
            skip_w=widen(int8.skip_w, self.skip_scale),
            skip_scale=None,
        )

    def matrices(self):
        """The layers' matrices in ``[K, N]`` layout, with the values the kernels use.

        Returns
        -------
        dilated : np.ndarray [shape=(L, k*C, 2C)]
        res : np.ndarray [shape=(L, C, C)]
        skip : np.ndarray [shape=(L, C, S)]
            float32, or the int8 values (without their scales) for int8 and w8a8 weights.
        """
        w = self.quantize_int8() if self.precision == "w8a8" else self
        return (
            _simd.from_panels(w.dilated_w, 2 * self.width),
            _simd.from_panels(w.res_w, self.width),
            _simd.from_panels(w.skip_w, self.skip_width),
        )

    @property
    def precision(self):
        """``"float32"``, ``"int8"`` or ``"w8a8"`` (the layers' matrices, and their activations)."""
        if self.dilated_scale is None:
            return "float32"
        return "w8a8" if self.dilated_w.dtype == np.uint8 else "int8"

    @property
    def nbytes_per_step(self):
        """Bytes of weights one generation step reads (what bounds batch 1)."""
        return sum(
            a.nbytes
            for a in (
                self.skip_start_w,
                self.dilated_w,
                self.exc_w,
                self.res_w,
                self.skip_w,
                self.out1_w,
                self.logits_w,
            )
        )

    @property
    def filter_length(self):
        """Kernel size of the dilated convolutions."""
        return self.start_w.shape[0]

    @property
    def width(self):
        """Residual channels."""
        return self.start_w.shape[1]

    @property
    def skip_width(self):
        """Skip channels."""
        return self.skip_b.shape[0]

    @property
    def encoding_width(self):
        """Channels of the conditioning encoding."""
        return self.cond_w.shape[1]

    @property
    def excitation_harmonics(self):
        """Harmonics of the oscillator the decoder hears (0: not pitch-conditioned)."""
        return self.exc_w.shape[2] // 2


def _layer_panels(matrices, n_layers, rows, cols):
    """Stack each layer's ``[rows, cols]`` matrix as panels, one layer at a time (no full-size temporaries)."""
    out = np.empty((n_layers, _simd.padded(cols) // _simd.PANEL, rows, _simd.PANEL), np.float32)
    for layer, matrix in zip(out, matrices):
        layer[:] = _simd.to_panels(matrix)
    return out


def int8_equivalent_arrays(arrays, config):
    """Checkpoint-layout weights of the model that the int8 generator computes exactly.

    Parameters
    ----------
    arrays : dict[str, np.ndarray]
        Float32 weights in checkpoint layout.
    config : ModelConfig

    Returns
    -------
    dict[str, np.ndarray]
        ``arrays`` with every ``dilatedconv_i``, ``res_i`` and ``skip_i`` matrix replaced by its
        dequantized int8 version (load it in a Keras model to check the int8 path, or to hear it).
    """
    dilated, res, skip = DecoderWeights.from_arrays(arrays, config).quantize_int8().dequantized().matrices()
    k, c = config.filter_length, config.width
    out = dict(arrays)
    for i in range(config.num_layers):
        out[f"dilatedconv_{i + 1}/W"] = dilated[i].reshape(1, k, c, 2 * c)
        if f"res_{i + 1}/W" in arrays:  # the last block's may be absent (it feeds nothing)
            out[f"res_{i + 1}/W"] = res[i][None, None]
        out[f"skip_{i + 1}/W"] = skip[i][None, None]
    return out


def _quantize_columns(w):
    """Float32 panels ``w [L, P, K, 16]`` → int8 ``q`` and float32 ``scale [L, 16 P]``, ``w ≈ q * scale``.

    One layer at a time, so that the float temporaries stay a layer's size. Padding columns
    (all zero) get the scale 1.
    """
    q = np.empty(w.shape, np.int8)
    scale = np.empty((w.shape[0], w.shape[1], w.shape[3]), np.float32)
    for layer in range(w.shape[0]):
        peak = np.abs(w[layer]).max(axis=1)  # [P, 16]
        scale[layer] = np.where(peak > 0, peak / 127.0, 1.0)
        q[layer] = np.clip(np.rint(w[layer] / scale[layer][:, None, :]), -127, 127)
    return q, scale.reshape(w.shape[0], -1)


def _scale_columns(out, scales, layer):
    """``out *= scales[layer]`` per column; nothing for float32 weights (``scales`` None)."""
    if scales is not None:
        out *= scales[layer]


@overload(_scale_columns, inline="always")
def _scale_columns_compiled(out, scales, layer):  # pragma: no cover - compiled
    """The weights' precision is known when the step loop is compiled: float32 skips the loop."""
    if isinstance(scales, types.NoneType):
        return lambda out, scales, layer: None

    def scale_columns(out, scales, layer):
        for b in range(out.shape[0]):
            for c in range(out.shape[1]):
                out[b, c] *= scales[layer, c]

    return scale_columns


@numba.njit(cache=True, nogil=True)
def _quantize_rows(x, xq, xs):  # pragma: no cover - compiled
    """Round each row of float32 ``x [B, K]`` to int8 ``xq`` with one scale ``xs[b] = max|x[b]| / 127``."""
    for b in range(x.shape[0]):
        peak = np.float32(0.0)
        for k in range(x.shape[1]):
            peak = max(peak, abs(x[b, k]))
        scale = peak / np.float32(127.0) if peak > 0 else np.float32(1.0)
        xs[b] = scale
        for k in range(x.shape[1]):
            xq[b, k] = np.int8(min(max(np.rint(x[b, k] / scale), -127.0), 127.0))


@numba.njit(cache=True, nogil=True)
def _add_int8_product(xq, xs, x0, packed, r0, r1, out, scratch):  # pragma: no cover - compiled
    """``out[b] += xs[b] * (xq[b, x0 : x0 + r1 - r0] @ Q[r0:r1])`` by int8 × int8 dot products."""
    _simd.product_int8(xq, x0, packed, r0, r1, scratch)
    for b in range(out.shape[0]):
        total = 0
        for k in range(x0, x0 + r1 - r0):
            total += np.int32(xq[b, k])
        offset = 128 * total  # the weights are stored as q + 128
        for c in range(out.shape[1]):
            out[b, c] += np.float32(scratch[b, c] - offset) * xs[b]


def _add_tap(x, xs, x0, w, r0, r1, out, scratch):
    """``out += x[:, x0 : x0 + r1 - r0] @ W[r0:r1]`` for one tap's input ``x``, without the weights' scale.

    Float activations use :func:`._simd.accumulate` (float32 or int8 weights); int8 activations
    (w8a8) come with their scales ``xs [B]`` (int8 × int8 dot products).
    """


@overload(_add_tap, inline="always")
def _add_tap_compiled(x, xs, x0, w, r0, r1, out, scratch):  # pragma: no cover - compiled
    if x.dtype == types.int8:
        return lambda x, xs, x0, w, r0, r1, out, scratch: _add_int8_product(x, xs, x0, w, r0, r1, out, scratch)
    return lambda x, xs, x0, w, r0, r1, out, scratch: _simd.accumulate(x, x0, w, r0, r1, out)


def _tap_input(buffers, h, hq, hs):
    """The step's input as the ring buffer holds it: ``h`` itself, or (w8a8) ``h`` rounded into ``hq``, ``hs``."""


@overload(_tap_input, inline="always")
def _tap_input_compiled(buffers, h, hq, hs):  # pragma: no cover - compiled
    if buffers.dtype == types.int8:

        def rounded(buffers, h, hq, hs):
            _quantize_rows(h, hq, hs)
            return hq

        return rounded
    return lambda buffers, h, hq, hs: h


def _add_buffered_tap(buffers, buffer_scales, slot, x0, w, r0, r1, out, scratch):
    """:func:`_add_tap` for the input held in ring-buffer slot ``slot``."""


@overload(_add_buffered_tap, inline="always")
def _add_buffered_tap_compiled(buffers, buffer_scales, slot, x0, w, r0, r1, out, scratch):  # pragma: no cover
    if buffers.dtype == types.int8:
        return lambda buffers, buffer_scales, slot, x0, w, r0, r1, out, scratch: _add_int8_product(
            buffers[slot], buffer_scales[slot], x0, w, r0, r1, out, scratch
        )
    return lambda buffers, buffer_scales, slot, x0, w, r0, r1, out, scratch: _simd.accumulate(
        buffers[slot], x0, w, r0, r1, out
    )


def _store_input(buffers, buffer_scales, slot, x_now, xs_now):
    """Put this step's input (and, w8a8, its scales) in ring-buffer slot ``slot``."""


@overload(_store_input, inline="always")
def _store_input_compiled(buffers, buffer_scales, slot, x_now, xs_now):  # pragma: no cover - compiled
    if buffers.dtype == types.int8:

        def with_scales(buffers, buffer_scales, slot, x_now, xs_now):
            buffers[slot] = x_now
            buffer_scales[slot] = xs_now

        return with_scales

    def values(buffers, buffer_scales, slot, x_now, xs_now):
        buffers[slot] = x_now

    return values


def _round_gate(z, zq, zs, w):
    """w8a8: round the gate output ``z`` to int8 (``zq``, scales ``zs``) for the res and skip maps ``w``."""


@overload(_round_gate, inline="always")
def _round_gate_compiled(z, zq, zs, w):  # pragma: no cover - compiled
    if w.dtype == types.uint8:
        return lambda z, zq, zs, w: _quantize_rows(z, zq, zs)
    return lambda z, zq, zs, w: None


def _add_gate_product(z, zq, zs, w, out, scratch):
    """``out += z @ W`` for the gate output ``z`` (w8a8: its int8 rounding ``zq``, ``zs``), unscaled."""


@overload(_add_gate_product, inline="always")
def _add_gate_product_compiled(z, zq, zs, w, out, scratch):  # pragma: no cover - compiled
    if w.dtype == types.uint8:
        return lambda z, zq, zs, w, out, scratch: _add_int8_product(zq, zs, 0, w, 0, zq.shape[1], out, scratch)
    return lambda z, zq, zs, w, out, scratch: _simd.accumulate(z, 0, w, 0, z.shape[1], out)


def _scaled(value, scales, layer, c):
    """``value * scales[layer, c]``, or ``value`` for float32 weights (``scales`` None)."""


@overload(_scaled, inline="always")
def _scaled_compiled(value, scales, layer, c):  # pragma: no cover - compiled
    if isinstance(scales, types.NoneType):
        return lambda value, scales, layer, c: value
    return lambda value, scales, layer, c: value * scales[layer, c]


# tanh as Eigen computes it for float32: an odd rational function (degree 13 over 6) of x clamped
# to ±7.905 (beyond, tanh is ±1 in float32), within 3e-7 of tanh. No table and no branch, so the
# gate's loop over channels vectorises; sigmoid(x) = (1 + tanh(x / 2)) / 2 reuses it.
_TANH_CLAMP = 7.90531110763549805
_TANH_P = (
    4.89352455891786e-03,
    6.37261928875436e-04,
    1.48572235717979e-05,
    5.12229709037114e-08,
    -8.60467152213735e-11,
    2.00018790482477e-13,
    -2.76076847742355e-16,
)
_TANH_Q = (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06)


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy", inline="always")
def _tanh(x):  # pragma: no cover - compiled
    x = min(max(x, np.float32(-_TANH_CLAMP)), np.float32(_TANH_CLAMP))
    x2 = x * x
    p = np.float32(_TANH_P[6])
    for i in range(5, -1, -1):
        p = p * x2 + np.float32(_TANH_P[i])
    q = np.float32(_TANH_Q[3])
    for i in range(2, -1, -1):
        q = q * x2 + np.float32(_TANH_Q[i])
    return x * p / q


# exp for sampling, in float32 without a library call (so that the 256 classes' loop vectorises):
# x = n ln 2 + r with |r| <= ln 2 / 2, exp(r) by its degree-7 Taylor-like minimax polynomial (Cephes'
# expf), times 2^n built from its bits; within 1e-7 (relative) of exp for x >= -87, 0 below.
_LOG2E = 1.4426950408889634
_LN2_HI, _LN2_LO = 0.693359375, -2.12194440e-4
_EXP_P = (5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3, 1.3981999507e-3, 1.9875691500e-4)


@numba.njit(cache=True, nogil=True, fastmath={"contract", "afn", "nsz", "arcp"}, error_model="numpy", inline="always")
def _exp(x):  # pragma: no cover - compiled
    if x < -87.0:
        return np.float32(0.0)
    n = np.float32(math.floor(x * np.float32(_LOG2E) + np.float32(0.5)))
    r = x - n * np.float32(_LN2_HI) - n * np.float32(_LN2_LO)
    p = np.float32(_EXP_P[5])
    for i in range(4, -1, -1):
        p = p * r + np.float32(_EXP_P[i])
    p = p * r * r + r + np.float32(1.0)
    return p * _simd.float_from_bits(np.int32((np.int32(n) + 127) << 23))


# Fast-math flags of the step loop: fused multiply-adds, reciprocals, no signed zeros — not
# "no infinities" (sampling starts from -inf) and not reassociation (sums keep their order).
_LOOP_MATH = {"contract", "arcp", "afn", "nsz"}


class _Weights(typing.NamedTuple):
    """What the step loop reads of :class:`DecoderWeights` (a tuple numba can take)."""

    start_w: np.ndarray
    start_b: np.ndarray
    skip_start_w: np.ndarray
    skip_b: np.ndarray
    dilated_w: np.ndarray
    dilated_scale: typing.Optional[np.ndarray]
    exc_w: np.ndarray
    res_w: np.ndarray
    res_scale: typing.Optional[np.ndarray]
    res_b: np.ndarray
    skip_w: np.ndarray
    skip_scale: typing.Optional[np.ndarray]
    out1_w: np.ndarray
    logits_w: np.ndarray
    logits_b: np.ndarray
    dilations: np.ndarray
    hop_length: int


class _State(typing.NamedTuple):
    """A decoder's mutable state and per-frame conditioning (shared by both threads)."""

    cond: np.ndarray  # [B, frames, L, 2C]
    cond_out: np.ndarray  # [B, frames, S]
    offsets: np.ndarray  # [L] first ring-buffer slot of each layer
    buffers: np.ndarray  # [sum of spans, B, C] each layer's past inputs (float32; w8a8: int8)
    buffer_scales: np.ndarray  # [sum of spans, B] w8a8: the scale of each buffered input ([0, B] otherwise)
    inputs: np.ndarray  # [k, B] the last k samples fed back (network scale)
    past: np.ndarray  # [2, L, B, 2C padded] past parts: step t's in slot t % 2
    gates: np.ndarray  # [L, B, C] this step's gate outputs z (what the skip parts read)
    gates_int8: np.ndarray  # [L, B, C] w8a8 only: z rounded to int8, with its scales gate_scales [L, B]
    gate_scales: np.ndarray
    skips: np.ndarray  # [L, B, S padded] this step's skip parts
    counters: np.ndarray  # int64 [(1 + 5L) * 8]: STOP, then five per layer (see _slot)


# Counters of each layer, each a number of steps (in _State.counters, one cache line apart so that
# the threads do not share lines): input in the ring buffer and gate output in `gates`; past parts
# claimed and done; skip parts claimed and done.
_WRITTEN, _PAST_CLAIMED, _PAST_DONE, _SKIP_CLAIMED, _SKIP_DONE = range(5)


@numba.njit(cache=True, nogil=True, inline="always")
def _slot(kind, layer):  # pragma: no cover - compiled
    return (1 + 5 * layer + kind) * 8


@numba.njit(cache=True, nogil=True, fastmath=_LOOP_MATH, error_model="numpy", inline="always")
def _past_part(w, s, layer, t, excitation_t, scratch):  # pragma: no cover - compiled
    """Step ``t``'s pre-activation of ``layer`` from what is known a step ahead, into ``s.past[t % 2]``.

    That is the past taps (``h(t - 2d)``, then ``h(t - d)``, ... from the ring buffer) times their
    rows of the dilated matrix, scaled, plus the excitation's map ``excitation_t [B, X] @ exc_w``.
    """
    width = s.buffers.shape[2]
    taps = w.start_w.shape[0]
    d = w.dilations[layer]
    acc = s.past[t % 2, layer]
    acc[:] = 0.0
    for j in range(taps - 1):
        slot = s.offsets[layer] + (t - (taps - 1 - j) * d) % ((taps - 1) * d)
        _add_buffered_tap(
            s.buffers, s.buffer_scales, slot, 0, w.dilated_w[layer], j * width, (j + 1) * width, acc, scratch
        )
    _scale_columns(acc, w.dilated_scale, layer)
    _simd.accumulate(excitation_t, 0, w.exc_w[layer], 0, w.exc_w.shape[2], acc)


@numba.njit(cache=True, nogil=True, fastmath=_LOOP_MATH, error_model="numpy", inline="always")
def _skip_part(w, s, layer, scratch):  # pragma: no cover - compiled
    """``s.skips[layer] = z_layer @ skip_layer`` (scaled) for this step's gate output."""
    out = s.skips[layer]
    out[:] = 0.0
    _add_gate_product(s.gates[layer], s.gates_int8[layer], s.gate_scales[layer], w.skip_w[layer], out, scratch)
    _scale_columns(out, w.skip_scale, layer)


@numba.njit(cache=True, nogil=True, fastmath=_LOOP_MATH, error_model="numpy", inline="always")
def _obtain(w, s, skips, layer, t, excitation_t, scratch):  # pragma: no cover - compiled
    """For the present thread on two threads: make sure a part of step ``t`` is done.

    The part is the past part (``skips`` False) or skip part of ``layer``, done computing it here unless the helper has claimed it. While the helper
    finishes one it claimed, take the next layers' parts of this step (they are needed next).
    """
    claimed_kind, done_kind = (_SKIP_CLAIMED, _SKIP_DONE) if skips else (_PAST_CLAIMED, _PAST_DONE)
    n_layers = w.dilated_w.shape[0]
    item = layer
    while load_acquire(s.counters, _slot(done_kind, layer)) <= t and item < n_layers:
        if load_acquire(s.counters, _slot(claimed_kind, item)) <= t and claim(s.counters, _slot(claimed_kind, item), t):
            if skips:
                _skip_part(w, s, item, scratch)
            else:
                _past_part(w, s, item, t, excitation_t, scratch)
            store_release(s.counters, _slot(done_kind, item), t + 1)
        item += 1
    wait_at_least(s.counters, _slot(done_kind, layer), t + 1)


@numba.njit(cache=True, nogil=True, fastmath=_LOOP_MATH, error_model="numpy")
def _run_helper(t0, n_steps, w, s, excitation):  # pragma: no cover - compiled; the second thread
    """The helper thread: the past and skip parts the present thread has not claimed.

    Past parts of steps ``t0 .. t0 + n_steps - 1`` and skip parts of the same steps, in the order
    the present thread needs them.

    Step ``t``'s skip part of layer ``l`` waits for that layer's gate output. Its past part needs
    the layer's input at ``t - d`` and a free slot in ``s.past`` (the present thread has read
    step ``t - 2``'s, which it does before writing its input of step ``t - 1``): it waits for the
    input of step ``t - min(d, 2)``. So this thread runs a step ahead: after the skip part of
    ``(t - 1, l)`` comes the past part of ``(t, l)``.
    """
    n_layers = w.dilated_w.shape[0]
    scratch = np.empty((s.buffers.shape[1], max(s.past.shape[3], s.skips.shape[2])), np.int32)
    for step in range(n_steps + 1):
        t = t0 + step
        for layer in range(n_layers):
            if step > 0 and load_acquire(s.counters, _slot(_SKIP_CLAIMED, layer)) < t:
                if not wait_at_least(s.counters, _slot(_WRITTEN, layer), t):
                    return
                if claim(s.counters, _slot(_SKIP_CLAIMED, layer), t - 1):
                    _skip_part(w, s, layer, scratch)
                    store_release(s.counters, _slot(_SKIP_DONE, layer), t)
            if step < n_steps and load_acquire(s.counters, _slot(_PAST_CLAIMED, layer)) <= t:
                if not wait_at_least(s.counters, _slot(_WRITTEN, layer), t - min(w.dilations[layer], 2) + 1):
                    return
                if claim(s.counters, _slot(_PAST_CLAIMED, layer), t):
                    _past_part(w, s, layer, t, excitation[step], scratch)
                    store_release(s.counters, _slot(_PAST_DONE, layer), t + 1)


@numba.njit(cache=True, nogil=True, fastmath=_LOOP_MATH, error_model="numpy")
def _run_present(
    t0,
    n_steps,
    w,
    s,
    excitation,
    two_threads,
    forced,
    uniforms,
    inv_temperature,
    greedy,
    classes_out,
    logits_out,
    record_logits,
):  # pragma: no cover - compiled; exercised through IncrementalDecoder
    """The step loop: ``n_steps`` samples from ``t0``.

    With ``two_threads``, past and skip parts come from :func:`_run_helper` on another thread,
    except those that are not done when needed and not yet claimed: this thread computes them
    (so it never waits for a thread the OS has put aside). Without, it computes each one itself.
    Either way the same function computes the same numbers, added up in the same order.
    Products write whole 16-column panels, so their outputs are allocated padded.
    ``inv_temperature [B, frames]`` is each frame's inverse sampling temperature.
    """
    batch, width = s.buffers.shape[1], s.buffers.shape[2]
    taps = w.start_w.shape[0]
    n_layers = w.dilated_w.shape[0]
    skip_width = w.skip_b.shape[0]
    n_classes = w.logits_b.shape[0]
    hop = w.hop_length
    h = np.empty((batch, width), np.float32)
    pre = np.empty(s.past.shape[2:], np.float32)
    res = np.empty((batch, w.res_w.shape[1] * _simd.PANEL), np.float32)
    skip = np.zeros((batch, w.skip_start_w.shape[0] * _simd.PANEL), np.float32)
    relu_skip = np.zeros_like(skip)
    out = np.zeros((batch, w.out1_w.shape[0] * _simd.PANEL), np.float32)
    logits = np.empty((batch, w.logits_w.shape[0] * _simd.PANEL), np.float32)
    weights = np.empty(n_classes, np.float64)
    scratch = np.empty((batch, max(pre.shape[1], res.shape[1], s.skips.shape[2])), np.int32)
    hq = np.empty((batch, width), s.buffers.dtype)  # w8a8: this step's input in int8
    hs = np.empty(batch, np.float32)
    for step in range(n_steps):
        t = t0 + step
        frame = t // hop
        # start conv over the shifted input: inputs[j] holds x[t - taps + j]
        for b in range(batch):
            for c in range(width):
                acc = w.start_b[c]
                for j in range(taps):
                    acc += s.inputs[j, b] * w.start_w[j, c]
                h[b, c] = acc
        for b in range(batch):
            skip[b, :skip_width] = w.skip_b
        _simd.accumulate(h, 0, w.skip_start_w, 0, width, skip)
        for layer in range(n_layers):
            # the current tap (this step's input h) times the last rows of the dilated matrix
            x_now = _tap_input(s.buffers, h, hq, hs)
            pre[:] = 0.0
            _add_tap(x_now, hs, 0, w.dilated_w[layer], (taps - 1) * width, taps * width, pre, scratch)
            if two_threads:
                _obtain(w, s, False, layer, t, excitation[step], scratch)
            else:
                _past_part(w, s, layer, t, excitation[step], scratch)
            # gate: sigmoid(first half) * tanh(second half) of pre (scaled) + past part + conditioning
            for b in range(batch):
                own, past, cond, z = pre[b], s.past[t % 2, layer, b], s.cond[b, frame, layer], s.gates[layer, b]
                for c in range(width):
                    gate = _scaled(own[c], w.dilated_scale, layer, c) + past[c] + cond[c]
                    f = width + c
                    filt = _scaled(own[f], w.dilated_scale, layer, f) + past[f] + cond[f]
                    z[c] = _tanh(filt) * (np.float32(0.5) + np.float32(0.5) * _tanh(np.float32(0.5) * gate))
            _round_gate(s.gates[layer], s.gates_int8[layer], s.gate_scales[layer], w.res_w)
            # the oldest tap's slot takes this step's input (the past part of step t has read it)
            _store_input(
                s.buffers, s.buffer_scales, s.offsets[layer] + t % ((taps - 1) * w.dilations[layer]), x_now, hs
            )
            if two_threads:
                store_release(s.counters, _slot(_WRITTEN, layer), t + 1)
            if layer == n_layers - 1:
                break  # the last block's residual output feeds nothing
            res[:] = 0.0
            _add_gate_product(s.gates[layer], s.gates_int8[layer], s.gate_scales[layer], w.res_w[layer], res, scratch)
            for b in range(batch):
                res_b, h_b = res[b], h[b]
                for c in range(width):
                    h_b[c] += _scaled(res_b[c], w.res_scale, layer, c) + w.res_b[layer, c]
        for layer in range(n_layers):  # the skip sum, in layer order
            if two_threads:
                _obtain(w, s, True, layer, t, excitation[step], scratch)
            else:
                _skip_part(w, s, layer, scratch)
            for b in range(batch):
                part, total = s.skips[layer, b], skip[b]
                for c in range(skip_width):
                    total[c] += part[c]
        for b in range(batch):
            for c in range(skip_width):
                relu_skip[b, c] = max(skip[b, c], 0.0)
                out[b, c] = s.cond_out[b, frame, c]
        _simd.accumulate(relu_skip, 0, w.out1_w, 0, skip_width, out)
        for b in range(batch):
            for c in range(skip_width):
                out[b, c] = max(out[b, c], 0.0)
            logits[b, :n_classes] = w.logits_b
        _simd.accumulate(out, 0, w.logits_w, 0, skip_width, logits)
        for b in range(batch):
            best = 0
            top = -np.inf
            for q in range(n_classes):
                if record_logits:
                    logits_out[b, step, q] = logits[b, q]
                if logits[b, q] > top:
                    top = logits[b, q]
                    best = q
            if forced.shape[1] > 0:
                chosen = forced[b, t]
            elif greedy:
                chosen = best
            else:
                inv_t = inv_temperature[b, frame]
                for q in range(n_classes):
                    weights[q] = _exp((logits[b, q] - top) * inv_t)
                total = 0.0
                for q in range(n_classes):
                    total += weights[q]
                target = uniforms[b, step] * total
                running = 0.0
                chosen = n_classes - 1
                for q in range(n_classes):
                    running += weights[q]
                    if running > target:
                        chosen = q
                        break
            classes_out[b, step] = chosen
            for j in range(taps - 1):
                s.inputs[j, b] = s.inputs[j + 1, b]
            s.inputs[taps - 1, b] = (chosen - 128) / 128.0


def default_threads():
    """Threads a decoder uses unless told: 2 where this process may run on two cores or more, else 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 2 if cores >= 2 else 1


#: Chunks shorter than this run on one thread: starting the second costs more than they take.
_MIN_THREADED_STEPS = 32


class IncrementalDecoder:
    """Generation state for a batch of encodings, advanced chunk by chunk.

    Parameters
    ----------
    weights : DecoderWeights
    encoding : np.ndarray [shape=(batch, frames, E)], float
        Not modified.
    threads : {1, 2}, optional
        Threads each chunk runs on (default :func:`default_threads`). The samples do not depend
        on it.

    Attributes
    ----------
    position : int
        Samples generated so far (per batch item).
    total : int
        ``frames * hop_length``: the samples this encoding describes.
    classes : np.ndarray [shape=(batch, total)], int32
        Generated softmax classes; the first ``position`` are valid.
    """

    def __init__(self, weights, encoding, threads=None):
        encoding = np.asarray(encoding, dtype=np.float32)
        if encoding.ndim != 3 or encoding.shape[2] != weights.encoding_width or encoding.shape[1] < 1:
            raise EncodingError(
                f"`encoding` must have shape (batch, frames >= 1, {weights.encoding_width}). "
                f"Received: encoding={describe(encoding)}."
            )
        self.threads = default_threads() if threads is None else check_integer("threads", threads, 1, 2)
        self.weights = weights
        batch, frames, _ = encoding.shape
        w = weights
        n_layers = len(w.dilations)
        self._oscillator = None
        if w.excitation_harmonics:
            self._oscillator = Oscillator(encoding[..., -2:], w.excitation_harmonics, w.hop_length, w.sample_rate)
        spans = (w.filter_length - 1) * w.dilations
        w8a8 = w.precision == "w8a8"
        self._weights = _Weights(
            w.start_w,
            w.start_b,
            w.skip_start_w,
            w.skip_b,
            w.dilated_w,
            w.dilated_scale,
            w.exc_w,
            w.res_w,
            w.res_scale,
            w.res_b,
            w.skip_w,
            w.skip_scale,
            w.out1_w,
            w.logits_w,
            w.logits_b,
            w.dilations,
            int(w.hop_length),
        )
        self._state = _State(
            cond=np.ascontiguousarray(np.einsum("bfe,lec->bflc", encoding, w.cond_w) + w.cond_b, dtype=np.float32),
            cond_out=np.ascontiguousarray(encoding @ w.cond_out_w + w.cond_out_b, dtype=np.float32),
            offsets=np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64),
            buffers=np.zeros((int(spans.sum()), batch, w.width), np.int8 if w8a8 else np.float32),
            buffer_scales=np.zeros((int(spans.sum()) if w8a8 else 0, batch), np.float32),
            inputs=np.zeros((w.filter_length, batch), np.float32),
            past=np.zeros((2, n_layers, batch, _simd.padded(2 * w.width)), np.float32),
            gates=np.zeros((n_layers, batch, w.width), np.float32),
            gates_int8=np.zeros((n_layers, batch, w.width), np.int8),
            gate_scales=np.zeros((n_layers, batch), np.float32),
            skips=np.zeros((n_layers, batch, _simd.padded(w.skip_width)), np.float32),
            counters=np.zeros((1 + 5 * n_layers) * 8, np.int64),
        )
        self.total = frames * w.hop_length
        self.classes = np.zeros((batch, self.total), np.int32)
        self.position = 0

    @property
    def batch_size(self):
        """Sounds generated together."""
        return self.classes.shape[0]

    def step(self, n_steps, rng=None, temperature=1.0, greedy=False, forced=None, record_logits=False):
        """Generate the next ``n_steps`` samples (fewer at the end).

        Parameters
        ----------
        n_steps : int
        rng : np.random.Generator, optional
            Source of the sampling noise (required unless ``greedy`` or ``forced``).
        temperature : float or np.ndarray [shape=(batch, frames)]
            Softmax temperature (> 0); lower is more conservative. An array gives each frame of
            each sound its own.
        greedy : bool
            Take the most likely class instead of sampling.
        forced : np.ndarray [shape=(batch, total)], int, optional
            Teacher forcing: feed these classes back instead of sampled ones.
        record_logits : bool
            Return the logits of every step.

        Returns
        -------
        logits : np.ndarray [shape=(batch, n, 256)] or None
        """
        n = int(min(n_steps, self.total - self.position))
        batch = self.batch_size
        if forced is None:
            forced_arr = np.zeros((batch, 0), np.int32)
        else:
            forced_arr = np.ascontiguousarray(forced, dtype=np.int32)
        if forced is None and not greedy:
            uniforms = np.ascontiguousarray(rng.random((n, batch)).T, dtype=np.float64)
        else:
            uniforms = np.zeros((batch, n), np.float64)
        logits_out = np.zeros((batch, n if record_logits else 0, 256), np.float32)
        chunk = np.zeros((batch, n), np.int32)
        if self._oscillator is None:
            excitation = np.zeros((n, batch, 0), np.float32)
        else:  # time-major, so that each step's [B, X] rows are contiguous
            excitation = np.ascontiguousarray(self._oscillator.next(n).transpose(1, 0, 2))
        two_threads = self.threads == 2 and n >= _MIN_THREADED_STEPS
        frames = self.total // self.weights.hop_length
        inv_temperature = np.ascontiguousarray(
            np.broadcast_to(1.0 / np.asarray(temperature, np.float64), (batch, frames)), dtype=np.float32
        )

        def present():
            _run_present(
                self.position,
                n,
                self._weights,
                self._state,
                excitation,
                two_threads,
                forced_arr,
                uniforms,
                inv_temperature,
                greedy,
                chunk,
                logits_out,
                record_logits,
            )

        if not two_threads:
            present()
        else:
            self._state.counters[8:] = self.position  # every earlier step is written, claimed and done
            helper = threading.Thread(
                target=_run_helper,
                args=(self.position, n, self._weights, self._state, excitation),
                name="nsynth-widgets-fastgen",
                daemon=True,
            )
            helper.start()
            try:
                present()
            finally:
                self._state.counters[STOP] = 1  # releases the helper if this thread stopped early
                helper.join()
                self._state.counters[STOP] = 0
        self.classes[:, self.position : self.position + n] = chunk
        self.position += n
        return logits_out if record_logits else None


def _check_sampling(seed, temperature, greedy, chunk_size):
    """The sampling arguments, checked and normalised (NumPy scalars accepted)."""
    if not (seed is None or isinstance(seed, np.random.Generator)):
        if not isinstance(seed, numbers.Integral) or isinstance(seed, (bool, np.bool_)) or seed < 0:
            raise ParameterError(
                f"`seed` must be None, a np.random.Generator or an integer >= 0. Received: seed={describe(seed)}."
            )
        seed = int(seed)
    if isinstance(temperature, np.ndarray) and temperature.dtype.kind == "f":
        if not (np.isfinite(temperature).all() and (temperature > 0).all()):
            raise ParameterError(
                f"`temperature` must be finite and > 0 in every frame. Received: temperature={describe(temperature)}."
            )
        temperature = temperature.astype(np.float64)
    elif (
        not isinstance(temperature, numbers.Real)
        or isinstance(temperature, (bool, np.bool_))
        or not (math.isfinite(temperature) and temperature > 0)
    ):
        raise ParameterError(
            f"`temperature` must be a finite number > 0. Received: temperature={describe(temperature)}."
        )
    else:
        temperature = float(temperature)
    return seed, temperature, check_bool("greedy", greedy), check_integer("chunk_size", chunk_size, 1)


def generate(
    weights,
    encoding,
    seed=0,
    temperature=1.0,
    greedy=False,
    chunk_size=4096,
    progress=None,
    cancel=None,
    threads=None,
):
    """Generate softmax classes for a batch of encodings.

    Parameters
    ----------
    weights : DecoderWeights
    encoding : np.ndarray [shape=(batch, frames, E)]
    seed : int or np.random.Generator or None
        Sampling noise; the same seed gives the same audio whatever ``chunk_size``.
    temperature : float or np.ndarray [shape=(batch, frames)], float
        Softmax temperature (> 0), or each frame's.
    greedy : bool
    chunk_size : int
        Steps per compiled call; progress and cancel are checked between chunks.
    progress : callable(done, total, classes), optional
        Called after each chunk with the samples done so far, the total, and the
        ``(batch, done)`` classes generated so far (a view: copy to keep).
    cancel : callable() -> bool, optional
        Checked between chunks; when it returns True, :class:`SynthesisCancelled` is raised
        carrying the classes so far as ``partial_classes``.
    threads : {1, 2}, optional
        Threads the generation runs on (default :func:`default_threads`); the classes do not
        depend on it.

    Returns
    -------
    classes : np.ndarray [shape=(batch, frames * hop_length)], int32
    """
    seed, temperature, greedy, chunk_size = _check_sampling(seed, temperature, greedy, chunk_size)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    decoder = IncrementalDecoder(weights, encoding, threads=threads)
    frames = decoder.total // weights.hop_length
    if isinstance(temperature, np.ndarray) and temperature.shape != (decoder.batch_size, frames):
        raise ParameterError(
            f"`temperature` must be a number or one per frame, shape ({decoder.batch_size}, {frames}). "
            f"Received: temperature={describe(temperature)}."
        )
    while decoder.position < decoder.total:
        if cancel is not None and cancel():
            raise SynthesisCancelled(decoder.classes[:, : decoder.position].copy())
        decoder.step(chunk_size, rng=rng, temperature=temperature, greedy=greedy)
        if progress is not None:
            progress(decoder.position, decoder.total, decoder.classes[:, : decoder.position])
    return decoder.classes
