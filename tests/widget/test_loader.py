import html

import numpy as np
import pytest

from nsynth_widgets.errors import ParameterError
from nsynth_widgets.example_sounds import examples, load_example
from nsynth_widgets.widgets import LoadPanel
from nsynth_widgets.widgets.loader import DEFAULT_LENGTH, MAX_UPLOAD_BYTES, trim

from .conftest import send_files, tone, wav_bytes, wav_samples

PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


@pytest.fixture
def panel(session):
    return LoadPanel(session, run_in_thread=False)


def test_trim():
    audio = np.arange(100, dtype=np.float32)
    np.testing.assert_array_equal(trim(audio, 0.25, 10, sample_rate=100), audio[25:35])
    np.testing.assert_array_equal(trim(audio, 0.95, 10, sample_rate=100), audio[95:])
    np.testing.assert_array_equal(trim(audio, 0.0, 0, sample_rate=100), audio)
    with pytest.raises(ParameterError, match=r"`start` must be before the end of the sound \(1.00 s\)"):
        trim(audio, 1.0, 10, sample_rate=100)
    with pytest.raises(ParameterError, match=r"`length` must be an integer in \[0, 960000\]. Received: length=-1."):
        trim(audio, 0.0, -1)


def test_upload_is_resampled_to_16k_mono_and_trimmed(panel, session):
    rate, n = 22050, 22050
    t = np.arange(n) / rate
    stereo = np.stack([0.4 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 440 * t)], axis=1)
    panel.length.value = 8000
    send_files(panel.upload, ("violin take 1.wav", wav_bytes(stereo, rate)))
    audio = session.sounds["violin take 1"]
    assert audio.shape == (8000,) and audio.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    assert abs(np.argmax(spectrum) * 16000 / audio.size - 440) < 2.5  # still 440 Hz at 16 kHz
    assert np.max(np.abs(audio[100:-100])) == pytest.approx(0.3, abs=0.01)  # the mean of both channels
    assert session.selected == ["violin take 1"]
    assert "Added &#x27;violin take 1&#x27;: 8000 samples (0.50 s)" in panel.message.value
    assert panel.error.value == ""
    assert panel.sound.value == "violin take 1"
    np.testing.assert_allclose(wav_samples(panel.player.value), audio, atol=1e-4)
    assert panel.player.autoplay is False and panel.player.loop is False


def test_trim_settings_apply_to_uploads(panel, session):
    audio = tone(16000)
    panel.start.value = 0.25
    panel.length.value = 4000
    send_files(panel.upload, ("x.flac", wav_bytes(audio)))  # any accepted name; content decides
    np.testing.assert_allclose(session.sounds["x"], audio[4000:8000], atol=1e-6)
    panel.length.value = 0
    send_files(panel.upload, ("x.wav", wav_bytes(audio)))
    np.testing.assert_allclose(session.sounds["x"], audio[4000:], atol=1e-6)


@pytest.mark.parametrize(
    "files, message",
    [
        ([("fake.wav", PNG)], "`source` must be a readable audio file"),
        (
            [("picture.png", PNG)],
            "`file` must be a .wav, .flac, .ogg, .mp3 file. Received: file=&#x27;picture.png&#x27;.",
        ),
        ([("empty.wav", b"")], "the file is empty"),
        (
            [("huge.wav", bytes(MAX_UPLOAD_BYTES + 1))],
            "`file` must be at most 20 MB. Received: file=&#x27;huge.wav&#x27; of 20.0 MB.",
        ),
        (
            [("held back.wav", 300 * 2**20)],
            "`file` must be at most 20 MB. Received: file=&#x27;held back.wav&#x27; of 300.0 MB.",
        ),
        ([("silence.wav", wav_bytes(np.zeros(1000, np.float32)))], "must not be silent"),
    ],
)
def test_bad_uploads_show_a_message_and_keep_the_session(panel, session, files, message):
    session.add_sound("kept", tone(1000))
    send_files(panel.upload, *files)
    assert message in panel.error.value
    assert "Traceback" not in panel.error.value
    assert list(session.sounds) == ["kept"] and session.selected == ["kept"]
    assert html.escape(session.error) in panel.error.value  # the dashboard's status line shows it too


