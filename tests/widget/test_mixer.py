import numpy as np
import pytest

from nsynth_widgets.widgets import MixPanel
from nsynth_widgets.widgets._common import CHUNK_SIZE

from .conftest import CallCounter, tone, wav_samples


@pytest.fixture
def panel(session, tiny_model):
    hop = tiny_model.config.hop_length
    session.add_sound("low", tone(40 * hop, 220.0))
    session.add_sound("high", tone(36 * hop, 880.0))
    return MixPanel(session, run_in_thread=False)


def _stretch(encoding, factor):
    """Linear interpolation of frames at the new frames' centres (written out independently)."""
    frames = encoding.shape[1]
    new = int(round(frames * factor))
    out = np.empty((1, new, encoding.shape[2]), np.float32)
    for j in range(new):
        position = min(max((j + 0.5) / factor - 0.5, 0.0), frames - 1)
        low = int(np.floor(position))
        high = min(low + 1, frames - 1)
        out[0, j] = encoding[0, low] * (1 - (position - low)) + encoding[0, high] * (position - low)
    return out


def test_sources_default_to_two_different_sounds(panel):
    assert panel.sound_a.options == ("high", "low")
    assert {panel.sound_a.value, panel.sound_b.value} == {"high", "low"}


def test_crossfade_follows_the_weight(panel, session):
    panel.sound_a.value, panel.sound_b.value = "low", "high"
    assert panel.crossfade_player.layout.display == "none"
    panel.weight.value = 0.25
    panel.crossfade.value = True
    assert panel.crossfade_player.layout.display is None
    low, high = session.sounds["low"], session.sounds["high"]
    expected = 0.75 * low[: high.size] + 0.25 * high
    np.testing.assert_allclose(wav_samples(panel.crossfade_player.value), expected, atol=1e-4)
    panel.weight.value = 1.0
    np.testing.assert_allclose(wav_samples(panel.crossfade_player.value), high, atol=1e-4)


def test_latent_mix_with_stretch(panel, session, tiny_model):
    panel.sound_a.value, panel.sound_b.value = "low", "high"
    panel.weight.value = 0.3
    panel.stretch.value = 1.5
    panel.synthesize_button.click()
    a = tiny_model.encode(session.sounds["low"])[:, :36]
    b = tiny_model.encode(session.sounds["high"])
    mixed = _stretch(0.7 * a + 0.3 * b, 1.5)
    expected = tiny_model.synthesize(mixed, seed=0)[0]
    assert panel.result.shape == (54 * tiny_model.config.hop_length,)
    np.testing.assert_allclose(panel.result, expected, atol=1e-6)
    np.testing.assert_allclose(wav_samples(panel.result_player.value), expected, atol=1e-4)
    assert panel.job.progress.value == panel.job.progress.max == expected.size
    assert "Synthesized &#x27;mix low+high 0.30 ×1.50&#x27;" in panel.message.value

    panel.keep_button.click()
    np.testing.assert_array_equal(session.sounds["mix low+high 0.30 ×1.50"], panel.result)


def test_mix_results_are_cached(panel, tiny_model, monkeypatch):
    counter = CallCounter(monkeypatch, tiny_model, "synthesize")
    panel.synthesize_button.click()
    panel.synthesize_button.click()
    assert len(counter.calls) == 1
    panel.weight.value = 0.9
    panel.synthesize_button.click()
    assert len(counter.calls) == 2


def test_stop_keeps_no_result(panel):
    panel.job.progress.observe(lambda change: change["new"] == CHUNK_SIZE and panel.job.stop(), names="value")
    panel.synthesize_button.click()
    assert panel.result is None and panel.keep_button.disabled
    assert "Stopped after 2048 samples" in panel.message.value


def test_bad_values_are_refused(panel, tiny_model, monkeypatch):
    counter = CallCounter(monkeypatch, tiny_model, "synthesize")
    panel.stretch.max = 100.0
    panel.stretch.value = 10.0
    panel.synthesize_button.click()
    assert "`stretch` must be a number in [0.25, 4]. Received: stretch=10.0." in panel.error.value
    panel.stretch.value = 1.0
    panel.weight.max = 5.0
    panel.weight.value = 2.0
    panel.synthesize_button.click()
    assert "`weight` must be a number in [0, 1]. Received: weight=2.0." in panel.error.value
    panel.sound_b.options = ["high", "low", "ghost"]
    panel.sound_b.value = "ghost"
    panel.weight.value = 0.5
    panel.synthesize_button.click()
    assert "`sound_b` must be one of" in panel.error.value
    assert counter.calls == [] and panel.result is None


def test_crossfade_needs_two_sounds(panel, session, tiny_model):
    session.set_encoding("only an encoding", tiny_model.encode(tone(640)))
    panel.sound_a.value = "only an encoding"
    panel.crossfade.value = True
    assert "must both be loaded sounds" in panel.error.value
    assert panel.crossfade_player.value == b""
