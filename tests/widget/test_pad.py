import numpy as np
import pytest

from nsynth_widgets.errors import ParameterError
from nsynth_widgets.widgets import PadPanel
from nsynth_widgets.widgets._common import CHUNK_SIZE
from nsynth_widgets.widgets.pad import CORNERS, pad_weights

from .conftest import CallCounter, tone, wav_samples

SOURCES = {"a": 220.0, "b": 330.0, "c": 440.0, "d": 660.0}


@pytest.fixture
def panel(session, tiny_model):
    for name, frequency in SOURCES.items():
        session.add_sound(name, tone(20 * tiny_model.config.hop_length, frequency))
    return PadPanel(session, run_in_thread=False)


def test_pad_weights():
    weights = pad_weights(3)
    assert weights.shape == (3, 3, 4)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)
    np.testing.assert_allclose(weights[0, 0], [1, 0, 0, 0])
    np.testing.assert_allclose(weights[0, 2], [0, 1, 0, 0])
    np.testing.assert_allclose(weights[2, 0], [0, 0, 1, 0])
    np.testing.assert_allclose(weights[2, 2], [0, 0, 0, 1])
    np.testing.assert_allclose(weights[1, 1], [0.25] * 4)
    np.testing.assert_allclose(weights[0, 1], [0.5, 0.5, 0, 0])  # top edge, middle: x = 0.5, y = 0
    with pytest.raises(ParameterError, match=r"`size` must be an integer in \[2, 5\]. Received: size=6."):
        pad_weights(6)


def test_corners_spread_over_the_sounds(panel):
    assert [w.value for w in panel.corners] == ["a", "b", "c", "d"]
    assert [w.description for w in panel.corners] == list(CORNERS)


def test_precompute_is_one_batched_synthesis(panel, session, tiny_model, monkeypatch):
    counter = CallCounter(monkeypatch, tiny_model, "synthesize")
    panel.grid_size.value = 3
    panel.precompute_button.click()
    assert len(counter.calls) == 1
    assert counter.calls[0][0][0].shape == (9, 20, 16)
    assert panel.grid_audio.shape == (3, 3, 20 * tiny_model.config.hop_length)

    corners = [tiny_model.encode(session.sounds[name]) for name in "abcd"]
    mixes = []
    for y in (0.0, 0.5, 1.0):
        for x in (0.0, 0.5, 1.0):
            w = [(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y]
            mixes.append(sum(wi * ci[0] for wi, ci in zip(w, corners)))
    expected = tiny_model.synthesize(np.stack(mixes).astype(np.float32), seed=0)  # (counted too)
    np.testing.assert_allclose(panel.grid_audio.reshape(9, -1), expected, atol=1e-6)

    panel.x.value, panel.y.value = 2, 1  # right edge, middle row
    np.testing.assert_allclose(wav_samples(panel.player.value), panel.grid_audio[1, 2], atol=1e-4)
    assert "b 0.50" in panel.pad_view.value and "d 0.50" in panel.pad_view.value
    assert panel.pad_view.value.count("#1976d2") == 1

    panel.precompute_button.click()  # the same pad again: from the cache
    assert len(counter.calls) == 2


def test_precompute_uses_the_sessions_precision(panel, session, tiny_model):
    session.precision = "int8"
    panel.grid_size.value = 2
    panel.precompute_button.click()
    corners = np.concatenate([tiny_model.encode(session.sounds[name]) for name in "abcd"])
    expected = tiny_model.synthesize(corners, seed=0, precision="int8")
    np.testing.assert_allclose(panel.grid_audio.reshape(4, -1), expected, atol=1e-6)
    assert (expected != tiny_model.synthesize(corners, seed=0)).any()  # int8 really was used


def test_changing_a_corner_forgets_the_grid(panel):
    panel.grid_size.value = 2
    panel.precompute_button.click()
    assert panel.grid_audio is not None
    panel.corners[3].value = "a"
    assert panel.grid_audio is None and panel.player.value == b""
    assert "press Precompute" in panel.message.value
    panel.x.value = 1
    assert "`grid` must be precomputed before a point is played" in panel.error.value


def test_replacing_a_corner_sound_forgets_the_grid(panel, session):
    panel.grid_size.value = 2
    panel.precompute_button.click()
    session.add_sound("c", tone(1280, 990.0))  # same name, new sound
    assert panel.grid_audio is None


def test_stop_during_precompute(panel, tiny_model):
    panel.grid_size.value = 2
    hop = tiny_model.config.hop_length
    assert 20 * hop <= CHUNK_SIZE  # one chunk: stop before it, from the progress bar's reset
    panel.job.time_label.observe(lambda c: c["new"] == "starting…" and panel.job.stop(), names="value")
    panel.precompute_button.click()
    assert panel.grid_audio is None
    assert "Stopped: press Precompute" in panel.message.value


def test_bad_values_are_refused(panel, tiny_model, monkeypatch):
    counter = CallCounter(monkeypatch, tiny_model, "synthesize")
    panel.grid_size.max = 50
    panel.grid_size.value = 40
    panel.precompute_button.click()
    assert "`grid_size` must be an integer in [2, 5]. Received: grid_size=40." in panel.error.value
    panel.corners[0].options = ["a", "b", "c", "d", "ghost"]
    panel.corners[0].value = "ghost"
    panel.grid_size.value = 2
    panel.precompute_button.click()
    assert "`top_left` must be one of" in panel.error.value
    assert counter.calls == [] and panel.grid_audio is None

    panel.corners[0].value = "a"
    panel.precompute_button.click()
    panel.x.max = 9
    panel.x.value = 7
    assert "`x` must be an integer in [0, 1]. Received: x=7." in panel.error.value


def test_the_pad_is_the_grid_render_grid_writes(session, tiny_model, tmp_path):
    """Precompute and `render_grid` share the plan and the synthesis: the same corners give the same sounds."""
    import soundfile as sf

    from nsynth_widgets.audio import save_audio
    from nsynth_widgets.grid import render_grid

    files = []
    for name, frequency in SOURCES.items():
        files.append(tmp_path / f"{name}.wav")
        save_audio(files[-1], tone(20 * tiny_model.config.hop_length, frequency))
        session.add_sound(name, sf.read(files[-1], dtype="float32")[0])
    panel = PadPanel(session, run_in_thread=False)
    panel.grid_size.value = 3
    panel.precompute_button.click()

    seconds = 20 * tiny_model.config.hop_length / 16000
    result = render_grid(files, tmp_path / "grid", resolution=3, seconds=seconds, model=tiny_model, batch_size=9)
    for item in result.manifest["items"]:
        written = sf.read(tmp_path / "grid" / item["file"], dtype="float32")[0]
        np.testing.assert_allclose(written, panel.grid_audio[item["row"], item["column"]], atol=1 / 32768 + 1e-6)
