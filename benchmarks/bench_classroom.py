"""Several dashboard visitors at once: how long each waits, and how much CPU the visit costs.

    python benchmarks/bench_classroom.py [--visitors 4]

Serves the dashboard as ``nsynth-widgets dashboard`` does (the embedded default model), opens
``--visitors`` pages in Debian's Chromium at the same moment, and in each uploads a 2.5 s note,
encodes it and resynthesizes it, as ``tests/browser/test_load.py`` does. For each phase it prints
every visitor's wait (wall clock, from the moment all of them started the phase) and the CPU
seconds spent meanwhile by the visitors' kernels, the server and the browser (read from ``/proc``
for this process's descendants), so that a result taken on a busy machine still says what the
phase would take on two idle cores (at best their sum / 2).
"""

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

from nsynth_widgets.dashboard_server import voila_command

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _descendants_cpu_seconds():
    """utime + stime of the live descendants of this process (Linux /proc), by kind: kernels, server, browser."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append((int(entry.name), fields, command))
    tick = os.sysconf("SC_CLK_TCK")
    totals, stack = {"kernels": 0.0, "server": 0.0, "browser": 0.0}, [os.getpid()]
    while stack:
        for pid, fields, command in children.get(stack.pop(), []):
            kind = "kernels" if b"ipykernel" in command else "server" if b"dashboard_server" in command else "browser"
            totals[kind] += (int(fields[11]) + int(fields[12])) / tick
            stack.append(pid)
    return totals


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=4, help="pages opened at once (default: %(default)s)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="classroom-"))
    t = np.arange(40000) / 16000
    notes = []
    for i in range(args.visitors):
        notes.append(folder / f"visitor{i}.wav")
        sf.write(notes[-1], 0.4 * np.exp(-1.5 * t) * np.sin(2 * np.pi * 220 * 2 ** (i / 4) * t), 16000)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    with open(folder / "voila.log", "w") as log:
        server = subprocess.Popen(
            voila_command(port=port, open_browser=False, max_visitors=args.visitors),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    rows = []
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "voila/static/", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            pages = [browser.new_page(viewport={"width": 1280, "height": 1000}) for _ in range(args.visitors)]
            for page in pages:
                page.set_default_timeout(300_000)

            def phase(name, start, done):
                cpu, began = _descendants_cpu_seconds(), time.monotonic()
                for page in pages:
                    start(page)
                waits = []
                for page in pages:
                    done(page)
                    waits.append(time.monotonic() - began)
                after = _descendants_cpu_seconds()
                rows.append((name, waits, {kind: after[kind] - cpu[kind] for kind in after}))

            phase(
                "first paint",
                lambda pg: pg.goto(url, wait_until="commit"),
                lambda pg: pg.get_by_role("tab", name="Load").wait_for(),
            )

            def upload(page):
                with page.expect_file_chooser() as chooser:
                    page.get_by_role("button", name="Upload").first.click()
                chooser.value.set_files(str(notes[pages.index(page)]))

            phase("upload 2.5 s", upload, lambda pg: pg.locator(".nw-message", has_text="Added").first.wait_for())

            def click(tab, button):
                def start(page):
                    page.get_by_role("tab", name=tab).click()
                    page.locator(
                        ".widget-tab-contents > .widget-box:visible, .lm-TabPanel-stackedPanel > .widget-box:visible"
                    ).first.get_by_role("button", name=button).click()

                return start

            phase(
                "encode (loads the model)",
                click("Encode", "Encode selected"),
                lambda pg: pg.locator(".nw-message", has_text="ncoded").first.wait_for(),
            )
            phase(
                "resynthesize 2.5 s",
                click("Resynthesize", "Resynthesize"),
                lambda pg: pg.locator(".nw-message", has_text="Resynthesized").first.wait_for(),
            )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    load = os.getloadavg()
    print(
        f"host: {platform.node()}, {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"(1 / 5 / 15 min), {time.strftime('%Y-%m-%d %H:%M')}\n"
    )
    print(
        f"| phase ({args.visitors} visitors at once) | each visitor's wait | CPU s: kernels | server | browser | "
        "on 2 idle cores, at best |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for name, waits, cpu in rows:
        print(
            f"| {name} | {' / '.join(f'{w:.1f}' for w in waits)} s | {cpu['kernels']:.1f} | {cpu['server']:.1f} | "
            f"{cpu['browser']:.1f} | {sum(cpu.values()) / 2:.1f} s |"
        )


if __name__ == "__main__":
    sys.exit(main())
