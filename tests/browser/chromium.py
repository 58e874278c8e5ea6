"""How the browser checks start Debian's Chromium through Playwright (the browser tests and `.ci/fresh_install.py`)."""

import shutil

#: Debian's chromium (``apt-get install chromium``; ``.ci/run`` installs it), not a browser Playwright downloads.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: Headless in a container, and quiet: no sandbox, GPU, background traffic, first-run pages or QUIC.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def launch(playwright):
    """Start headless Chromium with :data:`CHROMIUM_ARGS`; return Playwright's ``Browser``."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
