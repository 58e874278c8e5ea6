import numpy as np
import pytest

from nsynth_widgets.errors import AudioError, EncodingError, ParameterError
from nsynth_widgets.runtime import Synthesizer
from nsynth_widgets.widgets import Session
from nsynth_widgets.widgets.session import MAX_SAMPLES

from .conftest import CallCounter, tone


def test_session_construction_loads_nothing(monkeypatch, tmp_path):
    import nsynth_widgets.model.config as model_config

    monkeypatch.setattr(model_config, "DEFAULT_WEIGHTS", tmp_path / "absent.npz")
    session = Session()  # the default model is missing: building must still work
    assert isinstance(session.synthesizer, Synthesizer)
    assert session.sounds == {} and session.selected == [] and session.current is None


def test_session_wraps_a_model(tiny_model):
    session = Session(tiny_model)
    assert session.synthesizer.model is tiny_model


def test_add_sound_stores_a_read_only_copy_and_selects_it(session):
    audio = tone(3000)
    before = audio.copy()
    changes = []
    session.observe(lambda change: changes.append(change["name"]), names=["sounds", "selected"])
    assert session.add_sound("  piano ", audio) == "piano"
    stored = session.sounds["piano"]
    np.testing.assert_array_equal(stored, audio)
    assert stored is not audio and stored.dtype == np.float32 and not stored.flags.writeable
    np.testing.assert_array_equal(audio, before)
    assert session.selected == ["piano"] and session.current == "piano"
    assert changes == ["sounds", "selected"]
    session.add_sound("organ", tone(2000, 220.0))
    assert session.selected == ["piano", "organ"]
    assert session.names() == ["organ", "piano"]


@pytest.mark.parametrize(
    "name, audio, message",
    [
        ("", tone(100), "`name` must be a non-empty string"),
        ("x" * 81, tone(100), "at most 80 characters"),
        (3, tone(100), "Received: name=3."),
        ("a", np.zeros(100, np.float32), "must not be silent"),
        ("a", np.full(100, np.nan, np.float32), "NaN"),
        ("a", np.stack([tone(100), tone(100)]), "must have shape (n,) (one mono sound)"),
        ("a", np.full(MAX_SAMPLES + 1, 0.1, np.float32), f"at most {MAX_SAMPLES} samples"),
    ],
)
def test_add_sound_rejects_bad_input_and_keeps_state(session, name, audio, message):
    session.add_sound("kept", tone(500))
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        session.add_sound(name, audio)
    assert list(session.sounds) == ["kept"] and session.selected == ["kept"]


def test_selected_must_name_sounds(session):
    session.add_sound("a", tone(500))
    with pytest.raises(ParameterError, match=r"`selected` must be one of \['a'\]. Received: selected='ghost'."):
        session.selected = ["a", "ghost"]
    assert session.selected == ["a"]
    session.selected = ["a", "a"]
    assert session.selected == ["a"]


def test_encode_batches_equal_lengths_and_reuses_results(session, tiny_model, monkeypatch):
    counter = CallCounter(monkeypatch, tiny_model, "encode")
    hop = tiny_model.config.hop_length
    a, b, c = tone(20 * hop), tone(20 * hop + 10, 330.0), tone(12 * hop, 550.0)
    for name, audio in [("a", a), ("b", b), ("c", c)]:
        session.add_sound(name, audio)
    result = session.encode(["a", "b", "c"])
    assert list(result) == ["a", "b", "c"]
    batch_sizes = sorted(len(args[0]) for args, _ in counter.calls)
    assert batch_sizes == [1, 2]  # a and b (20 frames each) together, c alone
    expected = tiny_model.encode(np.stack([a[: 20 * hop], b[: 20 * hop]]))
    np.testing.assert_allclose(result["a"][0], expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["b"][0], expected[1], rtol=1e-5, atol=1e-6)
    assert result["c"].shape == (1, 12, tiny_model.config.bottleneck_width)
    assert not result["a"].flags.writeable

    calls = len(counter.calls)
    again = session.encode(["c", "a"])
    assert len(counter.calls) == calls and again["a"] is session.encodings["a"]


def test_encode_errors(session, tiny_model):
    hop = tiny_model.config.hop_length
    with pytest.raises(ParameterError, match="at least one sound"):
        session.encode()
    session.add_sound("short", tone(hop - 1))
    with pytest.raises(AudioError, match=f"`short` must have at least {hop} samples"):
        session.encode(["short"])
    with pytest.raises(ParameterError, match="Received: name='ghost'"):
        session.encode(["ghost"])
    assert session.encodings == {}


def test_replacing_a_sound_forgets_what_was_derived_from_it(session, tiny_model):
    session.add_sound("a", tone(640))
    session.encode(["a"])
    session.set_resynthesis("a", np.zeros(640, np.float32))
    session.add_sound("a", tone(1280))
    assert session.encodings == {} and session.resyntheses == {}


def test_set_encoding_validates(session, tiny_model):
    width = tiny_model.config.bottleneck_width
    encoding = np.random.default_rng(0).normal(size=(7, width)).astype(np.float32)
    session.set_encoding("loaded", encoding)
    assert session.encodings["loaded"].shape == (1, 7, width)
    assert session.names() == ["loaded"]
    with pytest.raises(EncodingError, match=f"must have {width} channels"):
        session.set_encoding("bad", np.zeros((7, width + 1)))
    with pytest.raises(ParameterError, match="must hold one sound"):
        session.set_encoding("bad", np.zeros((2, 7, width)))
    assert list(session.encodings) == ["loaded"]


def test_set_resynthesis_needs_an_encoding(session):
    with pytest.raises(ParameterError, match="Received: name='nothing'"):
        session.set_resynthesis("nothing", np.zeros(10, np.float32))


def test_precision_is_validated_and_kept_on_refusal(session):
    assert session.precision == "float32"
    session.precision = "int8"
    with pytest.raises(
        ParameterError, match=r"`precision` must be one of \['float32', 'int8', 'w8a8'\]. Received: precision='half'."
    ):
        session.precision = "half"
    assert session.precision == "int8"


def test_new_model_forgets_encodings(session, tiny_model):
    session.add_sound("a", tone(640))
    session.encode(["a"])
    session.set_resynthesis("a", np.zeros(640, np.float32))
    session.synthesizer = Synthesizer(tiny_model)
    assert session.encodings == {} and session.resyntheses == {} and "a" in session.sounds


def test_remove_sound(session):
    session.add_sound("a", tone(640))
    session.add_sound("b", tone(640))
    session.remove_sound("a")
    assert list(session.sounds) == ["b"] and session.selected == ["b"]
    with pytest.raises(ParameterError, match="Received: name='a'"):
        session.remove_sound("a")
