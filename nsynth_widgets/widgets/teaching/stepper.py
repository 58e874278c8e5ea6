"""Autoregression one sample at a time: predict a distribution, draw a sample, feed it back.

At every step the WaveNet decoder outputs 256 logits, one per mu-law class of the next
sample. Dividing them by a temperature ``T`` and taking a softmax gives the distribution a
sample is drawn from (``T < 1`` sharpens it, ``T > 1`` flattens it; greedy decoding takes the
most likely class). The drawn class is fed back as the network's next input (``code / 128``)
and heard as its mu-law decoded value. :class:`Stepper` drives the incremental decoder of
:meth:`Synthesizer.incremental_decoder <nsynth_widgets.runtime.Synthesizer.incremental_decoder>`
with a seeded generator, so stepping by hand gives exactly the samples synthesis makes with the
same seed.
"""

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from ...audio import to_wav_bytes
from ...encodings import validate_encoding
from ...errors import ParameterError, check_bool, check_integer, check_number, describe
from ...plotting import figure_to_png
from ...runtime import Synthesizer
from .._common import error_html

__all__ = ["temperature_softmax", "entropy_bits", "Stepper"]

_TEMPERATURE_RANGE = (0.01, 10.0)  # beyond these, 1 / T under- or overflows the sampler's exponentials
_BIG_STEP = 100


# --------------------------------------------------------------------------------------------
# pure computations


def _check_temperature(temperature):
    return check_number("temperature", temperature, *_TEMPERATURE_RANGE)


