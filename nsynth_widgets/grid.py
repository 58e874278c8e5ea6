"""Instrument grids, NSynth Super style: every point of an N×N pad × pitches, rendered to wav files.

A grid mixes four corner sounds with bilinear weights
(:func:`~nsynth_widgets.dsp.mix.bilinear_grid`) at every point of a ``resolution × resolution``
pad, at one or more pitches, and writes one wav per (point, pitch) plus ``manifest.json``.

The design, in the order a run meets it:

* **The plan.** The items (point, pitch) are listed pitch by pitch, row by row, column by
  column; batch ``b`` is items ``[b * batch_size, (b + 1) * batch_size)`` and is sampled with
  seed ``seed + b``. The plan depends on the settings only, so every scheduler synthesizes the
  same batches with the same seeds, and a grid rendered by a cluster equals the one rendered
  in-process sample for sample. The plan is fixed rather than per point because a batch's
  arithmetic (BLAS blocking, the int8 kernel's rows of four) and its noise depend on which
  rows share it, and sampling turns a last-bit difference into another waveform.
* **Resuming.** ``manifest.json`` records the settings and, for each item, its corner weights,
  pitch, file, batch, seed, sample count, sha256 and status. A new run with the same settings
  keeps every file whose sha256 still matches and renders the batches that miss an item; such a
  batch is synthesized whole (so its audio is what it would have been) and only its missing
  items are written. Other settings are refused unless ``force=True``.
* **Where it runs.** ``scheduler="local"`` synthesizes in this process through a
  :class:`~nsynth_widgets.runtime.Synthesizer` (the one the widgets use); ``"processes"`` starts
  a :class:`distributed.LocalCluster` of ``workers`` processes; an address
  (``tcp://host:8786``) or a :class:`distributed.Client` uses a running cluster. Each batch is
  one Dask task; a worker process loads the model once and keeps it; Dask reruns the tasks of a
  worker that dies.
* **Where results go.** Workers return audio to this process, which alone writes the files and
  the manifest. Workers then need no shared file system (only the model, at the same path on
  every worker, or ``"default"``), there is one writer, and a batch that Dask reruns is written
  once. The price is the audio crossing the network (64 kB per second of audio, float32),
  small beside the time to generate it.
* **Writing.** Each wav is written atomically (a temporary file renamed into place) and the
  manifest after every batch and on every exit, Ctrl-C included: an interrupted run leaves
  whole files and a manifest that resumes.
"""

import dataclasses
import hashlib
import json
import logging
import threading
import uuid
from pathlib import Path

import numpy as np

from ._files import atomic_path
from .dsp.mix import bilinear_grid, weighted_mix
from .dsp.pitch import median_pitch
from .errors import (
    CheckpointError,
    ParameterError,
    check_bool,
    check_choice,
    check_integer,
    check_number,
    describe,
)
from .runtime import DEFAULT_MODEL, PRECISIONS, Synthesizer

__all__ = ["render_grid", "GridResult", "grid_mixes", "set_pitch", "synthesize_batch", "MANIFEST", "SCHEDULERS"]

#: The manifest's file name inside the output folder.
MANIFEST = "manifest.json"
#: Scheduler names; anything else must be a scheduler address (``tcp://host:8786``) or a Client.
SCHEDULERS = ("local", "processes")
_FORMAT = "nsynth-widgets-grid/1"
# settings that follow from others (the corners' audio is cut to `samples`, which follows from `seconds`)
_DERIVED = ("samples", "sample_rate", "corner_audio_sha256")


@dataclasses.dataclass(frozen=True)
class GridResult:
    """What :func:`render_grid` did.

    Attributes
    ----------
    out_dir : pathlib.Path
    manifest : dict
        The manifest as written (``settings`` and ``items``).
    written : tuple of str
        Files written by this run, in order (each once).
    kept : int
        Items found complete (sha256 verified) and kept.
    batches : int
        Batches synthesized by this run.
    """

    out_dir: Path
    manifest: dict
    written: tuple
    kept: int
    batches: int

    @property
    def files(self):
        """Every item's wav, in plan order: ``list[pathlib.Path]``."""
        return [self.out_dir / item["file"] for item in self.manifest["items"]]

    @property
    def complete(self):
        """True when every item is done."""
        return all(item["status"] == "done" for item in self.manifest["items"])


