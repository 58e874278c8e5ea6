"""Audio loading, checking and writing: every format, sample rate and channel count, and every bad input.

Test files are written into ``tmp_path`` with soundfile (and ffmpeg for the fallback decoder). Frequencies and
amplitudes are measured with an independent FFT / RMS, not with the code under test.
"""

import io
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import soundfile as sf

from nsynth_widgets import audio as audio_module
from nsynth_widgets.audio import duration_seconds, load_audio, normalize, save_audio, to_wav_bytes, validate_audio
from nsynth_widgets.errors import AudioError, ParameterError

SECONDS = 0.25
UNREADABLE = r"`source` must be a readable audio file \(wav, flac, ogg or mp3\)\. Received: .*\(decoder said: "


def sine(rate, freq=440.0, amplitude=0.5, seconds=SECONDS):
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chirp(rate, seconds=SECONDS):
    """A non-periodic test signal: any misaligned region shows up as a large difference.

    (Written as mp3 by libsndfile 1.2, this one also trips its decoder's wrong output after a seek.)
    """
    t = np.arange(int(round(seconds * rate))) / rate
    return (0.5 * np.sin(2 * np.pi * (300 * t + 2000 * t**2))).astype(np.float32)


def peak_frequency(y, rate):
    """Frequency of the largest FFT peak (Hann window, zero-padded to 0.06 Hz bins at 16 kHz)."""
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)), n=2**18))
    return np.argmax(spectrum) * rate / 2**18


def sine_amplitude(y):
    """Amplitude of a steady sine from its RMS, away from the edges resampling touches."""
    middle = y[len(y) // 10 : -len(y) // 10]
    return np.sqrt(2 * np.mean(middle.astype(np.float64) ** 2))


def write_mp3(path, data, rate):
    """An mp3 file: libsndfile >= 1.1 writes it itself; otherwise ffmpeg; otherwise skip."""
    try:
        sf.write(path, data, rate, format="MP3")
        return
    except (sf.SoundFileError, TypeError, ValueError):
        pass
    if shutil.which("ffmpeg") is None:
        pytest.skip(f"cannot write mp3: libsndfile {sf.__libsndfile_version__} has no MP3 encoder and ffmpeg is absent")
    wav = str(path) + ".wav"
    sf.write(wav, data, rate)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", wav, str(path)], check=True)


def write_file(path, data, rate, kind):
    if kind == "mp3":
        write_mp3(path, data, rate)
    else:
        sf.write(path, data, rate, format=kind.upper())


def minimal_png():
    """A valid 1x1 grey PNG image, built byte by byte."""

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# --------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "subtype, tolerance",
    [
        ("PCM_U8", 1 / 128 + 1e-6),
        ("PCM_16", 1 / 32768 + 1e-7),
        ("PCM_24", 1e-6),
        ("PCM_32", 1e-6),
        ("FLOAT", 0.0),
        ("DOUBLE", 0.0),
    ],
)
def test_wav_subtypes_decode_to_the_written_samples(tmp_path, subtype, tolerance):
    path = tmp_path / f"{subtype}.wav"
    x = sine(16000)
    sf.write(path, x, 16000, subtype=subtype)
    assert sf.info(str(path)).subtype == subtype

    y = load_audio(path)

    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x, rtol=0, atol=tolerance)


@pytest.mark.parametrize("kind, amplitude_tolerance", [("flac", 1e-3), ("ogg", 0.05), ("mp3", 0.05)])
def test_compressed_formats_keep_frequency_and_amplitude(tmp_path, kind, amplitude_tolerance):
    path = tmp_path / f"tone.{kind}"
    write_file(path, sine(44100), 44100, kind)

    y = load_audio(path)

    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 4000) <= 1
    assert abs(peak_frequency(y, 16000) - 440) < 2
    assert abs(sine_amplitude(y) - 0.5) < amplitude_tolerance


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_any_rate_is_resampled_to_16k_keeping_frequency_and_amplitude(tmp_path, rate):
    path = tmp_path / f"tone_{rate}.wav"
    x = sine(rate)
    sf.write(path, x, rate, subtype="FLOAT")

    y = load_audio(path)

    assert abs(len(y) - len(x) * 16000 / rate) <= 1
    assert abs(peak_frequency(y, 16000) - 440) < 1
    assert abs(sine_amplitude(y) - 0.5) < 0.005
    assert np.abs(y).max() <= 1


