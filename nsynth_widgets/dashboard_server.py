"""How ``nsynth-widgets dashboard`` starts Voila on the packaged dashboard notebook.

Settings suit a public dashboard: sources stripped, no tracebacks shown to visitors, uploads
up to the loader's cap, TensorFlow's start-up log silenced, and a bounded number of visitors:

* every visitor gets a kernel (≈ 0.9 GB once a model is loaded); beyond ``max_visitors``
  kernels a visitor gets a "server busy, try again in a minute" page (HTTP 503) instead;
* a kernel whose page never opened its websocket (a plain GET, a closed tab) is shut down after
  :data:`UNCONNECTED_TIMEOUT_S`; a kernel idle for :data:`KERNEL_IDLE_TIMEOUT_S` is culled, with
  or without a page (an abandoned tab must not hold a seat); closing a page shuts its kernel down
  at once (Voila does that).

Both rules live in :class:`DashboardKernelManager` (a jupyter_server kernel manager, configured
on Voila's command line); the busy page in :class:`DashboardHandler`.
"""

import html
import os
import sys
import time
from pathlib import Path

from .errors import ParameterError, check_bool, check_integer, describe

__all__ = [
    "DASHBOARD_NOTEBOOK",
    "KERNEL_IDLE_TIMEOUT_S",
    "UNCONNECTED_TIMEOUT_S",
    "VISITOR_BYTES",
    "default_max_visitors",
    "voila_command",
]

#: The notebook Voila serves (identical to ``notebooks/dashboard.ipynb``; a test keeps them equal).
DASHBOARD_NOTEBOOK = Path(__file__).resolve().parent / "assets" / "dashboard.ipynb"

#: A visitor's kernel is shut down after this many idle seconds.
KERNEL_IDLE_TIMEOUT_S = 1800

#: A kernel whose page has not connected within this many seconds is shut down.
UNCONNECTED_TIMEOUT_S = 120

#: Seconds between two checks of the rules above.
CULL_INTERVAL_S = 30

#: Memory one visitor's kernel takes once the model is loaded (what ``max_visitors`` defaults from).
VISITOR_BYTES = 900 * 10**6

