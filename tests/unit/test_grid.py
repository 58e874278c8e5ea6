"""Instrument grids: the plan, files and manifest, resuming, interrupts, pitches, and real Dask clusters."""

import json
import logging
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nsynth_widgets.audio import save_audio
from nsynth_widgets.dsp.mix import bilinear_grid, weighted_mix
from nsynth_widgets.dsp.pitch import median_pitch
from nsynth_widgets.errors import CheckpointError, ParameterError
from nsynth_widgets.grid import MANIFEST, _render_batch_task, render_grid
from nsynth_widgets.model.nsynth import NSynth

from ..conftest import random_arrays

FREQUENCIES = (220.0, 330.0, 440.0, 660.0)
SECONDS = 0.5  # 125 frames of the tiny model (hop 64)


def tone(frequency, seconds=1.0, sample_rate=16000):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.5 * np.exp(-2.0 * t) * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture(scope="module")
def corner_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corners")
    paths = []
    for name, frequency in zip(("flute", "organ", "guitar", "bass"), FREQUENCIES):
        paths.append(folder / f"{name}.wav")
        save_audio(paths[-1], tone(frequency))
    return paths


@pytest.fixture(scope="module")
def weights_file(tiny_model, tmp_path_factory):
    return tiny_model.save_weights(tmp_path_factory.mktemp("model") / "tiny.npz")


def _digests(result):
    return [item["sha256"] for item in result.manifest["items"]]


def _samples(path):
    return sf.read(path, dtype="float32")[0]


