"""`LoadPanel`: bring sounds into the session — upload a file, add a bundled example, or record.

Every sound becomes 16 kHz mono float32, trimmed to ``length`` samples from ``start`` seconds
(40000 samples by default, as in the NSynth tutorial), and can be played back. A file that
cannot be used leaves a message in the panel and the session as it was.

What a visitor sends has a bounded cost: the browser holds back files over
:data:`MAX_UPLOAD_BYTES` (the panel says so), and of a file only the region kept is decoded,
after its header has been checked against :data:`MAX_CHANNELS`, :data:`MAX_FILE_RATE` and the
session's 60 s limit. Files are decoded one at a time, in the order they arrive.
"""

import threading
from pathlib import Path

import ipywidgets

from ..audio import audio_info, load_audio
from ..errors import AudioError, ParameterError, check_choice, check_integer, check_number
from ..example_sounds import examples, load_example
from ._common import Panel, audio_player, error_text, run_task, wav
from .recorder import Recorder
from ..dsp.framing import SAMPLE_RATE
from .session import MAX_NAME_LENGTH, MAX_SAMPLES
from .upload import Upload

__all__ = [
    "LoadPanel",
    "trim",
    "load_region",
    "ACCEPTED",
    "MAX_UPLOAD_BYTES",
    "MAX_FILES",
    "MAX_CHANNELS",
    "MAX_FILE_RATE",
    "DEFAULT_LENGTH",
]

#: File types the upload button offers (anything else is refused by name).
ACCEPTED = (".wav", ".flac", ".ogg", ".mp3")
#: Largest upload or recording accepted, in bytes.
MAX_UPLOAD_BYTES = 20 * 2**20
#: Most files one pick may hold, and most waiting to be decoded (so at most 160 MB wait in memory).
MAX_FILES = 8
#: Most channels an uploaded file may have (read from its header, before decoding).
MAX_CHANNELS = 8
#: Highest sample rate an uploaded file may have, in Hz.
MAX_FILE_RATE = 192000
#: Samples kept by default: 2.5 s, as in the NSynth tutorial.
DEFAULT_LENGTH = 40000
_MAX_START = 3600.0  # seconds
_MAX_SECONDS = MAX_SAMPLES / SAMPLE_RATE


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
    start = check_number("start", start, 0.0, _MAX_START)
    length = check_integer("length", length, 0, MAX_SAMPLES)
    first = int(round(start * sample_rate))
    if first >= len(audio):
        raise ParameterError(
            f"`start` must be before the end of the sound ({len(audio) / sample_rate:.2f} s). Received: start={start}."
        )
    return audio[first : first + length if length else None].copy()


def _sound_name(filename):
    """A session name from an uploaded file's name: its stem, at most the allowed length."""
    stem = Path(filename).stem.strip()
    return stem[:MAX_NAME_LENGTH] or "upload"


def _upload_content(file):
    """Check one uploaded file's name and size; return its content bytes."""
    if Path(file.name).suffix.lower() not in ACCEPTED:
        raise AudioError(f"`file` must be a {', '.join(ACCEPTED)} file. Received: file={file.name!r}.")
    if file.content is None or file.size > MAX_UPLOAD_BYTES:
        raise AudioError(
            f"`file` must be at most {MAX_UPLOAD_BYTES // 2**20} MB. Received: file={file.name!r} of "
            f"{file.size / 2**20:.1f} MB."
        )
    return file.content


