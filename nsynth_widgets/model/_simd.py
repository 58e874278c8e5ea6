"""The matrix products of the step loop, on 16-column panels, emitted as LLVM vector code.

A generation step multiplies a few activation rows (the batch) by each layer's matrices, and every
weight is read once per step: at batch 1 that is a stream of weights from DRAM, at larger batches
a stream of multiply-adds. Both want the same thing of the weights' layout: a matrix ``[K, N]`` is
stored as *panels* of 16 columns, ``[ceil(N / 16), K, 16]`` (zero columns pad the last one), so
that a product reads a few long contiguous streams (one per panel it works on) that hardware
prefetchers follow. Row-major matrices make each pass jump between rows of 1-4 KB, and how fast
that ran depended on the host.

Each kernel keeps its accumulators in registers for a group of panels and batch rows (the output
is read and written once per group, not once per row of the matrix):

* :func:`accumulate` — float32 activations times float32 or int8 weights (widened on the fly),
  with FMAs: 16 multiply-adds per instruction;
* :func:`product_int8` — int8 activations times int8 weights with AVX-512 VNNI's ``vpdpbusd``:
  64 multiply-adds per instruction, four groups of four bytes per lane. The weights are stored
  unsigned (``q + 128``) and rows are interleaved in fours (:func:`interleave_rows`); the caller
  subtracts ``128 * sum(x)``. Without VNNI a plain loop computes the same integers.

numba has no SIMD types, so the kernels are written as LLVM IR with ``@intrinsic``; the loops
around them are ordinary numba code.
"""

import numba
import numpy as np
from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "HAS_VNNI",
    "PANEL",
    "accumulate",
    "float_from_bits",
    "from_panels",
    "interleave_rows",
    "padded",
    "product_int8",
    "to_panels",
]

PANEL = 16  # columns per panel: the lanes of one 512-bit register of float32 or int32
_GROUP = 4  # rows per VNNI byte group
HAS_VNNI = bool(binding.get_host_cpu_features().get("avx512vnni", False))


