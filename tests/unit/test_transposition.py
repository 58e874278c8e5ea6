"""The transposition map: what a transposed encoding's learned channels become, and how it is fitted."""

import numpy as np
import pytest

from nsynth_widgets.cli import main
from nsynth_widgets.errors import CheckpointError, ParameterError
from nsynth_widgets.model.nsynth import NSynth
from nsynth_widgets.model.transposition import TranspositionMap
from nsynth_widgets.training.transposition import (
    _crops,
    _encoded_groups,
    _mapped_decoder,
    _pairs,
    fit_transposition_map,
    transposition_examples,
    tune_transposition_map,
)

from ..conftest import TINY_PITCH, midi_hz, random_arrays, write_keyboard_notes


def _random_map(rng, context=1, hidden=6, channels=16, learned=14):
    widths = [(2 * context + 1) * channels + 1, hidden, hidden, learned]
    return TranspositionMap(
        [(rng.normal(0, 0.3, (a, b)), rng.normal(0, 0.1, b)) for a, b in zip(widths, widths[1:])], channels, learned
    )


def _reference(layers, encoding, semitones, context, learned):
    """The map's formula frame by frame: clamped neighbours, ReLU between layers, change times semitones / 12."""
    batch, frames, _ = encoding.shape
    out = np.empty((batch, frames, learned))
    s = semitones / 12.0
    for b in range(batch):
        for t in range(frames):
            neighbours = [encoding[b, min(max(t + k, 0), frames - 1)] for k in range(-context, context + 1)]
            h = np.concatenate(neighbours + [[s]]).astype(np.float64)
            for i, (w, bias) in enumerate(layers):
                h = h @ w + bias
                if i < len(layers) - 1:
                    h = np.maximum(h, 0)
            out[b, t] = encoding[b, t, :learned] + s * h
    return out


def test_the_map_computes_its_formula_and_leaves_a_zero_interval_alone():
    rng = np.random.default_rng(0)
    transposition = _random_map(rng, context=2)
    encoding = rng.normal(0, 1, (2, 7, 16)).astype(np.float32)
    np.testing.assert_allclose(
        transposition(encoding, 7.0), _reference(transposition.layers, encoding, 7.0, 2, 14), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_array_equal(transposition(encoding, 0.0), encoding[..., :14])
    assert transposition.context == 2


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: a.pop("transposition/dense_1/biases"), r"must hold W and biases of every transposition layer"),
        (lambda a: a.update({"transposition/extra": np.zeros(3)}), r"Received: 'transposition/extra'"),
        (
            lambda a: a.update(
                {"transposition/dense_2/W": np.zeros((6, 13)), "transposition/dense_2/biases": np.zeros(13)}
            ),
            r"writing 14\. Received: layer shapes",
        ),
        (
            lambda a: a.update({"transposition/dense_0/W": np.zeros((40, 6))}),
            r"reading \(2 \* context \+ 1\) \* 16 \+ 1 inputs",
        ),
    ],
)
def test_a_malformed_map_in_a_weights_file_is_refused(change, match):
    arrays = _random_map(np.random.default_rng(1)).to_arrays()
    change(arrays)
    with pytest.raises(CheckpointError, match=match):
        TranspositionMap.from_arrays(arrays, TINY_PITCH)


def test_only_a_pitch_conditioned_model_may_hold_a_map(tiny_config):
    with pytest.raises(CheckpointError, match=r"only for a pitch-conditioned model. Received: model 'tiny'"):
        TranspositionMap.from_arrays(_random_map(np.random.default_rng(1)).to_arrays(), tiny_config)


def test_a_model_with_a_map_transposes_its_learned_channels_and_saves_the_map(tmp_path):
    rng = np.random.default_rng(2)
    transposition = _random_map(rng)
    model = NSynth(TINY_PITCH, random_arrays(TINY_PITCH) | transposition.to_arrays(), source="test")
    enc = rng.normal(0, 0.5, (1, 6, 16)).astype(np.float32)
    enc[..., 14], enc[..., 15] = -0.5, 0.9
    up = model.transpose(enc, 5)
    np.testing.assert_allclose(up[..., :14], _reference(transposition.layers, enc, 5, 1, 14), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(up[..., 14], enc[..., 14] + 5 / 12, atol=1e-6)
    np.testing.assert_array_equal(up[..., 15], enc[..., 15])
    with pytest.raises(ParameterError, match=r"`semitones` must keep the pitch within"):
        model.transpose(enc, 60)

    loaded = NSynth.from_weights(model.save_weights(tmp_path / "with_map.npz"))
    np.testing.assert_array_equal(loaded.transpose(enc, 5), up)
    for (w, b), (w2, b2) in zip(transposition.layers, loaded.transposition_map.layers):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)
    assert NSynth(TINY_PITCH, random_arrays(TINY_PITCH)).transposition_map is None


