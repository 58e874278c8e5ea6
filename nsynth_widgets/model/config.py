"""Model configurations: the published NSynth model and smaller members of its family.

This module is pure Python (no TensorFlow) so that widgets and the CLI can describe a model
without loading one.
"""

import dataclasses
import json
from pathlib import Path

from ..dsp.emphasis import check_coefficient, pre_emphasis
from ..dsp.framing import HOP_LENGTH, SAMPLE_RATE
from ..errors import ParameterError, check_integer, describe

__all__ = [
    "ModelConfig",
    "H512_BO16",
    "EMBEDDED",
    "DEFAULT_WEIGHTS",
    "DEFAULT_MODEL_TEMPERATURE",
    "DEFAULT_MODEL_UNVOICED_TEMPERATURE",
    "PRECISIONS",
    "ENCODE_PRECISIONS",
]

#: What the decoder can generate with (:mod:`nsynth_widgets.model.fastgen`): the float32 weights,
#: int8 weights (exactly the model with the dequantized weights), or int8 weights and activations
#: (int8 × int8 dot products, for batches).
PRECISIONS = ("float32", "int8", "w8a8")
#: What the encoder's convolutions can compute in: float32, or bfloat16 (float32 weights rounded
#: per call; TensorFlow's oneDNN kernels use AVX512_BF16 or AMX where the CPU has them).
ENCODE_PRECISIONS = ("float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of an NSynth WaveNet autoencoder.

    Parameters
    ----------
    name : str
        A label shown in the UI and stored with saved weights.
    num_layers, num_stages : int
        Decoder residual blocks and the dilation cycle: block ``i`` (1-based) has dilation
        ``2 ** ((i - 1) % num_stages)``.
    filter_length : int
        Decoder dilated-conv kernel width (also the start conv's width).
    width, skip_width : int
        Decoder residual channels and skip channels.
    ae_num_layers, ae_num_stages, ae_filter_length, ae_width : int
        The same for the non-causal encoder.
    bottleneck_width : int
        Channels of the encoding (16 for NSynth).
    hop_length : int
        Samples per encoding frame (average-pool window and stride, 512 for NSynth).
    sample_rate : int
        Audio rate the model was trained on (16000 for NSynth).
    quantization_channels : int
        Softmax classes (256: 8-bit mu-law).
    excitation_harmonics : int
        0 for the published model. Above 0 the model is *pitch-conditioned* (a source-filter
        WaveNet): the last two encoding channels are measured, not learned — ``log2(f0 / 440)``
        and voicing (:mod:`nsynth_widgets.dsp.pitch`) — and the decoder hears, at every sample,
        an oscillator of this many harmonics built from them (:mod:`nsynth_widgets.dsp.excitation`)
        through one 1×1 map per layer (``exc_map_i``).
    pre_emphasis : float
        0 for the published model. Above 0 (pitch-conditioned models only) the decoder's signal is
        the audio pre-emphasized by this coefficient (:mod:`nsynth_widgets.dsp.emphasis`): it reads
        and predicts the mu-law classes of ``x[n] - pre_emphasis * x[n - 1]``, and what it
        generates is de-emphasized into audio, which shapes its errors like the sound's spectrum.
        The encoder hears the audio itself.
    """

    name: str = "custom"
    num_layers: int = 30
    num_stages: int = 10
    filter_length: int = 3
    width: int = 512
    skip_width: int = 256
    ae_num_layers: int = 30
    ae_num_stages: int = 10
    ae_filter_length: int = 3
    ae_width: int = 128
    bottleneck_width: int = 16
    hop_length: int = HOP_LENGTH
    sample_rate: int = SAMPLE_RATE
    quantization_channels: int = 256
    excitation_harmonics: int = 0
    pre_emphasis: float = 0.0

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if field.name == "name":
                if not isinstance(self.name, str):
                    raise ParameterError(f"`name` must be a string. Received: name={describe(self.name)}.")
                continue
            if field.name == "pre_emphasis":
                object.__setattr__(self, field.name, check_coefficient(field.name, self.pre_emphasis))
                continue
            smallest = 0 if field.name == "excitation_harmonics" else 1
            # NumPy integers are stored as ints, so that the configuration stays JSON-serialisable
            object.__setattr__(self, field.name, check_integer(field.name, getattr(self, field.name), smallest))
        if self.excitation_harmonics and self.bottleneck_width < 3:
            raise ParameterError(
                "`bottleneck_width` must be at least 3 for a pitch-conditioned model (learned channels + f0 + "
                f"voicing). Received: bottleneck_width={self.bottleneck_width}."
            )
        if self.pre_emphasis and not self.pitch_conditioned:
            raise ParameterError(
                "`pre_emphasis` must be 0 for a model without pitch channels (its encoder and decoder read one "
                f"input). Received: pre_emphasis={self.pre_emphasis} with excitation_harmonics=0."
            )
        if self.quantization_channels != 256:
            raise ParameterError(
                "`quantization_channels` must be 256 (8-bit mu-law). "
                f"Received: quantization_channels={self.quantization_channels}."
            )

    # -- derived facts ---------------------------------------------------------------------
    @property
    def pitch_conditioned(self):
        """Whether the encoding carries measured f0 and voicing channels (and the decoder an oscillator)."""
        return self.excitation_harmonics > 0

    @property
    def f0_channel(self):
        """Index of the ``log2(f0 / 440)`` channel in the encoding, or None."""
        return self.bottleneck_width - 2 if self.pitch_conditioned else None

    @property
    def voicing_channel(self):
        """Index of the voicing channel in the encoding, or None."""
        return self.bottleneck_width - 1 if self.pitch_conditioned else None

    @property
    def learned_channels(self):
        """Encoding channels the encoder network computes (the rest are measured pitch channels)."""
        return self.bottleneck_width - 2 if self.pitch_conditioned else self.bottleneck_width

    @property
    def excitation_channels(self):
        """Channels of the decoder's excitation input (sin and cos of each harmonic)."""
        return 2 * self.excitation_harmonics

    @property
    def dilations(self):
        """Decoder dilation of each residual block, ``tuple[int]`` of length ``num_layers``."""
        return tuple(2 ** (i % self.num_stages) for i in range(self.num_layers))

    @property
    def ae_dilations(self):
        """Encoder dilation of each residual block, ``tuple[int]`` of length ``ae_num_layers``."""
        return tuple(2 ** (i % self.ae_num_stages) for i in range(self.ae_num_layers))

    @property
    def receptive_field(self):
        """How many past samples one decoder prediction can see.

        The prediction for sample ``t`` depends on samples ``t - receptive_field .. t - 1``
        (the input is shifted right by one, then the start conv and every dilated conv widen
        the window by ``(filter_length - 1) * dilation``).
        """
        span = (self.filter_length - 1) * (1 + sum(self.dilations))
        return span + 1

    @property
    def ae_receptive_field(self):
        """Samples the encoder sees around one time step, before pooling (centred window)."""
        return (self.ae_filter_length - 1) * (1 + sum(self.ae_dilations)) + 1

    def decoder_signal(self, audio):
        """What the decoder reads and predicts for ``audio``: the audio, pre-emphasized if so configured.

        Parameters
        ----------
        audio : np.ndarray [shape=(..., time)], float in [-1, 1]

        Returns
        -------
        signal : np.ndarray [shape=(..., time)], float32
        """
        return pre_emphasis(audio, self.pre_emphasis)

    def to_dict(self):
        """Every field as a plain ``dict`` (JSON-serialisable).

        ``pre_emphasis`` is left out when it is 0, so that models without it are stored (and
        digested) as before it existed, and weights files stay readable by earlier versions.
        """
        values = dataclasses.asdict(self)
        if not self.pre_emphasis:
            del values["pre_emphasis"]
        return values

    def to_json(self):
        """The configuration as a JSON string (sorted keys), as stored in a weights file."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        """Inverse of :meth:`to_dict`; unknown keys are rejected by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParameterError(f"`config` must only have the keys {sorted(known)}. Received unknown keys: {unknown}.")
        return cls(**values)

    def replace(self, **changes):
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


#: The published model (Engel et al. 2017), as in magenta's ``h512_bo16.py``.
H512_BO16 = ModelConfig(name="h512_bo16")

#: The embedded default model: same family, hop and encoding width, sized to resynthesize in
#: real time on a 2-core CPU, pitch-conditioned (chosen by measurement, see ``assets/MODEL_CARD.md``).
EMBEDDED = ModelConfig(
    name="embedded_sf_w64",
    num_layers=20,
    num_stages=10,
    width=64,
    skip_width=64,
    ae_num_layers=10,
    ae_num_stages=10,
    ae_width=64,
    excitation_harmonics=8,
    pre_emphasis=0.85,
)

#: The embedded default model's weights, shipped with the package (see ``assets/MODEL_CARD.md``).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "assets" / "default_model.npz"
#: The sampling temperature the embedded default model is heard at unless told otherwise (chosen
#: on held-out instruments: ``assets/MODEL_CARD.md``); other models sample at 1.0, their raw
#: distribution.
DEFAULT_MODEL_TEMPERATURE = 0.1
#: Its temperature in unvoiced frames (between, it follows the voicing channel; see
#: ``NSynth.synthesize``), chosen with :data:`DEFAULT_MODEL_TEMPERATURE`.
DEFAULT_MODEL_UNVOICED_TEMPERATURE = 1.0