def test_other_target_rate(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(16000), 16000)
    y = load_audio(path, sample_rate=22050)
    assert abs(len(y) - 0.25 * 22050) <= 1
    assert abs(peak_frequency(y, 22050) - 440) < 1


def test_full_scale_resampling_overshoot_is_clipped(tmp_path):
    path = tmp_path / "square.wav"
    square = np.where(np.arange(12000) % 200 < 100, 1.0, -1.0).astype(np.float32)
    sf.write(path, square, 48000, subtype="FLOAT")
    assert np.abs(load_audio(path)).max() <= 1.0


def test_fallback_decoder_reads_what_libsndfile_cannot(tmp_path):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed: no m4a file can be made for the audioread fallback")
    wav, m4a = tmp_path / "tone.wav", tmp_path / "tone.m4a"
    sf.write(wav, sine(16000), 16000)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(m4a)], check=True)
    with pytest.raises(sf.SoundFileError):
        sf.info(str(m4a))  # the premise: libsndfile cannot read it

    from_path = load_audio(m4a)
    from_bytes = load_audio(m4a.read_bytes())

    np.testing.assert_array_equal(from_path, from_bytes)
    assert len(from_path) >= 4000  # AAC adds priming samples
    assert abs(peak_frequency(from_path, 16000) - 440) < 2


# --------------------------------------------------------------------------------------------- channels


def channel_data(n_channels, rate=16000):
    """Each channel its own frequency and level, so that a mean over channels is distinguishable."""
    return np.stack(
        [sine(rate, freq=300 + 150 * c, amplitude=0.15 + 0.1 * c) for c in range(n_channels)], axis=1
    )  # (n, channels)


@pytest.mark.parametrize("n_channels", [1, 2, 6])
def test_channels_are_averaged_to_mono_or_kept(tmp_path, n_channels):
    path = tmp_path / f"ch{n_channels}.wav"
    data = channel_data(n_channels)
    sf.write(path, data, 16000, subtype="FLOAT")

    mono = load_audio(path)
    kept = load_audio(path, mono=False)

    np.testing.assert_allclose(mono, data.astype(np.float64).mean(axis=1), rtol=0, atol=1e-6)
    assert kept.shape == (n_channels, len(data)) and kept.dtype == np.float32
    np.testing.assert_array_equal(kept, data.T)


def test_six_channels_resampled(tmp_path):
    path = tmp_path / "ch6_48k.wav"
    data = channel_data(6, rate=48000)
    sf.write(path, data, 48000, subtype="FLOAT")

    kept = load_audio(path, mono=False)
    mono = load_audio(path)

    assert kept.shape == (6, 4000) and mono.shape == (4000,)
    for c in range(6):
        assert abs(peak_frequency(kept[c], 16000) - (300 + 150 * c)) < 1
        assert abs(sine_amplitude(kept[c]) - (0.15 + 0.1 * c)) < 0.005
    np.testing.assert_allclose(mono, kept.mean(axis=0), rtol=0, atol=1e-5)  # resampling is linear


# --------------------------------------------------------------------------------------------- sources


def test_every_kind_of_source_gives_the_same_audio(tmp_path):
    path = tmp_path / "tone.flac"
    sf.write(path, sine(22050), 22050)
    content = path.read_bytes()
    expected = load_audio(str(path))

    with open(path, "rb") as file:
        from_file = load_audio(file)
    for source in [path, content, bytearray(content), memoryview(content), io.BytesIO(content)]:
        np.testing.assert_array_equal(load_audio(source), expected)
    np.testing.assert_array_equal(from_file, expected)


def test_text_mode_file_is_rejected(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(16000), 16000)
    with open(path, encoding="latin-1") as file:
        with pytest.raises(ParameterError, match=r"`source` must be opened in binary mode \('rb'\)"):
            load_audio(file)


@pytest.mark.parametrize("source", [42, None, np.zeros(10), ["a.wav"]])
def test_unsupported_source_types(source):
    pattern = r"`source` must be a file path, the file's bytes or a binary file object\. Received: source="
    with pytest.raises(ParameterError, match=pattern):
        load_audio(source)


# --------------------------------------------------------------------------------------------- regions


