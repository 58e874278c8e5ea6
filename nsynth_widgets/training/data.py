"""NSynth-like notes rendered locally from a General MIDI SoundFont.

The embedded default model is trained on notes made here, in the shape of the NSynth dataset:
one instrument (a General MIDI program of bank 0), one MIDI pitch and one velocity per note,
4 s of 16 kHz mono audio with the key held for the first 3 s. Notes are rendered with
libfluidsynth (called through ``ctypes``; Debian packages ``fluidsynth`` and
``fluid-soundfont-gm``) at 48 kHz with reverb and chorus off, mixed to mono and resampled to
16 kHz with soxr. Nothing is peak-normalised: velocity dynamics are kept, and one global gain
keeps the loudest notes below full scale.

The workflow::

    notes = plan_notes(pitch_step=1)                  # manifest, train/valid split by instrument
    examples = render_dataset("notes/", notes)        # audio/{note_id}.wav + examples.json
    measure_pitch("notes/")                           # pitch.npz: f0 + voicing of every frame
    train = NoteDataset("notes/", "train")            # in memory, random crops for a trainer

or from a shell: ``python -m nsynth_widgets.training.data notes/ --pitch-step 2`` (both steps).

The pitch channels of a pitch-conditioned model are measured on whole notes, as the encoder
measures them on whole sounds, and cut to each crop; crops that carry them start on the frame
grid of their note.

Each note is rendered by a fresh synthesizer that shares the SoundFont loaded once by the
renderer, so no state (release tails, voice or filter state) carries from one note to the next
and a note's audio does not depend on what was rendered before it.
"""

import argparse
import ctypes
import ctypes.util
import functools
import json
import numbers
import os
import sys
import types

import numpy as np
import soundfile
import soxr
from tqdm import tqdm

from .._files import atomic_path
from ..dsp.framing import HOP_LENGTH, SAMPLE_RATE
from ..errors import AudioError, NSynthWidgetsError, ParameterError, check_choice, check_integer, check_number, describe

__all__ = [
    "SAMPLE_RATE",
    "NOTE_SAMPLES",
    "VELOCITIES",
    "FAMILIES",
    "PITCH_RANGES",
    "DEFAULT_SOUNDFONT",
    "DEFAULT_GAIN",
    "SILENCE_PEAK",
    "SOUNDING_RMS_DB",
    "CROP_MODES",
    "family_of",
    "NoteRenderer",
    "plan_notes",
    "render_dataset",
    "NoteDataset",
    "measure_pitch",
    "main",
]

NOTE_SAMPLES = 4 * SAMPLE_RATE
VELOCITIES = (25, 50, 75, 100, 127)
DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# FluidR3 peaks at 0.181 with synth.gain=0.2 over programs of FAMILIES, MIDI 21-108, velocity
# 127: 0.7 puts the loudest note near 0.63 of full scale.
DEFAULT_GAIN = 0.7
SILENCE_PEAK = 1e-4
# A 512-sample frame whose RMS is below this (dB re full scale) counts as silence when crops are
# drawn where notes sound (``NoteDataset(..., crops="sounding")``).
SOUNDING_RMS_DB = -60.0
_SOUNDING_FRAME = HOP_LENGTH
CROP_MODES = ("uniform", "sounding")

# NSynth's families in the order of its integer ids, each with its General MIDI programs.
FAMILIES = types.MappingProxyType(
    {
        "bass": range(32, 40),
        "brass": range(56, 64),
        "flute": range(72, 80),
        "guitar": range(24, 31),
        "keyboard": range(0, 8),
        "mallet": range(8, 15),
        "organ": range(16, 21),
        "reed": range(64, 72),
        "string": range(40, 52),
        "synth_lead": range(80, 88),
        "vocal": range(52, 55),
    }
)

# Natural MIDI pitch range of each family, inclusive, within the piano's 21-108. Keys a preset
# does not cover render silent and are dropped (e.g. the contrabass above 57, the tuba above 72).
PITCH_RANGES = types.MappingProxyType(
    {
        "bass": (28, 67),
        "brass": (34, 84),
        "flute": (60, 96),
        "guitar": (40, 88),
        "keyboard": (21, 108),
        "mallet": (45, 108),
        "organ": (36, 96),
        "reed": (36, 91),
        "string": (36, 96),
        "synth_lead": (36, 96),
        "vocal": (40, 84),
    }
)

