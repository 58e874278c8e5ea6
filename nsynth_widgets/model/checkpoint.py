"""Weights in and out: magenta's TF1 checkpoint and our own ``.npz`` weights format.

:func:`checkpoint_prefix` turns what a user passes for a TF1 checkpoint (its prefix, or the
folder holding it, e.g. the one ``nsynth-widgets download-checkpoint`` fills) into its prefix.

Both formats speak the original layout, so one table maps them onto the Keras model:
``NAME/W`` ``[1, k, in, out]`` ↔ ``NAME.kernel`` ``[k, in, out]`` and ``NAME/biases`` ↔ ``NAME.bias``.

Our native format (``*.npz``) holds those arrays under their checkpoint names plus the model
configuration as JSON under ``__config__``, and, for a pitch-conditioned model, may hold a
transposition map (``transposition/...``, :mod:`.transposition`); it loads without TensorFlow and
round-trips bit-exactly.
"""

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from .._files import atomic_path
from ..errors import CheckpointError, ParameterError, describe
from .config import ModelConfig
from .transposition import PREFIX as MAP_PREFIX
from .transposition import map_arrays

__all__ = [
    "expected_variables",
    "checkpoint_prefix",
    "read_tf_checkpoint",
    "assign_variables",
    "collect_variables",
    "save_weights",
    "load_weights",
    "read_config",
    "weights_digest",
]

_EMA_SUFFIX = "/ExponentialMovingAverage"
# Training bookkeeping that a checkpoint may hold next to the model: ignored by name.
_IGNORED = re.compile(r"(^global_step$|^beta[12]_power(_\d+)?$|/Adam(_\d+)?$)")
_CONFIG_KEY = "__config__"
_SHARD_SUFFIX = re.compile(r"(\.index|\.meta|\.data-\d+-of-\d+)$")
_STATE_LINE = re.compile(r'^model_checkpoint_path:\s*"(.*)"\s*$', re.MULTILINE)


def expected_variables(config):
    """Every variable the model needs, in checkpoint layout.

    Parameters
    ----------
    config : ModelConfig

    Returns
    -------
    shapes : dict[str, tuple[int, ...]]
        ``NAME/W`` → ``(1, k, in, out)`` and ``NAME/biases`` → ``(out,)``.
    """
    c = config
    convs = {"ae_startconv": (c.ae_filter_length, 1, c.ae_width)}
    for i in range(1, c.ae_num_layers + 1):
        convs[f"ae_dilatedconv_{i}"] = (c.ae_filter_length, c.ae_width, c.ae_width)
        convs[f"ae_res_{i}"] = (1, c.ae_width, c.ae_width)
    convs["ae_bottleneck"] = (1, c.ae_width, c.learned_channels)
    convs["startconv"] = (c.filter_length, 1, c.width)
    convs["skip_start"] = (1, c.width, c.skip_width)
    for i in range(1, c.num_layers + 1):
        convs[f"dilatedconv_{i}"] = (c.filter_length, c.width, 2 * c.width)
        convs[f"cond_map_{i}"] = (1, c.bottleneck_width, 2 * c.width)
        if c.pitch_conditioned:
            convs[f"exc_map_{i}"] = (1, c.excitation_channels, 2 * c.width)
        convs[f"res_{i}"] = (1, c.width, c.width)
        convs[f"skip_{i}"] = (1, c.width, c.skip_width)
    convs["out1"] = (1, c.skip_width, c.skip_width)
    convs["cond_map_out1"] = (1, c.bottleneck_width, c.skip_width)
    convs["logits"] = (1, c.skip_width, c.quantization_channels)
    shapes = {}
    for name, (k, cin, cout) in convs.items():
        shapes[f"{name}/W"] = (1, k, cin, cout)
        shapes[f"{name}/biases"] = (cout,)
    return shapes


def _unused_names(config):
    """Variables the forward pass never reads (``res_{last}``): may be absent from a checkpoint."""
    return {f"res_{config.num_layers}/W", f"res_{config.num_layers}/biases"}


def weights_digest(config, arrays):
    """sha256 (hex) of a model: its configuration and every variable the forward pass reads.

    Equal for the same model however it was loaded (a checkpoint may omit ``res_{last}``, which
    a Keras model then holds at its random initial value).

    Parameters
    ----------
    config : ModelConfig
    arrays : dict[str, np.ndarray]
        Checkpoint-layout weights.
    """
    h = hashlib.sha256(config.to_json().encode())
    for name in sorted(set(arrays) - _unused_names(config)):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name], dtype=np.float32).tobytes())
    return h.hexdigest()