@pytest.mark.parametrize("kind", ["wav", "flac", "ogg", "mp3"])
def test_offset_and_duration_select_the_same_samples_as_slicing(tmp_path, kind):
    path = tmp_path / f"chirp.{kind}"
    write_file(path, chirp(16000), 16000, kind)
    whole = load_audio(path)

    part = load_audio(path, offset=0.1, duration=0.05)
    tail = load_audio(path, offset=0.2)
    beyond = load_audio(path, offset=0.2, duration=10.0)

    np.testing.assert_allclose(part, whole[1600:2400], rtol=0, atol=1e-6)
    np.testing.assert_allclose(tail, whole[3200:], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(beyond, tail)


def test_region_is_taken_in_file_time_before_resampling(tmp_path):
    path = tmp_path / "chirp.wav"
    x = chirp(48000)
    sf.write(path, x, 48000, subtype="FLOAT")
    part = load_audio(path, offset=0.05, duration=0.1)
    assert abs(len(part) - 1600) <= 1


def test_mono_false_on_a_mono_file_keeps_a_channel_axis(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(16000), 16000)
    assert load_audio(path, mono=False).shape == (1, 4000)


@pytest.mark.parametrize("offset", [-0.1, float("nan"), float("inf"), "1", True, None])
def test_bad_offset(tmp_path, offset):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(16000), 16000)
    with pytest.raises(ParameterError, match=r"`offset` must be a finite number >= 0\. Received: offset="):
        load_audio(path, offset=offset)


@pytest.mark.parametrize("duration", [0, -1.0, float("nan"), float("inf"), "2"])
def test_bad_duration(tmp_path, duration):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(16000), 16000)
    with pytest.raises(ParameterError, match=r"`duration` must be None or a finite number > 0\. Received"):
        load_audio(path, duration=duration)


@pytest.mark.parametrize("kind", ["wav", "mp3"])
def test_offset_past_the_end(tmp_path, kind):
    path = tmp_path / f"tone.{kind}"
    write_file(path, sine(16000), 16000, kind)
    pattern = r"`offset` must be less than the audio's duration \(0\.250 s\)\. Received: offset=0\.3\."
    with pytest.raises(ParameterError, match=pattern):
        load_audio(path, offset=0.3)


@pytest.mark.parametrize("sample_rate", [0, -16000, 16000.0, "16000", True, None])
def test_bad_sample_rate(tmp_path, sample_rate):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(16000), 16000)
    with pytest.raises(ParameterError, match=r"`sample_rate` must be an integer >= 1\. Received: "):
        load_audio(path, sample_rate=sample_rate)


def test_numpy_integer_sample_rate_is_accepted(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(16000), 16000)
    assert load_audio(path, sample_rate=np.int64(8000)).shape == (2000,)


def test_bad_mono(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(16000), 16000)
    with pytest.raises(ParameterError, match=r"`mono` must be True or False\. Received: mono='yes'\."):
        load_audio(path, mono="yes")


