"""Loading magenta's TF1 checkpoints (plain and EMA names) and our own weights format."""

import numpy as np
import pytest

from nsynth_widgets.errors import CheckpointError, ParameterError
from nsynth_widgets.model import checkpoint
from nsynth_widgets.model.nsynth import NSynth

from ..conftest import TINY, random_arrays


def write_tf1_checkpoint(prefix, tensors):
    """Write a TF1-format (V2 bundle) checkpoint holding exactly ``tensors`` under their names."""
    import tensorflow as tf

    names = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(tensors[n]) for n in names],
    )
    return str(prefix)


def _training_extras(arrays):
    """What a magenta training checkpoint holds besides the model: step, Adam slots, powers."""
    extras = {
        "global_step": np.array(200000, np.int64),
        "beta1_power": np.float32(0.9),
        "beta2_power": np.float32(0.99),
    }
    for name, value in arrays.items():
        extras[f"{name}/Adam"] = np.ones_like(value)
        extras[f"{name}/Adam_1"] = np.ones_like(value)
    return extras


def test_published_variable_table_matches_reference():
    import json
    from pathlib import Path

    from nsynth_widgets.model.config import H512_BO16

    reference = Path(__file__).resolve().parents[3] / "shared" / "reference" / "nsynth_h512_bo16_variables.json"
    variables = json.loads(reference.read_text())["variables"]
    expected = checkpoint.expected_variables(H512_BO16)
    assert {v["name"]: tuple(v["shape"]) for v in variables} == expected


def test_plain_checkpoint_loads_and_model_matches(tmp_path):
    arrays = random_arrays(TINY, seed=1)
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-200000", {**arrays, **_training_extras(arrays)})
    model = NSynth.from_checkpoint(prefix, config=TINY)
    loaded = model.variables()
    for name, value in arrays.items():
        np.testing.assert_array_equal(loaded[name], value)
    # the Keras kernels really carry the [1, k, in, out] -> [k, in, out] mapping
    np.testing.assert_array_equal(
        model.keras_model.conv_layers()["dilatedconv_2"].kernel.numpy(), arrays["dilatedconv_2/W"][0]
    )


def test_ema_shadows_are_preferred(tmp_path):
    plain = random_arrays(TINY, seed=2)
    shadows = random_arrays(TINY, seed=3)
    tensors = {**plain, **{f"{n}/ExponentialMovingAverage": v for n, v in shadows.items()}, **_training_extras(plain)}
    model = NSynth.from_checkpoint(write_tf1_checkpoint(tmp_path / "model.ckpt-5", tensors), config=TINY)
    loaded = model.variables()
    for name, value in shadows.items():
        np.testing.assert_array_equal(loaded[name], value)


def test_ema_only_checkpoint_loads(tmp_path):
    shadows = random_arrays(TINY, seed=4)
    tensors = {f"{n}/ExponentialMovingAverage": v for n, v in shadows.items()}
    model = NSynth.from_checkpoint(write_tf1_checkpoint(tmp_path / "model.ckpt-6", tensors), config=TINY)
    np.testing.assert_array_equal(model.variables()["logits/W"], shadows["logits/W"])


def test_unused_last_residual_may_be_absent(tmp_path):
    arrays = random_arrays(TINY, seed=5)
    del arrays[f"res_{TINY.num_layers}/W"], arrays[f"res_{TINY.num_layers}/biases"]
    model = NSynth.from_checkpoint(write_tf1_checkpoint(tmp_path / "m", arrays), config=TINY)
    assert model.synthesize(np.zeros((1, 1, 16), np.float32), greedy=True).shape == (1, 64)


def test_missing_misshaped_and_extra_variables_are_all_named(tmp_path):
    arrays = random_arrays(TINY, seed=6)
    del arrays["skip_3/W"]
    arrays["cond_map_2/W"] = np.zeros((1, 1, 16, 4), np.float32)
    arrays["mystery/W"] = np.zeros(3, np.float32)
    prefix = write_tf1_checkpoint(tmp_path / "broken", arrays)
    with pytest.raises(CheckpointError) as info:
        NSynth.from_checkpoint(prefix, config=TINY)
    text = str(info.value)
    assert "missing 1 variable(s): skip_3/W [1, 1, 8, 12]" in text
    assert "cond_map_2/W: expected [1, 1, 16, 16], found [1, 1, 16, 4]" in text
    assert "1 unexpected variable(s): mystery/W" in text


def test_published_config_against_small_checkpoint_says_what_differs(tmp_path):
    prefix = write_tf1_checkpoint(tmp_path / "small", random_arrays(TINY))
    with pytest.raises(CheckpointError, match=r"model 'h512_bo16'.*wrong shape"):
        NSynth.from_checkpoint(prefix)


def test_index_file_is_refused_with_the_prefix_to_pass(tmp_path):
    prefix = write_tf1_checkpoint(tmp_path / "model.ckpt-200000", random_arrays(TINY))
    with pytest.raises(CheckpointError, match=r"prefix"):
        NSynth.from_checkpoint(prefix + ".index", config=TINY)


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match=str(tmp_path / "nothing")):
        NSynth.from_checkpoint(tmp_path / "nothing", config=TINY)
    (tmp_path / "junk.index").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"readable TensorFlow checkpoint"):
        NSynth.from_checkpoint(tmp_path / "junk", config=TINY)