def _select(available, config, source):
    """Pick model variables out of ``available`` (name → shape), preferring EMA shadows.

    Returns ``dict[model name, stored name]``; raises :class:`CheckpointError` listing every
    missing, unexpected or misshaped variable at once.
    """
    expected = expected_variables(config)
    chosen, missing, misshaped = {}, [], []
    for name, shape in expected.items():
        stored = name + _EMA_SUFFIX if name + _EMA_SUFFIX in available else name
        if stored not in available:
            if name not in _unused_names(config):
                missing.append(f"{name} {list(shape)}")
            continue
        if tuple(available[stored]) != shape:
            misshaped.append(f"{stored}: expected {list(shape)}, found {list(available[stored])}")
            continue
        chosen[name] = stored
    known = set(expected) | {n + _EMA_SUFFIX for n in expected}
    extra = sorted(n for n in available if n not in known and not _IGNORED.search(n) and not n.startswith(MAP_PREFIX))
    problems = []
    if missing:
        problems.append(
            f"missing {len(missing)} variable(s): " + ", ".join(missing[:12]) + (" ..." if len(missing) > 12 else "")
        )
    if misshaped:
        problems.append(f"{len(misshaped)} variable(s) with the wrong shape: " + "; ".join(misshaped[:12]))
    if extra:
        problems.append(
            f"{len(extra)} unexpected variable(s): " + ", ".join(extra[:12]) + (" ..." if len(extra) > 12 else "")
        )
    if problems:
        raise CheckpointError(
            f"`checkpoint` must hold the variables of model '{config.name}' (layers={config.num_layers}, "
            f"width={config.width}, skip_width={config.skip_width}, ae_width={config.ae_width}). "
            f"Received: {source} with " + "; ".join(problems) + "."
        )
    return chosen


