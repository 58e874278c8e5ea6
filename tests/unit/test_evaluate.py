"""Measuring a model on held-out notes: pitch error, the noise baseline, the evaluation, its report.

Everything runs on synthetic tones and the tiny random model (hop 64): no rendered dataset and
no trained weights are needed.
"""

import copy
import json
import math
import os
import struct

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile  # noqa: E402

from nsynth_widgets.dsp import quantize  # noqa: E402
from nsynth_widgets.errors import ParameterError  # noqa: E402
from nsynth_widgets.metrics import spectral_distance  # noqa: E402
from nsynth_widgets import metrics  # noqa: E402
from nsynth_widgets.cli import main  # noqa: E402
from nsynth_widgets.training import evaluate, report  # noqa: E402

from ..conftest import harmonic_tone, midi_hz  # noqa: E402

SR = 16000


def _frame_rms(x, frame):
    x = np.asarray(x, np.float64)[: x.size // frame * frame]
    return np.sqrt(np.mean(x.reshape(-1, frame) ** 2, axis=1))


class FakeDataset:
    """What evaluate needs of a NoteDataset: note_ids, examples, load."""

    def __init__(self, specs, n=8000):
        self.note_ids, self.examples, self._audio = [], {}, {}
        for family, program, pitch, velocity, partials in specs:
            instrument = f"{family}_{program:03d}"
            note_id = f"{instrument}-{pitch:03d}-{velocity:03d}"
            self.note_ids.append(note_id)
            self.examples[note_id] = {
                "note_str": note_id,
                "instrument": program,
                "instrument_str": instrument,
                "family_str": family,
                "pitch": pitch,
                "velocity": velocity,
                "split": "valid",
                "sample_rate": SR,
            }
            self._audio[note_id] = harmonic_tone(midi_hz(pitch), n, partials, amplitude=0.4 * velocity / 127)

    def load(self, note_id):
        return self._audio[note_id].copy()


SPECS = [
    ("keyboard", 1, 60, 100, (1.0, 0.5, 0.25)),
    ("keyboard", 1, 64, 127, (1.0, 0.5, 0.25)),
    ("flute", 73, 60, 100, (1.0, 0.1)),
    ("mallet", 9, 67, 100, (1.0, 0.0, 0.0, 0.6)),
    ("keyboard", 1, 30, 100, (1.0, 0.5)),  # too low
    ("flute", 73, 62, 50, (1.0, 0.1)),  # too quiet
]
SELECTABLE = {"keyboard_001-060-100", "keyboard_001-064-127", "flute_073-060-100", "mallet_009-067-100"}


@pytest.fixture(scope="module")
def dataset():
    return FakeDataset(SPECS)


@pytest.fixture(scope="module")
def evaluated(tiny_model, dataset):
    calls = []
    results, resyntheses, _ = evaluate._evaluate(
        tiny_model, dataset, 10, 0, evaluate.HARMONIC_FAMILIES, 2, lambda *a: calls.append(a), (48, 84), 75
    )
    return results, resyntheses, calls


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


# ------------------------------------------------------------------------------- envelope noise


def test_envelope_noise_tracks_the_reference_rms_envelope():
    n = 2 * SR
    t = np.arange(n) / SR
    reference = (0.6 * np.sin(np.pi * t / 2.0) ** 2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    before = reference.copy()
    noise = evaluate.envelope_noise(reference, np.random.default_rng(1))
    assert noise.shape == reference.shape and noise.dtype == np.float32
    np.testing.assert_array_equal(reference, before)
    expected, got = _frame_rms(reference, 1024), _frame_rms(noise, 1024)
    loud = expected > 0.01 * expected.max()
    np.testing.assert_allclose(got[loud], expected[loud], rtol=0.1)
    # noise, not a copy: uncorrelated with the tone, and a flat spectrum with no peak at 440 Hz
    assert abs(np.corrcoef(reference, noise)[0, 1]) < 0.05
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    bin_440 = int(440.0 * n / SR)
    assert spectrum[bin_440 - 20 : bin_440 + 21].mean() < 3 * spectrum.mean()


def test_envelope_noise_is_seeded_keeps_silence_and_odd_lengths():
    reference = np.zeros(1000, np.float32)
    reference[500:] = harmonic_tone(300.0, 500)
    a = evaluate.envelope_noise(reference, 7, frame=128)
    np.testing.assert_array_equal(a, evaluate.envelope_noise(reference, 7, frame=128))
    assert not np.array_equal(a, evaluate.envelope_noise(reference, 8, frame=128))
    assert a.shape == (1000,) and np.abs(a).max() <= 1.0
    assert np.all(a[:320] == 0.0)  # frames 0-2 are silent and so is the envelope up to frame 2's centre
    np.testing.assert_array_equal(evaluate.envelope_noise(np.zeros(300, np.float32), 0), np.zeros(300))


def test_envelope_noise_rejects_a_bad_frame():
    with pytest.raises(ParameterError, match=r"`frame` must be an integer >= 1\. Received: frame=0\."):
        evaluate.envelope_noise(np.zeros(100, np.float32), 0, frame=0)


# ------------------------------------------------------------------------------- evaluate_model


def test_evaluation_picks_qualifying_notes_round_robin_over_families(evaluated):
    results, _, _ = evaluated
    ids = [row["note_id"] for row in results["notes"]]
    assert set(ids) == SELECTABLE and len(ids) == 4
    assert len({row["family"] for row in results["notes"][:3]}) == 3
    assert results["selection"] == {
        "n_notes": 4,
        "seed": 0,
        "pitch_range": [48, 84],
        "min_velocity": 75,
        "harmonic_families": list(evaluate.HARMONIC_FAMILIES),
    }
    assert {row["note_id"]: row["harmonic"] for row in results["notes"]}["mallet_009-067-100"] is False


def test_evaluation_rows_hold_finite_distances_that_match_direct_measurement(evaluated, dataset):
    results, resyntheses, _ = evaluated
    for row in results["notes"]:
        resynthesis = resyntheses[row["note_id"]]
        assert resynthesis.shape == (8000,)  # 125 frames of hop 64
        reference = dataset.load(row["note_id"])
        for key in ("spectral_distance", "mulaw_distance", "noise_distance"):
            assert math.isfinite(row[key]) and row[key] >= 0.0
        assert row["spectral_distance"] == pytest.approx(spectral_distance(reference, resynthesis))
        assert row["mulaw_distance"] == pytest.approx(spectral_distance(reference, quantize(reference)))
        assert row["mulaw_distance"] < row["noise_distance"] / 3  # the floor is far below the ceiling
        assert math.isnan(row["f0_cents"]) or row["f0_cents"] >= 0.0
        assert math.isnan(row["f0_cents"]) == math.isnan(row["f0_offset_cents"])  # the same frames
        if not math.isnan(row["f0_cents"]):
            assert abs(row["f0_offset_cents"]) <= row["f0_cents"] + 1e-9
            assert row["f0_offset_cents"] == pytest.approx(
                metrics.f0_offset_cents(reference[: resynthesis.size], resynthesis)
            )
        assert row["reference_f0_cents"] < 10.0  # the tones sit on their nominal MIDI pitch


def test_evaluation_summaries_are_medians_with_f0_over_harmonic_families(evaluated):
    results, _, _ = evaluated
    rows, summary = results["notes"], results["summary"]
    assert list(summary["families"]) == ["flute", "keyboard", "mallet"]  # NSynth family order
    keyboard = [row for row in rows if row["family"] == "keyboard"]
    assert summary["families"]["keyboard"]["notes"] == 2
    assert summary["families"]["keyboard"]["spectral_distance"] == pytest.approx(
        np.median([row["spectral_distance"] for row in keyboard])
    )
    overall = summary["overall"]
    assert overall["notes"] == 4
    assert overall["noise_distance"] == pytest.approx(np.median([row["noise_distance"] for row in rows]))
    harmonic_cents = [row["f0_cents"] for row in rows if row["harmonic"] and math.isfinite(row["f0_cents"])]
    assert overall["f0_measured"] == len(harmonic_cents)
    if harmonic_cents:
        assert overall["f0_cents"] == pytest.approx(np.median(harmonic_cents))
    else:
        assert math.isnan(overall["f0_cents"])


def test_evaluation_mix_check_compares_the_latent_mix_with_both_sources(evaluated, dataset):
    results, resyntheses, calls = evaluated
    mix = results["mix"]
    assert {mix["a"], mix["b"]} == {"keyboard_001-060-100", "flute_073-060-100"}
    a, b = dataset.load(mix["a"]), dataset.load(mix["b"])
    assert mix["d_a_b"] == pytest.approx(spectral_distance(a, b))
    resynthesized = mix["resynthesized"]
    assert resynthesized["d_a_b"] == pytest.approx(spectral_distance(resyntheses[mix["a"]], resyntheses[mix["b"]]))
    for check in (mix, resynthesized):
        assert all(math.isfinite(check[key]) for key in ("d_mix_a", "d_mix_b"))
        assert check["between"] == (check["d_mix_a"] < check["d_a_b"] and check["d_mix_b"] < check["d_a_b"])
    # 4 notes + the mix in batches of at most 2: three decoder calls
    assert calls == [(2, 5), (4, 5), (5, 5)]
    assert results["timing"]["samples"] == 5 * 8000 and results["timing"]["batch_size"] == 2


def test_evaluate_model_is_deterministic_for_a_seed(tiny_model, dataset):
    first = evaluate.evaluate_model(tiny_model, dataset, n_notes=2, seed=3, batch_size=8)
    second = evaluate.evaluate_model(tiny_model, dataset, n_notes=2, seed=3, batch_size=8)
    assert len(first["notes"]) == 2
    first.pop("timing"), second.pop("timing")
    assert json.dumps(report._jsonable(first)) == json.dumps(report._jsonable(second))


def test_evaluate_model_resynthesizes_mix_sources_outside_the_selection(tiny_model, dataset):
    calls = []
    results = evaluate.evaluate_model(tiny_model, dataset, n_notes=1, progress=lambda *a: calls.append(a))
    assert [row["note_id"] for row in results["notes"]] == ["flute_073-060-100"]
    assert results["mix"]["b" if results["mix"]["a"] == "flute_073-060-100" else "a"] == "keyboard_001-060-100"
    assert calls == [(3, 3)]  # the note, the other source and the mix, in one decoder call
    assert results["timing"]["samples"] == 3 * 8000


def test_evaluate_model_without_a_pair_has_no_mix(tiny_model):
    single = FakeDataset([("organ", 17, 60, 100, (1.0, 0.7, 0.5))], n=2048)
    results = evaluate.evaluate_model(tiny_model, single, n_notes=3)
    assert results["mix"] is None and len(results["notes"]) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_notes": 0}, "`n_notes` must be an integer >= 1. Received: n_notes=0."),
        ({"batch_size": 1.5}, "`batch_size` must be an integer >= 1. Received: batch_size=1.5."),
        ({"harmonic_families": "keyboard"}, "`harmonic_families` must be a sequence of family names."),
        ({"pitch_range": (80, 40)}, "`pitch_range` must be two MIDI pitches (low, high) with low <= high."),
        ({"pitch_range": (100, 108)}, "`dataset` must hold notes with pitch in [100, 108] and velocity >= 75."),
    ],
)
def test_evaluate_model_rejects_bad_arguments(tiny_model, dataset, kwargs, message):
    with pytest.raises(ParameterError) as error:
        evaluate.evaluate_model(tiny_model, dataset, **kwargs)
    assert message in str(error.value)


