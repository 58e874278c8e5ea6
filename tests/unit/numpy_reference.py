"""An independent NumPy implementation of the NSynth autoencoder, for agreement tests.

Written from the published description (Engel et al. 2017, and the variable layout of the published
checkpoint), directly on checkpoint-layout arrays
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


def excitation(pitch, harmonics, hop, sample_rate=16000):
    """The source of a pitch-conditioned decoder, one sample at a time.

    f0 (from ``440 * 2 ** channel``) and voicing are interpolated linearly (f0 in log2) between
    frame centres ``i * hop + hop / 2`` and held beyond them; the phase in cycles is
    ``phi[t] = phi[t - 1] + f0[t] / sr`` from 0; channel ``2 (k - 1)`` is
    ``voicing * sin(2 pi k phi)`` and ``2 (k - 1) + 1`` its cosine, both 0 where ``k f0 >= sr / 2``.
    """
    batch, frames, _ = pitch.shape
    out = np.zeros((batch, frames * hop, 2 * harmonics))
    centres = [i * hop + hop / 2 for i in range(frames)]

    def at(row, t, channel):
        if t <= centres[0]:
            return row[0][channel]
        if t >= centres[-1]:
            return row[-1][channel]
        i = int((t - hop / 2) // hop)
        w = (t - centres[i]) / hop
        return (1 - w) * row[i][channel] + w * row[i + 1][channel]

    for b in range(batch):
        phase = 0.0
        for t in range(frames * hop):
            f0 = 440.0 * 2.0 ** at(pitch[b], t, 0)
            voicing = min(max(at(pitch[b], t, 1), 0.0), 1.0)
            phase += f0 / sample_rate
            for k in range(1, harmonics + 1):
                if k * f0 < sample_rate / 2:
                    out[b, t, 2 * k - 2] = voicing * math.sin(2 * math.pi * k * phase)
                    out[b, t, 2 * k - 1] = voicing * math.cos(2 * math.pi * k * phase)
    return out


def round_to_int8(v):
    """Each vector ``v[b, t, :]`` rounded to ``scale * q``, ``q`` integers in [-127, 127], ``scale = max|v| / 127``."""
    peak = np.abs(v).max(axis=-1, keepdims=True)
    scale = np.where(peak > 0, peak / 127.0, 1.0)
    return np.clip(np.rint(v / scale), -127, 127) * scale


def decode_logits(x_scaled, encoding, arrays, config, excitation=None, rounded=lambda v: v):
    """Teacher-forced logits [B, T, 256]; a pitch-conditioned model also reads ``excitation`` [B, T, X].

    ``rounded`` is applied to every dilated conv's input and every gate output (e.g. :func:`round_to_int8`).
    """
    hop = config.hop_length

    def cond(name):
        return np.repeat(conv1d(encoding.astype(np.float64), arrays, name), hop, axis=1)

    shifted = np.concatenate([np.zeros_like(x_scaled[:, :1]), x_scaled[:, :-1]], axis=1)
    h = conv1d(shifted[..., None].astype(np.float64), arrays, "startconv")
    skip = conv1d(h, arrays, "skip_start")
    for i in range(config.num_layers):
        d = 2 ** (i % config.num_stages)
        pre = conv1d(rounded(h), arrays, f"dilatedconv_{i + 1}", d) + cond(f"cond_map_{i + 1}")
        if excitation is not None:
            pre = pre + conv1d(excitation.astype(np.float64), arrays, f"exc_map_{i + 1}")
        half = pre.shape[-1] // 2
        z = rounded(1 / (1 + np.exp(-pre[..., :half])) * np.tanh(pre[..., half:]))
        h = h + conv1d(z, arrays, f"res_{i + 1}")
        skip = skip + conv1d(z, arrays, f"skip_{i + 1}")
    s = conv1d(np.maximum(skip, 0), arrays, "out1") + cond("cond_map_out1")
    return conv1d(np.maximum(s, 0), arrays, "logits")


def stft_magnitude(audio, n_fft, hop_length):
    """|STFT| with a periodic Hann window and frames centred on ``t * hop_length`` (zero padding).

    The explicit frame-by-frame computation the package's ``stft_magnitude`` (librosa) must
    reproduce: ``n_fft // 2`` zeros on either side, every ``hop_length``-th window, ``rfft``.
    Returns ``(n_fft // 2 + 1, frames)`` float64.
    """
    padded = np.pad(np.asarray(audio, dtype=np.float64), n_fft // 2)
    starts = range(0, padded.size - n_fft + 1, hop_length)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    return np.stack([np.abs(np.fft.rfft(padded[s : s + n_fft] * window)) for s in starts], axis=1)


def pre_emphasis(x, a):
    """y[n] = x[n] - a x[n-1] along the last axis, x[-1] = 0: an explicit loop."""
    x = np.asarray(x, np.float64)
    y = np.empty_like(x)
    previous = np.zeros(x.shape[:-1])
    for n in range(x.shape[-1]):
        y[..., n] = x[..., n] - a * previous
        previous = x[..., n]
    return y


def de_emphasis(y, a):
    """x[n] = y[n] + a x[n-1] along the last axis, x[-1] = 0: an explicit loop."""
    y = np.asarray(y, np.float64)
    x = np.empty_like(y)
    previous = np.zeros(y.shape[:-1])
    for n in range(y.shape[-1]):
        previous = x[..., n] = y[..., n] + a * previous
    return x
