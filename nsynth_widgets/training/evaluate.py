"""Measure how well a trained model resynthesizes held-out notes (the numbers of the model card).

For notes picked from a :class:`~nsynth_widgets.training.data.NoteDataset` (use the ``"valid"``
split: its instruments were never seen in training), each note is encoded and resynthesized
(seeded sampling, several notes per decoder call) and compared with the original:

* spectral distance (:func:`nsynth_widgets.metrics.spectral_distance`, multi-resolution
  log-STFT, dB, lower is better) of the resynthesis, next to two baselines that bracket it:
  the mu-law round trip alone (:func:`nsynth_widgets.dsp.quantize`, the 8-bit floor every
  NSynth model starts from) and :func:`envelope_noise` (white noise with the note's loudness
  contour: right dynamics, no pitch or timbre);
* pitch error (:func:`f0_error_cents`, pYIN on both signals) and its sign (:func:`f0_offset_cents`);
* voiced recall (:func:`voiced_recall`): of the frames pYIN finds voiced in the original, the
  share it finds voiced in the resynthesis (noise with the right envelope scores near 0);
* for a pitch-conditioned model, a transposition check: the encodings transposed by a few
  intervals (``model.transpose``) are resynthesized and their pitch compared with the original's
  moved by the same interval;
* a latent-mix check: the resynthesis of a 50/50 mix of two instruments' encodings at the same
  pitch should sit between them;
* :func:`validation_loss`: the decoder's teacher-forced cross-entropy on fixed crops of the
  held-out notes (the training objective, comparable between runs whatever seed they used);
* :func:`unpitched_check`: the spectral distance of resyntheses of sounds without a pitch —
  noise, clicks and FluidR3's sound effects (sea shore, helicopter, applause, gunshot...) — which
  a pitch-conditioned model must not make worse.

From a shell::

    python -m nsynth_widgets.training.evaluate WEIGHTS DATA_DIR --out DIR --notes 24

writes ``DIR/results.json`` and ``DIR/figures/*.png`` and prints :func:`results_markdown`.
Nothing here imports TensorFlow; the model passed in does the encoding.
"""

import argparse
import io
import json
import math
import os
import sys
import time

import librosa
import matplotlib
import numpy as np
from matplotlib.figure import Figure
from PIL import Image
from tqdm import tqdm

from .._files import atomic_path
from ..audio import validate_audio
from ..dsp import codes_to_classes, interpolate, mu_law_encode, quantize
from ..dsp.framing import SAMPLE_RATE
from ..errors import NSynthWidgetsError, ParameterError, check_integer, check_number, describe
from ..metrics import spectral_distance
from ..plotting import plot_spectrogram
from .data import FAMILIES
from .train import model_inputs

__all__ = [
    "HARMONIC_FAMILIES",
    "f0_error_cents",
    "f0_offset_cents",
    "voiced_recall",
    "envelope_noise",
    "evaluate_model",
    "validation_loss",
    "unpitched_sounds",
    "unpitched_check",
    "save_figures",
    "results_markdown",
    "main",
]

#: Families whose notes have one clear pitch; their f0 errors make the overall f0 median.
#: Mallet notes are measured too but reported on their own row only (inharmonic partials).
HARMONIC_FAMILIES = (
    "bass", "brass", "flute", "guitar", "keyboard", "organ", "reed", "string", "synth_lead", "vocal",
)

_HELD_SECONDS = 3.0  # a rendered note's key is held for its first 3 s
_PYIN_FRAME = 2048
_VOICED_PROBABILITY = 0.5
_FMIN, _FMAX = librosa.note_to_hz("C2"), librosa.note_to_hz("C7")
_MIX_WEIGHT = 0.5
_FIGURE_SIZE = (6.0, 2.5)  # inches
_FIGURE_DPI = 80
_PNG_COLORS = 128  # palette PNGs: a third of the size of full-colour ones, no visible banding



