"""`PlayPanel`: play a sound's timbre at any key of a two-octave on-screen keyboard.

A pitch-conditioned model (the embedded one) carries each sound's f0 in its encoding, so
transposing the encoding (:meth:`~nsynth_widgets.runtime.Synthesizer.transpose`) plays the same
timbre at another pitch. "Prepare keyboard" synthesizes every key of the keyboard in one batched
call (batching is almost free for the decoder) with a progress bar; the notes are kept, so a key
press afterwards plays at once. The keyboard spans two octaves around the sound's own pitch.
"""

import math

import ipywidgets
import numpy as np

from ..dsp.pitch import median_pitch
from ..errors import ParameterError, check_choice
from ..dsp.framing import SAMPLE_RATE
from ._common import BUSY, CHUNK_SIZE, Panel, SynthesisJob, wav

__all__ = ["PlayPanel", "KEYS", "NOTE_SECONDS", "keyboard_range", "note_name"]

#: Keys of the keyboard: two octaves from a C, and the C above.
KEYS = 25
#: Longest note a key plays (s): the start of the sound; every key is synthesized at once.
NOTE_SECONDS = 2.0

_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_NO_PITCH_CHANNELS = (
    "The model in use has no pitch channels (the published model does not), so it cannot play a sound at "
    "another pitch: use the embedded default model, or pitch-shift the audio before encoding "
    "(nsynth_widgets.audio.pitch_shift)."
)


def note_name(midi):
    """``60`` → ``"C4"`` (scientific pitch notation, MIDI 69 is A4)."""
    return f"{_NAMES[midi % 12]}{midi // 12 - 1}"


def keyboard_range(own_pitch):
    """The MIDI keys of the keyboard for a sound whose pitch is ``own_pitch`` (MIDI, fractional).

    The keyboard starts on the C about an octave below the sound, so the sound sits near its
    middle: ``KEYS`` consecutive keys.

    Returns
    -------
    keys : range
    """
    low = 12 * math.floor((round(own_pitch) - 6) / 12)
    return range(low, low + KEYS)


