"""Serving the dashboard on localhost and driving Debian's Chromium through Playwright."""

import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nsynth_widgets.dashboard_server import voila_command

from .chromium import CHROMIUM, launch

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SHUTDOWN_MARKER = "[DashboardApp] Handle signal"  # logged on SIGTERM, before the server shuts its kernels down


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(tmp_path_factory, **settings):
    """Start Voila like `nsynth-widgets dashboard` does (``settings`` go to ``voila_command``); yield its URL."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (apt-get install chromium); .ci/run installs it"
    port = _free_port()
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    command = voila_command(port=port, open_browser=False, **settings)
    assert command[:3] == [sys.executable, "-m", "nsynth_widgets.dashboard_server"]
    with open(log, "w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url + "voila/static/", timeout=5).close()
                break
            except urllib.error.HTTPError:  # the server answers
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


def kernel_id(html):
    """The id of the kernel a Voila page was rendered with (from its page config)."""
    match = re.search(r'"kernelId": "([0-9a-f-]+)"', html)
    assert match, "no kernel id in the page"
    return match.group(1)


def kernel_alive(url, kernel):
    """Whether the server still runs ``kernel`` (its REST model answers 200, not 404)."""
    try:
        urllib.request.urlopen(f"{url}api/kernels/{kernel}", timeout=10).close()
        return True
    except urllib.error.HTTPError as error:
        assert error.code == 404, error
        return False


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


def open_page(browser, url, wait_until="load"):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(url, wait_until=wait_until)
    return page


def no_errors(page):
    errors = [t for t in page.locator(".nw-error").all_inner_texts() if t.strip()]
    assert not errors, errors
    assert "Traceback" not in page.inner_text("body")


def visible_panel(page):
    """The visible tab panel (Lumino tab panels hide the others)."""
    return page.locator(
        ".widget-tab-contents > .widget-box:visible, .lm-TabPanel-stackedPanel > .widget-box:visible"
    ).first


def upload(page, *paths, button="Upload"):
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name=button).first.click()
    chooser.value.set_files([str(p) for p in paths])
