"""The ``nsynth-widgets`` command: encode, synthesize, mix, grid, dashboard, download, and the training pipeline.

The training pipeline's commands (``render-notes``, ``train``, ``evaluate``, ``make-examples``)
call :mod:`nsynth_widgets.training`.

Run ``nsynth-widgets COMMAND --help`` for every flag. Every mistake is printed as one line
naming the argument, its rule and the value (no traceback), and the command exits with status 2;
inputs and outputs (writable folder, no result overwritten without ``--overwrite``) are checked
before the long work starts. Each file written is printed as ``-> path`` (``download-checkpoint``
prints the checkpoint prefix alone).
"""

import argparse
import contextlib
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

from .errors import NSynthWidgetsError, ParameterError, check_integer, check_number

__all__ = ["main", "build_parser"]

_MODEL_HELP = (
    "'default' (the embedded model), a .npz weights file written by nsynth_widgets, or a TF1 checkpoint "
    "prefix such as wavenet-ckpt/model.ckpt-200000 (default: %(default)s)"
)


def _progress_bar(total, desc, unit, initial=0):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, disable=None, initial=initial)


def _output_folder(folder, names, overwrite):
    """Create ``folder``, prove it writable and free of the results; return the result paths.

    Checked before any long work, so that a mistake costs nothing and nothing computed is lost.
    """
    if folder.exists() and not folder.is_dir():
        raise ParameterError(
            f"`--output` must be a folder (it receives one file per input). Received: --output='{folder}', a file."
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ParameterError(
            f"`files` must have distinct names, since each result is named after its input. "
            f"Received: {', '.join(repr(name) for name in repeated)} more than once."
        )
    _check_writable(folder, "--output")
    paths = [folder / name for name in names]
    _check_free(paths, overwrite)
    return paths


def _output_file(path, suffixes, overwrite):
    """Check a single output file's suffix, folder and presence before the work starts."""
    if path.suffix.lower() not in suffixes:
        raise ParameterError(f"`--output` must end in {', '.join(suffixes)}. Received: --output='{path}'.")
    _check_writable(path.parent, "--output")
    _check_free([path], overwrite)
    return path


def _check_writable(folder, flag):
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ParameterError(
            f"`{flag}` must be a folder that can be created and written. Received: {flag}='{folder}' "
            f"({error.strerror or type(error).__name__})."
        ) from error


def _check_free(paths, overwrite):
    folders = [str(p) for p in paths if p.is_dir()]
    if folders:
        raise ParameterError(f"`--output` must not hold folders where results go. Received: {', '.join(folders)}.")
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise ParameterError(
            f"`--output` must not already hold the results; pass --overwrite to replace them. Received: {shown}."
        )


def _check_inputs(files):
    for path in files:
        if not path.is_file():
            why = "a folder" if path.is_dir() else "no such file"
            raise ParameterError(f"`files` must be existing files. Received: '{path}' ({why}).")


def _cmd_encode(args):
    from .audio import load_audio
    from .encodings import save_encoding
    from .runtime import load_model

    _check_inputs(args.files)
    outputs = _output_folder(args.output, [Path(p).stem + ".npy" for p in args.files], args.overwrite)
    model = load_model(args.model)
    rate = model.config.sample_rate
    with _progress_bar(len(args.files), "encode", "file") as bar:
        for path, output in zip(args.files, outputs):
            # only the kept region is decoded
            audio = load_audio(path, sample_rate=rate, duration=args.length / rate if args.length else None)
            if args.length:
                audio = audio[: args.length]
            bar.write(f"{path} -> {save_encoding(output, model.encode(audio, precision=args.precision))}")
            bar.update(1)


def _cmd_synthesize(args):
    from .audio import save_audio
    from .encodings import load_encoding
    from .runtime import load_model

    _check_inputs(args.files)
    if args.unvoiced_temperature is not None:  # before anything is written (the model's own check comes later)
        check_number("unvoiced_temperature", args.unvoiced_temperature, 0, low_open=True)
    encodings = [load_encoding(p) for p in args.files]  # every file checked before the model loads
    # a file may hold a batch of encodings: one wav per row
    rows = [
        (f"{Path(p).stem}_{i}" if len(e) > 1 else Path(p).stem, row)
        for p, e in zip(args.files, encodings)
        for i, row in enumerate(e)
    ]
    outputs = _output_folder(args.output, [name + ".wav" for name, _ in rows], args.overwrite)
    model = load_model(args.model)
    model.check_unvoiced_temperature(args.unvoiced_temperature)
    if args.transpose:
        rows = [(name, model.transpose(row, args.transpose)[0]) for name, row in rows]
    for start in range(0, len(rows), args.batch_size):
        group = [row for _, row in rows[start : start + args.batch_size]]
        total = max(len(row) for row in group) * model.config.hop_length
        with _progress_bar(total, f"synthesize {start + 1}-{start + len(group)}/{len(rows)}", "sample") as bar:

            def progress(done, _total, _partial):
                bar.update(done - bar.n)

            audio = model.synthesize(
                group,
                seed=args.seed,
                temperature=args.temperature,
                greedy=args.greedy,
                progress=progress,
                precision=args.precision,
                unvoiced_temperature=args.unvoiced_temperature,
            )
        for output, samples in zip(outputs[start:], audio):
            print(f"-> {save_audio(output, samples, sample_rate=model.config.sample_rate)}")


def _cmd_mix(args):
    from .audio import save_audio
    from .dsp.mix import interpolate, time_stretch
    from .encodings import load_encoding, save_encoding
    from .runtime import load_model

    _check_inputs([args.first, args.second])
    output = _output_file(args.output, (".npy", ".wav", ".flac"), args.overwrite)
    mixed = interpolate(load_encoding(args.first), load_encoding(args.second), args.weight)
    if args.stretch != 1.0:
        mixed = time_stretch(mixed, args.stretch)
    if output.suffix.lower() == ".npy":
        print(f"-> {save_encoding(output, mixed)}")
        return
    model = load_model(args.model)
    with _progress_bar(mixed.shape[1] * model.config.hop_length, "synthesize mix", "sample") as bar:
        audio = model.synthesize(mixed, seed=args.seed, progress=lambda d, t, a: bar.update(d - bar.n))
    print(f"-> {save_audio(output, audio[0], sample_rate=model.config.sample_rate)}")


def _pitch_list(text):
    """``"48,55,60"`` → ``[48, 55, 60]`` (argparse type of ``--pitches``)."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"`--pitches` must be MIDI pitches separated by commas, e.g. 48,55,60. Received: {text!r}."
        ) from None


def _cmd_grid(args):
    from .grid import render_grid

    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:  # sounds kept from an earlier run count as done, not in the rate and ETA
            bar = _progress_bar(total, "grid", "sound", initial=done)
        bar.update(done - bar.n)

    try:
        result = render_grid(
            args.corners,
            args.output,
            resolution=args.resolution,
            seconds=args.seconds,
            pitches=args.pitches,
            model=args.model,
            precision=args.precision,
            batch_size=args.batch_size,
            scheduler=args.scheduler,
            workers=args.workers,
            seed=args.seed,
            temperature=args.temperature,
            corners_per_pitch=args.corners_per_pitch,
            force=args.force,
            progress=progress,
        )
    except KeyboardInterrupt:
        print(f"nsynth-widgets: stopped; run the same command again to resume {args.output}", file=sys.stderr)
        raise
    finally:
        if bar is not None:
            bar.close()
    print(f"{len(result.written)} sounds written, {result.kept} kept -> {args.output / 'manifest.json'}")


def _cmd_download(args):
    from .download import download_checkpoint

    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = _progress_bar(total, "wavenet-ckpt.tar", "B")
        bar.update(done - bar.n)

    # only the flags given are passed: the defaults (URL, cache folder, hash) live in download.py alone
    given = {name: getattr(args, name) for name in ("url", "cache_dir", "sha256") if getattr(args, name) is not None}
    try:
        prefix = download_checkpoint(force=args.force, progress=progress, **given)
    finally:
        if bar is not None:
            bar.close()
    print(prefix)  # the bare prefix, so that a script can capture it: PREFIX=$(nsynth-widgets download-checkpoint)


@contextlib.contextmanager
def _flag_names(*names):
    """Re-raise a ParameterError about these settings with the names of their flags (``--input-noise``)."""
    try:
        yield
    except ParameterError as error:
        message = str(error)
        for name in names:
            flag = "--" + name.replace("_", "-")
            message = message.replace(f"`{name}`", f"`{flag}`").replace(f" {name}=", f" {flag}=")
        raise ParameterError(message) from None


def _cmd_train(args):
    from .model.config import EMBEDDED, H512_BO16
    from .training.dataset import NoteDataset
    from .training.train import TrainConfig, train

    configs = {"embedded": EMBEDDED, "h512_bo16": H512_BO16}
    model_config = configs[args.config]
    if args.width is not None:
        model_config = model_config.replace(
            name=f"{args.config}_w{args.width}", width=args.width, skip_width=args.width
        )
    if args.excitation_harmonics is not None:
        model_config = model_config.replace(
            name=f"{model_config.name}_h{args.excitation_harmonics}",
            excitation_harmonics=args.excitation_harmonics,
            # pre-emphasis belongs to the source-filter decoder: a model without pitch channels drops it
            pre_emphasis=model_config.pre_emphasis if args.excitation_harmonics else 0.0,
        )
    if args.pre_emphasis is not None:
        with _flag_names("pre_emphasis"):
            model_config = model_config.replace(pre_emphasis=args.pre_emphasis)
    with _flag_names(*(field.name for field in dataclasses.fields(TrainConfig))):  # flags named after the fields
        config = TrainConfig(
            steps=args.steps,
            batch_size=args.batch_size,
            crop_length=args.crop_length,
            learning_rate=args.learning_rate,
            warmup_steps=args.warmup_steps,
            checkpoint_every=args.checkpoint_every,
            eval_every=args.eval_every,
            seed=args.seed,
            input_noise=args.input_noise,
            phase_lock=not args.no_phase_lock,
            encoder_pitch_shift=args.encoder_pitch_shift,
            encoder_partner_interval=args.encoder_partner_interval,
            encoder_shift_share=args.encoder_shift_share,
            invariance_weight=args.invariance_weight,
            invariance_shift=args.invariance_shift,
            invariance_frames=args.invariance_frames,
            freeze_encoder=args.freeze_encoder,
            partners_through_map=args.partners_through_map,
        )
        config.check_model(model_config)  # before the notes are read (or their pitch measured)
    train_data = NoteDataset(args.data_dir, "train", crops=args.crops)
    valid_data = NoteDataset(args.data_dir, "valid")
    bar = _progress_bar(config.steps, "train", "step")

    def progress(step, total, record):
        bar.update(step - bar.n)
        bar.set_postfix({k: round(v, 4) for k, v in record.items() if k.endswith("loss")})

    with bar:
        train(
            model_config,
            train_data,
            args.run_dir,
            config,
            valid_data=valid_data,
            resume=not args.restart,
            progress=progress,
            init_weights=args.init_weights,
        )
    print(f"weights: {args.run_dir / 'weights.npz'}")


def _cmd_render_notes(args):
    from .training.dataset import measure_pitch
    from .training.fluidsynth import NoteRenderer
    from .training.notes import plan_notes, render_dataset, spread

    notes = plan_notes(args.programs, args.pitch_step, args.velocities, args.seed)
    if args.limit is not None:
        notes = spread(notes, args.limit)
    with NoteRenderer(args.soundfont, args.gain) as renderer, _progress_bar(len(notes), "render", "note") as bar:
        examples = render_dataset(
            args.out_dir, notes, progress=lambda n_done, _: bar.update(n_done - bar.n), renderer=renderer
        )
    with _progress_bar(len(examples), "pitch", "note") as bar:
        measure_pitch(args.out_dir, progress=lambda n_done, _: bar.update(n_done - bar.n))
    n_valid = sum(note["split"] == "valid" for note in examples.values())
    print(
        f"{len(examples)} notes in {args.out_dir} ({len(examples) - n_valid} train, {n_valid} valid); "
        f"{len(notes) - len(examples)} silent notes dropped."
    )


def _cmd_evaluate(args):
    from .training.evaluate import evaluate_weights
    from .training.report import results_markdown

    with _progress_bar(None, "resynthesis", "note") as bar:

        def progress(n_done, n_total):
            bar.total = n_total
            bar.update(n_done - bar.n)

        results = evaluate_weights(
            args.weights,
            args.data_dir,
            args.out,
            notes=args.notes,
            seed=args.seed,
            batch_size=args.batch_size,
            figures=args.figures,
            validation_crops=args.validation_crops,
            temperature=args.temperature,
            unpitched=args.unpitched,
            transpositions=args.transpositions,
            progress=progress,
            unvoiced_temperature=args.unvoiced_temperature,
        )
    print(results_markdown(results))


def _cmd_fit_transposition(args):
    from .model.nsynth import NSynth
    from .training.transposition import fit_transposition_map, tune_transposition_map

    output = _output_file(args.output, (".npz",), args.overwrite)
    model = NSynth.from_weights(args.weights)
    shared = ("groups", "valid_groups", "max_interval", "seconds", "seed")
    names = shared + ("context", "hidden", "epochs")
    if args.keep_map:
        if model.transposition_map is None:
            raise ParameterError(
                f"`--keep-map` needs weights that hold a transposition map. Received: weights='{args.weights}', without one."
            )
        if not args.tune_steps:
            raise ParameterError(
                "`--tune-steps` must be >= 1 with `--keep-map` (otherwise there is nothing to do). Received: --tune-steps=0."
            )
    else:
        with _flag_names(*names), _progress_bar(None, "encode", "note") as bar:

            def progress(n_done, n_total):
                bar.total = n_total
                bar.update(n_done - bar.n)

            model.transposition_map, report = fit_transposition_map(
                model, args.data_dir, progress=progress, **{name: getattr(args, name) for name in names}
            )
        print(
            f"{report['train_examples']} frames; error left on the held-out instruments: "
            f"{report['valid_error_ratio']:.3f} of not moving the learned channels (training set "
            f"{report['train_error_ratio']:.3f})"
        )
    if args.tune_steps:
        with _flag_names("tune_steps", *shared), _progress_bar(args.tune_steps, "tune", "step") as bar:

            def progress(step, steps, valid_loss):
                bar.update(step - bar.n)
                if valid_loss is not None:
                    bar.write(f"step {step}: {valid_loss:.4f} nats on the held-out pairs")

            model.transposition_map, report = tune_transposition_map(
                model,
                args.data_dir,
                steps=args.tune_steps,
                progress=progress,
                **{name: getattr(args, name) for name in shared},
            )
        print(
            "decoder's loss on the held-out instruments' pairs (nats per sample): "
            f"{report['after']:.4f} after tuning, {report['before']:.4f} before, {report['unmoved']:.4f} with the "
            f"learned channels unmoved, {report['own']:.4f} with the target note's own"
        )
    print(f"-> {model.save_weights(output)}")


def _cmd_make_examples(args):
    from .training.make_examples import make_examples

    print(f"-> {make_examples(args.out_dir)}")


def _cmd_dashboard(args):
    from .dashboard_server import voila_command

    if args.public:
        from .widgets.dashboard import MODEL_PATHS_ENV

        os.environ[MODEL_PATHS_ENV] = "0"  # inherited by the kernels Voila starts
    command = voila_command(
        port=args.port, host=args.host, open_browser=not args.no_browser, max_visitors=args.max_visitors
    )
    os.execvp(command[0], command)


def build_parser():
    """The ``nsynth-widgets`` argument parser: one subcommand per job, every flag with its help."""
    from .model.config import (
        DEFAULT_MODEL_TEMPERATURE,
        DEFAULT_MODEL_UNVOICED_TEMPERATURE,
        ENCODE_PRECISIONS,
        PRECISIONS,
    )
    from .training.train import INVARIANCE_FRAMES, TrainConfig

    temperature_help = (
        "softmax temperature > 0; for a pitch-conditioned model, of voiced frames (default: the model's: "
        f"{DEFAULT_MODEL_TEMPERATURE:g} for the embedded model, else 1.0)"
    )
    unvoiced_help = (
        "pitch-conditioned models: the temperature of unvoiced frames, moving to --temperature with the "
        f"voicing channel (default: the model's: {DEFAULT_MODEL_UNVOICED_TEMPERATURE:g} for the embedded model, "
        "else --temperature)"
    )

    parser = argparse.ArgumentParser(prog="nsynth-widgets", description="NSynth WaveNet autoencoder tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("encode", help="encode audio files to .npy encodings")
    p.add_argument("files", nargs="+", type=Path, help="audio files (wav, flac, ogg, mp3; any rate and channels)")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for the <name>.npy encodings")
    p.add_argument("--model", default="default", help=_MODEL_HELP)
    p.add_argument("--length", type=int, default=None, help="keep only the first N samples at 16 kHz (e.g. 40000)")
    p.add_argument("--overwrite", action="store_true", help="replace encodings already in the output folder")
    p.add_argument(
        "--precision",
        choices=ENCODE_PRECISIONS,
        default="float32",
        help="what the encoder computes in: bfloat16 is faster on CPUs with bfloat16 instructions and moves the "
        "learned channels by a fraction of a percent (default: %(default)s)",
    )
    p.set_defaults(run=_cmd_encode)

    p = sub.add_parser("synthesize", help="resynthesize audio from .npy encodings")
    p.add_argument("files", nargs="+", type=Path, help=".npy encodings (as written by `encode`)")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for the <name>.wav results")
    p.add_argument("--model", default="default", help=_MODEL_HELP)
    p.add_argument("--batch-size", type=int, default=8, help="encodings generated together (default: %(default)s)")
    p.add_argument(
        "--seed", type=int, default=0, help="sampling seed; equal seeds give equal audio (default: %(default)s)"
    )
    p.add_argument("--temperature", type=float, default=None, help=temperature_help)
    p.add_argument("--unvoiced-temperature", type=float, default=None, help=unvoiced_help)
    p.add_argument("--greedy", action="store_true", help="take the most likely sample instead of sampling")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="decoder weights: int8 reads a quarter of the bytes per step (faster, most of all for the published "
        "model); w8a8 (int8 weights and activations) is the fastest for batches; speeds in benchmarks/RESULTS.md "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--transpose",
        type=float,
        default=0.0,
        help="play the encodings this many semitones higher (negative: lower); needs a model with pitch "
        "channels, such as the embedded one (default: %(default)s)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace results already in the output folder")
    p.set_defaults(run=_cmd_synthesize)

    p = sub.add_parser("mix", help="mix two encodings in latent space; write .npy or synthesize to .wav")
    p.add_argument("first", type=Path, help="first encoding (.npy)")
    p.add_argument("second", type=Path, help="second encoding (.npy)")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="result: .npy (the mixed encoding), or .wav or .flac (synthesized audio)",
    )
    p.add_argument("--weight", type=float, default=0.5, help="0 = first, 1 = second (default: %(default)s)")
    p.add_argument("--stretch", type=float, default=1.0, help="time-stretch factor in [0.25, 4] (default: %(default)s)")
    p.add_argument("--model", default="default", help=_MODEL_HELP)
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.set_defaults(run=_cmd_mix)

    p = sub.add_parser("grid", help="render an NSynth-Super-style grid of latent mixes between four corner sounds")
    p.add_argument(
        "corners",
        nargs=4,
        type=Path,
        metavar="CORNER",
        help="four sounds: top-left, top-right, bottom-left, bottom-right (with --corners-per-pitch, "
        "only their names count)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="folder for manifest.json and r<row>_c<column>[_p<pitch>].wav (a second run resumes it)",
    )
    p.add_argument("--resolution", type=int, default=5, help="points per side, corners included (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=2.0, help="length of every sound (default: %(default)s)")
    p.add_argument(
        "--pitches",
        type=_pitch_list,
        default=None,
        help="MIDI pitches to render each point at, e.g. 48,55,60,67 (default: the mix's own pitch)",
    )
    p.add_argument(
        "--corners-per-pitch",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder with <corner>_<pitch>.wav for every corner and pitch (the Open NSynth Super layout; "
        "needed for --pitches with a model without pitch channels)",
    )
    p.add_argument("--model", default="default", help=_MODEL_HELP)
    p.add_argument("--precision", choices=PRECISIONS, default="float32", help="decoder weights (default: %(default)s)")
    p.add_argument(
        "--batch-size", type=int, default=16, help="sounds generated together, one Dask task (default: %(default)s)"
    )
    p.add_argument(
        "--scheduler",
        default="local",
        help="'local' (this process), 'processes' (a local Dask cluster of --workers processes) or a "
        "Dask scheduler address such as tcp://HOST:8786 (default: %(default)s)",
    )
    p.add_argument("--workers", type=int, default=2, help="processes for --scheduler processes (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="batch b is sampled with seed + b (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=None, help=temperature_help)
    p.add_argument("--force", action="store_true", help="render everything again, even over a grid with other settings")
    p.set_defaults(run=_cmd_grid)

    p = sub.add_parser("download-checkpoint", help="download and unpack the published NSynth checkpoint (about 1 GB)")
    p.add_argument("--url", default=None, help="where to fetch wavenet-ckpt.tar (default: magenta's published URL)")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where to keep it (default: $NSYNTH_WIDGETS_CACHE or ~/.cache/nsynth_widgets)",
    )
    p.add_argument("--sha256", default=None, help="expected sha256 of the tar (checked when given, or when pinned)")
    p.add_argument("--force", action="store_true", help="download again even when a complete copy is cached")
    p.set_defaults(run=_cmd_download)

    from .example_sounds import EXAMPLES_DIR
    from .training.fluidsynth import DEFAULT_GAIN, DEFAULT_SOUNDFONT
    from .training.notes import VELOCITIES

    p = sub.add_parser("render-notes", help="render NSynth-like notes from a General MIDI SoundFont (resumable)")
    p.add_argument("out_dir", type=Path, help="folder for audio/*.wav, examples.json, silent.json and pitch.npz")
    p.add_argument("--pitch-step", type=int, default=1, help="keep every N-th pitch (default: %(default)s)")
    p.add_argument("--programs", type=int, nargs="+", help="General MIDI programs (default: all of NSynth's families)")
    p.add_argument(
        "--velocities", type=int, nargs="+", default=list(VELOCITIES), help="MIDI velocities (default: %(default)s)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the train/valid split by instrument (default: %(default)s)"
    )
    p.add_argument("--limit", type=int, default=None, help="render at most N notes, spread evenly over the plan")
    p.add_argument("--soundfont", default=DEFAULT_SOUNDFONT, help="SoundFont 2 file (default: %(default)s)")
    p.add_argument("--gain", type=float, default=DEFAULT_GAIN, help="FluidSynth's master gain (default: %(default)s)")
    p.set_defaults(run=_cmd_render_notes)

    p = sub.add_parser("train", help="train a model on notes rendered by `nsynth-widgets render-notes`")
    p.add_argument("data_dir", type=Path, help="folder with examples.json and audio/ (rendered notes)")
    p.add_argument(
        "run_dir", type=Path, help="folder for weights.npz, optimizer.npz and log.jsonl (resumed if present)"
    )
    p.add_argument(
        "--config", choices=["embedded", "h512_bo16"], default="embedded", help="architecture (default: %(default)s)"
    )
    p.add_argument(
        "--width",
        type=int,
        default=None,
        help="decoder residual and skip channels instead of the config's (e.g. 96 to train a larger "
        "candidate of the embedded model; the encoder is unchanged)",
    )
    defaults = TrainConfig()  # the flags' defaults are the configuration's
    p.add_argument("--steps", type=int, default=defaults.steps, help="total optimisation steps (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="crops per step (default: %(default)s)")
    p.add_argument(
        "--crop-length", type=int, default=defaults.crop_length, help="samples per crop (default: %(default)s)"
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        default=defaults.learning_rate,
        help="peak Adam learning rate (default: %(default)s)",
    )
    p.add_argument(
        "--warmup-steps", type=int, default=defaults.warmup_steps, help="linear warm-up steps (default: %(default)s)"
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=defaults.checkpoint_every,
        help="steps between checkpoints (default: %(default)s)",
    )
    p.add_argument(
        "--eval-every",
        type=int,
        default=defaults.eval_every,
        help="steps between validation losses (default: %(default)s)",
    )
    p.add_argument(
        "--seed", type=int, default=defaults.seed, help="data and initialisation seed (default: %(default)s)"
    )
    p.add_argument(
        "--crops",
        choices=("uniform", "sounding"),
        default="uniform",
        help="where training crops start: anywhere in a note, or where at least half of the crop "
        "sounds (skips crops of silence; validation crops stay uniform) (default: %(default)s)",
    )
    p.add_argument(
        "--input-noise",
        type=float,
        default=defaults.input_noise,
        help="largest standard deviation, in mu-law code steps, of Gaussian noise added to the past "
        "samples the decoder reads on training steps (each crop's level drawn below it), so that it "
        "learns to recover from its own sampling errors; 0 turns it off (default: %(default)s)",
    )
    p.add_argument(
        "--excitation-harmonics",
        type=int,
        default=None,
        help="harmonics of the oscillator a pitch-conditioned decoder hears, instead of the config's "
        "(the embedded config: 8); 0 trains a model without pitch channels",
    )
    p.add_argument(
        "--pre-emphasis",
        type=float,
        default=None,
        help="pitch-conditioned models: the decoder reads and predicts the audio pre-emphasized by this "
        "coefficient (e.g. 0.85) and its output is de-emphasized, which shapes its errors like the sound's "
        "spectrum (LPCNet's noise shaping); 0 turns it off (default: the config's, 0.85 for the embedded "
        "config, which a model trained without pitch channels drops)",
    )
    p.add_argument(
        "--freeze-encoder",
        action="store_true",
        help="train the decoder only: encodings stay as they are (and a transposition map in --init-weights is kept)",
    )
    p.add_argument(
        "--no-phase-lock",
        action="store_true",
        help="pitch-conditioned models: start the oscillator at phase 0 in every crop instead of aligning "
        "it with the crop's fundamental",
    )
    p.add_argument(
        "--encoder-pitch-shift",
        type=float,
        default=defaults.encoder_pitch_shift,
        help="pitch-conditioned models: on training steps the encoder hears each crop shifted by a random "
        "interval of up to this many semitones, so that the pitch comes from the f0 channel, not from "
        "the learned ones; 0 turns it off (default: %(default)s)",
    )
    p.add_argument(
        "--encoder-partner-interval",
        type=int,
        default=defaults.encoder_partner_interval,
        help="pitch-conditioned models: on training steps the encoder hears, in place of a crop, the same moment "
        "of its instrument's note at another pitch at most this many semitones away (the decoder keeps the "
        "crop's pitch channels and targets); 0 turns it off (default: %(default)s)",
    )
    p.add_argument(
        "--encoder-shift-share",
        type=float,
        default=defaults.encoder_shift_share,
        help="with --encoder-pitch-shift or --encoder-partner-interval: the share of crops the encoder hears "
        "shifted or as their partner (the others as they are, as when it encodes) (default: %(default)s)",
    )
    p.add_argument(
        "--partners-through-map",
        action="store_true",
        help="with --encoder-partner-interval and --freeze-encoder, from weights with a transposition map: the "
        "decoder hears a partnered crop as `transpose` would make it, the partner's learned channels moved by "
        "the map to the crop's pitch",
    )
    p.add_argument(
        "--invariance-weight",
        type=float,
        default=defaults.invariance_weight,
        help="pitch-conditioned models: weight of a loss term asking the learned channels to stay the same "
        "when the crop is pitch-shifted (up to --invariance-shift semitones), so that the pitch comes from "
        "the f0 channel; 0 turns it off (default: %(default)s)",
    )
    p.add_argument(
        "--invariance-shift",
        type=float,
        default=defaults.invariance_shift,
        help="with --invariance-weight: the largest interval, in semitones, of the shifted copies "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--invariance-frames",
        choices=INVARIANCE_FRAMES,
        default=defaults.invariance_frames,
        help="with --invariance-weight: the frames the term weighs, all alike or each by its voicing (noise has "
        "no pitch to move) (default: %(default)s)",
    )
    p.add_argument("--restart", action="store_true", help="start from scratch even if run_dir holds a checkpoint")
    p.add_argument(
        "--init-weights",
        type=Path,
        default=None,
        help="start a new run from these weights, e.g. nsynth_widgets/assets/default_model.npz "
        "(fresh optimizer; ignored when resuming)",
    )
    p.set_defaults(run=_cmd_train)

    p = sub.add_parser("evaluate", help="measure resynthesis quality of a weights file on held-out notes (valid split)")
    p.add_argument("weights", type=Path, help="weights file (.npz) written by NSynth.save_weights or `train`")
    p.add_argument("data_dir", type=Path, help="dataset folder written by `render-notes`")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("evaluation"),
        help="folder for results.json and figures/ (default: %(default)s)",
    )
    p.add_argument("--notes", type=int, default=24, help="notes to evaluate (default: %(default)s)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the choice of notes and of sampling (default: %(default)s)"
    )
    p.add_argument("--batch-size", type=int, default=8, help="most notes per decoder call (default: %(default)s)")
    p.add_argument("--figures", type=int, default=4, help="notes to draw (default: %(default)s)")
    p.add_argument(
        "--validation-crops",
        type=int,
        default=64,
        help="crops of 4096 samples for the validation loss (default: %(default)s)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="sampling temperature > 0 (default: %(default)s, the model's own distribution)",
    )
    p.add_argument(
        "--unvoiced-temperature",
        type=float,
        default=None,
        help="pitch-conditioned models: the temperature of unvoiced frames (voiced ones: --temperature; "
        "between, it follows the voicing channel) (default: every frame at --temperature)",
    )
    p.add_argument(
        "--unpitched",
        action="store_true",
        help="also resynthesize sounds without a pitch (noise, clicks, FluidR3 sound effects)",
    )
    p.add_argument(
        "--transpositions",
        type=float,
        nargs="*",
        default=[-12, -7, 7, 12],
        help="semitones of the transposition check of a pitch-conditioned model (default: %(default)s)",
    )
    p.set_defaults(run=_cmd_evaluate)

    p = sub.add_parser(
        "fit-transposition",
        help="fit a pitch-conditioned model's transposition map on notes written by `render-notes`",
        description="Fit the map that moves an encoding's learned channels when it is transposed (what the "
        "same instrument's would be at the new pitch) and write the weights with it.",
    )
    p.add_argument("weights", type=Path, help="weights file (.npz) of a pitch-conditioned model")
    p.add_argument("data_dir", type=Path, help="dataset folder written by `render-notes`")
    p.add_argument("-o", "--output", type=Path, required=True, help="weights file to write (.npz), the map included")
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.add_argument(
        "--groups", type=int, default=48, help="(instrument, velocity) groups to fit on (default: %(default)s)"
    )
    p.add_argument("--valid-groups", type=int, default=12, help="held-out groups to report on (default: %(default)s)")
    p.add_argument("--context", type=int, default=2, help="frames on either side the map reads (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=128, help="width of its two hidden layers (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=8, help="passes over the examples (default: %(default)s)")
    p.add_argument(
        "--max-interval", type=int, default=12, help="largest interval of an example, semitones (default: %(default)s)"
    )
    p.add_argument("--seconds", type=float, default=2.5, help="seconds of each note encoded (default: %(default)s)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the choice of groups and of fitting (default: %(default)s)"
    )
    p.add_argument(
        "--tune-steps",
        type=int,
        default=0,
        help="then train the map this many steps through the frozen decoder, on its loss for the target notes "
        "(default: %(default)s, no tuning)",
    )
    p.add_argument(
        "--keep-map",
        action="store_true",
        help="start from the map WEIGHTS holds instead of fitting one (with --tune-steps)",
    )
    p.set_defaults(run=_cmd_fit_transposition)

    p = sub.add_parser("make-examples", help="render the example sounds bundled with the package")
    p.add_argument("out_dir", nargs="?", type=Path, default=EXAMPLES_DIR, help="where to write (default: %(default)s)")
    p.set_defaults(run=_cmd_make_examples)

    p = sub.add_parser("dashboard", help="serve the dashboard with Voila")
    p.add_argument("--port", type=int, default=8866, help="port to listen on (default: %(default)s)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind; 0.0.0.0 for a classroom server (default: %(default)s)"
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument(
        "--public",
        action="store_true",
        help="for a shared server: visitors can use the embedded model only, not load files by path",
    )
    p.add_argument(
        "--max-visitors",
        type=int,
        default=None,
        help="visitors served at once; more get a 'server busy' page (default: about one per 0.9 GB "
        "of this machine's memory)",
    )
    p.set_defaults(run=_cmd_dashboard)
    return parser


#: Integer flags and their smallest (and largest) allowed values, checked before any work.
_INTEGER_FLAGS = {
    "batch_size": (1, None),
    "steps": (1, None),
    "width": (1, None),
    "length": (1, None),
    "seed": (0, 2**63 - 1),
    "port": (1, 65535),
    "max_visitors": (1, None),
    "crop_length": (1, None),
    "warmup_steps": (0, None),
    "checkpoint_every": (1, None),
    "eval_every": (1, None),
    "excitation_harmonics": (0, None),
    "workers": (1, None),
    "pitch_step": (1, 127),
    "limit": (1, None),
    "notes": (1, None),
    "figures": (0, None),
    "validation_crops": (1, None),
}


def main(argv=None):
    """Entry point of ``nsynth-widgets``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        for name, (low, high) in _INTEGER_FLAGS.items():
            value = getattr(args, name, None)
            if value is not None:
                check_integer(f"--{name.replace('_', '-')}", value, low, high)
        args.run(args)
    except NSynthWidgetsError as error:
        print(f"nsynth-widgets: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nsynth-widgets: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
