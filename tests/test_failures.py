"""Ill-formed inputs, in one place: each row an input and the message it must produce.

Three matrices:

* the Python API (model, audio, encodings, server settings): our own exception and message;
* the command line, run in-process through ``main(argv)``: one line on stderr, exit status 2, and
  for outputs the refusal comes before the model loads (the rows name a model file that does not
  exist, so a later check would have produced a different message);
* what a dashboard visitor can send, driven through the real panels (files arrive as the
  browser's upload widget sends them): a visible message, and the session as it was.
"""

import io
import os
import re
import tracemalloc

import math

import numpy as np
import pytest
import soundfile as sf

from nsynth_widgets.audio import load_audio
from nsynth_widgets.cli import main
from nsynth_widgets.encodings import load_encoding, save_encoding
from nsynth_widgets.errors import AudioError, EncodingError, ParameterError

from .widget.conftest import send_files, tone, wav_bytes

MIB = 2**20


def _flac(data, rate, seconds=None, level=1.0):
    """FLAC bytes of ``data`` (n, channels), or of ``seconds`` of it repeated (a small file of long audio)."""
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", rate, data.shape[1], format="FLAC", subtype="PCM_16", compression_level=level) as f:
        for _ in range(1 if seconds is None else int(seconds * rate / len(data))):
            f.write(data)
    return buffer.getvalue()