_FAMILY_IDS = {name: index for index, name in enumerate(FAMILIES)}
_PITCH_FILE = "pitch.npz"
_SPLITS = ("train", "valid")
_NOTE_KEYS = ("note_str", "instrument", "pitch", "velocity")
_RENDER_RATE = 48000
_HOLD_SAMPLES = 3 * _RENDER_RATE
_TOTAL_SAMPLES = NOTE_SAMPLES * _RENDER_RATE // SAMPLE_RATE
_FLUID_OK = 0
_FLUID_WARN = 2

_VOID_P, _INT, _CHAR_P, _DOUBLE = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_double
_SIGNATURES = {
    "new_fluid_settings": (_VOID_P, []),
    "delete_fluid_settings": (None, [_VOID_P]),
    "fluid_settings_setint": (_INT, [_VOID_P, _CHAR_P, _INT]),
    "fluid_settings_setnum": (_INT, [_VOID_P, _CHAR_P, _DOUBLE]),
    "new_fluid_synth": (_VOID_P, [_VOID_P]),
    "delete_fluid_synth": (None, [_VOID_P]),
    "fluid_synth_sfload": (_INT, [_VOID_P, _CHAR_P, _INT]),
    "fluid_synth_get_sfont_by_id": (_VOID_P, [_VOID_P, _INT]),
    "fluid_synth_add_sfont": (_INT, [_VOID_P, _VOID_P]),
    "fluid_synth_remove_sfont": (_INT, [_VOID_P, _VOID_P]),
    "fluid_synth_program_select": (_INT, [_VOID_P, _INT, _INT, _INT, _INT]),
    "fluid_synth_noteon": (_INT, [_VOID_P, _INT, _INT, _INT]),
    "fluid_synth_noteoff": (_INT, [_VOID_P, _INT, _INT]),
    "fluid_synth_write_float": (_INT, [_VOID_P, _INT, _VOID_P, _INT, _INT, _VOID_P, _INT, _INT]),
    "fluid_set_log_function": (_VOID_P, [_INT, _VOID_P, _VOID_P]),
}



@functools.lru_cache(maxsize=None)
def _fluidsynth():
    """The libfluidsynth shared library with its C signatures declared (loaded once)."""
    name = ctypes.util.find_library("fluidsynth")
    try:
        lib = ctypes.CDLL(name) if name is not None else None
    except OSError:
        lib = None
    if lib is None:
        raise NSynthWidgetsError(
            "libfluidsynth must be installed to render notes (Debian/Ubuntu: "
            "`apt-get install fluidsynth`, which brings `libfluidsynth3`). "
            f"Received: ctypes.util.find_library('fluidsynth')={name!r}."
        )
    for function, (restype, argtypes) in _SIGNATURES.items():
        getattr(lib, function).restype = restype
        getattr(lib, function).argtypes = argtypes
    return lib


def family_of(program):
    """NSynth family of a General MIDI program.

    Parameters
    ----------
    program : int
        General MIDI program number (0-based), one of those listed in ``FAMILIES``.

    Returns
    -------
    family : str
        A key of ``FAMILIES``; its NSynth integer id is its position there.
    """
    if isinstance(program, numbers.Integral) and not isinstance(program, bool):
        for family, programs in FAMILIES.items():
            if program in programs:
                return family
    spans = ", ".join(f"{family} {r.start}-{r.stop - 1}" for family, r in FAMILIES.items())
    raise ParameterError(
        f"`program` must be a General MIDI program of an NSynth family ({spans}). "
        f"Received: program={describe(program)}."
    )


