"""The command line, run in-process through `main(argv)` on a tiny saved model."""

import http.server
import io
import tarfile
import threading

import numpy as np
import pytest
import soundfile as sf

from nsynth_widgets.cli import build_parser, main
from nsynth_widgets.encodings import load_encoding, save_encoding
from nsynth_widgets.model.config import EMBEDDED
from ..conftest import midi_hz, write_keyboard_notes


@pytest.fixture(scope="module")
def weights_file(tiny_model, tmp_path_factory):
    return tiny_model.save_weights(tmp_path_factory.mktemp("model") / "tiny.npz")


@pytest.fixture
def wav_files(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for name, n, rate, channels in (("a", 44100 // 4, 44100, 2), ("b", 4000, 16000, 1)):
        path = tmp_path / f"{name}.wav"
        sf.write(path, rng.uniform(-0.5, 0.5, (n, channels)), rate)
        paths.append(path)
    return paths


def test_encode_then_synthesize(tmp_path, weights_file, wav_files, tiny_model):
    assert main(["encode", *map(str, wav_files), "-o", str(tmp_path / "enc"), "--model", str(weights_file)]) == 0
    enc_a = load_encoding(tmp_path / "enc" / "a.npy")
    assert enc_a.shape == (1, 4000 // 64, 16)  # 0.25 s at 44.1 kHz -> 4000 samples at 16 kHz
    assert load_encoding(tmp_path / "enc" / "b.npy").shape == (1, 62, 16)
    code = main(
        [
            "synthesize",
            str(tmp_path / "enc" / "a.npy"),
            str(tmp_path / "enc" / "b.npy"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(weights_file),
            "--batch-size",
            "2",
            "--seed",
            "3",
        ]
    )
    assert code == 0
    audio, rate = sf.read(tmp_path / "out" / "a.wav", dtype="float32")
    assert rate == 16000 and audio.shape == (62 * 64,)
    expected = tiny_model.synthesize([enc_a, load_encoding(tmp_path / "enc" / "b.npy")], seed=3)[0]
    np.testing.assert_allclose(audio, expected, atol=1 / 32768 + 1e-6)  # 16-bit wav of the same generation


def test_synthesize_with_int8_weights(tmp_path, weights_file, tiny_model):
    enc = np.random.default_rng(4).normal(size=(1, 5, 16)).astype(np.float32)
    np.save(tmp_path / "e.npy", enc)
    code = main(
        [
            "synthesize",
            str(tmp_path / "e.npy"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(weights_file),
            "--seed",
            "1",
            "--precision",
            "int8",
        ]
    )
    assert code == 0
    audio, _ = sf.read(tmp_path / "out" / "e.wav", dtype="float32")
    np.testing.assert_allclose(audio, tiny_model.synthesize(enc, seed=1, precision="int8")[0], atol=1 / 32768 + 1e-6)


def test_synthesize_transposed(tmp_path, pitch_model, tiny_model, weights_file):
    rng = np.random.default_rng(5)
    enc = rng.normal(size=(1, 4, 16)).astype(np.float32)
    enc[..., 14], enc[..., 15] = -1.0, 1.0  # 220 Hz, voiced
    np.save(tmp_path / "e.npy", enc)
    pitched = pitch_model.save_weights(tmp_path / "pitch.npz")
    assert (
        main(
            [
                "synthesize",
                str(tmp_path / "e.npy"),
                "-o",
                str(tmp_path / "out"),
                "--model",
                str(pitched),
                "--transpose",
                "7",
                "--seed",
                "2",
            ]
        )
        == 0
    )
    audio, _ = sf.read(tmp_path / "out" / "e.wav", dtype="float32")
    expected = pitch_model.synthesize(pitch_model.transpose(enc, 7), seed=2)[0]
    np.testing.assert_allclose(audio, expected, atol=1 / 32768 + 1e-6)
    assert not np.allclose(expected, pitch_model.synthesize(enc, seed=2)[0])


def test_transposing_needs_pitch_channels(tmp_path, weights_file, capsys):
    np.save(tmp_path / "e.npy", np.zeros((1, 2, 16), np.float32))
    assert (
        main(
            [
                "synthesize",
                str(tmp_path / "e.npy"),
                "-o",
                str(tmp_path),
                "--model",
                str(weights_file),
                "--transpose",
                "-3",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no pitch channels. Pitch-shift the audio before encoding instead" in err


def test_encode_length_keeps_the_first_samples(tmp_path, weights_file, wav_files):
    assert (
        main(["encode", str(wav_files[1]), "-o", str(tmp_path), "--model", str(weights_file), "--length", "640"]) == 0
    )
    assert load_encoding(tmp_path / "b.npy").shape == (1, 10, 16)


def test_encode_in_bfloat16(tmp_path, weights_file, wav_files, tiny_model):
    args = ["encode", str(wav_files[1]), "--model", str(weights_file), "--length", "640"]
    assert main([*args, "-o", str(tmp_path / "f32")]) == 0
    assert main([*args, "-o", str(tmp_path / "bf16"), "--precision", "bfloat16"]) == 0
    exact, rounded = (load_encoding(tmp_path / folder / "b.npy") for folder in ("f32", "bf16"))
    assert rounded.shape == exact.shape and not np.array_equal(rounded, exact)
    np.testing.assert_allclose(rounded, exact, atol=0.05 * np.abs(exact).max())


def test_mix_to_encoding_and_to_audio(tmp_path, weights_file):
    rng = np.random.default_rng(1)
    a = save_encoding(tmp_path / "a.npy", rng.normal(size=(1, 4, 16)))
    b = save_encoding(tmp_path / "b.npy", rng.normal(size=(1, 6, 16)))
    assert main(["mix", str(a), str(b), "-o", str(tmp_path / "m.npy"), "--weight", "0.25", "--stretch", "2"]) == 0
    mixed = load_encoding(tmp_path / "m.npy")
    assert mixed.shape == (1, 8, 16)
    assert main(["mix", str(a), str(b), "-o", str(tmp_path / "m.wav"), "--model", str(weights_file)]) == 0
    assert sf.info(tmp_path / "m.wav").frames == 4 * 64


def _checkpoint_server():
    """A localhost HTTP server of a fake checkpoint tar; returns (server, url)."""
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        for name in ("model.ckpt-200000.index", "model.ckpt-200000.data-00000-of-00001"):
            info = tarfile.TarInfo(f"wavenet-ckpt/{name}")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
    body = payload.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/wavenet-ckpt.tar"


def test_download_checkpoint_from_localhost(tmp_path, capsys):
    server, url = _checkpoint_server()
    try:
        assert main(["download-checkpoint", "--url", url, "--cache-dir", str(tmp_path)]) == 0
        assert capsys.readouterr().out.strip() == str(tmp_path / "wavenet-ckpt" / "model.ckpt-200000")
        assert (
            main(["download-checkpoint", "--url", url, "--cache-dir", str(tmp_path / "x"), "--sha256", "0" * 64]) == 2
        )
        assert "sha256" in capsys.readouterr().err
        assert not (tmp_path / "x" / "wavenet-ckpt").exists()
    finally:
        server.shutdown()


def test_train_flags_default_to_the_training_configuration():
    from nsynth_widgets.training.train import TrainConfig

    args = build_parser().parse_args(["train", "data", "run"])
    defaults = TrainConfig()
    for field in (
        "steps",
        "batch_size",
        "crop_length",
        "learning_rate",
        "warmup_steps",
        "checkpoint_every",
        "eval_every",
        "seed",
        "input_noise",
    ):
        assert getattr(args, field) == getattr(defaults, field), field
    assert not args.no_phase_lock and defaults.phase_lock


def test_download_checkpoint_without_flags_uses_the_documented_defaults(tmp_path, capsys, monkeypatch):
    """`nsynth-widgets download-checkpoint`, as README and binder/postBuild run it (the default URL served locally)."""
    import nsynth_widgets.download as download

    server, url = _checkpoint_server()
    monkeypatch.setattr(download, "CHECKPOINT_URL", url)
    monkeypatch.setenv("NSYNTH_WIDGETS_CACHE", str(tmp_path / "cache"))
    try:
        assert main(["download-checkpoint"]) == 0
    finally:
        server.shutdown()
    assert capsys.readouterr().out.strip() == str(tmp_path / "cache" / "wavenet-ckpt" / "model.ckpt-200000")
    assert (tmp_path / "cache" / "wavenet-ckpt" / "model.ckpt-200000.index").read_bytes() == b"abc"


def test_grid_renders_resumes_and_refuses_other_settings(tmp_path, capsys, weights_file):
    import json

    corners = []
    for i, frequency in enumerate((220.0, 330.0, 440.0, 660.0)):
        corners.append(str(tmp_path / f"c{i}.wav"))
        sf.write(corners[-1], 0.5 * np.sin(2 * np.pi * frequency * np.arange(4000) / 16000), 16000)
    command = [
        "grid",
        *corners,
        "-o",
        str(tmp_path / "grid"),
        "--resolution",
        "2",
        "--seconds",
        "0.25",
        "--model",
        str(weights_file),
        "--batch-size",
        "3",
        "--seed",
        "4",
    ]
    assert main(command) == 0
    assert "4 sounds written, 0 kept" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "grid" / "manifest.json").read_text())
    assert [item["seed"] for item in manifest["items"]] == [4, 4, 4, 5]
    assert sf.read(tmp_path / "grid" / "r1_c1.wav")[0].shape == (62 * 64,)
    assert main(command) == 0
    assert "0 sounds written, 4 kept" in capsys.readouterr().out

    assert main(command[:-2] + ["--seed", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "differs in seed (4 → 5)" in err and "--force" in err
    assert main(command + ["--pitches", "60,62"]) == 2
    assert "`pitches` must be played by a pitch-conditioned model" in capsys.readouterr().err
    assert main(command + ["--workers", "0"]) == 2
    assert "`--workers` must be an integer >= 1. Received: --workers=0." in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(command + ["--pitches", "60,sixty"])
    assert exit_.value.code == 2
    assert "`--pitches` must be MIDI pitches separated by commas, e.g. 48,55,60. Received: '60,sixty'." in (
        capsys.readouterr().err
    )


def test_every_flag_is_explained():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    assert set(subparsers) == {
        "encode",
        "synthesize",
        "mix",
        "grid",
        "download-checkpoint",
        "train",
        "dashboard",
        "render-notes",
        "evaluate",
        "fit-transposition",
        "make-examples",
    }
    for name, sub in subparsers.items():
        for action in sub._actions:
            assert action.help, f"{name}: {action.dest} has no help text"


def test_errors_are_one_line_and_exit_2(tmp_path, capsys, weights_file):
    assert main(["encode", str(tmp_path / "missing.wav"), "-o", str(tmp_path), "--model", str(weights_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nsynth-widgets: error:") and "missing.wav" in err and "Traceback" not in err
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((1, 3, 5)))
    assert main(["synthesize", str(bad), "-o", str(tmp_path), "--model", str(weights_file)]) == 2
    assert "must have 16 channels" in capsys.readouterr().err
    assert main(["synthesize", str(bad), "-o", str(tmp_path), "--batch-size", "0"]) == 2
    assert "`--batch-size` must be an integer >= 1. Received: --batch-size=0." in capsys.readouterr().err
    wav = tmp_path / "x.wav"
    sf.write(wav, np.full(1000, 0.1), 16000)
    assert main(["encode", str(wav), "-o", str(tmp_path / "out"), "--model", str(tmp_path / "nope.npz")]) == 2
    assert "nope.npz" in capsys.readouterr().err


def test_success_prints_every_path_written_and_overwrite_replaces(tmp_path, capsys, weights_file, wav_files):
    enc = tmp_path / "enc"
    assert main(["encode", *map(str, wav_files), "-o", str(enc), "--model", str(weights_file)]) == 0
    out = capsys.readouterr().out
    assert f"{wav_files[0]} -> {enc / 'a.npy'}" in out and f"{wav_files[1]} -> {enc / 'b.npy'}" in out
    assert main(["synthesize", str(enc / "a.npy"), "-o", str(tmp_path / "wav"), "--model", str(weights_file)]) == 0
    assert capsys.readouterr().out.strip() == f"-> {tmp_path / 'wav' / 'a.wav'}"
    assert (
        main(
            ["mix", str(enc / "a.npy"), str(enc / "b.npy"), "-o", str(tmp_path / "m.wav"), "--model", str(weights_file)]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == f"-> {tmp_path / 'm.wav'}"

    before = (enc / "a.npy").read_bytes()
    assert main(["encode", str(wav_files[0]), "-o", str(enc), "--model", str(weights_file), "--length", "640"]) == 2
    assert "pass --overwrite to replace them" in capsys.readouterr().err and (enc / "a.npy").read_bytes() == before
    assert (
        main(
            [
                "encode",
                str(wav_files[0]),
                "-o",
                str(enc),
                "--model",
                str(weights_file),
                "--length",
                "640",
                "--overwrite",
            ]
        )
        == 0
    )
    assert load_encoding(enc / "a.npy").shape == (1, 10, 16)


def test_train_a_wider_candidate_from_rendered_notes(tmp_path, capsys, monkeypatch):
    import json

    from nsynth_widgets.model.nsynth import NSynth
    from nsynth_widgets.training.dataset import NoteDataset

    crop_modes = set()
    original_random_crops = NoteDataset.random_crops

    def random_crops(self, *args, **kwargs):
        crop_modes.add((self.note_ids[0][-7:-4], self.crops))
        return original_random_crops(self, *args, **kwargs)

    monkeypatch.setattr(NoteDataset, "random_crops", random_crops)
    from nsynth_widgets.training import train as training

    shifts = []
    original_shift = training.shift_for_encoder

    def shift_for_encoder(audio, max_semitones, *args, **kwargs):
        shifts.append(max_semitones)
        return original_shift(audio, max_semitones, *args, **kwargs)

    monkeypatch.setattr(training, "shift_for_encoder", shift_for_encoder)

    data_dir = tmp_path / "notes"
    write_keyboard_notes(
        data_dir,
        (("train", 0, 60), ("train", 0, 64), ("valid", 1, 67)),
        lambda program, pitch: 0.5 * np.sin(2 * np.pi * midi_hz(pitch) * np.arange(64000) / 16000),
    )

    assert main(["train", str(data_dir), str(tmp_path / "run"), "--width", "0"]) == 2
    assert "`--width` must be an integer >= 1. Received: --width=0." in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main(["train", str(data_dir), str(tmp_path / "run"), "--crops", "loud"])
    assert "invalid choice: 'loud'" in capsys.readouterr().err
    code = main(
        [
            "train",
            str(data_dir),
            str(tmp_path / "run"),
            "--width",
            "8",
            "--steps",
            "2",
            "--batch-size",
            "1",
            "--crop-length",
            "1024",
            "--warmup-steps",
            "1",
            "--checkpoint-every",
            "1",
            "--eval-every",
            "1",
            "--crops",
            "sounding",
            "--input-noise",
            "1.5",
            "--invariance-weight",
            "0.5",
            "--invariance-shift",
            "3",
        ]
    )
    assert code == 0
    assert shifts == [3.0, 3.0]  # the invariance term's shifted copies, on both training steps
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and all(np.isfinite(r["valid_loss"]) for r in log)
    assert crop_modes == {("060", "sounding"), ("067", "uniform")}  # training crops sound, validation stays uniform
    config = NSynth.from_weights(tmp_path / "run" / "weights.npz").config
    assert (config.name, config.width, config.skip_width, config.ae_width) == ("embedded_w8", 8, 8, 64)

    assert config.pitch_conditioned and (data_dir / "pitch.npz").is_file()  # measured once, for every note
    assert config.pre_emphasis == EMBEDDED.pre_emphasis > 0  # the embedded configuration's decoder signal

    assert (
        main(
            [
                "train",
                str(data_dir),
                str(tmp_path / "plain"),
                "--width",
                "8",
                "--steps",
                "1",
                "--batch-size",
                "1",
                "--crop-length",
                "1024",
                "--eval-every",
                "1",
                "--excitation-harmonics",
                "0",
                "--no-phase-lock",
            ]
        )
        == 0
    )
    plain = NSynth.from_weights(tmp_path / "plain" / "weights.npz").config
    assert not plain.pitch_conditioned and plain.pre_emphasis == 0  # pre-emphasis goes with the pitch channels
