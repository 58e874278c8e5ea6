"""Train an NSynth autoencoder on rendered notes: resumable, with validation and progress.

The loop is plain Keras (``compile`` + ``train_on_batch``), so the same code trains on
TensorFlow here and on Keras 3's JAX backend on a GPU. Every ``checkpoint_every`` steps it
writes, atomically, into ``run_dir``:

* ``weights.npz`` — our native weights format (loads in the inference core, no training state);
* ``optimizer.npz`` — optimizer variables and the step, so ``train(..., resume=True)`` continues
  exactly where it stopped;
* ``log.jsonl`` — one line per evaluation: step, train loss, validation loss, wall time.
"""

import dataclasses
import json
import time
import warnings
from pathlib import Path

import numpy as np

from .._files import atomic_path
from ..dsp.mulaw import codes_to_classes, mu_law_encode
from ..errors import ParameterError, describe
from ..model.config import ModelConfig

__all__ = ["TrainConfig", "train", "batch_to_inputs"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Parameters
    ----------
    steps : int
        Total optimisation steps (a resumed run stops at the same total).
    batch_size : int
    crop_length : int
        Samples per training crop (rounded down to whole hops).
    learning_rate : float
        Peak Adam learning rate, reached after ``warmup_steps`` and decayed by cosine to 5 %.
    warmup_steps : int
    checkpoint_every, eval_every : int
    eval_batches : int
        Validation batches (fixed crops, drawn once) per evaluation.
    seed : int
    """

    steps: int = 20000
    batch_size: int = 8
    crop_length: int = 6144
    learning_rate: float = 2e-3
    warmup_steps: int = 200
    checkpoint_every: int = 250
    eval_every: int = 250
    eval_batches: int = 4
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "crop_length", "checkpoint_every", "eval_every", "eval_batches"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ParameterError(f"`{name}` must be a positive integer. Received: {name}={describe(value)}.")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 1):
            raise ParameterError(
                f"`learning_rate` must be a number in (0, 1). Received: learning_rate={describe(self.learning_rate)}."
            )


def batch_to_inputs(audio):
    """Audio crops → network inputs and targets.

    Parameters
    ----------
    audio : np.ndarray [shape=(batch, time)], float in [-1, 1]

    Returns
    -------
    x_scaled : np.ndarray [shape=(batch, time)], float32 — ``code / 128``
    targets : np.ndarray [shape=(batch, time)], int32 — softmax class ``code + 128``
    """
    codes = mu_law_encode(audio)
    return (codes / 128.0).astype(np.float32), codes_to_classes(codes)


def _schedule(config):
    import keras

    @keras.saving.register_keras_serializable(package="nsynth_widgets")
    class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            from keras import ops

            step = ops.cast(step, "float32")
            warm = ops.minimum(1.0, (step + 1.0) / float(config.warmup_steps))
            progress = ops.clip(step / float(config.steps), 0.0, 1.0)
            cosine = 0.05 + 0.95 * 0.5 * (1.0 + ops.cos(np.pi * progress))
            return config.learning_rate * warm * cosine

        def get_config(self):
            return {}

    return WarmupCosine()


def train(model_config, train_data, run_dir, config=TrainConfig(), valid_data=None, resume=True,
          progress=None, cancel=None, init_weights=None):
    """Train (or continue training) a model.

    Parameters
    ----------
    model_config : ModelConfig
    train_data, valid_data : object with ``random_crops(batch, length, rng) -> np.ndarray [(batch, length)]``
        E.g. :class:`nsynth_widgets.training.data.NoteDataset`.
    run_dir : str or os.PathLike
        Where weights, optimizer state and the log go.
    config : TrainConfig
    resume : bool
        Continue from ``run_dir`` when it holds a checkpoint of the same model configuration.
    progress : callable(step, total, record), optional
        ``record`` is a dict with ``train_loss`` (running mean) and, on evaluation steps, ``valid_loss``.
    cancel : callable() -> bool, optional
        Checked every step; the run checkpoints and returns when it says stop.
    init_weights : str or os.PathLike, optional
        Start a *new* run from these weights (e.g. the shipped ``default_model.npz``) instead of a
        random initialisation; the optimizer and the step count start afresh. Ignored when
        resuming a run that ``run_dir`` already holds.

    Returns
    -------
    model : NSynth
        The trained model (weights as of the last step).
    """
    import keras

    from ..model.nsynth import NSynth

    if not isinstance(model_config, ModelConfig):
        raise ParameterError(f"`model_config` must be a ModelConfig. Received: model_config={describe(model_config)}.")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    hop = model_config.hop_length
    crop = config.crop_length // hop * hop
    if crop < hop:
        raise ParameterError(
            f"`crop_length` must be at least one hop ({hop} samples). Received: crop_length={config.crop_length}."
        )
    weights_path, optimizer_path, log_path = run_dir / "weights.npz", run_dir / "optimizer.npz", run_dir / "log.jsonl"

    start_step = 0
    if resume and weights_path.is_file():
        model = NSynth.from_weights(weights_path)
        if model.config != model_config:
            raise ParameterError(
                f"`run_dir` must hold a run of the same model configuration to resume. Received: run_dir='{run_dir}' "
                f"with config {model.config.to_dict()} (asked for {model_config.to_dict()})."
            )
    elif init_weights is not None:
        keras.utils.set_random_seed(config.seed)
        model = NSynth.from_weights(init_weights)
        if model.config != model_config:
            raise ParameterError(
                f"`init_weights` must hold a model of the configuration being trained. Received: init_weights="
                f"'{init_weights}' with config {model.config.to_dict()} (asked for {model_config.to_dict()})."
            )
    else:
        keras.utils.set_random_seed(config.seed)
        model = NSynth(model_config)
    net = model.keras_model
    optimizer = keras.optimizers.Adam(learning_rate=_schedule(config), global_clipnorm=1.0)
    net.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    optimizer.build(net.trainable_variables)
    if resume and optimizer_path.is_file() and weights_path.is_file():
        with np.load(optimizer_path) as state:
            for i, variable in enumerate(optimizer.variables):
                variable.assign(state[f"v{i}"])
            start_step = int(state["step"])

    rng = np.random.default_rng([config.seed, start_step])
    valid_rng = np.random.default_rng([config.seed, 10**9])
    valid_batches = [] if valid_data is None else [
        batch_to_inputs(valid_data.random_crops(config.batch_size, crop, valid_rng)) for _ in range(config.eval_batches)
    ]

    def checkpoint(step):
        model.weights_changed()
        model.save_weights(weights_path)
        state = {"step": np.array(step), **{f"v{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)}}
        with atomic_path(optimizer_path) as temporary, open(temporary, "wb") as file:
            np.savez(file, **state)

    losses = []
    started = time.time()
    step = start_step
    with warnings.catch_warnings():
        # The last block's residual conv feeds nothing (as in the original graph), so it never has
        # a gradient; Keras would warn about that on the first step.
        warnings.filterwarnings("ignore", message=r"Gradients do not exist for variables \['res_\d+/")
        while step < config.steps:
            if cancel is not None and cancel():
                break
            x, y = batch_to_inputs(train_data.random_crops(config.batch_size, crop, rng))
            losses.append(float(net.train_on_batch(x, y)))
            step += 1
            record = {"step": step, "train_loss": float(np.mean(losses[-50:]))}
            if valid_batches and (step % config.eval_every == 0 or step == config.steps):
                record["valid_loss"] = float(np.mean([net.test_on_batch(vx, vy) for vx, vy in valid_batches]))
            if "valid_loss" in record or step % config.checkpoint_every == 0 or step == config.steps:
                record["wall_seconds"] = round(time.time() - started, 1)
                checkpoint(step)
                with open(log_path, "a") as log:
                    log.write(json.dumps(record) + "\n")
            if progress is not None:
                progress(step, config.steps, record)
    if step % config.checkpoint_every:
        checkpoint(step)
    model.weights_changed()
    return model