def _npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every ill-formed file the matrices use, written once: name -> path."""
    folder = tmp_path_factory.mktemp("failures")
    contents = {
        "tone.wav": wav_bytes(tone(8000)),
        # 70 s of 8 channels at 96 kHz: a 50 kB file that decodes to 215 MB
        "bomb.flac": _flac(np.full((96000, 8), 0.25, np.float32), 96000, seconds=70),
        "long.flac": _flac(np.full((16000, 1), 0.25, np.float32), 16000, seconds=61),
        "sixteen_channels.wav": wav_bytes(np.full((1600, 16), 0.1, np.float32)),
        "high_rate.wav": wav_bytes(np.full(3840, 0.1, np.float32), sample_rate=384000),
        "truncated.flac": _flac(np.random.default_rng(0).uniform(-0.5, 0.5, (48000, 1)).astype(np.float32), 16000)[
            :20000
        ],
        "encoding.npy": _npy(np.zeros((1, 9, 16), np.float32)),
        "archive.npz": b"",  # written below
        "empty.npy": b"",
        "pickle.npy": _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True),
        "truncated.npy": _npy(np.zeros((1, 9, 16), np.float32))[:-10],
        "text.npy": b"frames,16\n1,2,3\n",
        "complex.npy": _npy(np.zeros((1, 9, 16), np.complex64)),
        "four_axes.npy": _npy(np.zeros((1, 1, 9, 16), np.float32)),
        "long.npy": _npy(np.zeros((1, 61000, 16), np.float32)),  # 31 M samples at hop 512
        "three_channels.npy": _npy(np.zeros((1, 9, 3), np.float32)),
    }
    paths = {}
    for name, content in contents.items():
        paths[name] = folder / name
        paths[name].write_bytes(content)
    np.savez(paths["archive.npz"], encoding=np.zeros((1, 9, 16), np.float32))
    paths["long.mp3"] = folder / "long.mp3"
    sf.write(paths["long.mp3"], np.tile(tone(16000), 70), 16000, format="MP3")
    for name in ("a", "b"):
        (folder / name).mkdir()
        (folder / name / "same.wav").write_bytes(contents["tone.wav"])
    return paths


# ============================================================================================ the API

SILENT = np.zeros(4096, np.float32)
SOUND = np.full(640, 0.1, np.float32)
ENCODING = np.zeros((1, 4, 16), np.float32)

API = [
    # -- encode
    (
        "silence",
        lambda m, f: m.encode(SILENT),
        AudioError,
        r"`audio` must not be silent \(peak amplitude below 1e-06\). Received: audio with peak 0",
    ),
    (
        "nan",
        lambda m, f: m.encode(np.r_[np.full(1000, 0.1), np.nan].astype(np.float32)),
        AudioError,
        r"`audio` must not contain NaN or Inf. .*the first at index 1000",
    ),
    (
        "3 axes",
        lambda m, f: m.encode(np.full((1, 1, 1024), 0.1, np.float32)),
        AudioError,
        r"`audio` must have shape \(n,\) or \(batch, n\). Received: audio=array\(shape=\(1, 1, 1024\)",
    ),
    ("strings", lambda m, f: m.encode(np.array(["a"] * 1024)), AudioError, r"`audio` must be an array of real numbers"),
    (
        "over full scale",
        lambda m, f: m.encode(np.full(1024, 1.5, np.float32)),
        AudioError,
        r"`audio` must lie in \[-1, 1\]. Received: audio with peak \|x\| = 1.5",
    ),
    ("empty", lambda m, f: m.encode(np.zeros(0, np.float32)), AudioError, r"`audio` must not be empty"),
    (
        "under one frame",
        lambda m, f: m.encode(np.full(63, 0.1, np.float32)),
        AudioError,
        r"`audio` must have at least 64 samples",
    ),
    *[
        (
            f"batch_size={v!r}",
            lambda m, f, v=v: m.encode(SOUND, batch_size=v),
            ParameterError,
            rf"`batch_size` must be an integer >= 1. Received: batch_size={v!r}.",
        )
        for v in (0, -1, 1.5, True)
    ],
    (
        "block_frames=0",
        lambda m, f: m.encode(SOUND, block_frames=0),
        ParameterError,
        r"`block_frames` must be an integer >= 1. Received: block_frames=0.",
    ),
    # -- synthesize (numpy's own message for a negative seed used to reach the user)
    *[
        (
            f"seed={v!r}",
            lambda m, f, v=v: m.synthesize(ENCODING, seed=v),
            ParameterError,
            rf"`seed` must be None, a np.random.Generator or an integer >= 0. Received: seed={v!r}.",
        )
        for v in (-1, 1.5, "7", True)
    ],
    *[
        (
            f"temperature={v!r}",
            lambda m, f, v=v: m.synthesize(ENCODING, temperature=v),
            ParameterError,
            r"`temperature` must be a finite number > 0. Received: temperature=",
        )
        for v in (0, -1.0, float("nan"), "hot")
    ],
    (
        "greedy='yes'",
        lambda m, f: m.synthesize(ENCODING, greedy="yes"),
        ParameterError,
        r"`greedy` must be True or False. Received: greedy='yes'.",
    ),
    (
        "chunk_size=0",
        lambda m, f: m.synthesize(ENCODING, chunk_size=0),
        ParameterError,
        r"`chunk_size` must be an integer >= 1. Received: chunk_size=0.",
    ),
    (
        "precision",
        lambda m, f: m.synthesize(ENCODING, precision="fp16"),
        ParameterError,
        r"`precision` must be one of \['float32', 'int8', 'w8a8'\]. Received: precision='fp16'.",
    ),
    (
        "config",
        lambda m, f: type(m)("h512"),
        ParameterError,
        r"`config` must be a ModelConfig. Received: config='h512'",
    ),
    # -- audio files: checked from the header before decoding
    (
        "region over max_duration",
        lambda m, f: load_audio(f["long.flac"], max_duration=60),
        AudioError,
        r"`source` must hold at most 60 s from `offset` \(`max_duration`\); pass a shorter `duration`. "
        r"Received: source='.*long.flac' with 61.00 s from offset 0 s.",
    ),
    (
        "channels",
        lambda m, f: load_audio(f["bomb.flac"].read_bytes(), max_channels=2),
        AudioError,
        r"`source` must have at most 2 channels \(`max_channels`\). Received: source=<\d+ bytes: .*> with 8 channels.",
    ),
    (
        "rate",
        lambda m, f: load_audio(f["high_rate.wav"], max_sample_rate=192000),
        AudioError,
        r"`source` must have a sample rate of at most 192000 Hz \(`max_sample_rate`\). Received: .* at 384000 Hz.",
    ),
    (
        "truncated flac",
        lambda m, f: load_audio(f["truncated.flac"]),
        AudioError,
        r"`source` must be a complete, uncorrupted flac file; nothing was loaded. Received: source='.*truncated.flac' "
        r"\(decoder said: .*\).",
    ),
    (
        "mp3 decoded from its start",
        lambda m, f: load_audio(f["long.mp3"], offset=50, duration=5, max_duration=30),
        AudioError,
        r"`offset` \+ `duration` must be at most 30 s for an mp3 \(`max_duration`: libsndfile decodes an mp3 "
        r"from its beginning\); convert it to wav, flac or ogg to read a later part.",
    ),
    (
        "max_duration=0",
        lambda m, f: load_audio(f["tone.wav"], max_duration=0),
        ParameterError,
        r"`max_duration` must be None or a finite number > 0. Received: max_duration=0.",
    ),
    (
        "max_channels=0",
        lambda m, f: load_audio(f["tone.wav"], max_channels=0),
        ParameterError,
        r"`max_channels` must be None or an integer >= 1. Received: max_channels=0.",
    ),
    # -- encoding files: reported as malformed by name, never loaded in part
    (
        "npz",
        lambda m, f: load_encoding(f["archive.npz"]),
        EncodingError,
        r"`path` must be a .npy file written by NumPy \(an encoding\). Received: path='.*archive.npz' "
        r"\(a .npz archive of several arrays, not one .npy array: save one with np.save\).",
    ),
    (
        "empty npy",
        lambda m, f: load_encoding(f["empty.npy"]),
        EncodingError,
        r"Received: path='.*empty.npy' \(the file is empty\).",
    ),
    (
        "pickle",
        lambda m, f: load_encoding(f["pickle.npy"]),
        EncodingError,
        r"Received: path='.*pickle.npy' \(it holds Python objects \(a pickle\), which are never loaded\).",
    ),
    (
        "truncated npy",
        lambda m, f: load_encoding(f["truncated.npy"]),
        EncodingError,
        r"\(its header promises 144 values \(\d+ bytes\), but the file has \d+ bytes: truncated or padded\).",
    ),
    ("not npy", lambda m, f: load_encoding(f["text.npy"]), EncodingError, r"Received: path='.*text.npy' \(.*\)."),
    (
        "complex",
        lambda m, f: load_encoding(f["complex.npy"]),
        EncodingError,
        r"\(its dtype is complex64, not a real number type\).",
    ),
    (
        "four axes",
        lambda m, f: load_encoding(f["four_axes.npy"]),
        EncodingError,
        r"`path` must hold an array of shape \(frames, channels\) or \(batch, frames, channels\). "
        r"Received: path='.*four_axes.npy' with shape \(1, 1, 9, 16\).",
    ),
    (
        "max_frames",
        lambda m, f: load_encoding(f["long.npy"], max_frames=1875),
        EncodingError,
        r"`path` must hold at most 1875 frames \(`max_frames`\). Received: path='.*long.npy' with 61000 frames.",
    ),
    (
        "channels of a file",
        lambda m, f: load_encoding(f["three_channels.npy"], channels=16),
        EncodingError,
        r"`encoding` must have 16 channels in its last axis",
    ),
    (
        "bytes with a name",
        lambda m, f: load_encoding(b"\x93NUMPY", name="x.npy"),
        EncodingError,
        r"`file` must be a .npy file written by NumPy \(an encoding\). Received: file='x.npy' \(",
    ),
    (
        "missing",
        lambda m, f: load_encoding(f["tone.wav"].with_name("absent.npy")),
        EncodingError,
        r"`path` must be an existing .npy file. Received: path='.*absent.npy' \(not found\).",
    ),
    (
        "source type",
        lambda m, f: load_encoding(3),
        ParameterError,
        r"`source` must be a path to a .npy file or its bytes",
    ),
    (
        "save path type",
        lambda m, f: save_encoding(3, ENCODING),
        ParameterError,
        r"`path` must be a str or os.PathLike.",
    ),
    # -- server settings
    (
        "port",
        lambda m, f: _voila(port=0),
        ParameterError,
        r"`port` must be an integer in \[1, 65535\]. Received: port=0.",
    ),
    (
        "max_visitors",
        lambda m, f: _voila(max_visitors=0),
        ParameterError,
        r"`max_visitors` must be an integer >= 1. Received: max_visitors=0.",
    ),
    (
        "notebook",
        lambda m, f: _voila(notebook=f["tone.wav"].with_name("absent.ipynb")),
        ParameterError,
        r"`notebook` must be an existing notebook file.",
    ),
]


def _voila(**kwargs):
    from nsynth_widgets.dashboard_server import voila_command

    return voila_command(**kwargs)


@pytest.mark.parametrize("call, error, match", [row[1:] for row in API], ids=[row[0] for row in API])
def test_api(tiny_model, files, call, error, match):
    with pytest.raises(error, match=match):
        call(tiny_model, files)


def test_encode_never_modifies_its_input(tiny_model):
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 700)).astype(np.float32)
    audio.setflags(write=False)  # any in-place write would raise
    assert tiny_model.encode(audio).shape == (2, 10, 16)


def test_numpy_scalars_are_accepted_where_numbers_are_asked(tiny_model):
    assert tiny_model.encode(SOUND, batch_size=np.int64(2), block_frames=np.int32(3)).shape == (1, 10, 16)
    audio = tiny_model.synthesize(
        ENCODING, seed=np.int64(3), temperature=np.float32(0.5), greedy=np.bool_(False), chunk_size=np.int64(64)
    )
    np.testing.assert_array_equal(audio, tiny_model.synthesize(ENCODING, seed=3, temperature=0.5, chunk_size=64))


# ============================================================================================ the CLI

CLI = [
    # (id, argv with {name} for files and {out} for a fresh folder, message)
    (
        "output is a file",
        "encode {tone.wav} -o {tone.wav} --model {out}/absent.npz",
        "`--output` must be a folder (it receives one file per input). Received: --output='{tone.wav}', a file.",
    ),
    (
        "output under a file",
        "encode {tone.wav} -o {tone.wav}/sub --model {out}/absent.npz",
        "`--output` must be a folder that can be created and written. Received: --output='{tone.wav}/sub' (Not a directory).",
    ),
    (
        "result exists",
        "encode {tone.wav} -o {out}/existing --model {out}/absent.npz",
        "`--output` must not already hold the results; pass --overwrite to replace them. Received: {out}/existing/tone.npy.",
    ),
    (
        "same names",
        "encode {a}/same.wav {b}/same.wav -o {out}/x --model {out}/absent.npz",
        "`files` must have distinct names, since each result is named after its input. Received: 'same.npy' more than once.",
    ),
    (
        "input missing",
        "encode {out}/absent.wav -o {out}/x",
        "`files` must be existing files. Received: '{out}/absent.wav' (no such file).",
    ),
    ("input is a folder", "encode {a} -o {out}/x", "`files` must be existing files. Received: '{a}' (a folder)."),
    ("length", "encode {tone.wav} -o {out}/x --length 0", "`--length` must be an integer >= 1. Received: --length=0."),
    (
        "npz encoding",
        "synthesize {archive.npz} -o {out}/x",
        "`path` must be a .npy file written by NumPy (an encoding). Received: path='{archive.npz}' (a .npz archive",
    ),
    ("empty encoding", "synthesize {empty.npy} -o {out}/x", "Received: path='{empty.npy}' (the file is empty)."),
    ("audio as encoding", "synthesize {tone.wav} -o {out}/x", "Received: path='{tone.wav}' ("),
    (
        "negative seed",
        "synthesize {encoding.npy} -o {out}/x --seed -1",
        "`--seed` must be an integer in [0, 9223372036854775807]. Received: --seed=-1.",
    ),
    (
        "unvoiced temperature",
        "synthesize {encoding.npy} -o {out}/x --unvoiced-temperature 0",
        "`unvoiced_temperature` must be a finite number > 0. Received: unvoiced_temperature=0.0.",
    ),
    (
        "batch size",
        "synthesize {encoding.npy} -o {out}/x --batch-size 0",
        "`--batch-size` must be an integer >= 1. Received: --batch-size=0.",
    ),
    (
        "synthesis output under a file",
        "synthesize {encoding.npy} -o {tone.wav}/sub --model {out}/absent.npz",
        "`--output` must be a folder that can be created and written. Received: --output='{tone.wav}/sub'",
    ),
    (
        "synthesis result exists",
        "synthesize {encoding.npy} -o {out}/existing --model {out}/absent.npz",
        "pass --overwrite to replace them. Received: {out}/existing/encoding.wav.",
    ),
    (
        "mix suffix",
        "mix {encoding.npy} {encoding.npy} -o {out}/m.mp3 --model {out}/absent.npz",
        "`--output` must end in .npy, .wav, .flac. Received: --output='{out}/m.mp3'.",
    ),
    (
        "mix result exists",
        "mix {encoding.npy} {encoding.npy} -o {out}/existing/tone.npy --model {out}/absent.npz",
        "pass --overwrite to replace them. Received: {out}/existing/tone.npy.",
    ),
    ("mix weight", "mix {encoding.npy} {encoding.npy} -o {out}/m.npy --weight 2", "`weight` must be"),
    (
        "cache under a file",
        "download-checkpoint --url file:///absent.tar --cache-dir {tone.wav}/sub",
        "`cache_dir` must be a folder that can be created and written. Received: cache_dir='{tone.wav}/sub' (Not a directory).",
    ),
    (
        "url scheme",
        "download-checkpoint --url ftp://example.org/x.tar --cache-dir {out}/c",
        "`url` must be an http://, https:// or file:// URL. Received: url='ftp://example.org/x.tar'.",
    ),
    (
        "sha256",
        "download-checkpoint --sha256 abc --cache-dir {out}/c",
        "`sha256` must be None or 64 hexadecimal digits.",
    ),
    ("port", "dashboard --port 0 --no-browser", "`--port` must be an integer in [1, 65535]. Received: --port=0."),
    (
        "max visitors",
        "dashboard --max-visitors 0 --no-browser",
        "`--max-visitors` must be an integer >= 1. Received: --max-visitors=0.",
    ),
    ("steps", "train {out} {out}/run --steps 0", "`--steps` must be an integer >= 1. Received: --steps=0."),
    (
        "input noise",
        "train {out} {out}/run --input-noise -1",
        "`--input-noise` must be a finite number >= 0. Received: --input-noise=-1.0.",
    ),
    (
        "invariance shift",
        "train {out} {out}/run --invariance-weight 1 --invariance-shift 30",
        "`--invariance-shift` must be a number in (0, 24]. Received: --invariance-shift=30.0.",
    ),
    (
        "invariance without pitch channels",
        "train {out} {out}/run --excitation-harmonics 0 --invariance-weight 1",
        "`--invariance-weight` must be 0 for a model without pitch channels",
    ),
    (
        "partners through the map without partners",
        "train {out} {out}/run --partners-through-map --freeze-encoder",
        "`--partners-through-map` needs `--encoder-partner-interval` > 0 (the partners) and `--freeze-encoder`",
    ),
]


def _fill(text, names):
    return re.sub(r"\{([^{}]+)\}", lambda match: names[match.group(1)], text)


@pytest.mark.parametrize("argv, message", [row[1:] for row in CLI], ids=[row[0] for row in CLI])
def test_cli(files, tmp_path, capsys, argv, message):
    names = {name: str(path) for name, path in files.items()}
    names.update(out=str(tmp_path), a=str(files["tone.wav"].parent / "a"), b=str(files["tone.wav"].parent / "b"))
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "tone.npy").write_bytes(b"kept")
    (tmp_path / "existing" / "encoding.wav").write_bytes(b"kept")
    before = sorted(p.name for p in tmp_path.rglob("*"))

    assert main([_fill(part, names) for part in argv.split()]) == 2

    err = capsys.readouterr().err
    assert err.startswith("nsynth-widgets: error: ") and err.count("\n") == 1, err  # one line
    assert _fill(message, names) in err
    assert "Traceback" not in err
    assert (tmp_path / "existing" / "tone.npy").read_bytes() == b"kept"  # nothing overwritten
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # and nothing written


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_cli_read_only_output_folder(files, tmp_path, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main(["encode", str(files["tone.wav"]), "-o", str(folder), "--model", str(tmp_path / "absent.npz")]) == 2
    finally:
        folder.chmod(0o755)
    assert (
        f"`--output` must be a folder that can be created and written. Received: --output='{folder}'"
        in capsys.readouterr().err
    )


# ============================================================================================ the dashboard


@pytest.fixture
def session(tiny_model):
    from nsynth_widgets.runtime import Synthesizer
    from nsynth_widgets.widgets.session import Session

    return Session(Synthesizer(tiny_model))


@pytest.fixture
def loader(session):
    from nsynth_widgets.widgets import LoadPanel

    session.add_sound("kept", tone(1000))
    return LoadPanel(session, run_in_thread=False)


@pytest.fixture
def encoder(session):
    from nsynth_widgets.widgets import EncodePanel

    session.add_sound("kept", tone(1000))
    return EncodePanel(session, run_in_thread=False)


UPLOADS = [
    # (id, file name or (name, declared size of a file the browser held back), length, message)
    (
        "bomb, everything",
        "bomb.flac",
        0,
        "`length` must be at most 960000 samples (60 s) for this sound, which runs 70.0 s from start=0 s "
        "(0 keeps all of it). Received: length=0.",
    ),
    (
        "too many channels",
        "sixteen_channels.wav",
        40000,
        "`source` must have at most 8 channels (`max_channels`). Received: source=<",
    ),
    (
        "rate too high",
        "high_rate.wav",
        40000,
        "`source` must have a sample rate of at most 192000 Hz (`max_sample_rate`).",
    ),
    ("truncated", "truncated.flac", 40000, "`source` must be a complete, uncorrupted flac file; nothing was loaded."),
    (
        "mp3 past 60 s",
        "long.mp3",
        960000,
        "`start` + `length` must stay within the first 60 s of an mp3 here (an mp3 is decoded from its beginning)",
    ),
    (
        "over the cap, sent",
        ("big.wav", 20 * MIB + 1),
        40000,
        "`file` must be at most 20 MB. Received: file='big.wav' of 20.0 MB.",
    ),
    (
        "over the cap, held back",
        ("huge.wav", 300 * MIB),
        40000,
        "`file` must be at most 20 MB. Received: file='huge.wav' of 300.0 MB.",
    ),
    (
        "not audio",
        "encoding.npy",
        40000,
        "`file` must be a .wav, .flac, .ogg, .mp3 file. Received: file='encoding.npy'.",
    ),
]


@pytest.mark.parametrize("upload, length, message", [row[1:] for row in UPLOADS], ids=[row[0] for row in UPLOADS])
def test_dashboard_upload(loader, session, files, upload, length, message):
    import html

    loader.length.value = length
    loader.start.value = 2.0 if upload == "long.mp3" else 0.0
    if isinstance(upload, tuple):
        name, size = upload
        send_files(loader.upload, (name, size if size > 30 * MIB else bytes(size)))
    else:
        name = upload
        send_files(loader.upload, (name, files[name].read_bytes()))
    assert f"&#x27;{name}&#x27; was not added: " in loader.error.value
    assert html.escape(message) in loader.error.value
    assert list(session.sounds) == ["kept"] and session.selected == ["kept"]


def test_dashboard_refuses_a_pick_of_too_many_files(loader, session):
    loader.upload._handle_custom_msg({"type": "too_many", "count": 30}, [])
    assert "`files` must be at most 8 at once. Received: 30 files." in loader.error.value
    assert list(session.sounds) == ["kept"]


def test_a_decompression_bomb_costs_only_the_region_kept(loader, session, files):
    """The 50 kB file decodes to 215 MB of samples; a 2.5 s region costs a few MB to load."""
    content = files["bomb.flac"].read_bytes()
    loader.length.value = 40000
    tracemalloc.start()
    try:
        send_files(loader.upload, ("bomb.flac", content))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert session.sounds["bomb"].shape == (40000,)
    assert peak < 40 * MIB, f"{peak / MIB:.0f} MiB"  # the whole file would be 215 MiB of float32


ENCODINGS = [
    (
        "pickle",
        "pickle.npy",
        "`file` must be a .npy file written by NumPy (an encoding). Received: file='pickle.npy' "
        "(it holds Python objects (a pickle), which are never loaded).",
    ),
    ("npz", "archive.npz", "(a .npz archive of several arrays, not one .npy array: save one with np.save)."),
    ("truncated", "truncated.npy", "truncated or padded"),
    ("empty", "empty.npy", "(the file is empty)"),
    # 60 s at the tiny model's hop of 64 is 15000 frames; the 61000-frame file is refused from its header
    (
        "too long",
        "long.npy",
        "`file` must hold at most 15000 frames (`max_frames`). Received: file='long.npy' with 61000 frames.",
    ),
    ("channels", "three_channels.npy", "`encoding` must have 16 channels in its last axis"),
    (
        "over 4 MB, held back",
        ("big.npy", 50 * MIB),
        "`file` must be at most 4 MB. Received: file='big.npy' of 50.0 MB.",
    ),
]


@pytest.mark.parametrize("upload, message", [row[1:] for row in ENCODINGS], ids=[row[0] for row in ENCODINGS])
def test_dashboard_encoding_upload(encoder, session, files, upload, message):
    import html

    if isinstance(upload, tuple):
        send_files(encoder.load_upload, upload)
    else:
        send_files(encoder.load_upload, (upload, files[upload].read_bytes()))
    assert html.escape(message) in encoder.error.value
    assert session.encodings == {} and list(session.sounds) == ["kept"]


def test_dashboard_tampered_settings(session):
    """Values a crafted client can set beyond the widgets' own bounds are refused on the server."""
    from nsynth_widgets.widgets import Dashboard

    dashboard = Dashboard(session=session, run_in_thread=False, model_paths=False)
    dashboard.model_source.options = [*dashboard.model_source.options, ("x", "path")]
    dashboard.model_source.value = "path"
    dashboard.model_path.value = "/etc/passwd"
    dashboard.load_button.click()
    assert "`model_source` must be one of [&#x27;default&#x27;, &#x27;path&#x27;]" in dashboard.model_status.value
    session.add_sound("a", tone(1000))
    resynth = dashboard.resynth
    resynth.seed.max = 2**40
    resynth.seed.value = 2**40
    resynth.synthesize_button.click()
    assert "`seed` must be an integer in [0, 2147483647]. Received: seed=1099511627776." in resynth.error.value
    assert session.resyntheses == {}


