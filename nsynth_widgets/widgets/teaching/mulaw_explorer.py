"""What mu-law quantization does to a sound: the companding curve, the error, the classes.

WaveNet predicts one of ``2**bits`` classes per sample. Mu-law companding spends those
classes unevenly: small steps near zero (where quiet sounds live), large steps near full
scale, so the error stays roughly proportional to the signal. The pure functions below use
NSynth's own mu-law (:mod:`nsynth_widgets.dsp.mulaw`); ``mu=None`` selects a plain uniform
(linear) quantizer with the same codes for comparison. :class:`MuLawExplorer` is a thin
ipywidgets panel on top.
"""

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from ...audio import to_wav_bytes, validate_audio
from ...dsp.framing import SAMPLE_RATE
from ...dsp.mulaw import mu_law_decode, mu_law_encode
from ...errors import AudioError, ParameterError, check_bool, check_choice, check_integer, check_number, describe
from ...plotting import figure_to_png
from .._common import error_html

__all__ = ["SOUNDS", "compand", "quantize_audio", "mulaw_classes", "quantization_snr", "demo_sound", "MuLawExplorer"]

#: Synthetic sounds :func:`demo_sound` makes: a 441 Hz sine and a 50 Hz → 7 kHz sweep, full scale.
SOUNDS = ("sine", "chirp")

_MAX_MU = 1023
_BITS_RANGE = (2, 16)
_SNIPPET = 200  # samples shown in the waveform, error and class plots


# --------------------------------------------------------------------------------------------
# pure computations


def _codes(audio, mu, bits):
    """Signed codes in ``[-2**(bits-1), 2**(bits-1) - 1]``: mu-law, or uniform when ``mu`` is None."""
    if mu is not None:
        return mu_law_encode(audio, mu, bits)
    half = 2 ** (bits - 1)
    return np.clip(np.floor(np.asarray(audio, np.float64) * half), -half, half - 1).astype(np.int32)


def compand(x, mu=255):
    """The continuous mu-law curve ``sign(x) * log(1 + mu |x|) / log(1 + mu)``.

    Parameters
    ----------
    x : np.ndarray [shape=(...,)], float
        Values in [-1, 1] (clipped).
    mu : int or None
        Companding strength; None gives the identity (a uniform quantizer's "curve").

    Returns
    -------
    y : np.ndarray [shape=(...,)], float64, in [-1, 1]
    """
    mu = check_integer("mu", mu, 1, optional=True)  # None: uniform
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    return x if mu is None else np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)


def quantize_audio(audio, mu=255, bits=8):
    """Audio after quantization to ``2**bits`` classes and back.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (batch, n)], float in [-1, 1]
    mu : int or None
        Mu-law strength (NSynth: 255), or None for a uniform quantizer whose codes
        ``floor(x * 2**(bits-1))`` decode to the centres of their steps.
    bits : int
        In [1, 16].

    Returns
    -------
    quantized : np.ndarray [shape=(n,) or (batch, n)], float32
    """
    mu = check_integer("mu", mu, 1, optional=True)  # None: uniform
    bits = check_integer("bits", bits, 1, 16)
    audio = validate_audio(audio, allow_silence=True)
    codes = _codes(audio, mu, bits)
    if mu is not None:
        return mu_law_decode(codes, mu, bits)
    return ((codes + 0.5) / 2 ** (bits - 1)).astype(np.float32)


def mulaw_classes(audio, mu=255, bits=8):
    """The class (``code + 2**(bits-1)``, in ``[0, 2**bits)``) each sample falls into.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (batch, n)], float in [-1, 1]
    mu : int or None
    bits : int

    Returns
    -------
    classes : np.ndarray [shape=(n,) or (batch, n)], int32
    """
    mu = check_integer("mu", mu, 1, optional=True)  # None: uniform
    bits = check_integer("bits", bits, 1, 16)
    audio = validate_audio(audio, allow_silence=True)
    return _codes(audio, mu, bits) + np.int32(2 ** (bits - 1))


def quantization_snr(audio, mu=255, bits=8):
    """Signal-to-quantization-noise ratio in dB: ``10 log10(sum(x**2) / sum((x - q(x))**2))``.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (batch, n)], float in [-1, 1], not silent
    mu : int or None
    bits : int

    Returns
    -------
    snr_db : float
        ``inf`` when quantization is exact.
    """
    mu = check_integer("mu", mu, 1, optional=True)  # None: uniform
    bits = check_integer("bits", bits, 1, 16)
    clean = validate_audio(audio).astype(np.float64)
    error = clean - quantize_audio(clean, mu, bits)
    noise = float(np.sum(error**2))
    return float("inf") if noise == 0 else float(10.0 * np.log10(np.sum(clean**2) / noise))


