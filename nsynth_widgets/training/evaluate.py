"""Measure how well a trained model resynthesizes held-out notes (the numbers of the model card).

For notes picked from a :class:`~nsynth_widgets.training.dataset.NoteDataset` (use the ``"valid"``
split: its instruments were never seen in training), each note is encoded and resynthesized
(seeded sampling, several notes per decoder call) and compared with the original:

* spectral distance (:func:`nsynth_widgets.metrics.spectral_distance`, multi-resolution
  log-STFT, dB, lower is better) of the resynthesis, next to two baselines that bracket it:
  the mu-law round trip alone (``NSynth.round_trip``: the 8-bit floor every NSynth model starts
  from, through the model's pre-emphasis if it has one) and :func:`envelope_noise` (white noise with the note's loudness
  contour: right dynamics, no pitch or timbre);
* pitch error (:func:`~nsynth_widgets.metrics.f0_error_cents`, pYIN on both signals) and its sign
  (:func:`~nsynth_widgets.metrics.f0_offset_cents`);
* voiced recall (:func:`~nsynth_widgets.metrics.voiced_recall`): of the frames pYIN finds voiced in the original, the
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

:func:`evaluate_weights` runs all of it for a weights file and writes the results
(:mod:`nsynth_widgets.training.report` renders them); from a shell::

    nsynth-widgets evaluate WEIGHTS DATA_DIR --out DIR --notes 24

writes ``DIR/results.json`` and ``DIR/figures/*.png`` and prints the report's Markdown.
Nothing here imports TensorFlow; the model passed in does the encoding.
"""

import math
import os
import time

import librosa
import numpy as np

from ..audio import validate_audio
from ..dsp import codes_to_classes, interpolate, mu_law_encode
from ..dsp.framing import SAMPLE_RATE
from ..errors import ParameterError, check_integer, describe
from ..metrics import pitch_track, spectral_distance, track_error_cents, track_offset_cents, track_voiced_recall
from .dataset import NoteDataset
from .fluidsynth import NoteRenderer
from .notes import FAMILIES
from .report import save_figures, save_results
from .train import model_inputs

__all__ = [
    "HARMONIC_FAMILIES",
    "UNPITCHED_PROGRAMS",
    "envelope_noise",
    "evaluate_model",
    "validation_loss",
    "unpitched_sounds",
    "unpitched_check",
    "evaluate_weights",
]

#: Families whose notes have one clear pitch; their f0 errors make the overall f0 median.
#: Mallet notes are measured too but reported on their own row only (inharmonic partials).
HARMONIC_FAMILIES = (
    "bass",
    "brass",
    "flute",
    "guitar",
    "keyboard",
    "organ",
    "reed",
    "string",
    "synth_lead",
    "vocal",
)

_MIX_WEIGHT = 0.5


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


