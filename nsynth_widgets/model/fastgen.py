"""Incremental WaveNet generation: one compiled step loop, explicit state, chunked calls.

The decoder is re-expressed for one step at a time:

* every dilated layer keeps a ring buffer of its last ``(filter_length - 1) * dilation``
  inputs, so a step reads its taps instead of recomputing the past;
* the conditioning (``cond_map_i(encoding)`` plus the dilated conv's bias, and
  ``cond_map_out1(encoding)`` plus ``out1``'s bias) is computed once per frame;
* ``res_i`` and ``skip_i`` are fused into one matrix per layer;
* a pitch-conditioned model's excitation (:class:`nsynth_widgets.dsp.excitation.Oscillator`) is
  produced chunk by chunk with its phase carried over, and enters every layer through
  ``exc_map_i``;
* a numba-compiled loop (``nogil``: a widget thread never blocks the notebook) runs a chunk of
  steps per call; between chunks Python reports progress, checks the cancel hook and can hand
  out partial audio.

Sampling uses uniform numbers drawn from an injected :class:`numpy.random.Generator` in time
order, so the result depends on the seed only, never on the chunk size.

Reduced precision: :meth:`DecoderWeights.quantize_int8` stores the layers' matrices as int8 with
one float32 scale per output channel. A step then reads a quarter of the bytes (batch 1 is bound by
memory bandwidth), and a vectorised kernel widens the weights on the fly; activations, biases, the
gate and the accumulation stay float32. The quantized generator computes exactly the model whose
weights are the dequantized ones.

This module needs NumPy and numba only: it reads checkpoint-layout arrays
(see :mod:`nsynth_widgets.model.checkpoint`), not a Keras model.
"""

import dataclasses
import math
import numbers

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

from ..dsp.excitation import Oscillator
from ..errors import EncodingError, ParameterError, SynthesisCancelled, check_bool, check_integer, describe
from .config import PRECISIONS  # the choices live in config (pure Python, cheap to import); re-exported here

__all__ = ["DecoderWeights", "IncrementalDecoder", "PRECISIONS", "generate", "int8_equivalent_arrays"]