def checkpoint_prefix(path):
    """Normalise what a user passed as a checkpoint into its prefix.

    Parameters
    ----------
    path : str or os.PathLike
        A prefix (``.../model.ckpt-200000``) or a folder holding one checkpoint (found through
        its ``checkpoint`` state file or its single ``*.index`` file).

    Returns
    -------
    prefix : str
        A path such that ``prefix + ".index"`` exists.

    Raises
    ------
    CheckpointError
        ``path`` names one of the checkpoint's files instead of its prefix, a folder with no
        or several checkpoints, or a prefix without an ``.index`` file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"`path` must be a str or os.PathLike. Received: path={describe(path)}.")
    text = os.path.expanduser(os.fspath(path))
    suffix = _SHARD_SUFFIX.search(text)
    if suffix is not None:
        raise CheckpointError(
            f"`path` must be the checkpoint prefix {text[: suffix.start()]!r}, not one of its "
            f"files. Received: path={text!r}."
        )
    if os.path.isdir(text):
        return _prefix_in_folder(text)
    if not os.path.isfile(text + ".index"):
        raise CheckpointError(
            f"`path` must be a checkpoint prefix with a {text + '.index'!r} file next to it, or a "
            f"folder holding one checkpoint. Received: path={text!r}."
        )
    return text


def _prefix_in_folder(folder):
    state = os.path.join(folder, "checkpoint")
    if os.path.isfile(state):
        with open(state, encoding="utf-8", errors="replace") as handle:
            recorded = _STATE_LINE.search(handle.read())
        if recorded is not None:
            # The state file may hold an absolute path from the machine that wrote it.
            for candidate in (recorded.group(1), os.path.basename(recorded.group(1))):
                prefix = os.path.join(folder, candidate)
                if os.path.isfile(prefix + ".index"):
                    return prefix
    indexes = sorted(name for name in os.listdir(folder) if name.endswith(".index"))
    if len(indexes) == 1:
        return os.path.join(folder, indexes[0][: -len(".index")])
    if not indexes:
        raise CheckpointError(
            f"`path` must be a checkpoint prefix or a folder holding one checkpoint (a "
            f"'<prefix>.index' file), but this folder has none. Received: path={folder!r}."
        )
    choices = ", ".join(repr(os.path.join(folder, name[: -len(".index")])) for name in indexes)
    raise CheckpointError(
        f"`path` must be a checkpoint prefix or a folder holding exactly one checkpoint, but this "
        f"folder holds {len(indexes)}: pass one of {choices}. Received: path={folder!r}."
    )


def read_tf_checkpoint(path, config):
    """Read model variables from a TF1 (magenta) checkpoint.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint *prefix* (``.../model.ckpt-200000``), or a folder holding one checkpoint.
    config : ModelConfig

    Returns
    -------
    arrays : dict[str, np.ndarray]
        Checkpoint-layout float32 arrays by plain name (EMA shadows used when present,
        Adam slots and step counters ignored).
    """
    import tensorflow as tf

    prefix = checkpoint_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as exc:  # TF raises several types for unreadable bundles
        raise CheckpointError(
            f"`checkpoint` must be a readable TensorFlow checkpoint prefix. Received: checkpoint='{prefix}' "
            f"(TensorFlow said: {str(exc).splitlines()[0]})."
        ) from exc
    chosen = _select(reader.get_variable_to_shape_map(), config, f"checkpoint '{prefix}'")
    return {name: np.asarray(reader.get_tensor(stored), dtype=np.float32) for name, stored in chosen.items()}


def collect_variables(model):
    """A model's weights in checkpoint layout: ``dict[str, np.ndarray]`` (copies).

    ``model`` is a :class:`WaveNetAutoencoder` or a :class:`WaveNetEncoder` (anything with ``conv_layers()``).
    """
    arrays = {}
    for name, layer in model.conv_layers().items():
        arrays[f"{name}/W"] = np.array(layer.kernel.numpy())[None]
        arrays[f"{name}/biases"] = np.array(layer.bias.numpy())
    return arrays


def assign_variables(model, arrays):
    """Copy checkpoint-layout arrays into a :class:`WaveNetAutoencoder` (or a :class:`WaveNetEncoder`).

    Parameters
    ----------
    model : WaveNetAutoencoder or WaveNetEncoder
        Anything with ``conv_layers()``; arrays of other layers are ignored.
    arrays : dict[str, np.ndarray]
        As returned by :func:`read_tf_checkpoint` or :func:`load_weights` (already validated).
    """
    for name, layer in model.conv_layers().items():
        kernel = arrays.get(f"{name}/W")
        if kernel is None:  # only the never-used last residual conv may be absent
            continue
        layer.kernel.assign(np.asarray(kernel, dtype=np.float32)[0])
        layer.bias.assign(np.asarray(arrays[f"{name}/biases"], dtype=np.float32))


def save_weights(path, config, arrays):
    """Write our native weights file (``.npz``), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``.npz`` is appended when missing.
    config : ModelConfig
    arrays : dict[str, np.ndarray]
        Checkpoint-layout arrays (see :func:`collect_variables`).
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    _select({n: a.shape for n, a in arrays.items()}, config, "the arrays to save")
    payload = {name: np.asarray(a, dtype=np.float32) for name, a in arrays.items()}
    payload[_CONFIG_KEY] = np.array(config.to_json())
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        np.savez(file, **payload)
    return path


def read_config(path):
    """The configuration stored in our native weights file, without reading the weights.

    Returns
    -------
    config : ModelConfig
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return ModelConfig.from_dict(json.loads(str(data[_CONFIG_KEY])))
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"`weights` must be a weights file written by nsynth_widgets (.npz with a `{_CONFIG_KEY}` entry). "
            f"Received: weights='{path}' ({exc})."
        ) from exc


def load_weights(path):
    """Read our native weights file.

    Returns
    -------
    config : ModelConfig
    arrays : dict[str, np.ndarray]
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"`weights` must be an existing .npz weights file. Received: weights='{path}' (not found)."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            config = ModelConfig.from_dict(json.loads(str(data[_CONFIG_KEY])))
            arrays = {name: data[name] for name in data.files if name != _CONFIG_KEY}
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"`weights` must be a weights file written by nsynth_widgets (.npz with a `{_CONFIG_KEY}` entry). "
            f"Received: weights='{path}' ({exc})."
        ) from exc
    chosen = _select({n: a.shape for n, a in arrays.items()}, config, f"weights '{path}'")
    return config, {name: arrays[stored] for name, stored in chosen.items()} | map_arrays(arrays)