def _median(values):
    """Median of the finite values (NaN when there are none, without a warning)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else math.nan


def f0_error_cents(reference, estimate, sample_rate=SAMPLE_RATE, fmin=_FMIN, fmax=_FMAX):
    """Median pitch error of ``estimate`` against ``reference``, in cents.

    Both signals are cut to their common length and to the note's held part (the first 3 s),
    tracked with :func:`librosa.pyin` (frames of 2048 samples, hop 512), and compared on the
    frames that pYIN finds voiced in both (decoded as voiced, with a voicing probability of at
    least 0.5): the result is the median over those frames of
    ``|1200 * log2(f_estimate / f_reference)|``. An octave error reads 1200.

    Parameters
    ----------
    reference, estimate : np.ndarray [shape=(n,)], float in [-1, 1]
        Mono audio; lengths may differ.
    sample_rate : float
        Samples per second.
    fmin, fmax : float
        Pitch search range in Hz (default C2-C7, 65.4-2093 Hz), ``0 < fmin < fmax < sample_rate / 2``.

    Returns
    -------
    cents : float
        >= 0, or NaN when no frame is voiced in both signals (silence, noise, a pitch outside
        ``[fmin, fmax]``, or a common part shorter than one 2048-sample frame).
    """
    return _cents(*_paired_tracks(reference, estimate, sample_rate, fmin, fmax))


def f0_offset_cents(reference, estimate, sample_rate=SAMPLE_RATE, fmin=_FMIN, fmax=_FMAX):
    """Median signed pitch offset of ``estimate`` from ``reference``, in cents.

    Measured like :func:`f0_error_cents` (same tracks, same frames) but without the absolute
    value: the median over frames of ``1200 * log2(f_estimate / f_reference)``. Positive means
    the estimate is sharp. It tells a steady transposition (an offset as large as the error)
    from a pitch that wanders around the right one (an offset near 0 with a large error).

    Parameters and the NaN case are those of :func:`f0_error_cents`.

    Returns
    -------
    cents : float
    """
    return _signed_cents(*_paired_tracks(reference, estimate, sample_rate, fmin, fmax))


def voiced_recall(reference, estimate, sample_rate=SAMPLE_RATE, fmin=_FMIN, fmax=_FMAX):
    """Of the frames pYIN finds voiced in ``reference``, the share it finds voiced in ``estimate``.

    Tracked as in :func:`f0_error_cents` (first 3 s, common length). Parameters are its.

    Returns
    -------
    recall : float
        In [0, 1], or NaN when no frame of ``reference`` is voiced.
    """
    return _recall(*_paired_tracks(reference, estimate, sample_rate, fmin, fmax))


def _recall(track, reference_track):
    """Share of the finite frames of ``reference_track`` where ``track`` is finite too (NaN if none)."""
    voiced = np.isfinite(reference_track)
    return float(np.mean(np.isfinite(track[voiced]))) if voiced.any() else math.nan


def _paired_tracks(reference, estimate, sample_rate, fmin, fmax):
    """Validate the arguments of the f0 measures; pYIN tracks of ``estimate`` and ``reference``.

    Returns ``(estimate_track, reference_track)``, both ``(frames,)`` float64 over the common length.
    """
    reference = validate_audio(reference, "reference", allow_silence=True, ndim=1)
    estimate = validate_audio(estimate, "estimate", allow_silence=True, ndim=1)
    sample_rate = check_number("sample_rate", sample_rate, 0, low_open=True)
    fmin = check_number("fmin", fmin, 0, low_open=True)
    if not fmin < check_number("fmax", fmax, 0, low_open=True) < sample_rate / 2:
        raise ParameterError(
            f"`fmax` must exceed `fmin` (> 0) and stay below sample_rate / 2 = {sample_rate / 2:g}. "
            f"Received: fmin={describe(fmin)}, fmax={describe(fmax)}."
        )
    n = min(reference.size, estimate.size)
    return (
        _pitch_track(estimate[:n], sample_rate, fmin, fmax),
        _pitch_track(reference[:n], sample_rate, fmin, fmax),
    )


def _pitch_track(audio, sample_rate, fmin, fmax):
    """pYIN f0 in Hz per frame (2048 samples, hop 512) of the first 3 s; NaN where unvoiced.

    A frame is voiced when pYIN's decoding says so *and* its voicing probability is at least
    0.5: the decoding alone calls half the frames of white noise voiced (at a random pitch).

    Returns ``(frames,)`` float64, empty when the audio is shorter than one frame.
    """
    audio = audio[: int(_HELD_SECONDS * sample_rate)]
    if audio.size < _PYIN_FRAME:
        return np.empty(0)
    f0, voiced, probability = librosa.pyin(
        audio, fmin=float(fmin), fmax=float(fmax), sr=sample_rate, frame_length=_PYIN_FRAME
    )
    return np.where(voiced & (probability >= _VOICED_PROBABILITY), f0, np.nan)


def _cent_differences(track, reference_track):
    """``1200 * log2(track / reference_track)`` on the frames where both (Hz, array or scalar) are finite."""
    track, reference_track = np.broadcast_arrays(track, reference_track)
    both = np.isfinite(track) & np.isfinite(reference_track)
    return 1200.0 * np.log2(track[both] / reference_track[both])


def _cents(track, reference_track):
    """Median ``|cents|`` of ``track`` against ``reference_track`` where both are finite (NaN if nowhere)."""
    differences = _cent_differences(track, reference_track)
    return float(np.median(np.abs(differences))) if differences.size else math.nan


def _signed_cents(track, reference_track):
    """Median signed cents of ``track`` against ``reference_track`` where both are finite (NaN if nowhere)."""
    differences = _cent_differences(track, reference_track)
    return float(np.median(differences)) if differences.size else math.nan


def envelope_noise(audio, rng, frame=512):
    """The envelope-shaped noise baseline: white noise with ``audio``'s loudness contour.

    The RMS of each frame of ``frame`` samples (the last one may be shorter) is placed at the
    frame's centre and interpolated linearly to every sample (held constant before the first
    and after the last centre); the envelope multiplies uniform white noise of unit RMS. Its
    spectrum is flat: it keeps the note's dynamics but none of its pitch or timbre.

    Parameters
    ----------
    audio : np.ndarray [shape=(n,)], float in [-1, 1]
        The reference (not modified).
    rng : np.random.Generator or int
        Source of the noise (an int seeds a new generator).
    frame : int
        Samples per RMS frame (>= 1).

    Returns
    -------
    noise : np.ndarray [shape=(n,)], float32 in [-1, 1]
        Local RMS follows the reference's; silence gives silence.
    """
    audio = validate_audio(audio, allow_silence=True, ndim=1)
    frame = check_integer("frame", frame, 1)
    rng = np.random.default_rng(rng)
    starts = np.arange(0, audio.size, frame)
    power = np.add.reduceat(np.square(audio, dtype=np.float64), starts)
    lengths = np.diff(np.append(starts, audio.size))
    centres = starts + (lengths - 1) / 2.0
    envelope = np.interp(np.arange(audio.size), centres, np.sqrt(power / lengths))
    noise = rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), audio.size)
    return np.clip(envelope * noise, -1.0, 1.0).astype(np.float32)


def _candidates(dataset, pitch_range, min_velocity):
    """Note ids with a pitch in ``pitch_range`` and velocity >= ``min_velocity``, in dataset order."""
    low, high = pitch_range
    chosen = []
    for note_id in dataset.note_ids:
        note = dataset.examples[note_id]
        if low <= note["pitch"] <= high and note["velocity"] >= min_velocity:
            chosen.append(note_id)
    return chosen


def _select_notes(dataset, candidates, n_notes, rng):
    """Up to ``n_notes`` candidates taken round-robin over families (each family shuffled)."""
    by_family = {}
    for note_id in candidates:
        by_family.setdefault(dataset.examples[note_id]["family_str"], []).append(note_id)
    queues = [[ids[i] for i in rng.permutation(len(ids))] for _, ids in sorted(by_family.items())]
    chosen = []
    while len(chosen) < n_notes and any(queues):
        for queue in queues:
            if queue and len(chosen) < n_notes:
                chosen.append(queue.pop(0))
    return chosen


def _select_pair(dataset, candidates, harmonic_families, rng):
    """Two notes of harmonic families, different instruments, same pitch and velocity; or None.

    Pitches closest to the middle of the candidates' range come first, louder velocities first.
    """
    groups = {}
    for note_id in candidates:
        note = dataset.examples[note_id]
        if note["family_str"] in harmonic_families:
            groups.setdefault((note["pitch"], note["velocity"]), {}).setdefault(note["instrument_str"], note_id)
    if not groups:
        return None
    pitches = [pitch for pitch, _ in groups]
    middle = (min(pitches) + max(pitches)) / 2.0
    for key in sorted(groups, key=lambda k: (abs(k[0] - middle), k[0], -k[1])):
        instruments = sorted(groups[key])
        if len(instruments) >= 2:
            first, second = rng.choice(len(instruments), size=2, replace=False)
            return groups[key][instruments[first]], groups[key][instruments[second]]
    return None


def _synthesize(model, encodings, batch_size, seed, progress=None):
    """Resynthesize a list of ``(frames, 16)`` encodings in about equal batches of <= ``batch_size``.

    Batch ``k`` samples with ``np.random.default_rng([seed, k])``. Returns a list of 1-D arrays.
    """
    n_batches = math.ceil(len(encodings) / batch_size)
    audio = []
    for k, part in enumerate(np.array_split(np.arange(len(encodings)), n_batches)):
        audio.extend(model.synthesize([encodings[i] for i in part], seed=np.random.default_rng([seed, k])))
        if progress is not None:
            progress(len(audio), len(encodings))
    return audio


def _between(mixed, a, b, sample_rate):
    """Spectral distances of ``mixed`` to ``a`` and ``b``, of ``a`` to ``b``, and whether ``mixed`` is nearer both."""
    d_mix_a = spectral_distance(a, mixed, sample_rate)
    d_mix_b = spectral_distance(b, mixed, sample_rate)
    d_a_b = spectral_distance(a, b, sample_rate)
    return {
        "d_mix_a": d_mix_a,
        "d_mix_b": d_mix_b,
        "d_a_b": d_a_b,
        "between": bool(d_mix_a < d_a_b and d_mix_b < d_a_b),
    }


def _summarise(rows, f0_rows):
    """Medians of a group of note rows; f0 statistics over ``f0_rows`` only."""
    cents = np.array([row["f0_cents"] for row in f0_rows], dtype=np.float64)
    measured = cents[np.isfinite(cents)]
    voiced = sum(row["voiced_frames"] for row in f0_rows)
    return {
        "notes": len(rows),
        "spectral_distance": _median([row["spectral_distance"] for row in rows]),
        "mulaw_distance": _median([row["mulaw_distance"] for row in rows]),
        "noise_distance": _median([row["noise_distance"] for row in rows]),
        "f0_cents": _median(measured),
        "f0_measured": int(measured.size),
        "f0_within_50_cents": float(np.mean(measured <= 50.0)) if measured.size else math.nan,
        "voiced_recall": sum(row["recalled_frames"] for row in f0_rows) / voiced if voiced else math.nan,
    }


def _evaluate(model, dataset, n_notes, seed, harmonic_families, batch_size, progress, pitch_range, min_velocity,
              transpositions=()):
    """:func:`evaluate_model`'s work; also returns ``{note_id: resynthesis}`` for the figures."""
    n_notes = check_integer("n_notes", n_notes, 1)
    seed = check_integer("seed", seed, 0)
    batch_size = check_integer("batch_size", batch_size, 1)
    min_velocity = check_integer("min_velocity", min_velocity, 1)
    if not isinstance(harmonic_families, (list, tuple, set, frozenset)) or not all(
        isinstance(family, str) for family in harmonic_families
    ):
        raise ParameterError(
            "`harmonic_families` must be a sequence of family names. "
            f"Received: harmonic_families={describe(harmonic_families)}."
        )
    harmonic_families = tuple(harmonic_families)
    if not (isinstance(pitch_range, (tuple, list)) and len(pitch_range) == 2) or (
        check_integer("pitch_range", pitch_range[0], 0, 127) > check_integer("pitch_range", pitch_range[1], 0, 127)
    ):
        raise ParameterError(
            f"`pitch_range` must be two MIDI pitches (low, high) with low <= high. "
            f"Received: pitch_range={describe(pitch_range)}."
        )
    candidates = _candidates(dataset, pitch_range, min_velocity)
    if not candidates:
        raise ParameterError(
            f"`dataset` must hold notes with pitch in {list(pitch_range)} and velocity >= {min_velocity}. "
            f"Received: dataset={describe(dataset)} with {len(dataset.note_ids)} notes, none of them in range."
        )
    rng = np.random.default_rng(seed)
    note_ids = _select_notes(dataset, candidates, n_notes, rng)
    pair = _select_pair(dataset, candidates, harmonic_families, rng)
    sample_rate = float(dataset.examples[note_ids[0]].get("sample_rate", SAMPLE_RATE))

    audio = {note_id: dataset.load(note_id) for note_id in note_ids + list(pair or ())}
    encodings = {note_id: model.encode(audio[note_id])[0] for note_id in audio}
    extra = [note_id for note_id in pair or () if note_id not in note_ids]
    to_synthesize = [encodings[note_id] for note_id in note_ids + extra]
    if pair is not None:
        to_synthesize.append(interpolate(encodings[pair[0]], encodings[pair[1]], _MIX_WEIGHT))
    started = time.perf_counter()
    generated = _synthesize(model, to_synthesize, batch_size, seed, progress)
    seconds = time.perf_counter() - started
    resyntheses = dict(zip(note_ids + extra, generated))

    rows, tracks = [], {}
    for index, note_id in enumerate(note_ids):
        resynthesis = resyntheses[note_id]
        reference = audio[note_id][: resynthesis.size]
        note = dataset.examples[note_id]
        track = _pitch_track(reference, sample_rate, _FMIN, _FMAX)
        resynthesis_track = _pitch_track(resynthesis, sample_rate, _FMIN, _FMAX)
        rows.append(
            {
                "note_id": note_id,
                "family": note["family_str"],
                "instrument": note["instrument_str"],
                "pitch": int(note["pitch"]),
                "velocity": int(note["velocity"]),
                "harmonic": note["family_str"] in harmonic_families,
                "spectral_distance": spectral_distance(reference, resynthesis, sample_rate),
                "mulaw_distance": spectral_distance(reference, quantize(reference), sample_rate),
                "noise_distance": spectral_distance(
                    reference, envelope_noise(reference, np.random.default_rng([seed, index])), sample_rate
                ),
                "f0_cents": _cents(resynthesis_track, track),
                "f0_offset_cents": _signed_cents(resynthesis_track, track),
                "reference_f0_cents": _cents(track, librosa.midi_to_hz(note["pitch"])),
                "voiced_recall": _recall(resynthesis_track, track),
                "voiced_frames": int(np.isfinite(track).sum()),
                "recalled_frames": int((np.isfinite(track) & np.isfinite(resynthesis_track)).sum()),
            }
        )
        tracks[note_id] = track

    present = {row["family"] for row in rows}
    families = {}
    for family in [f for f in FAMILIES if f in present] + sorted(present.difference(FAMILIES)):
        members = [row for row in rows if row["family"] == family]
        families[family] = _summarise(members, members)

    mix = None
    if pair is not None:
        mixed = generated[-1]
        originals = [audio[note_id][: mixed.size] for note_id in pair]
        mix = {
            "a": pair[0],
            "b": pair[1],
            "weight": _MIX_WEIGHT,
            **_between(mixed, *originals, sample_rate),
            "resynthesized": _between(mixed, *(resyntheses[note_id] for note_id in pair), sample_rate),
        }

    transposed = None
    if transpositions and model.config.pitch_conditioned:
        harmonic_ids = [row["note_id"] for row in rows if row["harmonic"]]
        transposed = _transposition_check(
            model, harmonic_ids, encodings, tracks, transpositions, batch_size, seed, sample_rate
        )

    n_samples = int(sum(part.size for part in generated))
    results = {
        "model": {"config": model.config.name, "source": model.source, "temperature": model.default_temperature},
        "selection": {
            "n_notes": len(note_ids),
            "seed": seed,
            "pitch_range": [int(pitch_range[0]), int(pitch_range[1])],
            "min_velocity": min_velocity,
            "harmonic_families": list(harmonic_families),
        },
        "notes": rows,
        "summary": {
            "overall": _summarise(rows, [row for row in rows if row["harmonic"]]),
            "families": families,
        },
        "mix": mix,
        "transposition": transposed,
        "timing": {
            "synthesis_seconds": seconds,
            "samples": n_samples,
            "audio_seconds": n_samples / sample_rate,
            "samples_per_second": n_samples / seconds if seconds > 0 else math.nan,
            "batch_size": batch_size,
        },
    }
    return results, resyntheses


