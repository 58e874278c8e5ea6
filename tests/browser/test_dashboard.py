"""The Voila dashboard, served on localhost and driven in Debian's Chromium through Playwright.

Runs the real TensorFlow/numba core with the embedded default model. Screenshots of every step
are kept in ``test-artifacts/`` for a person to look at.
"""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .conftest import ARTIFACTS, no_errors, open_page, serve, upload, visible_panel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory):
    yield from serve(tmp_path_factory)


@pytest.fixture(scope="module")
def page(browser, dashboard_url):
    page = open_page(browser, dashboard_url)
    page.get_by_role("tab", name="Load").wait_for()
    yield page
    page.close()


@pytest.fixture(scope="module")
def teaching_page(browser, tmp_path_factory):
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "01_wavenet_basics.ipynb"
    for url in serve(tmp_path_factory, notebook=notebook):
        page = open_page(browser, url)
        page.get_by_role("button", name="Step", exact=True).wait_for()
        yield page
        page.close()


@pytest.fixture(scope="module")
def long_tone(tmp_path_factory):
    """20 s of a harmonic tone: long enough that a resynthesis is still running when we stop it."""
    t = np.arange(20 * 22050) / 22050
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    sf.write(path, np.stack([tone, tone], axis=1), 22050)  # stereo 22.05 kHz: the loader converts
    return path


def _shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"dashboard_{name}.png"), full_page=True)


def test_upload_encode_plot(page, long_tone):
    page.get_by_label("length").fill("0")  # keep the whole file
    page.get_by_label("length").press("Enter")
    upload(page, long_tone)
    page.locator(".nw-message", has_text="tone").first.wait_for()
    _shot(page, "1_loaded")
    no_errors(page)

    page.get_by_role("tab", name="Plots").click()
    waveform = visible_panel(page).locator("img").first
    waveform.wait_for()
    page.wait_for_function("img => img.naturalWidth > 100", arg=waveform.element_handle())
    before = waveform.get_attribute("src")

    page.get_by_role("tab", name="Encode").click()
    page.get_by_role("button", name="Encode selected").click()
    page.locator(".nw-message", has_text="ncoded").first.wait_for()
    no_errors(page)

    # the plot is redrawn with the 16 encoding channels on the waveform's time axis
    page.get_by_role("tab", name="Plots").click()
    page.wait_for_function(
        "([img, old]) => img.src !== old && img.naturalWidth > 100", arg=[waveform.element_handle(), before]
    )
    _shot(page, "2_plots")
    no_errors(page)


def test_resynthesize_shows_progress_and_partial_audio_then_stops(page):
    page.get_by_role("tab", name="Resynthesize").click()
    panel = visible_panel(page)
    panel.get_by_role("button", name="Resynthesize").click()
    stop = panel.get_by_role("button", name="Stop")
    page.wait_for_function(
        """() => [...document.querySelectorAll('.progress-bar')]
                .some(bar => bar.offsetParent !== null && parseFloat(bar.style.width) > 0)"""
    )
    # partial audio becomes playable while the synthesis still runs
    page.wait_for_function(
        """() => [...document.querySelectorAll('.progress-bar')].filter(bar => bar.offsetParent !== null)
                .map(bar => bar.closest('.widget-vbox').querySelector('audio'))
                .some(a => a && a.src.startsWith('blob:') && a.duration > 0)"""
    )
    assert stop.is_enabled()
    _shot(page, "3_resynthesizing")
    stop.click()
    page.locator(".nw-message", has_text="top").first.wait_for()
    assert not stop.is_enabled()
    _shot(page, "4_stopped")
    no_errors(page)


def test_mixer_slider_moves(page):
    page.get_by_role("tab", name="Load").click()
    page.get_by_role("button", name="Add example").click()
    page.locator(".nw-message", has_text="Added").first.wait_for()
    page.get_by_role("tab", name="Mix").click()
    panel = visible_panel(page)
    readout = panel.locator(".widget-readout").first
    before = readout.inner_text()
    handle = panel.locator(".noUi-handle").first
    handle.focus()
    for _ in range(4):
        handle.press("ArrowRight")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('.widget-readout')].some(r => r.offsetParent !== null && r.textContent.trim() !== {before.strip()!r})"
    )
    _shot(page, "5_mixer")
    no_errors(page)


def test_every_upload_over_the_cap_gets_a_message_and_the_page_stays_connected(page, tmp_path):
    page.get_by_role("tab", name="Load").click()
    page.get_by_label("length").fill("40000")  # the first test kept whole files; these are 7 minutes long
    page.get_by_label("length").press("Enter")
    huge = tmp_path / "huge.wav"
    huge.write_bytes(bytes(30 * 2**20))  # over the cap and over the server's 24 MiB websocket message limit
    upload(page, huge)
    page.locator(
        ".nw-error", has_text="`file` must be at most 20 MB. Received: file='huge.wav' of 30.0 MB."
    ).first.wait_for()
    _shot(page, "6_upload_too_large")
    # two 13 MB files in one pick (26 MB together) both arrive: each travels as its own message
    t = np.arange(6_500_000) / 16000
    picks = []
    for name, frequency in (("first", 220.0), ("second", 330.0)):
        picks.append(tmp_path / f"{name}.wav")
        sf.write(picks[-1], 0.3 * np.sin(2 * np.pi * frequency * t), 16000, subtype="PCM_16")
    assert all(p.stat().st_size > 13_000_000 for p in picks)
    upload(page, *picks)
    message = page.locator(".nw-message", has_text="Added 'second'").first
    message.wait_for()
    assert "Added 'first': 40000 samples" in message.inner_text()
    no_errors(page)


def test_teaching_widgets_work_in_voila(teaching_page):
    page = teaching_page
    # receptive-field explorer: choose the published decoder's preset
    page.get_by_label("Preset").select_option("NSynth decoder")
    page.get_by_text("Receptive field: 6,141 samples").wait_for()
    # mu-law explorer: its numbers and both players are there
    page.get_by_text("SNR").first.wait_for()
    # autoregression stepper: one step draws a sample and shows its distribution
    page.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text("1 of 8192 samples generated.").wait_for()
    _shot(page, "7_teaching")
    no_errors(page)
    assert not [t for t in page.locator(".widget-html").all_inner_texts() if "must" in t]  # no validation errors
