"""README's quick start as a new user meets it: a fresh venv, ``pip install .`` and nothing else.

The test environment has every extra installed, so a run-time dependency missing from
``[project.dependencies]`` is invisible to the test suite; this check builds the environment a user gets.
In order, each failure ending the run with exit status 1 and one ``FRESH INSTALL FAILED:`` line:

1. a new venv (its own pip), ``pip install .`` from a clean copy of the checkout (no extras, no ``-e``),
   then ``pip check``;
2. from a folder outside the checkout: ``nsynth-widgets --help``; every module of the installed package imports;
   ``NSynth.default()`` encodes and resynthesizes a short tone;
3. ``nsynth-widgets dashboard --no-browser``: ``/`` answers 200, and in Debian's Chromium the dashboard's widgets
   render and work (a bundled example is loaded and encoded by the kernel);
4. ``jupyter lab``: ``notebooks/dashboard.ipynb`` opened and run, its widgets rendered and working.

Run by ``.ci/run`` with the test environment's python (Playwright comes from the ``test`` extra). pip's cache is
used as a user's pip uses it: what the test environment downloaded is not downloaded again where the venv's own pip
reads the same cache (pip >= 23.3 on both sides).
Screenshots: ``test-artifacts/fresh_install_*.png``.

Usage: ``python .ci/fresh_install.py [--keep]`` (``--keep`` leaves the temporary folder for a post-mortem).
"""

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
sys.path.insert(0, str(ROOT))
from tests.browser.chromium import CHROMIUM, launch  # noqa: E402  (the browser tests' settings)

#: Run inside the fresh venv: the installed package, not the checkout, must do this.
CHECK_INSTALLED = """
import importlib, pathlib, pkgutil, sys
import numpy as np
import nsynth_widgets as nw

where = pathlib.Path(nw.__file__).resolve()
assert where.is_relative_to(pathlib.Path(sys.prefix).resolve()), f"nsynth_widgets was imported from {where}"
modules = [module.name for module in pkgutil.walk_packages(nw.__path__, "nsynth_widgets.")]
for name in modules:
    try:
        importlib.import_module(name)
    except ImportError as error:
        sys.exit(f"`import {name}` fails in an environment made by `pip install .`: {error}")
model = nw.NSynth.default()
tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
encoding = model.encode(tone)
audio = model.synthesize(encoding[:, :4], seed=0)
assert encoding.shape == (1, 31, 16) and audio.shape == (1, 2048), (encoding.shape, audio.shape)
assert np.isfinite(audio).all()
print(f"all {len(modules)} modules import; NSynth.default(): "
      f"encode {tone.shape} -> {encoding.shape}, synthesize -> {audio.shape}")
"""


class Failure(Exception):
    """What a new user would meet, and the log that shows why."""

    def __init__(self, message, log=""):
        super().__init__(message)
        self.log = log


@contextmanager
def step(title):
    print(f"== fresh install: {title}", flush=True)
    start = time.monotonic()
    yield
    print(f"   ok ({time.monotonic() - start:.0f} s)", flush=True)


def run(command, what, timeout, **kwargs):
    """Run ``command``; its output, or a :class:`Failure` naming ``what`` when it exits non-zero."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or b"").decode(errors="replace")  # bytes whatever `text` says
        raise Failure(f"{what} took longer than {timeout} s", output[-6000:]) from None
    if done.returncode != 0:
        raise Failure(f"{what} exited with status {done.returncode}", (done.stdout + done.stderr)[-6000:])
    return done.stdout


def copy_checkout(destination):
    """The files a clone has (tracked, plus untracked ones git does not ignore): no stale build/ or egg-info."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, names):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)


def user_environment(venv, home):
    """The environment of a user who activated ``venv``: nothing of the checkout or of the test environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "KERAS_BACKEND", "MPLBACKEND", "CONDA_PREFIX"}
    }
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        VIRTUAL_ENV=str(venv),
        PYTHONNOUSERSITE="1",
        TF_CPP_MIN_LOG_LEVEL="3",
        # a fresh machine has no Jupyter/IPython settings, kernels or model cache of its own
        JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
        JUPYTER_DATA_DIR=str(home / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
        IPYTHONDIR=str(home / "ipython"),
        NSYNTH_WIDGETS_CACHE=str(home / "nsynth-cache"),
    )
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(command, log, what, **kwargs):
    """Start ``command`` in its own process group; stop it, and whatever it started (kernels), on exit."""
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"   {what} did not stop within 30 s of SIGTERM; killing it", flush=True)
        try:
            os.killpg(process.pid, signal.SIGKILL)  # kernels it may have left behind
        except ProcessLookupError:
            pass
        process.wait()


def wait_for_200(url, process, log, what, timeout=180):
    """Poll ``url`` until it answers 200; a :class:`Failure` on any other status, an exit or the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                if response.status == 200:
                    return
                raise Failure(f"{what}: {url} answered HTTP {response.status}", log.read_text()[-6000:])
        except urllib.error.HTTPError as error:
            raise Failure(f"{what}: {url} answered HTTP {error.code}", log.read_text()[-6000:]) from None
        except OSError:
            if process.poll() is not None:
                raise Failure(
                    f"{what} exited with status {process.returncode} before {url} answered", log.read_text()[-6000:]
                ) from None
            if time.monotonic() > deadline:
                raise Failure(f"{what}: {url} did not answer within {timeout} s", log.read_text()[-6000:]) from None
            time.sleep(0.5)