def test_examples_pair_every_two_notes_of_a_group_within_the_largest_interval():
    rng = np.random.default_rng(3)
    encodings = rng.normal(0, 1, (3, 4, 16)).astype(np.float32)
    features, changes = transposition_examples(encodings, [60, 62, 76], context=1, max_interval=12, learned=14)
    assert features.shape == (2 * 4, 3 * 16 + 1) and changes.shape == (8, 14)  # 60→62 and 62→60: 76 is too far
    first = slice(0, 4)  # note 60 → note 62: interval 2
    np.testing.assert_allclose(features[first, -1], 2 / 12)
    np.testing.assert_allclose(features[first, 16:32], encodings[0])  # the middle frame of the window is the frame
    np.testing.assert_allclose(changes[first], (encodings[1, :, :14] - encodings[0, :, :14]) / (2 / 12), rtol=1e-6)


def _brightening_sines(program, pitch):
    """Four partials whose rolloff depends on the "instrument" (its program)."""
    t = np.arange(64000) / 16000
    tone = sum((0.6 + 0.1 * program) ** k * np.sin(2 * np.pi * midi_hz(pitch) * (k + 1) * t) for k in range(4))
    return 0.15 * tone


@pytest.fixture(scope="module")
def sine_notes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sine_notes")
    instruments = (("train", 0), ("train", 1), ("valid", 2))
    write_keyboard_notes(
        folder, [(*one, pitch) for one in instruments for pitch in range(48, 73, 2)], _brightening_sines
    )
    return folder


class _PitchTimbre:
    """The tiny model's encoder with learned channels that follow the measured pitch smoothly (the
    way a real encoder's carry it), so that a correct fit can leave little of their change."""

    def __init__(self, model):
        self.model, self.config = model, model.config

    def encode(self, audio, batch_size=8):
        encoding = self.model.encode(audio, batch_size=batch_size)
        f0 = encoding[..., 14:15]
        encoding[..., :14] = np.sin(np.arange(1, 15) * 0.7 * f0 + np.arange(14))
        return encoding


def test_a_fitted_map_predicts_the_learned_channels_of_held_out_notes_at_other_pitches(pitch_model, sine_notes):
    """On the held-out instrument the map leaves a small part of the change that not moving the
    learned channels leaves."""
    fitted, report = fit_transposition_map(
        _PitchTimbre(pitch_model), sine_notes, groups=2, valid_groups=1, epochs=20, seconds=0.5
    )
    pitches = range(48, 73, 2)
    pairs = sum(0 < abs(a - b) <= 12 for a in pitches for b in pitches)  # of one instrument
    assert report["train_examples"] == 2 * pairs * 125 and report["valid_examples"] == pairs * 125  # 0.5 s: 125 frames
    assert report["valid_error_ratio"] < 0.25, report  # 1.0: the channels left as they are
    model = NSynth(TINY_PITCH, random_arrays(TINY_PITCH) | fitted.to_arrays())
    assert model.transposition_map.context == 2


def test_cli_fits_a_map_and_writes_the_weights(tmp_path, sine_notes, pitch_model, tiny_model, capsys):
    weights = pitch_model.save_weights(tmp_path / "pitch.npz")
    out = tmp_path / "with_map.npz"
    args = ["fit-transposition", str(weights), str(sine_notes), "-o", str(out), "--groups", "2", "--valid-groups", "1"]
    assert main(args + ["--epochs", "1", "--seconds", "0.5"]) == 0
    assert f"-> {out}" in capsys.readouterr().out
    assert NSynth.from_weights(out).transposition_map is not None
    assert main(args) == 2
    assert "pass --overwrite to replace them" in capsys.readouterr().err
    assert main(args[:-4] + ["--groups", "0", "--overwrite"]) == 2
    assert "`--groups` must be an integer >= 1. Received: --groups=0." in capsys.readouterr().err
    plain = tiny_model.save_weights(tmp_path / "plain.npz")
    assert main(["fit-transposition", str(plain), str(sine_notes), "-o", str(tmp_path / "x.npz")]) == 2
    assert "`model` must be pitch-conditioned to fit a transposition map" in capsys.readouterr().err


@pytest.fixture(scope="module")
def mapped_model():
    """The tiny pitch-conditioned model with a random transposition map (context 1)."""
    arrays = random_arrays(TINY_PITCH, seed=1) | _random_map(np.random.default_rng(5)).to_arrays()
    return NSynth(TINY_PITCH, arrays, source="test")