def load_region(source, start=0.0, length=DEFAULT_LENGTH):
    """Decode only the part of an audio file a panel keeps, within the dashboard's bounds.

    The file's header is read first: its channels, rate and length are checked against
    :data:`MAX_CHANNELS`, :data:`MAX_FILE_RATE` and 60 s before any audio is decoded.

    Parameters
    ----------
    source : bytes or str or os.PathLike
        The file (see :func:`~nsynth_widgets.audio.load_audio`).
    start : float
        Seconds into the file (0 to 3600).
    length : int
        Samples kept at 16 kHz (0 to :data:`~nsynth_widgets.widgets.session.MAX_SAMPLES`); 0 keeps
        everything from ``start``, which must then be at most 60 s.

    Returns
    -------
    audio : np.ndarray [shape=(n,)], float32, ``n <= length`` (``<= MAX_SAMPLES`` when ``length`` is 0)
    """
    start = check_number("start", start, 0.0, _MAX_START)
    length = check_integer("length", length, 0, MAX_SAMPLES)
    info = audio_info(source)
    if info.duration is not None:  # a length the header gives: word the refusals in the panel's terms
        if start >= info.duration:
            raise ParameterError(
                f"`start` must be before the end of the sound ({info.duration:.2f} s). Received: start={start}."
            )
        if not length and info.duration - start > _MAX_SECONDS:
            raise AudioError(
                f"`length` must be at most {MAX_SAMPLES} samples ({_MAX_SECONDS:g} s) for this sound, which runs "
                f"{info.duration - start:.1f} s from start={start:g} s (0 keeps all of it). Received: length=0."
            )
        end = start + (length / SAMPLE_RATE if length else info.duration - start)
        if info.decoded_from_start and end > _MAX_SECONDS:
            raise AudioError(
                f"`start` + `length` must stay within the first {_MAX_SECONDS:g} s of an mp3 here (an mp3 is decoded "
                "from its beginning); convert it to wav, flac or ogg to use a later part. "
                f"Received: start={start:g} s, length={length} (to {end:.1f} s)."
            )
    audio = load_audio(
        source,
        sample_rate=SAMPLE_RATE,
        offset=start,
        duration=length / SAMPLE_RATE if length else None,
        max_duration=_MAX_SECONDS,
        max_channels=MAX_CHANNELS,
        max_sample_rate=MAX_FILE_RATE,
    )
    return audio[: length or MAX_SAMPLES]  # resampling may give one sample more


