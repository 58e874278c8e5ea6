"""Long audio is encoded in blocks: the learned channels equal the whole-file encoding, the pitch is local."""

import numpy as np
import pytest

from nsynth_widgets.dsp import pitch as pitch_module
from nsynth_widgets.dsp.pitch import channel_to_f0, estimate_pitch

from ..conftest import TINY, random_arrays

#: A receptive field wider than a hop (dilations 1..64: 255 samples, 127 each side), so blocks need two hops of context.
WIDE = TINY.replace(name="tiny-wide", ae_num_layers=7, ae_num_stages=7)


@pytest.fixture(scope="module")
def wide_model():
    from nsynth_widgets.model.nsynth import NSynth

    return NSynth(WIDE, random_arrays(WIDE, seed=3), source="test")


@pytest.mark.parametrize("block_frames", [1, 2, 5, 16])
def test_blocked_learned_channels_equal_the_whole_encoding(wide_model, block_frames):
    audio = np.random.default_rng(0).uniform(-0.8, 0.8, (3, 64 * 37 + 11)).astype(np.float32)
    whole = wide_model.encode(audio, block_frames=10**6)
    blocked = wide_model.encode(audio, block_frames=block_frames, batch_size=2)
    assert blocked.shape == whole.shape == (3, 37, 16)
    np.testing.assert_allclose(blocked, whole, rtol=1e-5, atol=1e-6)


def test_the_context_is_what_makes_blocks_exact(wide_model):
    """The premise of the test above: a block encoded without its neighbours differs at its edges."""
    assert (WIDE.ae_receptive_field - 1) // 2 > WIDE.hop_length  # more than one hop of context is needed
    audio = np.random.default_rng(1).uniform(-0.8, 0.8, (1, 64 * 20)).astype(np.float32)
    whole = wide_model.encode(audio, block_frames=10**6)
    alone = wide_model.encode(audio[:, 64 * 5 : 64 * 15], block_frames=10**6)
    assert np.abs(alone[0, 0] - whole[0, 5]).max() > 1e-3  # without context, the edge frames are wrong


def test_blocked_encoding_of_a_pitch_conditioned_model(pitch_model):
    t = np.arange(64 * 50) / 16000
    audio = (0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    whole = pitch_model.encode(audio, block_frames=10**6)
    np.testing.assert_allclose(pitch_model.encode(audio, block_frames=3), whole, rtol=1e-5, atol=1e-6)


@pytest.fixture
def small_blocks(monkeypatch):
    """Pitch blocks of 32 frames with 8 frames of context, so that tests of blocking stay short."""
    monkeypatch.setattr(pitch_module, "BLOCK_SAMPLES", 32 * 512)
    monkeypatch.setattr(pitch_module, "CONTEXT_SAMPLES", 8 * 512)


def _glide(seconds, rate=16000):
    """A tone gliding from 200 to 400 Hz and back, so that every block has its own pitch."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 200 * 2 ** (0.5 + 0.5 * np.sin(2 * np.pi * t / seconds - np.pi / 2))
    return (0.5 * np.sin(2 * np.pi * np.cumsum(f0) / rate)).astype(np.float32), f0


def test_blockwise_pitch_follows_a_long_glide_across_block_edges(monkeypatch):
    audio, f0 = _glide(5.0)  # 156 frames
    whole = estimate_pitch(audio)  # one block at the real size
    monkeypatch.setattr(pitch_module, "BLOCK_SAMPLES", 32 * 512)  # five blocks
    monkeypatch.setattr(pitch_module, "CONTEXT_SAMPLES", 8 * 512)
    blocked = estimate_pitch(audio)
    centres = np.arange(blocked.shape[0]) * 512 + 256
    cents = 1200 * np.log2(channel_to_f0(blocked[2:-2, 0]) / f0[centres[2:-2]])
    assert np.abs(cents).max() < 30 and blocked[2:-2, 1].min() > 0.5
    # block edges leave no mark: the blocked estimate is the whole-signal one
    assert np.abs(1200 * (blocked[:, 0] - whole[:, 0])).max() < 1.0
    np.testing.assert_allclose(blocked[:, 1], whole[:, 1], atol=0.01)


def test_blockwise_pitch_of_a_frame_depends_only_on_its_block_and_context(small_blocks):
    audio, _ = _glide(5.0)
    changed = audio.copy()
    changed[100 * 512 :] = np.random.default_rng(2).uniform(-0.5, 0.5, changed.size - 100 * 512)  # from frame 100 on
    before, after = estimate_pitch(audio), estimate_pitch(changed)
    # frames 0-63 form blocks 0 and 1, analysed with context up to frame 72: untouched by the change
    np.testing.assert_array_equal(before[:64], after[:64])
    assert np.abs(before[100:, 1] - after[100:, 1]).max() > 0.5  # the noise is unvoiced


def test_a_sound_of_one_block_is_analysed_whole(small_blocks):
    audio, _ = _glide(1.0)  # 31 frames: within one block, so no context cut
    pitch = estimate_pitch(audio)
    import librosa  # the whole-signal estimate, run directly

    y = audio[256 : 31 * 512]
    f0, _, probability = librosa.pyin(
        y,
        fmin=pitch_module.PITCH_FMIN,
        fmax=pitch_module.PITCH_FMAX,
        sr=16000,
        frame_length=2048,
        hop_length=512,
        resolution=0.25,
        fill_na=np.nan,
    )
    np.testing.assert_allclose(pitch[:, 1], probability[:31], atol=1e-6)
