"""Ill-formed inputs to the model API, in one place: each gets its own specific message."""

import math

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


_CORNERS = [np.full(640, 0.1, np.float32)] * 4


@pytest.mark.parametrize("kwargs, match", [
    ({"corners": _CORNERS[:3]}, r"`corners` must be four sounds \(files or 16 kHz arrays: top-left, top-right, "
                                r"bottom-left, bottom-right\). Received: corners=\[array"),
    ({"corners": _CORNERS[:3] + [3]}, r"`corners\[3\]` must be a file or a 1-D array of 16 kHz audio. Received: corners\[3\]=3."),
    ({"resolution": 1}, r"`resolution` must be an integer >= 2. Received: resolution=1."),
    ({"seconds": 0}, r"`seconds` must be a finite number > 0. Received: seconds=0."),
    ({"seconds": float("nan")}, r"`seconds` must be a finite number > 0. Received: seconds=nan."),
    ({"pitches": [60, 128]}, r"`pitches` must be an integer in \[0, 127\]. Received: pitches=128."),
    ({"pitches": [60, 60]}, r"`pitches` must list at least one MIDI pitch, each once. Received: pitches=\[60, 60\]."),
    ({"pitches": "60"}, r"`pitches` must be a list of MIDI pitches \(integers in \[0, 127\]\). Received: pitches='60'."),
    ({"batch_size": 0}, r"`batch_size` must be an integer >= 1. Received: batch_size=0."),
    ({"workers": True}, r"`workers` must be an integer >= 1. Received: workers=True."),
    ({"precision": "fp16"}, r"`precision` must be one of \['float32', 'int8'\]. Received: precision='fp16'."),
    ({"temperature": 0.0}, r"`temperature` must be a finite number > 0. Received: temperature=0.0."),
    ({"force": "yes"}, r"`force` must be True or False. Received: force='yes'."),
    ({"scheduler": "cluster"}, r"`scheduler` must be 'local', 'processes', a Dask scheduler address such as "
                               r"'tcp://host:8786' or a distributed.Client. Received: scheduler='cluster'."),
    ({"corners": list("abcd"), "corners_per_pitch": "notes"},
     r"`pitches` must be given with `corners_per_pitch` \(which files to read\). Received: pitches=None."),
    ({"pitches": [60], "corners_per_pitch": "notes"},
     r"`corners\[0\]` must be a file name. Received: corners\[0\]=array\(shape=\(640,\), dtype=float32\)."),
    ({"corners": list("abcd"), "pitches": [60], "corners_per_pitch": "/no/such/folder"},
     r"`corners_per_pitch` must be an existing folder. Received: corners_per_pitch='/no/such/folder'."),
    ({"scheduler": "processes"}, r"`model` must be 'default', a .npz weights file or a checkpoint path when the grid "
                                 r"runs on Dask workers \(each loads it itself\). Received: model=<nsynth_widgets"),
])
def test_render_grid_rejects(tiny_model, tmp_path, kwargs, match):
    from nsynth_widgets.grid import render_grid

    arguments = {"corners": _CORNERS, "out_dir": tmp_path / "grid", "model": tiny_model, **kwargs}
    with pytest.raises(ParameterError, match=match):
        render_grid(**arguments)
    assert not (tmp_path / "grid").exists()  # refused before anything was written


def test_render_grid_refuses_an_unreachable_pitch(pitch_model, tmp_path):
    from nsynth_widgets.grid import render_grid

    t = np.arange(8000) / 16000
    corners = [(0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32) for f in (220, 330, 440, 660)]
    with pytest.raises(ParameterError, match=r"`pitches` must be reachable by transposing every point: r0_c0_p127.wav "
                                             r"cannot be moved to MIDI 127 \(`semitones` must keep the pitch within"):
        render_grid(corners, tmp_path, resolution=2, seconds=0.25, model=pitch_model, pitches=[127])


@pytest.mark.parametrize("value, high, match", [
    (0.0, math.inf, r"`x` must be a finite number > 0. Received: x=0.0."),
    (-1, math.inf, r"`x` must be a finite number > 0. Received: x=-1."),
    (0, 1.0, r"`x` must be a number in \(0, 1\]. Received: x=0."),
])
def test_check_number_with_an_open_lower_bound(value, high, match):
    from nsynth_widgets.errors import check_number

    assert check_number("x", 1e-9, 0.0, high, low_open=True) == 1e-9
    with pytest.raises(ParameterError, match=match):
        check_number("x", value, 0.0, high, low_open=True)