def grid_mixes(corners, weights):
    """Latent mixes of four corner encodings.

    Parameters
    ----------
    corners : sequence of 4 np.ndarray [shape=(1, frames, channels)]
        In :func:`~nsynth_widgets.dsp.mix.bilinear_weights` order (top-left, top-right,
        bottom-left, bottom-right).
    weights : np.ndarray [shape=(points, 4)]

    Returns
    -------
    mixes : np.ndarray [shape=(points, min(frames), channels)], float32
    """
    return np.concatenate([weighted_mix(list(corners), w) for w in np.asarray(weights)])


def set_pitch(model, encoding, pitch):
    """An encoding transposed so that it sounds at a MIDI pitch (pitch-conditioned models).

    The f0 channel is moved by ``pitch - median_pitch(encoding)`` semitones
    (:func:`~nsynth_widgets.dsp.pitch.median_pitch`: the median over voiced frames), so vibrato
    and glides are kept and the median voiced frame lands on ``pitch``.

    Parameters
    ----------
    model : NSynth
        Pitch-conditioned (``model.config.pitch_conditioned``).
    encoding : np.ndarray [shape=(batch, frames, bottleneck_width)]
    pitch : float
        MIDI note number (60 is middle C).

    Returns
    -------
    encoding : np.ndarray [shape=(batch, frames, bottleneck_width)], float32 (a new array)
    """
    c = model.config
    rows = [
        model.transpose(row[None], float(pitch - median_pitch(row[:, c.f0_channel :]))) for row in np.asarray(encoding)
    ]
    return np.concatenate(rows)


def synthesize_batch(
    synthesizer,
    encodings,
    seed=0,
    batch=0,
    temperature=None,
    precision="float32",
    chunk_size=4096,
    progress=None,
    cancel=None,
):
    """Batch number ``batch`` of a grid: ``encodings`` generated together with seed ``seed + batch``.

    The one place where grid audio is made: :func:`render_grid` (in-process and on every worker)
    and the dashboard's Pad call it.

    Parameters
    ----------
    synthesizer : Synthesizer
    encodings : np.ndarray [shape=(n, frames, bottleneck_width)]
    seed, batch : int
    temperature : float, optional
        Default: the model's.
    precision : {"float32", "int8"}
    chunk_size : int
    progress, cancel
        See :meth:`Synthesizer.synthesize`.

    Returns
    -------
    audio : np.ndarray [shape=(n, frames * hop_length)], float32
    """
    return synthesizer.synthesize(
        encodings,
        seed=seed + batch,
        temperature=temperature,
        chunk_size=chunk_size,
        progress=progress,
        cancel=cancel,
        precision=precision,
    )


