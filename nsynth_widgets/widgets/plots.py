"""`PlotPanel`: a sound's waveform above its 16 encoding channels, its spectrogram and rainbowgram.

The images redraw when the session's sounds or encodings change or another sound is chosen.
The PNGs of the last few sounds are kept, so a change elsewhere in the session, or going back to
a sound already seen, redraws nothing.
"""

import threading

import ipywidgets
from matplotlib.figure import Figure

from ..plotting import encoding_figure, figure_to_png, plot_rainbowgram, plot_spectrogram, plot_waveform
from ..dsp.framing import SAMPLE_RATE
from ._common import Panel, png_image, run_task

__all__ = ["PlotPanel"]

_DPI = 80
_CACHED = 8  # sounds whose images are kept
_DRAWING = threading.Lock()  # matplotlib is not thread-safe: one drawing at a time


def _waveform_png(audio, encoding, hop_length, f0_channel):
    if encoding is None:
        figure = Figure(figsize=(10, 2.6), layout="constrained")
        ax = figure.add_subplot()
        plot_waveform(audio, SAMPLE_RATE, ax=ax)
        ax.set_title("Waveform (encode the sound to see its encoding channels here)")
    else:
        figure = encoding_figure(audio, encoding, hop_length, SAMPLE_RATE, f0_channel)
    return figure_to_png(figure, dpi=_DPI)


def _spectrum_png(plot, title):
    figure = Figure(figsize=(10, 3.2), layout="constrained")
    ax = figure.add_subplot()
    plot(ax)
    ax.set_title(title)
    return figure_to_png(figure, dpi=_DPI)


class PlotPanel(Panel):
    """Waveform + encoding, spectrogram and rainbowgram of one sound.

    Parameters
    ----------
    session : Session
    run_in_thread : bool
        Draw in a background thread (False: right away, as tests do).

    Attributes
    ----------
    sound : ipywidgets.Dropdown
        The sound on show (follows the latest selected one).
    waveform, spectrogram, rainbowgram : ipywidgets.Image
        PNG images; empty while there is nothing to show.
    error, message : ipywidgets.HTML
    """

    def __init__(self, session, run_in_thread=True):
        self._setup(session, run_in_thread)
        self.sound = ipywidgets.Dropdown(description="sound")
        self.waveform = png_image()
        self.spectrogram = png_image()
        self.rainbowgram = png_image()
        self._shown = None  # (name, audio, encoding) drawn or being drawn
        self._drawing = False
        self._pngs = {}  # name → (audio, encoding, PNGs) of recently drawn sounds
        self._draw_lock = threading.Lock()
        super().__init__(
            [
                ipywidgets.HTML("<b>Plots</b>: the encoding follows the sound's envelope on the same time axis"),
                self.sound,
                self.error,
                self.message,
                self.waveform,
                self.spectrogram,
                self.rainbowgram,
            ]
        )
        self.sound.observe(lambda _: self._redraw(), names="value")
        self.session.observe(self._guarded(lambda _: self._sounds_changed()), names="sounds")
        self.session.observe(self._guarded(lambda _: self._follow_selection(self.sound)), names="selected")
        self.session.observe(lambda _: self._redraw(), names="encodings")
        self._sounds_changed()
        self._follow_selection(self.sound)

    def _sounds_changed(self):
        self._set_options(self.sound, sorted(self.session.sounds))
        self._redraw()

    def _redraw(self):
        """Draw the chosen sound unless it is already on show; one drawing thread at a time."""
        if self._quiet:
            return
        name = self.sound.value
        target = (name, self.session.sounds.get(name), self.session.encodings.get(name))
        with self._draw_lock:
            shown = self._shown
            if shown is not None and all(a is b for a, b in zip(shown, target)):
                return
            self._shown = target
            if self._drawing:  # the running drawing picks the new target up when it ends
                return
            self._drawing = True
        self._thread = run_task(self._guarded(self._draw_latest), self.run_in_thread)

    def _draw_latest(self):
        while True:
            target = self._shown
            try:
                pngs = self._render(*target)
            except Exception:
                with self._draw_lock:
                    self._drawing = False
                raise
            with self._draw_lock:
                if self._shown is target:
                    self.waveform.value, self.spectrogram.value, self.rainbowgram.value = pngs
                    self._drawing = False
                    break
        if target[1] is not None:
            self._ok(f"Plotted '{target[0]}'.")

    def _render(self, name, audio, encoding):
        """PNG bytes of the three images (empty without a sound), from the cache when unchanged."""
        if audio is None:
            return b"", b"", b""
        cached = self._pngs.pop(name, None)
        if cached is not None and cached[0] is audio and cached[1] is encoding:
            pngs = cached[2]
        else:
            config = None if encoding is None else self.session.synthesizer.config
            hop_length, f0_channel = (None, None) if config is None else (config.hop_length, config.f0_channel)
            with _DRAWING:
                pngs = (
                    _waveform_png(audio, encoding, hop_length, f0_channel),
                    _spectrum_png(lambda ax: plot_spectrogram(audio, SAMPLE_RATE, ax=ax), "Spectrogram"),
                    _spectrum_png(
                        lambda ax: plot_rainbowgram(audio, SAMPLE_RATE, ax=ax),
                        "Rainbowgram (brightness: CQT magnitude, colour: instantaneous frequency)",
                    ),
                )
        self._pngs[name] = (audio, encoding, pngs)  # most recent last
        while len(self._pngs) > _CACHED:
            self._pngs.pop(next(iter(self._pngs)))
        return pngs
