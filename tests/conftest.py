import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest

from nsynth_widgets.model.config import ModelConfig

#: Small but structurally complete: 2 dilation stacks in both nets, batch-friendly, hop 64.
TINY = ModelConfig(
    name="tiny",
    num_layers=6,
    num_stages=3,
    width=8,
    skip_width=12,
    ae_num_layers=4,
    ae_num_stages=2,
    ae_width=8,
    hop_length=64,
)

#: TINY with pitch channels and a 3-harmonic oscillator (a source-filter WaveNet).
TINY_PITCH = TINY.replace(name="tiny-pitch", excitation_harmonics=3)


def random_arrays(config, seed=0, scale=0.3):
    """Random checkpoint-layout weights for ``config`` (big enough to make every path matter)."""
    from nsynth_widgets.model.checkpoint import expected_variables

    rng = np.random.default_rng(seed)
    return {
        name: rng.normal(0.0, scale, shape).astype(np.float32) for name, shape in expected_variables(config).items()
    }


def midi_hz(midi):
    """Frequency (Hz) of a MIDI pitch (69 is A4, 440 Hz)."""
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def harmonic_tone(freq, n, partials=(1.0, 0.5, 0.25), decay=1.5, amplitude=0.4, sample_rate=16000):
    """A decaying harmonic tone (float32) with the given partial amplitudes."""
    t = np.arange(n) / sample_rate
    wave = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(partials))
    return (amplitude * np.exp(-t / decay) * wave / sum(partials)).astype(np.float32)


def write_keyboard_notes(folder, notes, tone):
    """A rendered-dataset folder (``audio/*.wav`` + ``examples.json``) of keyboard notes.

    ``notes`` is a sequence of ``(split, program, pitch)`` (velocity 100) or ``(split, program, pitch,
    velocity)``; ``tone(program, pitch)``, or ``tone(program, pitch, velocity)`` for a note that gives
    its velocity, returns the note's 64 000 samples.
    """
    import json

    import soundfile

    (folder / "audio").mkdir(parents=True)
    examples = {}
    for split, program, pitch, *given in notes:
        velocity = given[0] if given else 100
        note_id = f"keyboard_{program:03d}-{pitch:03d}-{velocity:03d}"
        examples[note_id] = {
            "note_str": note_id,
            "instrument": program,
            "instrument_str": f"keyboard_{program:03d}",
            "family": 4,
            "family_str": "keyboard",
            "pitch": pitch,
            "velocity": velocity,
            "split": split,
            "sample_rate": 16000,
        }
        samples = tone(program, pitch, *given)
        soundfile.write(folder / "audio" / f"{note_id}.wav", samples, 16000, subtype="PCM_16")
    (folder / "examples.json").write_text(json.dumps(examples))


@pytest.fixture(scope="session")
def tiny_config():
    return TINY


@pytest.fixture(scope="session")
def tiny_arrays():
    return random_arrays(TINY)


@pytest.fixture(scope="session")
def tiny_model(tiny_arrays):
    from nsynth_widgets.model.nsynth import NSynth

    return NSynth(TINY, tiny_arrays, source="test")


@pytest.fixture(scope="session")
def pitch_arrays():
    return random_arrays(TINY_PITCH, seed=1)


@pytest.fixture(scope="session")
def pitch_model(pitch_arrays):
    from nsynth_widgets.model.nsynth import NSynth

    return NSynth(TINY_PITCH, pitch_arrays, source="test")


@pytest.fixture
def sine():
    """0.5 s of a 440 Hz sine at 16 kHz, amplitude 0.5 (float32)."""
    t = np.arange(8000) / 16000.0
    return (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