# ------------------------------------------------------------------------------ figures, report


def _png_size(path):
    with open(path, "rb") as file:
        header = file.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_save_figures_reuses_given_resyntheses(tmp_path, evaluated, dataset):
    _, resyntheses, _ = evaluated
    ids = ["keyboard_001-060-100", "flute_073-060-100"]
    paths = report.save_figures(None, dataset, tmp_path / "figs", ids, resyntheses)  # no model needed
    assert paths == [str(tmp_path / "figs" / f"{note_id}.png") for note_id in ids]
    for path in paths:
        assert _png_size(path) == (480, 200)
        assert os.path.getsize(path) < 100_000
    up = {ids[0]: resyntheses[ids[1]]}  # a third panel for the notes a transposition is given for
    wide, plain = report.save_figures(None, dataset, tmp_path / "up", ids, resyntheses, transposed=(7.0, up))
    assert _png_size(wide) == (720, 200) and _png_size(plain) == (480, 200)


def test_save_figures_stay_small_for_four_seconds_of_noise(tmp_path):
    notes = FakeDataset([SPECS[0]], n=64000)
    (note_id,) = notes.note_ids
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 64000).astype(np.float32)
    (path,) = report.save_figures(None, notes, tmp_path, [note_id], {note_id: noise})
    assert os.path.getsize(path) < 50_000