class LoadPanel(Panel):
    """Upload, pick an example or record; trim; play back and remove sounds.

    Parameters
    ----------
    session : Session
    run_in_thread : bool
        Decode in a background thread (False: right away, as tests do).

    Attributes
    ----------
    upload : Upload
        wav, flac, ogg or mp3, at most :data:`MAX_UPLOAD_BYTES` each (the browser holds back larger
        files and the panel says why), at most 8 at once.
    example, add_example_button : ipywidgets.Dropdown, ipywidgets.Button
    recorder : Recorder
    start, length : ipywidgets.BoundedFloatText, ipywidgets.BoundedIntText
        The region kept of every new sound (see :func:`load_region`).
    sound, player, remove_button : ipywidgets.Dropdown, ipywidgets.Audio, ipywidgets.Button
        Play back or remove a loaded sound.
    error, message : ipywidgets.HTML
    """

    def __init__(self, session, run_in_thread=True):
        self._setup(session, run_in_thread)
        self._recordings = 0
        self._pending = []  # (action, its pick's messages) of files waiting to be decoded, oldest first
        self._pending_lock = threading.Lock()
        self._pick = ([], [])  # (added, errors) messages of the latest pick
        self.upload = Upload(MAX_UPLOAD_BYTES, accept=",".join(ACCEPTED), multiple=True, max_files=MAX_FILES)
        self.example = ipywidgets.Dropdown(options=list(examples()), description="example")
        self.add_example_button = ipywidgets.Button(description="Add example", icon="plus")
        self.recorder = Recorder()
        self.start = ipywidgets.BoundedFloatText(0.0, min=0.0, max=_MAX_START, step=0.1, description="start (s)")
        self.length = ipywidgets.BoundedIntText(
            DEFAULT_LENGTH,
            min=0,
            max=MAX_SAMPLES,
            step=1000,
            description="length",
            style={"description_width": "initial"},
        )
        self.sound = ipywidgets.Dropdown(description="sound")
        self.player = audio_player()
        self.remove_button = ipywidgets.Button(description="Remove", icon="trash")
        super().__init__(
            [
                ipywidgets.HTML(f"<b>Load a sound</b> ({', '.join(ACCEPTED)}, at most {MAX_UPLOAD_BYTES // 2**20} MB)"),
                ipywidgets.HBox([self.upload, self.example, self.add_example_button]),
                ipywidgets.HBox([ipywidgets.Label("Microphone:"), self.recorder]),
                ipywidgets.HBox([self.start, self.length, ipywidgets.Label("samples (0 = to the end)")]),
                self.error,
                self.message,
                ipywidgets.HBox([self.sound, self.remove_button]),
                self.player,
            ]
        )
        self.upload.on_file(self._on_upload)
        self.upload.on_refused(self._fail)
        self.add_example_button.on_click(lambda _: self._run(self._add_example))
        self.recorder.on_recording(self._on_recording)
        self.remove_button.on_click(self._guarded(lambda _: self.session.remove_sound(self.sound.value)))
        self.sound.observe(self._guarded(lambda _: self._show_sound()), names="value")
        self.session.observe(self._guarded(lambda _: self._sounds_changed()), names="sounds")
        self.session.observe(self._guarded(lambda _: self._follow_selection(self.sound)), names="selected")
        self._sounds_changed()
        self._follow_selection(self.sound)

    # -- sources -------------------------------------------------------------------------------
    def _on_upload(self, file):
        if file.index == 0:
            self._pick = ([], [])  # messages of this pick are shown together

        def add():
            name = _sound_name(file.name)
            try:
                return self._add(name, load_region(_upload_content(file), self.start.value, self.length.value))
            except Exception as error:  # name the file: a pick may hold several
                raise AudioError(f"'{file.name}' was not added: {error_text(error)}") from error

        self._enqueue(add)

    def _add_example(self):
        name = check_choice("example", self.example.value, examples())
        self._ok(self._add(name, trim(load_example(name), self.start.value, self.length.value)))

    def _on_recording(self, data, _mime):
        self._pick = ([], [])
        self._recordings += 1
        name = f"recording {self._recordings}"

        def add():
            try:
                if len(data) > MAX_UPLOAD_BYTES:
                    raise AudioError(
                        f"`recording` must be at most {MAX_UPLOAD_BYTES // 2**20} MB. "
                        f"Received: recording of {len(data) / 2**20:.1f} MB."
                    )
                text = self._add(name, load_region(data, self.start.value, self.length.value))
            except Exception:
                self.recorder.show_status("The recording could not be used (see the message below).")
                raise
            self.recorder.show_status(text)
            return text

        self._enqueue(add)

    def _enqueue(self, add):
        """Queue ``add()`` (which returns a message) with the current pick's messages.

        One worker decodes the queue in arrival order and shows each pick's messages together.
        """
        with self._pending_lock:
            if len(self._pending) >= MAX_FILES:
                self._fail(
                    f"`files` must be at most {MAX_FILES} waiting to be decoded; wait for them. "
                    f"Received: one more while {len(self._pending)} wait."
                )
                return
            self._pending.append((add, self._pick))
            if len(self._pending) > 1:
                return  # the running worker will take it
        self._thread = run_task(self._guarded(self._drain), self.run_in_thread)

    def _drain(self):
        while True:
            with self._pending_lock:
                add, (added, errors) = self._pending[0]
            try:
                added.append(add())
            except Exception as error:  # one bad file must not stop the others
                errors.append(error_text(error))
            if added:
                self._ok(" ".join(added))
            if errors:
                self._fail(" ".join(errors))
            with self._pending_lock:
                self._pending.pop(0)
                if not self._pending:
                    return

    def _add(self, name, region):
        """Add the region of a sound to the session; return a message."""
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