@dataclasses.dataclass(frozen=True)
class DecoderWeights:
    """The decoder's weights rearranged for single-step use (all float32, C-contiguous).

    Shapes use ``L`` layers, ``k`` taps, ``C`` width, ``S`` skip width, ``E`` encoding width.
    """

    start_w: np.ndarray  # [k, C]
    start_b: np.ndarray  # [C]
    skip_start_w: np.ndarray  # [C, S]
    skip_b: np.ndarray  # [S]  skip_start bias + every skip_i bias
    dilated_w: np.ndarray  # [L, k*C, 2C]  taps stacked oldest first
    cond_w: np.ndarray  # [L, E, 2C]
    cond_b: np.ndarray  # [L, 2C]  cond_map_i bias + dilatedconv_i bias (+ exc_map_i bias)
    exc_w: np.ndarray  # [L, X, 2C]  exc_map_i; X = 0 without pitch conditioning
    res_skip_w: np.ndarray  # [L, C, C+S]
    res_b: np.ndarray  # [L, C]
    out1_w: np.ndarray  # [S, S]
    cond_out_w: np.ndarray  # [E, S]
    cond_out_b: np.ndarray  # [S]  cond_map_out1 bias + out1 bias
    logits_w: np.ndarray  # [S, 256]
    logits_b: np.ndarray  # [256]
    dilations: np.ndarray  # [L] int64
    hop_length: int
    sample_rate: int
    # int8 weights only (None for float32): one scale per output channel of each matrix above
    dilated_scale: np.ndarray = None  # [L, 2C]
    res_skip_scale: np.ndarray = None  # [L, C+S]

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
        c, k = config.width, config.filter_length
        # The last block's residual output feeds nothing; a checkpoint may omit `res_{last}`.
        res_w = [w(f"res_{i}")[0] if f"res_{i}/W" in arrays else np.zeros((c, c), np.float32) for i in layers]
        res_b = [b(f"res_{i}") if f"res_{i}/biases" in arrays else np.zeros(c, np.float32) for i in layers]

        def contiguous(x):
            return np.ascontiguousarray(x, dtype=np.float32)

        if config.pitch_conditioned:
            exc_w = np.stack([w(f"exc_map_{i}")[0] for i in layers])
            exc_b = np.stack([b(f"exc_map_{i}") for i in layers])
        else:
            exc_w = np.zeros((config.num_layers, 0, 2 * c), np.float32)
            exc_b = 0.0

        return cls(
            start_w=contiguous(w("startconv")[:, 0, :]),
            start_b=contiguous(b("startconv")),
            skip_start_w=contiguous(w("skip_start")[0]),
            skip_b=contiguous(b("skip_start") + sum(b(f"skip_{i}") for i in layers)),
            dilated_w=contiguous(np.stack([w(f"dilatedconv_{i}").reshape(k * c, 2 * c) for i in layers])),
            cond_w=contiguous(np.stack([w(f"cond_map_{i}")[0] for i in layers])),
            cond_b=contiguous(np.stack([b(f"cond_map_{i}") + b(f"dilatedconv_{i}") for i in layers]) + exc_b),
            exc_w=contiguous(exc_w),
            res_skip_w=contiguous(
                np.stack([np.concatenate([r, w(f"skip_{i}")[0]], axis=1) for i, r in zip(layers, res_w)])
            ),
            res_b=contiguous(np.stack(res_b)),
            out1_w=contiguous(w("out1")[0]),
            cond_out_w=contiguous(w("cond_map_out1")[0]),
            cond_out_b=contiguous(b("cond_map_out1") + b("out1")),
            logits_w=contiguous(w("logits")[0]),
            logits_b=contiguous(b("logits")),
            dilations=np.asarray(config.dilations, dtype=np.int64),
            hop_length=config.hop_length,
            sample_rate=config.sample_rate,
        )

    def quantize_int8(self):
        """The same decoder with int8 per-step matrices (a quarter of the bytes per step).

        The layers' ``dilated_w`` and ``res_skip_w`` (over 99 % of the bytes a step reads) are
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
        dilated_w, dilated_scale = _quantize_columns(self.dilated_w)
        res_skip_w, res_skip_scale = _quantize_columns(self.res_skip_w)
        return dataclasses.replace(
            self, dilated_w=dilated_w, dilated_scale=dilated_scale, res_skip_w=res_skip_w,
            res_skip_scale=res_skip_scale,
        )

    def dequantized(self):
        """Float32 weights equal to what the int8 kernel computes with (identity for float32)."""
        if self.precision == "float32":
            return self

        def widen(q, scale):
            return np.ascontiguousarray(q.astype(np.float32) * scale[..., None, :])

        return dataclasses.replace(
            self, dilated_w=widen(self.dilated_w, self.dilated_scale), dilated_scale=None,
            res_skip_w=widen(self.res_skip_w, self.res_skip_scale), res_skip_scale=None,
        )

    @property
    def precision(self):
        """``"float32"`` or ``"int8"`` (the layers' matrices)."""
        return "int8" if self.dilated_scale is not None else "float32"

    @property
    def nbytes_per_step(self):
        """Bytes of weights one generation step reads (what bounds batch 1)."""
        return sum(a.nbytes for a in (self.dilated_w, self.res_skip_w, self.out1_w, self.logits_w))

    @property
    def filter_length(self):
        return self.start_w.shape[0]

    @property
    def width(self):
        return self.start_w.shape[1]

    @property
    def encoding_width(self):
        return self.cond_w.shape[1]

    @property
    def excitation_harmonics(self):
        """Harmonics of the oscillator the decoder hears (0: not pitch-conditioned)."""
        return self.exc_w.shape[1] // 2


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
    quantized = DecoderWeights.from_arrays(arrays, config).quantize_int8().dequantized()
    k, c = config.filter_length, config.width
    out = dict(arrays)
    for i in range(config.num_layers):
        out[f"dilatedconv_{i + 1}/W"] = quantized.dilated_w[i].reshape(1, k, c, 2 * c)
        if f"res_{i + 1}/W" in arrays:  # the last block's may be absent (it feeds nothing)
            out[f"res_{i + 1}/W"] = quantized.res_skip_w[i][None, None, :, :c]
        out[f"skip_{i + 1}/W"] = quantized.res_skip_w[i][None, None, :, c:]
    return out


def _quantize_columns(w):
    """``w [..., K, N]`` → int8 ``q`` and float32 ``scale [..., N]`` with ``w ≈ q * scale``."""
    peak = np.abs(w).max(axis=-2)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale[..., None, :]), -127, 127).astype(np.int8)
    return np.ascontiguousarray(q), np.ascontiguousarray(scale)


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _int8_accumulate_one(x, q, b, acc):  # pragma: no cover - compiled
    """``acc += x[b] @ q``: eight rows of ``q`` per pass over the accumulator."""
    rows = q.shape[0]
    full = rows - rows % 8
    for k in range(0, full, 8):
        x0, x1, x2, x3 = x[b, k], x[b, k + 1], x[b, k + 2], x[b, k + 3]
        x4, x5, x6, x7 = x[b, k + 4], x[b, k + 5], x[b, k + 6], x[b, k + 7]
        q0, q1, q2, q3 = q[k], q[k + 1], q[k + 2], q[k + 3]
        q4, q5, q6, q7 = q[k + 4], q[k + 5], q[k + 6], q[k + 7]
        for c in range(acc.shape[0]):
            acc[c] += (
                (x0 * np.float32(q0[c]) + x1 * np.float32(q1[c])) + (x2 * np.float32(q2[c]) + x3 * np.float32(q3[c]))
            ) + (
                (x4 * np.float32(q4[c]) + x5 * np.float32(q5[c])) + (x6 * np.float32(q6[c]) + x7 * np.float32(q7[c]))
            )
    for k in range(full, rows):
        xk = x[b, k]
        qk = q[k]
        for c in range(acc.shape[0]):
            acc[c] += xk * np.float32(qk[c])


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _int8_accumulate_four(x, q, b, acc0, acc1, acc2, acc3):  # pragma: no cover - compiled
    """``acc_i += x[b + i] @ q`` for four batch rows: each widened weight is used four times."""
    rows = q.shape[0]
    full = rows - rows % 4
    for k in range(0, full, 4):
        x0, x1, x2, x3 = x[b, k], x[b, k + 1], x[b, k + 2], x[b, k + 3]
        y0, y1, y2, y3 = x[b + 1, k], x[b + 1, k + 1], x[b + 1, k + 2], x[b + 1, k + 3]
        z0, z1, z2, z3 = x[b + 2, k], x[b + 2, k + 1], x[b + 2, k + 2], x[b + 2, k + 3]
        u0, u1, u2, u3 = x[b + 3, k], x[b + 3, k + 1], x[b + 3, k + 2], x[b + 3, k + 3]
        q0, q1, q2, q3 = q[k], q[k + 1], q[k + 2], q[k + 3]
        for c in range(acc0.shape[0]):
            w0, w1 = np.float32(q0[c]), np.float32(q1[c])
            w2, w3 = np.float32(q2[c]), np.float32(q3[c])
            acc0[c] += (x0 * w0 + x1 * w1) + (x2 * w2 + x3 * w3)
            acc1[c] += (y0 * w0 + y1 * w1) + (y2 * w2 + y3 * w3)
            acc2[c] += (z0 * w0 + z1 * w1) + (z2 * w2 + z3 * w3)
            acc3[c] += (u0 * w0 + u1 * w1) + (u2 * w2 + u3 * w3)
    for k in range(full, rows):
        qk = q[k]
        x0, y0, z0, u0 = x[b, k], x[b + 1, k], x[b + 2, k], x[b + 3, k]
        for c in range(acc0.shape[0]):
            w0 = np.float32(qk[c])
            acc0[c] += x0 * w0
            acc1[c] += y0 * w0
            acc2[c] += z0 * w0
            acc3[c] += u0 * w0


