"""The WaveNet autoencoder as a Keras 3 model: encoder, teacher-forced decoder, training forward.

Inputs are *scaled mu-law codes*: ``code / 128`` with ``code`` from
:func:`nsynth_widgets.dsp.mu_law_encode` (both the encoder and the decoder hear the 8-bit signal,
as in the original). Conversion from audio lives in :mod:`nsynth_widgets.model.nsynth`.

A pitch-conditioned model (``config.pitch_conditioned``) learns ``config.learned_channels`` of its
encoding; the f0 and voicing channels after them are measured from the audio
(:func:`nsynth_widgets.dsp.pitch.estimate_pitch`), and the decoder also reads the excitation built
from them (:func:`nsynth_widgets.dsp.excitation.excitation`). Both are NumPy computations without
gradients, so they arrive here as inputs.
"""

import keras
from keras import ops

from .config import ModelConfig
from .layers import NSynthConv1D, gated_activation, repeat_frames, shift_right

__all__ = ["WaveNetAutoencoder", "WaveNetEncoder"]


class WaveNetEncoder(keras.layers.Layer):
    """NSynth's non-causal encoder: scaled codes → the learned channels of the encoding.

    Its own layer so that a copy can run at another compute precision (``dtype="mixed_bfloat16"``:
    the convolutions in bfloat16, the weights kept in float32; see ``NSynth.encode``).

    Parameters
    ----------
    config : ModelConfig
    """

    def __init__(self, config, **kwargs):
        super().__init__(name=kwargs.pop("name", "encoder"), **kwargs)
        self.config = c = config
        dtype = self.dtype_policy  # the convolutions compute at the encoder's precision

        def conv(filters, kernel_size=1, dilation=1, causal=True, name=None):
            return NSynthConv1D(filters, kernel_size, dilation, causal=causal, name=name, dtype=dtype)

        self.ae_startconv = conv(c.ae_width, c.ae_filter_length, causal=False, name="ae_startconv")
        self.ae_dilatedconvs = [
            conv(c.ae_width, c.ae_filter_length, d, causal=False, name=f"ae_dilatedconv_{i + 1}")
            for i, d in enumerate(c.ae_dilations)
        ]
        self.ae_res = [conv(c.ae_width, name=f"ae_res_{i + 1}") for i in range(c.ae_num_layers)]
        self.ae_bottleneck = conv(c.learned_channels, name="ae_bottleneck")

    def call(self, x_scaled):
        """Encode scaled codes.

        Parameters
        ----------
        x_scaled : tensor [shape=(batch, time)], float32
            ``time`` a multiple of ``hop_length``.

        Returns
        -------
        encoding : tensor [shape=(batch, time // hop_length, learned_channels)], float32
            The learned channels (all ``bottleneck_width`` of them unless pitch-conditioned).
        """
        h = self.ae_startconv(ops.expand_dims(x_scaled, -1))
        for dilated, res in zip(self.ae_dilatedconvs, self.ae_res):
            h = h + res(ops.relu(dilated(ops.relu(h))))
        h = ops.cast(self.ae_bottleneck(h), "float32")  # the pooling in float32 at any precision
        hop = self.config.hop_length
        frames = ops.shape(h)[1] // hop
        h = ops.reshape(h, (ops.shape(h)[0], frames, hop, self.config.learned_channels))
        return ops.mean(h, axis=2)

    def conv_layers(self):
        """Its convolutions, by checkpoint scope name: ``dict[str, NSynthConv1D]``."""
        layers = [self.ae_startconv, *self.ae_dilatedconvs, *self.ae_res, self.ae_bottleneck]
        return {layer.name: layer for layer in layers}