def padded(n):
    """``n`` rounded up to whole panels."""
    return -(-n // PANEL) * PANEL


def to_panels(w):
    """``w [..., K, N]`` → ``[..., ceil(N / 16), K, 16]``, zero-padded, C-contiguous, same dtype."""
    *lead, rows, cols = w.shape
    out = np.zeros((*lead, rows, padded(cols)), w.dtype)
    out[..., :cols] = w
    out = out.reshape(*lead, rows, padded(cols) // PANEL, PANEL)
    return np.ascontiguousarray(np.moveaxis(out, -2, -3))


def from_panels(p, cols):
    """The inverse of :func:`to_panels`: ``[..., K, cols]``."""
    *lead, n_panels, rows, _ = p.shape
    return np.ascontiguousarray(np.moveaxis(p, -3, -2).reshape(*lead, rows, n_panels * PANEL)[..., :cols])


def interleave_rows(q):
    """int8 panels ``[..., P, K, 16]`` → uint8 ``[..., P, ceil(K / 4), 16, 4]`` holding ``q + 128`` (padding rows: 128).

    The four bytes a VNNI lane multiplies (rows ``4i .. 4i + 3`` of one column) become adjacent.
    """
    *lead, n_panels, rows, _ = q.shape
    groups = -(-rows // _GROUP)
    out = np.full((*lead, n_panels, groups * _GROUP, PANEL), 128, np.uint8)
    out[..., :rows, :] = (q.astype(np.int16) + 128).astype(np.uint8)
    out = out.reshape(*lead, n_panels, groups, _GROUP, PANEL)
    return np.ascontiguousarray(np.swapaxes(out, -1, -2))


def deinterleave_rows(packed, rows):
    """The inverse of :func:`interleave_rows`: int8 ``[..., P, rows, 16]``."""
    *lead, n_panels, groups, _, _ = packed.shape
    q = np.swapaxes(packed, -1, -2).reshape(*lead, n_panels, groups * _GROUP, PANEL)[..., :rows, :]
    return np.ascontiguousarray((q.astype(np.int16) - 128).astype(np.int8))


_I8, _I32, _I64, _F32 = ir.IntType(8), ir.IntType(32), ir.IntType(64), ir.FloatType()
_FLOATS, _INTS = ir.VectorType(_F32, PANEL), ir.VectorType(_I32, PANEL)
_SPREAD = ir.Constant(ir.VectorType(_I32, PANEL), [0] * PANEL)


def _broadcast(builder, scalar, vector_type):
    single = builder.insert_element(ir.Constant(vector_type, None), scalar, _I32(0))
    return builder.shuffle_vector(single, ir.Constant(vector_type, None), _SPREAD)


def _address(builder, base, *terms):
    """``base + sum(a * b for a, b in terms)`` as an i64 address."""
    for a, b in terms:
        base = builder.add(base, builder.mul(a, b))
    return base


def _panel_kernel(n_rows, n_panels, int8_activations):
    """An intrinsic ``(x, x0, w, p0, r0, r1, b0, out)`` over a block of batch rows and panels.

    Batch rows ``b0 .. b0 + n_rows - 1`` and panels ``p0 .. p0 + n_panels - 1``. Float activations: ``out[b, 16 p : 16 p + 16] += x[b, x0 : x0 + r1 - r0]
    @ w[p, r0:r1]``. int8 activations: ``out[b, 16 p ...] = xq[b, ...] @ packed[p, r0 / 4 : r1 / 4]`` (int32,
    overwritten).
    """

    @intrinsic
    def kernel(typingctx, x, x0, w, p0, r0, r1, b0, out):
        widen = not int8_activations and w.dtype == types.int8

        def codegen(context, builder, signature, args):
            x_type, _, w_type, _, _, _, _, out_type = signature.args
            x_array, x0_v, w_array, p0_v, r0_v, r1_v, b0_v, out_array = args
            x_array = context.make_array(x_type)(context, builder, x_array)
            w_array = context.make_array(w_type)(context, builder, w_array)
            out_array = context.make_array(out_type)(context, builder, out_array)
            x_row, out_row = (builder.extract_value(a.strides, 0) for a in (x_array, out_array))
            panel_bytes, row_bytes = (builder.extract_value(w_array.strides, i) for i in (0, 1))
            item = _I64(1 if int8_activations else 4)  # bytes of one activation
            if int8_activations:  # a "row" of the packed matrix is a group of four
                first, count = builder.sdiv(r0_v, _I64(_GROUP)), builder.sdiv(builder.sub(r1_v, r0_v), _I64(_GROUP))
                step = _I64(_GROUP)
            else:
                first, count, step = r0_v, builder.sub(r1_v, r0_v), _I64(4)
            w_base = _address(builder, builder.ptrtoint(w_array.data, _I64), (p0_v, panel_bytes), (first, row_bytes))
            x_rows = [
                _address(
                    builder, builder.ptrtoint(x_array.data, _I64), (builder.add(b0_v, _I64(r)), x_row), (x0_v, item)
                )
                for r in range(n_rows)
            ]
            vector = _INTS if int8_activations else _FLOATS
            accumulators = [[cgutils.alloca_once(builder, vector) for _ in range(n_panels)] for _ in range(n_rows)]
            zero = ir.Constant(vector, [0 if int8_activations else 0.0] * PANEL)
            for row in accumulators:
                for slot in row:
                    builder.store(zero, slot)
            if int8_activations:
                dot = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(_INTS, [_INTS] * 3), "llvm.x86.avx512.vpdpbusd.512"
                )
            else:
                fma = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(_FLOATS, [_FLOATS] * 3), "llvm.fma.v16f32"
                )
            with cgutils.for_range(builder, count) as loop:
                i = loop.index
                weights = []
                for v in range(n_panels):
                    address = _address(builder, w_base, (_I64(v), panel_bytes), (i, row_bytes))
                    if int8_activations:
                        weights.append(builder.load(builder.inttoptr(address, _INTS.as_pointer()), align=1))
                    elif widen:
                        raw = builder.load(builder.inttoptr(address, ir.VectorType(_I8, PANEL).as_pointer()), align=1)
                        weights.append(builder.sitofp(raw, _FLOATS))
                    else:
                        weights.append(builder.load(builder.inttoptr(address, _FLOATS.as_pointer()), align=4))
                for r in range(n_rows):
                    address = builder.add(x_rows[r], builder.mul(i, step))
                    scalar = builder.load(
                        builder.inttoptr(address, (_I32 if int8_activations else _F32).as_pointer()),
                        align=1 if int8_activations else 4,
                    )
                    spread = _broadcast(builder, scalar, vector)
                    for v in range(n_panels):
                        slot = accumulators[r][v]
                        if int8_activations:
                            builder.store(builder.call(dot, [builder.load(slot), weights[v], spread]), slot)
                        else:
                            builder.store(builder.call(fma, [spread, weights[v], builder.load(slot)]), slot)
            out_base = builder.ptrtoint(out_array.data, _I64)
            for r in range(n_rows):
                for v in range(n_panels):
                    address = _address(
                        builder,
                        out_base,
                        (builder.add(b0_v, _I64(r)), out_row),
                        (builder.add(p0_v, _I64(v)), _I64(PANEL * 4)),
                    )
                    pointer = builder.inttoptr(address, vector.as_pointer())
                    value = builder.load(accumulators[r][v])
                    if not int8_activations:
                        value = builder.fadd(builder.load(pointer, align=4), value)
                    builder.store(value, pointer, align=4)
            return context.get_dummy_value()

        return types.void(x, types.int64, w, types.int64, types.int64, types.int64, types.int64, out), codegen

    return kernel


@intrinsic
def float_from_bits(typingctx, bits):
    """The float32 whose IEEE-754 bits are the int32 ``bits`` (a bit cast, as C's memcpy)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _F32)

    return types.float32(types.int32), codegen


# (batch rows, panels) per call: a lone row takes eight panels (memory-bound: eight streams), groups
# of four rows four panels (16 accumulators); VNNI groups of 16 rows read each weight once per step.
_float_1x8, _float_1x1 = _panel_kernel(1, 8, False), _panel_kernel(1, 1, False)
_float_4x4, _float_4x1 = _panel_kernel(4, 4, False), _panel_kernel(4, 1, False)
_int8_16x1, _int8_4x1, _int8_1x1 = _panel_kernel(16, 1, True), _panel_kernel(4, 1, True), _panel_kernel(1, 1, True)


@numba.njit(cache=True, nogil=True)
def accumulate(x, x0, w, r0, r1, out):  # pragma: no cover - compiled
    """``out[b] += x[b, x0 : x0 + r1 - r0] @ W[r0:r1]`` for every batch row, ``w = to_panels(W)``.

    ``x [B, ...]`` and ``out [B, 16 P]`` float32; ``w [P, K, 16]`` float32 or int8 (values
    without their scale).
    """
    n_panels, batch = w.shape[0], out.shape[0]
    b = 0
    while b + 4 <= batch:
        p = 0
        while p + 4 <= n_panels:
            _float_4x4(x, x0, w, p, r0, r1, b, out)
            p += 4
        while p < n_panels:
            _float_4x1(x, x0, w, p, r0, r1, b, out)
            p += 1
        b += 4
    while b < batch:
        p = 0
        while p + 8 <= n_panels:
            _float_1x8(x, x0, w, p, r0, r1, b, out)
            p += 8
        while p < n_panels:
            _float_1x1(x, x0, w, p, r0, r1, b, out)
            p += 1
        b += 1


@numba.njit(cache=True, nogil=True)
def _product_int8_vnni(xq, x0, packed, r0, r1, out):  # pragma: no cover - compiled
    batch = out.shape[0]
    for p in range(packed.shape[0]):
        b = 0
        while b + 16 <= batch:
            _int8_16x1(xq, x0, packed, p, r0, r1, b, out)
            b += 16
        while b + 4 <= batch:
            _int8_4x1(xq, x0, packed, p, r0, r1, b, out)
            b += 4
        while b < batch:
            _int8_1x1(xq, x0, packed, p, r0, r1, b, out)
            b += 1


@numba.njit(cache=True, nogil=True)
def _product_int8_plain(xq, x0, packed, r0, r1, out):  # pragma: no cover - compiled
    for p in range(packed.shape[0]):
        for b in range(out.shape[0]):
            for c in range(PANEL):
                out[b, p * PANEL + c] = 0
        for g in range(r0 // _GROUP, r1 // _GROUP):
            weights = packed[p, g]
            for b in range(out.shape[0]):
                i = x0 + (g - r0 // _GROUP) * _GROUP
                x_0, x_1 = np.int32(xq[b, i]), np.int32(xq[b, i + 1])
                x_2, x_3 = np.int32(xq[b, i + 2]), np.int32(xq[b, i + 3])
                for c in range(PANEL):
                    w = weights[c]
                    out[b, p * PANEL + c] += (
                        x_0 * np.int32(w[0]) + x_1 * np.int32(w[1]) + x_2 * np.int32(w[2]) + x_3 * np.int32(w[3])
                    )


#: ``product_int8(xq, x0, packed, r0, r1, out)``: ``out[b] = xq[b, x0 : x0 + r1 - r0] @ (Q[r0:r1] + 128)``
#: (int32, overwritten, ``out [B, 16 P]``) for int8 ``xq [B, ...]`` and ``packed = interleave_rows(to_panels(Q))``;
#: ``r0`` and ``r1`` are multiples of 4. VNNI where the CPU has it, else the same integers by plain arithmetic.
product_int8 = _product_int8_vnni if HAS_VNNI else _product_int8_plain