def check_widgets(browser, url, log, shot, run_all=False):
    """Open ``url`` in Chromium (``run_all``: a notebook in JupyterLab, run first); the dashboard's tabs render, and
    a bundled example loads and is encoded; neither the page nor the server's ``log`` shows an error."""
    from playwright.sync_api import Error as PlaywrightError

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(120_000)
    try:
        page.goto(url)
        if run_all:  # JupyterLab: once the notebook's kernel is up (before, Lab asks for one), Run > Run All Cells
            page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\(ipykernel\) \| Idle")).first.wait_for()
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
        page.get_by_role("tab", name="Load", exact=True).wait_for()
        page.get_by_role("button", name="Add example").click()
        page.locator(".nw-message", has_text="Added").first.wait_for()
        page.get_by_role("tab", name="Encode", exact=True).click()
        page.get_by_role("button", name="Encode selected").click()
        page.locator(".nw-message", has_text="ncoded").first.wait_for()
        errors = [t for t in page.locator(".nw-error").all_inner_texts() if t.strip()]
        if errors or "Traceback" in page.inner_text("body"):
            raise Failure(f"the page at {url} shows errors: {errors or 'a traceback'}", log.read_text()[-6000:])
    except PlaywrightError as error:
        raise Failure(
            f"the widgets at {url} did not render or work in Chromium (screenshot: {shot}): "
            f"{str(error).splitlines()[0]}",
            log.read_text()[-6000:],
        ) from None
    finally:
        page.screenshot(path=str(shot), full_page=True)
        page.close()
    served = log.read_text()
    if "Traceback" in served:
        raise Failure(f"the server behind {url} logged a traceback", served[-6000:])


def main(keep=False):
    if not Path(CHROMIUM).exists():
        raise Failure(f"Debian's chromium is required (apt-get install chromium). Received: CHROMIUM={CHROMIUM}.")
    ARTIFACTS.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="nsynth-fresh-install-"))
    src, venv, home, outside = tmp / "checkout", tmp / "venv", tmp / "home", tmp / "elsewhere"
    for folder in (src, home, outside):
        folder.mkdir()
    env = user_environment(venv, home)
    bin_ = venv / "bin"
    try:
        with step(f"python -m venv && pip install . (no extras), in {tmp}"):
            copy_checkout(src)
            run(
                [sys.executable, "-m", "venv", str(venv)],
                "`python -m venv` (on Debian's own python: apt-get install python3-venv)",
                120,
            )
            run([str(bin_ / "pip"), "install", "."], "`pip install .`", 900, cwd=src, env=env)
            run([str(bin_ / "pip"), "check"], "`pip check` in the fresh venv", 120, env=env)

        with step("nsynth-widgets --help, every module imports, NSynth.default() (outside the checkout)"):
            usage = run([str(bin_ / "nsynth-widgets"), "--help"], "`nsynth-widgets --help`", 120, cwd=outside, env=env)
            if "dashboard" not in usage:
                raise Failure("`nsynth-widgets --help` does not list the dashboard command", usage)
            print(
                "   "
                + run(
                    [str(bin_ / "python"), "-c", CHECK_INSTALLED],
                    "importing the installed package and NSynth.default()",
                    300,
                    cwd=outside,
                    env=env,
                ).strip(),
                flush=True,
            )

        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = launch(playwright)

            with step("nsynth-widgets dashboard --no-browser: / answers 200, the widgets work in Chromium"):
                port, log = free_port(), tmp / "dashboard.log"
                command = [str(bin_ / "nsynth-widgets"), "dashboard", "--no-browser", f"--port={port}"]
                with server(command, log, "`nsynth-widgets dashboard`", cwd=outside, env=env) as process:
                    url = f"http://127.0.0.1:{port}/"
                    wait_for_200(url, process, log, "`nsynth-widgets dashboard --no-browser`")
                    check_widgets(browser, url, log, ARTIFACTS / "fresh_install_dashboard.png")

            with step("jupyter lab: notebooks/dashboard.ipynb runs and its widgets work in Chromium"):
                shutil.copytree(ROOT / "notebooks", outside / "notebooks")
                port, log, token = free_port(), tmp / "lab.log", secrets.token_hex(16)
                command = [
                    str(bin_ / "jupyter"),
                    "lab",
                    "--no-browser",
                    f"--port={port}",
                    f"--ServerApp.root_dir={outside}",
                    f"--IdentityProvider.token={token}",
                    "--allow-root",
                ]
                with server(command, log, "`jupyter lab`", cwd=outside, env=env) as process:
                    wait_for_200(f"http://127.0.0.1:{port}/lab?token={token}", process, log, "`jupyter lab`")
                    check_widgets(
                        browser,
                        f"http://127.0.0.1:{port}/lab/tree/notebooks/dashboard.ipynb?token={token}",
                        log,
                        ARTIFACTS / "fresh_install_lab.png",
                        run_all=True,
                    )
            browser.close()
    finally:
        if keep:
            print(f"   kept {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (venv, logs)")
    start = time.monotonic()
    try:
        main(**vars(parser.parse_args()))
    except Failure as failure:
        print(
            f"\nFRESH INSTALL FAILED: {failure}\n(README's quick start `pip install . && nsynth-widgets dashboard` "
            f"would not work for a new user; see .ci/fresh_install.py)\n{failure.log}",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)
    print(f"== fresh install: all checks passed in {time.monotonic() - start:.0f} s", flush=True)