@pytest.mark.parametrize(
    "content, buffers, message",
    [
        (
            {"type": "file", "name": 5, "size": 4},
            [memoryview(b"RIFF")],
            "`file` must arrive as a name and at most one binary buffer",
        ),
        (
            {"type": "file", "name": "a.wav", "size": 4},
            [memoryview(b"RI"), memoryview(b"FF")],
            "at most one binary buffer",
        ),
        (
            {"type": "file", "name": "a.wav", "size": 4},
            [],
            "`file` must arrive with its content. Received: file=&#x27;a.wav&#x27;",
        ),
        ({"type": "file", "name": "a.wav", "size": True}, [], "`file` must arrive with its content"),
        ({"type": "too_many", "count": 50}, [], "`files` must be at most 8 at once. Received: 50 files."),
    ],
)
def test_malformed_upload_messages(panel, session, content, buffers, message):
    panel.upload._handle_custom_msg(content, buffers)  # what a crafted client could send
    assert message in panel.error.value
    assert session.sounds == {}


def test_size_is_taken_from_the_bytes_received_not_from_the_message(panel, session):
    panel.upload._handle_custom_msg(
        {"type": "file", "name": "a.wav", "size": 10}, [memoryview(bytes(MAX_UPLOAD_BYTES + 1))]
    )
    assert "`file` must be at most 20 MB" in panel.error.value


def test_one_bad_file_does_not_stop_the_others(panel, session):
    send_files(panel.upload, ("bad.wav", PNG), ("good.wav", wav_bytes(tone(3000))))
    assert list(session.sounds) == ["good"]
    assert "Added &#x27;good&#x27;" in panel.message.value
    assert "readable audio file" in panel.error.value


def test_every_error_of_a_pick_names_its_file(panel, session):
    send_files(panel.upload, ("one.wav", PNG), ("two.wav", b""), ("three.wav", wav_bytes(tone(3000))))
    assert "&#x27;one.wav&#x27; was not added: `source` must be a readable audio file" in panel.error.value
    assert "&#x27;two.wav&#x27; was not added:" in panel.error.value and "the file is empty" in panel.error.value
    assert list(session.sounds) == ["three"]


def test_start_beyond_the_end(panel, session):
    panel.start.value = 2.0
    send_files(panel.upload, ("short.wav", wav_bytes(tone(8000))))
    assert "`start` must be before the end of the sound (0.50 s)" in panel.error.value
    assert session.sounds == {}


def test_visitor_cannot_widen_the_bounds(panel, session):
    panel.length.max = 10**9
    panel.length.value = 10**8
    send_files(panel.upload, ("a.wav", wav_bytes(tone(8000))))
    assert "`length` must be an integer in [0, 960000]. Received: length=100000000." in panel.error.value
    assert session.sounds == {}


def test_add_example(panel, session):
    name = sorted(examples())[0]
    panel.example.value = name
    panel.add_example_button.click()
    np.testing.assert_array_equal(session.sounds[name], load_example(name)[:DEFAULT_LENGTH])
    panel.example.options = [*examples(), "not an example"]
    panel.example.value = "not an example"
    panel.add_example_button.click()
    assert "`example` must be one of [" in panel.error.value
    assert list(session.sounds) == [name]


def test_recording_goes_through_the_same_handler(panel, session):
    shown = []
    panel.recorder.show_status = shown.append
    audio = tone(12000)
    panel.recorder._handle_custom_msg({"type": "recording", "mime": "audio/wav"}, [memoryview(wav_bytes(audio))])
    np.testing.assert_allclose(session.sounds["recording 1"], audio[:DEFAULT_LENGTH], atol=1e-6)
    assert shown == ["Added 'recording 1': 12000 samples (0.75 s)."]
    panel.recorder._handle_custom_msg({"type": "recording", "mime": "audio/webm"}, [memoryview(PNG)])
    assert "readable audio file" in panel.error.value
    assert shown[-1] == "The recording could not be used (see the message below)."
    panel.recorder._handle_custom_msg({"type": "something else"}, [])
    assert list(session.sounds) == ["recording 1"]


def test_upload_in_a_thread(session):
    panel = LoadPanel(session)
    send_files(panel.upload, ("threaded.wav", wav_bytes(tone(4000))))
    panel.wait(30)
    assert list(session.sounds) == ["threaded"]


def test_remove_and_play(panel, session):
    session.add_sound("a", tone(1000))
    session.add_sound("b", tone(2000, 220.0))
    assert panel.sound.options == ("a", "b") and panel.sound.value == "b"
    panel.sound.value = "a"
    np.testing.assert_allclose(wav_samples(panel.player.value), session.sounds["a"], atol=1e-4)
    panel.remove_button.click()
    assert list(session.sounds) == ["b"] and panel.sound.options == ("b",)
    np.testing.assert_allclose(wav_samples(panel.player.value), session.sounds["b"], atol=1e-4)
