"""Pure NumPy signal processing.

Mu-law, framing, mixing and time-stretching of encodings, and the
pitch channels and oscillator of a pitch-conditioned model (:mod:`.pitch`, :mod:`.excitation`;
the pitch estimator calls librosa, imported when first used).

Nothing here imports TensorFlow; every function is usable without a model.
"""

from .mulaw import mu_law_encode, mu_law_decode, codes_to_classes, classes_to_codes, quantize
from .framing import HOP_LENGTH, SAMPLE_RATE, frames_for, trim_to_hop
from .mix import bilinear_grid, bilinear_weights, crossfade, interpolate, time_stretch, weighted_mix, with_pitch_of

__all__ = [
    "SAMPLE_RATE",
    "HOP_LENGTH",
    "mu_law_encode",
    "mu_law_decode",
    "codes_to_classes",
    "classes_to_codes",
    "quantize",
    "frames_for",
    "trim_to_hop",
    "interpolate",
    "crossfade",
    "bilinear_weights",
    "bilinear_grid",
    "weighted_mix",
    "time_stretch",
    "with_pitch_of",
]