_CORNERS = [np.full(640, 0.1, np.float32)] * 4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"corners": _CORNERS[:3]},
            r"`corners` must be four sounds \(files or 16 kHz arrays: top-left, top-right, "
            r"bottom-left, bottom-right\). Received: corners=\[array",
        ),
        (
            {"corners": _CORNERS[:3] + [3]},
            r"`corners\[3\]` must be a file or a 1-D array of 16 kHz audio. Received: corners\[3\]=3.",
        ),
        ({"resolution": 1}, r"`resolution` must be an integer >= 2. Received: resolution=1."),
        ({"seconds": 0}, r"`seconds` must be a finite number > 0. Received: seconds=0."),
        ({"seconds": float("nan")}, r"`seconds` must be a finite number > 0. Received: seconds=nan."),
        ({"pitches": [60, 128]}, r"`pitches` must be an integer in \[0, 127\]. Received: pitches=128."),
        (
            {"pitches": [60, 60]},
            r"`pitches` must list at least one MIDI pitch, each once. Received: pitches=\[60, 60\].",
        ),
        (
            {"pitches": "60"},
            r"`pitches` must be a list of MIDI pitches \(integers in \[0, 127\]\). Received: pitches='60'.",
        ),
        ({"batch_size": 0}, r"`batch_size` must be an integer >= 1. Received: batch_size=0."),
        ({"workers": True}, r"`workers` must be an integer >= 1. Received: workers=True."),
        (
            {"precision": "fp16"},
            r"`precision` must be one of \['float32', 'int8', 'w8a8'\]. Received: precision='fp16'.",
        ),
        ({"temperature": 0.0}, r"`temperature` must be a finite number > 0. Received: temperature=0.0."),
        ({"force": "yes"}, r"`force` must be True or False. Received: force='yes'."),
        (
            {"scheduler": "cluster"},
            r"`scheduler` must be 'local', 'processes', a Dask scheduler address such as "
            r"'tcp://host:8786' or a distributed.Client. Received: scheduler='cluster'.",
        ),
        (
            {"corners": list("abcd"), "corners_per_pitch": "notes"},
            r"`pitches` must be given with `corners_per_pitch` \(which files to read\). Received: pitches=None.",
        ),
        (
            {"pitches": [60], "corners_per_pitch": "notes"},
            r"`corners\[0\]` must be a file name. Received: corners\[0\]=array\(shape=\(640,\), dtype=float32\).",
        ),
        (
            {"corners": list("abcd"), "pitches": [60], "corners_per_pitch": "/no/such/folder"},
            r"`corners_per_pitch` must be an existing folder. Received: corners_per_pitch='/no/such/folder'.",
        ),
        (
            {"scheduler": "processes"},
            r"`model` must be 'default', a .npz weights file or a checkpoint path when the grid "
            r"runs on Dask workers \(each loads it itself\). Received: model=<nsynth_widgets",
        ),
    ],
)
def test_render_grid_rejects(tiny_model, tmp_path, kwargs, match):
    from nsynth_widgets.grid import render_grid

    arguments = {"corners": _CORNERS, "out_dir": tmp_path / "grid", "model": tiny_model, **kwargs}
    with pytest.raises(ParameterError, match=match):
        render_grid(**arguments)
    assert not (tmp_path / "grid").exists()  # refused before anything was written


def test_render_grid_refuses_an_unreachable_pitch(pitch_model, tmp_path):
    from nsynth_widgets.grid import render_grid

    t = np.arange(8000) / 16000
    corners = [(0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32) for f in (220, 330, 440, 660)]
    with pytest.raises(
        ParameterError,
        match=r"`pitches` must be reachable by transposing every point: r0_c0_p127.wav "
        r"cannot be moved to MIDI 127 \(`semitones` must keep the pitch within",
    ):
        render_grid(corners, tmp_path, resolution=2, seconds=0.25, model=pitch_model, pitches=[127])


@pytest.mark.parametrize(
    "value, high, match",
    [
        (0.0, math.inf, r"`x` must be a finite number > 0. Received: x=0.0."),
        (-1, math.inf, r"`x` must be a finite number > 0. Received: x=-1."),
        (0, 1.0, r"`x` must be a number in \(0, 1\]. Received: x=0."),
    ],
)
def test_check_number_with_an_open_lower_bound(value, high, match):
    from nsynth_widgets.errors import check_number

    assert check_number("x", 1e-9, 0.0, high, low_open=True) == 1e-9
    with pytest.raises(ParameterError, match=match):
        check_number("x", value, 0.0, high, low_open=True)