class PlayPanel(Panel):
    """A keyboard that plays the selected sound's timbre at the pressed key.

    Parameters
    ----------
    session : Session
    run_in_thread : bool
        Synthesize in a background thread (False: right away, as tests do).

    Attributes
    ----------
    sound : ipywidgets.Dropdown
        A name with a sound (encoded first if needed) or a loaded encoding.
    prepare_button : ipywidgets.Button
        Synthesize every key of the keyboard for :attr:`sound`.
    job : SynthesisJob
        Progress bar and Stop button of that batch.
    keys : list of ipywidgets.Button
        One per key, labelled with its note name; disabled until the notes are ready.
    player : ipywidgets.Audio
        Plays the pressed key (autoplay).
    notes : dict[int, np.ndarray [shape=(n,)]]
        The prepared notes of :attr:`prepared` by MIDI key.
    prepared : str or None
        The sound the keyboard currently plays.
    error, message : ipywidgets.HTML
    """

    def __init__(self, session, run_in_thread=True):
        self._setup(session, run_in_thread)
        self.sound = ipywidgets.Dropdown(description="sound")
        self.prepare_button = ipywidgets.Button(description="Prepare keyboard", button_style="primary", icon="music")
        self.job = SynthesisJob(run_in_thread, show_partial=False)
        self.player = ipywidgets.Audio(format="wav", autoplay=True, loop=False)
        self.keys = []
        self.keyboard = ipywidgets.HBox(layout=ipywidgets.Layout(flex_flow="row nowrap"))
        self.notes = {}
        self.prepared = None
        self._prepared_encoding = None
        super().__init__(
            [
                ipywidgets.HTML(
                    "<b>Play</b>: the sound's timbre at any key — its encoding transposed (the embedded model carries "
                    "the pitch in two of its channels). The small embedded model follows a transposition only in "
                    "part: some keys land off their pitch, and low keys often sound breathy (its model card "
                    "measures how far)."
                ),
                ipywidgets.HBox([self.sound, self.prepare_button]),
                self.job,
                self.error,
                self.message,
                self.keyboard,
                self.player,
            ]
        )
        self._build_keys(keyboard_range(60))
        self.prepare_button.on_click(self._guarded(lambda _: self._prepare()))
        self.session.observe(self._guarded(lambda _: self._names_changed()), names=["sounds", "encodings"])
        self.session.observe(self._guarded(lambda _: self._follow_selection(self.sound)), names="selected")
        self.session.observe(self._guarded(lambda _: self._forget()), names="synthesizer")
        self._names_changed()
        self._follow_selection(self.sound)

    def wait(self, timeout=None):
        """Block until a running synthesis has finished."""
        self.job.wait(timeout)

    def press(self, midi):
        """Play key ``midi`` (what clicking its button does)."""
        if midi not in self.notes:
            raise ParameterError(
                f"`key` must be a prepared key of the keyboard ({note_name(self.keys[0].midi)}-"
                f"{note_name(self.keys[-1].midi)}, press Prepare keyboard first). Received: key={midi!r}."
            )
        self.player.value = b""  # a new value every press, so pressing the same key again replays it
        self.player.value = wav(self.notes[midi])
        self._ok(f"{note_name(midi)}: '{self.prepared}' transposed to MIDI {midi}.")

    # -- internals -----------------------------------------------------------------------------
    def _build_keys(self, keys):
        self.keys = []
        for midi in keys:
            black = "#" in note_name(midi)
            button = ipywidgets.Button(
                description=note_name(midi),
                disabled=True,
                tooltip=f"MIDI {midi}",
                layout=ipywidgets.Layout(width="2.8em", height="3.6em" if black else "5.5em", padding="0"),
                style=ipywidgets.ButtonStyle(
                    button_color="#222222" if black else "#fafafa",
                    text_color="#ffffff" if black else "#000000",
                    font_size="0.7em",
                ),
            )
            button.midi = midi
            button.on_click(self._guarded(lambda pressed: self.press(pressed.midi)))
            self.keys.append(button)
        self.keyboard.children = self.keys

    def _prepare(self):
        if not self.session.synthesizer.pitch_conditioned:
            raise ParameterError(_NO_PITCH_CHANNELS)
        name = check_choice("sound", self.sound.value, self.session.names())
        synthesizer = self.session.synthesizer
        precision = self.session.precision

        def work(progress, cancel):
            encoding = self.session.encode([name])[name]
            frames = max(1, int(NOTE_SECONDS * SAMPLE_RATE) // synthesizer.config.hop_length)
            encoding = encoding[:, :frames]
            pitch = encoding[0, :, synthesizer.config.f0_channel :]
            if not (pitch[:, 1] >= 0.5).any():
                raise ParameterError(
                    f"`sound` must have a pitch to play at other keys: pYIN finds no voiced frame in its first "
                    f"{NOTE_SECONDS:g} s. Received: sound={name!r}."
                )
            own = float(median_pitch(pitch))
            keys, batch = [], []
            for midi in keyboard_range(own):
                try:
                    batch.append(synthesizer.transpose(encoding, midi - own)[0])
                except ParameterError:  # the key would take some frame outside the model's pitch range
                    continue
                keys.append(midi)
            audio = synthesizer.synthesize(
                np.stack(batch), seed=0, chunk_size=CHUNK_SIZE, progress=progress, cancel=cancel, precision=precision
            )
            return own, dict(zip(keys, audio))

        def done(result):
            own, notes = result
            self._build_keys(keyboard_range(own))
            self.notes, self.prepared = notes, name
            self._prepared_encoding = self.session.encodings.get(name)
            for button in self.keys:
                button.disabled = button.midi not in notes
            self._ok(f"'{name}' sounds at {note_name(round(own))} ({own:.2f}): press a key to play it there.")

        def cancelled(_partial):
            self._ok("Stopped: the keyboard keeps the notes it had.")

        if not self.job.start(work, done, cancelled, self._fail):
            self._fail(BUSY)

    def _forget(self):
        """The prepared notes no longer belong to the model or sound in use."""
        self.notes, self.prepared, self._prepared_encoding = {}, None, None
        for button in self.keys:
            button.disabled = True

    def _names_changed(self):
        self._set_options(self.sound, self.session.names())
        if self.prepared is not None and self.session.encodings.get(self.prepared) is not self._prepared_encoding:
            self._forget()  # the sound was removed or replaced
