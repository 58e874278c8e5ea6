"""How ``nsynth-widgets dashboard`` starts Voila on the packaged dashboard notebook.

Settings suit a public dashboard: sources stripped, no tracebacks shown to visitors, uploads
up to the loader's cap, TensorFlow's start-up log silenced, idle kernels culled.
"""

import os
import sys
from pathlib import Path

from .errors import ParameterError, describe

__all__ = ["DASHBOARD_NOTEBOOK", "MAX_UPLOAD_BYTES", "KERNEL_IDLE_TIMEOUT_S", "voila_command"]

#: The notebook Voila serves (identical to ``notebooks/dashboard.ipynb``; a test keeps them equal).
DASHBOARD_NOTEBOOK = Path(__file__).resolve().parent / "assets" / "dashboard.ipynb"

#: Largest upload the loader accepts (and the websocket message size Voila must allow).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024

#: A visitor's kernel is shut down after this many idle seconds.
KERNEL_IDLE_TIMEOUT_S = 1800


def voila_command(port=8866, host="127.0.0.1", open_browser=True, notebook=DASHBOARD_NOTEBOOK):
    """The argv that serves the dashboard.

    Parameters
    ----------
    port : int in [1, 65535]
    host : str
        Address to bind (``0.0.0.0`` for a classroom server).
    open_browser : bool
    notebook : str or os.PathLike

    Returns
    -------
    argv : list[str]
        Also sets ``TF_CPP_MIN_LOG_LEVEL`` in this process's environment so kernels inherit it.
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ParameterError(f"`port` must be an integer in [1, 65535]. Received: port={describe(port)}.")
    if not Path(notebook).is_file():
        raise ParameterError(f"`notebook` must be an existing notebook file. Received: notebook='{notebook}'.")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return [
        sys.executable, "-m", "nsynth_widgets.dashboard_server", str(notebook),
        f"--port={port}",
        f"--Voila.ip={host}",
        f"--Voila.open_browser={open_browser}",
        "--strip_sources=True",
        "--show_tracebacks=False",
        f"--MappingKernelManager.cull_idle_timeout={KERNEL_IDLE_TIMEOUT_S}",
        "--MappingKernelManager.cull_interval=60",
        "--theme=light",
    ]


def main(argv=None):
    """Start Voila with ``argv`` (as built by :func:`voila_command`), allowing uploads up to the cap.

    The websocket limit must reach tornado as an integer, which Voila's command line cannot
    express (``key=value`` gives a string), so it is set here on the application object.
    """
    from voila.app import Voila

    app = Voila.instance()
    app.initialize(sys.argv[1:] if argv is None else argv)
    # uploads travel as one binary websocket frame: allow the cap plus headroom for the message
    app.tornado_settings = {**app.tornado_settings, "websocket_max_message_size": MAX_UPLOAD_BYTES + 4 * 2**20}
    app.start()


if __name__ == "__main__":
    main()
