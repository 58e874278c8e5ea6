"""Incremental generation reproduces the teacher-forced model, and its controls behave."""

import numpy as np
import pytest

from nsynth_widgets.errors import EncodingError, ParameterError, SynthesisCancelled
from nsynth_widgets.model import fastgen
from nsynth_widgets.model.nsynth import classes_to_audio

from ..conftest import TINY


@pytest.fixture(scope="module")
def weights(tiny_arrays):
    return fastgen.DecoderWeights.from_arrays(tiny_arrays, TINY)


def test_incremental_logits_equal_teacher_forced_at_every_step(tiny_model, weights):
    """Prime the generator with known samples: every step's logits match the full model."""
    rng = np.random.default_rng(0)
    batch, steps = 3, 640  # 10 frames; the receptive field (29) and several chunk edges inside
    classes = rng.integers(0, 256, (batch, steps)).astype(np.int32)
    audio = classes_to_audio(classes)
    enc = rng.normal(size=(batch, steps // TINY.hop_length, 16)).astype(np.float32)
    expected = tiny_model.decode_logits(audio, enc)
    decoder = fastgen.IncrementalDecoder(weights, enc)
    got = np.concatenate([decoder.step(n, forced=classes, record_logits=True) for n in (1, 63, 200, 376)], axis=1)
    assert got.shape == expected.shape == (batch, steps, 256)
    assert np.abs(got - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())
    np.testing.assert_array_equal(decoder.classes, classes)


def test_generated_samples_are_what_the_model_predicts(tiny_model, weights):
    """Free-running greedy generation: feeding the output back through the full model gives
    logits whose argmax is the generated sample at every step."""
    rng = np.random.default_rng(1)
    enc = rng.normal(size=(2, 3, 16)).astype(np.float32)
    classes = fastgen.generate(weights, enc, greedy=True, chunk_size=50)
    logits = tiny_model.decode_logits(classes_to_audio(classes), enc)
    np.testing.assert_array_equal(np.argmax(logits, axis=-1), classes)


def test_same_seed_same_audio_whatever_the_chunk_size(weights):
    enc = np.random.default_rng(2).normal(size=(2, 4, 16)).astype(np.float32)
    a = fastgen.generate(weights, enc, seed=7, chunk_size=4096)
    b = fastgen.generate(weights, enc, seed=7, chunk_size=37)
    c = fastgen.generate(weights, enc, seed=8)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def _chi_square_p(counts, p):
    """Goodness-of-fit p-value, classes with an expected count under 5 pooled into one bin."""
    from scipy.stats import chisquare

    n = counts.sum()
    big = p * n >= 5
    observed, expected = counts[big], p[big] * n
    if not big.all():
        observed, expected = np.append(observed, counts[~big].sum()), np.append(expected, p[~big].sum() * n)
    return chisquare(observed, expected * observed.sum() / expected.sum()).pvalue


def test_sampling_follows_the_softmax(weights):
    """With temperature, the class histogram of step 0 fits softmax(logits / T) — and not the
    softmax at the other temperature (the test can tell them apart)."""
    enc = np.random.default_rng(3).normal(size=(1, 1, 16)).astype(np.float32)
    first_logits = fastgen.IncrementalDecoder(weights, enc).step(1, greedy=True, record_logits=True)[0, 0]
    many = np.repeat(enc, 5000, axis=0)

    def softmax(temperature):
        e = np.exp((first_logits.astype(np.float64) - first_logits.max()) / temperature)
        return e / e.sum()

    for temperature, other in ((0.5, 2.0), (2.0, 0.5)):
        decoder = fastgen.IncrementalDecoder(weights, many)
        decoder.step(1, rng=np.random.default_rng(4), temperature=temperature)
        counts = np.bincount(decoder.classes[:, 0], minlength=256)
        assert _chi_square_p(counts, softmax(temperature)) > 1e-3
        assert _chi_square_p(counts, softmax(other)) < 1e-6


def test_each_frame_samples_at_its_own_temperature(weights):
    """A ``(batch, frames)`` temperature: every sample is the class that inverse-CDF sampling of
    softmax(logits / T) picks with the step's uniform number, T being its own row's and frame's —
    recomputed in NumPy from the recorded logits; the other frame's temperature picks otherwise."""
    rng = np.random.default_rng(6)
    batch, frames = 40, 2
    enc = rng.normal(size=(batch, frames, 16)).astype(np.float32)
    temperature = np.where(np.arange(batch)[:, None] % 2 == np.arange(frames), 0.3, 3.0)
    n = frames * TINY.hop_length
    decoder = fastgen.IncrementalDecoder(weights, enc)
    logits = decoder.step(n, rng=np.random.default_rng(7), temperature=temperature, record_logits=True)
    uniforms = np.random.default_rng(7).random((n, batch)).T  # what the decoder drew, in its order
    frame = np.arange(n) // TINY.hop_length

    def picks(t):  # t [batch, n]
        z = np.exp((logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)) / t[..., None])
        cdf = np.cumsum(z, axis=-1)
        return np.minimum((cdf <= (uniforms * cdf[..., -1])[..., None]).sum(axis=-1), 255)

    own, swapped = picks(temperature[:, frame]), picks(temperature[:, 1 - frame])
    assert np.mean(own == decoder.classes) > 0.99  # float32 exp in the kernel: a rare tie may differ
    assert np.mean(swapped == decoder.classes) < 0.6
    with pytest.raises(ParameterError, match=r"`temperature` must be a number or one per frame, shape \(40, 2\)"):
        fastgen.generate(weights, enc, temperature=temperature[:, :1])
    with pytest.raises(ParameterError, match=r"`temperature` must be finite and > 0 in every frame"):
        fastgen.generate(weights, enc, temperature=np.zeros((batch, frames)))


def test_progress_and_cancel(weights):
    enc = np.zeros((1, 8, 16), np.float32)
    seen = []
    fastgen.generate(weights, enc, chunk_size=100, progress=lambda d, t, c: seen.append((d, t, c.shape)))
    assert [d for d, _, _ in seen] == [100, 200, 300, 400, 500, 512]
    assert all(t == 512 and shape == (1, d) for d, t, shape in seen)

    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(SynthesisCancelled) as info:
        fastgen.generate(weights, enc, seed=4, chunk_size=100, cancel=cancel)
    assert info.value.partial_audio is None  # generate works in classes
    full = fastgen.generate(weights, enc, seed=4, chunk_size=100)
    np.testing.assert_array_equal(info.value.partial_classes, full[:, :300])  # the same seed's first 300 samples


def test_synthesize_returns_audio_and_handles_unequal_lengths(tiny_model):
    rng = np.random.default_rng(5)
    enc_a = rng.normal(size=(1, 3, 16)).astype(np.float32)
    enc_b = rng.normal(size=(1, 5, 16)).astype(np.float32)
    out = tiny_model.synthesize(enc_b, seed=0)
    assert out.shape == (1, 5 * 64) and out.dtype == np.float32
    both = tiny_model.synthesize([enc_a, enc_b], seed=0)
    assert [len(x) for x in both] == [192, 320]
    alone = tiny_model.synthesize(enc_a, seed=np.random.default_rng(9), greedy=True)
    together = tiny_model.synthesize([enc_a, enc_b], greedy=True)
    np.testing.assert_array_equal(together[0], alone[0])  # padding never leaks into the shorter one


def test_synthesize_progress_gives_partial_audio(tiny_model):
    enc = np.zeros((1, 4, 16), np.float32)
    partials = []
    full = tiny_model.synthesize(enc, seed=3, chunk_size=64, progress=lambda d, t, a: partials.append(a.copy()))
    assert len(partials) == 4
    np.testing.assert_array_equal(partials[1], full[:, :128])


def test_synthesize_cancel_keeps_partial_audio(tiny_model):
    enc = np.zeros((1, 4, 16), np.float32)
    state = {"n": 0}

    def cancel():
        state["n"] += 1
        return state["n"] > 2

    with pytest.raises(SynthesisCancelled) as info:
        tiny_model.synthesize(enc, seed=7, chunk_size=64, cancel=cancel)
    partial = info.value.partial_audio
    assert partial.shape == (1, 128) and partial.dtype == np.float32
    np.testing.assert_array_equal(partial, tiny_model.synthesize(enc, seed=7)[:, :128])  # the full run's start
    np.testing.assert_array_equal(classes_to_audio(info.value.partial_classes), partial)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"temperature": 0}, ParameterError, r"`temperature` must be a finite number > 0. Received: temperature=0."),
        ({"temperature": float("nan")}, ParameterError, r"Received: temperature=nan."),
        ({"chunk_size": 0}, ParameterError, r"`chunk_size` must be an integer >= 1. Received: chunk_size=0."),
    ],
)
def test_bad_generation_arguments(tiny_model, kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny_model.synthesize(np.zeros((1, 2, 16), np.float32), **kwargs)


@pytest.mark.parametrize(
    "encoding, match",
    [
        (np.zeros((1, 2, 8), np.float32), r"`encoding` must have 16 channels in its last axis"),
        (
            np.zeros((2, 16), np.float32)[None, None],
            r"`encoding` must have shape \(frames, 16\) or \(batch, frames, 16\)",
        ),
        (np.zeros((1, 0, 16), np.float32), r"`encoding` must hold at least one frame"),
        (np.full((1, 2, 16), np.nan, np.float32), r"`encoding` must be finite. Received: encoding with 32 NaN/Inf"),
        ([], r"`encoding` must hold at least one encoding. Received: encoding=\[\]."),
    ],
)
def test_bad_encodings(tiny_model, encoding, match):
    with pytest.raises(EncodingError, match=match):
        tiny_model.synthesize(encoding)


def test_encoding_is_not_modified(tiny_model):
    enc = np.random.default_rng(6).normal(size=(1, 2, 16)).astype(np.float32)
    before = enc.copy()
    tiny_model.synthesize(enc)
    np.testing.assert_array_equal(enc, before)
