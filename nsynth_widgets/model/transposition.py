"""How the learned channels of an encoding move when the sound plays higher or lower.

A pitch-conditioned model transposes an encoding by moving its f0 channel; but its learned
channels also carry the pitch they were encoded at (the decoder reads it there as much as from
the oscillator), so a moved f0 alone mostly plays at neither pitch. A :class:`TranspositionMap`
predicts what the learned channels of the same instrument at the new pitch would be: a small
per-frame network, fitted on notes one SoundFont renders at many pitches
(:mod:`nsynth_widgets.training.transposition` fits it; ``nsynth-widgets fit-transposition``).

It reads ``2 * context + 1`` frames of the whole encoding around each frame (the pitch channels
included, the encoding's edges repeated) and the interval ``s = semitones / 12``, and returns
the change of the learned channels, times ``s``: a transposition by 0 changes nothing.

The map is stored in the model's weights file beside the network's variables, as
``transposition/dense_{i}/W`` ``[in, out]`` and ``transposition/dense_{i}/biases`` ``[out]``;
their shapes say its context and widths.
"""

import re

import numpy as np

from ..errors import CheckpointError

__all__ = ["PREFIX", "TranspositionMap", "map_arrays", "window_features"]

#: Weights-file names of the map start with this.
PREFIX = "transposition/"

_NAME = re.compile(r"^transposition/dense_(\d+)/(W|biases)$")


def map_arrays(arrays):
    """The map's entries of a weights-file dictionary (an empty dict when it has none)."""
    return {name: array for name, array in arrays.items() if name.startswith(PREFIX)}


def window_features(encoding, context, semitones):
    """A map's input for every frame.

    Parameters
    ----------
    encoding : np.ndarray [shape=(batch, frames, channels)], float32
    context : int
        Frames on either side.
    semitones : float

    Returns
    -------
    features : np.ndarray [shape=(batch, frames, (2 * context + 1) * channels + 1)], float32
        Frames ``t - context ... t + context`` (edges repeated), then ``semitones / 12``.
    """
    frames = encoding.shape[1]
    padded = np.pad(encoding, ((0, 0), (context, context), (0, 0)), mode="edge")
    windows = [padded[:, i : i + frames] for i in range(2 * context + 1)]
    interval = np.full(encoding.shape[:2] + (1,), semitones / 12.0, np.float32)
    return np.concatenate(windows + [interval], axis=-1)


class TranspositionMap:
    """A per-frame ReLU network: encoding context and interval → change of the learned channels.

    Parameters
    ----------
    layers : list of (np.ndarray [shape=(in, out)], np.ndarray [shape=(out,)])
        Dense layers in order; every one but the last is followed by a ReLU. The first reads
        ``(2 * context + 1) * channels + 1`` inputs, the last writes ``learned_channels``.
    channels : int
        Channels of an encoding (``ModelConfig.bottleneck_width``).
    learned_channels : int
        Its learned channels (the first ``learned_channels`` of them).

    Raises
    ------
    CheckpointError
        The layers do not chain, or their widths fit no context.
    """

    def __init__(self, layers, channels, learned_channels):
        self.layers = [(np.asarray(w, np.float32), np.asarray(b, np.float32)) for w, b in layers]
        self.channels, self.learned_channels = int(channels), int(learned_channels)
        shapes = [(w.shape, b.shape) for w, b in self.layers]
        inputs = self.layers[0][0].shape[0] - 1 if self.layers else -1
        chained = all(w.ndim == 2 and b.shape == (w.shape[1],) for w, b in self.layers) and all(
            self.layers[i][0].shape[1] == self.layers[i + 1][0].shape[0] for i in range(len(self.layers) - 1)
        )
        if (
            not chained
            or inputs <= 0
            or inputs % channels
            or (inputs // channels) % 2 == 0
            or self.layers[-1][0].shape[1] != learned_channels
        ):
            raise CheckpointError(
                "`transposition` must be dense layers that chain, reading (2 * context + 1) * "
                f"{channels} + 1 inputs and writing {learned_channels}. Received: layer shapes {shapes}."
            )
        self.context = (inputs // channels - 1) // 2

    @classmethod
    def from_arrays(cls, arrays, config):
        """The map held by a weights-file dictionary, or None when it holds none.

        Parameters
        ----------
        arrays : dict[str, np.ndarray]
            Every entry whose name starts with :data:`PREFIX` must be a layer's ``W`` or ``biases``.
        config : ModelConfig
            The model the map belongs to (it must be pitch-conditioned).
        """
        entries = map_arrays(arrays)
        if not entries:
            return None
        if not config.pitch_conditioned:
            raise CheckpointError(
                f"`weights` may hold a transposition map only for a pitch-conditioned model. Received: model "
                f"'{config.name}' (no pitch channels) with {sorted(entries)}."
            )
        found = {}
        for name in entries:
            match = _NAME.match(name)
            if match is None:
                raise CheckpointError(
                    f"`weights` must name the transposition map's arrays transposition/dense_<i>/W or /biases. "
                    f"Received: '{name}'."
                )
            found.setdefault(int(match.group(1)), {})[match.group(2)] = entries[name]
        if sorted(found) != list(range(len(found))) or any(len(layer) != 2 for layer in found.values()):
            raise CheckpointError(
                "`weights` must hold W and biases of every transposition layer dense_0 ... dense_<n>. "
                f"Received: {sorted(entries)}."
            )
        layers = [(found[i]["W"], found[i]["biases"]) for i in range(len(found))]
        return cls(layers, config.bottleneck_width, config.learned_channels)

    def to_arrays(self):
        """The weights-file entries of this map: ``{name: array}``."""
        out = {}
        for i, (w, b) in enumerate(self.layers):
            out[f"{PREFIX}dense_{i}/W"], out[f"{PREFIX}dense_{i}/biases"] = w, b
        return out

    def __call__(self, encoding, semitones):
        """The learned channels of ``encoding`` played ``semitones`` higher.

        Parameters
        ----------
        encoding : np.ndarray [shape=(batch, frames, channels)], float32
            Validated, pitch channels at the original pitch.
        semitones : float
            Finite.

        Returns
        -------
        learned : np.ndarray [shape=(batch, frames, learned_channels)], float32
        """
        change = self.change_per_octave(window_features(encoding, self.context, semitones))
        return encoding[..., : self.learned_channels] + np.float32(semitones / 12.0) * change

    def change_per_octave(self, features):
        """The network itself: what the learned channels change by, per octave of the interval.

        Parameters
        ----------
        features : np.ndarray [shape=(..., (2 * context + 1) * channels + 1)], float32
            :func:`window_features` of an encoding.

        Returns
        -------
        change : np.ndarray [shape=(..., learned_channels)], float32
        """
        h = features
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h