def _transposition_check(model, note_ids, encodings, tracks, transpositions, batch_size, seed, sample_rate):
    """Resynthesize each note transposed by each interval; pitch against the original's moved by it.

    Returns ``{str(semitones): {"f0_cents": median over notes, "f0_within_50_cents", "voiced_recall"
    (pooled over frames), "notes": [{note_id, f0_cents, voiced_recall}]}}``; intervals that would
    take a note outside the model's range skip that note.
    """
    from ..errors import ParameterError as _ParameterError

    out = {}
    for index, semitones in enumerate(transpositions):
        chosen, moved = [], []
        for note_id in note_ids:
            try:
                moved.append(model.transpose(encodings[note_id], semitones)[0])
            except _ParameterError:
                continue
            chosen.append(note_id)
        generated = _synthesize(model, moved, batch_size, seed + 1000 * (index + 1)) if moved else []
        notes, voiced, recalled = [], 0, 0
        for note_id, audio in zip(chosen, generated):
            target = tracks[note_id] * 2.0 ** (semitones / 12.0)
            track = _pitch_track(audio, sample_rate, _FMIN, _FMAX)
            n = min(track.size, target.size)
            track, target = track[:n], target[:n]
            voiced += int(np.isfinite(target).sum())
            recalled += int((np.isfinite(target) & np.isfinite(track)).sum())
            notes.append({"note_id": note_id, "f0_cents": _cents(track, target), "voiced_recall": _recall(track, target)})
        cents = np.array([note["f0_cents"] for note in notes], dtype=np.float64)
        measured = cents[np.isfinite(cents)]
        out[f"{semitones:+g}"] = {
            "semitones": float(semitones),
            "f0_cents": _median(measured),
            "f0_within_50_cents": float(np.mean(measured <= 50.0)) if measured.size else math.nan,
            "voiced_recall": recalled / voiced if voiced else math.nan,
            "notes": notes,
        }
    return out