def test_a_long_file_is_read_block_by_block_into_the_same_samples(tmp_path):
    """Regions and mono mixing are done per block of 65536 frames: the result equals reading it whole."""
    path = tmp_path / "long.flac"
    data = np.random.default_rng(3).uniform(-0.5, 0.5, (200_000, 3)).astype(np.float32)
    sf.write(path, data, 16000, subtype="PCM_24")
    whole = sf.read(path, dtype="float32", always_2d=True)[0]
    np.testing.assert_array_equal(load_audio(path, mono=False), whole.T)
    np.testing.assert_allclose(load_audio(path), whole.mean(axis=1), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(load_audio(path, offset=5.0, duration=4.0, mono=False), whole[80_000:144_000].T)


@pytest.mark.parametrize("kind", ["wav", "flac", "mp3"])
def test_audio_info_reads_the_header_only(tmp_path, kind):
    path = tmp_path / f"tone.{kind}"
    write_file(path, channel_data(2, rate=22050), 22050, kind)
    info = audio_module.audio_info(path)
    assert (info.sample_rate, info.channels, info.format) == (22050, 2, kind.upper())
    assert abs(info.duration - SECONDS) < 0.06  # mp3: the decoder's estimate
    assert info.decoded_from_start == (kind == "mp3")


def test_limits_are_checked_before_decoding(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, channel_data(6, rate=48000), 48000)
    assert load_audio(path, max_duration=SECONDS, max_channels=6, max_sample_rate=48000).shape == (4000,)
    with pytest.raises(
        AudioError, match=r"`source` must have at most 2 channels \(`max_channels`\)\. Received: .* with 6"
    ):
        load_audio(path, max_channels=2)
    with pytest.raises(AudioError, match=r"`source` must have a sample rate of at most 44100 Hz"):
        load_audio(path, max_sample_rate=44100)
    with pytest.raises(AudioError, match=r"`source` must hold at most 0.1 s from `offset` \(`max_duration`\)"):
        load_audio(path, max_duration=0.1)
    assert load_audio(path, duration=0.1, max_duration=0.1).shape == (1600,)  # a region within the limit is fine


def test_an_mp3_region_is_limited_by_where_it_ends(tmp_path):
    path = tmp_path / "tone.mp3"
    write_mp3(path, sine(16000, seconds=2.0), 16000)
    assert load_audio(path, offset=0.5, duration=0.5, max_duration=1.0).shape == (8000,)
    with pytest.raises(AudioError, match=r"`offset` \+ `duration` must be at most 1 s for an mp3"):
        load_audio(path, offset=1.0, duration=0.5, max_duration=1.0)


def test_the_fallback_decoder_reads_a_region_and_enforces_the_limit_as_it_streams(tmp_path):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed: no m4a file can be made for the audioread fallback")
    wav, m4a = tmp_path / "chirp.wav", tmp_path / "chirp.m4a"
    sf.write(wav, chirp(16000, seconds=1.0), 16000)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(m4a)], check=True)
    whole = load_audio(m4a)
    np.testing.assert_array_equal(load_audio(m4a, offset=0.25, duration=0.25), whole[4000:8000])
    assert audio_module.audio_info(m4a).format == "FFMPEG"
    with pytest.raises(AudioError, match=r"`source` must hold at most 0.5 s from `offset` \(`max_duration`\)"):
        load_audio(m4a.read_bytes(), max_duration=0.5)


def test_a_truncated_file_is_refused_not_loaded_in_part(tmp_path):
    buffer = io.BytesIO()
    sf.write(buffer, chirp(16000, seconds=2.0), 16000, format="FLAC")
    with pytest.raises(AudioError, match=r"`source` must be a complete, uncorrupted flac file; nothing was loaded"):
        load_audio(buffer.getvalue()[:20000])


# --------------------------------------------------------------------------------------------- bad files


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nowhere" / "missing.wav"
    pattern = r"`source` must be an existing audio file\. Received: source='.*missing\.wav' \(no such file\)\.$"
    with pytest.raises(AudioError, match=pattern):
        load_audio(path)


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioError, match=r"`source` must be an audio file, not a folder"):
        load_audio(tmp_path)


def test_empty_file_and_empty_bytes(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=UNREADABLE + r"the file is empty\)\.$"):
        load_audio(path)
    with pytest.raises(AudioError, match=UNREADABLE + r"the file is empty\)\.$"):
        load_audio(b"")
    with pytest.raises(AudioError, match=UNREADABLE + r"the file is empty\)\.$"):
        load_audio(io.BytesIO())


def test_non_audio_content_is_rejected(tmp_path):
    png = minimal_png()
    text = tmp_path / "notes.txt"
    text.write_text("these are not the samples you are looking for\n" * 20)
    image = tmp_path / "picture.png"
    image.write_bytes(png)

    with pytest.raises(AudioError, match=UNREADABLE + r"Format not recognised\)\.$") as info:
        load_audio(png)
    assert f"<{len(png)} bytes: b'\\x89PNG\\r\\n\\x1a\\n'...>" in str(info.value)
    with pytest.raises(AudioError, match=UNREADABLE + r"Format not recognised\)\.$"):
        load_audio(image)
    with pytest.raises(AudioError, match=UNREADABLE + r"Format not recognised\)\.$") as info:
        load_audio(text)
    assert f"Received: source={str(text)!r} (decoder said" in str(info.value)


def test_truncated_header_is_rejected(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(16000), 16000)
    with pytest.raises(AudioError, match=UNREADABLE):
        load_audio(path.read_bytes()[:20])


def test_file_without_samples(tmp_path):
    path = tmp_path / "header_only.wav"
    sf.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match=r"`source` must not be empty"):
        load_audio(path)


