"""One exception family for everything nsynth_widgets rejects, and the shared argument checks.

Messages follow one pattern so that a user can act on them without reading code::

    `<argument>` must <rule>. Received: <argument>=<value>.

All parameter errors derive from :class:`ValueError`, so code that already catches
``ValueError`` keeps working. The ``check_*`` functions are the one place where the common rules
(an integer in a range, a finite number, a bool, one of some choices) are checked and worded;
they accept NumPy scalars as their Python counterparts and refuse bools where numbers are asked.
"""

import math
import numbers

import numpy as np

__all__ = [
    "NSynthWidgetsError",
    "ParameterError",
    "AudioError",
    "EncodingError",
    "CheckpointError",
    "DownloadError",
    "SynthesisCancelled",
    "describe",
    "check_integer",
    "check_number",
    "check_bool",
    "check_choice",
]


class NSynthWidgetsError(Exception):
    """Base class of every error raised on purpose by nsynth_widgets."""


class ParameterError(NSynthWidgetsError, ValueError):
    """An argument breaks a documented rule (type, range, shape)."""


class AudioError(ParameterError):
    """Audio that cannot be used: unreadable file, NaN/Inf, silence, too short, wrong shape."""


class EncodingError(ParameterError):
    """An NSynth encoding with the wrong shape, width or values."""


class CheckpointError(NSynthWidgetsError):
    """A checkpoint or weights file that is missing, incomplete or does not match the model."""


class DownloadError(NSynthWidgetsError):
    """The checkpoint download failed, was interrupted, or did not pass its integrity check."""


class SynthesisCancelled(NSynthWidgetsError):
    """Synthesis was stopped by its cancel hook; nothing computed is thrown away.

    Parameters
    ----------
    partial_classes : np.ndarray [shape=(batch, n_done)], int32
        The mu-law classes generated before the stop.
    partial_audio : np.ndarray [shape=(batch, n_done)], float32, optional
        The same decoded to audio in [-1, 1]. ``NSynth.synthesize`` (and everything above it) sets
        it; ``fastgen.generate``, which works in classes, leaves it None.

    Attributes
    ----------
    partial_classes, partial_audio
        As given.
    """

    def __init__(self, partial_classes, partial_audio=None):
        held = "`.partial_classes` and `.partial_audio`" if partial_audio is not None else "`.partial_classes`"
        super().__init__(
            f"Synthesis was cancelled after {partial_classes.shape[-1]} samples; what was generated so far is in {held}."
        )
        self.partial_classes = partial_classes
        self.partial_audio = partial_audio


def describe(value, max_len=60):
    """Short, readable text for a received value, used in error messages.

    Arrays are summarised by shape and dtype instead of being printed whole.
    """
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"array(shape={tuple(shape)}, dtype={dtype})"
    text = repr(value)
    return text if len(text) <= max_len else text[: max_len - 3] + "..."


def check_integer(name, value, low, high=None, optional=False):
    """Return ``value`` as an ``int`` if it is an integer in ``[low, high]`` (``high=None``: no upper bound).

    ``optional=True`` also accepts ``None`` (returned as is).

    Raises
    ------
    ParameterError
        "`name` must be an integer in [low, high]. Received: name=value." (bools are refused).
    """
    if optional and value is None:
        return None
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        rule = f"an integer in [{low}, {high}]" if high is not None else f"an integer >= {low}"
        raise ParameterError(f"`{name}` must be {_or_none(rule, optional)}. Received: {name}={describe(value)}.")
    return int(value)


def check_number(name, value, low=-math.inf, high=math.inf, low_open=False, high_open=False, optional=False):
    """Return ``value`` as a ``float`` if it is a finite real number in ``[low, high]``.

    ``low_open=True`` excludes ``low`` itself (``(low, high]``, e.g. ``low=0`` for "> 0"), and
    ``high_open=True`` excludes ``high``. ``optional=True`` also accepts ``None`` (returned as is).

    Raises
    ------
    ParameterError
        "`name` must be a finite number in [low, high]. Received: name=value." (bools, NaN and
        infinities are refused; an unbounded side is left out of the rule).
    """
    if optional and value is None:
        return None
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not low <= value <= high
        or (low_open and value == low)
        or (high_open and value == high)
    ):
        above, below = (">" if low_open else ">="), ("<" if high_open else "<=")
        if math.isinf(low) and math.isinf(high):
            rule = "a finite number"
        elif math.isinf(high):
            rule = f"a finite number {above} {low:g}"
        elif math.isinf(low):
            rule = f"a finite number {below} {high:g}"
        else:
            rule = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ParameterError(f"`{name}` must be {_or_none(rule, optional)}. Received: {name}={describe(value)}.")
    return float(value)


def check_bool(name, value, optional=False):
    """Return ``value`` if it is ``True`` or ``False`` (NumPy bools included), else raise.

    ``optional=True`` also accepts ``None`` (returned as is).
    """
    if optional and value is None:
        return None
    if not isinstance(value, (bool, np.bool_)):
        rule = "True, False or None" if optional else "True or False"
        raise ParameterError(f"`{name}` must be {rule}. Received: {name}={describe(value)}.")
    return bool(value)


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices`` (strings), else raise naming (up to ten of) them."""
    if not isinstance(value, str) or value not in choices:
        shown = sorted(choices)
        listing = shown if len(shown) <= 10 else shown[:10] + ["..."]
        raise ParameterError(f"`{name}` must be one of {listing}. Received: {name}={describe(value)}.")
    return value


def _or_none(rule, optional):
    return f"None or {rule}" if optional else rule
