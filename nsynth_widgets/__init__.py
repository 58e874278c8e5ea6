"""nsynth_widgets: load, encode, plot, resynthesize and mix sounds with the NSynth WaveNet autoencoder.

Importing this package is cheap: TensorFlow/Keras load only when a model is first needed
(``nw.NSynth``, ``nw.Synthesizer``), and librosa only when audio is decoded.

>>> import nsynth_widgets as nw
>>> audio = nw.load_audio("cello.flac")                 # 16 kHz mono float32
>>> model = nw.NSynth.default()                         # the embedded model
>>> enc = model.encode(audio[:40000])                   # (1, 78, 16)
>>> out = model.synthesize(enc, seed=0)                 # (1, 39936)
"""

import importlib

__version__ = "0.1.0"

# public name → module that defines it (imported on first access)
_LAZY = {
    "load_audio": "nsynth_widgets.audio",
    "save_audio": "nsynth_widgets.audio",
    "to_wav_bytes": "nsynth_widgets.audio",
    "save_encoding": "nsynth_widgets.encodings",
    "load_encoding": "nsynth_widgets.encodings",
    "ModelConfig": "nsynth_widgets.model.config",
    "H512_BO16": "nsynth_widgets.model.config",
    "NSynth": "nsynth_widgets.model.nsynth",
    "Synthesizer": "nsynth_widgets.runtime",
    "download_checkpoint": "nsynth_widgets.download",
    "examples": "nsynth_widgets.example_sounds",
    "Dashboard": "nsynth_widgets.widgets.dashboard",
    "render_grid": "nsynth_widgets.grid",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nsynth_widgets' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
