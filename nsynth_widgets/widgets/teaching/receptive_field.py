"""How a stack of dilated convolutions widens what one output sample can see.

Convention used throughout: the **receptive field** of a stack is the width, in input samples,
of the window one output depends on, from the earliest to the latest sample inclusive. A
convolution with kernel ``k`` and dilation ``d`` widens the window by ``(k - 1) * d``, so

    receptive_field = (k - 1) * sum(dilations) + (start_kernel - 1) + 1.

Causality and the one-sample shift move the window, they do not widen it: a causal stack's
output at time ``t`` sees ``t - R + 1 .. t`` (``t - R .. t - 1`` with NSynth's shifted input,
so that sample ``t`` is predicted only from the past), a non-causal one a centred window.
With some dilation patterns (e.g. all dilations even) the window has holes: samples inside it
that no path reaches; :func:`receptive_taps` lists the samples that really feed one output.

The pure functions come first; :class:`ReceptiveFieldExplorer` is a thin ipywidgets panel on top.
"""

import ipywidgets
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ...errors import ParameterError, check_bool, check_choice, check_integer, describe
from ...dsp.framing import SAMPLE_RATE
from ...model.config import H512_BO16
from ...plotting import figure_to_png
from .._common import error_html

__all__ = [
    "PATTERNS",
    "PRESETS",
    "receptive_field",
    "receptive_taps",
    "dilation_pattern",
    "plot_stack",
    "ReceptiveFieldExplorer",
]

#: Dilation patterns: ``doubling`` (1, 2, 4, ... per stack), ``constant`` (every dilation 1,
#: a plain convolution stack), ``custom`` (one stack's dilations typed as text).
PATTERNS = ("doubling", "constant", "custom")

_MAX_KERNEL = 5
_MAX_LAYERS = 10  # per stack, as in NSynth (dilations up to 512)
_MAX_STACKS = 4
_MAX_DILATION = 512
_MAX_DRAWN_LAYERS = 40  # above this (or a wider field), only the first stack is drawn
_MAX_DRAWN_FIELD = 2100
_MAX_GRID = 64  # draw every position of every layer (grey dots) up to this window width

#: Explorer settings that reproduce well-known stacks. NSynth's are built from ``H512_BO16``.
PRESETS = {
    "WaveNet paper figure": dict(
        kernel_size=2, layers=4, stacks=1, pattern="doubling", causal=True, start_conv=False, shifted=False
    ),
    "NSynth decoder": dict(
        kernel_size=H512_BO16.filter_length,
        layers=H512_BO16.num_stages,
        stacks=H512_BO16.num_layers // H512_BO16.num_stages,
        pattern="doubling",
        causal=True,
        start_conv=True,
        shifted=True,
    ),
    "NSynth encoder": dict(
        kernel_size=H512_BO16.ae_filter_length,
        layers=H512_BO16.ae_num_stages,
        stacks=H512_BO16.ae_num_layers // H512_BO16.ae_num_stages,
        pattern="doubling",
        causal=False,
        start_conv=True,
        shifted=False,
    ),
}


# --------------------------------------------------------------------------------------------
# validation


def _check_stack(kernel_size, dilations, causal, start_kernel, shifted):
    kernel_size = check_integer("kernel_size", kernel_size, 1)
    if isinstance(dilations, (str, bytes)) or not hasattr(dilations, "__len__") or len(dilations) == 0:
        raise ParameterError(
            f"`dilations` must be a non-empty sequence of positive integers. Received: dilations={describe(dilations)}."
        )
    dilations = tuple(check_integer("dilations", d, 1) for d in dilations)
    start_kernel = check_integer("start_kernel", start_kernel, 1, optional=True)
    return kernel_size, dilations, check_bool("causal", causal), start_kernel, check_bool("shifted", shifted)


# --------------------------------------------------------------------------------------------
# pure computations


def receptive_field(kernel_size, dilations, causal=True, start_kernel=None, shifted=False):
    """Width of the window of input samples that one output sample depends on.

    Parameters
    ----------
    kernel_size : int
        Taps of every dilated convolution (>= 1).
    dilations : sequence of int [shape=(layers,)]
        Dilation of each layer, bottom first.
    causal : bool
        Causal (past only) or centred ("same") convolutions; moves the window, not its width.
    start_kernel : int or None
        Kernel of an undilated convolution applied before the stack (NSynth's ``startconv``).
    shifted : bool
        Input delayed by one sample (NSynth's decoder); moves the window, not its width.

    Returns
    -------
    samples : int
        ``(kernel_size - 1) * sum(dilations) + (start_kernel - 1) + 1``: earliest to latest
        input sample inclusive (see the module docstring for holes).

    Examples
    --------
    >>> receptive_field(3, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] * 3, start_kernel=3, shifted=True)
    6141
    """
    kernel_size, dilations, _, start_kernel, _ = _check_stack(kernel_size, dilations, causal, start_kernel, shifted)
    start_span = 0 if start_kernel is None else start_kernel - 1
    return (kernel_size - 1) * sum(dilations) + start_span + 1


