"""`EncodePanel`: encode the selected sounds, download encodings as ``.npy``, load one back.

Encoding batches sounds of equal length through one
:meth:`Synthesizer.encode <nsynth_widgets.runtime.Synthesizer.encode>` call; the first encode
loads the model. Downloads are ``data:`` links (an encoding is small: 16 floats per 512 samples).
"""

import base64
import html
import io
import re
from pathlib import Path

import ipywidgets
import numpy as np

from ..encodings import load_encoding
from ..errors import EncodingError
from ._common import Panel
from .session import MAX_NAME_LENGTH
from .upload import Upload

__all__ = ["EncodePanel", "npy_bytes", "read_npy", "MAX_ENCODING_BYTES"]

#: Largest ``.npy`` upload accepted (bytes): 60 s of float32 frames at hop 64 is under 1 MB.
MAX_ENCODING_BYTES = 4 * 2**20


def npy_bytes(array):
    """``array`` as the bytes of a ``.npy`` file."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def read_npy(content, name="file", channels=None, max_frames=None):
    """Parse an uploaded ``.npy`` encoding (no pickles), its header checked before its data.

    Parameters
    ----------
    content : bytes or memoryview
    name : str
        The file name, for messages.
    channels, max_frames : int or None
        See :func:`~nsynth_widgets.encodings.load_encoding`.

    Returns
    -------
    encoding : np.ndarray [shape=(batch, frames, channels)], float32
    """
    size = memoryview(content).nbytes
    if size > MAX_ENCODING_BYTES:
        raise EncodingError(
            f"`file` must be at most {MAX_ENCODING_BYTES // 2**20} MB. Received: file={name!r} of {size / 2**20:.1f} MB."
        )
    return load_encoding(content, channels=channels, max_frames=max_frames, name=name)


def _download_link(name, encoding):
    filename = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".npy"
    data = base64.b64encode(npy_bytes(encoding)).decode("ascii")
    shape = "×".join(str(n) for n in encoding.shape)
    return (
        f'<a download="{html.escape(filename)}" href="data:application/octet-stream;base64,{data}">'
        f"{html.escape(filename)}</a> ({shape})"
    )


class EncodePanel(Panel):
    """Select sounds, encode them, download or load encodings.

    Parameters
    ----------
    session : Session
    run_in_thread : bool
        Encode in a background thread (False: right away, as tests do).

    Attributes
    ----------
    sounds : ipywidgets.SelectMultiple
        Mirrors ``session.selected``.
    encode_button : ipywidgets.Button
    downloads : ipywidgets.HTML
        One ``.npy`` download link per encoding in the session.
    load_upload : Upload
        A ``.npy`` encoding of shape ``(frames, 16)`` or ``(1, frames, 16)``, stored under its file name;
        at most :data:`MAX_ENCODING_BYTES` (the browser holds back larger files) and
        :attr:`Session.max_frames <nsynth_widgets.widgets.session.Session.max_frames>` frames.
    error, message : ipywidgets.HTML
    """

    def __init__(self, session, run_in_thread=True):
        self._setup(session, run_in_thread)
        self.sounds = ipywidgets.SelectMultiple(description="sounds", rows=5)
        self.encode_button = ipywidgets.Button(description="Encode selected", button_style="primary", icon="cogs")
        self.downloads = ipywidgets.HTML()
        self.load_upload = Upload(MAX_ENCODING_BYTES, accept=".npy", description="Load encoding")
        super().__init__(
            [
                ipywidgets.HTML("<b>Encode</b>: N samples → N // hop frames of 16 numbers"),
                ipywidgets.HBox([self.sounds, self.encode_button]),
                self.error,
                self.message,
                self.downloads,
                self.load_upload,
            ]
        )
        self.encode_button.on_click(lambda _: self._run(self._encode))
        self.sounds.observe(self._guarded(self._on_choice), names="value")
        self.load_upload.on_file(self._guarded(self._load))
        self.load_upload.on_refused(self._fail)
        self.session.observe(self._guarded(lambda _: self._refresh()), names=["sounds", "selected", "encodings"])
        self._refresh()

    def _encode(self):
        names = list(self.sounds.value)
        if not names:
            raise EncodingError("`sounds` must have at least one sound selected to encode. Received: sounds=().")
        self.message.value = "encoding… (the first time also loads the model)"
        encodings = self.session.encode(names)
        shapes = ", ".join(f"'{name}' → {'×'.join(map(str, enc.shape))}" for name, enc in encodings.items())
        self._ok(f"Encoded {shapes}.")

    def _on_choice(self, change):
        if not self._quiet:
            self.session.selected = list(change["new"])

    def _load(self, file):
        if file.content is None:
            raise EncodingError(
                f"`file` must be at most {MAX_ENCODING_BYTES // 2**20} MB. Received: file={file.name!r} of "
                f"{file.size / 2**20:.1f} MB."
            )
        name = Path(file.name).stem.strip()[:MAX_NAME_LENGTH] or "encoding"
        config = self.session.synthesizer.config  # loads the model: its width and hop set the rules
        encoding = read_npy(
            file.content, file.name, channels=config.bottleneck_width, max_frames=self.session.max_frames
        )
        self.session.set_encoding(name, encoding)
        self._ok(f"Loaded the encoding '{name}' ({encoding.shape[1]} frames).")

    def _refresh(self):
        self._set_options(self.sounds, sorted(self.session.sounds))
        with self._quietly():
            self.sounds.value = tuple(self.session.selected)
        self.downloads.value = "<br>".join(
            _download_link(name, encoding) for name, encoding in sorted(self.session.encodings.items())
        )
