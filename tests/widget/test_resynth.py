import re
import threading

import numpy as np
import pytest

from nsynth_widgets.metrics import spectral_distance
from nsynth_widgets.widgets import ResynthPanel
from nsynth_widgets.widgets._common import BUSY, CHUNK_SIZE, PARTIAL_EVERY

from .conftest import CallCounter, tone, wav_samples

N = 8 * CHUNK_SIZE  # eight chunks


@pytest.fixture
def panel(session):
    session.add_sound("tone", tone(N))
    return ResynthPanel(session, run_in_thread=False)


def _record(widget, name="value"):
    values = []
    widget.observe(lambda change: values.append(change["new"]), names=name)
    return values


def test_resynthesis_with_progress_partial_audio_and_comparison(panel, session, tiny_model):
    bar, times, partials = _record(panel.job.progress), _record(panel.job.time_label), _record(panel.job.partial_player)
    panel.seed.value = 3
    panel.temperature.value = 0.5
    panel.synthesize_button.click()

    expected = tiny_model.synthesize(tiny_model.encode(session.sounds["tone"]), seed=3, temperature=0.5)[0]
    result = session.resyntheses["tone"]
    np.testing.assert_array_equal(result, expected)
    assert bar == [CHUNK_SIZE * k for k in range(1, 9)] and panel.job.progress.max == N
    assert re.fullmatch(r"2048 / 16384 samples · [\d.]+ s elapsed · about [\d.]+ s left", times[1])
    assert panel.job.time_label.value.startswith("done in")
    lengths = [wav_samples(value).size for value in partials if len(value)]
    assert lengths == [PARTIAL_EVERY * CHUNK_SIZE, 2 * PARTIAL_EVERY * CHUNK_SIZE]
    np.testing.assert_allclose(wav_samples(partials[-1]), expected, atol=1e-4)
    assert not panel.job.running and panel.job.stop_button.disabled

    np.testing.assert_allclose(wav_samples(panel.original_player.value), session.sounds["tone"], atol=1e-4)
    np.testing.assert_allclose(wav_samples(panel.result_player.value), expected, atol=1e-4)
    assert panel.distance_db == pytest.approx(spectral_distance(session.sounds["tone"], expected))
    assert f"{panel.distance_db:.2f} dB" in panel.distance.value
    assert bytes(panel.compare_image.value).startswith(b"\x89PNG")
    assert "Resynthesized &#x27;tone&#x27;: 16384 samples (1.02 s)." in panel.message.value


def test_results_are_cached(panel, session, tiny_model, monkeypatch):
    counter = CallCounter(monkeypatch, tiny_model, "synthesize")
    panel.synthesize_button.click()
    first = session.resyntheses["tone"]
    panel.synthesize_button.click()
    assert len(counter.calls) == 1
    np.testing.assert_array_equal(session.resyntheses["tone"], first)
    panel.seed.value = 1
    panel.synthesize_button.click()
    assert len(counter.calls) == 2


def test_int8_weights_of_the_session(panel, session, tiny_model):
    panel.seed.value = 2
    panel.synthesize_button.click()
    exact = session.resyntheses["tone"]
    session.precision = "int8"
    panel.synthesize_button.click()
    expected = tiny_model.synthesize(tiny_model.encode(session.sounds["tone"]), seed=2, precision="int8")[0]
    np.testing.assert_array_equal(session.resyntheses["tone"], expected)
    assert (session.resyntheses["tone"] != exact).any()  # a separate result, not the cached float32 one
    assert panel.error.value == ""


def test_temperature_starts_at_the_models_and_follows_a_model_change(panel, session, tiny_model):
    from nsynth_widgets.runtime import Synthesizer
    from nsynth_widgets.widgets import Session

    assert panel.temperature.value == tiny_model.default_temperature == 1.0
    assert ResynthPanel(Session(), run_in_thread=False).temperature.value == 0.1  # embedded model, not loaded
    tiny_model.default_temperature = 0.7
    try:
        session.synthesizer = Synthesizer(tiny_model)
        assert panel.temperature.value == 0.7
    finally:
        tiny_model.default_temperature = 1.0


def test_stop_from_a_progress_hook(panel, session):
    def stop_after_first_chunk(change):
        if change["new"] == CHUNK_SIZE:
            panel.job.stop_button.click()

    panel.job.progress.observe(stop_after_first_chunk, names="value")
    panel.synthesize_button.click()
    assert "tone" not in session.resyntheses
    assert "Stopped after 2048 samples" in panel.message.value
    assert panel.job.progress.bar_style == "warning" and not panel.job.running
    partial = wav_samples(panel.job.partial_player.value)
    assert partial.size == CHUNK_SIZE
    assert panel.result_player.value == b""

    panel.job.progress.unobserve(stop_after_first_chunk, names="value")
    panel.synthesize_button.click()  # the same settings, in full
    full = session.resyntheses["tone"]
    np.testing.assert_allclose(partial, full[:CHUNK_SIZE], atol=1 / 2**15)  # what was kept is the full run's start


def test_stop_button_during_a_threaded_run(session, tiny_model):
    session.add_sound("tone", tone(N))
    panel = ResynthPanel(session)
    reached, release = threading.Event(), threading.Event()

    def hold(change):  # runs in the worker thread: wait there until the test has pressed Stop
        if change["new"] == CHUNK_SIZE:
            reached.set()
            release.wait(30)

    panel.job.progress.observe(hold, names="value")
    panel.synthesize_button.click()
    assert reached.wait(60)
    assert panel.job.running and not panel.job.stop_button.disabled
    panel.synthesize_button.click()
    assert BUSY in panel.error.value
    panel.job.stop_button.click()
    release.set()
    panel.wait(60)
    assert not panel.job.running
    assert "Stopped after 2048 samples" in panel.message.value
    assert "tone" not in session.resyntheses

    panel.job.progress.unobserve(hold, names="value")
    panel.synthesize_button.click()  # a stopped run was not cached: it runs in full
    panel.wait(60)
    assert session.resyntheses["tone"].shape == (N,)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda p: (setattr(p.temperature, "max", 100.0), setattr(p.temperature, "value", 50.0)),
            "`temperature` must be a number in [0.05, 2]. Received: temperature=50.0.",
        ),
        (
            lambda p: (setattr(p.seed, "min", -10), setattr(p.seed, "value", -1)),
            "`seed` must be an integer in [0, 2147483647]. Received: seed=-1.",
        ),
        (
            lambda p: (setattr(p.sound, "options", ["tone", "ghost"]), setattr(p.sound, "value", "ghost")),
            "`sound` must be one of [&#x27;tone&#x27;]. Received: sound=&#x27;ghost&#x27;.",
        ),
    ],
)
def test_bad_values_are_refused(panel, session, tiny_model, monkeypatch, change, message):
    counter = CallCounter(monkeypatch, tiny_model, "synthesize")
    change(panel)
    panel.synthesize_button.click()
    assert message in panel.error.value
    assert counter.calls == [] and session.resyntheses == {} and not panel.job.running


def test_loaded_encoding_without_a_sound(panel, session, tiny_model):
    encoding = tiny_model.encode(tone(640))
    session.set_encoding("loaded", encoding)
    panel.sound.value = "loaded"
    panel.synthesize_button.click()
    expected = tiny_model.synthesize(encoding, seed=0)[0]
    np.testing.assert_array_equal(session.resyntheses["loaded"], expected)
    assert panel.original_player.value == b"" and panel.compare_image.value == b""
    assert panel.distance_db is None
    np.testing.assert_allclose(wav_samples(panel.result_player.value), expected, atol=1e-4)
