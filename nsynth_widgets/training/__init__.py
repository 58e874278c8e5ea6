"""Training the embedded default model on NSynth-like notes rendered locally.

``nsynth_widgets.training.data`` renders and loads the notes (General MIDI SoundFont through
libfluidsynth); run it as ``python -m nsynth_widgets.training.data OUT_DIR``. Nothing here is
imported by ``import nsynth_widgets``.
"""

__all__ = []
