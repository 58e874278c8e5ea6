"""`Dashboard`: every panel in tabs, a model picker and a status line — the Voila app.

Building it is cheap: no model loads until the first encode or the Load button, and a tab's
panel (with its modules: matplotlib for the plots) is built when the tab is first opened or
the panel first asked for, so that a visitor's page shows its first tab quickly. The embedded
default model may be missing (a fresh checkout before training); the status line then says
so and asks for a checkpoint instead of failing.
"""

import importlib
import os

import ipywidgets

from ..errors import ParameterError, check_bool, describe
from ..runtime import DEFAULT_MODEL, Synthesizer, default_weights
from ._common import error_html, error_text, message_html, run_task
from .session import Session

__all__ = ["Dashboard"]

_MAX_PATH = 1000
#: Set to "0" (``nsynth-widgets dashboard --public`` does) to stop visitors loading models from server paths.
MODEL_PATHS_ENV = "NSYNTH_WIDGETS_MODEL_PATHS"
_SOURCES = [("embedded default", DEFAULT_MODEL), ("checkpoint or weights file", "path")]
#: Decoder width from which generation is bound by memory, so int8 weights pay off most.
_INT8_HINT_WIDTH = 256
#: The tabs: (title, attribute, module, panel class), in order.
_TABS = (
    ("Load", "loader", "loader", "LoadPanel"),
    ("Encode", "encoder", "encoder", "EncodePanel"),
    ("Plots", "plots", "plots", "PlotPanel"),
    ("Resynthesize", "resynth", "resynth", "ResynthPanel"),
    ("Mix", "mixer", "mixer", "MixPanel"),
    ("Pad", "pad", "pad", "PadPanel"),
    ("Play", "play", "play", "PlayPanel"),
)


def _default_model_missing():
    """Text explaining that the embedded weights are absent, or "" when they are there."""
    weights = default_weights()
    if weights.is_file():
        return ""
    return (
        "The embedded default model is not installed (no file at "
        f"'{weights}'): choose a checkpoint or weights file above and press Load model."
    )