@numba.njit(cache=True, nogil=True, fastmath=True)
def _int8_product(x, q, scale, out):  # pragma: no cover - compiled
    """``out[b] = (x[b] @ q) * scale``: ``x [B, K]`` float32, ``q [K, N]`` int8, ``scale [N]``.

    Columns are innermost so that LLVM vectorises the widening (int8 → float32) and the
    multiply-adds; batch rows go four at a time (batches are bound by arithmetic: a widened
    weight then feeds four multiply-adds), a lone row takes eight rows of ``q`` per pass
    (batch 1 is bound by memory).
    """
    batch = x.shape[0]
    grouped = batch - batch % 4
    out[:] = 0.0
    for b in range(0, grouped, 4):
        _int8_accumulate_four(x, q, b, out[b], out[b + 1], out[b + 2], out[b + 3])
    for b in range(grouped, batch):
        _int8_accumulate_one(x, q, b, out[b])
    for b in range(batch):
        acc = out[b]
        for c in range(acc.shape[0]):
            acc[c] *= scale[c]


def _layer_product(x, weights, scales, layer, out):
    """``out = x @ weights[layer]``: BLAS for float32 weights (``scales`` None), else the int8 kernel."""
    if scales is None:
        np.dot(x, weights[layer], out)
    else:
        _int8_product(x, weights[layer], scales[layer], out)


