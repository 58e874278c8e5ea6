"""Teaching widgets that make WaveNet's ideas visible and audible, for classrooms.

* :class:`ReceptiveFieldExplorer`: how dilated (causal) convolutions widen what one output sees;
* :class:`MuLawExplorer`: what mu-law quantization to ``2**bits`` classes does to a sound;
* :class:`Stepper`: autoregressive generation one sample at a time, with the predicted distribution.

Convention: every panel **is** an :class:`ipywidgets.VBox` (display it directly, or put it in a
layout); its controls and outputs are public attributes (e.g. ``explorer.mu``,
``explorer.error``) so that tests and notebooks can drive it headless. The computations behind
each panel are plain functions of the same module, usable and testable without widgets. Every
value a visitor can set is validated on the server: an invalid one is reported in the panel's
``error`` line and the previous state stays on show.
"""

from .mulaw_explorer import MuLawExplorer, compand, demo_sound, mulaw_classes, quantization_snr, quantize_audio
from .receptive_field import ReceptiveFieldExplorer, dilation_pattern, plot_stack, receptive_field, receptive_taps
from .stepper import Stepper, entropy_bits, temperature_softmax

__all__ = [
    "ReceptiveFieldExplorer",
    "MuLawExplorer",
    "Stepper",
    "receptive_field",
    "receptive_taps",
    "dilation_pattern",
    "plot_stack",
    "compand",
    "quantize_audio",
    "mulaw_classes",
    "quantization_snr",
    "demo_sound",
    "temperature_softmax",
    "entropy_bits",
]