def test_save_figures_synthesizes_missing_notes(tmp_path, tiny_model, dataset):
    (path,) = report.save_figures(tiny_model, dataset, tmp_path, ["mallet_009-067-100"])
    assert _png_size(path) == (480, 200)


def test_results_markdown_has_the_tables(evaluated):
    results, _, _ = evaluated
    text = report.results_markdown(results)
    assert "| Family | Notes | Resynthesis (dB) | mu-law only (dB) | Envelope noise (dB) | f0 error (cents) |" in text
    assert "| A and B are | d(mix, A) | d(mix, B) | d(A, B) | Between |" in text
    assert "| the originals |" in text and "| their resyntheses |" in text
    for family in ("flute", "keyboard", "mallet", "**all**"):
        assert f"| {family} |" in text
    mallet = next(line for line in text.splitlines() if line.startswith("| mallet |"))
    assert "\\*" in mallet  # marked as left out of the overall f0 median
    overall = results["summary"]["overall"]
    assert f"| **all** | 4 | {overall['spectral_distance']:.1f} | {overall['mulaw_distance']:.1f} |" in text
    offsets = sorted(
        row["f0_offset_cents"] for row in results["notes"] if row["harmonic"] and math.isfinite(row["f0_offset_cents"])
    )
    listed = [line for line in text.splitlines() if line.startswith("Signed pitch offsets")]
    assert len(listed) == (1 if offsets else 0)
    if offsets:
        assert listed[0].endswith(": " + ", ".join(f"{offset:+.0f}" for offset in offsets) + ".")
    # the JSON round trip (NaN stored as null) renders the same report
    restored = json.loads(json.dumps(report._jsonable(results), allow_nan=False))
    assert report.results_markdown(restored) == text


