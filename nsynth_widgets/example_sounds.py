"""The example sounds bundled with the package (see ``assets/examples/LICENSE.txt``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import check_choice
from .dsp.framing import SAMPLE_RATE

if TYPE_CHECKING:  # annotations only
    import numpy as np

__all__ = ["EXAMPLES_DIR", "examples", "load_example"]

#: The folder of the bundled example sounds (written by ``nsynth-widgets make-examples``).
EXAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "examples"


def examples() -> dict[str, Path]:
    """Bundled example sounds: ``dict[name, pathlib.Path]`` sorted by name (4 s, 16 kHz wav)."""
    return {path.stem: path for path in sorted(EXAMPLES_DIR.glob("*.wav"))}


def load_example(name: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Load one bundled example as mono float32 ``(n,)`` audio."""
    from .audio import load_audio

    available = examples()
    check_choice("name", name, available)
    return load_audio(available[name], sample_rate=sample_rate)
