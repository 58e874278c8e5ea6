"""`NSynth`: the model users hold: load once, encode, decode teacher-forced, synthesize."""

from __future__ import annotations

from typing import TYPE_CHECKING

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of notebooks

import numpy as np

from ..audio import validate_audio
from ..dsp.excitation import excitation
from ..dsp.framing import trim_to_hop
from ..dsp.emphasis import de_emphasis
from ..dsp.mulaw import codes_to_classes, mu_law_decode, mu_law_encode
from ..dsp.pitch import estimate_pitch, transpose_pitch
from ..encodings import validate_encoding
from ..errors import (
    CheckpointError,
    EncodingError,
    ParameterError,
    SynthesisCancelled,
    check_choice,
    check_integer,
    check_number,
    describe,
)
from . import checkpoint
from . import config as model_config
from .config import ENCODE_PRECISIONS, H512_BO16, PRECISIONS, ModelConfig
from .transposition import TranspositionMap

if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable
    from pathlib import Path

    from .._types import PathLike, Progress, Seed

__all__ = ["NSynth", "ENCODE_BLOCK_FRAMES"]

#: Frames of the learned channels computed per encoder call: long audio is encoded in blocks of
#: this many frames (plus the receptive field's context), so memory stays flat.
ENCODE_BLOCK_FRAMES = 256

# softmax class → audio sample, for all 256 classes at once
_CLASS_TO_AUDIO = mu_law_decode(np.arange(-128, 128))


def classes_to_audio(classes):
    """Softmax classes ``[0, 255]`` → float32 audio (NSynth's inverse mu-law)."""
    return _CLASS_TO_AUDIO[np.asarray(classes)]