class Dashboard(ipywidgets.VBox):
    """Load, encode, plot, resynthesize, mix, play a pad and a keyboard, in one tabbed app.

    Parameters
    ----------
    model : str or os.PathLike or NSynth or Synthesizer
        The model to start with (see :func:`~nsynth_widgets.runtime.load_model`); it loads on
        first use. Ignored when ``session`` is given.
    session : Session or None
        Share state with other panels or a notebook.
    run_in_thread : bool
        Do long work in background threads (False: right away, as tests do).
    model_paths : bool or None
        Offer loading a checkpoint or weights file by its path on the server. None (default):
        yes unless the environment variable ``NSYNTH_WIDGETS_MODEL_PATHS`` is ``"0"`` — a
        public dashboard should not let visitors make the server open files they name.

    Attributes
    ----------
    session : Session
    loader, encoder, plots, resynth, mixer, pad, play : the panels
        Each is built on first access or when its tab is first opened.
    tabs : ipywidgets.Tab
        One box per panel, filled with the panel when it is built.
    model_source, model_path, load_button : ipywidgets.Dropdown, ipywidgets.Text, ipywidgets.Button
        Pick the embedded default or a checkpoint prefix / ``.npz`` weights file on the server.
    precision : ipywidgets.ToggleButtons
        The decoder weights every synthesis uses (``session.precision``): float32; int8 —
        about 4× faster with the published model, 1.4× with the embedded one, slightly different;
        or w8a8 (int8 activations too), the fastest for batches.
    model_status, status : ipywidgets.HTML
        What model is in use, and the latest message or error of any panel.
    """

    def __init__(self, model=DEFAULT_MODEL, session=None, run_in_thread=True, model_paths=None):
        if session is None:
            session = Session(model)
        elif not isinstance(session, Session):
            raise ParameterError(
                f"`session` must be a nsynth_widgets Session or None. Received: session={describe(session)}."
            )
        run_in_thread = check_bool("run_in_thread", run_in_thread)
        model_paths = check_bool("model_paths", model_paths, optional=True)
        if model_paths is None:
            model_paths = os.environ.get(MODEL_PATHS_ENV, "1") != "0"
        self.session = session
        self.run_in_thread = run_in_thread
        self.model_paths = model_paths
        self._thread = None
        self._model_named = False
        self.model_source = ipywidgets.Dropdown(options=_SOURCES, description="model")
        self.model_path = ipywidgets.Text(
            placeholder="wavenet-ckpt/model.ckpt-200000 or weights.npz",
            description="path",
            layout=ipywidgets.Layout(width="28em"),
        )
        self.load_button = ipywidgets.Button(description="Load model", icon="download")
        self.precision = ipywidgets.ToggleButtons(
            options=[("float32", "float32"), ("int8 (faster)", "int8"), ("w8a8 (batches)", "w8a8")],
            value=session.precision,
            description="weights",
            tooltips=[
                "the model's own weights",
                "int8 weights: a quarter of the memory traffic, slightly different sound",
                "int8 weights and activations: the fastest for batches (the Play keyboard), a little further "
                "from float32",
            ],
        )
        self.model_status = ipywidgets.HTML()
        self.status = ipywidgets.HTML()
        self._panels = {}
        self._boxes = {attribute: ipywidgets.VBox() for _, attribute, _, _ in _TABS}
        self.tabs = ipywidgets.Tab(list(self._boxes.values()), titles=tuple(title for title, *_ in _TABS))
        self.tabs.observe(lambda change: self._open_tab(change["new"]), names="selected_index")
        self._open_tab(self.tabs.selected_index)
        super().__init__(
            [
                ipywidgets.HTML("<h2>NSynth: encode, resynthesize and mix sounds</h2>"),
                ipywidgets.HBox(
                    [self.model_source, self.model_path, self.load_button],
                    layout=ipywidgets.Layout(display=None if model_paths else "none"),
                ),
                self.precision,
                self.model_status,
                self.status,
                self.tabs,
            ]
        )
        self.load_button.on_click(lambda _: self._load())
        self.precision.observe(lambda _: self._set_precision(), names="value")
        session.observe(lambda change: setattr(self.precision, "value", change["new"]), names="precision")
        session.observe(lambda _: self._show_status(), names=["status", "error"])
        session.observe(lambda _: self._model_in_use(), names="encodings")
        missing = _default_model_missing() if isinstance(model, str) and model == DEFAULT_MODEL else ""
        self.model_status.value = error_html(missing) if missing else "Model: loads on first use."

    loader = property(lambda self: self._panel("loader"))
    encoder = property(lambda self: self._panel("encoder"))
    plots = property(lambda self: self._panel("plots"))
    resynth = property(lambda self: self._panel("resynth"))
    mixer = property(lambda self: self._panel("mixer"))
    pad = property(lambda self: self._panel("pad"))
    play = property(lambda self: self._panel("play"))

    def wait(self, timeout=None):
        """Block until background work of the dashboard and its (built) panels has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        for panel in list(self._panels.values()):
            panel.wait(timeout)

    def _panel(self, attribute):
        """The panel shown as ``attribute``, built (and put in its tab) on first use."""
        if attribute not in self._panels:
            _, _, module, name = next(tab for tab in _TABS if tab[1] == attribute)
            panel_class = getattr(importlib.import_module(f"{__package__}.{module}"), name)
            self._panels[attribute] = panel_class(self.session, self.run_in_thread)
            self._boxes[attribute].children = (self._panels[attribute],)
        return self._panels[attribute]

    def _open_tab(self, index):
        if isinstance(index, int) and 0 <= index < len(_TABS):
            self._panel(_TABS[index][1])

    def _load(self):
        if self._thread is not None and self._thread.is_alive():
            self.model_status.value = error_html("A model is loading: wait for it to finish.")
            return
        try:
            spec = self._model_spec()
        except ParameterError as error:
            self.model_status.value = error_html(str(error))
            return
        self.model_status.value = message_html("Loading the model…")

        def load():
            try:
                synthesizer = Synthesizer(spec)
                description = synthesizer.description  # loads the weights now, in this thread
            except Exception as error:  # shown in the status line; the old model stays in use
                self.model_status.value = error_html(error_text(error))
                return
            self._model_named = True
            self.session.synthesizer = synthesizer
            hint = ""
            if synthesizer.config.width >= _INT8_HINT_WIDTH and self.session.precision == "float32":
                hint = " — a large model: the int8 weights toggle generates about 4× faster"
            self.model_status.value = message_html(f"Model: {description}{hint}")

        self._thread = run_task(load, self.run_in_thread)

    def _set_precision(self):
        try:
            self.session.precision = self.precision.value
        except ParameterError as error:  # a tampered value: say so, keep the setting in force
            self.status.value = error_html(str(error))
            self.precision.value = self.session.precision

    def _model_spec(self):
        source = self.model_source.value
        if source == DEFAULT_MODEL:
            return DEFAULT_MODEL
        if source != "path" or not self.model_paths:
            raise ParameterError(
                f"`model_source` must be one of {[v for _, v in _SOURCES]}. Received: model_source={describe(source)}."
            )
        path = self.model_path.value
        if not isinstance(path, str) or not path.strip() or len(path) > _MAX_PATH:
            raise ParameterError(
                f"`path` must be a checkpoint prefix or .npz weights file on the server (at most {_MAX_PATH} "
                f"characters). Received: path={describe(path)}."
            )
        return path.strip()

    def _model_in_use(self):
        """After the first encode the model is loaded: name it in the status line."""
        if self.session.encodings and not self._model_named:
            self._model_named = True
            self.model_status.value = message_html(f"Model: {self.session.synthesizer.description}")

    def _show_status(self):
        error, status = self.session.error, self.session.status
        self.status.value = error_html(error) if error else message_html(status)
