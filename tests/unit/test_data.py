"""The training data: rendering notes with libfluidsynth, planning the split, writing and loading datasets.

Rendering tests need Debian's `fluidsynth` (libfluidsynth3) and `fluid-soundfont-gm`; the CI
installs both. Planning and mapping tests run without them.
"""

import ctypes.util
import json
import os

import numpy as np
import pytest
import soundfile

from nsynth_widgets.errors import AudioError, NSynthWidgetsError, ParameterError
from nsynth_widgets.cli import main
from nsynth_widgets.dsp.framing import SAMPLE_RATE
from nsynth_widgets.training import dataset, fluidsynth, notes
from ..conftest import midi_hz, write_keyboard_notes

_MISSING = [
    reason
    for reason, missing in (
        ("libfluidsynth is not installed (apt-get install fluidsynth)", ctypes.util.find_library("fluidsynth") is None),
        (
            f"{fluidsynth.DEFAULT_SOUNDFONT} is missing (apt-get install fluid-soundfont-gm)",
            not os.path.isfile(fluidsynth.DEFAULT_SOUNDFONT),
        ),
    )
    if missing
]
needs_fluidsynth = pytest.mark.skipif(bool(_MISSING), reason="; ".join(_MISSING))

SR = SAMPLE_RATE


def rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.fixture(scope="module")
def renderer():
    with fluidsynth.NoteRenderer() as opened:
        yield opened


# --- families and plan (no fluidsynth needed) -------------------------------------------------


def test_families_follow_nsynth_ids_and_general_midi_programs():
    assert list(notes.FAMILIES) == [
        "bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal",
    ]  # fmt: skip
    expected = {
        0: "keyboard", 7: "keyboard", 8: "mallet", 14: "mallet", 16: "organ", 20: "organ", 24: "guitar",
        30: "guitar", 32: "bass", 39: "bass", 40: "string", 51: "string", 52: "vocal", 54: "vocal",
        56: "brass", 63: "brass", 64: "reed", 71: "reed", 72: "flute", 79: "flute", 80: "synth_lead",
        87: "synth_lead",
    }  # fmt: skip
    for program, family in expected.items():
        assert notes.family_of(program) == family
        assert notes.family_of(np.int64(program)) == family
    for program in (15, 21, 23, 31, 55, 88, 127, -1, 2.0, True, "0"):
        with pytest.raises(ParameterError, match=r"`program` must be a General MIDI program .*Received: program="):
            notes.family_of(program)
    for family, (low, high) in notes.PITCH_RANGES.items():
        assert family in notes.FAMILIES and 21 <= low < high <= 108


def test_plan_covers_ranges_and_splits_by_instrument():
    planned = notes.plan_notes(pitch_step=5, velocities=(100, 25))
    programs = sorted({note["instrument"] for note in planned})
    assert programs == sorted(p for members in notes.FAMILIES.values() for p in members)
    n_expected = sum(
        len(notes.FAMILIES[f]) * len(range(low, high + 1, 5)) * 2 for f, (low, high) in notes.PITCH_RANGES.items()
    )
    assert len(planned) == n_expected == len({note["note_str"] for note in planned})
    for note in planned:
        family = notes.family_of(note["instrument"])
        low, high = notes.PITCH_RANGES[family]
        assert (note["pitch"] - low) % 5 == 0 and low <= note["pitch"] <= high
        assert note["velocity"] in (25, 100)
        assert note["family_str"] == family and note["family"] == list(notes.FAMILIES).index(family)
        assert note["instrument_str"] == f"{family}_{note['instrument']:03d}"
        assert note["note_str"] == f"{family}_{note['instrument']:03d}-{note['pitch']:03d}-{note['velocity']:03d}"
        assert note["sample_rate"] == 16000
    splits = {}
    for note in planned:
        splits.setdefault(note["instrument"], set()).add(note["split"])
    assert all(len(s) == 1 for s in splits.values()), "a program appears in both splits"
    valid = {p for p, s in splits.items() if s == {"valid"}}
    assert sorted(notes.family_of(p) for p in valid) == list(notes.FAMILIES)  # one per family

    assert notes.plan_notes(pitch_step=5, velocities=(100, 25)) == planned
    reseeded = notes.plan_notes(pitch_step=5, velocities=(100, 25), seed=1)
    other = {n["instrument"] for n in reseeded if n["split"] == "valid"}
    assert other != valid
    # The held-out program of a family does not depend on which other families are planned.
    bass = list(notes.FAMILIES["bass"])
    alone = {n["instrument"] for n in notes.plan_notes(programs=bass, pitch_step=40) if n["split"] == "valid"}
    assert alone == valid & set(bass)
    # A family with a single chosen program stays in train.
    assert {n["split"] for n in notes.plan_notes(programs=[0, 32], pitch_step=40)} == {"train"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"programs": [0, 15]}, r"`programs` must hold General MIDI programs .*Received: programs=\[0, 15\]\."),
        ({"pitch_step": 0}, r"`pitch_step` must be an integer in \[1, 127\]\. Received: pitch_step=0\."),
        (
            {"velocities": [100, 0]},
            r"`velocities` must be an integer in \[1, 127\]\. Received: velocities=0\.",
        ),
        ({"velocities": []}, r"`velocities` must hold one or more integers .*Received: velocities=\[\]\."),
        ({"seed": -1}, r"`seed` must be an integer >= 0\. Received: seed=-1\."),
    ],
)
def test_plan_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        notes.plan_notes(**kwargs)