def demo_sound(kind="sine", seconds=1.0, sample_rate=SAMPLE_RATE):
    """A synthetic full-scale test sound.

    Parameters
    ----------
    kind : {"sine", "chirp"}
        A 441 Hz sine (at 16 kHz every sampled phase is distinct, so the quantization error
        behaves like noise), or an exponential sweep from 50 Hz to 7 kHz; both of amplitude 1.
    seconds : float
        Duration (> 0, at most 60).
    sample_rate : int

    Returns
    -------
    audio : np.ndarray [shape=(round(seconds * sample_rate),)], float32
    """
    check_choice("kind", kind, SOUNDS)
    seconds = check_number("seconds", seconds, 0, 60, low_open=True)
    sample_rate = check_integer("sample_rate", sample_rate, 1)
    t = np.arange(max(1, round(seconds * sample_rate))) / sample_rate
    if kind == "sine":
        phase = 2 * np.pi * 441.0 * t
    else:
        f0, f1 = 50.0, min(7000.0, 0.45 * sample_rate)
        rate = np.log(f1 / f0) / seconds
        phase = 2 * np.pi * f0 * np.expm1(rate * t) / rate
    return np.sin(phase).astype(np.float32)


# --------------------------------------------------------------------------------------------
# the widget


class MuLawExplorer(ipywidgets.VBox):
    """Sliders for mu and bit depth; the curve, the error, the classes, and both sounds to hear.

    The panel is itself an :class:`ipywidgets.VBox`: display it directly. Every value is checked
    on the server; an invalid one shows a message in :attr:`error` and leaves the previous
    plots, players and :attr:`state` in place.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,) or (1, n)], float in [-1, 1], optional
        A sound of your own (offered as "your sound", selected first); the synthetic
        :data:`SOUNDS` are always offered.
    mu : int
        Starting mu, in [1, 1023].
    bits : int
        Starting bit depth, in [2, 16].
    sample_rate : int
        Rate of ``audio`` (and of the synthetic sounds).

    Attributes
    ----------
    state : dict
        What is on show: ``sound``, ``mu`` (None when uniform), ``bits``, ``quantized``
        (float32 array), ``snr_db``, ``uniform_snr_db`` (a uniform quantizer with the same bits)
        and ``classes_used`` (distinct classes the sound occupies).
    """

    def __init__(self, audio=None, mu=255, bits=8, sample_rate=SAMPLE_RATE):
        mu = check_integer("mu", mu, 1, _MAX_MU)
        bits = check_integer("bits", bits, *_BITS_RANGE)
        self.sample_rate = check_integer("sample_rate", sample_rate, 1)
        self._sounds = {kind: demo_sound(kind, 1.0, self.sample_rate) for kind in SOUNDS}
        if audio is not None:
            own = validate_audio(audio)
            if own.ndim == 2 and own.shape[0] != 1:
                raise AudioError(f"`audio` must hold one sound, shape (n,) or (1, n). Received: audio={describe(own)}.")
            self._sounds = {"your sound": own.reshape(-1), **self._sounds}
        style = {"description_width": "initial"}
        self.sound = ipywidgets.Dropdown(options=list(self._sounds), description="sound")
        self.mu = ipywidgets.IntSlider(mu, min=1, max=_MAX_MU, description="μ", continuous_update=False)
        self.bits = ipywidgets.IntSlider(
            bits, min=_BITS_RANGE[0], max=_BITS_RANGE[1], description="bits", continuous_update=False
        )
        self.uniform = ipywidgets.Checkbox(False, description="uniform quantizer (no μ-law)", style=style)
        self.original_player = ipywidgets.Audio(format="wav", autoplay=False, loop=False)
        self.quantized_player = ipywidgets.Audio(format="wav", autoplay=False, loop=False)
        self.image = ipywidgets.Image(format="png")
        self.numbers = ipywidgets.HTML()
        self.error = ipywidgets.HTML()
        self.state = {}
        super().__init__(
            [
                ipywidgets.HBox([self.sound, self.uniform]),
                ipywidgets.HBox([self.mu, self.bits]),
                self.error,
                self.numbers,
                ipywidgets.HBox(
                    [
                        ipywidgets.VBox([ipywidgets.HTML("original"), self.original_player]),
                        ipywidgets.VBox([ipywidgets.HTML("quantized"), self.quantized_player]),
                    ]
                ),
                self.image,
            ]
        )
        for control in (self.sound, self.mu, self.bits, self.uniform):
            control.observe(self._update, names="value")
        self._update()

    def _settings(self):
        sound = check_choice("sound", self.sound.value, self._sounds)
        mu = None if check_bool("uniform", self.uniform.value) else check_integer("mu", self.mu.value, 1, _MAX_MU)
        return sound, mu, check_integer("bits", self.bits.value, *_BITS_RANGE)

    def _update(self, change=None):
        try:
            sound, mu, bits = self._settings()
        except ParameterError as error:
            self.error.value = error_html(str(error))
            return
        self.error.value = ""
        self.mu.disabled = mu is None
        audio = self._sounds[sound]
        quantized = quantize_audio(audio, mu, bits)
        classes = mulaw_classes(audio, mu, bits)
        snr, uniform_snr = quantization_snr(audio, mu, bits), quantization_snr(audio, None, bits)
        if sound != self.state.get("sound"):
            self.original_player.value = to_wav_bytes(audio, self.sample_rate)
        self.quantized_player.value = to_wav_bytes(quantized, self.sample_rate)
        self.image.value = figure_to_png(_figure(audio, quantized, classes, mu, bits, snr), dpi=80)
        self.state = dict(
            sound=sound,
            mu=mu,
            bits=bits,
            quantized=quantized,
            snr_db=snr,
            uniform_snr_db=uniform_snr,
            classes_used=int(np.unique(classes).size),
        )
        name = "uniform" if mu is None else f"μ-law (μ = {mu})"
        self.numbers.value = (
            f"<b>{name}, {bits} bits: {2**bits:,} classes; SNR {snr:.1f} dB</b> "
            f"(a uniform quantizer with {bits} bits: {uniform_snr:.1f} dB). "
            f"This sound uses {self.state['classes_used']:,} of the {2**bits:,} classes."
        )


