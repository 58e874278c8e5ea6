"""The Play tab: a keyboard that plays a sound's timbre at the pressed key (pitch-conditioned models),
and the pitch controls of the Resynthesize and Mix tabs."""

import numpy as np
import pytest

from nsynth_widgets.dsp.pitch import channel_to_f0
from nsynth_widgets.runtime import Synthesizer
from nsynth_widgets.widgets import MixPanel, PlayPanel, ResynthPanel
from nsynth_widgets.widgets.play import KEYS, keyboard_range, note_name
from nsynth_widgets.widgets.session import Session

from .conftest import CallCounter, tone, wav_samples


@pytest.fixture
def pitched(pitch_model):
    """A session on the tiny pitch-conditioned model, with a 330 Hz (E4, MIDI 64.02) tone."""
    session = Session(Synthesizer(pitch_model))
    session.add_sound("tone", tone(4096, frequency=330.0))
    return session


def test_keyboard_range_puts_the_sound_in_the_middle():
    assert keyboard_range(64.02) == range(48, 73) and len(keyboard_range(40.0)) == KEYS
    assert keyboard_range(36.4) == range(24, 49)
    assert [note_name(m) for m in (21, 60, 61, 69)] == ["A0", "C4", "C#4", "A4"]


def test_prepare_synthesizes_every_key_in_one_batch_then_keys_play_at_once(pitched, pitch_model, monkeypatch):
    counter = CallCounter(monkeypatch, pitch_model, "synthesize")
    panel = PlayPanel(pitched, run_in_thread=False)
    assert panel.sound.value == "tone" and all(key.disabled for key in panel.keys)
    panel.prepare_button.click()
    assert panel.error.value == "" and "sounds at E4" in panel.message.value
    assert [key.midi for key in panel.keys] == list(range(48, 73)) and not any(key.disabled for key in panel.keys)

    (call,) = counter.calls  # one batched synthesis of every key
    batch = call[0][0]
    assert batch.shape == (KEYS, 4096 // 64, 16)
    voiced = batch[0, :, 15] >= 0.5
    for row, midi in zip(batch, range(48, 73)):  # each row is the tone's encoding moved to its key
        f0 = np.median(channel_to_f0(row[voiced, 14]))
        assert abs(1200 * np.log2(f0 / (440.0 * 2 ** ((midi - 69) / 12)))) < 0.01
        np.testing.assert_array_equal(row[:, :14], batch[0, :, :14])

    panel.keys[7].click()  # G3
    np.testing.assert_allclose(wav_samples(panel.player.value), panel.notes[55], atol=1e-4)
    assert "G3" in panel.message.value
    panel.keys[7].click()  # the same key again plays again (the value is set anew)
    assert len(panel.player.value) > 0 and len(counter.calls) == 1

    panel.prepare_button.click()  # prepared again: the synthesizer's cache answers
    assert len(counter.calls) == 1


def test_the_notes_are_forgotten_when_the_sound_changes(pitched):
    panel = PlayPanel(pitched, run_in_thread=False)
    panel.prepare_button.click()
    pitched.add_sound("tone", tone(4096, frequency=220.0))
    assert panel.notes == {} and all(key.disabled for key in panel.keys)
    with pytest.raises(Exception, match=r"`key` must be a prepared key of the keyboard"):
        panel.press(60)


def test_a_sound_without_pitch_and_a_model_without_pitch_channels_get_messages(pitched, session):
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, 4096).astype(np.float32)
    pitched.add_sound("noise", noise)
    panel = PlayPanel(pitched, run_in_thread=False)
    panel.sound.value = "noise"
    panel.prepare_button.click()
    assert "must have a pitch to play at other keys: pYIN finds no voiced frame" in panel.error.value
    assert panel.notes == {}

    session.add_sound("tone", tone(4096))
    plain = PlayPanel(session, run_in_thread=False)
    plain.prepare_button.click()
    assert "has no pitch channels" in plain.error.value and "pitch_shift" in plain.error.value


def test_resynthesize_transposed(pitched, pitch_model, monkeypatch, session):
    counter = CallCounter(monkeypatch, pitch_model, "synthesize")
    panel = ResynthPanel(pitched, run_in_thread=False)
    assert panel.transpose.layout.display is None
    panel.transpose.value = -7.0
    panel.synthesize_button.click()
    encoding = counter.calls[0][0][0]
    np.testing.assert_allclose(encoding[..., 14], pitched.encodings["tone"][..., 14] - 7 / 12, atol=1e-6)
    assert "transposed by -7 semitones" in panel.message.value
    assert ResynthPanel(session, run_in_thread=False).transpose.layout.display == "none"


@pytest.mark.parametrize("choice, source", [("a", "tone"), ("b", "low"), ("mix", None)])
def test_mix_plays_at_a_chosen_pitch(pitched, pitch_model, monkeypatch, choice, source):
    pitched.add_sound("low", tone(4096, frequency=165.0))
    counter = CallCounter(monkeypatch, pitch_model, "synthesize")
    panel = MixPanel(pitched, run_in_thread=False)
    panel.sound_a.value, panel.sound_b.value, panel.weight.value = "tone", "low", 0.25
    panel.pitch.value = choice
    panel.synthesize_button.click()
    mixed = counter.calls[0][0][0]
    a, b = pitched.encodings["tone"], pitched.encodings["low"]
    expected = 0.75 * a[..., 14] + 0.25 * b[..., 14] if source is None else pitched.encodings[source][..., 14]
    np.testing.assert_allclose(mixed[..., 14], expected, atol=1e-6)
    np.testing.assert_allclose(mixed[..., :14], 0.75 * a[..., :14] + 0.25 * b[..., :14], atol=1e-6)
