"""`Upload`: a file button (anywidget) that checks each file's size in the browser before sending it.

``ipywidgets.FileUpload`` reads every picked file in the browser and sends them all in one
websocket message; past the server's message limit the connection drops without a word. This
button sends each file as its own binary message, and a file over :attr:`Upload.max_bytes` not
at all: Python hears its name and size only, so the panel can say why it was refused, whatever
its size. Python checks everything again (a crafted client can send anything).
"""

from pathlib import Path

import anywidget
import traitlets

from ..errors import check_integer

__all__ = ["Upload", "UploadedFile"]


class UploadedFile:
    """One file from an :class:`Upload`.

    Attributes
    ----------
    name : str
        The file's name in the visitor's browser (not a path on the server).
    size : int
        Its size in bytes: the bytes received, or the size the browser reported for a file it held back.
    content : bytes or None
        The file, or None when the browser held it back for being over ``max_bytes``.
    index, count : int
        Its place in the pick it came with: file ``index`` (from 0) of ``count``.
    """

    __slots__ = ("name", "size", "content", "index", "count")

    def __init__(self, name, size, content, index=0, count=1):
        self.name, self.size, self.content, self.index, self.count = name, size, content, index, count

    def __repr__(self):
        return (
            f"UploadedFile(name={self.name!r}, size={self.size}, content={'None' if self.content is None else '...'})"
        )


class Upload(anywidget.AnyWidget):
    """A button that uploads files one message each, holding back any file over ``max_bytes``.

    Parameters
    ----------
    max_bytes : int
        Largest file sent; a larger one arrives as an :class:`UploadedFile` without content.
    accept : str
        File types the browser's dialog offers, e.g. ``".wav,.flac"`` (a hint, not a check).
    multiple : bool
        Allow picking several files at once (at most ``max_files``).
    max_files : int
        Most files one pick may hold; a larger pick is refused in the browser and in Python.
    description : str
        The button's text.

    Examples
    --------
    >>> upload = Upload(max_bytes=2**20, accept=".npy")
    >>> upload.on_file(lambda file: print(file.name, file.size, file.content is None))
    """

    _esm = Path(__file__).with_name("upload.js")
    accept = traitlets.Unicode("").tag(sync=True)
    multiple = traitlets.Bool(False).tag(sync=True)
    max_bytes = traitlets.Int().tag(sync=True)
    max_files = traitlets.Int(8).tag(sync=True)
    description = traitlets.Unicode("Upload").tag(sync=True)

    def __init__(self, max_bytes, accept="", multiple=False, max_files=8, description="Upload", **kwargs):
        super().__init__(
            max_bytes=check_integer("max_bytes", max_bytes, 1),
            accept=accept,
            multiple=multiple,
            max_files=check_integer("max_files", max_files, 1),
            description=description,
            **kwargs,
        )
        self._callbacks = []
        self._refusals = []
        self.on_msg(self._handle_message)

    def on_file(self, callback):
        """Call ``callback(file: UploadedFile)`` for every file, in the order picked."""
        self._callbacks.append(callback)

    def on_refused(self, callback):
        """Call ``callback(text: str)`` when a whole pick is refused (too many files, or a malformed message)."""
        self._refusals.append(callback)

    def show_status(self, text):
        """Show ``text`` next to the button."""
        self.send({"type": "status", "text": str(text)})

    def _refuse(self, text):
        for callback in self._refusals:
            callback(text)

    def _handle_message(self, _widget, content, buffers):
        if not isinstance(content, dict):
            return
        if content.get("type") == "too_many":
            count = content.get("count")
            self._refuse(
                f"`files` must be at most {self.max_files} at once{'' if self.multiple else ' (one)'}. "
                f"Received: {count if isinstance(count, int) and not isinstance(count, bool) else 'more'} files."
            )
            return
        if content.get("type") != "file":
            return
        name, size = content.get("name"), content.get("size")
        if not isinstance(name, str) or not name or len(buffers) > 1:
            self._refuse("`file` must arrive as a name and at most one binary buffer. Received: a malformed message.")
            return
        index, count = content.get("index"), content.get("count")
        if not (_is_int(index) and _is_int(count) and 0 <= index < count <= self.max_files):
            index, count = 0, 1  # a client that does not say: a pick of its own
        if buffers:
            data = bytes(buffers[0])
            file = UploadedFile(name, len(data), data, index, count)
        elif _is_int(size) and size > self.max_bytes:
            file = UploadedFile(name, size, None, index, count)  # held back by the browser: over the limit
        else:
            self._refuse(f"`file` must arrive with its content. Received: file={name!r} without content.")
            return
        for callback in self._callbacks:
            callback(file)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)