def test_silent_file(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(4000, np.float32), 16000)
    pattern = r"`source` must not be silent \(peak amplitude below 1e-06\)\. Received: source with peak 0\.$"
    with pytest.raises(AudioError, match=pattern):
        load_audio(path)


@pytest.mark.parametrize("bad, kind", [(np.nan, "1 NaN, 0 Inf"), (np.inf, "0 NaN, 1 Inf")])
def test_file_with_nan_or_inf(tmp_path, bad, kind):
    path = tmp_path / "broken.wav"
    x = sine(16000)
    x[7] = bad
    sf.write(path, x, 16000, subtype="FLOAT")
    pattern = (
        r"`source` must not contain NaN or Inf\. "
        rf"Received: source with 1 non-finite values \({kind}\), the first at index \(0, 7\)\.$"
    )
    with pytest.raises(AudioError, match=pattern):
        load_audio(path)


def test_float_file_outside_unit_range(tmp_path):
    path = tmp_path / "loud.wav"
    sf.write(path, 3 * sine(16000), 16000, subtype="FLOAT")
    pattern = r"`source` must lie in \[-1, 1\]\. Received: source with peak \|x\| = 1\.5 at index \(0, \d+\); "
    with pytest.raises(AudioError, match=pattern):
        load_audio(path)


# --------------------------------------------------------------------------------------------- validate_audio


def test_validate_returns_a_float32_copy():
    x = sine(16000)
    x.flags.writeable = False
    y = validate_audio(x)
    assert y.dtype == np.float32 and not np.shares_memory(x, y)
    np.testing.assert_array_equal(y, x)
    batch = validate_audio([[0.5, -0.25], [0.1, 0.0]])
    assert batch.shape == (2, 2) and batch.dtype == np.float32


def test_validate_accepts_integers_in_range_and_clips_rounding_overshoot():
    np.testing.assert_array_equal(validate_audio(np.array([0, 1, -1], np.int16)), [0, 1, -1])
    y = validate_audio(np.array([0.5, 1 + 5e-5, -1 - 5e-5]))
    np.testing.assert_array_equal(y, np.array([0.5, 1.0, -1.0], np.float32))


@pytest.mark.parametrize(
    "audio, pattern",
    [
        (
            ["a", "b"],
            r"`audio` must be an array of real numbers \(float or integer\)\. "
            r"Received: audio=array\(shape=\(2,\), dtype=<U1\)\.",
        ),
        (np.array([1 + 1j, 0j]), r"must be an array of real numbers .*complex128"),
        (np.array([True, False]), r"must be an array of real numbers .*bool"),
        ([[0.1, 0.2], [0.3]], r"`audio` must be an array of real numbers\. Received: audio=\[\[0\.1, 0\.2\], \[0\.3"),
        (np.float32(0.5), r"`audio` must have shape \(n,\) or \(batch, n\)\. Received: audio=array\(shape=\(\)"),
        (np.zeros((1, 2, 3)), r"must have shape \(n,\) or \(batch, n\)\. Received: audio=array\(shape=\(1, 2, 3\)"),
        (np.zeros(0), r"`audio` must not be empty\. Received: audio=array\(shape=\(0,\), dtype=float64\)\."),
        (np.zeros((0, 10)), r"`audio` must not be empty"),
        (np.zeros(10), r"`audio` must not be silent \(peak amplitude below 1e-06\)\. Received: audio with peak 0\."),
        (np.full(10, 1e-7), r"must not be silent"),
        (
            np.array([0.1, -1.25, 0.3]),
            r"`audio` must lie in \[-1, 1\]\. Received: audio with peak \|x\| = 1\.25 at index 1; "
            r".*`nsynth_widgets\.audio\.normalize`.*`np\.clip\(\.\.\., -1, 1\)`",
        ),
        (np.array([0.1, 1.01]), r"peak \|x\| = 1\.01 at index 1"),
        (np.array([0, 1000, -32768], np.int16), r"peak \|x\| = 3\.277e\+04 at index 2"),
    ],
)
def test_validate_rejects(audio, pattern):
    with pytest.raises(AudioError, match=pattern):
        validate_audio(audio)