def render_grid(
    corners,
    out_dir,
    resolution=5,
    seconds=2.0,
    pitches=None,
    model=DEFAULT_MODEL,
    precision="float32",
    batch_size=16,
    scheduler="local",
    workers=2,
    seed=0,
    temperature=None,
    corners_per_pitch=None,
    force=False,
    progress=None,
):
    """Render every point of a bilinear grid between four corner sounds, at each pitch, to wav files.

    Parameters
    ----------
    corners : sequence of 4 (str or os.PathLike or np.ndarray [shape=(n,)])
        Audio files (any format :func:`~nsynth_widgets.audio.load_audio` reads) or 16 kHz audio,
        ordered top-left, top-right, bottom-left, bottom-right. Each is cut or padded with silence
        to ``seconds``. With ``corners_per_pitch`` only their names matter (a path's stem).
    out_dir : str or os.PathLike
        Created if needed; receives ``manifest.json`` and ``r{row}_c{column}[_p{pitch}].wav``.
    resolution : int >= 2
        Points per side (``resolution**2`` points, the corners included).
    seconds : float > 0
        Length of every sound (rounded to whole encoding frames).
    pitches : sequence of int in [0, 127], optional
        MIDI pitches to render every point at. None: each point as mixed (a pitch-conditioned
        model plays the mix of the corners' pitch channels). Otherwise a pitch-conditioned model
        moves each mix there with :func:`set_pitch`; a model without pitch channels needs
        ``corners_per_pitch``.
    model : str or os.PathLike or NSynth or Synthesizer
        ``"default"``, a ``.npz`` weights file or a checkpoint prefix (see
        :func:`~nsynth_widgets.runtime.load_model`). Dask workers load it themselves, so with a
        cluster it must be a name or a path readable on every worker.
    precision : {"float32", "int8"}
    batch_size : int >= 1
        Items synthesized together (one Dask task); part of the plan, so of the settings.
    scheduler : {"local", "processes"} or str or distributed.Client
        ``"local"``: in this process; ``"processes"``: a new LocalCluster of ``workers``
        processes (one thread each); an address such as ``"tcp://host:8786"``, or a Client.
    workers : int >= 1
        Processes for ``scheduler="processes"``.
    seed : int >= 0
        Batch ``b`` is sampled with ``seed + b``.
    temperature : float, optional
        Default: the model's (:attr:`Synthesizer.default_temperature <nsynth_widgets.runtime.Synthesizer.default_temperature>`).
    corners_per_pitch : str or os.PathLike, optional
        A folder holding ``{name}_{pitch}.wav`` for every corner name and pitch (the Open NSynth
        Super layout, e.g. ``flute_48.wav``); each pitch then mixes its own corner notes.
    force : bool
        Discard an existing grid in ``out_dir`` (any settings) and render everything again.
    progress : callable(done, total), optional
        Items done (kept ones included) of the total: called once at the start and after each
        file written. An exception it raises (KeyboardInterrupt too) stops the run cleanly.

    Returns
    -------
    GridResult

    Raises
    ------
    ParameterError
        A bad argument, pitches the model cannot play, or a grid with other settings in ``out_dir``.
    """
    out_dir = Path(out_dir)
    resolution = check_integer("resolution", resolution, 2)
    seconds = check_number("seconds", seconds, 0.0, low_open=True)
    precision = check_choice("precision", precision, PRECISIONS)
    batch_size = check_integer("batch_size", batch_size, 1)
    workers = check_integer("workers", workers, 1)
    seed = check_integer("seed", seed, 0)
    pitches = _check_pitches(pitches)
    _check_scheduler(scheduler)
    force = check_bool("force", force)
    if temperature is not None:
        temperature = check_number("temperature", temperature, 0.0, low_open=True)
    if corners_per_pitch is not None and pitches is None:
        raise ParameterError(
            "`pitches` must be given with `corners_per_pitch` (which files to read). Received: pitches=None."
        )
    names, sources = _check_corners(corners, corners_per_pitch)
    spec = _worker_spec(model, scheduler)

    synthesizer = model if isinstance(model, Synthesizer) else Synthesizer(model, cache_size=0)
    config = synthesizer.config
    if pitches is not None and corners_per_pitch is None and not config.pitch_conditioned:
        raise ParameterError(
            f"`pitches` must be played by a pitch-conditioned model or come with one corner file per pitch: "
            f"'{config.name}' has no pitch channels. Pass corners_per_pitch=DIR (--corners-per-pitch DIR) with "
            f"{{corner}}_{{pitch}}.wav for every corner and pitch (e.g. {names[0]}_{pitches[0]}.wav; the Open NSynth "
            "Super layout). "
            f"Received: pitches={list(pitches)}."
        )
    frames = max(1, round(seconds * config.sample_rate / config.hop_length))
    samples = frames * config.hop_length
    corner_audio = _load_corners(sources, corners_per_pitch, pitches, samples, config.sample_rate)
    if temperature is None:
        temperature = float(synthesizer.default_temperature)
    settings = {
        "model": {"config": config.name, "sha256": _model_digest(synthesizer.model)},
        "model_source": _model_source(model, synthesizer),
        "corners": names,
        "corner_audio_sha256": _array_digest(*corner_audio.values()),
        "corners_per_pitch": corners_per_pitch is not None,
        "resolution": resolution,
        "seconds": seconds,
        "samples": samples,
        "sample_rate": config.sample_rate,
        "pitches": pitches,
        "seed": seed,
        "temperature": temperature,
        "unvoiced_temperature": synthesizer.model.default_unvoiced_temperature,
        "precision": precision,
        "batch_size": batch_size,
    }

    out_dir.mkdir(parents=True, exist_ok=True)
    items = _plan(resolution, pitches, batch_size, seed)
    manifest, kept = _resume(out_dir, settings, items, force)
    items = manifest["items"]
    pending = sorted({item["batch"] for item in items if item["status"] != "done"})
    writer = _Writer(out_dir, manifest, config.sample_rate, progress)
    writer.report()
    batches = 0
    try:
        if pending:
            encode = _corner_encoder(synthesizer, corner_audio)
            per_pitch = corners_per_pitch is not None
            jobs = []  # (batch, its items, their encodings)
            for batch in pending:
                chosen = items[batch * batch_size : (batch + 1) * batch_size]
                encodings = [_item_encoding(synthesizer.model, encode, item, per_pitch) for item in chosen]
                jobs.append((batch, chosen, np.concatenate(encodings)))
            run = {"seed": seed, "temperature": temperature, "precision": precision}
            if scheduler == "local":
                for batch, chosen, encodings in jobs:
                    writer.write_batch(chosen, synthesize_batch(synthesizer, encodings, batch=batch, **run))
                    batches += 1
            else:
                batches = _run_on_dask(scheduler, workers, spec, settings["model"]["sha256"], jobs, run, writer)
    finally:
        writer.save()
    return GridResult(out_dir, manifest, tuple(writer.written), kept, batches)