def test_missing_soundfont_or_library_says_what_to_install(tmp_path, monkeypatch):
    with pytest.raises(ParameterError, match=r"fluid-soundfont-gm.*Received: soundfont="):
        fluidsynth.NoteRenderer(soundfont=str(tmp_path / "missing.sf2"))
    (tmp_path / "fake.sf2").write_bytes(b"RIFF")
    with pytest.raises(ParameterError, match=r"`gain` must be a number in \(0, 10\]\. Received: gain=0\."):
        fluidsynth.NoteRenderer(soundfont=str(tmp_path / "fake.sf2"), gain=0)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    fluidsynth._fluidsynth.cache_clear()
    try:
        with pytest.raises(NSynthWidgetsError, match=r"libfluidsynth must be installed.*apt-get install fluidsynth"):
            fluidsynth.NoteRenderer(soundfont=str(tmp_path / "fake.sf2"))
    finally:
        fluidsynth._fluidsynth.cache_clear()


# --- rendering ---------------------------------------------------------------------------------


@needs_fluidsynth
def test_render_gives_a_4_second_16k_note(renderer):
    audio = renderer.render(program=0, pitch=60, velocity=100)
    assert audio.shape == (64000,) and audio.dtype == np.float32
    assert np.all(np.isfinite(audio))
    assert 1e-2 < np.max(np.abs(audio)) <= 1.0
    # The note starts at t=0: sound within the first 20 ms.
    assert np.max(np.abs(audio[: SR // 50])) > 1e-3


@needs_fluidsynth
def test_piano_a4_has_f0_near_440_hz(renderer):
    audio = renderer.render(program=0, pitch=69, velocity=100)
    segment = audio[SR // 10 : SR // 10 + SR].astype(np.float64) * np.hanning(SR)
    n_fft = 8 * SR
    spectrum = np.abs(np.fft.rfft(segment, n_fft))
    freqs = np.fft.rfftfreq(n_fft, 1 / SR)
    peak = freqs[np.argmax(spectrum)]  # strongest partial anywhere: the fundamental for a piano A4
    assert abs(peak - 440.0) < 3.0


@needs_fluidsynth
def test_velocity_keeps_dynamics(renderer):
    levels = [rms(renderer.render(0, 60, velocity)) for velocity in (25, 50, 75, 100, 127)]
    assert all(a < b for a, b in zip(levels, levels[1:]))
    assert levels[-1] > 4 * levels[0]


@needs_fluidsynth
def test_key_is_released_at_3_seconds(renderer):
    audio = renderer.render(program=16, pitch=60, velocity=100)  # drawbar organ: sustains, stops on release
    hold = rms(audio[SR // 2 : 5 * SR // 2])
    assert hold > 1e-2
    assert rms(audio[5 * SR // 2 : 3 * SR]) > 0.5 * hold  # still held just before 3 s
    assert rms(audio[7 * SR // 2 :]) < 1e-2 * hold


@needs_fluidsynth
def test_no_leakage_between_notes(renderer):
    quiet = renderer.render(program=73, pitch=60, velocity=25)  # flute, soft attack
    loud = renderer.render(program=52, pitch=48, velocity=127)  # choir: still ringing at 4 s
    tail = np.max(np.abs(loud[-SR // 100 :]))
    assert tail > 1e-3  # so it would show up in the next note if it leaked
    after = renderer.render(program=73, pitch=60, velocity=25)
    assert np.max(np.abs(after[: SR // 1000])) < 0.2 * tail
    np.testing.assert_array_equal(after, quiet)


@needs_fluidsynth
def test_silent_key_and_bad_arguments(renderer):
    assert np.max(np.abs(renderer.render(program=43, pitch=80, velocity=100))) < notes.SILENCE_PEAK  # contrabass
    with pytest.raises(ParameterError, match=r"`pitch` must be an integer in \[0, 127\]\. Received: pitch=128\."):
        renderer.render(0, 128, 100)
    with pytest.raises(ParameterError, match=r"`velocity` must be an integer in \[1, 127\]\. Received: velocity=0\."):
        renderer.render(0, 60, 0)
    with pytest.raises(ParameterError, match=r"Received: program=-1\."):
        renderer.render(-1, 60, 100)


@needs_fluidsynth
def test_clipping_raises_with_the_gain():
    with fluidsynth.NoteRenderer(gain=10.0) as loud:
        with pytest.raises(AudioError, match=r"`gain` must keep every note within \[-1, 1\].*Received: gain=10\.0\."):
            loud.render(program=27, pitch=40, velocity=127)


# --- datasets ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan():
    # Two pianos (one held out) and the contrabass, whose preset is silent above MIDI 57.
    return notes.plan_notes(programs=[0, 1, 43], pitch_step=24, velocities=(100,))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, renderer, plan):
    out = tmp_path_factory.mktemp("notes")
    calls = []
    examples = notes.render_dataset(out, plan, progress=lambda *a: calls.append(a), renderer=renderer)
    return out, examples, calls


@needs_fluidsynth
def test_render_dataset_writes_wavs_and_examples(rendered, renderer, plan):
    out, examples, calls = rendered
    silent = {"string_043-060-100", "string_043-084-100"}
    assert [n["note_str"] for n in plan if n["note_str"] not in silent] == list(examples)
    assert calls == [(i, len(plan)) for i in range(1, len(plan) + 1)]
    with open(out / "examples.json") as file:
        assert json.load(file) == examples
    with open(out / "silent.json") as file:
        assert sorted(json.load(file)) == sorted(silent)
    assert sorted(os.listdir(out / "audio")) == sorted(f"{note_id}.wav" for note_id in examples)
    assert {examples[k]["split"] for k in examples if examples[k]["instrument"] in (0, 1)} == {"train", "valid"}
    note = examples["keyboard_000-069-100"]
    info = soundfile.info(str(out / "audio" / "keyboard_000-069-100.wav"))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 64000, "PCM_16")
    written, _ = soundfile.read(str(out / "audio" / "keyboard_000-069-100.wav"), dtype="float32")
    expected = renderer.render(note["instrument"], note["pitch"], note["velocity"])
    np.testing.assert_allclose(written, expected, atol=1.5 / 32768)


@needs_fluidsynth
def test_render_dataset_resumes_without_rendering_again(rendered, plan, monkeypatch):
    out, examples, _ = rendered
    renders = []
    original = fluidsynth.NoteRenderer.render
    monkeypatch.setattr(fluidsynth.NoteRenderer, "render", lambda self, *a: renders.append(a) or original(self, *a))
    stamps = {name: os.stat(out / "audio" / name).st_mtime_ns for name in os.listdir(out / "audio")}

    assert notes.render_dataset(out, plan) == examples  # nothing to do: no renderer is even opened
    assert renders == []
    os.remove(out / "audio" / "keyboard_001-045-100.wav")
    assert notes.render_dataset(out, plan) == examples
    assert renders == [(1, 45, 100)]
    for name, stamp in stamps.items():
        if name != "keyboard_001-045-100.wav":
            assert os.stat(out / "audio" / name).st_mtime_ns == stamp


@needs_fluidsynth
def test_render_dataset_cancel_keeps_what_is_done(tmp_path, renderer, plan):
    asked = []
    examples = notes.render_dataset(
        tmp_path, plan, cancel=lambda: len(asked) >= 2 or asked.append(1), renderer=renderer
    )
    assert list(examples) == [plan[0]["note_str"], plan[1]["note_str"]]
    with open(tmp_path / "examples.json") as file:
        assert list(json.load(file)) == list(examples)
    with pytest.raises(ParameterError, match=r"`notes` must be dicts made by plan_notes.*Received: notes\[0\]="):
        notes.render_dataset(tmp_path, [{"note_str": "../x", "instrument": 0, "pitch": 60, "velocity": 100}])


@needs_fluidsynth
def test_note_dataset_loads_a_split_and_crops(rendered):
    out, examples, _ = rendered
    train, valid = dataset.NoteDataset(out, "train"), dataset.NoteDataset(out, "valid")
    assert len(train) + len(valid) == len(examples)
    assert set(train.note_ids).isdisjoint(valid.note_ids)
    assert {examples[k]["split"] for k in valid.note_ids} == {"valid"}
    for note_id in valid.note_ids:
        expected, _ = soundfile.read(str(out / "audio" / f"{note_id}.wav"), dtype="float32")
        np.testing.assert_array_equal(valid.load(note_id), expected)

    crops = train.random_crops(6, 4000, np.random.default_rng(0))
    assert crops.shape == (6, 4000) and crops.dtype == np.float32
    np.testing.assert_array_equal(crops, train.random_crops(6, 4000, 0))
    audio = np.stack([train.load(k) for k in train.note_ids])
    heads = np.lib.stride_tricks.sliding_window_view(audio, 16, axis=1)
    for crop in crops:  # every crop is a contiguous piece of one note
        rows, starts = np.nonzero(np.all(heads == crop[:16], axis=-1))
        assert any(np.array_equal(audio[r, s : s + 4000], crop) for r, s in zip(rows, starts))
    whole = train.random_crops(8, 64000, 1)
    assert all(any(np.array_equal(row, note) for note in audio) for row in whole)
    aligned, pitch = train.random_crops(8, 2048, 1, with_pitch_channels=True)  # on the frame grid, with pitch
    assert pitch.shape == (8, 4, 2)
    channels = train.pitch_channels
    for crop, crop_pitch in zip(aligned, pitch):
        matches = [
            (r, s)
            for r in range(len(audio))
            for s in range(0, 64000 - 2048 + 1, 512)
            if np.array_equal(audio[r, s : s + 2048], crop)
        ]
        assert any(np.array_equal(channels[r, s // 512 : s // 512 + 4], crop_pitch) for r, s in matches)
    with pytest.raises(ParameterError, match=r"`length` must be a multiple of 512 samples to cut pitch channels"):
        train.random_crops(2, 1000, 0, with_pitch_channels=True)

    with pytest.raises(ParameterError, match=r"`length` must be an integer in \[1, 64000\]\. Received: length=64001\."):
        train.random_crops(2, 64001, 0)
    with pytest.raises(ParameterError, match=r"`split` must be one of \['train', 'valid'\]\. Received: split='test'\."):
        dataset.NoteDataset(out, "test")


@needs_fluidsynth
def test_render_notes_command_renders_a_limited_plan(tmp_path, capsys):
    argv = [
        "render-notes",
        str(tmp_path),
        "--programs",
        "0",
        "--pitch-step",
        "12",
        "--velocities",
        "100",
        "--limit",
        "3",
    ]
    assert main(argv) == 0
    with open(tmp_path / "examples.json") as file:
        examples = json.load(file)
    assert list(examples) == ["keyboard_000-021-100", "keyboard_000-069-100", "keyboard_000-105-100"]
    assert sorted(os.listdir(tmp_path / "audio")) == sorted(f"{k}.wav" for k in examples)
    assert "3 notes in" in capsys.readouterr().out


def _write_notes(data_dir, sounding):
    """A dataset of 1 kHz tones at -20 dBFS RMS that fall silent after ``sounding[i]`` samples."""
    (data_dir / "audio").mkdir(parents=True)
    examples = {}
    t = np.arange(fluidsynth.NOTE_SAMPLES) / SR
    for i, end in enumerate(sounding):
        note_id = f"keyboard_000-{60 + i:03d}-100"
        examples[note_id] = {
            "note_str": note_id,
            "instrument": 0,
            "instrument_str": "keyboard_000",
            "family": 4,
            "family_str": "keyboard",
            "pitch": 60 + i,
            "velocity": 100,
            "split": "train",
            "sample_rate": SR,
        }
        tone = 0.1 * np.sqrt(2) * np.sin(2 * np.pi * 1000 * t) * (np.arange(fluidsynth.NOTE_SAMPLES) < end)
        tone[end:] += 1e-4 * np.sin(2 * np.pi * 50 * t[end:])  # a -83 dBFS hum: silence, yet not zero
        soundfile.write(data_dir / "audio" / f"{note_id}.wav", tone, SR, subtype="PCM_16")
    (data_dir / "examples.json").write_text(json.dumps(examples))


def test_sounding_crops_start_where_the_note_still_sounds(tmp_path):
    ends = [8000, 20000, 64000, 3000]
    _write_notes(tmp_path, ends)
    sounding = dataset.NoteDataset(tmp_path, "train", crops="sounding")
    # 8000 = 15.6 frames of 512: the frame holding the tone's last samples is the last loud one.
    np.testing.assert_array_equal(sounding.sounding_lengths, [8192, 20480, 64000, 3072])
    length = 4096
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 4, size=2000)
    crops = sounding.random_crops(2000, length, 0)
    loud = np.mean(crops.reshape(2000, -1, 512) ** 2, axis=-1) >= 10 ** (dataset.SOUNDING_RMS_DB / 10)
    assert loud.mean(axis=1).min() >= 0.5 - 1 / 8  # at least half of every crop sounds (to a frame's rounding)
    first_note = rows == 0  # the generator draws rows first, as random_crops does
    assert loud[first_note].all(axis=1).any() and not loud[first_note].all(axis=1).all()  # it reaches the release

    uniform = dataset.NoteDataset(tmp_path, "train")
    assert uniform.crops == "uniform"
    quiet = np.mean(uniform.random_crops(2000, length, 0) ** 2, axis=-1) < 10 ** (dataset.SOUNDING_RMS_DB / 10)
    assert quiet.mean() > 0.4  # what the sounding crops avoid: about half of these are silence
    with pytest.raises(
        ParameterError, match=r"`crops` must be one of \['sounding', 'uniform'\]\. Received: crops='loud'\."
    ):
        dataset.NoteDataset(tmp_path, "train", crops="loud")


def test_partner_crops_are_the_same_moment_of_a_near_note_of_the_same_instrument_and_velocity(tmp_path):
    # (instrument, pitch, velocity): keyboard_000 at 60 has partners 62 and 64 within 4 semitones at velocity
    # 100; 80 is too far, the velocity-50 note and the other instrument are other groups, and have none.
    keys = [(0, 60, 100), (0, 62, 100), (0, 64, 100), (0, 80, 100), (0, 62, 50), (1, 61, 100)]
    t = np.arange(fluidsynth.NOTE_SAMPLES) / SR

    def tone(program, pitch, velocity):
        return velocity / 200 * np.sin(2 * np.pi * midi_hz(pitch + 0.3 * program) * t)

    write_keyboard_notes(tmp_path, [("train", *key) for key in keys], tone)
    notes_ = dataset.NoteDataset(tmp_path, "train")
    audio = np.stack([notes_.load(note_id) for note_id in notes_.note_ids])
    allowed = {0: {1, 2}, 1: {0, 2}, 2: {0, 1}, 3: {3}, 4: {4}, 5: {5}}

    crops, partners = notes_.random_crops(300, 1024, 7, partner_interval=4)
    np.testing.assert_array_equal(crops, notes_.random_crops(300, 1024, 7))  # the crops are drawn as without
    assert partners.pitch_channels is None
    seen = {row: set() for row in allowed}
    for crop, partner, semitones in zip(crops, partners.audio, partners.semitones):
        ((row, start),) = [
            (r, s)
            for r in range(len(audio))
            for s in np.flatnonzero(audio[r] == crop[0])
            if s + 1024 <= len(audio[r])
            if np.array_equal(audio[r, s : s + 1024], crop)
        ]
        (source,) = [r for r in range(len(audio)) if np.array_equal(audio[r, start : start + 1024], partner)]
        assert source in allowed[row]
        assert semitones == keys[row][1] - keys[source][1]
        seen[row].add(source)
    assert seen == allowed  # every allowed partner is drawn, and only those
    crops, pitch, partners = notes_.random_crops(50, 1024, 8, with_pitch_channels=True, partner_interval=4)
    for crop_pitch, partner_pitch, semitones in zip(pitch, partners.pitch_channels, partners.semitones):
        # each crop's pitch channels come from its own note, its partner's from the partner's note
        np.testing.assert_allclose(12 * (crop_pitch[1:-1, 0] - partner_pitch[1:-1, 0]), semitones, atol=0.05)
    with pytest.raises(
        ParameterError, match=r"`partner_interval` must be an integer in \[0, 127\]\. Received: partner_interval=-1\."
    ):
        notes_.random_crops(2, 1024, 0, partner_interval=-1)