def _median(values):
    """Median of the finite values (NaN when there are none, without a warning)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else math.nan


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


def _evaluate(
    model, dataset, n_notes, seed, harmonic_families, batch_size, progress, pitch_range, min_velocity, transpositions=()
):
    """:func:`evaluate_model`'s work, and what the figures draw.

    Also returns ``{note_id: resynthesis}`` and the transposition check's
    ``{semitones: {note_id: audio}}`` (empty without one).
    """
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
        track = pitch_track(reference, sample_rate)
        resynthesis_track = pitch_track(resynthesis, sample_rate)
        rows.append(
            {
                "note_id": note_id,
                "family": note["family_str"],
                "instrument": note["instrument_str"],
                "pitch": int(note["pitch"]),
                "velocity": int(note["velocity"]),
                "harmonic": note["family_str"] in harmonic_families,
                "spectral_distance": spectral_distance(reference, resynthesis, sample_rate),
                "mulaw_distance": spectral_distance(reference, model.round_trip(reference), sample_rate),
                "noise_distance": spectral_distance(
                    reference, envelope_noise(reference, np.random.default_rng([seed, index])), sample_rate
                ),
                "f0_cents": track_error_cents(resynthesis_track, track),
                "f0_offset_cents": track_offset_cents(resynthesis_track, track),
                "reference_f0_cents": track_error_cents(track, librosa.midi_to_hz(note["pitch"])),
                "voiced_recall": track_voiced_recall(resynthesis_track, track),
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

    transposed, transposed_audio = None, {}
    if transpositions and model.config.pitch_conditioned:
        harmonic_ids = [row["note_id"] for row in rows if row["harmonic"]]
        transposed, transposed_audio = _transposition_check(
            model, harmonic_ids, encodings, tracks, transpositions, batch_size, seed, sample_rate
        )

    n_samples = int(sum(part.size for part in generated))
    results = {
        "model": {
            "config": model.config.name,
            "source": model.source,
            "temperature": model.default_temperature,
            "unvoiced_temperature": model.default_unvoiced_temperature,
        },
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
    return results, resyntheses, transposed_audio


def _transposition_check(model, note_ids, encodings, tracks, transpositions, batch_size, seed, sample_rate):
    """Resynthesize each note transposed by each interval; pitch against the original's moved by it.

    Returns ``{str(semitones): {"f0_cents": median over notes, "f0_within_50_cents", "voiced_recall"
    (pooled over frames), "notes": [{note_id, f0_cents, voiced_recall}]}}``, and the audio
    ``{semitones: {note_id: audio}}``; intervals that would take a note outside the model's range
    skip that note.
    """
    out, audio_by_interval = {}, {}
    for index, semitones in enumerate(transpositions):
        chosen, moved = [], []
        for note_id in note_ids:
            try:
                moved.append(model.transpose(encodings[note_id], semitones)[0])
            except ParameterError:
                continue
            chosen.append(note_id)
        generated = _synthesize(model, moved, batch_size, seed + 1000 * (index + 1)) if moved else []
        audio_by_interval[float(semitones)] = dict(zip(chosen, generated))
        notes, voiced, recalled = [], 0, 0
        for note_id, audio in zip(chosen, generated):
            target = tracks[note_id] * 2.0 ** (semitones / 12.0)
            track = pitch_track(audio, sample_rate)
            n = min(track.size, target.size)
            track, target = track[:n], target[:n]
            voiced += int(np.isfinite(target).sum())
            recalled += int((np.isfinite(target) & np.isfinite(track)).sum())
            notes.append(
                {
                    "note_id": note_id,
                    "f0_cents": track_error_cents(track, target),
                    "voiced_recall": track_voiced_recall(track, target),
                }
            )
        cents = np.array([note["f0_cents"] for note in notes], dtype=np.float64)
        measured = cents[np.isfinite(cents)]
        out[f"{semitones:+g}"] = {
            "semitones": float(semitones),
            "f0_cents": _median(measured),
            "f0_within_50_cents": float(np.mean(measured <= 50.0)) if measured.size else math.nan,
            "voiced_recall": recalled / voiced if voiced else math.nan,
            "notes": notes,
        }
    return out, audio_by_interval


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
        ``default_temperature`` and ``default_unvoiced_temperature`` it samples at.
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
    results, _, _ = _evaluate(
        model,
        dataset,
        n_notes,
        seed,
        harmonic_families,
        batch_size,
        progress,
        pitch_range,
        min_velocity,
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
        classes = codes_to_classes(mu_law_encode(model.config.decoder_signal(audio)))
        peak = logits.max(axis=-1, keepdims=True)
        log_norm = peak[..., 0] + np.log(np.exp(logits - peak).sum(axis=-1))
        total += float((log_norm - np.take_along_axis(logits, classes[..., None], axis=-1)[..., 0]).sum())
    return {"nats": total / (crops * crop_length), "crops": crops, "crop_length": crop_length, "seed": seed}


#: FluidR3_GM programs without a pitch, rendered at MIDI 60: name → (program, velocity).
UNPITCHED_PROGRAMS = {
    "breath": (121, 100),
    "seashore": (122, 100),
    "helicopter": (125, 100),
    "applause": (126, 100),
    "gunshot": (127, 100),
    "reverse_cymbal": (119, 100),
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
            "noise_distance": spectral_distance(
                reference, envelope_noise(reference, np.random.default_rng([seed, index]))
            ),
        }
    return {
        "sounds": rows,
        "spectral_distance": _median([row["spectral_distance"] for row in rows.values()]),
        "noise_distance": _median([row["noise_distance"] for row in rows.values()]),
    }


def evaluate_weights(
    weights,
    data_dir,
    out_dir,
    notes=24,
    seed=0,
    batch_size=8,
    figures=4,
    validation_crops=64,
    temperature=1.0,
    unpitched=False,
    transpositions=(-12, -7, 7, 12),
    progress=None,
    unvoiced_temperature=None,
):
    """Evaluate a weights file on a dataset's valid split and write what the model card reports.

    :func:`evaluate_model` on ``notes`` held-out notes (pitches 48-84, velocity >= 75), then
    :func:`validation_loss` on ``validation_crops`` crops of 4096 samples and, with ``unpitched``,
    :func:`unpitched_check`.

    Parameters
    ----------
    weights : str or os.PathLike
        A ``.npz`` written by ``NSynth.save_weights`` or the trainer.
    data_dir : str or os.PathLike
        A folder written by ``nsynth-widgets render-notes``.
    out_dir : str or os.PathLike
        Receives ``results.json`` (strict JSON: NaN as null, :func:`~.report.save_results`) and
        ``figures/{note_id}.png`` for the first ``figures`` notes (:func:`~.report.save_figures`; with
        a transposition check, a third panel shows the note transposed up).
    temperature : float
        The sampling temperature (1.0: the model's own distribution).
    progress : callable(n_done, n_total), optional
        As in :func:`evaluate_model`.
    unvoiced_temperature : float, optional
        Pitch-conditioned models: the temperature of unvoiced frames (``NSynth.synthesize``);
        None samples every frame at ``temperature``.

    Returns
    -------
    results : dict
        :func:`evaluate_model`'s, with ``validation_loss`` (and ``unpitched``) added.
    """
    from ..model.nsynth import NSynth

    figures = check_integer("figures", figures, 0)
    model = NSynth.from_weights(weights)
    model.default_temperature = temperature
    model.default_unvoiced_temperature = model.check_unvoiced_temperature(unvoiced_temperature)  # before the work
    dataset = NoteDataset(data_dir, "valid")
    results, resyntheses, transposed_audio = _evaluate(
        model, dataset, notes, seed, HARMONIC_FAMILIES, batch_size, progress, (48, 84), 75, tuple(transpositions)
    )
    results["validation_loss"] = validation_loss(model, dataset, crops=validation_crops, seed=seed)
    if unpitched:
        results["unpitched"] = unpitched_check(model, unpitched_sounds(seed), seed, batch_size)
    os.makedirs(out_dir, exist_ok=True)
    chosen = [row["note_id"] for row in results["notes"][:figures]]
    # the figures' third panel: the first upward interval of the transposition check (a fifth by default)
    upward = [semitones for semitones in transposed_audio if semitones > 0]
    shown = (upward[0], transposed_audio[upward[0]]) if upward else None
    save_figures(model, dataset, os.path.join(out_dir, "figures"), chosen, resyntheses, transposed=shown)
    save_results(results, os.path.join(out_dir, "results.json"))
    return results
