"""libfluidsynth through ``ctypes``: render single notes of a General MIDI SoundFont.

One note is one instrument (a General MIDI program of bank 0), one MIDI pitch and one velocity:
4 s of 16 kHz mono audio with the key held for the first 3 s, rendered at 48 kHz with reverb and
chorus off, mixed to mono and resampled with soxr. Nothing is peak-normalised: velocity dynamics
are kept, and one global gain keeps the loudest notes below full scale. Debian packages the
library and the default SoundFont as ``fluidsynth`` and ``fluid-soundfont-gm``.

Each note is rendered by a fresh synthesizer that shares the SoundFont loaded once by the
renderer, so no state (release tails, voice or filter state) carries from one note to the next
and a note's audio does not depend on what was rendered before it.
"""

import ctypes
import ctypes.util
import functools
import os

import numpy as np
import soxr

from ..dsp.framing import SAMPLE_RATE
from ..errors import AudioError, NSynthWidgetsError, ParameterError, check_integer, check_number, describe

__all__ = ["NOTE_SAMPLES", "DEFAULT_SOUNDFONT", "DEFAULT_GAIN", "NoteRenderer"]

#: Samples of one rendered note at :data:`~nsynth_widgets.dsp.framing.SAMPLE_RATE` (4 s).
NOTE_SAMPLES = 4 * SAMPLE_RATE
#: Debian's ``fluid-soundfont-gm`` (FluidR3_GM, MIT licence).
DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# FluidR3 peaks at 0.181 with synth.gain=0.2 over programs of NSynth's families, MIDI 21-108,
# velocity 127: 0.7 puts the loudest note near 0.63 of full scale.
DEFAULT_GAIN = 0.7

_RENDER_RATE = 48000
_HOLD_SAMPLES = 3 * _RENDER_RATE
_TOTAL_SAMPLES = NOTE_SAMPLES * _RENDER_RATE // SAMPLE_RATE
_FLUID_OK = 0
_FLUID_WARN = 2

_VOID_P, _INT, _CHAR_P, _DOUBLE = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_double
_SIGNATURES = {
    "new_fluid_settings": (_VOID_P, []),
    "delete_fluid_settings": (None, [_VOID_P]),
    "fluid_settings_setint": (_INT, [_VOID_P, _CHAR_P, _INT]),
    "fluid_settings_setnum": (_INT, [_VOID_P, _CHAR_P, _DOUBLE]),
    "new_fluid_synth": (_VOID_P, [_VOID_P]),
    "delete_fluid_synth": (None, [_VOID_P]),
    "fluid_synth_sfload": (_INT, [_VOID_P, _CHAR_P, _INT]),
    "fluid_synth_get_sfont_by_id": (_VOID_P, [_VOID_P, _INT]),
    "fluid_synth_add_sfont": (_INT, [_VOID_P, _VOID_P]),
    "fluid_synth_remove_sfont": (_INT, [_VOID_P, _VOID_P]),
    "fluid_synth_program_select": (_INT, [_VOID_P, _INT, _INT, _INT, _INT]),
    "fluid_synth_noteon": (_INT, [_VOID_P, _INT, _INT, _INT]),
    "fluid_synth_noteoff": (_INT, [_VOID_P, _INT, _INT]),
    "fluid_synth_write_float": (_INT, [_VOID_P, _INT, _VOID_P, _INT, _INT, _VOID_P, _INT, _INT]),
    "fluid_set_log_function": (_VOID_P, [_INT, _VOID_P, _VOID_P]),
}


@functools.lru_cache(maxsize=None)
def _fluidsynth():
    """The libfluidsynth shared library with its C signatures declared (loaded once)."""
    name = ctypes.util.find_library("fluidsynth")
    try:
        lib = ctypes.CDLL(name) if name is not None else None
    except OSError:
        lib = None
    if lib is None:
        raise NSynthWidgetsError(
            "libfluidsynth must be installed to render notes (Debian/Ubuntu: "
            "`apt-get install fluidsynth`, which brings `libfluidsynth3`). "
            f"Received: ctypes.util.find_library('fluidsynth')={name!r}."
        )
    for function, (restype, argtypes) in _SIGNATURES.items():
        getattr(lib, function).restype = restype
        getattr(lib, function).argtypes = argtypes
    return lib


