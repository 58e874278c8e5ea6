"""`Synthesizer`: one loaded model shared by the widgets and the CLI, with caching.

The model is loaded once (lazily, on first use) and every call goes through one lock, so a
widget thread and the notebook never run TensorFlow on the same model at once. Results are
cached by content: the same audio (or encoding), model and settings never compute twice.
"""

import collections
import hashlib
import threading
from pathlib import Path

import numpy as np

from .errors import ParameterError, check_integer, describe
from .model import config as model_config
from .model.config import PRECISIONS

__all__ = ["Synthesizer", "load_model", "DEFAULT_MODEL", "PRECISIONS", "default_weights"]

#: The name that selects the embedded default model.
DEFAULT_MODEL = "default"


def default_weights():
    """Path of the embedded default model's weights file (absent in a checkout that has not trained one).

    Returns
    -------
    path : pathlib.Path
        :data:`nsynth_widgets.model.config.DEFAULT_WEIGHTS`.
    """
    return model_config.DEFAULT_WEIGHTS


def load_model(spec=DEFAULT_MODEL):
    """Load a model from a short description.

    Parameters
    ----------
    spec : str or os.PathLike or NSynth
        ``"default"`` (the embedded model), a ``.npz`` weights file written by nsynth_widgets, a
        TF1 checkpoint prefix or folder (the published ``wavenet-ckpt/model.ckpt-200000``), or
        an :class:`~nsynth_widgets.model.nsynth.NSynth` (returned as is).

    Returns
    -------
    model : NSynth
    """
    from .model.nsynth import NSynth

    if isinstance(spec, NSynth):
        return spec
    if not isinstance(spec, (str, Path)) or not str(spec).strip():
        raise ParameterError(
            f"`model` must be 'default', a .npz weights file or a checkpoint prefix. Received: model={describe(spec)}."
        )
    if str(spec) == DEFAULT_MODEL:
        return NSynth.default()
    if str(spec).endswith(".npz"):
        return NSynth.from_weights(spec)
    return NSynth.from_checkpoint(spec)


