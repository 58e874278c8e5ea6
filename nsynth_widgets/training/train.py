"""Train an NSynth autoencoder on rendered notes: resumable, with validation and progress.

The loop is plain Keras (``compile`` + ``train_on_batch``), so the same code trains on
TensorFlow here and on Keras 3's JAX backend on a GPU. Every ``checkpoint_every`` steps it
writes, atomically, into ``run_dir``:

* ``weights.npz`` — our native weights format (loads in the inference core, no training state);
* ``optimizer.npz`` — optimizer variables and the step, so ``train(..., resume=True)`` continues
  exactly where it stopped;
* ``log.jsonl`` — one line per evaluation: step, train loss, validation loss, wall time.

A pitch-conditioned model (``ModelConfig.pitch_conditioned``, the source-filter WaveNet) trains on
crops that come with their measured pitch channels (``random_crops(..., with_pitch_channels=True)``);
the decoder hears the oscillator built from them, its phase aligned with each crop's fundamental
(``TrainConfig.phase_lock``, :func:`nsynth_widgets.dsp.excitation.locked_phase_offset`), so that it
learns to make the waveform the oscillator sets going — in generation the oscillator runs free and
the decoder follows it. A new pitch-conditioned run may start from the weights of a model without
pitch channels (:func:`warm_start_arrays`).

Input noise (``TrainConfig.input_noise > 0``) adds Gaussian noise, in mu-law code steps, to the
past samples the decoder reads (not to its targets, nor to the encoder's input), on training
steps only, at a level drawn for each crop between none and ``input_noise``. A decoder trained on
the exact past leans on it: it does not learn to recover from the small errors its own sampling
makes when it generates, and drifts; where the past is unreliable, a pitch-conditioned decoder
has to take the waveform's period and phase from its oscillator. (LPCNet injects noise into its
autoregressive input for the first reason.)

Three levers keep the pitch out of a pitch-conditioned model's learned channels, so that the decoder
takes it from the measured ones and a transposed encoding plays at its new pitch: the encoder may
hear a pitch-shifted copy of the crop (``TrainConfig.encoder_pitch_shift``: the decoder then reads a
deliberately wrong encoding), or the same moment of the same instrument's note at another pitch
(``TrainConfig.encoder_partner_interval``: a real rendering, so an encoding of the kind the encoder
makes when it encodes, only at the wrong pitch), or an invariance term (``TrainConfig.invariance_weight``,
:func:`invariance_loss`) asks the learned channels of a shifted copy to equal the crop's own while
the decoder reads the right encoding.
"""

import collections
import dataclasses
import json
import time
import warnings
from pathlib import Path

import numpy as np

from .._files import atomic_path
from ..dsp.framing import SAMPLE_RATE
from ..dsp.mulaw import codes_to_classes, mu_law_encode
from ..errors import ParameterError, check_bool, check_choice, check_integer, check_number, describe
from ..model.config import ModelConfig

#: What :class:`TrainConfig`'s ``invariance_frames`` may be.
INVARIANCE_FRAMES = ("all", "voiced")

