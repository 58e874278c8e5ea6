"""Ill-formed inputs to the model API, in one place: each gets its own specific message."""

import numpy as np
import pytest

from nsynth_widgets.errors import AudioError, ParameterError


@pytest.mark.parametrize("audio, match", [
    (np.zeros(4096, np.float32), r"`audio` must not be silent \(peak amplitude below 1e-06\). Received: audio with peak 0"),
    (np.r_[np.full(1000, 0.1), np.nan].astype(np.float32), r"`audio` must not contain NaN or Inf. .*the first at index 1000"),
    (np.full((1, 1, 1024), 0.1, np.float32), r"`audio` must have shape \(n,\) or \(batch, n\). Received: audio=array\(shape=\(1, 1, 1024\)"),
    (np.array(["a"] * 1024), r"`audio` must be an array of real numbers"),
    (np.full(1024, 1.5, np.float32), r"`audio` must lie in \[-1, 1\]. Received: audio with peak \|x\| = 1.5"),
    (np.zeros(0, np.float32), r"`audio` must not be empty"),
])
def test_encode_rejects(tiny_model, audio, match):
    with pytest.raises(AudioError, match=match):
        tiny_model.encode(audio)


def test_encode_needs_one_frame(tiny_model):
    with pytest.raises(AudioError, match=r"`audio` must have at least 64 samples"):
        tiny_model.encode(np.full(63, 0.1, np.float32))


def test_encode_never_modifies_its_input(tiny_model):
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 700)).astype(np.float32)
    audio.setflags(write=False)  # any in-place write would raise
    assert tiny_model.encode(audio).shape == (2, 10, 16)


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True])
def test_encode_batch_size(tiny_model, batch_size):
    with pytest.raises(ParameterError, match=r"`batch_size` must be a positive integer"):
        tiny_model.encode(np.full(640, 0.1, np.float32), batch_size=batch_size)


def test_model_config_must_be_a_config():
    from nsynth_widgets.model.nsynth import NSynth

    with pytest.raises(ParameterError, match=r"`config` must be a ModelConfig. Received: config='h512'"):
        NSynth("h512")
