"""Shared helpers of the headless widget tests: a session on the tiny model, uploads, wav bytes."""

import io

import numpy as np
import pytest
import soundfile as sf

from nsynth_widgets.runtime import Synthesizer
from nsynth_widgets.widgets.session import Session


def tone(n=8000, frequency=440.0, amplitude=0.5, sample_rate=16000):
    """A decaying sine: ``(n,)`` float32."""
    t = np.arange(n) / sample_rate
    return (amplitude * np.exp(-2.0 * t) * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def wav_bytes(audio, sample_rate=16000, subtype="FLOAT"):
    """``audio`` ((n,) or (n, channels)) as the bytes of a wav file."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def wav_samples(data):
    """Decode wav bytes (e.g. an ``ipywidgets.Audio`` value) → float32 samples."""
    return sf.read(io.BytesIO(data), dtype="float32")[0]


def send_files(upload, *files):
    """What the browser sends an :class:`~nsynth_widgets.widgets.upload.Upload` for a pick of ``(name, content)``.

    ``content`` may be an ``int`` instead: a file of that many bytes, which the browser holds back
    when it is over ``upload.max_bytes`` (only its name and size arrive).
    """
    for index, (name, content) in enumerate(files):
        header = {"type": "file", "name": name, "index": index, "count": len(files)}
        if isinstance(content, int):
            upload._handle_custom_msg({**header, "size": content}, [])
        else:
            upload._handle_custom_msg({**header, "size": len(content)}, [memoryview(content)])


class CallCounter:
    """Counts calls to a model method while forwarding them (a thin wrapper, real results)."""

    def __init__(self, monkeypatch, model, method):
        self.calls = []
        original = getattr(model, method)

        def counted(*args, **kwargs):
            self.calls.append((args, kwargs))
            return original(*args, **kwargs)

        monkeypatch.setattr(model, method, counted)


@pytest.fixture
def session(tiny_model):
    """A fresh session (empty cache) around the tiny random-weight model."""
    return Session(Synthesizer(tiny_model))
