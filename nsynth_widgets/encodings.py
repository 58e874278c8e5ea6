"""Save, load and validate NSynth encodings (``.npy``, shape ``(batch, frames, channels)``).

:func:`load_encoding` reads a file's ``.npy`` header first and checks its shape, dtype and
length against the file's size (and an optional frame limit) before reading any data, so a
malformed, truncated or oversized file is refused by name and never loaded in part.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from ._files import atomic_path
from .errors import EncodingError, ParameterError, check_integer, describe

if TYPE_CHECKING:  # annotations only
    from ._types import PathLike

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
        raise EncodingError(f"`{name}` must be finite. Received: {name} with {int(bad.sum())} NaN/Inf value(s).")
    return array


def save_encoding(path: PathLike, encoding: np.ndarray) -> Path:
    """Write an encoding to ``.npy`` atomically (``.npy`` appended when missing).

    Parameters
    ----------
    path : str or os.PathLike
    encoding : np.ndarray [shape=(batch, frames, channels)] or (frames, channels)

    Returns
    -------
    path : pathlib.Path
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"`path` must be a str or os.PathLike. Received: path={describe(path)}.")
    try:
        array = np.array(encoding, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EncodingError(f"`encoding` must be a numeric array. Received: encoding={describe(encoding)}.") from exc
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


def load_encoding(
    source: PathLike | bytes, channels: int | None = None, max_frames: int | None = None, name: str | None = None
) -> np.ndarray:
    """Read an encoding saved by :func:`save_encoding` (or any ``.npy`` of the right shape).

    Parameters
    ----------
    source : str, os.PathLike, bytes or memoryview
        A ``.npy`` file, or its content (what an upload gives).
    channels : int or None
        Channels the encoding must have (the model's bottleneck width); None: any.
    max_frames : int or None
        Refuse, from the header, an encoding with more frames than this (None: no limit; the
        dashboard allows as many as its 60 s limit on sounds).
    name : str or None
        The file's name in messages for content given as bytes (e.g. the uploaded file's name).

    Returns
    -------
    encoding : np.ndarray [shape=(batch, frames, channels)], float32

    Raises
    ------
    EncodingError
        The file is missing, empty, not a ``.npy`` (a ``.npz`` archive, a pickle, any other file),
        truncated, of the wrong shape or dtype, over ``max_frames``, or holds NaN/Inf.
    """
    if channels is not None:
        channels = check_integer("channels", channels, 1)
    if max_frames is not None:
        max_frames = check_integer("max_frames", max_frames, 1)
    if isinstance(source, (bytes, bytearray, memoryview)):
        content = bytes(source)
        shown = f"file={name!r}" if isinstance(name, str) else f"file=<{len(content)} bytes>"
        return _read_npy(io.BytesIO(content), len(content), shown, channels, max_frames)
    if not isinstance(source, (str, os.PathLike)):
        raise ParameterError(
            f"`source` must be a path to a .npy file or its bytes. Received: source={describe(source)}."
        )
    path = Path(source)
    shown = f"path='{path}'"
    if not path.is_file():
        raise EncodingError(f"`path` must be an existing .npy file. Received: {shown} (not found).")
    try:
        with open(path, "rb") as file:
            return _read_npy(file, os.fstat(file.fileno()).st_size, shown, channels, max_frames)
    except OSError as exc:
        raise EncodingError(f"`path` must be a readable .npy file. Received: {shown} ({exc.strerror}).") from exc


def _read_npy(file, size, shown, channels, max_frames):
    """Parse a ``.npy`` from an open binary file of ``size`` bytes, checking its header before its data."""
    argument = shown.split("=", 1)[0]

    def malformed(why):
        return EncodingError(
            f"`{argument}` must be a .npy file written by NumPy (an encoding). Received: {shown} ({why})."
        )

    if size == 0:
        raise malformed("the file is empty")
    start = file.read(6)
    file.seek(0)
    if start.startswith(b"PK\x03\x04"):
        if zipfile.is_zipfile(file):
            raise malformed("a .npz archive of several arrays, not one .npy array: save one with np.save")
        file.seek(0)
    try:
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, EOFError, OSError) as exc:
        raise malformed(str(exc).rstrip(".") or type(exc).__name__) from exc
    if dtype.hasobject:
        raise malformed("it holds Python objects (a pickle), which are never loaded")
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise malformed(f"its dtype is {dtype}, not a real number type")
    width = f"{channels}" if channels is not None else "channels"
    if len(shape) not in (2, 3):
        raise EncodingError(
            f"`{argument}` must hold an array of shape (frames, {width}) or (batch, frames, {width}). "
            f"Received: {shown} with shape {tuple(shape)}."
        )
    if max_frames is not None and shape[-2] > max_frames:
        raise EncodingError(
            f"`{argument}` must hold at most {max_frames} frames (`max_frames`). Received: {shown} with {shape[-2]} frames."
        )
    count = int(np.prod(shape, dtype=np.int64))
    expected = file.tell() + count * dtype.itemsize
    if expected != size:
        raise malformed(
            f"its header promises {count} values ({expected} bytes), but the file has {size} bytes: truncated or padded"
        )
    data = file.read(count * dtype.itemsize)
    array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return validate_encoding(array, channels=shape[-1] if channels is None else channels, name="encoding")
