"""A classroom: several visitors at once in real Chromium pages, the visitor cap, and kernels cleaned up.

Four pages each upload a sound, encode it and resynthesize it at the same time, with the embedded
default model; a fifth visitor gets the busy page; after the pages close no kernel is left, and a
kernel whose page never connected (a plain GET) is shut down by itself. The times each visitor
waited are written to ``test-artifacts/load_test.json`` (measurements, not assertions: speed is
recorded in ``benchmarks/RESULTS.md``).
"""

import json
import time
import urllib.request

import numpy as np
import pytest
import soundfile as sf

from .conftest import ARTIFACTS, kernel_alive, kernel_id, no_errors, open_page, serve, upload, visible_panel, wait_until

pytestmark = pytest.mark.slow

VISITORS = 4


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    # pages connect within seconds; the timeout is short only so that the test of it is
    yield from serve(tmp_path_factory, max_visitors=VISITORS, unconnected_timeout=20, cull_interval=2)


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    """One 2.5 s note per visitor, each its own pitch."""
    folder = tmp_path_factory.mktemp("notes")
    t = np.arange(40000) / 16000
    paths = []
    for i in range(VISITORS):
        f0 = 220.0 * 2 ** (i / 4)
        note = 0.4 * np.exp(-1.5 * t) * (np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(4 * np.pi * f0 * t))
        paths.append(folder / f"visitor{i}.wav")
        sf.write(paths[-1], note, 16000, subtype="PCM_16")
    return paths


def _all(pages, action):
    """Start ``action(page)`` on every page, in turn (the pages' kernels then work at the same time)."""
    return [action(page) for page in pages]


def test_four_visitors_at_once_then_nothing_is_left(browser, classroom, notes):
    url = classroom
    times = {"visitors": VISITORS}

    started = time.monotonic()
    pages = [open_page(browser, url, wait_until="commit") for _ in range(VISITORS)]
    painted = []
    for page in pages:  # every page loads in the browser meanwhile; each time is from the common start
        page.get_by_role("tab", name="Load").wait_for()
        painted.append(time.monotonic() - started)
    times["first_paint_s"] = painted
    kernels = [kernel_id(page.content()) for page in pages]
    assert len(set(kernels)) == VISITORS

    # one visitor more: a page that says why, not a kernel
    extra = browser.new_page()
    response = extra.goto(url)
    assert response.status == 503
    extra.get_by_role("heading", name="Server busy").wait_for()
    assert "as many visitors as it can hold (4)" in extra.inner_text("body")
    assert response.headers.get("retry-after") == "60"
    extra.screenshot(path=str(ARTIFACTS / "load_busy.png"))
    extra.close()

    for page, note in zip(pages, notes):
        upload(page, note)
    for page, note in zip(pages, notes):
        page.locator(".nw-message", has_text=f"Added '{note.stem}'").first.wait_for()

    def encode(page):
        page.get_by_role("tab", name="Encode").click()
        page.get_by_role("button", name="Encode selected").click()
        return time.monotonic()

    clicked = _all(pages, encode)
    times["encode_s"] = []  # the first encode of each kernel also loads the model
    for page, start in zip(pages, clicked):
        page.locator(".nw-message", has_text="ncoded").first.wait_for()
        times["encode_s"].append(time.monotonic() - start)

    def resynthesize(page):
        page.get_by_role("tab", name="Resynthesize").click()
        visible_panel(page).get_by_role("button", name="Resynthesize").click()
        return time.monotonic()

    clicked = _all(pages, resynthesize)
    times["resynthesis_s"] = []
    for page, start in zip(pages, clicked):
        page.locator(".nw-message", has_text="Resynthesized").first.wait_for(timeout=300_000)
        times["resynthesis_s"].append(time.monotonic() - start)
    for i, page in enumerate(pages):
        no_errors(page)
        page.screenshot(path=str(ARTIFACTS / f"load_visitor{i}.png"))

    for page in pages:  # each visitor leaves: the page asks the server to shut its kernel down
        page.goto("about:blank")
        page.close()
    wait_until(
        lambda: not any(kernel_alive(url, k) for k in kernels), 60, "every kernel shut down after its page closed"
    )
    (ARTIFACTS / "load_test.json").write_text(json.dumps(times, indent=2))
    print(json.dumps(times))


def test_a_kernel_whose_page_never_connects_is_shut_down(classroom):
    url = classroom
    with urllib.request.urlopen(url, timeout=120) as response:  # a plain GET: the notebook runs, no websocket follows
        kernel = kernel_id(response.read().decode())
    assert kernel_alive(url, kernel)
    wait_until(lambda: not kernel_alive(url, kernel), 20 + 30, "the unconnected kernel shut down")
