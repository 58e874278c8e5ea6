"""Keras 3 layers of the NSynth WaveNet, written with ``keras.ops`` (any Keras backend).

Each convolution is one layer named after the original checkpoint scope (``dilatedconv_7``,
``cond_map_7``, ``res_7``, ``skip_7`` ...), so loading the published checkpoint is a table
lookup: ``NAME/W [1, k, in, out]`` → ``kernel [k, in, out]``, ``NAME/biases`` → ``bias``.
"""

import keras
from keras import ops

from ..errors import ParameterError, check_bool, check_integer

__all__ = ["NSynthConv1D", "shift_right", "repeat_frames", "gated_activation"]


class NSynthConv1D(keras.layers.Layer):
    """A 1-D convolution with NSynth's padding rules.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int
        Taps; tap ``j`` multiplies input ``t - (kernel_size - 1 - j) * dilation`` when causal and
        ``t + (j - (kernel_size - 1) // 2) * dilation`` when not.
    dilation : int
        Spacing between taps.
    causal : bool
        Causal: pad ``(kernel_size - 1) * dilation`` zeros on the left. Non-causal: pad the same
        total split evenly (``kernel_size`` must then be odd), as TF1's ``SAME`` did.

    Input ``[batch, time, in]`` → output ``[batch, time, filters]``.
    """

    def __init__(self, filters, kernel_size=1, dilation=1, causal=True, **kwargs):
        super().__init__(**kwargs)
        filters = check_integer("filters", filters, 1)
        kernel_size = check_integer("kernel_size", kernel_size, 1)
        dilation = check_integer("dilation", dilation, 1)
        causal = check_bool("causal", causal)
        if not causal and kernel_size % 2 == 0:
            raise ParameterError(
                f"`kernel_size` must be odd for a non-causal convolution. Received: kernel_size={kernel_size}."
            )
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.causal = causal

    def build(self, input_shape):
        """Create the kernel ``(kernel_size, in_channels, filters)`` and the bias."""
        in_channels = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, in_channels, self.filters),
            initializer=keras.initializers.GlorotUniform(),
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    @property
    def padding(self):
        """``(left, right)`` zeros added along time."""
        total = (self.kernel_size - 1) * self.dilation
        return (total, 0) if self.causal else (total // 2, total // 2)

    def call(self, inputs):
        """``(batch, time, in_channels)`` → ``(batch, time, filters)``, same length (padded)."""
        if self.kernel_size == 1:
            return ops.matmul(inputs, self.kernel[0]) + self.bias
        padded = ops.pad(inputs, [(0, 0), self.padding, (0, 0)])
        outputs = ops.conv(padded, self.kernel, strides=1, padding="valid", dilation_rate=self.dilation)
        return outputs + self.bias

    def get_config(self):
        """Keras serialization: the layer's arguments."""
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, dilation=self.dilation, causal=self.causal)
        return config


def shift_right(x):
    """Delay a ``[batch, time, channels]`` signal by one step, filling with zero (causality)."""
    return ops.pad(x, [(0, 0), (1, 0), (0, 0)])[:, :-1, :]


def repeat_frames(frames, hop_length):
    """``[batch, frames, c]`` → ``[batch, frames * hop_length, c]``: each frame held for a hop."""
    return ops.repeat(frames, hop_length, axis=1)


def gated_activation(x):
    """WaveNet's gate on ``[..., 2 * c]``: ``sigmoid(first c) * tanh(last c)`` → ``[..., c]``."""
    half = x.shape[-1] // 2
    return ops.sigmoid(x[..., :half]) * ops.tanh(x[..., half:])