def _figure(audio, quantized, classes, mu, bits, snr):
    """The curve and its codes, then a snippet around the loudest sample.

    The codes are equal steps in y, unequal in x; the snippet shows both waveforms, the error and
    the classes.
    """
    figure = Figure(figsize=(10, 6))
    curve_ax, wave_ax, error_ax, class_ax = figure.subplots(2, 2).ravel()
    x = np.linspace(-1.0, 1.0, 2001)
    curve_ax.plot(x, compand(x, mu), label="companding curve")
    curve_ax.plot(
        x,
        _codes(x, mu, bits) / 2 ** (bits - 1),
        drawstyle="steps-post",
        linewidth=0.8,
        label=f"code / {2 ** (bits - 1)}",
    )
    curve_ax.plot(x, x, color="0.6", linestyle=":", linewidth=0.8, label="identity")
    curve_ax.set(xlabel="input x", ylabel="output", title="uniform" if mu is None else f"μ-law, μ = {mu}")
    curve_ax.legend(fontsize=7, loc="upper left")
    start = int(np.clip(np.argmax(np.abs(audio)) - _SNIPPET // 2, 0, max(0, audio.size - _SNIPPET)))
    index = np.arange(start, min(audio.size, start + _SNIPPET))
    wave_ax.plot(index, audio[index], linewidth=0.8, label="original")
    wave_ax.plot(index, quantized[index], drawstyle="steps-mid", linewidth=0.8, label="quantized")
    wave_ax.set(xlabel="sample", ylabel="amplitude", title="waveform snippet")
    wave_ax.legend(fontsize=7, loc="upper left")
    error_ax.plot(index, audio[index] - quantized[index], linewidth=0.8, color="tab:red")
    error_ax.set(xlabel="sample", ylabel="original − quantized", title=f"quantization error (SNR {snr:.1f} dB)")
    class_ax.plot(index, classes[index], drawstyle="steps-mid", linewidth=0.8, color="tab:green")
    class_ax.set(
        xlabel="sample", ylabel="class", ylim=(-0.5, 2**bits - 0.5), title=f"class of each sample (of {2**bits:,})"
    )
    figure.tight_layout()
    return figure