def evaluate_model(
    model,
    dataset,
    n_notes=24,
    seed=0,
    harmonic_families=HARMONIC_FAMILIES,
    batch_size=8,
    progress=None,
    pitch_range=(48, 84),
    min_velocity=75,
    transpositions=(-12, -7, 7, 12),
):
    """Resynthesize held-out notes and measure them against the originals and two baselines.

    Notes are picked deterministically (given ``seed`` and the dataset) among those with a pitch
    in ``pitch_range`` and velocity >= ``min_velocity`` (loud enough for pYIN), round-robin
    over families so that every family is represented. Each is encoded, and all are
    resynthesized in batches of at most ``batch_size`` (batch ``k`` sampled with
    ``np.random.default_rng([seed, k])``: the audio depends on ``seed`` and ``batch_size``).
    The mix check uses two notes of harmonic families, different instruments, same pitch and
    velocity (not necessarily among the picked notes; they are resynthesized too), and compares
    the resynthesis of their 50/50 latent mix with the originals and with their resyntheses.

    Parameters
    ----------
    model : nsynth_widgets.model.nsynth.NSynth
        Any model with ``encode(audio (n,)) -> (1, frames, E)``,
        ``synthesize(list of (frames, E), seed) -> list of (frames * hop,)`` and the
        ``default_temperature`` it samples at.
    dataset : NoteDataset
        Use the ``"valid"`` split. Needs ``note_ids``, ``examples`` (``family_str``,
        ``instrument_str``, ``pitch``, ``velocity``) and ``load(note_id) -> (n,) float32``.
    n_notes : int
        Notes to evaluate (fewer if fewer qualify).
    seed : int
        Seed of the choice of notes, of sampling and of the noise baseline (>= 0).
    harmonic_families : sequence of str
        Families whose f0 errors make the overall f0 statistics.
    batch_size : int
        Most notes per decoder call.
    progress : callable, optional
        Called as ``progress(n_done, n_total)`` after each decoder call, counting sounds
        generated (notes, mix sources not among them, and the mix).
    pitch_range : tuple of int
        Lowest and highest MIDI pitch (inclusive).
    min_velocity : int
        Quietest MIDI velocity.
    transpositions : sequence of float
        Intervals (semitones) of the transposition check, run on the harmonic notes when the
        model is pitch-conditioned (empty: no check).

    Returns
    -------
    results : dict
        JSON-like (f0 values may be NaN):

        * ``"notes"``: one row per note: ``note_id``, ``family``, ``instrument``, ``pitch``,
          ``velocity``, ``harmonic`` (bool) and, in dB, ``spectral_distance`` (resynthesis),
          ``mulaw_distance`` (mu-law round trip), ``noise_distance`` (:func:`envelope_noise`),
          plus ``f0_cents`` (:func:`f0_error_cents` of the resynthesis; NaN if unmeasurable),
          ``f0_offset_cents`` (:func:`f0_offset_cents`, signed: positive is sharp) and
          ``reference_f0_cents`` (the original's pYIN track against its nominal MIDI pitch: a
          check that its pitch is measurable at all; NaN if not).
        * ``"summary"``: ``{"overall": stats, "families": {family: stats}}``, where stats are
          the medians of the three distances over the group, ``notes``, and ``f0_cents``
          (median), ``f0_measured`` (count) and ``f0_within_50_cents`` (fraction) over the
          measured notes -- of harmonic families only for ``"overall"``.
        * ``"mix"``: ``a``, ``b`` (note ids), ``weight``, ``d_mix_a``, ``d_mix_b``, ``d_a_b``
          (spectral distances in dB, between the mix's resynthesis and the originals) and
          ``between`` (``d_mix_a < d_a_b and d_mix_b < d_a_b``), and ``resynthesized``: the
          same four keys with the resyntheses of A and B in place of the originals (so the
          model's own resynthesis error does not decide the verdict); None when no pair
          qualifies.
        * ``"selection"`` (the arguments that chose the notes), ``"model"`` (config name and
          source), ``"timing"`` (``synthesis_seconds``, ``samples``, ``samples_per_second``,
          ``batch_size``).
    """
    results, _ = _evaluate(
        model, dataset, n_notes, seed, harmonic_families, batch_size, progress, pitch_range, min_velocity,
        transpositions,
    )
    return results