def _digest(*parts):
    h = hashlib.sha1()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str((part.shape, part.dtype.str)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()


class Synthesizer:
    """Encode and synthesize with one model, cached, thread-safe, cancellable.

    Parameters
    ----------
    model : str or os.PathLike or NSynth
        See :func:`load_model`; loaded on first use.
    cache_size : int
        Results kept (least recently used dropped first).
    """

    def __init__(self, model=DEFAULT_MODEL, cache_size=64):
        cache_size = check_integer("cache_size", cache_size, 0)
        self._spec = model
        self._model = None
        self._lock = threading.RLock()
        self._cache = collections.OrderedDict()
        self._cache_size = cache_size

    @property
    def model(self):
        """The loaded :class:`NSynth` (loaded now if needed)."""
        with self._lock:
            if self._model is None:
                self._model = load_model(self._spec)
            return self._model

    @property
    def config(self):
        """The loaded model's :class:`~nsynth_widgets.model.config.ModelConfig`."""
        return self.model.config

    @property
    def default_temperature(self):
        """The model's default sampling temperature, known without loading the model."""
        from .model.nsynth import NSynth

        with self._lock:
            if self._model is not None:
                return self._model.default_temperature
        if isinstance(self._spec, NSynth):
            return self._spec.default_temperature
        # not loaded yet: the embedded model has its own; files load at NSynth's
        if str(self._spec) == DEFAULT_MODEL:
            return model_config.DEFAULT_MODEL_TEMPERATURE
        return NSynth.default_temperature

    @property
    def pitch_conditioned(self):
        """Whether the model's encodings carry pitch channels (so it can transpose), known without loading it.

        The embedded model and ``.npz`` files say so in their stored configuration; a TF1 checkpoint
        is the published model, which has none.
        """
        from .model.checkpoint import read_config
        from .model.nsynth import NSynth

        with self._lock:
            if self._model is not None:
                return self._model.config.pitch_conditioned
        if isinstance(self._spec, NSynth):
            return self._spec.config.pitch_conditioned
        spec = str(self._spec)
        if spec == DEFAULT_MODEL:
            weights = default_weights()
            return weights.is_file() and read_config(weights).pitch_conditioned
        return spec.endswith(".npz") and Path(spec).is_file() and read_config(spec).pitch_conditioned

    @property
    def description(self):
        """One line for a status bar: source and size of the model."""
        c = self.model.config
        return f"{self.model.source} — {c.name}: {c.num_layers} layers × {c.width} channels, hop {c.hop_length}"

    def _remember(self, key, compute):
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = compute()
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return value

    def encode(self, audio):
        """Encode ``(n,)`` or ``(batch, n)`` audio → ``(batch, frames, 16)`` (cached)."""
        audio = np.asarray(audio, np.float32)

        def compute():
            with self._lock:
                return self.model.encode(audio)

        return self._remember(("encode", _digest(audio)), compute).copy()

    def incremental_decoder(self, encoding, precision="float32"):
        """Generation state for ``encoding`` that advances by as many samples as asked (the teaching Stepper's).

        Parameters
        ----------
        encoding : np.ndarray [shape=(batch, frames, bottleneck_width)]
        precision : {"float32", "int8"}
            Decoder weights (see :meth:`NSynth.synthesize`).

        Returns
        -------
        decoder : nsynth_widgets.model.fastgen.IncrementalDecoder
            Its ``step(n, rng=...)`` makes the samples :meth:`synthesize` makes with the same
            generator; it holds its own state, so stepping needs no lock.
        """
        from .model.fastgen import IncrementalDecoder

        with self._lock:
            weights = self.model.generation_weights(precision)
        return IncrementalDecoder(weights, encoding)

    def transpose(self, encoding, semitones):
        """``encoding`` moved by ``semitones`` (see :meth:`NSynth.transpose`; needs pitch channels)."""
        return self.model.transpose(encoding, semitones)

    def synthesize(
        self,
        encoding,
        seed=0,
        temperature=None,
        greedy=False,
        chunk_size=2048,
        progress=None,
        cancel=None,
        precision="float32",
        unvoiced_temperature=None,
    ):
        """Synthesize ``(batch, frames, 16)`` encodings → ``(batch, frames * hop)`` audio (cached).

        Parameters
        ----------
        temperature : float, optional
            Default: the model's :attr:`~NSynth.default_temperature`.
        unvoiced_temperature : float, optional
            Pitch-conditioned models (see :meth:`NSynth.synthesize`). Default: the model's
            :attr:`~NSynth.default_unvoiced_temperature`.
        precision : {"float32", "int8"}
            Decoder weights (see :meth:`NSynth.synthesize`).
        progress : callable(done, total, partial_audio), optional
        cancel : threading.Event or callable() -> bool, optional
            Stops between chunks; :class:`~nsynth_widgets.errors.SynthesisCancelled` carries
            the audio so far. A cancelled run is not cached.
        """
        encoding = np.asarray(encoding, np.float32)
        if temperature is None:
            temperature = self.model.default_temperature
        if unvoiced_temperature is None:
            unvoiced_temperature = self.model.default_unvoiced_temperature
        should_stop = cancel.is_set if isinstance(cancel, threading.Event) else cancel
        key = (
            "synthesize",
            _digest(encoding, seed, float(temperature), unvoiced_temperature, bool(greedy), str(precision)),
        )

        def compute():
            with self._lock:
                return self.model.synthesize(
                    encoding,
                    seed=seed,
                    temperature=temperature,
                    greedy=greedy,
                    chunk_size=chunk_size,
                    progress=progress,
                    cancel=should_stop,
                    precision=precision,
                    unvoiced_temperature=unvoiced_temperature,
                )

        return self._remember(key, compute).copy()