def test_validate_reports_count_and_first_index_of_non_finite_values():
    x = np.full(100, 0.1)
    x[[12, 40, 41]] = [np.inf, np.nan, -np.inf]
    pattern = r"Received: audio with 3 non-finite values \(1 NaN, 2 Inf\), the first at index 12\.$"
    with pytest.raises(AudioError, match=pattern):
        validate_audio(x)
    batch = np.full((3, 50), 0.1, np.float32)
    batch[1, 30] = np.nan
    batch[2, 3] = np.nan
    pattern = r"`clip` must not contain NaN or Inf\..* \(2 NaN, 0 Inf\), the first at index \(1, 30\)"
    with pytest.raises(AudioError, match=pattern):
        validate_audio(batch, name="clip")


def test_validate_min_samples_and_allow_silence():
    with pytest.raises(AudioError, match=r"`audio` must have at least 512 samples\. Received: audio with 100 samples"):
        validate_audio(np.full(100, 0.1), min_samples=512)
    assert validate_audio(np.full((2, 512), 0.1), min_samples=512).shape == (2, 512)
    np.testing.assert_array_equal(validate_audio(np.zeros(8), allow_silence=True), np.zeros(8, np.float32))
    with pytest.raises(ParameterError, match=r"`min_samples` must be an integer >= 1\. Received: min_samples=0\."):
        validate_audio(np.full(10, 0.1), min_samples=0)


# --------------------------------------------------------------------------------------------- normalize


def test_normalize_scales_to_the_peak_without_touching_the_input():
    x = 3.0 * sine(16000)
    x.flags.writeable = False
    y = normalize(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(np.abs(y).max(), 0.99, rtol=1e-6)
    np.testing.assert_allclose(y, x * (0.99 / np.abs(x).max()), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.abs(normalize(x, peak=0.5)).max(), 0.5, rtol=1e-6)


def test_normalize_batch_keeps_relative_levels_and_handles_int16_extremes():
    batch = np.stack([0.2 * sine(16000), 0.1 * sine(16000)])
    y = normalize(batch, peak=1.0)
    np.testing.assert_allclose(np.abs(y).max(axis=1), [1.0, 0.5], rtol=1e-5)
    ints = normalize(np.array([0, 16384, -32768], np.int16))  # abs(-32768) overflows in int16
    np.testing.assert_allclose(ints, [0.0, 0.495, -0.99], rtol=1e-6)


@pytest.mark.parametrize("peak", [0, -0.5, 1.5, "1", None])
def test_normalize_bad_peak(peak):
    with pytest.raises(ParameterError, match=r"`peak` must be a number in \(0, 1\]\. Received: peak="):
        normalize(sine(16000), peak=peak)


def test_normalize_rejects_silence_and_nan():
    with pytest.raises(AudioError, match=r"`audio` must not be silent .*to be normalized\. Received: audio with peak"):
        normalize(np.zeros(10))
    with pytest.raises(AudioError, match=r"must not contain NaN or Inf"):
        normalize(np.array([0.1, np.nan]))


# --------------------------------------------------------------------------------------------- writing


@pytest.mark.parametrize(
    "name, subtype, tolerance",
    [
        ("out.wav", "PCM_16", 1 / 32768),
        ("out.WAV", "FLOAT", 0.0),
        ("out.flac", "PCM_16", 1 / 32768),
        ("out.flac", "PCM_24", 1 / 2**23),
    ],
)
def test_save_load_round_trip(tmp_path, name, subtype, tolerance):
    path = tmp_path / name
    x = chirp(16000)
    x.flags.writeable = False

    save_audio(path, x, subtype=subtype)

    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, subtype)
    np.testing.assert_allclose(load_audio(path), x, rtol=0, atol=tolerance + 1e-7)
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary file left behind


def test_save_default_is_16_bit_and_accepts_one_row_batches(tmp_path):
    path = tmp_path / "row.wav"
    save_audio(str(path), sine(16000)[None], sample_rate=22050)
    info = sf.info(str(path))
    assert (info.subtype, info.samplerate, info.frames) == ("PCM_16", 22050, 4000)


def test_save_overwrites_an_existing_file(tmp_path):
    path = tmp_path / "out.wav"
    save_audio(path, np.full(100, 0.5))
    save_audio(path, np.full(50, -0.25))
    np.testing.assert_allclose(sf.read(str(path))[0], np.full(50, -0.25), atol=1 / 32768)