def _layer_offsets(kernel_size, dilation, causal):
    """Positions, relative to an output, that one convolution reads (oldest first).

    Non-causal layers use "same" padding: ``((k - 1) * d) // 2`` positions to the left.
    """
    taps = dilation * np.arange(kernel_size)
    return taps - (kernel_size - 1) * dilation if causal else taps - ((kernel_size - 1) * dilation) // 2


def _convolutions(kernel_size, dilations, causal, start_kernel, shifted):
    """Offsets of each convolution, bottom first; the shift belongs to the one reading the input."""
    convs = [] if start_kernel is None else [_layer_offsets(start_kernel, 1, causal)]
    convs += [_layer_offsets(kernel_size, d, causal) for d in dilations]
    if shifted:
        convs[0] = convs[0] - 1
    return convs


def receptive_taps(kernel_size, dilations, causal=True, start_kernel=None, shifted=False):
    """The positions in every layer that feed one output (at time 0).

    Parameters
    ----------
    kernel_size, dilations, causal, start_kernel, shifted
        As in :func:`receptive_field`.

    Returns
    -------
    levels : list of np.ndarray [shape=(n_i,)], int64
        Sorted positions relative to the output's time, bottom first: ``levels[0]`` are the
        input samples the output depends on, ``levels[i]`` the outputs of convolution ``i``
        that it depends on (the start conv counts as convolution 1), ``levels[-1] == [0]``.
        ``levels[0][-1] - levels[0][0] + 1 == receptive_field(...)``.
    """
    convs = _convolutions(*_check_stack(kernel_size, dilations, causal, start_kernel, shifted))
    levels = [np.zeros(1, np.int64)]
    for offsets in reversed(convs):
        levels.append(np.unique(levels[-1][:, None] + offsets[None, :]))
    return levels[::-1]


def dilation_pattern(pattern, layers, stacks=1, custom=None):
    """Dilations of a whole stack, bottom first.

    Parameters
    ----------
    pattern : {"doubling", "constant", "custom"}
        ``doubling``: ``1, 2, 4, ..., 2**(layers-1)`` per stack; ``constant``: all 1;
        ``custom``: the dilations of one stack given in ``custom``.
    layers : int
        Layers per stack (ignored for ``custom``: the length of ``custom`` counts).
    stacks : int
        How many times the per-stack pattern repeats.
    custom : str or sequence of int, optional
        One stack's dilations, e.g. ``"1, 3, 9"``; at most 10 values in [1, 512].

    Returns
    -------
    dilations : tuple of int [shape=(layers * stacks,)]
    """
    check_choice("pattern", pattern, PATTERNS)
    stacks = check_integer("stacks", stacks, 1)
    if pattern == "custom":
        return _parse_dilations(custom) * stacks
    layers = check_integer("layers", layers, 1)
    one_stack = tuple(2**i for i in range(layers)) if pattern == "doubling" else (1,) * layers
    return one_stack * stacks


def _parse_dilations(custom):
    """One stack's dilations from text like ``"1, 2, 4"`` or from a sequence of integers."""
    rule = (
        f"`dilations` must be 1 to {_MAX_LAYERS} comma-separated whole numbers in [1, {_MAX_DILATION}], e.g. '1, 3, 9'"
    )
    values = custom.split(",") if isinstance(custom, str) else custom
    try:
        parsed = tuple(int(v.strip()) if isinstance(v, str) else check_integer("dilations", v, 1) for v in values)
    except (TypeError, ValueError, ParameterError):
        parsed = ()
    if not 1 <= len(parsed) <= _MAX_LAYERS or not all(1 <= d <= _MAX_DILATION for d in parsed):
        raise ParameterError(f"{rule}. Received: dilations={describe(custom)}.")
    return parsed


# --------------------------------------------------------------------------------------------
# drawing