__all__ = [
    "INVARIANCE_FRAMES",
    "TrainConfig",
    "train",
    "batch_to_inputs",
    "invariance_loss",
    "model_inputs",
    "shift_for_encoder",
    "warm_start_arrays",
]


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
    input_noise : float
        Largest standard deviation, in mu-law code steps (of 256), of the Gaussian noise added to
        the decoder's past samples on training steps; each crop's is drawn uniformly from
        ``[0, input_noise]`` (see the module docstring). 0 turns it off.
    phase_lock : bool
        Pitch-conditioned models only: align the oscillator's phase with each crop's fundamental
        (see the module docstring); False starts it at phase 0 at every crop, as generation does.
    encoder_pitch_shift : float
        Pitch-conditioned models only: on training steps the encoder hears each crop shifted by a
        random interval of up to this many semitones (:func:`shift_for_encoder`); 0 turns it off.
    encoder_partner_interval : int
        Pitch-conditioned models only: on training steps the encoder hears, in place of the crop, its
        partner — the same samples of another note of its instrument and velocity at most this many
        semitones away (``random_crops(..., partner_interval=)``), while the pitch channels, the
        oscillator and the targets stay the crop's own; 0 turns it off. Exclusive with
        ``encoder_pitch_shift``.
    encoder_shift_share : float
        The share of crops (each drawn independently, in ``(0, 1]``) the encoder hears shifted (or
        hears their partner) when ``encoder_pitch_shift`` (or ``encoder_partner_interval``) is on;
        the others it hears as they are, as it does when encoding.
    invariance_weight : float
        Pitch-conditioned models only: the weight of a second loss term that asks the learned
        channels to stay the same when the crop is pitch-shifted (:func:`invariance_loss`), so that
        they carry the timbre and leave the pitch to the measured channels; 0 turns it off. Unlike
        ``encoder_pitch_shift``, the decoder always hears the encoding of the crop itself.
    invariance_shift : float
        Semitones: the shifted copies' intervals are drawn uniformly from ``[-invariance_shift,
        invariance_shift]``.
    invariance_frames : {"all", "voiced"}
        Which frames the invariance term weighs: all alike, or each by the crop's voicing channel
        (noise has no pitch to move; shifting it only changes its colour, which the learned
        channels should keep).
    freeze_encoder : bool
        Train the decoder only: the encoder's weights, and so every encoding, stay as they are (a
        run started from weights with a transposition map then keeps the map, which belongs to
        the encoder).
    partners_through_map : bool
        With ``encoder_partner_interval`` and ``freeze_encoder``, and weights that hold a
        transposition map: the decoder hears a partnered crop's encoding as ``model.transpose``
        would make it — the partner's encoding with its learned channels moved by the map to the
        crop's pitch, and the crop's own pitch channels — so that it learns to play what a
        transposed encoding asks for.
    """

    steps: int = 6000
    batch_size: int = 8
    crop_length: int = 4096
    learning_rate: float = 2e-3
    warmup_steps: int = 200
    checkpoint_every: int = 100
    eval_every: int = 100
    eval_batches: int = 4
    seed: int = 0
    input_noise: float = 0.0
    phase_lock: bool = True
    encoder_pitch_shift: float = 0.0
    encoder_partner_interval: int = 0
    encoder_shift_share: float = 1.0
    invariance_weight: float = 0.0
    invariance_shift: float = 7.0
    invariance_frames: str = "all"
    freeze_encoder: bool = False
    partners_through_map: bool = False

    def __post_init__(self):
        checked = {
            name: check_integer(name, getattr(self, name), 1)
            for name in ("steps", "batch_size", "crop_length", "checkpoint_every", "eval_every", "eval_batches")
        }
        checked["learning_rate"] = check_number(
            "learning_rate", self.learning_rate, 0, 1, low_open=True, high_open=True
        )
        checked["input_noise"] = check_number("input_noise", self.input_noise, 0)
        checked["encoder_pitch_shift"] = check_number("encoder_pitch_shift", self.encoder_pitch_shift, 0, 24)
        checked["encoder_partner_interval"] = check_integer(
            "encoder_partner_interval", self.encoder_partner_interval, 0, 24
        )
        if checked["encoder_pitch_shift"] and checked["encoder_partner_interval"]:
            raise ParameterError(
                "`encoder_pitch_shift` and `encoder_partner_interval` are two ways to make the encoder hear another "
                "pitch; set one of them. Received: encoder_pitch_shift="
                f"{self.encoder_pitch_shift}, encoder_partner_interval={self.encoder_partner_interval}."
            )
        checked["encoder_shift_share"] = check_number(
            "encoder_shift_share", self.encoder_shift_share, 0, 1, low_open=True
        )
        checked["invariance_weight"] = check_number("invariance_weight", self.invariance_weight, 0)
        checked["invariance_shift"] = check_number("invariance_shift", self.invariance_shift, 0, 24, low_open=True)
        checked["invariance_frames"] = check_choice("invariance_frames", self.invariance_frames, INVARIANCE_FRAMES)
        checked["phase_lock"] = check_bool("phase_lock", self.phase_lock)
        checked["freeze_encoder"] = check_bool("freeze_encoder", self.freeze_encoder)
        checked["partners_through_map"] = check_bool("partners_through_map", self.partners_through_map)
        if checked["partners_through_map"] and not (checked["encoder_partner_interval"] and checked["freeze_encoder"]):
            raise ParameterError(
                "`partners_through_map` needs `encoder_partner_interval` > 0 (the partners) and `freeze_encoder` "
                "(the map belongs to the encoder it was fitted on). Received: encoder_partner_interval="
                f"{self.encoder_partner_interval}, freeze_encoder={self.freeze_encoder}."
            )
        for name, value in checked.items():  # NumPy scalars become their Python counterparts
            object.__setattr__(self, name, value)

    def check_model(self, model_config):
        """Raise ParameterError if these settings need pitch channels that ``model_config`` lacks.

        Parameters
        ----------
        model_config : ModelConfig
        """
        for name in ("encoder_pitch_shift", "encoder_partner_interval", "invariance_weight"):
            if getattr(self, name) and not model_config.pitch_conditioned:
                raise ParameterError(
                    f"`{name}` must be 0 for a model without pitch channels (its encoding is all it has to "
                    f"tell the pitch). Received: {name}={getattr(self, name)} for model {model_config.name!r}."
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


def model_inputs(model_config, audio, pitch=None, phase_lock=True, encoder_audio=None, shifted_audio=None):
    """What the Keras model's ``call`` takes for audio crops, and the targets.

    Parameters
    ----------
    model_config : ModelConfig
    audio : np.ndarray [shape=(batch, time)], float in [-1, 1]
    pitch : np.ndarray [shape=(batch, time // hop_length, 2)], optional
        The crops' measured pitch channels; required exactly when the model is pitch-conditioned.
    phase_lock : bool
        Align the oscillator with each crop's fundamental (training) or start it at phase 0.
    encoder_audio : np.ndarray [shape=(batch, time)], optional
        What the encoder hears instead of ``audio`` (pitch-conditioned models: a pitch-shifted copy,
        see :func:`shift_for_encoder`).
    shifted_audio : np.ndarray [shape=(batch, time)], optional
        Pitch-shifted copies of the crops for the invariance term (:func:`invariance_loss`); they
        add the key ``"shifted_audio"``.

    Returns
    -------
    inputs : np.ndarray [shape=(batch, time)] or dict
        ``x_scaled``, or ``{"audio": x_scaled, "encoder_audio": the encoder's x_scaled, "pitch": pitch,
        "excitation": (batch, time, 2 * harmonics)}`` (and ``"shifted_audio"``).
    targets : np.ndarray [shape=(batch, time)], int32
    """
    from ..dsp.excitation import excitation, locked_phase_offset

    c = model_config
    x, targets = batch_to_inputs(c.decoder_signal(audio))
    if not c.pitch_conditioned:
        return x, targets
    pitch = np.asarray(pitch, dtype=np.float32)
    offset = locked_phase_offset(audio, pitch, c.hop_length, c.sample_rate) if phase_lock else None
    exc = excitation(pitch, c.excitation_harmonics, c.hop_length, c.sample_rate, phase_offset=offset)
    encoder_x = batch_to_inputs(audio if encoder_audio is None else encoder_audio)[0]
    inputs = {"audio": x, "encoder_audio": encoder_x, "pitch": pitch, "excitation": exc}
    if shifted_audio is not None:
        inputs["shifted_audio"] = batch_to_inputs(shifted_audio)[0]
    return inputs, targets


def shift_for_encoder(audio, max_semitones, rng, sample_rate=SAMPLE_RATE, share=1.0):
    """Crops pitch-shifted by a random interval, for the encoder's ears only.

    The learned channels of the encoding then cannot tell the decoder the pitch (it is off by an
    unknown interval of up to ``max_semitones``), so the decoder learns to take it from the
    measured f0 channel and the oscillator — what makes a transposed encoding play at its new
    pitch. (Voice-conversion models perturb their content encoder's input the same way.)

    Parameters
    ----------
    audio : np.ndarray [shape=(batch, time)], float in [-1, 1]
    max_semitones : float
        Intervals are drawn uniformly from ``[-max_semitones, max_semitones]``.
    rng : np.random.Generator
    sample_rate : int
    share : float
        Each crop is shifted with this probability, else returned as it is.

    Returns
    -------
    shifted : np.ndarray [shape=(batch, time)], float32
    """
    from ..audio import pitch_shift

    intervals = rng.uniform(-max_semitones, max_semitones, len(audio))
    chosen = rng.uniform(size=len(audio)) < share
    return np.stack(
        [
            pitch_shift(crop, interval, sample_rate) if shift else np.asarray(crop, np.float32)
            for crop, interval, shift in zip(audio, intervals, chosen)
        ]
    )


def warm_start_arrays(arrays, source, target):
    """Weights of ``source`` laid out for ``target``, where the shapes allow (new parameters zero).

    For starting a pitch-conditioned model from one without pitch channels (e.g. the embedded
    model before it had them): every variable of the same shape is copied; ``ae_bottleneck``
    keeps its first ``target.learned_channels`` outputs; the rows of ``cond_map_i`` and
    ``cond_map_out1`` that read the pitch channels, and every ``exc_map_i``, start at zero, so
    the starting model computes what the source computed from the channels they share. For a
    decoder that is to read a pre-emphasized signal (``pre_emphasis``), every variable is copied:
    training then teaches it the new signal.

    Parameters
    ----------
    arrays : dict[str, np.ndarray]
        Checkpoint-layout weights of a ``source`` model.
    source, target : ModelConfig
        Equal but for ``excitation_harmonics`` and ``pre_emphasis`` (and ``name``).

    Returns
    -------
    dict[str, np.ndarray]
    """
    from ..model.checkpoint import expected_variables

    decoder_facts = {"name": target.name, "pre_emphasis": target.pre_emphasis}
    if source.replace(excitation_harmonics=target.excitation_harmonics, **decoder_facts) != target:
        raise ParameterError(
            "`init_weights` must hold a model of the configuration being trained (pitch channels and "
            "pre-emphasis aside). "
            f"Received: a model with config {source.to_dict()} (asked for {target.to_dict()})."
        )
    out = {}
    for name, shape in expected_variables(target).items():
        value = np.zeros(shape, np.float32)
        if name in arrays:
            old = np.asarray(arrays[name], np.float32)
            region = tuple(slice(0, min(a, b)) for a, b in zip(shape, old.shape))
            value[region] = old[region]
            if (
                target.pitch_conditioned
                and not source.pitch_conditioned
                and name.startswith("cond_map")
                and name.endswith("/W")
            ):
                value[..., target.f0_channel :, :] = 0.0
        out[name] = value
    return out


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


def invariance_loss(learned, shifted, frame_weights=None):
    """How much the learned channels change when the crop is pitch-shifted, scale-free per channel.

    Each channel's mean squared difference divided by its variance (over the batch and the frames),
    averaged over the channels: the encoder cannot lower it by shrinking its output (the decoder's
    1×1 maps would undo any scale), and a channel of small variance that carries the pitch counts
    as much as one of large variance that carries the loudness.

    Parameters
    ----------
    learned, shifted : tensor [shape=(batch, frames, channels)]
        The learned channels of the crops and of their pitch-shifted copies.
    frame_weights : tensor [shape=(batch, frames)], optional
        Weights of the frames in the mean squared difference (e.g. the voicing channel: a shift has
        no pitch to move in noise, only its colour); the variances stay over every frame.

    Returns
    -------
    loss : scalar tensor
        0 when the two agree; about 2 when they are unrelated.
    """
    import keras

    ops = keras.ops
    spread = 0.5 * (ops.var(learned, axis=(0, 1)) + ops.var(shifted, axis=(0, 1))) + 1e-6
    squared = ops.square(learned - shifted)
    if frame_weights is None:
        difference = ops.mean(squared, axis=(0, 1))
    else:
        w = ops.expand_dims(ops.cast(frame_weights, squared.dtype), -1)
        difference = ops.sum(w * squared, axis=(0, 1)) / (ops.sum(w) + 1e-6)
    return ops.mean(difference / spread)


def _trainee(net, input_noise, seed, invariance_weight=0.0, invariance_frames="all", learned_given=False):
    """The model that training steps: the autoencoder, or a wrapper adding input noise or invariance.

    Parameters
    ----------
    net : WaveNetAutoencoder
    input_noise : float
        Largest standard deviation, in mu-law code steps, of the noise added to the decoder's
        past on training steps (each crop's drawn uniformly below it).
    seed : int
        Seeds the noise.
    invariance_weight : float
        On training steps whose inputs hold ``"shifted_audio"``, adds this times
        :func:`invariance_loss` of the learned channels to the loss.
    invariance_frames : {"all", "voiced"}
        The frames that term weighs: all alike, or each by its voicing channel.
    learned_given : bool
        Training inputs may hold ``"learned"`` ``[batch, frames, learned_channels]``: the learned
        channels the decoder hears, in place of the encoder's (a frozen encoder's, computed
        outside, e.g. moved by the transposition map).

    Returns
    -------
    keras.Model
        ``call(inputs)`` (those of ``net.call``) returns the audio logits ``[batch, time, 256]``;
        ``net`` itself when there is nothing to add.
    """
    if not input_noise and not invariance_weight and not learned_given:
        return net
    import keras

    class Trainee(keras.Model):
        def __init__(self):
            super().__init__(name="trainee")
            self.autoencoder = net
            self.noise_seed = keras.random.SeedGenerator(seed)

        def call(self, inputs, training=False):
            x_scaled, encoder_input, pitch, excitation = self.autoencoder.unpack(inputs)
            extra = inputs if isinstance(inputs, dict) else {}
            if "learned" in extra:
                learned = extra["learned"]
                encoding = keras.ops.concatenate([learned, keras.ops.cast(pitch, learned.dtype)], axis=-1)
            else:
                encoding = self.autoencoder.full_encoding(encoder_input, pitch)
            if training and invariance_weight and "shifted_audio" in extra:
                learned = encoding[..., : self.autoencoder.config.learned_channels]
                shifted = self.autoencoder.encode(extra["shifted_audio"])
                c = self.autoencoder.config
                weights = pitch[..., c.voicing_channel - c.f0_channel] if invariance_frames == "voiced" else None
                self.add_loss(invariance_weight * invariance_loss(learned, shifted, weights))
            past = x_scaled
            if training and input_noise:
                shape = keras.ops.shape(x_scaled)
                level = keras.random.uniform((shape[0], 1), maxval=input_noise / 128.0, seed=self.noise_seed)
                past = past + level * keras.random.normal(shape, seed=self.noise_seed)
            return self.autoencoder.decode_logits(past, encoding, excitation)

    return Trainee()


def _learned_through_map(model, heard, partners, chosen):
    """The learned channels a decoder hears when partnered crops come to it through the transposition map.

    Parameters
    ----------
    model : NSynth
        Pitch-conditioned, frozen encoder, with a transposition map.
    heard : np.ndarray [shape=(batch, time)], float32
        What the encoder hears: the partner where ``chosen``, else the crop.
    partners : PartnerCrops
        With pitch channels.
    chosen : np.ndarray [shape=(batch,)], bool

    Returns
    -------
    learned : np.ndarray [shape=(batch, time // hop_length, learned_channels)], float32
        The encoder's channels of ``heard``; where ``chosen``, moved by the map from the partner's
        pitch (its own pitch channels) by ``partners.semitones``, as ``model.transpose`` moves them.
    """
    learned = np.array(model.keras_model.encode(batch_to_inputs(heard)[0]), dtype=np.float32)  # a writable copy
    for i in np.flatnonzero(chosen):
        encoding = np.concatenate([learned[i : i + 1], partners.pitch_channels[i : i + 1]], axis=-1)
        learned[i] = model.transposition_map(encoding, float(partners.semitones[i]))[0]
    return learned


def train(
    model_config,
    train_data,
    run_dir,
    config=TrainConfig(),
    valid_data=None,
    resume=True,
    progress=None,
    cancel=None,
    init_weights=None,
):
    """Train (or continue training) a model.

    Parameters
    ----------
    model_config : ModelConfig
    train_data, valid_data : object with ``random_crops(batch, length, rng) -> np.ndarray [(batch, length)]``
        E.g. :class:`nsynth_widgets.training.dataset.NoteDataset`. For a pitch-conditioned model ``random_crops(batch, length, rng, with_pitch_channels=True)``
        must also give the crops' pitch channels ``(batch, length // hop_length, 2)``, and with
        ``encoder_partner_interval`` the training data's ``random_crops(..., partner_interval=)``
        their partners after them.
    run_dir : str or os.PathLike
        Where weights, optimizer state and the log go.
    config : TrainConfig
    resume : bool
        Continue from ``run_dir`` when it holds a checkpoint of the same model configuration.
    progress : callable(step, total, record), optional
        ``record`` is a dict with ``train_loss`` (running mean of the cross-entropy) and, on
        evaluation steps, ``valid_loss``.
    cancel : callable() -> bool, optional
        Checked every step; the run checkpoints and returns when it says stop.
    init_weights : str or os.PathLike, optional
        Start a *new* run from these weights (e.g. the shipped ``default_model.npz``) instead of a
        random initialisation; the optimizer and the step count start afresh. Ignored when
        resuming a run that ``run_dir`` already holds. Weights of the same model without pitch
        channels are laid out by :func:`warm_start_arrays`.

    Returns
    -------
    model : NSynth
        The trained model (weights as of the last step).
    """
    import keras

    from ..model.nsynth import NSynth

    if not isinstance(model_config, ModelConfig):
        raise ParameterError(f"`model_config` must be a ModelConfig. Received: model_config={describe(model_config)}.")
    config.check_model(model_config)
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
        from ..model.checkpoint import load_weights
        from ..model.transposition import map_arrays

        source, arrays = load_weights(init_weights)
        # the same variables, whatever the name and the decoder's signal (pre-emphasis is learnt, not laid out)
        same_layout = source.replace(name=model_config.name, pre_emphasis=model_config.pre_emphasis) == model_config
        if not (config.freeze_encoder and same_layout):
            # a transposition map belongs to the encoder it was fitted on, which training changes: fit it again after
            arrays = {name: array for name, array in arrays.items() if name not in map_arrays(arrays)}
        if not same_layout:
            arrays = warm_start_arrays(arrays, source, model_config)
        model = NSynth(model_config, arrays, source=f"weights {init_weights}")
    else:
        keras.utils.set_random_seed(config.seed)
        model = NSynth(model_config)
    if config.partners_through_map and model.transposition_map is None:
        raise ParameterError(
            "`partners_through_map` needs weights that hold a transposition map (`init_weights` written by "
            f"`fit-transposition`, or a run started from them). Received: {model.source} has none."
        )
    net = model.keras_model
    net.encoder.trainable = not config.freeze_encoder
    resuming_optimizer = resume and optimizer_path.is_file() and weights_path.is_file()
    if resuming_optimizer:
        with np.load(optimizer_path) as state:
            start_step = int(state["step"])
    noise_seed = int(np.random.default_rng([config.seed, start_step, 3]).integers(2**31))  # new noise on resuming
    trainee = _trainee(
        net,
        config.input_noise,
        noise_seed,
        config.invariance_weight,
        config.invariance_frames,
        learned_given=config.partners_through_map,
    )
    optimizer = keras.optimizers.Adam(learning_rate=_schedule(config), global_clipnorm=1.0)
    trainee.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    optimizer.build(trainee.trainable_variables)
    if resuming_optimizer:
        with np.load(optimizer_path) as state:
            for i, variable in enumerate(optimizer.variables):
                variable.assign(state[f"v{i}"])

    def batch(data, batch_rng, training=True):
        if model_config.pitch_conditioned:
            heard = learned = None
            if training and config.encoder_partner_interval:
                audio, pitch, partners = data.random_crops(
                    config.batch_size,
                    crop,
                    batch_rng,
                    with_pitch_channels=True,
                    partner_interval=config.encoder_partner_interval,
                )
                chosen = batch_rng.uniform(size=len(audio)) < config.encoder_shift_share
                heard = np.where(chosen[:, None], partners.audio, audio)
                if config.partners_through_map:
                    learned = _learned_through_map(model, heard, partners, chosen)
            else:
                audio, pitch = data.random_crops(config.batch_size, crop, batch_rng, with_pitch_channels=True)
            if training and config.encoder_pitch_shift:
                heard = shift_for_encoder(
                    audio, config.encoder_pitch_shift, batch_rng, model_config.sample_rate, config.encoder_shift_share
                )
            shifted = None
            if training and config.invariance_weight:
                shifted = shift_for_encoder(audio, config.invariance_shift, batch_rng, model_config.sample_rate)
            inputs, targets = model_inputs(model_config, audio, pitch, config.phase_lock, heard, shifted)
            if learned is not None:
                inputs["learned"] = learned
            return inputs, targets
        return batch_to_inputs(data.random_crops(config.batch_size, crop, batch_rng))

    rng = np.random.default_rng([config.seed, start_step])
    valid_rng = np.random.default_rng([config.seed, 10**9])
    valid_batches = (
        [] if valid_data is None else [batch(valid_data, valid_rng, training=False) for _ in range(config.eval_batches)]
    )

    def checkpoint(step):
        model.weights_changed()
        model.save_weights(weights_path)
        state = {"step": np.array(step), **{f"v{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)}}
        with atomic_path(optimizer_path) as temporary, open(temporary, "wb") as file:
            np.savez(file, **state)

    history = collections.deque(maxlen=50)  # the running means' window
    started = time.time()
    step = start_step
    with warnings.catch_warnings():
        # The last block's residual conv feeds nothing (as in the original graph), so it never has
        # a gradient; Keras would warn about that on the first step.
        warnings.filterwarnings("ignore", message=r"Gradients do not exist for variables \['res_\d+/")
        while step < config.steps:
            if cancel is not None and cancel():
                break
            x, y = batch(train_data, rng)
            history.append(float(trainee.train_on_batch(x, y, return_dict=True)["loss"]))
            step += 1
            record = {"step": step, "train_loss": float(np.mean(history))}
            if valid_batches and (step % config.eval_every == 0 or step == config.steps):
                valid = [trainee.test_on_batch(vx, vy, return_dict=True)["loss"] for vx, vy in valid_batches]
                record["valid_loss"] = float(np.mean(valid))
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