def test_every_point_is_its_batch_of_bilinear_mixes(tmp_path, corner_files, tiny_model):
    calls = []
    result = render_grid(
        corner_files,
        tmp_path,
        resolution=3,
        seconds=SECONDS,
        model=tiny_model,
        batch_size=4,
        seed=5,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert result.complete and result.kept == 0 and result.batches == 3  # 9 items: batches of 4, 4, 1
    assert calls == [(i, 9) for i in range(10)]
    items = result.manifest["items"]
    assert [(i["row"], i["column"], i["batch"], i["seed"]) for i in items[:5]] == [
        (0, 0, 0, 5),
        (0, 1, 0, 5),
        (0, 2, 0, 5),
        (1, 0, 0, 5),
        (1, 1, 1, 6),
    ]
    np.testing.assert_array_equal([i["weights"] for i in items], bilinear_grid(3).reshape(9, 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [MANIFEST] + [f"r{r}_c{c}.wav" for r in range(3) for c in range(3)]
    )
    assert json.loads((tmp_path / MANIFEST).read_text()) == result.manifest
    settings = result.manifest["settings"]
    assert settings["corners"] == ["flute", "organ", "guitar", "bass"] and settings["samples"] == 8000

    # batch 1 (items 4-7) is those four mixes generated together with seed 5 + 1
    audio = np.stack([_samples(path)[:8000] for path in corner_files])
    corners = [e[None] for e in tiny_model.encode(audio)]
    mixes = np.concatenate([weighted_mix(corners, item["weights"]) for item in items[4:8]])
    expected = tiny_model.synthesize(mixes, seed=6)
    for item, row in zip(items[4:8], expected):
        assert item["samples"] == 8000 and item["status"] == "done"
        np.testing.assert_allclose(_samples(tmp_path / item["file"]), row, atol=1 / 32768 + 1e-6)


def test_corners_may_be_arrays_and_are_cut_or_padded_to_the_length(tmp_path, tiny_model):
    corners = [tone(f, seconds) for f, seconds in zip(FREQUENCIES, (1.0, 0.2, 0.5, 0.7))]
    result = render_grid(corners, tmp_path, resolution=2, seconds=SECONDS, model=tiny_model)
    assert result.manifest["settings"]["corners"] == ["corner0", "corner1", "corner2", "corner3"]
    assert {item["samples"] for item in result.manifest["items"]} == {8000}


def test_a_second_run_renders_nothing_and_a_damaged_file_is_rendered_again(
    tmp_path, corner_files, weights_file, tiny_model
):
    args = (corner_files, tmp_path)
    options = {"resolution": 3, "seconds": SECONDS, "model": weights_file, "batch_size": 4}
    first = render_grid(*args, **options)
    original = {path.name: path.read_bytes() for path in first.files}

    again = render_grid(*args, **{**options, "model": tiny_model})  # the same weights, loaded another way
    assert again.written == () and again.kept == 9 and again.batches == 0

    damaged = tmp_path / "r1_c2.wav"  # item 5, in batch 1
    damaged.write_bytes(original["r1_c2.wav"][:-100] + bytes(100))
    (tmp_path / "r2_c2.wav").unlink()  # item 8, alone in batch 2
    repaired = render_grid(*args, **options)
    assert repaired.written == ("r1_c2.wav", "r2_c2.wav") and repaired.kept == 7 and repaired.batches == 2
    assert {path.name: path.read_bytes() for path in repaired.files} == original  # the same audio, byte for byte


def test_other_settings_are_refused_unless_forced(tmp_path, corner_files, tiny_model):
    render_grid(corner_files, tmp_path, resolution=3, seconds=SECONDS, model=tiny_model)
    with pytest.raises(
        ParameterError,
        match=r"`out_dir` must hold no grid or one made with the same settings; its "
        r"manifest.json differs in resolution \(3 → 2\); seconds \(0.5 → 0.25\)\. "
        r"Pass force=True \(--force\)",
    ):
        render_grid(corner_files, tmp_path, resolution=2, seconds=0.25, model=tiny_model)
    retuned = tmp_path.parent / f"{tmp_path.name}-retuned" / "bass.wav"  # the same name, another sound
    retuned.parent.mkdir()
    save_audio(retuned, tone(550.0))
    with pytest.raises(ParameterError, match=r"differs in corner audio \(other content\)\. Pass"):
        render_grid(corner_files[:3] + [retuned], tmp_path, resolution=3, seconds=SECONDS, model=tiny_model)
    retrained = NSynth(tiny_model.config, random_arrays(tiny_model.config, seed=9), source=tiny_model.source)
    with pytest.raises(ParameterError, match=r"differs in model \(test → test, other weights\)\. Pass"):
        render_grid(corner_files, tmp_path, resolution=3, seconds=SECONDS, model=retrained)

    forced = render_grid(corner_files, tmp_path, resolution=2, seconds=0.25, model=tiny_model, force=True)
    assert len(forced.written) == 4
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == ["r0_c0.wav", "r0_c1.wav", "r1_c0.wav", "r1_c1.wav"]


def test_an_interrupt_leaves_whole_files_and_a_manifest_that_resumes(tmp_path, corner_files, tiny_model):
    reference = render_grid(
        corner_files, tmp_path / "reference", resolution=3, seconds=SECONDS, model=tiny_model, batch_size=3
    )

    def interrupt(done, total):
        if done == 4:  # in the middle of batch 1
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_grid(
            corner_files,
            tmp_path / "grid",
            resolution=3,
            seconds=SECONDS,
            model=tiny_model,
            batch_size=3,
            progress=interrupt,
        )
    manifest = json.loads((tmp_path / "grid" / MANIFEST).read_text())
    assert [item["status"] for item in manifest["items"]] == ["done"] * 4 + ["pending"] * 5
    assert sorted(p.name for p in (tmp_path / "grid").iterdir()) == sorted(
        [MANIFEST, "r0_c0.wav", "r0_c1.wav", "r0_c2.wav", "r1_c0.wav"]
    )
    resumed = render_grid(
        corner_files, tmp_path / "grid", resolution=3, seconds=SECONDS, model=tiny_model, batch_size=3
    )
    assert resumed.kept == 4 and len(resumed.written) == 5 and resumed.batches == 2  # batch 1 again, whole; batch 2
    assert _digests(resumed) == _digests(reference)


def test_an_interrupt_inside_a_write_leaves_no_half_file(tmp_path, corner_files, tiny_model, monkeypatch):
    writes = []
    real_write = Path.write_bytes

    def write_half_then_stop(self, data):
        writes.append(self)
        if len(writes) == 3:
            real_write(self, data[: len(data) // 2])
            raise KeyboardInterrupt
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_half_then_stop)
    with pytest.raises(KeyboardInterrupt):
        render_grid(corner_files, tmp_path, resolution=2, seconds=SECONDS, model=tiny_model)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST, "r0_c0.wav", "r0_c1.wav"]
    resumed = render_grid(corner_files, tmp_path, resolution=2, seconds=SECONDS, model=tiny_model)
    assert resumed.written == ("r1_c0.wav", "r1_c1.wav") and resumed.complete


def _spy(monkeypatch, model):
    encodings = []
    original = model.synthesize

    def spy(encoding, **kwargs):
        encodings.append(np.array(encoding))
        return original(encoding, **kwargs)

    monkeypatch.setattr(model, "synthesize", spy)
    return encodings


def test_pitches_move_the_f0_channel_of_each_mix(tmp_path, corner_files, pitch_model, monkeypatch):
    encodings = _spy(monkeypatch, pitch_model)
    result = render_grid(
        corner_files, tmp_path, resolution=2, seconds=SECONDS, model=pitch_model, pitches=[57, 64], batch_size=3
    )
    items = result.manifest["items"]
    assert [item["file"] for item in items[3:5]] == ["r1_c1_p57.wav", "r0_c0_p64.wav"]
    synthesized = np.concatenate(encodings)  # plan order
    assert synthesized.shape == (8, 125, 16)
    f0 = pitch_model.config.f0_channel
    np.testing.assert_allclose(median_pitch(synthesized[:, :, f0:]), [i["pitch"] for i in items], atol=1e-3)
    # what moved is the f0 channel only: the learned channels and the voicing are the mixes' own
    np.testing.assert_array_equal(synthesized[:4, :, :f0], synthesized[4:, :, :f0])
    np.testing.assert_array_equal(synthesized[:4, :, f0 + 1], synthesized[4:, :, f0 + 1])
    contour = synthesized[:, :, f0] - np.median(synthesized[:, :, f0], axis=1, keepdims=True)
    np.testing.assert_allclose(contour[:4], contour[4:], atol=1e-5)  # a shift, not a flattening

    encodings.clear()  # no pitches: the mixes as mixed, their f0 channel included
    render_grid(corner_files, tmp_path / "own", resolution=2, seconds=SECONDS, model=pitch_model)
    corner_audio = np.stack([_samples(path)[:8000] for path in corner_files])
    corners = [e[None] for e in pitch_model.encode(corner_audio)]
    expected = np.concatenate([weighted_mix(corners, w) for w in bilinear_grid(2).reshape(4, 4)])
    np.testing.assert_allclose(np.concatenate(encodings), expected, atol=1e-6)


def test_pitches_without_pitch_channels_need_one_corner_file_per_pitch(tmp_path, corner_files, tiny_model, monkeypatch):
    with pytest.raises(
        ParameterError,
        match=r"`pitches` must be played by a pitch-conditioned model or come with "
        r"one corner file per pitch: 'tiny' has no pitch channels\. Pass "
        r"corners_per_pitch=DIR .*flute_48\.wav",
    ):
        render_grid(corner_files, tmp_path, resolution=2, model=tiny_model, pitches=[48, 60])

    notes = tmp_path / "notes"
    notes.mkdir()
    for path, frequency in zip(corner_files, FREQUENCIES):
        for pitch in (48, 60):
            save_audio(notes / f"{path.stem}_{pitch}.wav", tone(frequency * 2 ** ((pitch - 48) / 12)))
    (notes / "bass_60.wav").unlink()
    with pytest.raises(
        ParameterError,
        match=r"`corners_per_pitch` must hold \{corner\}_\{pitch\}.wav for every "
        r"corner and pitch. Received: .* which lacks bass_60.wav\.",
    ):
        render_grid(
            corner_files, tmp_path / "grid", resolution=2, model=tiny_model, pitches=[48, 60], corners_per_pitch=notes
        )
    save_audio(notes / "bass_60.wav", tone(660.0 * 2))

    encodings = _spy(monkeypatch, tiny_model)
    result = render_grid(
        ["flute", "organ", "guitar", "bass"],
        tmp_path / "grid",
        resolution=2,
        seconds=SECONDS,
        model=tiny_model,
        pitches=[48, 60],
        corners_per_pitch=notes,
    )
    assert result.complete and result.manifest["items"][4]["file"] == "r0_c0_p60.wav"
    # the top-left point at pitch 60 is flute_60.wav's own encoding
    corners_60 = tiny_model.encode(
        np.stack([_samples(notes / f"{n}_60.wav")[:8000] for n in ("flute", "organ", "guitar", "bass")])
    )
    np.testing.assert_allclose(np.concatenate(encodings)[4], corners_60[0], atol=1e-6)


def test_a_worker_with_other_weights_refuses_to_render(weights_file, tiny_model):
    encoding = np.zeros((1, 2, 16), np.float32)
    with pytest.raises(CheckpointError, match=r"`model` must be the same on every worker: .* holds other weights"):
        _render_batch_task(str(weights_file), "0" * 64, encoding, 0, seed=0, temperature=1.0, precision="float32")


# ----------------------------------------------------------------------------- real Dask clusters


@pytest.fixture(scope="module")
def local_grid(corner_files, weights_file, tmp_path_factory):
    """The 3×3 grid rendered in-process: what every cluster must reproduce."""
    return render_grid(
        corner_files, tmp_path_factory.mktemp("local"), resolution=3, seconds=1.0, model=weights_file, batch_size=1
    )


def test_a_cluster_renders_the_local_grid_sample_for_sample_even_when_a_worker_dies(
    local_grid, corner_files, weights_file, tmp_path
):
    from distributed import Client, LocalCluster

    options = {"resolution": 3, "seconds": 1.0, "model": weights_file, "batch_size": 1}
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        ) as cluster,
        Client(cluster) as client,
    ):
        address = cluster.scheduler_address
        result = render_grid(corner_files, tmp_path / "grid", scheduler=address, **options)
        assert result.complete and sorted(result.written) == sorted(i["file"] for i in local_grid.manifest["items"])
        assert _digests(result) == _digests(local_grid)
        assert result.manifest["settings"] == local_grid.manifest["settings"]
        again = render_grid(corner_files, tmp_path / "grid", scheduler=address, **options)
        assert again.written == () and again.kept == 9

        pids = client.run(os.getpid)
        killed = {}

        def kill_a_busy_worker(done, total):
            if done == 1 and not killed:
                busy = {worker: keys for worker, keys in client.processing().items() if keys}
                worker = sorted(busy)[0]
                killed[worker] = busy[worker]
                os.kill(pids[worker], signal.SIGKILL)

        # This run goes through the test's own client: the kill hook queries it, and one client per process keeps
        # distributed's futures on one event loop.
        survived = render_grid(
            corner_files, tmp_path / "killed", scheduler=client, progress=kill_a_busy_worker, **options
        )
        ((worker, in_flight),) = killed.items()
        assert in_flight and worker not in client.scheduler_info()["workers"]
    assert survived.complete and len(survived.written) == 9 and len(set(survived.written)) == 9
    assert _digests(survived) == _digests(local_grid)


def test_the_processes_scheduler_starts_a_local_cluster_only_when_there_is_work(
    corner_files, weights_file, tmp_path, monkeypatch
):
    options = {"resolution": 2, "seconds": SECONDS, "model": weights_file}
    local = render_grid(corner_files, tmp_path / "local", **options)
    result = render_grid(corner_files, tmp_path / "processes", scheduler="processes", workers=1, **options)
    assert result.complete and _digests(result) == _digests(local)

    import distributed

    def no_cluster(*args, **kwargs):
        raise AssertionError("nothing to render: no cluster should start")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    again = render_grid(corner_files, tmp_path / "processes", scheduler="processes", workers=1, **options)
    assert again.written == () and again.kept == 4
