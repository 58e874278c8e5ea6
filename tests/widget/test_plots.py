import numpy as np
import pytest

import nsynth_widgets.widgets.plots as plots
from nsynth_widgets.widgets import PlotPanel, Session

from .conftest import tone

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def figures(monkeypatch):
    """Every figure the panel renders, in order (rendering itself is unchanged)."""
    rendered = []
    real = plots.figure_to_png

    def recording(figure, dpi=100):
        rendered.append(figure)
        return real(figure, dpi=dpi)

    monkeypatch.setattr(plots, "figure_to_png", recording)
    return rendered


def test_empty_session_shows_nothing(session):
    panel = PlotPanel(session, run_in_thread=False)
    assert panel.sound.options == () and panel.waveform.value == b""


def test_plots_follow_the_session(session, tiny_model, figures):
    panel = PlotPanel(session, run_in_thread=False)
    audio = tone(3200)
    session.add_sound("a", audio)
    assert panel.sound.value == "a"
    assert all(
        bytes(image.value).startswith(PNG_MAGIC) for image in (panel.waveform, panel.spectrogram, panel.rainbowgram)
    )
    assert len(figures) == 3
    wave_axes = figures[0].axes
    assert len(wave_axes) == 1 and wave_axes[0].lines[0].get_ydata().shape == audio.shape
    assert figures[1].axes[0].get_title() == "Spectrogram"
    assert figures[2].axes[0].get_title().startswith("Rainbowgram")

    before = panel.waveform.value
    session.encode(["a"])
    assert len(figures) == 6  # the encoding changed: one redraw
    waveform_axes, encoding_axes = figures[3].axes
    assert len(encoding_axes.lines) == 16
    hop = tiny_model.config.hop_length
    np.testing.assert_allclose(encoding_axes.get_xlim(), (0, 50 * hop / 16000))
    np.testing.assert_allclose(waveform_axes.get_xlim(), encoding_axes.get_xlim())
    assert panel.waveform.value != before
    assert panel.message.value.endswith("Plotted &#x27;a&#x27;.</span>")


def test_no_redraw_without_a_change(session, figures):
    panel = PlotPanel(session, run_in_thread=False)
    session.add_sound("a", tone(1600))
    session.add_sound("b", tone(1600, 220.0))
    assert panel.sound.value == "b" and len(figures) == 6  # a, then b
    session.status = "something else"
    session.selected = ["a", "b"]
    assert len(figures) == 6
    shown_b = bytes(panel.waveform.value)
    panel.sound.value = "a"  # drawn before: from the cache
    assert len(figures) == 6 and bytes(panel.waveform.value) != shown_b
    session.add_sound("c", tone(1600, 330.0))
    session.selected = ["c", "b"]
    assert panel.sound.value == "b" and len(figures) == 9  # only c was drawn
    assert bytes(panel.waveform.value) == shown_b


def test_threaded_redraw_ends_on_the_latest_choice(session, tiny_model):
    threaded = PlotPanel(session)
    for name, frequency in [("a", 220.0), ("b", 330.0), ("c", 440.0)]:
        session.add_sound(name, tone(1600, frequency))
    threaded.sound.value = "a"
    threaded.sound.value = "b"
    threaded.wait(60)  # one drawing thread: it picks up every newer choice before it ends
    assert threaded.sound.value == "b"
    reference = Session(tiny_model)  # the same sound alone, drawn synchronously
    sync = PlotPanel(reference, run_in_thread=False)
    reference.add_sound("b", session.sounds["b"])
    assert threaded.waveform.value == sync.waveform.value
    assert threaded.rainbowgram.value == sync.rainbowgram.value
