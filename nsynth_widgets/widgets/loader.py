"""`LoadPanel`: bring sounds into the session — upload a file, add a bundled example, or record.

Every sound becomes 16 kHz mono float32, trimmed to ``length`` samples from ``start`` seconds
(40000 samples by default, as in the NSynth tutorial), and can be played back. A file that
cannot be used leaves a message in the panel and the session as it was.
"""

from pathlib import Path

import ipywidgets

from ..audio import load_audio
from ..errors import AudioError, ParameterError, describe
from ..example_sounds import examples, load_example
from ._common import Panel, audio_player, wav
from .recorder import Recorder
from .session import _MAX_NAME, MAX_SAMPLES, SAMPLE_RATE, _check_choice, _check_number

__all__ = ["LoadPanel", "trim", "ACCEPTED", "MAX_UPLOAD_BYTES", "DEFAULT_LENGTH"]

#: File types the upload button offers (anything else is refused by name).
ACCEPTED = (".wav", ".flac", ".ogg", ".mp3")
#: Largest upload or recording accepted, in bytes.
MAX_UPLOAD_BYTES = 20 * 2**20
#: Samples kept by default: 2.5 s, as in the NSynth tutorial.
DEFAULT_LENGTH = 40000
_MAX_START = 3600.0  # seconds


def trim(audio, start=0.0, length=DEFAULT_LENGTH, sample_rate=SAMPLE_RATE):
    """Cut a region out of a sound.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)]
    start : float
        Where the region begins, in seconds (0 to 3600, before the end of the sound).
    length : int
        Samples kept (0 to :data:`~nsynth_widgets.widgets.session.MAX_SAMPLES`); fewer when the
        sound ends first; 0 keeps everything from ``start``.
    sample_rate : int

    Returns
    -------
    region : np.ndarray [shape=(min(length, n - start * sample_rate),)]
        A copy.
    """
    start = _check_number("start", start, 0.0, _MAX_START)
    length = _check_number("length", length, 0, MAX_SAMPLES, integer=True)
    first = int(round(start * sample_rate))
    if first >= len(audio):
        raise ParameterError(
            f"`start` must be before the end of the sound ({len(audio) / sample_rate:.2f} s). Received: start={start}."
        )
    return audio[first : first + length if length else None].copy()


def _sound_name(filename):
    """A session name from an uploaded file's name: its stem, at most the allowed length."""
    stem = Path(filename).stem.strip()
    return stem[:_MAX_NAME] or "upload"


def _upload_content(file):
    """Check one entry of ``FileUpload.value``; return ``(name, content bytes)``."""
    name = file.get("name") if isinstance(file, dict) else None
    content = file.get("content") if isinstance(file, dict) else None
    if not isinstance(name, str) or not isinstance(content, (bytes, bytearray, memoryview)):
        raise ParameterError(
            f"`file` must be an uploaded file with a name and content. Received: file={describe(file)}."
        )
    if Path(name).suffix.lower() not in ACCEPTED:
        raise AudioError(f"`file` must be a {', '.join(ACCEPTED)} file. Received: file={name!r}.")
    size = memoryview(content).nbytes
    if size > MAX_UPLOAD_BYTES:
        raise AudioError(
            f"`file` must be at most {MAX_UPLOAD_BYTES // 2**20} MB. Received: file={name!r} of {size / 2**20:.1f} MB."
        )
    return name, content