@overload(_layer_product, inline="always")
def _layer_product_compiled(x, weights, scales, layer, out):  # pragma: no cover - compiled
    """The kernel is chosen from the weights' type when the step loop is compiled."""
    if isinstance(scales, types.NoneType):
        return lambda x, weights, scales, layer, out: np.dot(x, weights[layer], out)
    return lambda x, weights, scales, layer, out: _int8_product(x, weights[layer], scales[layer], out)


# tanh on [-9, 9] in steps of 1/512 (beyond that it is ±1 to float32 precision): linear
# interpolation in this table is within 4e-7 of tanh, several times cheaper than libm's tanh/exp,
# and sigmoid(x) = (1 + tanh(x / 2)) / 2 reuses it. The gate is a third of a small model's step.
_TANH_LIMIT = 9.0
_TANH_STEPS_PER_UNIT = 512
_TANH_TABLE = np.tanh(
    np.arange(-_TANH_LIMIT, _TANH_LIMIT + 2.0 / _TANH_STEPS_PER_UNIT, 1.0 / _TANH_STEPS_PER_UNIT)
).astype(np.float32)


@numba.njit(cache=True, nogil=True, inline="always")
def _table_tanh(x, table):  # pragma: no cover - compiled
    position = (min(max(x, -_TANH_LIMIT), _TANH_LIMIT) + _TANH_LIMIT) * _TANH_STEPS_PER_UNIT
    i = int(position)
    return table[i] + (position - i) * (table[i + 1] - table[i])


