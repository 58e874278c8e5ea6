"""`Recorder`: a microphone button (anywidget) that hands the recording to Python as bytes.

The browser records with ``MediaRecorder`` (webm/opus in Chromium and Firefox, mp4 in Safari)
and sends the encoded file as one binary buffer of a custom message (no base64 JSON).
Python decodes it with :func:`nsynth_widgets.audio.load_audio`, which reads those formats
through ffmpeg.
"""

from pathlib import Path

import anywidget
import traitlets

from ..errors import describe

__all__ = ["Recorder"]


class Recorder(anywidget.AnyWidget):
    """Record from the visitor's microphone; call back with the encoded bytes when stopped.

    Parameters
    ----------
    max_seconds : int
        The browser stops recording by itself after this long (1 to 120 s).

    Examples
    --------
    >>> recorder = Recorder()
    >>> recorder.on_recording(lambda data, mime: print(len(data), mime))
    >>> recorder                                    # press Record, then Stop
    """

    _esm = Path(__file__).with_name("recorder.js")
    max_seconds = traitlets.Int(30).tag(sync=True)

    def __init__(self, max_seconds=30, **kwargs):
        super().__init__(max_seconds=max_seconds, **kwargs)
        self._callbacks = []
        self.on_msg(self._handle_message)

    @traitlets.validate("max_seconds")
    def _validate_max_seconds(self, proposal):
        value = proposal["value"]
        if not 1 <= value <= 120:
            raise traitlets.TraitError(
                f"`max_seconds` must be an integer in [1, 120]. Received: max_seconds={describe(value)}."
            )
        return value

    def on_recording(self, callback):
        """Call ``callback(data: bytes, mime: str)`` for every finished recording (the receiver checks its size)."""
        self._callbacks.append(callback)

    def show_status(self, text):
        """Show ``text`` next to the button (e.g. what became of the last recording)."""
        self.send({"type": "status", "text": str(text)})

    def _handle_message(self, _widget, content, buffers):
        if not isinstance(content, dict) or content.get("type") != "recording":
            return
        if len(buffers) != 1:
            self.show_status("The recording did not arrive (expected one binary buffer).")
            return
        data = bytes(buffers[0])
        mime = content.get("mime") if isinstance(content.get("mime"), str) else ""
        for callback in self._callbacks:
            callback(data, mime)