def test_a_failed_write_leaves_the_old_file_and_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.wav"
    save_audio(path, sine(16000))
    before = path.read_bytes()

    def failing_write(file, *args, **kwargs):
        with open(file, "wb") as handle:
            handle.write(b"RIFF half a header")
        raise OSError("disk full")

    monkeypatch.setattr(audio_module.sf, "write", failing_write)
    with pytest.raises(OSError, match="disk full"):
        save_audio(path, chirp(16000))

    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.wav"]


def test_save_rejects_batches_and_bad_arguments(tmp_path):
    pattern = r"`audio` must hold one sound, .*one sound at a time .*Received: audio with shape \(2, 4000\)\."
    with pytest.raises(AudioError, match=pattern):
        save_audio(tmp_path / "two.wav", np.stack([sine(16000)] * 2))
    with pytest.raises(ParameterError, match=r"`path` must end in \.wav or \.flac\. Received: path='.*out\.mp3'\."):
        save_audio(tmp_path / "out.mp3", sine(16000))
    with pytest.raises(ParameterError, match=r"`subtype` must be a subtype that FLAC supports.*subtype='FLOAT'\."):
        save_audio(tmp_path / "out.flac", sine(16000), subtype="FLOAT")
    with pytest.raises(ParameterError, match=r"`path` must be in an existing folder"):
        save_audio(tmp_path / "missing" / "out.wav", sine(16000))
    with pytest.raises(ParameterError, match=r"`sample_rate` must be an integer >= 1"):
        save_audio(tmp_path / "out.wav", sine(16000), sample_rate=0)
    with pytest.raises(AudioError, match=r"must lie in \[-1, 1\]"):
        save_audio(tmp_path / "out.wav", 3 * sine(16000))
    assert os.listdir(tmp_path) == []


def test_to_wav_bytes_parses_back(tmp_path):
    x = chirp(16000)
    x.flags.writeable = False

    wav = to_wav_bytes(x)

    assert isinstance(wav, bytes) and wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    data, rate = sf.read(io.BytesIO(wav), dtype="float32")
    assert rate == 16000 and sf.info(io.BytesIO(wav)).subtype == "PCM_16"
    np.testing.assert_allclose(data, x, rtol=0, atol=1 / 32768 + 1e-7)
    from_row, row_rate = sf.read(io.BytesIO(to_wav_bytes(x[None], sample_rate=8000)), dtype="float32")
    assert row_rate == 8000
    np.testing.assert_array_equal(from_row, data)
    assert sf.info(io.BytesIO(to_wav_bytes(np.zeros(10)))).frames == 10  # silence is fine to play
    with pytest.raises(AudioError, match=r"one sound at a time"):
        to_wav_bytes(np.zeros((3, 10)))


def test_pitch_shift_moves_the_pitch_and_keeps_the_length():
    from nsynth_widgets.audio import pitch_shift
    from nsynth_widgets.dsp.pitch import channel_to_f0, estimate_pitch

    tone = (0.5 * np.sin(2 * np.pi * 220.0 * np.arange(16000) / 16000.0)).astype(np.float32)
    shifted = pitch_shift(tone, 7)
    assert shifted.shape == tone.shape and shifted.dtype == np.float32
    f0 = np.median(channel_to_f0(estimate_pitch(shifted)[5:-5, 0]))
    assert abs(1200 * np.log2(f0 / (220.0 * 2 ** (7 / 12)))) < 5
    for bad in (float("nan"), 49, True):
        with pytest.raises(ParameterError, match=r"`semitones` must be a number in \[-48, 48\]"):
            pitch_shift(tone, bad)


def test_duration_seconds():
    assert duration_seconds(40000) == 2.5
    assert duration_seconds(22050, sample_rate=44100) == 0.5
    assert duration_seconds(np.int64(0)) == 0.0
    with pytest.raises(ParameterError, match=r"`n_samples` must be an integer >= 0\. Received: n_samples=-1\."):
        duration_seconds(-1)
    with pytest.raises(ParameterError, match=r"`sample_rate` must be an integer >= 1"):
        duration_seconds(10, sample_rate=1.5)


# --------------------------------------------------------------------------------------------- imports


def test_importing_the_module_loads_neither_tensorflow_nor_librosa():
    code = (
        "import sys, nsynth_widgets.audio; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'librosa') if m in sys.modules))"
    )
    root = pathlib.Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert result.stdout.strip() == "[]"