@numba.njit(cache=True, nogil=True)
def _run_steps(
    t0, n_steps, hop, start_w, start_b, skip_start_w, skip_b, dilated_w, cond, res_skip_w, res_b,
    out1_w, cond_out, logits_w, logits_b, dilations, offsets, buffers, inputs,
    forced, uniforms, inv_temperature, greedy, classes_out, logits_out, record_logits, tanh_table,
    dilated_scale, res_skip_scale, excitation, exc_w,
):  # pragma: no cover - compiled; exercised through IncrementalDecoder
    batch, width = buffers.shape[1], buffers.shape[2]
    taps = start_w.shape[0]
    n_layers = dilated_w.shape[0]
    skip_width = skip_start_w.shape[1]
    n_classes = logits_w.shape[1]
    n_excitation = exc_w.shape[1]
    h = np.empty((batch, width), np.float32)
    gathered = np.empty((batch, taps * width), np.float32)
    pre = np.empty((batch, 2 * width), np.float32)
    z = np.empty((batch, width), np.float32)
    res_skip = np.empty((batch, width + skip_width), np.float32)
    skip = np.empty((batch, skip_width), np.float32)
    relu_skip = np.empty((batch, skip_width), np.float32)
    out = np.empty((batch, skip_width), np.float32)
    logits = np.empty((batch, n_classes), np.float32)
    for step in range(n_steps):
        t = t0 + step
        frame = t // hop
        # start conv over the shifted input: inputs[j] holds x[t - taps + j]
        for b in range(batch):
            for c in range(width):
                acc = start_b[c]
                for j in range(taps):
                    acc += inputs[j, b] * start_w[j, c]
                h[b, c] = acc
        np.dot(h, skip_start_w, skip)
        for b in range(batch):
            for c in range(skip_width):
                skip[b, c] += skip_b[c]
        for layer in range(n_layers):
            d = dilations[layer]
            span = (taps - 1) * d
            base = offsets[layer]
            for j in range(taps - 1):
                slot = base + (t - (taps - 1 - j) * d) % span
                for b in range(batch):
                    for c in range(width):
                        gathered[b, j * width + c] = buffers[slot, b, c]
            for b in range(batch):
                for c in range(width):
                    gathered[b, (taps - 1) * width + c] = h[b, c]
            _layer_product(gathered, dilated_w, dilated_scale, layer, pre)
            for b in range(batch):
                for j in range(n_excitation):
                    e = excitation[b, step, j]
                    for c in range(2 * width):
                        pre[b, c] += e * exc_w[layer, j, c]
            write = base + t % span
            for b in range(batch):
                for c in range(width):
                    buffers[write, b, c] = h[b, c]
                    gate = pre[b, c] + cond[b, frame, layer, c]
                    filt = pre[b, width + c] + cond[b, frame, layer, width + c]
                    z[b, c] = _table_tanh(filt, tanh_table) * (0.5 + 0.5 * _table_tanh(0.5 * gate, tanh_table))
            _layer_product(z, res_skip_w, res_skip_scale, layer, res_skip)
            for b in range(batch):
                for c in range(width):
                    h[b, c] += res_skip[b, c] + res_b[layer, c]
                for c in range(skip_width):
                    skip[b, c] += res_skip[b, width + c]
        for b in range(batch):
            for c in range(skip_width):
                relu_skip[b, c] = max(skip[b, c], 0.0)
        np.dot(relu_skip, out1_w, out)
        for b in range(batch):
            for c in range(skip_width):
                out[b, c] = max(out[b, c] + cond_out[b, frame, c], 0.0)
        np.dot(out, logits_w, logits)
        for b in range(batch):
            best = 0
            top = -np.inf
            for q in range(n_classes):
                logits[b, q] += logits_b[q]
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
                total = 0.0
                for q in range(n_classes):
                    total += math.exp((logits[b, q] - top) * inv_temperature)
                target = uniforms[b, step] * total
                running = 0.0
                chosen = n_classes - 1
                for q in range(n_classes):
                    running += math.exp((logits[b, q] - top) * inv_temperature)
                    if running > target:
                        chosen = q
                        break
            classes_out[b, step] = chosen
            for j in range(taps - 1):
                inputs[j, b] = inputs[j + 1, b]
            inputs[taps - 1, b] = (chosen - 128) / 128.0