# ------------------------------------------------------------------------------------------ settings


def _check_pitches(pitches):
    if pitches is None:
        return None
    if isinstance(pitches, (str, bytes)) or not hasattr(pitches, "__iter__"):
        raise ParameterError(
            f"`pitches` must be a list of MIDI pitches (integers in [0, 127]). Received: pitches={describe(pitches)}."
        )
    values = [check_integer("pitches", p, 0, 127) for p in pitches]
    if not values or len(set(values)) != len(values):
        raise ParameterError(
            f"`pitches` must list at least one MIDI pitch, each once. Received: pitches={describe(list(pitches))}."
        )
    return values


def _check_scheduler(scheduler):
    if isinstance(scheduler, str) and (scheduler in SCHEDULERS or "://" in scheduler):
        return
    if type(scheduler).__name__ == "Client" and type(scheduler).__module__.startswith("distributed"):
        return
    raise ParameterError(
        "`scheduler` must be 'local', 'processes', a Dask scheduler address such as 'tcp://host:8786' or a "
        f"distributed.Client. Received: scheduler={describe(scheduler)}."
    )


def _check_corners(corners, corners_per_pitch):
    """Names (a path's stem, else ``corner{i}``) and sources (paths or float32 arrays) of the four corners."""
    if isinstance(corners, (str, bytes)) or not hasattr(corners, "__len__") or len(corners) != 4:
        raise ParameterError(
            "`corners` must be four sounds (files or 16 kHz arrays: top-left, top-right, bottom-left, "
            f"bottom-right). Received: corners={describe(corners)}."
        )
    names, sources = [], []
    for i, corner in enumerate(corners):
        if isinstance(corner, (str, Path)):
            names.append(Path(corner).stem)
            sources.append(Path(corner))
        elif isinstance(corner, np.ndarray) and corners_per_pitch is None:
            names.append(f"corner{i}")
            sources.append(corner)
        else:
            rule = "a file name" if corners_per_pitch is not None else "a file or a 1-D array of 16 kHz audio"
            raise ParameterError(f"`corners[{i}]` must be {rule}. Received: corners[{i}]={describe(corner)}.")
    if corners_per_pitch is not None and not Path(corners_per_pitch).is_dir():
        raise ParameterError(
            f"`corners_per_pitch` must be an existing folder. Received: corners_per_pitch='{corners_per_pitch}'."
        )
    return names, sources


def _worker_spec(model, scheduler):
    """What Dask workers load: the model name or an absolute path (None for the local scheduler)."""
    if scheduler == "local":
        return None
    if not isinstance(model, (str, Path)) or not str(model).strip():
        raise ParameterError(
            "`model` must be 'default', a .npz weights file or a checkpoint path when the grid runs on Dask "
            f"workers (each loads it itself). Received: model={describe(model)}."
        )
    return DEFAULT_MODEL if str(model) == DEFAULT_MODEL else str(Path(model).resolve())


def _model_source(model, synthesizer):
    if isinstance(model, (str, Path)):
        return str(model)
    return synthesizer.model.source


def _model_digest(model):
    from .model.checkpoint import weights_digest

    return weights_digest(model.config, model.variables())