class NoteRenderer:
    """Render single notes from a SoundFont with libfluidsynth, loading the SoundFont once.

    Use it as a context manager (or call :meth:`close`) to free the SoundFont. Not thread-safe:
    use one renderer per thread.

    Parameters
    ----------
    soundfont : str or os.PathLike
        SoundFont 2 file; the default is Debian's ``fluid-soundfont-gm`` (FluidR3, MIT licence).
    gain : float
        FluidSynth's master gain in (0, 10], the one global gain applied to every note.

    Raises
    ------
    ParameterError
        The SoundFont is missing or cannot be loaded, or ``gain`` is out of range.
    NSynthWidgetsError
        libfluidsynth is not installed.

    Examples
    --------
    >>> with NoteRenderer() as renderer:
    ...     audio = renderer.render(program=0, pitch=69, velocity=100)   # piano A4
    """

    def __init__(self, soundfont=DEFAULT_SOUNDFONT, gain=DEFAULT_GAIN):
        self._settings = self._loader = self._sfont = None
        if not isinstance(soundfont, (str, os.PathLike)) or not os.path.isfile(soundfont):
            raise ParameterError(
                "`soundfont` must be an existing SoundFont 2 file (the default comes with Debian's "
                "`fluid-soundfont-gm`: `apt-get install fluid-soundfont-gm`). "
                f"Received: soundfont={describe(soundfont)}."
            )
        self.gain = check_number("gain", gain, 0, 10, low_open=True)
        self.soundfont = os.fspath(soundfont)
        self._lib = lib = _fluidsynth()
        self._settings = lib.new_fluid_settings()
        for name, value in (("synth.sample-rate", float(_RENDER_RATE)), ("synth.gain", self.gain)):
            self._set(lib.fluid_settings_setnum, name, value)
        for name in ("synth.reverb.active", "synth.chorus.active"):
            self._set(lib.fluid_settings_setint, name, 0)
        self._loader = lib.new_fluid_synth(self._settings)
        sfont_id = lib.fluid_synth_sfload(self._loader, os.fsencode(self.soundfont), 1)
        if sfont_id < 0:
            self.close()
            raise ParameterError(
                "`soundfont` must be a SoundFont 2 file that libfluidsynth can load. "
                f"Received: soundfont={describe(self.soundfont)}."
            )
        self._sfont = lib.fluid_synth_get_sfont_by_id(self._loader, sfont_id)

    def _set(self, setter, name, value):
        if setter(self._settings, name.encode(), value) != _FLUID_OK:
            self.close()
            raise NSynthWidgetsError(
                f"libfluidsynth must accept the setting `{name}` (fluidsynth 2.x). Received: {name}={value}."
            )

    def render(self, program, pitch, velocity):
        """Render one note: key down at 0 s, key up at 3 s, 4 s in all.

        Parameters
        ----------
        program : int
            General MIDI program (bank 0) in [0, 127].
        pitch : int
            MIDI key in [0, 127] (69 is A4, 440 Hz).
        velocity : int
            MIDI velocity in [1, 127].

        Returns
        -------
        audio : np.ndarray [shape=(64000,)], float32
            16 kHz mono. Silent (all zeros) when the preset has no sample for this key.

        Raises
        ------
        AudioError
            The note exceeds full scale (|x| > 1): lower ``gain``.
        """
        program = check_integer("program", program, 0, 127)
        pitch = check_integer("pitch", pitch, 0, 127)
        velocity = check_integer("velocity", velocity, 1, 127)
        if self._sfont is None:
            raise NSynthWidgetsError("This NoteRenderer is closed; open a new one to render notes.")
        left = np.zeros(_TOTAL_SAMPLES, dtype=np.float32)
        right = np.zeros(_TOTAL_SAMPLES, dtype=np.float32)
        self._play(program, pitch, velocity, left, right)
        audio = soxr.resample(0.5 * (left + right), _RENDER_RATE, SAMPLE_RATE, quality="HQ")
        peak = float(np.max(np.abs(audio)))
        if peak > 1.0:
            raise AudioError(
                f"`gain` must keep every note within [-1, 1], but program {program}, pitch {pitch}, "
                f"velocity {velocity} peaks at {peak:.3f}. Received: gain={self.gain}."
            )
        return audio.astype(np.float32, copy=False)

    def _play(self, program, pitch, velocity, left, right):
        """Play the note on a fresh synthesizer sharing the loaded SoundFont, into 48 kHz buffers."""
        lib = self._lib
        synth = lib.new_fluid_synth(self._settings)
        if not synth:
            raise NSynthWidgetsError("libfluidsynth could not create a synthesizer (out of memory?).")
        try:
            sfont_id = lib.fluid_synth_add_sfont(synth, self._sfont)
            if sfont_id < 0 or lib.fluid_synth_program_select(synth, 0, sfont_id, 0, program) != _FLUID_OK:
                raise ParameterError(
                    f"`program` must name a preset of bank 0 in {self.soundfont}. Received: program={program}."
                )
            lib.fluid_synth_noteon(synth, 0, pitch, velocity)
            lib.fluid_synth_write_float(synth, _HOLD_SAMPLES, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
            lib.fluid_synth_noteoff(synth, 0, pitch)
            lib.fluid_synth_write_float(
                synth,
                _TOTAL_SAMPLES - _HOLD_SAMPLES,
                left.ctypes.data,
                _HOLD_SAMPLES,
                1,
                right.ctypes.data,
                _HOLD_SAMPLES,
                1,
            )
        finally:
            # Removing the SoundFont resets every channel's preset, which logs one "No preset
            # found" warning per channel: silence warnings for that call only.
            previous = lib.fluid_set_log_function(_FLUID_WARN, None, None)
            lib.fluid_synth_remove_sfont(synth, self._sfont)
            lib.fluid_set_log_function(_FLUID_WARN, previous, None)
            lib.delete_fluid_synth(synth)

    def close(self):
        """Free the synthesizer and the SoundFont; calling it again does nothing."""
        if self._loader is not None:
            self._lib.delete_fluid_synth(self._loader)
        if self._settings is not None:
            self._lib.delete_fluid_settings(self._settings)
        self._settings = self._loader = self._sfont = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        self.close()