def test_the_map_being_tuned_feeds_the_decoder_what_the_numpy_map_computes(mapped_model, sine_notes):
    """Inside the tuning, the Keras copy of the map and the decoder it feeds give the logits of the
    NumPy map's learned channels (the first note's, moved) with the second note's pitch channels."""
    import keras

    train, _ = _encoded_groups(mapped_model, sine_notes, 1, 1, 0.5, 0, 8, None)
    pairs = _pairs(train, 12)
    x, _ = _crops(TINY_PITCH, train, pairs[:3], 1, 4, np.random.default_rng(0))
    g, i, j, interval = pairs[0]
    assert (g, i, abs(interval)) == (0, 0, 2)
    transposition = mapped_model.transposition_map
    moved = transposition(train[g][1][i : i + 1], interval)[0]  # the whole note, as model.transpose moves it
    start = [k for k in range(moved.shape[0] - 3) if np.allclose(x["learned"][0], train[g][1][i, k : k + 4, :14])]
    assert start, "the crop's learned channels are four consecutive frames of the first note"
    np.testing.assert_allclose(x["pitch"][0], train[g][1][j, start[0] : start[0] + 4, 14:])
    net = mapped_model.keras_model
    encoding = np.concatenate([moved[None, start[0] : start[0] + 4], x["pitch"][:1]], axis=-1)
    want = keras.ops.convert_to_numpy(net.decode_logits(x["audio"][:1], encoding, x["excitation"][:1]))
    got = keras.ops.convert_to_numpy(_mapped_decoder(net, transposition)(x))
    np.testing.assert_allclose(got[:1], want, rtol=1e-4, atol=1e-4)


def test_tuning_lowers_the_held_out_loss_and_changes_nothing_but_the_map(mapped_model, sine_notes):
    before = [w.copy() for w in mapped_model.keras_model.get_weights()]
    tuned, report = tune_transposition_map(
        mapped_model,
        sine_notes,
        steps=40,
        groups=2,
        valid_groups=1,
        seconds=0.5,
        crop_frames=4,
        learning_rate=3e-3,
        eval_every=20,
    )
    assert report["steps"] == 40 and [step for step, _ in report["history"]] == [20, 40]
    assert report["history"][-1][1] == report["after"]
    assert report["after"] < report["before"], report
    assert mapped_model.keras_model.trainable
    for was, now in zip(before, mapped_model.keras_model.get_weights()):
        np.testing.assert_array_equal(was, now)
    assert tuned.context == mapped_model.transposition_map.context
    assert any(not np.array_equal(a, b) for (a, _), (b, _) in zip(tuned.layers, mapped_model.transposition_map.layers))
    encoding = mapped_model.encode(np.zeros(640, np.float32) + 0.1)
    np.testing.assert_array_equal(tuned(encoding, 0.0), encoding[..., :14])


def test_tuning_needs_a_map_and_crops_that_fit(pitch_model, mapped_model, sine_notes):
    with pytest.raises(ParameterError, match="hold a transposition map to tune it"):
        tune_transposition_map(pitch_model, sine_notes)
    with pytest.raises(ParameterError, match=r"`crop_frames` must fit in the 125 frames of `seconds`=0.5"):
        tune_transposition_map(mapped_model, sine_notes, seconds=0.5, crop_frames=126)


def test_cli_tunes_the_map_the_weights_hold(tmp_path, mapped_model, pitch_model, sine_notes, capsys):
    weights = mapped_model.save_weights(tmp_path / "mapped.npz")
    out = tmp_path / "tuned.npz"
    args = ["fit-transposition", str(weights), str(sine_notes), "-o", str(out), "--groups", "2", "--valid-groups", "1"]
    assert main(args + ["--keep-map", "--tune-steps", "2", "--seconds", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "after tuning" in printed and f"-> {out}" in printed
    tuned = NSynth.from_weights(out).transposition_map
    assert any(not np.array_equal(a, b) for (a, _), (b, _) in zip(tuned.layers, mapped_model.transposition_map.layers))
    assert main(args + ["--keep-map", "--overwrite"]) == 2
    assert "`--tune-steps` must be >= 1 with `--keep-map`" in capsys.readouterr().err
    plain = pitch_model.save_weights(tmp_path / "no_map.npz")
    assert main(["fit-transposition", str(plain), str(sine_notes), "-o", str(out), "--keep-map", "--overwrite"]) == 2
    assert "`--keep-map` needs weights that hold a transposition map" in capsys.readouterr().err
