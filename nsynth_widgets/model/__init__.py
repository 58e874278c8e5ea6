"""The NSynth WaveNet autoencoder: the only subpackage that imports TensorFlow / Keras.

``config`` is pure Python; the other modules load Keras when first imported, so this
package's ``__init__`` resolves them lazily.
"""

from .config import H512_BO16, ModelConfig

__all__ = ["ModelConfig", "H512_BO16", "NSynth"]


def __getattr__(name):
    if name == "NSynth":
        from .nsynth import NSynth

        return NSynth
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
