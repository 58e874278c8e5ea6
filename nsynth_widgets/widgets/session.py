"""`Session`: what the panels share — sounds, selection, encodings, resyntheses, status, the model.

A session is plain state (a :class:`traitlets.HasTraits`, no ipywidgets), so it can be driven
and tested from Python alone. Panels observe its traits and redraw when they change. Every
dictionary trait is replaced, never mutated, so observers always fire; stored arrays are
read-only copies, so no panel can change what another one shows.
"""

import threading

import numpy as np
import traitlets

from ..audio import validate_audio
from ..dsp.framing import SAMPLE_RATE
from ..encodings import validate_encoding
from ..errors import AudioError, ParameterError, check_choice, describe
from ..runtime import DEFAULT_MODEL, PRECISIONS, Synthesizer

__all__ = ["Session", "MAX_SAMPLES", "MAX_NAME_LENGTH"]

#: Longest sound a session keeps (60 s): synthesis time grows with length, and visitors share the server.
MAX_SAMPLES = 60 * SAMPLE_RATE
#: Longest name of a sound or an encoding (characters).
MAX_NAME_LENGTH = 80


def _frozen(array):
    """A read-only copy of ``array``."""
    copy = np.array(array, copy=True)
    copy.setflags(write=False)
    return copy


def _check_name(name, argument="name"):
    """Return ``name`` stripped, or raise if it is not a short non-empty string."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        raise ParameterError(
            f"`{argument}` must be a non-empty string of at most {MAX_NAME_LENGTH} characters. "
            f"Received: {argument}={describe(name)}."
        )
    return name.strip()


class Session(traitlets.HasTraits):
    """State shared by the panels of one dashboard (or one notebook).

    Parameters
    ----------
    synthesizer : Synthesizer or str or os.PathLike or NSynth
        The model every panel uses. Anything but a :class:`~nsynth_widgets.runtime.Synthesizer`
        is wrapped in one; nothing is loaded until the first encode or synthesis.

    Attributes
    ----------
    sounds : dict[str, np.ndarray [shape=(n,)], float32]
        Loaded sounds at :data:`~nsynth_widgets.dsp.framing.SAMPLE_RATE`, read-only.
    selected : list of str
        Names of the sounds the encoder works on (the last one is :attr:`current`).
    encodings : dict[str, np.ndarray [shape=(1, frames, channels)], float32]
        Encodings by name (of a sound, or loaded from a file), read-only.
    resyntheses : dict[str, np.ndarray [shape=(frames * hop_length,)], float32]
        The latest resynthesis of each encoding, read-only.
    status, error : str
        The latest message and the latest error (plain text, "" after a success) for a status line.
    synthesizer : Synthesizer
        Replacing it forgets every encoding and resynthesis (they belong to the old model).
    precision : str
        Decoder weights every synthesis uses: ``"float32"`` or ``"int8"`` (faster; see
        :meth:`~nsynth_widgets.model.nsynth.NSynth.synthesize`).
    """

    sounds = traitlets.Dict()
    selected = traitlets.List(traitlets.Unicode())
    encodings = traitlets.Dict()
    resyntheses = traitlets.Dict()
    status = traitlets.Unicode("")
    error = traitlets.Unicode("")
    synthesizer = traitlets.Instance(Synthesizer)
    precision = traitlets.Unicode("float32")

    def __init__(self, synthesizer=DEFAULT_MODEL):
        if not isinstance(synthesizer, Synthesizer):
            synthesizer = Synthesizer(synthesizer)
        self._lock = threading.RLock()  # dict updates come from widget threads too
        super().__init__(synthesizer=synthesizer)

    # -- queries -------------------------------------------------------------------------------
    @property
    def current(self):
        """The most recently selected sound's name, or None."""
        return self.selected[-1] if self.selected else None

    @property
    def max_frames(self):
        """Most frames an encoding may have here: as many as :data:`MAX_SAMPLES` of audio give (loads the model)."""
        return MAX_SAMPLES // self.synthesizer.config.hop_length

    def names(self):
        """Sorted names that have a sound or an encoding (what synthesis panels offer)."""
        return sorted(set(self.sounds) | set(self.encodings))

    # -- changes -------------------------------------------------------------------------------
    def add_sound(self, name, audio):
        """Add (or replace) a sound and select it.

        Parameters
        ----------
        name : str
            At most 80 characters; surrounding spaces are dropped.
        audio : np.ndarray [shape=(n,)], float
            Mono audio at :data:`~nsynth_widgets.dsp.framing.SAMPLE_RATE` in [-1, 1], not silent, at most :data:`MAX_SAMPLES`.

        Returns
        -------
        name : str
            The stored name. Replacing a sound forgets its encoding and resynthesis.
        """
        name = _check_name(name)
        audio = validate_audio(audio, name="audio", ndim=1)
        if audio.size > MAX_SAMPLES:
            raise AudioError(
                f"`audio` must be at most {MAX_SAMPLES} samples ({MAX_SAMPLES // SAMPLE_RATE} s at "
                f"{SAMPLE_RATE} Hz). Received: audio with {audio.size} samples."
            )
        with self._lock:
            self._forget(name)
            self.sounds = {**self.sounds, name: _frozen(audio)}
            self.selected = [n for n in self.selected if n != name] + [name]
        return name

    def remove_sound(self, name):
        """Forget a sound with its encoding and resynthesis."""
        with self._lock:
            check_choice("name", name, self.names())
            self._forget(name)
            self.sounds = {n: a for n, a in self.sounds.items() if n != name}
            self.selected = [n for n in self.selected if n != name]

    def set_encoding(self, name, encoding):
        """Store an encoding (e.g. loaded from a file) under ``name``; its old resynthesis is forgotten.

        Parameters
        ----------
        encoding : np.ndarray [shape=(frames, channels) or (1, frames, channels)]
            ``channels`` must be the model's bottleneck width (loads the model), ``frames`` at most
            :attr:`max_frames` (the 60 s that sounds may last).
        """
        name = _check_name(name)
        encoding = validate_encoding(encoding, self.synthesizer.config.bottleneck_width)
        if encoding.shape[0] != 1:
            raise ParameterError(
                f"`encoding` must hold one sound, shape (frames, channels) or (1, frames, channels). "
                f"Received: encoding={describe(encoding)}."
            )
        if encoding.shape[1] > self.max_frames:
            raise ParameterError(
                f"`encoding` must have at most {self.max_frames} frames ({MAX_SAMPLES // SAMPLE_RATE} s of audio). "
                f"Received: encoding={describe(encoding)}."
            )
        with self._lock:
            self.resyntheses = {n: a for n, a in self.resyntheses.items() if n != name}
            self.encodings = {**self.encodings, name: _frozen(encoding)}
        return name

    def set_resynthesis(self, name, audio):
        """Store the resynthesis of the encoding ``name``: ``audio`` of shape ``(n,)``."""
        check_choice("name", name, self.encodings)
        audio = validate_audio(audio, name="audio", allow_silence=True)
        with self._lock:
            self.resyntheses = {**self.resyntheses, name: _frozen(audio.reshape(-1))}

    def encode(self, names=None):
        """Encode sounds that have no encoding yet, batching sounds with equal frame counts.

        Parameters
        ----------
        names : list of str or None
            Sound names; None encodes :attr:`selected`.

        Returns
        -------
        encodings : dict[str, np.ndarray [shape=(1, frames, channels)]]
            One per name, in the order given (stored ones are reused).
        """
        names = list(self.selected if names is None else names)
        if not names:
            raise ParameterError("`names` must list at least one sound to encode. Received: names=[].")
        for name in names:
            if name not in self.encodings:
                check_choice("name", name, self.sounds)
        missing = [name for name in dict.fromkeys(names) if name not in self.encodings]
        if missing:
            hop = self.synthesizer.config.hop_length
            by_length = {}
            for name in missing:
                audio = self.sounds[name]
                if audio.size < hop:
                    raise AudioError(
                        f"`{name}` must have at least {hop} samples (one encoding frame) to be encoded. "
                        f"Received: {name} with {audio.size} samples."
                    )
                by_length.setdefault(audio.size // hop, []).append(name)
            new = {}
            for frames, group in by_length.items():
                batch = np.stack([self.sounds[name][: frames * hop] for name in group])
                for name, encoding in zip(group, self.synthesizer.encode(batch)):
                    new[name] = _frozen(encoding[None])
            with self._lock:
                self.encodings = {**self.encodings, **new}
                self.resyntheses = {n: a for n, a in self.resyntheses.items() if n not in new}
        return {name: self.encodings[name] for name in names}

    # -- internals -----------------------------------------------------------------------------
    @traitlets.validate("selected")
    def _validate_selected(self, proposal):
        names = list(dict.fromkeys(proposal["value"]))
        for name in names:
            check_choice("selected", name, self.sounds)
        return names

    @traitlets.validate("precision")
    def _valid_precision(self, proposal):
        return check_choice("precision", proposal["value"], PRECISIONS)

    @traitlets.observe("synthesizer")
    def _model_changed(self, change):
        if change["old"] is not None:
            self.encodings = {}
            self.resyntheses = {}

    def _forget(self, name):
        self.encodings = {n: e for n, e in self.encodings.items() if n != name}
        self.resyntheses = {n: a for n, a in self.resyntheses.items() if n != name}