def temperature_softmax(logits, temperature=1.0):
    """The distribution a sample is drawn from: ``softmax(logits / temperature)``.

    Parameters
    ----------
    logits : np.ndarray [shape=(..., classes)], float
    temperature : float
        In [0.01, 10].

    Returns
    -------
    probabilities : np.ndarray [shape=(..., classes)], float64, summing to 1 along the last axis
    """
    temperature = _check_temperature(temperature)
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    if scaled.ndim == 0 or scaled.shape[-1] == 0 or not np.isfinite(scaled).all():
        raise ParameterError(
            f"`logits` must be a finite array with at least one class. Received: logits={describe(np.asarray(logits))}."
        )
    weights = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def entropy_bits(probabilities):
    """Shannon entropy ``-sum(p log2 p)`` of distributions along the last axis (0 log 0 = 0).

    Parameters
    ----------
    probabilities : np.ndarray [shape=(..., classes)], float

    Returns
    -------
    entropy : float or np.ndarray [shape=(...)]
        Between 0 (one sure class) and ``log2(classes)`` (uniform).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=-1)


# --------------------------------------------------------------------------------------------
# the widget


class Stepper(ipywidgets.VBox):
    """Generate from an encoding one click at a time and watch each prediction.

    The panel is itself an :class:`ipywidgets.VBox`: display it directly. Every value is checked
    on the server; an invalid one shows a message in :attr:`error` and changes nothing else.

    Parameters
    ----------
    model : Synthesizer or NSynth or str or os.PathLike
        The model to step (anything :class:`~nsynth_widgets.runtime.Synthesizer` takes, e.g.
        ``NSynth.default()`` or ``"default"``); loaded now.
    encoding : np.ndarray [shape=(frames, E) or (1, frames, E)]
        What to decode; ``frames * hop_length`` samples can be generated.
    seed : int
        Seeds the sampling generator (again at every Reset).
    temperature : float
        Starting temperature, in [0.01, 10] (the slider spans 0.05 to 2).
    greedy : bool
        Start in greedy mode (take the most likely class).

    Attributes
    ----------
    last_logits : np.ndarray [shape=(256,)] or None
        Logits of the latest generated sample.
    distribution : np.ndarray [shape=(256,)] or None
        ``temperature_softmax(last_logits, temperature.value)``: the bars on show.
    """

    def __init__(self, model, encoding, seed=0, temperature=1.0, greedy=False):
        self._synthesizer = model if isinstance(model, Synthesizer) else Synthesizer(model)
        self._encoding = validate_encoding(encoding, self._synthesizer.config.bottleneck_width)
        if self._encoding.shape[0] != 1:
            raise ParameterError(
                f"`encoding` must hold one sound: shape (frames, E) or (1, frames, E). "
                f"Received: encoding={describe(self._encoding)}."
            )
        self.seed = check_integer("seed", seed, 0)
        greedy = check_bool("greedy", greedy)
        self.step_button = ipywidgets.Button(description="Step", tooltip="generate one sample")
        self.step_many_button = ipywidgets.Button(description=f"Step ×{_BIG_STEP}")
        self.reset_button = ipywidgets.Button(description="Reset", button_style="warning")
        self.temperature = ipywidgets.FloatSlider(
            _check_temperature(temperature),
            min=0.05,
            max=2.0,
            step=0.05,
            description="temperature",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.greedy = ipywidgets.Checkbox(greedy, description="greedy (most likely class)")
        self.image = ipywidgets.Image(format="png")
        self.player = ipywidgets.Audio(format="wav", autoplay=False, loop=False)
        self.status = ipywidgets.HTML()
        self.error = ipywidgets.HTML()
        super().__init__(
            [
                ipywidgets.HBox([self.step_button, self.step_many_button, self.reset_button]),
                ipywidgets.HBox([self.temperature, self.greedy]),
                self.error,
                self.status,
                self.image,
                self.player,
            ]
        )
        self.step_button.on_click(lambda _: self._advance(1))
        self.step_many_button.on_click(lambda _: self._advance(_BIG_STEP))
        self.reset_button.on_click(lambda _: self.reset())
        self.temperature.observe(self._on_temperature, names="value")
        self.reset()

    # -- state -------------------------------------------------------------------------------
    @property
    def position(self):
        """Samples generated so far."""
        return self._decoder.position

    @property
    def total(self):
        """Samples the encoding describes (``frames * hop_length``)."""
        return self._decoder.total

    @property
    def classes(self):
        """Generated classes so far: ``np.ndarray [shape=(position,)]``, int32 (a copy)."""
        return self._decoder.classes[0, : self.position].copy()

    @property
    def audio(self):
        """Generated audio so far: ``np.ndarray [shape=(position,)]``, float32."""
        return self._synthesizer.model.generated_audio(self.classes)

    def reset(self):
        """Forget every generated sample and reseed the generator."""
        self._decoder = self._synthesizer.incremental_decoder(self._encoding)
        self._rng = np.random.default_rng(self.seed)
        self.last_logits = None
        self.distribution = None
        self.error.value = ""
        self._render()

    # -- events ------------------------------------------------------------------------------
    def _advance(self, n_steps):
        try:
            temperature = _check_temperature(self.temperature.value)
        except ParameterError as error:
            self.error.value = error_html(str(error))
            return
        if self.position >= self.total:
            self.error.value = error_html(
                f"All {self.total} samples this encoding describes are generated: press Reset to start again."
            )
            return
        logits = self._decoder.step(
            n_steps, rng=self._rng, temperature=temperature, greedy=bool(self.greedy.value), record_logits=True
        )
        self.last_logits = logits[0, -1].copy()
        self._drawn_with = "greedily (the tallest bar)" if self.greedy.value else f"at T = {temperature:.2f}"
        self.error.value = ""
        self._render()

    def _on_temperature(self, change):
        try:
            _check_temperature(change["new"])
        except ParameterError as error:
            self.error.value = error_html(str(error))
            return
        self.error.value = ""
        self._render()

    # -- display -----------------------------------------------------------------------------
    def _render(self):
        """Redraw from the current state with the (valid) temperature on the slider."""
        figure = Figure(figsize=(9, 5))
        dist_ax, wave_ax = figure.subplots(2, 1)
        temperature = float(self.temperature.value)
        if self.last_logits is None:
            self.distribution = None
            self.status.value = f"0 of {self.total} samples generated. Press Step."
            dist_ax.text(0.5, 0.5, "press Step", ha="center", va="center", transform=dist_ax.transAxes)
        else:
            self.distribution = temperature_softmax(self.last_logits, temperature)
            chosen = int(self.classes[-1])
            dist_ax.bar(np.arange(self.distribution.size), self.distribution, width=1.0, color="tab:blue")
            dist_ax.axvline(chosen, color="tab:red", linewidth=1.0, label=f"drawn: class {chosen}")
            dist_ax.legend(fontsize=8, loc="upper left")
            entropy = float(entropy_bits(self.distribution))
            self.status.value = (
                f"<b>{self.position} of {self.total} samples generated.</b> "
                f"Sample {self.position - 1} was drawn {self._drawn_with}: class {chosen}, "
                f"heard as x = {float(self.audio[-1]):+.4f}, fed back to the network as "
                f"code / 128 = {(chosen - 128) / 128:+.4f}.<br>"
                f"Bars: softmax(logits / T) at T = {temperature:.2f}; entropy {entropy:.2f} bits "
                f"(of at most 8); p(class {chosen}) = {self.distribution[chosen]:.3f}."
            )
        dist_ax.set(
            xlim=(-0.5, 255.5),
            xlabel="class (mu-law code + 128)",
            ylabel="probability",
            title="distribution of the latest sample",
        )
        wave_ax.plot(np.arange(self.position), self.audio, linewidth=0.8)
        wave_ax.set(
            xlim=(0, self.total), ylim=(-1.0, 1.0), xlabel="sample", ylabel="amplitude", title="waveform so far"
        )
        figure.tight_layout()
        self.image.value = figure_to_png(figure, dpi=80)
        self.player.value = to_wav_bytes(self.audio) if self.position else b""