def test_native_weights_round_trip_bit_exactly(tmp_path, tiny_model):
    path = tiny_model.save_weights(tmp_path / "w")
    assert path.name == "w.npz"
    clone = NSynth.from_weights(path)
    assert clone.config == tiny_model.config
    original, restored = tiny_model.variables(), clone.variables()
    assert original.keys() == restored.keys()
    for name in original:
        assert np.array_equal(original[name], restored[name])
    enc = np.random.default_rng(0).normal(size=(1, 2, 16)).astype(np.float32)
    np.testing.assert_array_equal(clone.synthesize(enc, seed=1), tiny_model.synthesize(enc, seed=1))


def test_native_weights_errors(tmp_path):
    with pytest.raises(CheckpointError, match=r"`weights` must be an existing .npz weights file"):
        NSynth.from_weights(tmp_path / "absent.npz")
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"`weights` must be a weights file written by nsynth_widgets"):
        NSynth.from_weights(tmp_path / "bad.npz")
    arrays = random_arrays(TINY)
    arrays.pop("logits/W")
    with pytest.raises(CheckpointError, match=r"missing 1 variable\(s\): logits/W"):
        checkpoint.save_weights(tmp_path / "partial.npz", TINY, arrays)
    assert not (tmp_path / "partial.npz").exists()


def test_weights_digest_names_the_model_not_how_it_was_loaded(tiny_arrays):
    digest = checkpoint.weights_digest(TINY, tiny_arrays)
    last = f"res_{TINY.num_layers}"
    without_last = {n: a for n, a in tiny_arrays.items() if not n.startswith(last + "/")}  # it feeds nothing
    assert checkpoint.weights_digest(TINY, without_last) == digest
    changed = dict(tiny_arrays, **{"logits/biases": tiny_arrays["logits/biases"] + 1e-6})
    assert checkpoint.weights_digest(TINY, changed) != digest
    assert checkpoint.weights_digest(TINY.replace(name="renamed"), tiny_arrays) != digest


# --- checkpoint_prefix: what a user passes as a checkpoint -------------------------------------------------------------------------


@pytest.fixture
def ckpt_dir(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for suffix in (".index", ".data-00000-of-00001", ".meta"):
        (folder / f"model.ckpt-200000{suffix}").write_bytes(b"x")
    return folder


def test_checkpoint_prefix_accepts_prefix(ckpt_dir):
    prefix = str(ckpt_dir / "model.ckpt-200000")
    assert checkpoint.checkpoint_prefix(prefix) == prefix
    assert checkpoint.checkpoint_prefix(ckpt_dir / "model.ckpt-200000") == prefix


@pytest.mark.parametrize("suffix", [".index", ".data-00000-of-00001", ".meta"])
def test_checkpoint_prefix_rejects_its_files(ckpt_dir, suffix):
    prefix = str(ckpt_dir / "model.ckpt-200000")
    with pytest.raises(CheckpointError) as info:
        checkpoint.checkpoint_prefix(prefix + suffix)
    message = str(info.value)
    assert message.startswith(f"`path` must be the checkpoint prefix {prefix!r}")
    assert message.endswith(f"Received: path={prefix + suffix!r}.")


def test_checkpoint_prefix_folder_with_single_index(ckpt_dir):
    assert checkpoint.checkpoint_prefix(ckpt_dir) == str(ckpt_dir / "model.ckpt-200000")


def test_checkpoint_prefix_folder_uses_state_file(ckpt_dir):
    (ckpt_dir / "model.ckpt-100.index").write_bytes(b"x")
    # A state file written elsewhere records an absolute path that does not exist here.
    (ckpt_dir / "checkpoint").write_text(
        'model_checkpoint_path: "/home/someone/train/model.ckpt-100"\n'
        'all_model_checkpoint_paths: "/home/someone/train/model.ckpt-100"\n'
    )
    assert checkpoint.checkpoint_prefix(ckpt_dir) == str(ckpt_dir / "model.ckpt-100")
    (ckpt_dir / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-200000"\n')
    assert checkpoint.checkpoint_prefix(ckpt_dir) == str(ckpt_dir / "model.ckpt-200000")


def test_checkpoint_prefix_folder_ambiguous_or_empty(ckpt_dir, tmp_path):
    (ckpt_dir / "model.ckpt-100.index").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="holds 2") as info:
        checkpoint.checkpoint_prefix(ckpt_dir)
    assert repr(str(ckpt_dir / "model.ckpt-100")) in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="has none"):
        checkpoint.checkpoint_prefix(empty)


def test_checkpoint_prefix_missing(tmp_path):
    missing = str(tmp_path / "nowhere" / "model.ckpt-5")
    with pytest.raises(CheckpointError) as info:
        checkpoint.checkpoint_prefix(missing)
    assert repr(missing + ".index") in str(info.value)
    assert str(info.value).endswith(f"Received: path={missing!r}.")
    with pytest.raises(ParameterError, match="`path` must be a str or os.PathLike"):
        checkpoint.checkpoint_prefix(42)