def plot_stack(kernel_size, dilations, causal=True, start_kernel=None, shifted=False, ax=None):
    """Draw the convolution stack and the paths from one output down to the inputs it sees.

    Rows are layers (input at the bottom, the output at the top), columns are positions
    relative to the output's time ``t = 0``. Highlighted dots are the positions that feed the
    output, lines are the taps each of them reads; for narrow windows every position is drawn
    as a grey dot so that the skipped ones are visible too.

    Parameters
    ----------
    kernel_size, dilations, causal, start_kernel, shifted
        As in :func:`receptive_field`.
    ax : matplotlib.axes.Axes or None
        Where to draw; a new :class:`~matplotlib.figure.Figure`'s axes when None.

    Returns
    -------
    edges : matplotlib.collections.LineCollection
        One segment per tap read by a highlighted position.
    """
    kernel_size, dilations, causal, start_kernel, shifted = _check_stack(
        kernel_size, dilations, causal, start_kernel, shifted
    )
    levels = receptive_taps(kernel_size, dilations, causal, start_kernel, shifted)
    convs = _convolutions(kernel_size, dilations, causal, start_kernel, shifted)
    ax = Figure(figsize=(9, 4)).add_subplot() if ax is None else ax
    lo, hi = min(levels[0][0], 0), max(levels[0][-1], 0)
    if hi - lo + 1 <= _MAX_GRID:
        grid_x, grid_y = np.meshgrid(np.arange(lo, hi + 1), np.arange(len(levels)))
        ax.scatter(grid_x.ravel(), grid_y.ravel(), s=12, color="0.85", zorder=1)
    segments = []
    for row, (upper, offsets) in enumerate(zip(levels[1:], convs)):
        tops = np.repeat(upper, len(offsets))  # each position of row + 1 ...
        taps = (upper[:, None] + offsets[None, :]).ravel()  # ... reads these positions of row
        segments.append(
            np.stack(
                [
                    np.stack([tops, np.full(tops.size, row + 1)], axis=1),
                    np.stack([taps, np.full(taps.size, row)], axis=1),
                ],
                axis=1,
            )
        )
    edges = LineCollection(np.concatenate(segments), colors="tab:orange", linewidths=0.5, alpha=0.6, zorder=2)
    ax.add_collection(edges)
    size = 14 if hi - lo + 1 <= 4 * _MAX_GRID else 2
    for row, positions in enumerate(levels):
        color = "tab:blue" if row == 0 else "tab:red" if row == len(levels) - 1 else "tab:orange"
        ax.scatter(
            positions,
            np.full(len(positions), row),
            s=size * (3 if row == len(levels) - 1 else 1),
            color=color,
            zorder=3,
        )
    ax.axvline(0, color="tab:red", linewidth=0.8, linestyle=":", zorder=0)  # the output's time
    names = ["input"] + (["start"] if start_kernel is not None else []) + [f"d={d}" for d in dilations]
    step = max(1, len(names) // 16)
    ax.set_yticks(range(0, len(names), step), names[::step], fontsize=8)
    margin = max(0.5, 0.01 * (hi - lo))
    ax.set_xlim(lo - margin, hi + margin)
    ax.set_ylim(-0.5, len(levels) - 0.5)
    ax.set_xlabel("position relative to the output sample t = 0")
    return edges


# --------------------------------------------------------------------------------------------
# the widget


class ReceptiveFieldExplorer(ipywidgets.VBox):
    """Sliders for kernel size, layers, stacks and dilation pattern; a drawing and the numbers.

    The panel is itself an :class:`ipywidgets.VBox`: display it directly. Every value is checked
    on the server; an invalid one shows a message in :attr:`error` and leaves the previous
    drawing and :attr:`summary` in place.

    Parameters
    ----------
    preset : str
        A key of :data:`PRESETS` to start from.

    Attributes
    ----------
    summary : dict
        The numbers on show: ``dilations`` (tuple), ``receptive_field`` (samples),
        ``milliseconds`` (at 16 kHz), ``undilated_receptive_field`` (same depth, all
        dilations 1), ``drawn_layers`` (dilated layers in the picture) and ``summarised``
        (True when only the first stack is drawn).
    """

    def __init__(self, preset="WaveNet paper figure"):
        check_choice("preset", preset, PRESETS)
        style = {"description_width": "initial"}
        self.preset = ipywidgets.Dropdown(options=[*PRESETS, "Custom"], value=preset, description="Preset")
        self.kernel_size = ipywidgets.IntSlider(2, min=2, max=_MAX_KERNEL, description="kernel size", style=style)
        self.layers = ipywidgets.IntSlider(4, min=1, max=_MAX_LAYERS, description="layers / stack", style=style)
        self.stacks = ipywidgets.IntSlider(1, min=1, max=_MAX_STACKS, description="stacks", style=style)
        self.pattern = ipywidgets.Dropdown(options=PATTERNS, description="dilations")
        self.custom = ipywidgets.Text("1, 3, 9", description="custom", continuous_update=False)
        self.causal = ipywidgets.ToggleButtons(options=[("causal", True), ("non-causal", False)])
        self.start_conv = ipywidgets.Checkbox(False, description="start conv (undilated)")
        self.shifted = ipywidgets.Checkbox(False, description="input shifted by one sample")
        self.image = ipywidgets.Image(format="png")
        self.numbers = ipywidgets.HTML()
        self.error = ipywidgets.HTML()
        self.summary = {}
        self._applying_preset = False
        controls = [
            self.kernel_size,
            self.layers,
            self.stacks,
            self.pattern,
            self.custom,
            self.causal,
            self.start_conv,
            self.shifted,
        ]
        super().__init__(
            [
                self.preset,
                ipywidgets.HBox(controls[:3]),
                ipywidgets.HBox(controls[3:6]),
                ipywidgets.HBox(controls[6:]),
                self.error,
                self.numbers,
                self.image,
            ]
        )
        for control in controls:
            control.observe(self._on_control, names="value")
        self.preset.observe(self._on_preset, names="value")
        self._apply_preset(preset)

    # -- events ------------------------------------------------------------------------------
    def _on_preset(self, change):
        if change["new"] in PRESETS:  # "Custom" keeps the controls as they are
            self._apply_preset(change["new"])

    def _on_control(self, change):
        if self._applying_preset:
            return
        self._applying_preset = True  # the switch to "Custom" must not re-apply anything
        self.preset.value = "Custom"
        self._applying_preset = False
        self._update()

    def _apply_preset(self, name):
        self._applying_preset = True
        try:
            for key, value in PRESETS[name].items():
                getattr(self, key).value = value
        finally:
            self._applying_preset = False
        self._update()

    # -- computation -------------------------------------------------------------------------
    def _settings(self):
        """Validated ``(kernel_size, dilations, causal, start_kernel, shifted, layers_per_stack)``."""
        kernel_size = check_integer("kernel_size", self.kernel_size.value, 2, _MAX_KERNEL)
        stacks = check_integer("stacks", self.stacks.value, 1, _MAX_STACKS)
        pattern = self.pattern.value
        if pattern == "custom":
            per_stack = len(_parse_dilations(self.custom.value))
            dilations = dilation_pattern(pattern, per_stack, stacks, custom=self.custom.value)
        else:
            per_stack = check_integer("layers", self.layers.value, 1, _MAX_LAYERS)
            dilations = dilation_pattern(pattern, per_stack, stacks)
        causal = check_bool("causal", self.causal.value)
        start_kernel = kernel_size if check_bool("start_conv", self.start_conv.value) else None
        shifted = check_bool("shifted", self.shifted.value)
        return kernel_size, dilations, causal, start_kernel, shifted, per_stack

    def _update(self):
        try:
            kernel_size, dilations, causal, start_kernel, shifted, per_stack = self._settings()
        except ParameterError as error:
            self.error.value = error_html(str(error))
            return
        self.error.value = ""
        self.layers.disabled = self.pattern.value == "custom"
        self.custom.disabled = self.pattern.value != "custom"
        field = receptive_field(kernel_size, dilations, causal, start_kernel, shifted)
        undilated = receptive_field(kernel_size, (1,) * len(dilations), causal, start_kernel, shifted)
        summarised = len(dilations) > _MAX_DRAWN_LAYERS or field > _MAX_DRAWN_FIELD
        drawn = dilations[:per_stack] if summarised else dilations
        figure = Figure(figsize=(9, 4))
        ax = figure.add_subplot()
        plot_stack(kernel_size, drawn, causal, start_kernel, shifted, ax=ax)
        inputs = len(receptive_taps(kernel_size, dilations, causal, start_kernel, shifted)[0])
        ax.set_title(
            f"first of {len(dilations) // per_stack} stacks shown (numbers are for the whole stack)"
            if summarised
            else f"{len(dilations)} dilated layers, kernel size {kernel_size}",
            fontsize=10,
        )
        figure.tight_layout()
        self.image.value = figure_to_png(figure, dpi=80)
        self.summary = dict(
            dilations=dilations,
            receptive_field=field,
            milliseconds=1000.0 * field / SAMPLE_RATE,
            undilated_receptive_field=undilated,
            drawn_layers=len(drawn),
            summarised=summarised,
        )
        holes = field - inputs
        self.numbers.value = (
            f"<b>Receptive field: {field:,} samples = {1000.0 * field / SAMPLE_RATE:.2f} ms at {SAMPLE_RATE / 1000:g} kHz</b>"
            f" ({len(dilations)} layers, dilations {_short(dilations)})<br>"
            f"Same depth without dilation: {undilated:,} samples = {1000.0 * undilated / SAMPLE_RATE:.2f} ms "
            f"(dilation lets the stack see {field / undilated:.1f}× as far)<br>"
            + (f"{holes:,} samples inside the window reach the output by no path (holes).<br>" if holes else "")
            + ("Window: the past only." if causal else "Window: centred, it also looks into the future.")
        )


def _short(dilations, limit=12):
    text = ", ".join(map(str, dilations[:limit]))
    return text + (f", … ({len(dilations) - limit} more)" if len(dilations) > limit else "")