class IncrementalDecoder:
    """Generation state for a batch of encodings, advanced chunk by chunk.

    Parameters
    ----------
    weights : DecoderWeights
    encoding : np.ndarray [shape=(batch, frames, E)], float
        Not modified.

    Attributes
    ----------
    position : int
        Samples generated so far (per batch item).
    total : int
        ``frames * hop_length``: the samples this encoding describes.
    classes : np.ndarray [shape=(batch, total)], int32
        Generated softmax classes; the first ``position`` are valid.
    """

    def __init__(self, weights, encoding):
        encoding = np.asarray(encoding, dtype=np.float32)
        if encoding.ndim != 3 or encoding.shape[2] != weights.encoding_width or encoding.shape[1] < 1:
            raise EncodingError(
                f"`encoding` must have shape (batch, frames >= 1, {weights.encoding_width}). "
                f"Received: encoding={describe(encoding)}."
            )
        self.weights = weights
        batch, frames, _ = encoding.shape
        w = weights
        self._cond = np.ascontiguousarray(np.einsum("bfe,lec->bflc", encoding, w.cond_w) + w.cond_b, dtype=np.float32)
        self._cond_out = np.ascontiguousarray(encoding @ w.cond_out_w + w.cond_out_b, dtype=np.float32)
        self._oscillator = None
        if w.excitation_harmonics:
            self._oscillator = Oscillator(encoding[..., -2:], w.excitation_harmonics, w.hop_length, w.sample_rate)
        spans = (w.filter_length - 1) * w.dilations
        self._offsets = np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
        self._buffers = np.zeros((int(spans.sum()), batch, w.width), np.float32)
        self._inputs = np.zeros((w.filter_length, batch), np.float32)
        self.total = frames * w.hop_length
        self.classes = np.zeros((batch, self.total), np.int32)
        self.position = 0

    @property
    def batch_size(self):
        return self.classes.shape[0]

    def step(self, n_steps, rng=None, temperature=1.0, greedy=False, forced=None, record_logits=False):
        """Generate the next ``n_steps`` samples (fewer at the end).

        Parameters
        ----------
        n_steps : int
        rng : np.random.Generator, optional
            Source of the sampling noise (required unless ``greedy`` or ``forced``).
        temperature : float
            Softmax temperature (> 0); lower is more conservative.
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
        w = self.weights
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
            excitation = np.zeros((batch, n, 0), np.float32)
        else:
            excitation = np.ascontiguousarray(self._oscillator.next(n))
        _run_steps(
            self.position, n, w.hop_length, w.start_w, w.start_b, w.skip_start_w, w.skip_b, w.dilated_w,
            self._cond, w.res_skip_w, w.res_b, w.out1_w, self._cond_out, w.logits_w, w.logits_b,
            w.dilations, self._offsets, self._buffers, self._inputs, forced_arr, uniforms,
            1.0 / temperature, greedy, chunk, logits_out, record_logits, _TANH_TABLE,
            w.dilated_scale, w.res_skip_scale, excitation, w.exc_w,
        )
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
    if not isinstance(temperature, numbers.Real) or isinstance(temperature, (bool, np.bool_)) or not (
        math.isfinite(temperature) and temperature > 0
    ):
        raise ParameterError(f"`temperature` must be a finite number > 0. Received: temperature={describe(temperature)}.")
    return seed, float(temperature), check_bool("greedy", greedy), check_integer("chunk_size", chunk_size, 1)


def generate(weights, encoding, seed=0, temperature=1.0, greedy=False, chunk_size=4096, progress=None, cancel=None):
    """Generate softmax classes for a batch of encodings.

    Parameters
    ----------
    weights : DecoderWeights
    encoding : np.ndarray [shape=(batch, frames, E)]
    seed : int or np.random.Generator or None
        Sampling noise; the same seed gives the same audio whatever ``chunk_size``.
    temperature : float
    greedy : bool
    chunk_size : int
        Steps per compiled call; progress and cancel are checked between chunks.
    progress : callable(done, total, classes), optional
        Called after each chunk with the samples done so far, the total, and the
        ``(batch, done)`` classes generated so far (a view: copy to keep).
    cancel : callable() -> bool, optional
        Checked between chunks; when it returns True, :class:`SynthesisCancelled` is raised
        carrying the classes so far as ``partial_audio`` (decoded by the caller).

    Returns
    -------
    classes : np.ndarray [shape=(batch, frames * hop_length)], int32
    """
    seed, temperature, greedy, chunk_size = _check_sampling(seed, temperature, greedy, chunk_size)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    decoder = IncrementalDecoder(weights, encoding)
    while decoder.position < decoder.total:
        if cancel is not None and cancel():
            raise SynthesisCancelled(decoder.classes[:, : decoder.position].copy())
        decoder.step(chunk_size, rng=rng, temperature=float(temperature), greedy=greedy)
        if progress is not None:
            progress(decoder.position, decoder.total, decoder.classes[:, : decoder.position])
    return decoder.classes
