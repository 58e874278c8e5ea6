import base64
import io
import re

import numpy as np
import pytest

from nsynth_widgets.errors import EncodingError
from nsynth_widgets.widgets import EncodePanel, Session
from nsynth_widgets.widgets.encoder import MAX_ENCODING_BYTES, npy_bytes, read_npy

from .conftest import CallCounter, tone, send_files


@pytest.fixture
def panel(session):
    return EncodePanel(session, run_in_thread=False)


def _downloads(panel):
    """``{file name: array}`` from the panel's data-URI links."""
    links = re.findall(r'download="([^"]+)" href="data:application/octet-stream;base64,([^"]+)"', panel.downloads.value)
    return {name: np.load(io.BytesIO(base64.b64decode(data))) for name, data in links}


def test_encode_selected_in_one_batch(panel, session, tiny_model, monkeypatch):
    counter = CallCounter(monkeypatch, tiny_model, "encode")
    hop = tiny_model.config.hop_length
    a, b = tone(30 * hop), tone(30 * hop, 262.0)
    session.add_sound("a", a)
    session.add_sound("b c", b)
    session.add_sound("unused", tone(5 * hop))
    assert panel.sounds.options == ("a", "b c", "unused")
    assert panel.sounds.value == ("a", "b c", "unused")
    panel.sounds.value = ("a", "b c")
    assert session.selected == ["a", "b c"]
    panel.encode_button.click()
    assert len(counter.calls) == 1 and counter.calls[0][0][0].shape == (2, 30 * hop)
    expected = tiny_model.encode(np.stack([a, b]))
    np.testing.assert_allclose(session.encodings["a"][0], expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(session.encodings["b c"][0], expected[1], rtol=1e-5, atol=1e-6)
    assert "Encoded &#x27;a&#x27; → 1×30×16, &#x27;b c&#x27; → 1×30×16." in panel.message.value
    downloads = _downloads(panel)
    assert sorted(downloads) == ["a.npy", "b_c.npy"]
    np.testing.assert_array_equal(downloads["b_c.npy"], session.encodings["b c"])


def test_nothing_selected(panel, session):
    session.add_sound("a", tone(1000))
    panel.sounds.value = ()
    panel.encode_button.click()
    assert "`sounds` must have at least one sound selected" in panel.error.value
    assert session.encodings == {}


def test_load_an_encoding(panel, session, tiny_model):
    encoding = np.random.default_rng(1).normal(size=(1, 9, 16)).astype(np.float32)
    send_files(panel.load_upload, ("cello.npy", npy_bytes(encoding)))
    np.testing.assert_array_equal(session.encodings["cello"], encoding)
    assert "Loaded the encoding &#x27;cello&#x27; (9 frames)." in panel.message.value
    assert "cello.npy" in _downloads(panel)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(50), "`file` must be a .npy file written by NumPy"),
        (npy_bytes(np.zeros((9, 3), np.float32)), "must have 16 channels"),
        (npy_bytes(np.array([np.nan] * 16, np.float32).reshape(1, 16)), "must be finite"),
        (bytes(MAX_ENCODING_BYTES + 1), "`file` must be at most 4 MB"),
        (50 * 2**20, "`file` must be at most 4 MB. Received: file=&#x27;bad.npy&#x27; of 50.0 MB."),  # held back
        # 60 s at hop 64 is 15000 frames: one more is refused from the header, before its data are read
        (npy_bytes(np.zeros((1, 15001, 16), np.float32)), "`file` must hold at most 15000 frames (`max_frames`)"),
        (npy_bytes(np.zeros((1, 9, 16), np.float32))[:-4], "truncated or padded"),
    ],
    ids=["png", "3 channels", "nan", "over 4 MB", "held back", "too many frames", "truncated"],
)
def test_bad_encoding_files(panel, session, content, message):
    send_files(panel.load_upload, ("bad.npy", content))
    assert message in panel.error.value
    assert session.encodings == {}


def test_read_npy_refuses_pickles():
    content = io.BytesIO()
    np.save(content, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(EncodingError, match="must be a .npy file written by NumPy"):
        read_npy(content.getvalue())


def test_missing_default_model_is_a_visible_message(monkeypatch, tmp_path):
    import nsynth_widgets.model.config as model_config

    monkeypatch.setattr(model_config, "DEFAULT_WEIGHTS", tmp_path / "absent.npz")
    session = Session()
    panel = EncodePanel(session, run_in_thread=False)
    session.add_sound("a", tone(2048))
    panel.encode_button.click()
    assert "`NSynth.default()` must find the embedded weights" in panel.error.value
    assert session.encodings == {} and "embedded weights" in session.error


def test_encode_in_a_thread(session, tiny_model):
    panel = EncodePanel(session)
    session.add_sound("a", tone(640))
    panel.encode_button.click()
    panel.wait(60)
    assert session.encodings["a"].shape == (1, 10, 16)