class NoteRenderer:
    """Render single notes from a SoundFont with libfluidsynth, loading the SoundFont once.

    Use it as a context manager (or call :meth:`close`) to free the SoundFont. Not thread-safe:
    use one renderer per thread.

    Parameters
    ----------
    soundfont : str or os.PathLike
        SoundFont 2 file; the default is Debian's ``fluid-soundfont-gm`` (FluidR3, MIT licence).
    gain : float
        FluidSynth's master gain in (0, 10], the one global gain applied to every note.

    Raises
    ------
    ParameterError
        The SoundFont is missing or cannot be loaded, or ``gain`` is out of range.
    NSynthWidgetsError
        libfluidsynth is not installed.

    Examples
    --------
    >>> with NoteRenderer() as renderer:
    ...     audio = renderer.render(program=0, pitch=69, velocity=100)   # piano A4
    """

    def __init__(self, soundfont=DEFAULT_SOUNDFONT, gain=DEFAULT_GAIN):
        self._settings = self._loader = self._sfont = None
        if not isinstance(soundfont, (str, os.PathLike)) or not os.path.isfile(soundfont):
            raise ParameterError(
                "`soundfont` must be an existing SoundFont 2 file (the default comes with Debian's "
                "`fluid-soundfont-gm`: `apt-get install fluid-soundfont-gm`). "
                f"Received: soundfont={describe(soundfont)}."
            )
        self.gain = check_number("gain", gain, 0, 10, low_open=True)
        self.soundfont = os.fspath(soundfont)
        self._lib = lib = _fluidsynth()
        self._settings = lib.new_fluid_settings()
        for name, value in (("synth.sample-rate", float(_RENDER_RATE)), ("synth.gain", self.gain)):
            self._set(lib.fluid_settings_setnum, name, value)
        for name in ("synth.reverb.active", "synth.chorus.active"):
            self._set(lib.fluid_settings_setint, name, 0)
        self._loader = lib.new_fluid_synth(self._settings)
        sfont_id = lib.fluid_synth_sfload(self._loader, os.fsencode(self.soundfont), 1)
        if sfont_id < 0:
            self.close()
            raise ParameterError(
                "`soundfont` must be a SoundFont 2 file that libfluidsynth can load. "
                f"Received: soundfont={describe(self.soundfont)}."
            )
        self._sfont = lib.fluid_synth_get_sfont_by_id(self._loader, sfont_id)

    def _set(self, setter, name, value):
        if setter(self._settings, name.encode(), value) != _FLUID_OK:
            self.close()
            raise NSynthWidgetsError(
                f"libfluidsynth must accept the setting `{name}` (fluidsynth 2.x). Received: {name}={value}."
            )

    def render(self, program, pitch, velocity):
        """Render one note: key down at 0 s, key up at 3 s, 4 s in all.

        Parameters
        ----------
        program : int
            General MIDI program (bank 0) in [0, 127].
        pitch : int
            MIDI key in [0, 127] (69 is A4, 440 Hz).
        velocity : int
            MIDI velocity in [1, 127].

        Returns
        -------
        audio : np.ndarray [shape=(64000,)], float32
            16 kHz mono. Silent (all zeros) when the preset has no sample for this key.

        Raises
        ------
        AudioError
            The note exceeds full scale (|x| > 1): lower ``gain``.
        """
        program = check_integer("program", program, 0, 127)
        pitch = check_integer("pitch", pitch, 0, 127)
        velocity = check_integer("velocity", velocity, 1, 127)
        if self._sfont is None:
            raise NSynthWidgetsError("This NoteRenderer is closed; open a new one to render notes.")
        left = np.zeros(_TOTAL_SAMPLES, dtype=np.float32)
        right = np.zeros(_TOTAL_SAMPLES, dtype=np.float32)
        self._play(program, pitch, velocity, left, right)
        audio = soxr.resample(0.5 * (left + right), _RENDER_RATE, SAMPLE_RATE, quality="HQ")
        peak = float(np.max(np.abs(audio)))
        if peak > 1.0:
            raise AudioError(
                f"`gain` must keep every note within [-1, 1], but program {program}, pitch {pitch}, "
                f"velocity {velocity} peaks at {peak:.3f}. Received: gain={self.gain}."
            )
        return audio.astype(np.float32, copy=False)

    def _play(self, program, pitch, velocity, left, right):
        """Play the note on a fresh synthesizer sharing the loaded SoundFont, into 48 kHz buffers."""
        lib = self._lib
        synth = lib.new_fluid_synth(self._settings)
        if not synth:
            raise NSynthWidgetsError("libfluidsynth could not create a synthesizer (out of memory?).")
        try:
            sfont_id = lib.fluid_synth_add_sfont(synth, self._sfont)
            if sfont_id < 0 or lib.fluid_synth_program_select(synth, 0, sfont_id, 0, program) != _FLUID_OK:
                raise ParameterError(
                    f"`program` must name a preset of bank 0 in {self.soundfont}. Received: program={program}."
                )
            lib.fluid_synth_noteon(synth, 0, pitch, velocity)
            lib.fluid_synth_write_float(synth, _HOLD_SAMPLES, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
            lib.fluid_synth_noteoff(synth, 0, pitch)
            lib.fluid_synth_write_float(
                synth,
                _TOTAL_SAMPLES - _HOLD_SAMPLES,
                left.ctypes.data,
                _HOLD_SAMPLES,
                1,
                right.ctypes.data,
                _HOLD_SAMPLES,
                1,
            )
        finally:
            # Removing the SoundFont resets every channel's preset, which logs one "No preset
            # found" warning per channel: silence warnings for that call only.
            previous = lib.fluid_set_log_function(_FLUID_WARN, None, None)
            lib.fluid_synth_remove_sfont(synth, self._sfont)
            lib.fluid_set_log_function(_FLUID_WARN, previous, None)
            lib.delete_fluid_synth(synth)

    def close(self):
        """Free the synthesizer and the SoundFont; calling it again does nothing."""
        if self._loader is not None:
            self._lib.delete_fluid_synth(self._loader)
        if self._settings is not None:
            self._lib.delete_fluid_settings(self._settings)
        self._settings = self._loader = self._sfont = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        self.close()


def _note(program, pitch, velocity, split):
    family = family_of(program)
    instrument_str = f"{family}_{program:03d}"
    return {
        "note_str": f"{instrument_str}-{pitch:03d}-{velocity:03d}",
        "instrument": program,
        "instrument_str": instrument_str,
        "family": _FAMILY_IDS[family],
        "family_str": family,
        "pitch": pitch,
        "velocity": velocity,
        "split": split,
        "sample_rate": SAMPLE_RATE,
    }


def plan_notes(programs=None, pitch_step=1, velocities=VELOCITIES, seed=0, valid_per_family=1):
    """List the notes to render, with the train/valid split assigned by instrument.

    In every family with at least two chosen programs, ``valid_per_family`` programs (never all
    of them) are held out for validation, drawn from a generator seeded with ``(seed, family
    id)``: the choice depends only on the seed and that family's programs. All notes of a
    program share its split.

    Parameters
    ----------
    programs : iterable of int, optional
        General MIDI programs, each in a family of ``FAMILIES``; all of them by default.
    pitch_step : int
        Keep every ``pitch_step``-th pitch of each family's ``PITCH_RANGES``, from its lowest.
    velocities : iterable of int
        MIDI velocities in [1, 127].
    seed : int
        Seed of the split (non-negative).
    valid_per_family : int
        Programs held out per family.

    Returns
    -------
    notes : list of dict
        Ordered by program, pitch and velocity. Each has the keys of an NSynth ``examples.json``
        entry: ``note_str`` (the note id, ``"{family}_{program:03d}-{pitch:03d}-{velocity:03d}"``),
        ``instrument`` (the program), ``instrument_str``, ``family`` (NSynth id), ``family_str``,
        ``pitch``, ``velocity``, ``split`` (``"train"`` or ``"valid"``) and ``sample_rate``.
    """
    if programs is None:
        programs = [program for members in FAMILIES.values() for program in members]
    programs = list(programs)
    for program in programs:
        try:
            family_of(program)
        except ParameterError:
            raise ParameterError(
                "`programs` must hold General MIDI programs of NSynth families (see FAMILIES). "
                f"Received: programs={describe(programs)}."
            ) from None
    programs = sorted({int(program) for program in programs})
    pitch_step = check_integer("pitch_step", pitch_step, 1, 127)
    velocities = sorted({check_integer("velocities", velocity, 1, 127) for velocity in velocities})
    if not velocities:
        raise ParameterError("`velocities` must hold one or more integers in [1, 127]. Received: velocities=[].")
    seed = check_integer("seed", seed, 0)
    valid_per_family = check_integer("valid_per_family", valid_per_family, 0)

    valid = set()
    for family, members in FAMILIES.items():
        chosen = [program for program in programs if program in members]
        n_valid = min(valid_per_family, len(chosen) - 1)
        if n_valid > 0:
            rng = np.random.default_rng([seed, _FAMILY_IDS[family]])
            valid.update(int(program) for program in rng.choice(chosen, size=n_valid, replace=False))

    notes = []
    for program in programs:
        low, high = PITCH_RANGES[family_of(program)]
        split = "valid" if program in valid else "train"
        for pitch in range(low, high + 1, pitch_step):
            notes.extend(_note(program, pitch, velocity, split) for velocity in velocities)
    return notes


def _write_json(path, value):
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as file:
        json.dump(value, file, indent=1)


def _check_notes(notes):
    notes = list(notes)
    for index, note in enumerate(notes):
        note_id = note.get("note_str") if isinstance(note, dict) else None
        if (
            not isinstance(note_id, str)
            or not all(key in note for key in _NOTE_KEYS)
            or not note_id
            or os.path.basename(note_id) != note_id
        ):
            raise ParameterError(
                f"`notes` must be dicts made by plan_notes (with keys {', '.join(_NOTE_KEYS)}). "
                f"Received: notes[{index}]={describe(note)}."
            )
    return notes


def render_dataset(out_dir, notes, progress=None, cancel=None, renderer=None):
    """Render notes to ``out_dir/audio/{note_id}.wav`` and describe them in ``examples.json``.

    Resumable: a note whose wav file exists, or that an earlier run found silent (listed in
    ``out_dir/silent.json``), is not rendered again; files are written under a temporary name
    and renamed, so an interrupted run leaves no truncated file. Delete ``out_dir`` to re-render
    with another SoundFont or gain.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Created if needed.
    notes : list of dict
        Notes made by :func:`plan_notes` (or dicts with the same keys).
    progress : callable, optional
        Called as ``progress(n_done, n_total)`` after each note, rendered or skipped.
    cancel : callable, optional
        Called before each note to render; when it returns True, rendering stops and
        ``examples.json`` lists the notes handled so far (call again to resume).
    renderer : NoteRenderer, optional
        An open renderer to use (and leave open); by default one with the default SoundFont and
        gain is opened when the first note needs rendering and closed at the end.

    Returns
    -------
    examples : dict
        ``{note_id: note}`` for the notes handled that are not silent (peak >= ``SILENCE_PEAK``),
        as written to ``examples.json``.

    Raises
    ------
    AudioError
        A note exceeds full scale (see :meth:`NoteRenderer.render`); the files written so far
        are kept.
    """
    notes = _check_notes(notes)
    out_dir = os.fspath(out_dir)
    audio_dir = os.path.join(out_dir, "audio")
    os.makedirs(audio_dir, exist_ok=True)
    silent_path = os.path.join(out_dir, "silent.json")
    silent = set()
    if os.path.exists(silent_path):
        with open(silent_path, encoding="utf-8") as file:
            silent.update(json.load(file))
    examples = {}
    opened = None
    try:
        for n_done, note in enumerate(notes, start=1):
            note_id = note["note_str"]
            path = os.path.join(audio_dir, note_id + ".wav")
            if note_id not in silent and not os.path.exists(path):
                if cancel is not None and cancel():
                    break
                if renderer is None:
                    renderer = opened = NoteRenderer()
                audio = renderer.render(note["instrument"], note["pitch"], note["velocity"])
                if np.max(np.abs(audio)) < SILENCE_PEAK:
                    silent.add(note_id)
                else:
                    with atomic_path(path) as temporary:
                        soundfile.write(temporary, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
            if note_id not in silent:
                examples[note_id] = dict(note)
            if progress is not None:
                progress(n_done, len(notes))
    finally:
        if opened is not None:
            opened.close()
        _write_json(os.path.join(out_dir, "examples.json"), examples)
        _write_json(silent_path, sorted(silent))
    return examples


def measure_pitch(data_dir, progress=None, chunk=64):
    """Measure the pitch channels of every note into ``data_dir/pitch.npz`` (resumable).

    Each note's f0 and voicing per 512-sample frame (:func:`nsynth_widgets.dsp.pitch.estimate_pitch`
    on the whole 4 s note), written under the note ids of ``examples.json``. Notes already in the
    file are not measured again; the file is rewritten atomically after every ``chunk`` notes.

    Parameters
    ----------
    data_dir : str or os.PathLike
        A folder written by :func:`render_dataset`.
    progress : callable, optional
        ``progress(n_done, n_total)`` after each chunk.
    chunk : int
        Notes measured per call of the estimator.

    Returns
    -------
    pitch : dict[str, np.ndarray [shape=(NOTE_SAMPLES // 512, 2)]]
        By note id: ``log2(f0 / 440)`` and voicing.
    """
    from ..dsp.pitch import estimate_pitch

    data_dir = os.fspath(data_dir)
    examples = _read_examples(data_dir)
    path = os.path.join(data_dir, _PITCH_FILE)
    measured = _read_pitch(path)
    missing = [note_id for note_id in examples if note_id not in measured]
    for first in range(0, len(missing), chunk):
        ids = missing[first : first + chunk]
        audio = np.stack([soundfile.read(os.path.join(data_dir, "audio", i + ".wav"), dtype="float32")[0] for i in ids])
        measured.update(zip(ids, estimate_pitch(audio, SAMPLE_RATE, HOP_LENGTH)))
        with atomic_path(path) as temporary, open(temporary, "wb") as file:
            np.savez(file, note_ids=np.array(list(measured)), pitch=np.stack(list(measured.values())))
        if progress is not None:
            progress(len(examples) - len(missing) + first + len(ids), len(examples))
    return {note_id: measured[note_id] for note_id in examples}


def _read_examples(data_dir):
    examples_path = os.path.join(data_dir, "examples.json")
    if not os.path.isfile(examples_path):
        raise ParameterError(
            "`data_dir` must hold an examples.json written by render_dataset. "
            f"Received: data_dir={describe(data_dir)}."
        )
    with open(examples_path, encoding="utf-8") as file:
        return json.load(file)


def _read_pitch(path):
    """``{note_id: (frames, 2)}`` from a pitch file, or ``{}`` when there is none."""
    if not os.path.isfile(path):
        return {}
    with np.load(path, allow_pickle=False) as stored:
        return dict(zip(stored["note_ids"].tolist(), stored["pitch"]))


class NoteDataset:
    """One split of a rendered dataset, held in memory as 16-bit integers.

    The full default plan (about 23 000 notes) takes about 3 GB; audio is converted to float32
    only per request.

    Parameters
    ----------
    data_dir : str or os.PathLike
        A folder written by :func:`render_dataset`.
    split : str
        ``"train"`` or ``"valid"``.
    crops : str
        Where :meth:`random_crops` starts its crops. ``"uniform"``: anywhere in the note.
        ``"sounding"``: early enough that at least half of the crop lies before the note falls
        silent (its last 512-sample frame with an RMS of at least ``SOUNDING_RMS_DB``). A third
        of uniform crops are silent (notes decay or are released after 3 s), and they teach a
        trained model little; sounding crops still reach into releases and silence.

    Attributes
    ----------
    note_ids : list of str
        The split's notes, in ``examples.json`` order.
    examples : dict
        ``{note_id: note}`` metadata of those notes.
    sounding_lengths : np.ndarray [shape=(len(note_ids),)], int64
        Samples from each note's start to the end of its last frame at or above
        ``SOUNDING_RMS_DB``.
    """

    def __init__(self, data_dir, split="train", crops="uniform"):
        check_choice("split", split, _SPLITS)
        self.crops = check_choice("crops", crops, CROP_MODES)
        data_dir = os.fspath(data_dir)
        self.data_dir = data_dir
        examples = _read_examples(data_dir)
        examples_path = os.path.join(data_dir, "examples.json")
        self._pitch = None
        self.note_ids = [note_id for note_id, note in examples.items() if note["split"] == split]
        if not self.note_ids:
            raise ParameterError(
                f"`split` must name a split with notes in {examples_path}. Received: split={describe(split)}."
            )
        self.examples = {note_id: examples[note_id] for note_id in self.note_ids}
        self._rows = {note_id: row for row, note_id in enumerate(self.note_ids)}
        self._audio = np.empty((len(self.note_ids), NOTE_SAMPLES), dtype=np.int16)
        for row, note_id in enumerate(self.note_ids):
            path = os.path.join(data_dir, "audio", note_id + ".wav")
            samples, rate = soundfile.read(path, dtype="int16")
            if rate != SAMPLE_RATE or samples.shape != (NOTE_SAMPLES,):
                raise AudioError(
                    f"`data_dir` must hold {SAMPLE_RATE} Hz mono notes of {NOTE_SAMPLES} samples. "
                    f"Received: {path} at {rate} Hz with shape {samples.shape}."
                )
            self._audio[row] = samples
        self.sounding_lengths = _sounding_lengths(self._audio)

    def __len__(self):
        return len(self.note_ids)

    def load(self, note_id):
        """Audio of one note.

        Parameters
        ----------
        note_id : str
            One of ``note_ids``.

        Returns
        -------
        audio : np.ndarray [shape=(64000,)], float32
            In [-1, 1), the same values ``soundfile.read`` gives for the wav file.
        """
        if note_id not in self._rows:
            raise ParameterError(f"`note_id` must be a note of this split. Received: note_id={describe(note_id)}.")
        return self._audio[self._rows[note_id]].astype(np.float32) / 32768.0

    @property
    def pitch_channels(self):
        """Every note's measured pitch channels: ``(len(note_ids), NOTE_SAMPLES // 512, 2)`` float32.

        Read from ``data_dir/pitch.npz`` (made by :func:`measure_pitch`, which runs now for notes
        it lacks).
        """
        if self._pitch is None:
            measured = _read_pitch(os.path.join(self.data_dir, _PITCH_FILE))
            if any(note_id not in measured for note_id in self.note_ids):
                measured = measure_pitch(self.data_dir)
            self._pitch = np.stack([measured[note_id] for note_id in self.note_ids]).astype(np.float32)
        return self._pitch

    def random_crops(self, batch, length, rng, with_pitch_channels=False):
        """Crops of random notes (uniformly, with replacement) at random offsets (see ``crops``).

        Parameters
        ----------
        batch : int
            Number of crops.
        length : int
            Samples per crop, in [1, 64000].
        rng : np.random.Generator or int
            Source of randomness (an int seeds a new generator).
        with_pitch_channels : bool
            Also return the measured pitch channels of the crop's frames (:attr:`pitch_channels`);
            the crops then start on their note's 512-sample frame grid (the start drawn as
            otherwise, rounded down) and ``length`` must be a whole number of frames.

        Returns
        -------
        crops : np.ndarray [shape=(batch, length)], float32
        pitch_channels : np.ndarray [shape=(batch, length // 512, 2)], float32
            Only when ``with_pitch_channels``.
        """
        batch = check_integer("batch", batch, 1)
        length = check_integer("length", length, 1, NOTE_SAMPLES)
        if with_pitch_channels and length % HOP_LENGTH:
            raise ParameterError(
                f"`length` must be a multiple of {HOP_LENGTH} samples to cut pitch channels. Received: length={length}."
            )
        rng = np.random.default_rng(rng)
        rows = rng.integers(0, len(self.note_ids), size=batch)
        if self.crops == "sounding":
            latest = np.clip(self.sounding_lengths[rows] - length // 2, 0, NOTE_SAMPLES - length)
            starts = rng.integers(0, latest + 1)
        else:
            starts = rng.integers(0, NOTE_SAMPLES - length + 1, size=batch)
        if with_pitch_channels:
            starts = starts // HOP_LENGTH * HOP_LENGTH
        crops = self._audio[rows[:, None], starts[:, None] + np.arange(length)].astype(np.float32) / 32768.0
        if not with_pitch_channels:
            return crops
        frames = starts[:, None] // HOP_LENGTH + np.arange(length // HOP_LENGTH)
        return crops, self.pitch_channels[rows[:, None], frames]


def _sounding_lengths(audio, chunk=256):
    """Per note, samples up to the end of its last frame at or above ``SOUNDING_RMS_DB``.

    Parameters
    ----------
    audio : np.ndarray [shape=(notes, NOTE_SAMPLES)], int16

    Returns
    -------
    lengths : np.ndarray [shape=(notes,)], int64 — 0 for a note with no such frame
    """
    threshold = (32768.0 * 10.0 ** (SOUNDING_RMS_DB / 20.0)) ** 2  # mean square, int16 units
    frames = NOTE_SAMPLES // _SOUNDING_FRAME
    lengths = np.zeros(len(audio), dtype=np.int64)
    for first in range(0, len(audio), chunk):  # float32 copies of a few notes at a time
        block = audio[first : first + chunk, : frames * _SOUNDING_FRAME].astype(np.float32)
        loud = np.mean(block.reshape(len(block), frames, _SOUNDING_FRAME) ** 2, axis=-1) >= threshold
        last = frames - np.argmax(loud[:, ::-1], axis=1)  # one past the last loud frame
        lengths[first : first + chunk] = np.where(loud.any(axis=1), last * _SOUNDING_FRAME, 0)
    return lengths


def _spread(notes, limit):
    """At most ``limit`` notes taken evenly across the plan (first and last included)."""
    if limit >= len(notes):
        return notes
    picks = np.unique(np.linspace(0, len(notes) - 1, limit).round().astype(int))
    return [notes[index] for index in picks]


def main(argv=None):
    """Command line: plan, then render a dataset with a progress bar.

    ``python -m nsynth_widgets.training.data OUT_DIR [--pitch-step N] [--programs P ...]
    [--velocities V ...] [--seed S] [--limit N] [--soundfont PATH] [--gain G]``

    Returns
    -------
    status : int
        0 on success; errors exit with status 2 and a one-line message.
    """
    parser = argparse.ArgumentParser(
        prog="python -m nsynth_widgets.training.data",
        description="Render NSynth-like notes from a General MIDI SoundFont (resumable).",
    )
    parser.add_argument("out_dir", help="folder for audio/*.wav, examples.json and silent.json")
    parser.add_argument("--pitch-step", type=int, default=1, help="keep every N-th pitch (default 1)")
    parser.add_argument("--programs", type=int, nargs="+", help="General MIDI programs (default: all families)")
    parser.add_argument("--velocities", type=int, nargs="+", default=list(VELOCITIES))
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/valid split by instrument")
    parser.add_argument("--limit", type=int, help="render at most N notes, spread evenly over the plan")
    parser.add_argument("--soundfont", default=DEFAULT_SOUNDFONT)
    parser.add_argument("--gain", type=float, default=DEFAULT_GAIN)
    args = parser.parse_args(argv)
    try:
        notes = plan_notes(args.programs, args.pitch_step, args.velocities, args.seed)
        if args.limit is not None:
            notes = _spread(notes, check_integer("limit", args.limit, 1))
        with NoteRenderer(args.soundfont, args.gain) as renderer, tqdm(total=len(notes), unit="note") as bar:
            examples = render_dataset(
                args.out_dir, notes, progress=lambda n_done, _: bar.update(n_done - bar.n), renderer=renderer
            )
        with tqdm(total=len(examples), unit="note", desc="pitch") as bar:
            measure_pitch(args.out_dir, progress=lambda n_done, _: bar.update(n_done - bar.n))
    except NSynthWidgetsError as error:
        parser.exit(2, f"error: {error}\n")
    n_valid = sum(note["split"] == "valid" for note in examples.values())
    print(
        f"{len(examples)} notes in {args.out_dir} ({len(examples) - n_valid} train, {n_valid} valid); "
        f"{len(notes) - len(examples)} silent notes dropped."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
