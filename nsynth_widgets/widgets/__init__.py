"""Jupyter widgets for nsynth_widgets: a shared :class:`Session` and one panel per task.

Every panel **is** an :class:`ipywidgets.VBox` built on a :class:`Session` (display it directly
or compose several); :class:`Dashboard` puts them all in tabs for Voila. Long work (model load,
synthesis) runs in a background thread unless ``run_in_thread=False``; every value a visitor
can set is validated on the server and a bad one shows a message, leaving the state as it was.

>>> from nsynth_widgets.widgets import Session, LoadPanel, ResynthPanel
>>> session = Session()                  # the embedded default model, loaded on first use
>>> LoadPanel(session)                   # upload, example or microphone
>>> ResynthPanel(session)                # progress, Stop, partial audio, comparison

Modules load on first access, so ``nsynth_widgets.widgets.teaching`` stays cheap to import.
"""

import importlib

_LAZY = {
    "Session": "session",
    "LoadPanel": "loader",
    "Recorder": "recorder",
    "EncodePanel": "encoder",
    "PlotPanel": "plots",
    "ResynthPanel": "resynth",
    "MixPanel": "mixer",
    "PadPanel": "pad",
    "PlayPanel": "play",
    "Dashboard": "dashboard",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
