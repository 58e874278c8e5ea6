"""The notes of an NSynth-like dataset: which to render, and rendering them to a folder.

A plan (:func:`plan_notes`) lists instruments (General MIDI programs of NSynth's families),
pitches within each family's natural range and velocities, and splits train/valid by instrument;
:func:`render_dataset` renders it with :class:`~nsynth_widgets.training.fluidsynth.NoteRenderer`
into ``audio/{note_id}.wav`` and an NSynth-style ``examples.json``, resumably. From a shell:
``nsynth-widgets render-notes OUT_DIR --pitch-step 2`` (which also measures the pitch channels,
:func:`nsynth_widgets.training.dataset.measure_pitch`).
"""

import json
import numbers
import os
import types

import numpy as np
import soundfile

from .._files import atomic_path
from ..dsp.framing import SAMPLE_RATE
from ..errors import ParameterError, check_integer, describe
from .fluidsynth import NoteRenderer

__all__ = [
    "VELOCITIES",
    "FAMILIES",
    "PITCH_RANGES",
    "SILENCE_PEAK",
    "family_of",
    "plan_notes",
    "render_dataset",
    "spread",
]

#: The velocities of a plan by default.
VELOCITIES = (25, 50, 75, 100, 127)
#: A rendered note whose peak is below this is silent (the preset has no sample for its key) and dropped.
SILENCE_PEAK = 1e-4

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
_NOTE_KEYS = ("note_str", "instrument", "pitch", "velocity")


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


def spread(notes, limit):
    """At most ``limit`` notes taken evenly across the plan (first and last included)."""
    if limit >= len(notes):
        return notes
    picks = np.unique(np.linspace(0, len(notes) - 1, limit).round().astype(int))
    return [notes[index] for index in picks]
