"""`Synthesizer`: one model, cached results, cancellation through an Event."""

import threading

import numpy as np
import pytest

from nsynth_widgets.errors import CheckpointError, ParameterError, SynthesisCancelled
from nsynth_widgets.runtime import Synthesizer, load_model


class CountingModel:
    """Wraps a real NSynth and counts the calls that reach it."""

    def __init__(self, model):
        self.model, self.calls = model, []
        self.config, self.source, self.default_temperature = model.config, model.source, model.default_temperature
        self.default_unvoiced_temperature = model.default_unvoiced_temperature

    def encode(self, audio):
        self.calls.append("encode")
        return self.model.encode(audio)

    def synthesize(self, encoding, **kwargs):
        self.calls.append("synthesize")
        return self.model.synthesize(encoding, **kwargs)


@pytest.fixture
def counted(tiny_model):
    synth = Synthesizer(tiny_model)
    synth._model = CountingModel(tiny_model)
    return synth


def test_results_are_cached_by_content_and_settings(counted, tiny_model):
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 640).astype(np.float32)
    first = counted.encode(audio)
    np.testing.assert_array_equal(counted.encode(audio.copy()), first)  # equal content: a cache hit
    assert counted._model.calls == ["encode"]
    first[:] = 0  # callers get copies: the cache cannot be corrupted
    np.testing.assert_array_equal(counted.encode(audio), tiny_model.encode(audio))

    out = counted.synthesize(tiny_model.encode(audio), seed=1)
    counted.synthesize(tiny_model.encode(audio), seed=1)
    assert counted._model.calls.count("synthesize") == 1
    counted.synthesize(tiny_model.encode(audio), seed=2)
    counted.synthesize(tiny_model.encode(audio), seed=1, temperature=0.5)
    assert counted._model.calls.count("synthesize") == 3
    np.testing.assert_array_equal(out, tiny_model.synthesize(tiny_model.encode(audio), seed=1))


def test_cancel_with_an_event_is_not_cached(counted):
    encoding = np.zeros((1, 4, 16), np.float32)
    stop = threading.Event()
    stop.set()
    with pytest.raises(SynthesisCancelled):
        counted.synthesize(encoding, cancel=stop)
    assert counted.synthesize(encoding).shape == (1, 256)  # ran again, completely
    assert counted._model.calls == ["synthesize", "synthesize"]


def test_cache_size_bounds_what_is_kept(tiny_model):
    synth = Synthesizer(tiny_model, cache_size=2)
    for seed in range(4):
        synth.synthesize(np.zeros((1, 1, 16), np.float32), seed=seed)
    assert len(synth._cache) == 2


def test_model_loads_lazily_and_once(tiny_model, tmp_path):
    path = tiny_model.save_weights(tmp_path / "tiny.npz")
    synth = Synthesizer(path)
    assert synth._model is None
    assert synth.model is synth.model and synth.config == tiny_model.config
    assert "tiny: 6 layers × 8 channels, hop 64" in synth.description


@pytest.mark.parametrize(
    "spec, error, match",
    [
        ("", ParameterError, r"`model` must be 'default', a .npz weights file or a checkpoint prefix"),
        (42, ParameterError, r"Received: model=42."),
        ("missing.npz", CheckpointError, r"`weights` must be an existing .npz weights file"),
    ],
)
def test_bad_model_specs(spec, error, match):
    with pytest.raises(error, match=match):
        load_model(spec)


def test_bad_cache_size():
    with pytest.raises(ParameterError, match=r"`cache_size` must be an integer >= 0. Received: cache_size=-1."):
        Synthesizer(cache_size=-1)


def test_default_temperature_is_the_models_and_known_before_loading(counted, tiny_model):
    from nsynth_widgets.model.config import DEFAULT_MODEL_TEMPERATURE

    lazy = Synthesizer()  # the embedded model: its temperature is known without loading it
    assert lazy.default_temperature == DEFAULT_MODEL_TEMPERATURE == 0.1 and lazy._model is None
    from_file = Synthesizer("not/loaded/yet.npz")  # a file loads at 1.0: no need to open it (it does not exist)
    assert from_file.default_temperature == 1.0 and from_file._model is None
    encoding = np.random.default_rng(3).normal(size=(1, 3, 16)).astype(np.float32)
    assert counted.default_temperature == tiny_model.default_temperature == 1.0
    implicit = counted.synthesize(encoding, seed=4)
    assert counted.synthesize(encoding, seed=4, temperature=1.0) is not implicit  # copies of one cached result
    assert counted._model.calls.count("synthesize") == 1
    np.testing.assert_array_equal(implicit, tiny_model.synthesize(encoding, seed=4, temperature=1.0))


def test_incremental_decoder_steps_to_what_synthesize_makes(tiny_model):
    from nsynth_widgets.dsp import mu_law_decode

    synth = Synthesizer(tiny_model)
    encoding = np.random.default_rng(8).normal(size=(1, 3, 16)).astype(np.float32)
    decoder = synth.incremental_decoder(encoding)
    rng = np.random.default_rng(5)
    while decoder.position < decoder.total:
        decoder.step(50, rng=rng, temperature=0.7)  # another chunking than synthesize's
    np.testing.assert_array_equal(
        mu_law_decode(decoder.classes - 128), synth.synthesize(encoding, seed=5, temperature=0.7)
    )
