"""`PadPanel`: an NSynth-Super-style pad — four corner sounds, a grid of latent mixes in between.

Every grid point mixes the four corner encodings with bilinear weights
(:func:`~nsynth_widgets.dsp.mix.bilinear_grid`). "Precompute" synthesizes all points as one batch
through :mod:`nsynth_widgets.grid`, the code :func:`~nsynth_widgets.grid.render_grid` renders
instrument grids with (the pad equals ``render_grid`` of the same corners with
``batch_size=size**2``); moving on the pad then plays a point instantly.
"""

import html

import ipywidgets

from ..dsp.mix import bilinear_grid
from ..errors import ParameterError, check_choice, check_integer
from ..grid import grid_mixes, synthesize_batch
from ._common import BUSY, CHUNK_SIZE, Panel, SynthesisJob, audio_player, wav

__all__ = ["PadPanel", "pad_weights", "CORNERS", "GRID_RANGE"]

#: Corner order, as :func:`~nsynth_widgets.dsp.mix.bilinear_weights` weights them.
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
#: Grid sizes a visitor may choose (points per side).
GRID_RANGE = (2, 5)


def pad_weights(size):
    """Corner weights of every point of a ``size × size`` pad.

    Parameters
    ----------
    size : int
        Points per side, in :data:`GRID_RANGE`.

    Returns
    -------
    weights : np.ndarray [shape=(size, size, 4)]
        ``weights[row, column]`` for x = column / (size - 1) (left → right) and
        y = row / (size - 1) (top → bottom), in :data:`CORNERS` order.
    """
    return bilinear_grid(check_integer("size", size, *GRID_RANGE))