_BUSY_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="60">
<title>NSynth dashboard: server busy</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:4em auto;line-height:1.5}}</style></head>
<body><h1>Server busy</h1>
<p>This NSynth dashboard already has as many visitors as it can hold ({seats}).
Please try again in a minute: this page reloads itself.</p></body></html>
"""


def default_max_visitors():
    """Visitors this machine's memory holds: one per :data:`VISITOR_BYTES` of physical memory, at least 1."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system that reports it
        return 4
    return max(1, total // VISITOR_BYTES)


def voila_command(
    port=8866,
    host="127.0.0.1",
    open_browser=True,
    notebook=DASHBOARD_NOTEBOOK,
    max_visitors=None,
    unconnected_timeout=UNCONNECTED_TIMEOUT_S,
    cull_interval=CULL_INTERVAL_S,
):
    """The argv that serves the dashboard.

    Parameters
    ----------
    port : int in [1, 65535]
    host : str
        Address to bind (``0.0.0.0`` for a classroom server).
    open_browser : bool
    notebook : str or os.PathLike
    max_visitors : int or None
        Kernels running at once; further visitors get the busy page. None:
        :func:`default_max_visitors`.
    unconnected_timeout, cull_interval : int
        Seconds after which a kernel whose page never connected is shut down, and between checks.

    Returns
    -------
    argv : list[str]
        Also sets ``TF_CPP_MIN_LOG_LEVEL`` in this process's environment so kernels inherit it.
    """
    port = check_integer("port", port, 1, 65535)
    if not isinstance(host, str) or not host:
        raise ParameterError(f"`host` must be a non-empty string. Received: host={describe(host)}.")
    open_browser = check_bool("open_browser", open_browser)
    max_visitors = default_max_visitors() if max_visitors is None else check_integer("max_visitors", max_visitors, 1)
    unconnected_timeout = check_integer("unconnected_timeout", unconnected_timeout, 1)
    cull_interval = check_integer("cull_interval", cull_interval, 1)
    if not isinstance(notebook, (str, os.PathLike)) or not Path(notebook).is_file():
        raise ParameterError(f"`notebook` must be an existing notebook file. Received: notebook={describe(notebook)}.")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return [
        sys.executable,
        "-m",
        "nsynth_widgets.dashboard_server",
        str(notebook),
        f"--port={port}",
        f"--Voila.ip={host}",
        f"--Voila.open_browser={open_browser}",
        "--strip_sources=True",
        "--show_tracebacks=False",
        "--VoilaConfiguration.multi_kernel_manager_class=nsynth_widgets.dashboard_server.DashboardKernelManager",
        f"--DashboardKernelManager.max_kernels={max_visitors}",
        f"--DashboardKernelManager.unconnected_timeout={unconnected_timeout}",
        f"--MappingKernelManager.cull_idle_timeout={KERNEL_IDLE_TIMEOUT_S}",
        f"--MappingKernelManager.cull_interval={cull_interval}",
        "--MappingKernelManager.cull_connected=True",
        "--theme=light",
    ]


def main(argv=None):
    """Start Voila with ``argv`` (as built by :func:`voila_command`), allowing uploads up to the cap.

    The websocket limit must reach tornado as an integer, which Voila's command line cannot
    express (``key=value`` gives a string), so it is set here on the application object.
    """
    from .widgets.loader import MAX_UPLOAD_BYTES

    app = _dashboard_app().instance()
    app.initialize(sys.argv[1:] if argv is None else argv)
    # each uploaded file travels as one binary websocket message: allow the cap plus headroom for the message
    app.tornado_settings = {**app.tornado_settings, "websocket_max_message_size": MAX_UPLOAD_BYTES + 4 * 2**20}
    app.start()


# ----------------------------------------------------------------------------------- server classes
# Built on first use, so that importing this module (as the CLI does) does not import Voila.


class ServerBusy(Exception):
    """Raised by :class:`DashboardKernelManager` when every seat is taken."""


def __getattr__(name):
    if name in ("DashboardKernelManager", "DashboardHandler"):
        return _server_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_CLASSES = {}


def _server_classes():
    if _CLASSES:
        return _CLASSES
    import traitlets
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from jupyter_server.utils import ensure_async
    from voila.tornado.handler import TornadoVoilaHandler

    class DashboardKernelManager(AsyncMappingKernelManager):
        """Kernels for dashboard visitors: at most ``max_kernels``, and none left without a page.

        A start beyond ``max_kernels`` (counting kernels still starting) raises :class:`ServerBusy`
        before anything is launched; a kernel that no websocket has connected to within
        ``unconnected_timeout`` seconds is shut down by the culler (which also culls idle kernels).
        """

        max_kernels = traitlets.Integer(0, help="Most kernels at once (0: no limit).").tag(config=True)
        unconnected_timeout = traitlets.Integer(
            UNCONNECTED_TIMEOUT_S, help="Seconds a kernel may wait for its page to connect."
        ).tag(config=True)

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._seats = set()  # ids of kernels running, and a token per kernel still starting
            self._started = {}  # kernel id -> when it started
            self._connected_once = set()

        @property
        def seats_taken(self):
            """Kernels running or starting."""
            return len(self._seats)

        async def start_kernel(self, **kwargs):
            if self.max_kernels and self.seats_taken >= self.max_kernels:
                raise ServerBusy(self.max_kernels)
            token = object()
            self._seats.add(token)  # taken before the first await: simultaneous requests cannot all get in
            try:
                kernel_id = await super().start_kernel(**kwargs)
            finally:
                self._seats.discard(token)
            self._seats.add(kernel_id)
            self._started[kernel_id] = time.monotonic()
            return kernel_id

        def notify_connect(self, kernel_id):
            self._connected_once.add(kernel_id)
            super().notify_connect(kernel_id)

        async def cull_kernel_if_idle(self, kernel_id):
            waited = time.monotonic() - self._started.get(kernel_id, time.monotonic())
            if kernel_id not in self._connected_once and waited > self.unconnected_timeout:
                self.log.warning(
                    "Shutting down kernel %s: its page did not connect within %d s.",
                    kernel_id,
                    self.unconnected_timeout,
                )
                await ensure_async(self.shutdown_kernel(kernel_id))
                return
            await super().cull_kernel_if_idle(kernel_id)

        def remove_kernel(self, kernel_id):
            for record in (self._seats, self._connected_once):
                record.discard(kernel_id)
            self._started.pop(kernel_id, None)
            return super().remove_kernel(kernel_id)

    class DashboardHandler(TornadoVoilaHandler):
        """Voila's page, or the busy page (HTTP 503) when :class:`DashboardKernelManager` has no seat.

        It also sets the ``_xsrf`` cookie, which the page's shut-down-on-close request needs.
        """

        async def get(self, path=None):
            # Voila's page shuts its kernel down when it closes, by a POST that must carry the _xsrf
            # cookie; reading the token sets that cookie (otherwise the POST is refused and the kernel stays).
            self.xsrf_token  # noqa: B018
            try:
                await super().get(path)
            except ServerBusy as busy:
                self.clear()
                self.set_status(503)
                self.set_header("Retry-After", "60")
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.set_header("Cache-Control", "no-store")
                self.finish(_BUSY_PAGE.format(seats=html.escape(str(busy.args[0]))))

    _CLASSES.update(DashboardKernelManager=DashboardKernelManager, DashboardHandler=DashboardHandler)
    return _CLASSES


def _dashboard_app():
    from voila.app import Voila
    from voila.tornado.handler import TornadoVoilaHandler

    handler = _server_classes()["DashboardHandler"]

    class DashboardApp(Voila):
        """Voila serving :class:`DashboardHandler` in place of its page handler."""

        def init_handlers(self):
            return [
                (rule[0], handler, *rule[2:]) if rule[1] is TornadoVoilaHandler else rule
                for rule in super().init_handlers()
            ]

    return DashboardApp


if __name__ == "__main__":
    # run the imported module's main, so that Voila's configured classes and this one are the same objects
    from nsynth_widgets.dashboard_server import main as _main

    _main()