def validation_loss(model, dataset, crops=64, crop_length=4096, seed=0, batch_size=8):
    """The decoder's teacher-forced cross-entropy on fixed random crops of ``dataset``.

    The quantity training minimises (next 8-bit mu-law class given the past and the encoding),
    measured on crops drawn by ``seed`` alone, so weights from runs with different training
    seeds or settings are compared on the same audio. A pitch-conditioned model is measured as
    it trains (crops on the frame grid with their notes' pitch channels, the oscillator aligned
    with each crop's fundamental), so its loss is not comparable with a model's without pitch
    channels: compare those by their resyntheses.

    Parameters
    ----------
    model : nsynth_widgets.model.nsynth.NSynth
        Needs ``config.hop_length``, ``encode(audio (batch, n)) -> (batch, frames, E)`` and
        ``decode_logits(audio (batch, n), encoding) -> (batch, n, 256)``.
    dataset : NoteDataset
        Needs ``random_crops(batch, length, rng) -> (batch, length) float32``.
    crops : int
        Crops measured (>= 1).
    crop_length : int
        Samples per crop, rounded down to whole hops (at least one hop).
    seed : int
        Seed of the crops (>= 0).
    batch_size : int
        Crops per forward pass (>= 1).

    Returns
    -------
    loss : dict
        ``nats`` (mean cross-entropy per sample, natural log), ``crops``, ``crop_length``
        (after rounding) and ``seed``.
    """
    crops = check_integer("crops", crops, 1)
    seed = check_integer("seed", seed, 0)
    batch_size = check_integer("batch_size", batch_size, 1)
    hop = model.config.hop_length
    crop_length = check_integer("crop_length", crop_length, hop) // hop * hop
    rng = np.random.default_rng(seed)
    total = 0.0
    pitched = model.config.pitch_conditioned
    for start in range(0, crops, batch_size):
        n = min(batch_size, crops - start)
        if pitched:  # as in training: the notes' own pitch channels, the oscillator aligned with the crop
            audio, pitch = dataset.random_crops(n, crop_length, rng, with_pitch_channels=True)
            inputs, _ = model_inputs(model.config, audio, pitch, phase_lock=True)
            encoding = model.encode(audio)
            encoding[..., model.config.f0_channel :] = pitch
            logits = model.decode_logits(audio, encoding, inputs["excitation"])
        else:
            audio = dataset.random_crops(n, crop_length, rng)
            logits = model.decode_logits(audio, model.encode(audio))
        logits = np.asarray(logits, np.float64)
        classes = codes_to_classes(mu_law_encode(audio))
        peak = logits.max(axis=-1, keepdims=True)
        log_norm = peak[..., 0] + np.log(np.exp(logits - peak).sum(axis=-1))
        total += float((log_norm - np.take_along_axis(logits, classes[..., None], axis=-1)[..., 0]).sum())
    return {"nats": total / (crops * crop_length), "crops": crops, "crop_length": crop_length, "seed": seed}


