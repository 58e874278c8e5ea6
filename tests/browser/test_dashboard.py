"""The Voila dashboard, served on localhost and driven in Debian's Chromium through Playwright.

Runs the real TensorFlow/numba core with the embedded default model. Screenshots of every step
are kept in ``test-artifacts/`` for a person to look at.
"""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nsynth_widgets.dashboard_server import voila_command

from .chromium import CHROMIUM, launch

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SHUTDOWN_MARKER = "[Voila] Handle signal"  # Voila logs this on SIGTERM, before it shuts its kernels down

pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path_factory, notebook=None):
    """Start Voila like `nsynth-widgets dashboard` does (on ``notebook`` if given); yield its URL."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (apt-get install chromium); .ci/run installs it"
    port = _free_port()
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    command = voila_command(port=port, open_browser=False, **({"notebook": notebook} if notebook else {}))
    assert command[:3] == [sys.executable, "-m", "nsynth_widgets.dashboard_server"]
    with open(log, "w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise AssertionError("Voila did not start:\n" + log.read_text()[-3000:])
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
    # Only what was logged while serving counts: after SIGTERM, ipykernel sometimes logs a ZMQ traceback of its own
    # while its sockets close under it (a shutdown race in ipykernel, not in a page or in our code).
    served, _, _ = log.read_text().partition(SHUTDOWN_MARKER)
    assert "Traceback" not in served, served[-3000:]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(url)
    return page


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory):
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="module")
def page(browser, dashboard_url):
    page = _open(browser, dashboard_url)
    page.get_by_role("tab", name="Load").wait_for()
    yield page
    page.close()


@pytest.fixture(scope="module")
def teaching_page(browser, tmp_path_factory):
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "01_wavenet_basics.ipynb"
    for url in _serve(tmp_path_factory, notebook):
        page = _open(browser, url)
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


def _no_errors(page):
    errors = [t for t in page.locator(".nw-error").all_inner_texts() if t.strip()]
    assert not errors, errors
    assert "Traceback" not in page.inner_text("body")


def _panel(page):
    """The visible tab panel (Lumino tab panels hide the others)."""
    return page.locator(".widget-tab-contents > .widget-box:visible, .lm-TabPanel-stackedPanel > .widget-box:visible").first


def test_upload_encode_plot(page, long_tone):
    page.get_by_label("length").fill("0")  # keep the whole file
    page.get_by_label("length").press("Enter")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload").first.click()
    chooser.value.set_files(str(long_tone))
    page.locator(".nw-message", has_text="tone").first.wait_for()
    _shot(page, "1_loaded")
    _no_errors(page)

    page.get_by_role("tab", name="Plots").click()
    waveform = _panel(page).locator("img").first
    waveform.wait_for()
    page.wait_for_function("img => img.naturalWidth > 100", arg=waveform.element_handle())
    before = waveform.get_attribute("src")

    page.get_by_role("tab", name="Encode").click()
    page.get_by_role("button", name="Encode selected").click()
    page.locator(".nw-message", has_text="ncoded").first.wait_for()
    _no_errors(page)

    # the plot is redrawn with the 16 encoding channels on the waveform's time axis
    page.get_by_role("tab", name="Plots").click()
    page.wait_for_function("([img, old]) => img.src !== old && img.naturalWidth > 100",
                           arg=[waveform.element_handle(), before])
    _shot(page, "2_plots")
    _no_errors(page)


def test_resynthesize_shows_progress_and_partial_audio_then_stops(page):
    page.get_by_role("tab", name="Resynthesize").click()
    panel = _panel(page)
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
    _no_errors(page)


def test_mixer_slider_moves(page):
    page.get_by_role("tab", name="Load").click()
    page.get_by_role("button", name="Add example").click()
    page.locator(".nw-message", has_text="guitar").first.wait_for()
    page.get_by_role("tab", name="Mix").click()
    panel = _panel(page)
    readout = panel.locator(".widget-readout").first
    before = readout.inner_text()
    handle = panel.locator(".noUi-handle").first
    handle.focus()
    for _ in range(4):
        handle.press("ArrowRight")
    page.wait_for_function(f"() => [...document.querySelectorAll('.widget-readout')].some(r => r.offsetParent !== null && r.textContent.trim() !== {before.strip()!r})")
    _shot(page, "5_mixer")
    _no_errors(page)


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
    _shot(page, "6_teaching")
    _no_errors(page)
    assert not [t for t in page.locator(".widget-html").all_inner_texts() if "must" in t]  # no validation errors
