"""The example sounds bundled with the package (see ``assets/examples/LICENSE.txt``)."""

from pathlib import Path

from .errors import ParameterError
from .dsp.framing import SAMPLE_RATE

__all__ = ["examples", "load_example"]

_DIR = Path(__file__).resolve().parent / "assets" / "examples"


def examples():
    """Bundled example sounds: ``dict[name, pathlib.Path]`` sorted by name (4 s, 16 kHz wav)."""
    return {path.stem: path for path in sorted(_DIR.glob("*.wav"))}


def load_example(name, sample_rate=SAMPLE_RATE):
    """Load one bundled example as mono float32 ``(n,)`` audio."""
    from .audio import load_audio

    available = examples()
    if name not in available:
        raise ParameterError(f"`name` must be one of {sorted(available)}. Received: name={name!r}.")
    return load_audio(available[name], sample_rate=sample_rate)