#: FluidR3_GM programs without a pitch, rendered at MIDI 60: name → (program, velocity).
UNPITCHED_PROGRAMS = {
    "breath": (121, 100), "seashore": (122, 100), "helicopter": (125, 100), "applause": (126, 100),
    "gunshot": (127, 100), "reverse_cymbal": (119, 100),
}


def unpitched_sounds(seed=0, seconds=2.0, renderer=None):
    """Sounds without a pitch for :func:`unpitched_check`: two made here and FluidR3's sound effects.

    Parameters
    ----------
    seed : int
        Seed of the synthetic ones: a decaying white-noise burst and an irregular train of clicks.
    seconds : float
        Length of each (the first ``seconds`` of each rendered effect).
    renderer : NoteRenderer, optional
        Renders :data:`UNPITCHED_PROGRAMS` (a default one is opened when None; needs fluidsynth).

    Returns
    -------
    sounds : dict[str, np.ndarray [shape=(seconds * SAMPLE_RATE,)]], float32
    """
    from .data import NoteRenderer

    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    clicks = np.zeros(n)
    clicks[np.cumsum(rng.integers(800, 4000, size=n // 800))[: n // 800] % n] = rng.uniform(0.3, 0.8, n // 800)
    sounds = {
        "noise_burst": 0.5 * np.exp(-3.0 * t) * rng.uniform(-1.0, 1.0, n),
        "clicks": np.convolve(clicks, np.exp(-np.arange(40) / 6.0), mode="same").clip(-1, 1),
    }
    opened = renderer is None
    renderer = NoteRenderer() if opened else renderer
    try:
        for name, (program, velocity) in UNPITCHED_PROGRAMS.items():
            sounds[name] = renderer.render(program, 60, velocity)[:n]
    finally:
        if opened:
            renderer.close()
    return {name: np.asarray(audio, np.float32) for name, audio in sounds.items()}


def unpitched_check(model, sounds, seed=0, batch_size=8):
    """Resynthesize sounds without a pitch and measure how close they come.

    Parameters
    ----------
    model : NSynth
    sounds : dict[str, np.ndarray [shape=(n,)]]
        E.g. :func:`unpitched_sounds`.

    Returns
    -------
    check : dict
        ``{"sounds": {name: {"spectral_distance", "noise_distance"}}, "spectral_distance": median,
        "noise_distance": median}`` in dB (``noise_distance``: the envelope-noise baseline).
    """
    names = list(sounds)
    encodings = [model.encode(sounds[name])[0] for name in names]
    generated = _synthesize(model, encodings, batch_size, seed)
    rows = {}
    for index, (name, audio) in enumerate(zip(names, generated)):
        reference = sounds[name][: audio.size]
        rows[name] = {
            "spectral_distance": spectral_distance(reference, audio),
            "noise_distance": spectral_distance(reference, envelope_noise(reference, np.random.default_rng([seed, index]))),
        }
    return {
        "sounds": rows,
        "spectral_distance": _median([row["spectral_distance"] for row in rows.values()]),
        "noise_distance": _median([row["noise_distance"] for row in rows.values()]),
    }


def save_figures(model, dataset, out_dir, note_ids, resyntheses=None, seed=0):
    """Write one small PNG per note: spectrogram of the original beside its resynthesis.

    Each figure is 6 x 2.5 in at 80 dpi (480 x 200 pixels), drawn on a
    :class:`matplotlib.figure.Figure` (nothing is registered with pyplot) and stored as a
    128-colour palette PNG (under 50 KB even for noise).

    Parameters
    ----------
    model : NSynth
        Encodes and resynthesizes the notes missing from ``resyntheses`` (one decoder call,
        sampled with ``seed``).
    dataset : NoteDataset
    out_dir : str or os.PathLike
        Created if needed; files are named ``{note_id}.png``.
    note_ids : sequence of str
        Notes of ``dataset``.
    resyntheses : dict[str, np.ndarray [shape=(n,)]], optional
        Resyntheses already made (e.g. by the evaluation), reused as they are.
    seed : int

    Returns
    -------
    paths : list of str
        The PNG files, in the order of ``note_ids``.
    """
    note_ids = list(note_ids)
    resyntheses = dict(resyntheses or {})
    missing = [note_id for note_id in note_ids if note_id not in resyntheses]
    if missing:
        encodings = [model.encode(dataset.load(note_id))[0] for note_id in missing]
        resyntheses.update(zip(missing, model.synthesize(encodings, seed=seed)))
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for note_id in note_ids:
        resynthesis = resyntheses[note_id]
        original = dataset.load(note_id)[: resynthesis.size]
        sample_rate = float(dataset.examples[note_id].get("sample_rate", SAMPLE_RATE))
        with matplotlib.rc_context({"font.size": 7}):
            figure = Figure(figsize=_FIGURE_SIZE, dpi=_FIGURE_DPI, layout="constrained")
            axes = figure.subplots(1, 2, sharex=True, sharey=True)
            for ax, audio, title in ((axes[0], original, "original"), (axes[1], resynthesis, "resynthesis")):
                plot_spectrogram(audio, sample_rate, ax=ax)
                ax.set_title(f"{note_id}: {title}")
            axes[1].set_ylabel("")
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=_FIGURE_DPI)
        path = os.path.join(out_dir, f"{note_id}.png")
        with Image.open(buffer) as image, atomic_path(path) as temporary:
            image.convert("RGB").quantize(colors=_PNG_COLORS).save(temporary, format="png", optimize=True)
        paths.append(path)
    return paths


def _finite(value):
    """Whether a stored number is measured (not None, which stands for NaN in JSON, nor NaN)."""
    return value is not None and math.isfinite(value)


def _number(value, digits):
    return f"{value:.{digits}f}" if _finite(value) else "–"


def _table_row(name, stats, f0_notes, marker=""):
    """One table row; ``f0_notes`` notes were eligible for the f0 statistics."""
    return (
        f"| {name} | {stats['notes']} | {_number(stats['spectral_distance'], 1)} | "
        f"{_number(stats['mulaw_distance'], 1)} | {_number(stats['noise_distance'], 1)} | "
        f"{_number(stats['f0_cents'], 0)}{marker} | {stats['f0_measured']}/{f0_notes} |"
    )


def results_markdown(results):
    """The measured part of the model card, as Markdown.

    Parameters
    ----------
    results : dict
        As returned by :func:`evaluate_model` (or read back from ``results.json``, where NaN
        is stored as null).

    Returns
    -------
    markdown : str
        A heading, how the notes were chosen, a table of per-family and overall medians
        (resynthesis and both baselines in dB, f0 error in cents), the mix check, the
        validation loss (when ``results`` has one: :func:`main` adds it) and the synthesis time.
    """
    selection, summary, timing = results["selection"], results["summary"], results["timing"]
    harmonic = set(selection["harmonic_families"])
    low, high = selection["pitch_range"]
    lines = [
        "## Measured resynthesis quality",
        "",
        f"{selection['n_notes']} held-out notes (instruments never seen in training), MIDI pitch "
        f"{low}-{high}, velocity >= {selection['min_velocity']}, chosen round-robin over families "
        f"(seed {selection['seed']}); model `{results['model']['config']}` sampled at temperature "
        f"{results['model'].get('temperature', 1.0)}. Distances are the mean "
        "absolute difference of log-magnitude spectrograms at six FFT sizes (dB, lower is better), "
        "measured against the original note. *mu-law only* is the original after the 8-bit mu-law "
        "round trip (the floor any NSynth model starts from); *envelope noise* is white noise with "
        "the note's loudness contour (right dynamics, no pitch or timbre). f0 error is the median "
        "|cents| between pYIN pitch tracks over the first 3 s, on frames voiced in both.",
        "",
        "| Family | Notes | Resynthesis (dB) | mu-law only (dB) | Envelope noise (dB) "
        "| f0 error (cents) | f0 measured |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for family, stats in summary["families"].items():
        lines.append(_table_row(family, stats, stats["notes"], "" if family in harmonic else " \\*"))
    n_harmonic = sum(1 for row in results["notes"] if row["harmonic"])
    lines += [_table_row("**all**", summary["overall"], n_harmonic), ""]
    within = summary["overall"]["f0_within_50_cents"]
    lines.append(
        "\\* not a harmonic family: its f0 error is shown but left out of the overall f0 median. "
        f"Overall f0 covers harmonic families only; {_number(None if within is None else 100 * within, 0)} % "
        "of their measured notes are within 50 cents of the original."
    )
    offsets = sorted(
        row["f0_offset_cents"] for row in results["notes"] if row["harmonic"] and _finite(row["f0_offset_cents"])
    )
    if offsets:
        lines += [
            "",
            "Signed pitch offsets of those notes (median over frames, cents, positive is sharp; an offset as large as "
            "the error is a steady transposition): " + ", ".join(f"{offset:+.0f}" for offset in offsets) + ".",
        ]
    recall = summary["overall"].get("voiced_recall")
    if _finite(recall):
        lines += [
            "",
            f"**Voiced recall**: of the frames pYIN finds voiced in the originals of those notes, {100 * recall:.0f} % "
            "are voiced in their resyntheses.",
        ]
    transposed = results.get("transposition")
    if transposed:
        lines += [
            "",
            "**Transposition.** Each of those notes' encodings transposed (`model.transpose`) and resynthesized; its "
            "pitch compared with the original's moved by the same interval:",
            "",
            "| semitones | notes | f0 error (cents) | within 50 cents | voiced recall |",
            "|---:|---:|---:|---:|---:|",
        ]
        for key, check in transposed.items():
            within, recall = check["f0_within_50_cents"], check["voiced_recall"]
            lines.append(
                f"| {key} | {len(check['notes'])} | {_number(check['f0_cents'], 0)} | "
                f"{_number(None if within is None else 100 * within, 0)} % | "
                f"{_number(None if recall is None else 100 * recall, 0)} % |"
            )
    unpitched = results.get("unpitched")
    if unpitched:
        listing = ", ".join(f"{name} {_number(row['spectral_distance'], 1)}" for name, row in unpitched["sounds"].items())
        lines += [
            "",
            f"**Sounds without a pitch** (noise, clicks, FluidR3's sound effects): median spectral distance "
            f"{_number(unpitched['spectral_distance'], 1)} dB (envelope noise {_number(unpitched['noise_distance'], 1)} "
            f"dB): {listing}.",
        ]
    mix = results.get("mix")
    if mix is not None:
        lines += [
            "",
            f"**Latent mix.** The resynthesis of a {mix['weight']:.0%}/{1 - mix['weight']:.0%} mix of the "
            f"encodings of `{mix['a']}` (A) and `{mix['b']}` (B) sits between them when it is nearer to "
            "each than they are to each other (spectral distance, dB):",
            "",
            "| A and B are | d(mix, A) | d(mix, B) | d(A, B) | Between |",
            "|---|---:|---:|---:|---|",
        ]
        for name, check in (("the originals", mix), ("their resyntheses", mix["resynthesized"])):
            lines.append(
                f"| {name} | {_number(check['d_mix_a'], 1)} | {_number(check['d_mix_b'], 1)} | "
                f"{_number(check['d_a_b'], 1)} | {'yes' if check['between'] else 'no'} |"
            )
    loss = results.get("validation_loss")
    if loss is not None:
        lines += [
            "",
            f"**Validation loss** (the training objective, teacher-forced cross-entropy per sample) on "
            f"{loss['crops']} fixed crops of {loss['crop_length']} samples of the held-out notes (seed "
            f"{loss['seed']}): **{loss['nats']:.3f} nats**.",
        ]
    lines += [
        "",
        f"Resynthesizing {timing['audio_seconds']:.0f} s of audio took {timing['synthesis_seconds']:.1f} s "
        f"in batches of up to {timing['batch_size']} notes "
        f"({_number(timing['samples_per_second'], 0)} samples/s).",
        "",
    ]
    return "\n".join(lines)


def _jsonable(value):
    """``value`` with NaN and infinities replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv=None):
    """Command line: evaluate a weights file on a dataset's valid split.

    ``python -m nsynth_widgets.training.evaluate WEIGHTS DATA_DIR [--out DIR] [--notes N]
    [--seed S] [--batch-size B] [--figures K] [--validation-crops C] [--temperature T]``

    Writes ``DIR/results.json`` (strict JSON: NaN as null) and ``DIR/figures/{note_id}.png``
    for the first ``K`` notes, and prints :func:`results_markdown`.

    Returns
    -------
    status : int
        0 on success; errors exit with status 2 and a one-line message.
    """
    parser = argparse.ArgumentParser(
        prog="python -m nsynth_widgets.training.evaluate",
        description="Measure resynthesis quality of a model on held-out notes (valid split).",
    )
    parser.add_argument("weights", help="weights file (.npz) written by NSynth.save_weights or the trainer")
    parser.add_argument("data_dir", help="dataset folder written by nsynth_widgets.training.data")
    parser.add_argument("--out", default="evaluation", help="output folder (default: evaluation)")
    parser.add_argument("--notes", type=int, default=24, help="notes to evaluate (default 24)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8, help="most notes per decoder call (default 8)")
    parser.add_argument("--figures", type=int, default=4, help="notes to draw (default 4)")
    parser.add_argument("--validation-crops", type=int, default=64,
                        help="crops of 4096 samples for the validation loss (default 64)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sampling temperature > 0 (default 1.0: the model's own distribution)")
    parser.add_argument("--unpitched", action="store_true",
                        help="also resynthesize sounds without a pitch (noise, clicks, FluidR3 sound effects)")
    parser.add_argument("--transpositions", type=float, nargs="*", default=[-12, -7, 7, 12],
                        help="semitones of the transposition check of a pitch-conditioned model (default -12 -7 7 12)")
    args = parser.parse_args(argv)
    from ..model.nsynth import NSynth
    from .data import NoteDataset

    try:
        figures = check_integer("figures", args.figures, 0)
        model = NSynth.from_weights(args.weights)
        model.default_temperature = args.temperature
        dataset = NoteDataset(args.data_dir, "valid")
        with tqdm(unit="note", desc="resynthesis") as bar:

            def progress(n_done, n_total):
                bar.total = n_total
                bar.update(n_done - bar.n)

            results, resyntheses = _evaluate(
                model, dataset, args.notes, args.seed, HARMONIC_FAMILIES, args.batch_size, progress, (48, 84), 75,
                tuple(args.transpositions),
            )
        results["validation_loss"] = validation_loss(model, dataset, crops=args.validation_crops, seed=args.seed)
        if args.unpitched:
            results["unpitched"] = unpitched_check(model, unpitched_sounds(args.seed), args.seed, args.batch_size)
        os.makedirs(args.out, exist_ok=True)
        chosen = [row["note_id"] for row in results["notes"][:figures]]
        save_figures(model, dataset, os.path.join(args.out, "figures"), chosen, resyntheses)
    except NSynthWidgetsError as error:
        parser.exit(2, f"error: {error}\n")
    with atomic_path(os.path.join(args.out, "results.json")) as temporary:
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(_jsonable(results), file, indent=1, allow_nan=False)
    print(results_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