class WaveNetAutoencoder(keras.Model):
    """NSynth's non-causal encoder and causal, conditioned WaveNet decoder.

    Parameters
    ----------
    config : ModelConfig
    """

    def __init__(self, config, **kwargs):
        super().__init__(name=kwargs.pop("name", config.name), **kwargs)
        self.config = config
        c = config
        self.encoder = WaveNetEncoder(c)

        self.startconv = NSynthConv1D(c.width, c.filter_length, name="startconv")
        self.skip_start = NSynthConv1D(c.skip_width, name="skip_start")
        self.dilatedconvs = [
            NSynthConv1D(2 * c.width, c.filter_length, d, name=f"dilatedconv_{i + 1}")
            for i, d in enumerate(c.dilations)
        ]
        self.cond_maps = [NSynthConv1D(2 * c.width, name=f"cond_map_{i + 1}") for i in range(c.num_layers)]
        self.exc_maps = (
            [NSynthConv1D(2 * c.width, name=f"exc_map_{i + 1}") for i in range(c.num_layers)]
            if c.pitch_conditioned
            else []
        )
        # The last block's residual output feeds nothing, so the original graph never creates
        # `res_{num_layers}` at inference; the published checkpoint still holds it (training graph).
        self.res = [NSynthConv1D(c.width, name=f"res_{i + 1}") for i in range(c.num_layers)]
        self.skips = [NSynthConv1D(c.skip_width, name=f"skip_{i + 1}") for i in range(c.num_layers)]
        self.out1 = NSynthConv1D(c.skip_width, name="out1")
        self.cond_map_out1 = NSynthConv1D(c.skip_width, name="cond_map_out1")
        self.logits_layer = NSynthConv1D(c.quantization_channels, name="logits")
        self._build_all()

    def _build_all(self):
        c = self.config
        self.res[-1].build((None, None, c.width))
        dummy = ops.zeros((1, c.hop_length))
        pitch = ops.zeros((1, 1, 2)) if c.pitch_conditioned else None
        excitation = ops.zeros((1, c.hop_length, c.excitation_channels)) if c.pitch_conditioned else None
        self.decode_logits(dummy, self.full_encoding(dummy, pitch), excitation)
        self.built = True

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, x_scaled):
        """The learned channels of scaled codes (:class:`WaveNetEncoder`)."""
        return self.encoder(x_scaled)

    def full_encoding(self, x_scaled, pitch=None):
        """The whole encoding: the learned channels, then (pitch-conditioned) the measured ones.

        Parameters
        ----------
        x_scaled : tensor [shape=(batch, time)]
        pitch : tensor [shape=(batch, time // hop_length, 2)], optional
            f0 and voicing channels; required exactly when the model is pitch-conditioned.

        Returns
        -------
        encoding : tensor [shape=(batch, time // hop_length, bottleneck_width)]
        """
        learned = self.encode(x_scaled)
        if not self.config.pitch_conditioned:
            return learned
        return ops.concatenate([learned, ops.cast(pitch, learned.dtype)], axis=-1)

    # -- decoder ---------------------------------------------------------------------------
    def decode_logits(self, x_scaled, encoding, excitation=None):
        """Teacher-forced decoder: logits for every sample given the true past.

        Parameters
        ----------
        x_scaled : tensor [shape=(batch, time)], float32
        encoding : tensor [shape=(batch, time // hop_length, bottleneck_width)]
        excitation : tensor [shape=(batch, time, excitation_channels)], optional
            The oscillator built from the encoding's pitch channels; required exactly when the
            model is pitch-conditioned.

        Returns
        -------
        logits : tensor [shape=(batch, time, 256)]
            ``logits[:, t]`` depends on ``x_scaled[:, :t]`` only.
        """
        hop = self.config.hop_length
        h = self.startconv(shift_right(ops.expand_dims(x_scaled, -1)))
        skip = self.skip_start(h)
        for i, (dilated, cond_map, res, skip_conv) in enumerate(
            zip(self.dilatedconvs, self.cond_maps, self.res, self.skips)
        ):
            pre = dilated(h) + repeat_frames(cond_map(encoding), hop)
            if self.exc_maps:
                pre = pre + self.exc_maps[i](excitation)
            z = gated_activation(pre)
            h = h + res(z)
            skip = skip + skip_conv(z)
        s = self.out1(ops.relu(skip)) + repeat_frames(self.cond_map_out1(encoding), hop)
        return self.logits_layer(ops.relu(s))

    def call(self, inputs):
        """Training forward pass: encode then decode teacher-forced → logits ``[batch, time, 256]``.

        ``inputs`` is ``x_scaled [batch, time]``, or for a pitch-conditioned model a dict with
        ``"audio"`` (``x_scaled``: the decoder's past and targets), ``"encoder_audio"`` (what the
        encoder hears, the same crops or a perturbed copy), ``"pitch"`` ``[batch, frames, 2]`` and
        ``"excitation"`` ``[batch, time, excitation_channels]``.
        """
        x_scaled, encoder_input, pitch, excitation = self.unpack(inputs)
        return self.decode_logits(x_scaled, self.full_encoding(encoder_input, pitch), excitation)

    def unpack(self, inputs):
        """``inputs`` of :meth:`call` → ``(x_scaled, encoder_input, pitch or None, excitation or None)``."""
        if self.config.pitch_conditioned:
            return inputs["audio"], inputs["encoder_audio"], inputs["pitch"], inputs["excitation"]
        return inputs, inputs, None, None

    def conv_layers(self):
        """Every convolution, by its checkpoint scope name: ``dict[str, NSynthConv1D]``."""
        layers = [
            *self.encoder.conv_layers().values(),
            self.startconv,
            self.skip_start,
            *self.dilatedconvs,
            *self.cond_maps,
            *self.exc_maps,
            *self.res,
            *self.skips,
            self.out1,
            self.cond_map_out1,
            self.logits_layer,
        ]
        return {layer.name: layer for layer in layers}

    def get_config(self):
        """Keras serialization: the model configuration as a dict."""
        return {"config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config):
        """Keras deserialization, the inverse of :meth:`get_config`."""
        return cls(ModelConfig.from_dict(config["config"]))
