"""The evaluation's report: results as strict JSON, their Markdown tables, spectrogram figures.

:func:`results_markdown` renders what :func:`nsynth_widgets.training.evaluate.evaluate_model`
measured as the model card's "Measured resynthesis quality" section; :func:`save_figures` draws
each note's spectrogram beside its resynthesis; :func:`save_results` writes the results as
strict JSON (NaN as null), which :func:`results_markdown` reads back as well.
"""

import io
import json
import math
import os

import matplotlib
from matplotlib.figure import Figure
from PIL import Image

from .._files import atomic_path
from ..dsp.framing import SAMPLE_RATE
from ..plotting import plot_spectrogram

__all__ = ["save_figures", "results_markdown", "save_results"]

_FIGURE_SIZE = (6.0, 2.5)  # inches
_FIGURE_DPI = 80
_PNG_COLORS = 128  # palette PNGs: a third of the size of full-colour ones, no visible banding


def save_figures(model, dataset, out_dir, note_ids, resyntheses=None, seed=0, transposed=None):
    """Write one small PNG per note: spectrogram of the original beside its resynthesis (and transposed).

    Each figure is 6 x 2.5 in at 80 dpi (480 x 200 pixels; 9 in, 720 pixels, with a third panel), drawn on a
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
    transposed : tuple (float, dict[str, np.ndarray [shape=(n,)]]), optional
        ``(semitones, {note_id: audio})``: resyntheses of transposed encodings, drawn as a third
        panel for the notes they hold.

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
    semitones, moved = transposed if transposed is not None else (0.0, {})
    paths = []
    for note_id in note_ids:
        resynthesis = resyntheses[note_id]
        original = dataset.load(note_id)[: resynthesis.size]
        sample_rate = float(dataset.examples[note_id].get("sample_rate", SAMPLE_RATE))
        panels = [(original, f"{note_id}: original"), (resynthesis, "resynthesis")]
        if note_id in moved:
            panels.append((moved[note_id], f"transposed {semitones:+g} semitones"))
        width, height = _FIGURE_SIZE
        with matplotlib.rc_context({"font.size": 7}):
            figure = Figure(figsize=(width * len(panels) / 2, height), dpi=_FIGURE_DPI, layout="constrained")
            axes = figure.subplots(1, len(panels), sharex=True, sharey=True)
            for ax, (audio, title) in zip(axes, panels):
                plot_spectrogram(audio, sample_rate, ax=ax)
                ax.set_title(title)
            for ax in axes[1:]:
                ax.set_ylabel("")
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


def _unvoiced(model):
    """`` (unvoiced frames at T)`` when the evaluation sampled unvoiced frames at their own temperature."""
    unvoiced = model.get("unvoiced_temperature")
    return "" if unvoiced is None else f" (unvoiced frames at {unvoiced}, following the voicing channel between)"


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
        f"{results['model'].get('temperature', 1.0)}{_unvoiced(results['model'])}. Distances are the mean "
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
        listing = ", ".join(
            f"{name} {_number(row['spectral_distance'], 1)}" for name, row in unpitched["sounds"].items()
        )
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


def save_results(results, path):
    """Write ``results`` to ``path`` as strict JSON (NaN and infinities as null), atomically."""
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as file:
        json.dump(_jsonable(results), file, indent=1, allow_nan=False)