class LoadPanel(Panel):
    """Upload, pick an example or record; trim; play back and remove sounds.

    Parameters
    ----------
    session : Session
    run_in_thread : bool
        Decode in a background thread (False: right away, as tests do).

    Attributes
    ----------
    upload : ipywidgets.FileUpload
        wav, flac, ogg or mp3, at most :data:`MAX_UPLOAD_BYTES` each.
    example, add_example_button : ipywidgets.Dropdown, ipywidgets.Button
    recorder : Recorder
    start, length : ipywidgets.BoundedFloatText, ipywidgets.BoundedIntText
        The region kept of every new sound (see :func:`trim`).
    sound, player, remove_button : ipywidgets.Dropdown, ipywidgets.Audio, ipywidgets.Button
        Play back or remove a loaded sound.
    error, message : ipywidgets.HTML
    """

    def __init__(self, session, run_in_thread=True):
        self._setup(session, run_in_thread)
        self._recordings = 0
        self.upload = ipywidgets.FileUpload(accept=",".join(ACCEPTED), multiple=True, description="Upload")
        self.example = ipywidgets.Dropdown(options=list(examples()), description="example")
        self.add_example_button = ipywidgets.Button(description="Add example", icon="plus")
        self.recorder = Recorder()
        self.start = ipywidgets.BoundedFloatText(0.0, min=0.0, max=_MAX_START, step=0.1, description="start (s)")
        self.length = ipywidgets.BoundedIntText(
            DEFAULT_LENGTH, min=0, max=MAX_SAMPLES, step=1000, description="length",
            style={"description_width": "initial"},
        )
        self.sound = ipywidgets.Dropdown(description="sound")
        self.player = audio_player()
        self.remove_button = ipywidgets.Button(description="Remove", icon="trash")
        super().__init__([
            ipywidgets.HTML(f"<b>Load a sound</b> ({', '.join(ACCEPTED)}, at most {MAX_UPLOAD_BYTES // 2**20} MB)"),
            ipywidgets.HBox([self.upload, self.example, self.add_example_button]),
            ipywidgets.HBox([ipywidgets.Label("Microphone:"), self.recorder]),
            ipywidgets.HBox([self.start, self.length, ipywidgets.Label("samples (0 = to the end)")]),
            self.error,
            self.message,
            ipywidgets.HBox([self.sound, self.remove_button]),
            self.player,
        ])
        self.upload.observe(self._on_upload, names="value")
        self.add_example_button.on_click(lambda _: self._run(self._add_example))
        self.recorder.on_recording(self._on_recording)
        self.remove_button.on_click(self._guarded(lambda _: self.session.remove_sound(self.sound.value)))
        self.sound.observe(self._guarded(lambda _: self._show_sound()), names="value")
        self.session.observe(self._guarded(lambda _: self._sounds_changed()), names="sounds")
        self.session.observe(self._guarded(lambda _: self._follow_selection(self.sound)), names="selected")
        self._sounds_changed()
        self._follow_selection(self.sound)

    # -- sources -------------------------------------------------------------------------------
    def _on_upload(self, change):
        files = change["new"]
        if not files:
            return
        self.upload.value = ()  # free the bytes; the same file can be uploaded again
        self._run(lambda: self._add_uploads(files))

    def _add_uploads(self, files):
        added, errors = [], []
        for file in files:
            try:
                filename, content = _upload_content(file)
                added.append(self._add(_sound_name(filename), load_audio(content)))
            except Exception as error:  # one bad file must not stop the others
                errors.append(error)
        if added:
            self._ok("; ".join(added))
        for error in errors:
            self._fail(error)

    def _add_example(self):
        name = _check_choice("example", self.example.value, examples())
        self._ok(self._add(name, load_example(name)))

    def _on_recording(self, data, _mime):
        self._recordings += 1
        name = f"recording {self._recordings}"

        def add():
            try:
                if len(data) > MAX_UPLOAD_BYTES:
                    raise AudioError(
                        f"`recording` must be at most {MAX_UPLOAD_BYTES // 2**20} MB. "
                        f"Received: recording of {len(data) / 2**20:.1f} MB."
                    )
                text = self._add(name, load_audio(data))
            except Exception:
                self.recorder.show_status("The recording could not be used (see the message below).")
                raise
            self.recorder.show_status(text)
            self._ok(text)

        self._run(add)

    def _add(self, name, audio):
        """Trim ``audio`` by the panel's settings, add it to the session; return a message."""
        region = trim(audio, self.start.value, self.length.value)
        name = self.session.add_sound(name, region)
        return f"Added '{name}': {region.size} samples ({region.size / SAMPLE_RATE:.2f} s)."

    # -- playback ------------------------------------------------------------------------------
    def _sounds_changed(self):
        self._set_options(self.sound, sorted(self.session.sounds))
        self._show_sound()

    def _show_sound(self):
        if self._quiet:
            return
        audio = self.session.sounds.get(self.sound.value)
        self.player.value = b"" if audio is None else wav(audio)
        self.remove_button.disabled = audio is None