def test_results_markdown_lists_the_signed_offsets_of_measured_harmonic_notes(evaluated):
    results = copy.deepcopy(evaluated[0])
    offsets = iter([1201.4, None, -12.0, 35.0])  # in note order; the mallet note is not harmonic
    for row in results["notes"]:
        row["f0_offset_cents"] = next(offsets)
    expected = sorted(
        row["f0_offset_cents"] for row in results["notes"] if row["harmonic"] and row["f0_offset_cents"] is not None
    )
    listed = [line for line in report.results_markdown(results).splitlines() if line.startswith("Signed pitch")]
    assert len(listed) == 1 and listed[0].endswith(": " + ", ".join(f"{o:+.0f}" for o in expected) + ".")
    assert "None" not in listed[0]


# ------------------------------------------------------------------------------------- validation loss


class ToneCrops:
    """What validation_loss needs of a NoteDataset: random_crops (random-pitch decaying tones)."""

    def random_crops(self, batch, length, rng):
        return np.stack([harmonic_tone(f, length) for f in rng.uniform(110.0, 880.0, batch)])


def test_validation_loss_is_the_training_objective_on_seeded_crops(tiny_model):
    import keras

    from nsynth_widgets.training.train import batch_to_inputs

    loss = evaluate.validation_loss(tiny_model, ToneCrops(), crops=6, crop_length=700, seed=2, batch_size=4)
    assert (loss["crops"], loss["crop_length"], loss["seed"]) == (6, 640, 2)  # whole hops of 64
    rng = np.random.default_rng(2)  # the same crops, drawn in the same batches
    audio = np.concatenate([ToneCrops().random_crops(4, 640, rng), ToneCrops().random_crops(2, 640, rng)])
    x, targets = batch_to_inputs(audio)
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(targets, tiny_model.keras_model(x))
    assert loss["nats"] == pytest.approx(float(keras_loss), rel=1e-5)
    assert 0 < loss["nats"] < 2 * math.log(256)
    assert evaluate.validation_loss(
        tiny_model, ToneCrops(), crops=6, crop_length=640, seed=2, batch_size=6
    ) == pytest.approx(loss)  # batching does not change it


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"crops": 0}, r"`crops` must be an integer >= 1\. Received: crops=0\."),
        ({"crop_length": 63}, r"`crop_length` must be an integer >= 64\. Received: crop_length=63\."),
        ({"seed": -1}, r"`seed` must be an integer >= 0\. Received: seed=-1\."),
    ],
)
def test_validation_loss_rejects_bad_arguments(tiny_model, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        evaluate.validation_loss(tiny_model, ToneCrops(), **kwargs)


# ------------------------------------------------------------------------------------- command


def test_evaluate_command_writes_results_figures_and_prints_the_report(tmp_path, tiny_model, capsys):
    data_dir = tmp_path / "notes"
    (data_dir / "audio").mkdir(parents=True)
    notes = FakeDataset([spec for spec in SPECS if spec[2] == 60] + [SPECS[1]], n=64000)
    examples = dict(notes.examples)
    examples["keyboard_001-064-127"] = dict(examples["keyboard_001-064-127"], split="train")  # not evaluated
    for note_id in notes.note_ids:
        soundfile.write(data_dir / "audio" / f"{note_id}.wav", notes.load(note_id), SR, subtype="PCM_16")
    (data_dir / "examples.json").write_text(json.dumps(examples))
    weights = tiny_model.save_weights(tmp_path / "tiny.npz")
    out = tmp_path / "eval"

    assert (
        main(
            [
                "evaluate",
                str(weights),
                str(data_dir),
                "--out",
                str(out),
                "--notes",
                "2",
                "--figures",
                "1",
                "--temperature",
                "0.5",
                "--validation-crops",
                "3",
            ]
        )
        == 0
    )

    saved = json.loads((out / "results.json").read_text())
    assert [row["note_id"] for row in saved["notes"]] == ["flute_073-060-100", "keyboard_001-060-100"]
    assert saved["mix"] is not None and saved["model"]["config"] == "tiny" and saved["model"]["temperature"] == 0.5
    assert "sampled at temperature 0.5." in report.results_markdown(saved)
    loss = saved["validation_loss"]
    assert (loss["crops"], loss["crop_length"], loss["seed"]) == (3, 4096, 0) and 0 < loss["nats"] < 12
    assert (
        f"3 fixed crops of 4096 samples of the held-out notes (seed 0): **{loss['nats']:.3f} nats**"
        in report.results_markdown(saved)
    )
    assert [path.name for path in (out / "figures").iterdir()] == ["flute_073-060-100.png"]
    assert report.results_markdown(saved) in capsys.readouterr().out


def test_evaluate_command_reports_errors_in_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "missing.npz"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("nsynth-widgets: error: `weights` must be an existing .npz weights file")
        and err.count("\n") == 1
    )