class NSynth:
    """An NSynth WaveNet autoencoder held in memory: load it once, call it many times.

    Parameters
    ----------
    config : ModelConfig
        Architecture. Weights start random (Glorot) unless ``arrays`` is given.
    arrays : dict[str, np.ndarray], optional
        Weights in checkpoint layout (``NAME/W [1, k, in, out]``, ``NAME/biases``); for a
        pitch-conditioned model also, optionally, a transposition map (``transposition/...``).
    source : str
        Where the weights came from (shown in the UI and in errors).

    Attributes
    ----------
    default_temperature : float
        Sampling temperature used when :meth:`synthesize` is given none: 1.0 (the model's own
        distribution), :data:`~nsynth_widgets.model.config.DEFAULT_MODEL_TEMPERATURE` for
        :meth:`default`.
    default_unvoiced_temperature : float or None
        A pitch-conditioned model's temperature in unvoiced frames when :meth:`synthesize` is
        given none: None (every frame at ``temperature``),
        :data:`~nsynth_widgets.model.config.DEFAULT_MODEL_UNVOICED_TEMPERATURE` for :meth:`default`.
    transposition_map : TranspositionMap or None
        What :meth:`transpose` does to the learned channels (None: it leaves them as they are).

    Examples
    --------
    >>> model = NSynth.from_checkpoint("wavenet-ckpt/model.ckpt-200000")
    >>> enc = model.encode(audio[:40000])        # (1, 78, 16)
    >>> out = model.synthesize(enc, seed=0)      # (1, 39936)
    """

    #: Sampling temperature when :meth:`synthesize` is given none (set per model, see Attributes).
    default_temperature = 1.0
    #: Unvoiced frames' temperature when :meth:`synthesize` is given none (see Attributes).
    default_unvoiced_temperature: float | None = None

    def __init__(self, config=H512_BO16, arrays=None, source="random initialisation"):
        if not isinstance(config, ModelConfig):
            raise ParameterError(f"`config` must be a ModelConfig. Received: config={describe(config)}.")
        from .autoencoder import WaveNetAutoencoder

        self.config = config
        self.source = source
        self.keras_model = WaveNetAutoencoder(config)
        self.transposition_map = None
        if arrays is not None:
            checkpoint.assign_variables(self.keras_model, arrays)
            self.transposition_map = TranspositionMap.from_arrays(arrays, config)
        self._decoder_weights = None
        self._encode_fns = {}  # precision -> the encoder as a function

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, path: PathLike, config: ModelConfig = H512_BO16) -> NSynth:
        """Load magenta's TF1 checkpoint (e.g. ``wavenet-ckpt/model.ckpt-200000``, the prefix).

        EMA shadows are used when the checkpoint has them; Adam slots are ignored.
        """
        arrays = checkpoint.read_tf_checkpoint(path, config)
        return cls(config, arrays, source=f"checkpoint {path}")

    @classmethod
    def from_weights(cls, path: PathLike) -> NSynth:
        """Load a weights file written by :meth:`save_weights` (configuration included)."""
        config, arrays = checkpoint.load_weights(path)
        return cls(config, arrays, source=f"weights {path}")

    @classmethod
    def default(cls) -> NSynth:
        """The small embedded model shipped with the package (works offline, fast on a CPU)."""
        weights = model_config.DEFAULT_WEIGHTS
        if not weights.is_file():
            raise CheckpointError(
                "`NSynth.default()` must find the embedded weights shipped with the package. "
                f"Received: no file at '{weights}' (reinstall nsynth_widgets, or train one with "
                "`nsynth-widgets train`)."
            )
        model = cls.from_weights(weights)
        model.source = "embedded default model"
        model.default_temperature = model_config.DEFAULT_MODEL_TEMPERATURE
        model.default_unvoiced_temperature = model_config.DEFAULT_MODEL_UNVOICED_TEMPERATURE
        return model

    def variables(self):
        """Current weights in checkpoint layout, the transposition map's included: ``dict[str, np.ndarray]`` (copies)."""
        arrays = checkpoint.collect_variables(self.keras_model)
        if self.transposition_map is not None:
            arrays |= {name: array.copy() for name, array in self.transposition_map.to_arrays().items()}
        return arrays

    def save_weights(self, path: PathLike) -> Path:
        """Write the weights and configuration to our ``.npz`` format; returns the path."""
        return checkpoint.save_weights(path, self.config, self.variables())

    def weights_changed(self):
        """Tell the model its Keras weights were modified in place (e.g. by training)."""
        self._decoder_weights = None
        self._encode_fns.pop("bfloat16", None)  # a copy of the weights; float32 reads them live

    # -- encoder ---------------------------------------------------------------------------
    def _checked_audio(self, audio, name="audio"):
        """``audio`` validated, as float32 ``(batch, n // hop * hop)``."""
        audio = validate_audio(audio, name=name, min_samples=self.config.hop_length)
        return trim_to_hop(audio[None] if audio.ndim == 1 else audio, self.config.hop_length)

    def _scaled_codes(self, audio, name="audio"):
        return (mu_law_encode(self._checked_audio(audio, name)) / 128.0).astype(np.float32)

    def _decoder_codes(self, audio):
        """What the decoder reads for ``audio``: the scaled codes of its signal (pre-emphasized, if so configured)."""
        signal = self.config.decoder_signal(self._checked_audio(audio))
        return (mu_law_encode(signal) / 128.0).astype(np.float32)

    def round_trip(self, audio: np.ndarray) -> np.ndarray:
        """``audio`` as the decoder's 8-bit signal holds it: what a perfect decoder would generate.

        Parameters
        ----------
        audio : np.ndarray [shape=(..., time)], float in [-1, 1]

        Returns
        -------
        audio : np.ndarray [shape=(..., time)], float32 in [-1, 1]
        """
        signal = self.config.decoder_signal(np.asarray(audio, np.float32))
        return self.generated_audio(codes_to_classes(mu_law_encode(signal)))

    def generated_audio(self, classes: np.ndarray) -> np.ndarray:
        """The decoder's classes → audio in [-1, 1] (de-emphasized, if so configured).

        Parameters
        ----------
        classes : np.ndarray [shape=(..., time)], int in [0, 255]
            From the start of the generation (de-emphasis starts from rest).

        Returns
        -------
        audio : np.ndarray [shape=(..., time)], float32
        """
        signal = classes_to_audio(classes)
        if not self.config.pre_emphasis:
            return signal
        return np.clip(de_emphasis(signal, self.config.pre_emphasis), -1.0, 1.0)

    def encode(
        self,
        audio: np.ndarray,
        batch_size: int = 8,
        block_frames: int = ENCODE_BLOCK_FRAMES,
        precision: str = "float32",
    ) -> np.ndarray:
        """Encode audio to NSynth's latent sequence.

        Long audio is encoded in blocks of ``block_frames`` frames, each computed with the
        encoder's receptive field of real audio on either side (``config.ae_receptive_field``):
        the encoder is non-causal but finite, so the result equals encoding the sound whole (to
        float32 rounding) while memory stays that of one block.

        Parameters
        ----------
        audio : np.ndarray [shape=(n,) or (batch, n)], float in [-1, 1]
            16 kHz audio; trimmed to a whole number of hops (``n // 512 * 512``).
        batch_size : int
            Sounds encoded per forward pass.
        block_frames : int
            Frames per encoder call (memory grows with ``batch_size * block_frames``).
        precision : {"float32", "bfloat16"}
            What the encoder's convolutions compute in. ``"bfloat16"`` (8-bit mantissas, float32
            accumulation and pooling) is faster where the CPU has bfloat16 instructions (README,
            "Reduced precision"; speeds in ``benchmarks/RESULTS.md``) and moves the learned channels
            by a fraction of a percent (relative RMS); the pitch channels do not depend on it.

        Returns
        -------
        encoding : np.ndarray [shape=(batch, n // hop_length, bottleneck_width)], float32
            For a pitch-conditioned model (``config.pitch_conditioned``) the last two channels
            are the measured ``log2(f0 / 440)`` and voicing (:func:`nsynth_widgets.dsp.pitch.estimate_pitch`,
            itself estimated in blocks).
        """
        batch_size = check_integer("batch_size", batch_size, 1)
        block_frames = check_integer("block_frames", block_frames, 1)
        precision = check_choice("precision", precision, ENCODE_PRECISIONS)
        audio = self._checked_audio(audio)
        learned = self._encode_learned(audio, batch_size, block_frames, precision)
        if not self.config.pitch_conditioned:
            return learned
        pitch = estimate_pitch(audio, self.config.sample_rate, self.config.hop_length)
        return np.concatenate([learned, pitch], axis=-1)

    def _encoder_function(self, precision):
        """The encoder at ``precision`` as one traced function (on TensorFlow), made once.

        bfloat16 runs a copy of the encoder built with Keras' ``mixed_bfloat16`` policy, its weights
        copied from the model's (made again after :meth:`weights_changed`).
        """
        if precision not in self._encode_fns:
            import keras

            from .autoencoder import WaveNetEncoder

            encoder = self.keras_model.encoder
            if precision == "bfloat16":
                encoder = WaveNetEncoder(self.config, dtype="mixed_bfloat16")
                encoder(np.zeros((1, self.config.hop_length), np.float32))
                checkpoint.assign_variables(encoder, checkpoint.collect_variables(self.keras_model.encoder))
            function = encoder.__call__
            if keras.backend.backend() == "tensorflow":  # one traced graph instead of eager ops
                import tensorflow as tf

                function = tf.function(encoder.__call__, reduce_retracing=True)
            self._encode_fns[precision] = function
        return self._encode_fns[precision]

    def _encode_learned(self, audio, batch_size, block_frames, precision="float32"):
        """Audio ``(batch, frames * hop)`` → the learned channels ``(batch, frames, learned_channels)``.

        The scaled mu-law codes the encoder reads are made block by block too (mu-law is per sample).
        """
        c = self.config
        encode = self._encoder_function(precision)
        hop = c.hop_length
        frames = audio.shape[1] // hop
        # an output sample depends on (receptive field - 1) / 2 samples on either side: that many whole hops of context
        context = -(-((c.ae_receptive_field - 1) // 2) // hop)
        learned = np.empty((len(audio), frames, c.learned_channels), np.float32)
        for first in range(0, frames, block_frames):
            last = min(first + block_frames, frames)
            low, high = max(0, first - context), min(frames, last + context)
            for i in range(0, len(audio), batch_size):
                codes = mu_law_encode(audio[i : i + batch_size, low * hop : high * hop]) / 128.0
                part = np.asarray(encode(codes.astype(np.float32)))
                learned[i : i + batch_size, first:last] = part[:, first - low : last - low]
        return learned

    # -- decoder ---------------------------------------------------------------------------
    def decode_logits(self, audio, encoding, excitation=None):
        """Teacher-forced decoder logits (what training sees).

        Parameters
        ----------
        audio : np.ndarray [shape=(n,) or (batch, n)]
        encoding : np.ndarray [shape=(batch, n // hop_length, bottleneck_width)]
        excitation : np.ndarray [shape=(batch, n // hop_length * hop_length, excitation_channels)], optional
            Pitch-conditioned models: the oscillator to hear instead of :meth:`excitation` of
            ``encoding`` (e.g. one phase-aligned with ``audio``, as in training).

        Returns
        -------
        logits : np.ndarray [shape=(batch, n // hop_length * hop_length, 256)]
            Over the classes of the decoder's signal (:meth:`ModelConfig.decoder_signal` of ``audio``).
        """
        x = self._decoder_codes(audio)
        enc = validate_encoding(encoding, self.config.bottleneck_width)
        if enc.shape[:2] != (x.shape[0], x.shape[1] // self.config.hop_length):
            raise EncodingError(
                f"`encoding` must have {x.shape[1] // self.config.hop_length} frames for batch {x.shape[0]} "
                f"(one per {self.config.hop_length} samples of `audio`). Received: encoding={describe(enc)}."
            )
        if excitation is None:
            excitation = self.excitation(enc)
        return np.asarray(self.keras_model.decode_logits(x, enc, excitation))

    def excitation(self, encoding: np.ndarray) -> np.ndarray | None:
        """The oscillator a pitch-conditioned decoder hears for ``encoding`` (None for other models).

        Parameters
        ----------
        encoding : np.ndarray [shape=(batch, frames, bottleneck_width)]

        Returns
        -------
        excitation : np.ndarray [shape=(batch, frames * hop_length, excitation_channels)] or None
        """
        c = self.config
        if not c.pitch_conditioned:
            return None
        return excitation(encoding[..., c.f0_channel :], c.excitation_harmonics, c.hop_length, c.sample_rate)

    def transpose(self, encoding: np.ndarray, semitones: float) -> np.ndarray:
        """The same encoding a number of semitones higher (or lower): its f0 channel moved.

        With a :attr:`transposition_map` (the embedded model has one) the learned channels move
        too, to what the map predicts the same instrument's would be at the new pitch: the decoder
        reads the pitch from them as well as from the oscillator. The voicing is kept.

        Parameters
        ----------
        encoding : np.ndarray [shape=(batch, frames, bottleneck_width) or (frames, bottleneck_width)]
        semitones : float
            Finite; positive is up. The pitch of every frame must stay within 20 Hz-4 kHz.

        Returns
        -------
        transposed : np.ndarray, the shape of ``encoding`` as validated (``(batch, frames, channels)``)
            A new array; the voicing is unchanged, and so are the learned channels when the model
            has no transposition map.

        Raises
        ------
        ParameterError
            The model has no pitch channels (the published model): pitch-shift the audio before
            encoding instead, with :func:`nsynth_widgets.audio.pitch_shift`.
        """
        c = self.config
        if not c.pitch_conditioned:
            raise ParameterError(
                f"`model` must be pitch-conditioned to transpose an encoding; '{c.name}' has no pitch channels. "
                "Pitch-shift the audio before encoding instead: nsynth_widgets.audio.pitch_shift(audio, semitones). "
                f"Received: model={c.name!r}."
            )
        enc = validate_encoding(encoding, c.bottleneck_width)
        moved = transpose_pitch(enc[..., c.f0_channel], semitones)  # checks the interval first
        if self.transposition_map is not None:
            enc[..., : c.learned_channels] = self.transposition_map(enc, float(semitones))
        enc[..., c.f0_channel] = moved
        return enc

    @property
    def decoder_weights(self):
        """Float32 decoder weights arranged for :mod:`fastgen` (built once, reused by every call)."""
        return self.generation_weights("float32")

    def generation_weights(self, precision="float32"):
        """Decoder weights for :mod:`fastgen` in ``precision`` (each built once, then reused).

        Parameters
        ----------
        precision : {"float32", "int8", "w8a8"}
            ``"int8"`` stores the layers' matrices as int8 with per-channel scales (a quarter of
            the bytes per step, see :meth:`fastgen.DecoderWeights.quantize_int8`); ``"w8a8"`` also rounds the activations
            those matrices multiply to int8 (:meth:`fastgen.DecoderWeights.quantize_w8a8`).
        """
        from . import fastgen  # numba: imported when generation is near

        check_choice("precision", precision, PRECISIONS)
        if self._decoder_weights is None:
            self._decoder_weights = {"float32": fastgen.DecoderWeights.from_arrays(self.variables(), self.config)}
        if precision not in self._decoder_weights:
            exact = self._decoder_weights["float32"]
            self._decoder_weights[precision] = exact.quantize_int8() if precision == "int8" else exact.quantize_w8a8()
        return self._decoder_weights[precision]

    def synthesize(
        self,
        encoding: np.ndarray | list[np.ndarray],
        seed: Seed = 0,
        temperature: float | None = None,
        greedy: bool = False,
        chunk_size: int = 4096,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
        precision: str = "float32",
        threads: int | None = None,
        unvoiced_temperature: float | None = None,
    ) -> np.ndarray | list[np.ndarray]:
        """Generate audio from encodings, sample by sample.

        Parameters
        ----------
        encoding : np.ndarray [shape=(batch, frames, 16) or (frames, 16)] or list of such
            An array runs as one batch. A list (lengths may differ) is padded with zero
            frames to the longest, generated as one batch, and each result trimmed back to its
            own ``frames * hop_length`` samples (padding only affects samples that are thrown
            away: the decoder is causal).
        seed : int or np.random.Generator or None
            Sampling noise; equal seeds give equal audio.
        temperature : float, optional
            Softmax temperature (> 0); lower is more conservative. Default:
            :attr:`default_temperature`. For a pitch-conditioned model with an
            ``unvoiced_temperature``, the temperature of voiced frames.
        greedy : bool
            Always take the most likely sample (deterministic, often duller).
        chunk_size : int
            Samples generated per compiled call; progress and cancel are handled between chunks.
        progress : callable(done, total, partial_audio), optional
            ``partial_audio`` is ``(batch, done)`` float32 audio generated so far.
        cancel : callable() -> bool, optional
            Return True to stop; :class:`SynthesisCancelled` is raised with the audio so far.
        precision : {"float32", "int8", "w8a8"}
            Weights the decoder runs with. ``"int8"`` is faster (most of all for the published
            model, whose steps are bound by reading weights) and changes each step's output
            distribution slightly; ``"w8a8"`` is the fastest for batches (README, "Reduced
            precision"; speeds in ``benchmarks/RESULTS.md``).
        threads : {1, 2}, optional
            Threads the decoder runs on: 2 (the default) where the process may use two cores.
            The audio does not depend on it.
        unvoiced_temperature : float, optional
            Pitch-conditioned models: the temperature of frames whose voicing channel is 0; a
            frame of voicing ``v`` samples at ``unvoiced + v * (temperature - unvoiced)``. Voiced
            sound is a few partials, best sampled conservatively; noise (breath, bow, consonants,
            sounds without a pitch) needs the randomness of a warmer distribution. Default:
            :attr:`default_unvoiced_temperature` (None: every frame at ``temperature``).

        Returns
        -------
        audio : np.ndarray [shape=(batch, frames * hop_length)], float32 in [-1, 1]
            Or, when ``encoding`` was a list, a list of 1-D arrays (one per encoding row).
        """
        weights = self.generation_weights(precision)
        if temperature is None:
            temperature = self.default_temperature
        if unvoiced_temperature is None:
            unvoiced_temperature = self.default_unvoiced_temperature
        encodings, lengths = self._batch_encodings(encoding)
        sampled_at: float | np.ndarray = temperature  # or each frame's, following the voicing
        if unvoiced_temperature is not None:
            sampled_at = self.frame_temperatures(encodings, temperature, unvoiced_temperature)

        def on_chunk(done, total, classes):
            progress(done, total, self.generated_audio(classes))

        from . import fastgen

        try:
            classes = fastgen.generate(
                weights,
                encodings,
                seed=seed,
                temperature=sampled_at,
                greedy=greedy,
                chunk_size=chunk_size,
                progress=None if progress is None else on_chunk,
                cancel=cancel,
                threads=threads,
            )
        except SynthesisCancelled as stop:
            raise SynthesisCancelled(stop.partial_classes, self.generated_audio(stop.partial_classes)) from None
        audio = self.generated_audio(classes)
        if lengths is None:
            return audio
        return [row[: n * self.config.hop_length] for row, n in zip(audio, lengths)]

    def check_unvoiced_temperature(self, unvoiced_temperature: float | None) -> float | None:
        """``unvoiced_temperature`` as a float (None as is), if this model can use it.

        Raises
        ------
        ParameterError
            It is not a finite number > 0, or the model has no pitch channels to follow.
        """
        if unvoiced_temperature is None:
            return None
        if not self.config.pitch_conditioned:
            raise ParameterError(
                "`unvoiced_temperature` needs a model with pitch channels (it follows their voicing); "
                f"leave it None for model {self.config.name!r}. Received: unvoiced_temperature={unvoiced_temperature!r}."
            )
        return check_number("unvoiced_temperature", unvoiced_temperature, 0, low_open=True)

    def frame_temperatures(self, encoding: np.ndarray, temperature: float, unvoiced_temperature: float) -> np.ndarray:
        """Each frame's sampling temperature, from its voicing (see :meth:`synthesize`).

        Parameters
        ----------
        encoding : np.ndarray [shape=(batch, frames, bottleneck_width)]
            Of a pitch-conditioned model.
        temperature, unvoiced_temperature : float
            Temperatures (> 0) at voicing 1 and 0.

        Returns
        -------
        temperatures : np.ndarray [shape=(batch, frames)], float64
        """
        voiced = check_number("temperature", temperature, 0, low_open=True)
        unvoiced = self.check_unvoiced_temperature(unvoiced_temperature)
        encoding = validate_encoding(encoding, self.config.bottleneck_width)
        voicing = np.clip(encoding[..., self.config.voicing_channel].astype(np.float64), 0.0, 1.0)
        return unvoiced + voicing * (voiced - unvoiced)

    def _batch_encodings(self, encoding):
        """``(batch, frames, E)`` array and, for a list, each row's frame count (else None)."""
        width = self.config.bottleneck_width
        if not isinstance(encoding, (list, tuple)):
            return validate_encoding(encoding, width), None
        if not encoding:
            raise EncodingError("`encoding` must hold at least one encoding. Received: encoding=[].")
        items = [validate_encoding(e, width, name=f"encoding[{i}]") for i, e in enumerate(encoding)]
        items = [row for item in items for row in item]
        lengths = [len(item) for item in items]
        padded = np.zeros((len(items), max(lengths), width), np.float32)
        for row, item in zip(padded, items):
            row[: len(item)] = item
        return padded, lengths