class PadPanel(Panel):
    """Four corner sounds, a precomputed grid of mixes, instant playback of any point.

    Parameters
    ----------
    session : Session
    run_in_thread : bool
        Synthesize in a background thread (False: right away, as tests do).

    Attributes
    ----------
    corners : tuple of 4 ipywidgets.Dropdown
        Sources in :data:`CORNERS` order (names with a sound or an encoding).
    grid_size : ipywidgets.IntSlider
        Points per side.
    precompute_button : ipywidgets.Button
    job : SynthesisJob
        Progress and Stop for the batched synthesis.
    x, y : ipywidgets.IntSlider
        The point played (column, row).
    pad_view : ipywidgets.HTML
        The grid with the chosen point and its corner weights.
    player : ipywidgets.Audio
    grid_audio : np.ndarray [shape=(size, size, n)] or None
        The precomputed points (``[row, column]``); None until computed, and again after a change
        of corners or size.
    error, message : ipywidgets.HTML
    """

    def __init__(self, session, run_in_thread=True):
        self._setup(session, run_in_thread)
        self.corners = tuple(ipywidgets.Dropdown(description=corner) for corner in CORNERS)
        self.grid_size = ipywidgets.IntSlider(
            3, min=GRID_RANGE[0], max=GRID_RANGE[1], description="grid", continuous_update=False
        )
        self.precompute_button = ipywidgets.Button(description="Precompute", button_style="primary", icon="th")
        self.job = SynthesisJob(run_in_thread, show_partial=False)
        self.x = ipywidgets.IntSlider(0, min=0, max=self.grid_size.value - 1, description="x")
        self.y = ipywidgets.IntSlider(0, min=0, max=self.grid_size.value - 1, description="y")
        self.pad_view = ipywidgets.HTML()
        self.player = audio_player()
        self.grid_audio = None
        self._grid_names = self._grid_encodings = None
        super().__init__(
            [
                ipywidgets.HTML("<b>Pad</b>: four corner sounds, bilinear latent mixes in between (NSynth Super)"),
                ipywidgets.HBox(list(self.corners[:2])),
                ipywidgets.HBox(list(self.corners[2:])),
                ipywidgets.HBox([self.grid_size, self.precompute_button]),
                self.job,
                self.error,
                self.message,
                ipywidgets.HBox([ipywidgets.VBox([self.x, self.y, self.player]), self.pad_view]),
            ]
        )
        self.precompute_button.on_click(self._guarded(lambda _: self._start()))
        for control in (*self.corners, self.grid_size):
            control.observe(self._guarded(lambda _: self._settings_changed()), names="value")
        for control in (self.x, self.y):
            control.observe(self._guarded(lambda _: self._play()), names="value")
        self.session.observe(self._guarded(lambda _: self._names_changed()), names=["sounds", "encodings"])
        self._names_changed()

    def wait(self, timeout=None):
        """Block until a running precomputation has finished."""
        self.job.wait(timeout)

    def _start(self):
        names = self.session.names()
        sources = tuple(
            check_choice(corner.replace("-", "_"), widget.value, names) for corner, widget in zip(CORNERS, self.corners)
        )
        size = check_integer("grid_size", self.grid_size.value, *GRID_RANGE)
        weights = pad_weights(size).reshape(-1, 4)
        corners = []

        def work(progress, cancel):
            encodings = self.session.encode(list(sources))
            corners.extend(encodings[name] for name in sources)
            return synthesize_batch(  # the whole pad is batch 0 of its grid
                self.session.synthesizer,
                grid_mixes(corners, weights),
                seed=0,
                batch=0,
                chunk_size=CHUNK_SIZE,
                progress=progress,
                cancel=cancel,
                precision=self.session.precision,
            )

        def done(audio):
            self.grid_audio = audio.reshape(size, size, -1)
            self._grid_names, self._grid_encodings = sources, tuple(corners)
            with self._quietly():
                for slider in (self.x, self.y):
                    slider.max = size - 1
            self._ok(f"Precomputed {size * size} points of {audio.shape[1]} samples: move x and y to play them.")
            self._play()

        def cancelled(_partial):
            self._ok("Stopped: press Precompute to fill the pad.")

        if not self.job.start(work, done, cancelled, self._fail):
            self._fail(BUSY)

    def _names_changed(self):
        names = self.session.names()
        for widget in self.corners:
            self._set_options(widget, names)
        if names and len({widget.value for widget in self.corners}) == 1:  # untouched: spread the corners
            with self._quietly():
                for i, widget in enumerate(self.corners):
                    widget.value = names[i % len(names)]
        self._settings_changed()

    def _settings_changed(self):
        """Forget a grid that no longer matches the corners, their encodings or the size."""
        if self._quiet or self.grid_audio is None:
            return
        names = tuple(w.value for w in self.corners)
        same_encodings = all(self.session.encodings.get(n) is e for n, e in zip(names, self._grid_encodings))
        if names != self._grid_names or not same_encodings or self.grid_audio.shape[0] != self.grid_size.value:
            self.grid_audio = None
            self.player.value = b""
            self.pad_view.value = ""
            self._ok("The corners, their sounds or the grid changed: press Precompute.")

    def _play(self):
        if self._quiet:
            return
        if self.grid_audio is None:
            raise ParameterError(
                "`grid` must be precomputed before a point is played: press Precompute. Received: grid=None."
            )
        size = self.grid_audio.shape[0]
        column = check_integer("x", self.x.value, 0, size - 1)
        row = check_integer("y", self.y.value, 0, size - 1)
        self.player.value = wav(self.grid_audio[row, column])
        self.pad_view.value = self._pad_html(row, column)

    def _pad_html(self, row, column):
        size = self.grid_audio.shape[0]
        cells = "".join(
            "<tr>"
            + "".join(
                f'<td style="width:1.6em;height:1.6em;border:1px solid #999;'
                f'background:{"#1976d2" if (r, c) == (row, column) else "#eee"}"></td>'
                for c in range(size)
            )
            + "</tr>"
            for r in range(size)
        )
        weights = pad_weights(size)[row, column]
        listing = ", ".join(f"{html.escape(name)} {w:.2f}" for name, w in zip(self._grid_names, weights))
        return f'<table style="border-collapse:collapse">{cells}</table><small>weights: {listing}</small>'