# --------------------------------------------------------------- voicing, transposition, unpitched


class OscillatorModel:
    """A model whose resynthesis is its encoding's oscillator (the ideal of a source-filter decoder):
    it plays exactly the f0 channel it is given — or, with ``follows=False``, the pitch it encoded,
    whatever it is asked to play."""

    def __init__(self, follows=True):
        from tests.conftest import TINY_PITCH

        self.config = TINY_PITCH
        self.source, self.default_temperature, self.follows = "test", 1.0, follows
        self.default_unvoiced_temperature = None
        self.transposition_map = None  # NSynth.transpose moves the f0 channel alone
        self._encoded = {}

    def encode(self, audio):
        from nsynth_widgets.dsp.pitch import estimate_pitch

        audio = np.atleast_2d(audio)
        pitch = estimate_pitch(audio, hop_length=64)
        encoding = np.concatenate([np.zeros(pitch.shape[:-1] + (14,), np.float32), pitch], axis=-1)
        for row in encoding:
            self._encoded[row[:, 15].tobytes()] = row[:, 14].copy()
        return encoding

    def transpose(self, encoding, semitones):
        from nsynth_widgets.model.nsynth import NSynth

        return NSynth.transpose(self, encoding, semitones)

    def round_trip(self, audio):  # no pre-emphasis: the plain 8-bit floor
        return quantize(audio)

    def synthesize(self, encodings, seed=0):
        from nsynth_widgets.dsp.excitation import excitation

        out = []
        for encoding in encodings:
            pitch = encoding[None, :, 14:].copy()
            if not self.follows:  # a transposed encoding keeps its voicing: play the f0 encoded with it
                pitch[0, :, 0] = self._encoded.get(encoding[:, 15].tobytes(), pitch[0, :, 0])
            out.append(0.3 * excitation(pitch, 1, hop_length=64)[0, :, 0])
        return out


