"""A rendered dataset held in memory for training: random crops, and the notes' pitch channels.

:class:`NoteDataset` reads one split of a folder written by
:func:`~nsynth_widgets.training.notes.render_dataset` as 16-bit integers and draws random crops
for a trainer. The pitch channels of a pitch-conditioned model are measured on whole notes
(:func:`measure_pitch`), as the encoder measures them on whole sounds, and cut to each crop;
crops that carry them start on the frame grid of their note.

The workflow::

    notes = plan_notes(pitch_step=1)                  # notes.py: manifest, split by instrument
    examples = render_dataset("notes/", notes)        # audio/{note_id}.wav + examples.json
    measure_pitch("notes/")                           # pitch.npz: f0 + voicing of every frame
    train = NoteDataset("notes/", "train")            # in memory, random crops for a trainer
"""

import json
import os
from typing import NamedTuple

import numpy as np
import soundfile

from .._files import atomic_path
from ..dsp.framing import HOP_LENGTH, SAMPLE_RATE
from ..errors import AudioError, ParameterError, check_choice, check_integer, describe
from .fluidsynth import NOTE_SAMPLES

__all__ = ["SOUNDING_RMS_DB", "CROP_MODES", "NoteDataset", "PartnerCrops", "measure_pitch"]

# A 512-sample frame whose RMS is below this (dB re full scale) counts as silence when crops are
# drawn where notes sound (``NoteDataset(..., crops="sounding")``).
SOUNDING_RMS_DB = -60.0
#: Where :meth:`NoteDataset.random_crops` may start a crop (see :class:`NoteDataset`).
CROP_MODES = ("uniform", "sounding")

_SOUNDING_FRAME = HOP_LENGTH
_PITCH_FILE = "pitch.npz"
_SPLITS = ("train", "valid")


def measure_pitch(data_dir, progress=None, chunk=64):
    """Measure the pitch channels of every note into ``data_dir/pitch.npz`` (resumable).

    Each note's f0 and voicing per 512-sample frame (:func:`nsynth_widgets.dsp.pitch.estimate_pitch`
    on the whole 4 s note), written under the note ids of ``examples.json``. Notes already in the
    file are not measured again; the file is rewritten atomically after every ``chunk`` notes.

    Parameters
    ----------
    data_dir : str or os.PathLike
        A folder written by :func:`~nsynth_widgets.training.notes.render_dataset`.
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
            f"`data_dir` must hold an examples.json written by render_dataset. Received: data_dir={describe(data_dir)}."
        )
    with open(examples_path, encoding="utf-8") as file:
        return json.load(file)


def _read_pitch(path):
    """``{note_id: (frames, 2)}`` from a pitch file, or ``{}`` when there is none."""
    if not os.path.isfile(path):
        return {}
    with np.load(path, allow_pickle=False) as stored:
        return dict(zip(stored["note_ids"].tolist(), stored["pitch"]))


class PartnerCrops(NamedTuple):
    """The partners of a batch of crops (:meth:`NoteDataset.random_crops` with ``partner_interval``).

    Attributes
    ----------
    audio : np.ndarray [shape=(batch, length)], float32
        The same samples of each crop's partner note.
    pitch_channels : np.ndarray [shape=(batch, length // 512, 2)], float32, or None
        The partners' measured pitch channels (when the crops' were asked for).
    semitones : np.ndarray [shape=(batch,)], float32
        How far each partner is below its crop: the crop's MIDI pitch minus the partner's (0 where
        the crop is its own partner).
    """

    audio: np.ndarray
    pitch_channels: np.ndarray | None
    semitones: np.ndarray


class NoteDataset:
    """One split of a rendered dataset, held in memory as 16-bit integers.

    The full default plan (about 23 000 notes) takes about 3 GB; audio is converted to float32
    only per request.

    Parameters
    ----------
    data_dir : str or os.PathLike
        A folder written by :func:`~nsynth_widgets.training.notes.render_dataset`.
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
        self._partner_rows = {}
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

    def random_crops(self, batch, length, rng, with_pitch_channels=False, partner_interval=0):
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
        partner_interval : int
            When positive, also return each crop's *partner*: the same samples of another note of
            its instrument and velocity, drawn uniformly from those at most this many semitones
            away (the notes start together and are held equally long, so the two crops are the same
            moment of the same gesture at two pitches); the crop itself where there is none.

        Returns
        -------
        crops : np.ndarray [shape=(batch, length)], float32
        pitch_channels : np.ndarray [shape=(batch, length // 512, 2)], float32
            Only when ``with_pitch_channels``.
        partners : PartnerCrops
            Only when ``partner_interval`` is positive.
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
        samples = starts[:, None] + np.arange(length)
        out = [self._audio[rows[:, None], samples].astype(np.float32) / 32768.0]
        if with_pitch_channels:
            frames = starts[:, None] // HOP_LENGTH + np.arange(length // HOP_LENGTH)
            out.append(self.pitch_channels[rows[:, None], frames])
        if check_integer("partner_interval", partner_interval, 0, 127):
            candidates = self._partners(partner_interval)
            partner_rows = np.array([rng.choice(candidates[row]) if len(candidates[row]) else row for row in rows])
            pitches = np.array([self.examples[note_id]["pitch"] for note_id in self.note_ids])
            out.append(
                PartnerCrops(
                    self._audio[partner_rows[:, None], samples].astype(np.float32) / 32768.0,
                    self.pitch_channels[partner_rows[:, None], frames] if with_pitch_channels else None,
                    (pitches[rows] - pitches[partner_rows]).astype(np.float32),
                )
            )
        return out[0] if len(out) == 1 else tuple(out)

    def _partners(self, max_interval):
        """Per row, the rows of the other notes of its instrument and velocity at most ``max_interval`` semitones away."""
        if max_interval not in self._partner_rows:
            keys = [(self.examples[i]["instrument_str"], self.examples[i]["velocity"]) for i in self.note_ids]
            pitches = np.array([self.examples[i]["pitch"] for i in self.note_ids])
            by_key = {}
            for row, key in enumerate(keys):
                by_key.setdefault(key, []).append(row)
            candidates = []
            for row, key in enumerate(keys):
                group = np.array(by_key[key])
                near = np.abs(pitches[group] - pitches[row]) <= max_interval
                candidates.append(group[near & (group != row)])
            self._partner_rows[max_interval] = candidates
        return self._partner_rows[max_interval]


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