def _array_digest(*arrays):
    h = hashlib.sha256()
    for array in arrays:
        h.update(np.ascontiguousarray(array, np.float32).tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------------------- corners


def _load_corners(sources, corners_per_pitch, pitches, samples, sample_rate):
    """``{pitch or None: (4, samples) float32}``: the corner audio each pitch mixes."""
    from .audio import load_audio, validate_audio

    def fit(audio):
        audio = audio[:samples]
        return np.pad(audio, (0, samples - audio.size)).astype(np.float32)

    if corners_per_pitch is None:
        audio = []
        for i, source in enumerate(sources):
            if isinstance(source, Path):
                audio.append(load_audio(source, sample_rate=sample_rate))
            else:
                audio.append(validate_audio(source, name=f"corners[{i}]", ndim=1))
        return {None: np.stack([fit(a) for a in audio])}
    folder = Path(corners_per_pitch)
    paths = {p: [folder / f"{source.stem}_{p}.wav" for source in sources] for p in pitches}
    missing = [path.name for group in paths.values() for path in group if not path.is_file()]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise ParameterError(
            f"`corners_per_pitch` must hold {{corner}}_{{pitch}}.wav for every corner and pitch. "
            f"Received: corners_per_pitch='{folder}', which lacks {shown}."
        )
    return {
        p: np.stack([fit(load_audio(path, sample_rate=sample_rate)) for path in group]) for p, group in paths.items()
    }


def _corner_encoder(synthesizer, corner_audio):
    """``encode(pitch_key)`` → the 4 corner encodings ``[(1, frames, C)] * 4`` (each key encoded once, as one batch)."""
    cache = {}

    def encode(key):
        if key not in cache:
            encoded = synthesizer.encode(corner_audio[key])
            cache[key] = [encoded[i : i + 1] for i in range(4)]
        return cache[key]

    return encode


def _item_encoding(model, encode, item, per_pitch):
    """The ``(1, frames, C)`` encoding an item synthesizes (``per_pitch``: its pitch has its own corner files)."""
    mix = weighted_mix(encode(item["pitch"] if per_pitch else None), item["weights"])
    if per_pitch or item["pitch"] is None:
        return mix
    try:
        return set_pitch(model, mix, item["pitch"])
    except ParameterError as error:
        raise ParameterError(
            f"`pitches` must be reachable by transposing every point: {item['file']} cannot be moved to MIDI "
            f"{item['pitch']} ({error}) Received: pitches containing {item['pitch']}."
        ) from None


# --------------------------------------------------------------------------------------- plan, files


def _file_name(row, column, pitch, resolution):
    width = len(str(resolution - 1))
    name = f"r{row:0{width}d}_c{column:0{width}d}"
    return f"{name}.wav" if pitch is None else f"{name}_p{pitch}.wav"


def _plan(resolution, pitches, batch_size, seed):
    """Every item of the grid, in plan order, as manifest entries (status ``pending``)."""
    weights = bilinear_grid(resolution)
    items = []
    for pitch in pitches if pitches is not None else [None]:
        for row in range(resolution):
            for column in range(resolution):
                batch = len(items) // batch_size
                items.append(
                    {
                        "row": row,
                        "column": column,
                        "pitch": pitch,
                        "weights": [float(w) for w in weights[row, column]],
                        "file": _file_name(row, column, pitch, resolution),
                        "batch": batch,
                        "seed": seed + batch,
                        "samples": None,
                        "sha256": None,
                        "status": "pending",
                    }
                )
    return items


def _resume(out_dir, settings, items, force):
    """The manifest to continue and how many items it keeps (verified against their sha256)."""
    path = out_dir / MANIFEST
    old = None
    if path.is_file() and not force:
        try:
            old = json.loads(path.read_text())
            if old.get("format") != _FORMAT:
                raise ValueError(f"format {old.get('format')!r}")
        except (ValueError, AttributeError) as error:
            raise ParameterError(
                f"`out_dir` must hold a readable grid manifest or none; pass force=True (--force) to start over. "
                f"Received: out_dir='{out_dir}' with an unreadable {MANIFEST} ({error})."
            ) from None
        before = old["settings"]
        changed = [key for key in settings if key != "model_source" and before.get(key) != settings[key]]
        if set(changed) - set(_DERIVED):  # a derived setting changes with the ones it comes from: say those
            changed = [key for key in changed if key not in _DERIVED]
        if changed:
            listing = "; ".join(_describe_change(key, before, settings) for key in changed)
            raise ParameterError(
                f"`out_dir` must hold no grid or one made with the same settings; its {MANIFEST} differs in {listing}. "
                f"Pass force=True (--force) to render it again, or choose another folder. Received: out_dir='{out_dir}'."
            )
    elif path.is_file():  # force: forget the old grid, and its files the new one does not name
        try:
            stale = {item["file"] for item in json.loads(path.read_text())["items"]} - {i["file"] for i in items}
        except (ValueError, KeyError, TypeError):
            stale = set()
        for name in stale:
            (out_dir / Path(name).name).unlink(missing_ok=True)
    kept = 0
    if old is not None:
        for item, previous in zip(items, old["items"]):
            file = out_dir / item["file"]
            if previous["status"] == "done" and file.is_file() and _sha256(file.read_bytes()) == previous["sha256"]:
                item.update(samples=previous["samples"], sha256=previous["sha256"], status="done")
                kept += 1
    return {"format": _FORMAT, "settings": settings, "items": items}, kept


def _describe_change(key, before, after):
    if key == "model":
        old, new = before.get("model_source"), after["model_source"]
        return f"model ({old} → {new}{', other weights' if old == new else ''})"
    if key.endswith("sha256"):
        return f"{key.removesuffix('_sha256').replace('_', ' ')} (other content)"
    return f"{key} ({before.get(key)} → {after[key]})"


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


class _Writer:
    """Writes items as their batches arrive, keeps the manifest, reports progress."""

    def __init__(self, out_dir, manifest, sample_rate, progress):
        self.out_dir = out_dir
        self.manifest = manifest
        self.sample_rate = sample_rate
        self.progress = progress
        self.written = []

    def report(self):
        if self.progress is not None:
            items = self.manifest["items"]
            self.progress(sum(item["status"] == "done" for item in items), len(items))

    def write_batch(self, items, audio):
        """Write the items of a batch that are not done yet (row ``i`` of ``audio`` is ``items[i]``)."""
        from .audio import to_wav_bytes

        for item, row in zip(items, audio):
            if item["status"] == "done":
                continue
            data = to_wav_bytes(row, self.sample_rate)
            with atomic_path(self.out_dir / item["file"]) as temporary:
                temporary.write_bytes(data)
            item.update(samples=int(row.size), sha256=_sha256(data), status="done")
            self.written.append(item["file"])
            self.report()
        self.save()

    def save(self):
        """Write the manifest atomically: the settings indented, then one line per item."""
        head = json.dumps({key: value for key, value in self.manifest.items() if key != "items"}, indent=1)
        items = ",\n".join(f"  {json.dumps(item)}" for item in self.manifest["items"])
        with atomic_path(self.out_dir / MANIFEST) as temporary:
            temporary.write_text(f'{head[:-2]},\n "items": [\n{items}\n ]\n}}\n')


# -------------------------------------------------------------------------------------------- dask


def _run_on_dask(scheduler, workers, spec, digest, jobs, run, writer):
    """Submit one task per batch and write each result as it arrives; returns the batches done."""
    from distributed import Client, LocalCluster, as_completed

    owned = []
    try:
        if isinstance(scheduler, Client):
            client = scheduler
        elif scheduler == "processes":
            cluster = LocalCluster(  # the workers' "still alive after 4 s" notices at close are noise
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            owned.append(cluster)
            client = Client(cluster)
            owned.append(client)
        else:
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as error:
                raise ParameterError(
                    f"`scheduler` must be the address of a running Dask scheduler. Received: scheduler='{scheduler}' "
                    f"({error})."
                ) from None
            owned.append(client)
        token = uuid.uuid4().hex[:8]
        futures = {}
        for batch, items, encodings in jobs:
            future = client.submit(
                _render_batch_task,
                spec,
                digest,
                encodings,
                batch,
                **run,
                key=f"nsynth-grid-{token}-{batch}",
                pure=False,
            )
            futures[future.key] = (future, items)
        done = 0
        try:
            for future in as_completed([f for f, _ in futures.values()]):
                writer.write_batch(futures[future.key][1], future.result())
                done += 1
        except BaseException:
            client.cancel([f for f, _ in futures.values()])
            raise
        return done
    finally:
        for thing in reversed(owned):
            thing.close()


_WORKER_MODELS = {}
_WORKER_LOCK = threading.Lock()


def _worker_synthesizer(spec):
    """The worker process's Synthesizer for ``spec`` and its digest: loaded on first use, then kept."""
    with _WORKER_LOCK:
        if spec not in _WORKER_MODELS:
            synthesizer = Synthesizer(spec, cache_size=0)
            _WORKER_MODELS[spec] = (synthesizer, _model_digest(synthesizer.model))
        return _WORKER_MODELS[spec]


def _render_batch_task(spec, digest, encodings, batch, seed, temperature, precision):
    """A Dask task: one batch on the worker's own copy of the model → ``(n, samples)`` float32."""
    synthesizer, loaded = _worker_synthesizer(spec)
    if loaded != digest:
        import socket

        raise CheckpointError(
            f"`model` must be the same on every worker: '{spec}' on {socket.gethostname()} holds other weights "
            f"(sha256 {loaded[:12]}…) than the client's ({digest[:12]}…). Received: model='{spec}'."
        )
    return synthesize_batch(
        synthesizer, encodings, seed=seed, batch=batch, temperature=temperature, precision=precision
    )
