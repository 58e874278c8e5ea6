"""One exception family for everything nsynth_widgets rejects, and the shared argument checks.

Messages follow one pattern so that a user can act on them without reading code::

    `<argument>` must <rule>. Received: <argument>=<value>.

All parameter errors derive from :class:`ValueError`, so code that already catches
``ValueError`` keeps working.
"""

import numbers

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
    """Synthesis was stopped by its cancel hook.

    Parameters
    ----------
    partial_audio : np.ndarray [shape=(batch, n_done)]
        The audio generated before the stop; nothing computed is thrown away.
    """

    def __init__(self, partial_audio):
        super().__init__(
            f"Synthesis was cancelled after {partial_audio.shape[-1]} samples; "
            "the audio generated so far is in `.partial_audio`."
        )
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


def check_integer(name, value, low, high=None):
    """Return ``value`` as an ``int`` if it is an integer in ``[low, high]`` (``high=None``: no upper bound).

    Raises
    ------
    ParameterError
        "`name` must be an integer in [low, high]. Received: name=value." (bools are refused).
    """
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        rule = f"an integer in [{low}, {high}]" if high is not None else f"an integer >= {low}"
        raise ParameterError(f"`{name}` must be {rule}. Received: {name}={describe(value)}.")
    return int(value)
