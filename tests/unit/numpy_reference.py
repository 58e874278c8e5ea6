"""An independent NumPy implementation of the NSynth autoencoder, for agreement tests.

Written from the published description (DESIGN.md §3), directly on checkpoint-layout arrays
(``NAME/W [1, k, in, out]``), with no code shared with the package.
"""

import math

import numpy as np


def mu_law_codes(x, mu=255):
    """floor(128 * sign(x) * log(1 + mu|x|) / log(1 + mu)), clipped to [-128, 127]."""
    out = np.empty(np.shape(x), dtype=np.int64)
    flat = np.ravel(x)
    for i, v in enumerate(flat):
        v = min(max(float(v), -1.0), 1.0)
        c = math.floor(128 * math.copysign(1.0, v) * math.log(1 + mu * abs(v)) / math.log(1 + mu)) if v else 0
        out.flat[i] = min(max(c, -128), 127)
    return out


def conv1d(x, arrays, name, dilation=1, causal=True):
    """x [B, T, Cin] → [B, T, Cout]: explicit sum over taps of a zero-padded signal."""
    w = arrays[f"{name}/W"][0]  # [k, Cin, Cout]
    k = w.shape[0]
    total = (k - 1) * dilation
    left, right = (total, 0) if causal else (total // 2, total // 2)
    padded = np.pad(x, ((0, 0), (left, right), (0, 0)))
    steps = x.shape[1]
    y = np.zeros(x.shape[:2] + (w.shape[2],), np.float64) + arrays[f"{name}/biases"]
    for j in range(k):
        y += padded[:, j * dilation : j * dilation + steps] @ w[j]
    return y


def encode(x_scaled, arrays, config):
    """x_scaled [B, T] → encoding [B, T // hop, bottleneck]."""
    h = conv1d(x_scaled[..., None].astype(np.float64), arrays, "ae_startconv", causal=False)
    for i in range(config.ae_num_layers):
        d = 2 ** (i % config.ae_num_stages)
        r = np.maximum(conv1d(np.maximum(h, 0), arrays, f"ae_dilatedconv_{i + 1}", d, causal=False), 0)
        h = h + conv1d(r, arrays, f"ae_res_{i + 1}")
    h = conv1d(h, arrays, "ae_bottleneck")
    b, t, c = h.shape
    hop = config.hop_length
    return h[:, : t // hop * hop].reshape(b, t // hop, hop, c).mean(axis=2)


def decode_logits(x_scaled, encoding, arrays, config):
    """Teacher-forced logits [B, T, 256]."""
    hop = config.hop_length

    def cond(name):
        return np.repeat(conv1d(encoding.astype(np.float64), arrays, name), hop, axis=1)

    shifted = np.concatenate([np.zeros_like(x_scaled[:, :1]), x_scaled[:, :-1]], axis=1)
    h = conv1d(shifted[..., None].astype(np.float64), arrays, "startconv")
    skip = conv1d(h, arrays, "skip_start")
    for i in range(config.num_layers):
        d = 2 ** (i % config.num_stages)
        pre = conv1d(h, arrays, f"dilatedconv_{i + 1}", d) + cond(f"cond_map_{i + 1}")
        half = pre.shape[-1] // 2
        z = 1 / (1 + np.exp(-pre[..., :half])) * np.tanh(pre[..., half:])
        h = h + conv1d(z, arrays, f"res_{i + 1}")
        skip = skip + conv1d(z, arrays, f"skip_{i + 1}")
    s = conv1d(np.maximum(skip, 0), arrays, "out1") + cond("cond_map_out1")
    return conv1d(np.maximum(s, 0), arrays, "logits")