@pytest.mark.parametrize("follows, expected_cents", [(True, 0.0), (False, None)])
def test_transposition_check_measures_whether_the_pitch_follows(dataset, follows, expected_cents):
    results, _, _ = evaluate._evaluate(
        OscillatorModel(follows),
        dataset,
        3,
        0,
        evaluate.HARMONIC_FAMILIES,
        2,
        None,
        (48, 84),
        75,
        transpositions=(-7, 12),
    )
    assert results["summary"]["overall"]["voiced_recall"] > 0.9 and results["summary"]["overall"]["f0_cents"] < 10
    check = results["transposition"]
    assert list(check) == ["-7", "+12"] and all(len(c["notes"]) == 2 for c in check.values())
    for key, semitones in (("-7", -7), ("+12", 12)):
        cents = check[key]["f0_cents"]
        if follows:
            assert cents < 10 and check[key]["f0_within_50_cents"] == 1.0 and check[key]["voiced_recall"] > 0.9
        else:  # the model kept its pitch: off by the whole interval
            assert cents == pytest.approx(100 * abs(semitones), abs=10)
    text = report.results_markdown(results)
    assert "**Voiced recall**" in text and "| +12 | 2 |" in text


def test_unpitched_check_measures_each_sound_and_the_median():
    sounds = {
        "burst": np.random.default_rng(1).uniform(-0.4, 0.4, 4096).astype(np.float32),
        "tone": harmonic_tone(330.0, 4096),
    }
    model = OscillatorModel()
    check = evaluate.unpitched_check(model, sounds)
    assert set(check["sounds"]) == {"burst", "tone"}
    resynthesized = model.synthesize([model.encode(sounds["burst"])[0]])[0]
    assert check["sounds"]["burst"]["spectral_distance"] == pytest.approx(
        spectral_distance(sounds["burst"][: resynthesized.size], resynthesized)
    )
    assert check["spectral_distance"] == pytest.approx(
        np.median([r["spectral_distance"] for r in check["sounds"].values()])
    )
    results = {"unpitched": check}
    assert "**Sounds without a pitch**" in report.results_markdown({**_minimal_results(), **results})


def _minimal_results():
    stats = {
        "notes": 0,
        "spectral_distance": math.nan,
        "mulaw_distance": math.nan,
        "noise_distance": math.nan,
        "f0_cents": math.nan,
        "f0_measured": 0,
        "f0_within_50_cents": math.nan,
        "voiced_recall": math.nan,
    }
    return {
        "selection": {"harmonic_families": [], "pitch_range": [48, 84], "n_notes": 0, "min_velocity": 75, "seed": 0},
        "summary": {"overall": stats, "families": {}},
        "notes": [],
        "model": {"config": "x", "source": "x"},
        "timing": {"audio_seconds": 0.0, "synthesis_seconds": 0.0, "batch_size": 1, "samples_per_second": math.nan},
    }
