"""Save, load and validate NSynth encodings (``.npy``, shape ``(batch, frames, channels)``)."""

from pathlib import Path

import numpy as np

from ._files import atomic_path
from .errors import EncodingError, describe

__all__ = ["validate_encoding", "save_encoding", "load_encoding"]


def validate_encoding(encoding, channels=16, name="encoding"):
    """Check an encoding and return it as a float32 ``(batch, frames, channels)`` copy.

    Parameters
    ----------
    encoding : array-like [shape=(frames, channels) or (batch, frames, channels)]
    channels : int
        The model's bottleneck width (16 for NSynth).
    name : str
        Argument name used in error messages.

    Returns
    -------
    encoding : np.ndarray [shape=(batch, frames, channels)], float32
    """
    try:
        array = np.array(encoding, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EncodingError(f"`{name}` must be a numeric array. Received: {name}={describe(encoding)}.") from exc
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise EncodingError(
            f"`{name}` must have shape (frames, {channels}) or (batch, frames, {channels}). "
            f"Received: {name}={describe(array)}."
        )
    if array.shape[2] != channels:
        raise EncodingError(
            f"`{name}` must have {channels} channels in its last axis (the model's encoding width). "
            f"Received: {name}={describe(array)}."
        )
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise EncodingError(f"`{name}` must hold at least one frame. Received: {name}={describe(array)}.")
    bad = ~np.isfinite(array)
    if bad.any():
        raise EncodingError(
            f"`{name}` must be finite. Received: {name} with {int(bad.sum())} NaN/Inf value(s)."
        )
    return array


def save_encoding(path, encoding):
    """Write an encoding to ``.npy`` atomically (``.npy`` appended when missing).

    Parameters
    ----------
    path : str or os.PathLike
    encoding : np.ndarray [shape=(batch, frames, channels)] or (frames, channels)

    Returns
    -------
    path : pathlib.Path
    """
    array = np.array(encoding, dtype=np.float32)
    if array.ndim not in (2, 3) or not np.isfinite(array).all():
        raise EncodingError(
            f"`encoding` must be a finite array of shape (frames, channels) or (batch, frames, channels). "
            f"Received: encoding={describe(array)}."
        )
    path = Path(path)
    if path.suffix != ".npy":
        path = path.with_name(path.name + ".npy")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.save(file, array)
    return path


def load_encoding(path):
    """Read an encoding saved by :func:`save_encoding` (or any ``.npy`` of the right shape).

    Returns
    -------
    encoding : np.ndarray [shape=(batch, frames, channels)], float32
    """
    path = Path(path)
    if not path.is_file():
        raise EncodingError(f"`path` must be an existing .npy file. Received: path='{path}' (not found).")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EncodingError(f"`path` must be a .npy file written by NumPy. Received: path='{path}' ({exc}).") from exc
    if array.ndim not in (2, 3):
        raise EncodingError(
            f"`path` must hold an array of shape (frames, channels) or (batch, frames, channels). "
            f"Received: path='{path}' with shape {array.shape}."
        )
    return validate_encoding(array, channels=array.shape[-1], name="encoding")
