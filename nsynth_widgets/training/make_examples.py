"""Render the example sounds shipped in ``nsynth_widgets/assets/examples/``.

Every example is a note of an instrument the embedded model did **not** train on: the held-out
program of its family in :func:`nsynth_widgets.training.notes.plan_notes` with seed 0, or a
program outside NSynth's families (the sitar, the helicopter sound effect). They are rendered by
the same pipeline as the training data (FluidR3_GM, MIT licence)::

    nsynth-widgets make-examples [OUT_DIR]
"""

from pathlib import Path

from ..audio import save_audio
from ..errors import ParameterError
from .fluidsynth import NoteRenderer
from .notes import family_of

__all__ = ["EXAMPLES", "make_examples"]

#: name → (GM program, MIDI pitch, velocity); programs are held out of training.
EXAMPLES = {
    "piano_C4": (3, 60, 100),  # honky-tonk piano (keyboard)
    "guitar_E3": (27, 52, 100),  # clean electric guitar
    "marimba_G4": (12, 67, 100),
    "horn_G3": (60, 55, 100),  # French horn (brass)
    "ocarina_C5": (79, 72, 100),  # flute family
    "organ_C4": (18, 60, 100),  # rock organ
    "bass_E2": (38, 40, 100),  # synth bass 1
    "sitar_E3": (104, 52, 100),  # not an NSynth family
    "helicopter": (125, 60, 100),  # a sound effect: no pitch
}

_LICENCE = """Example sounds of nsynth_widgets
================================

Rendered by `nsynth-widgets make-examples` from the FluidR3_GM SoundFont
(Debian package fluid-soundfont-gm; FluidR3_GM by Frank Wen, released under the MIT licence).
The renderings are distributed under the same MIT licence.

{table}
"""


def _family(program):
    try:
        return family_of(program)
    except ParameterError:
        return "not an NSynth family"


def make_examples(out_dir):
    """Render every entry of :data:`EXAMPLES` as a 4 s, 16 kHz, 16-bit wav into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with NoteRenderer() as renderer:
        for name, (program, pitch, velocity) in EXAMPLES.items():
            save_audio(out_dir / f"{name}.wav", renderer.render(program, pitch, velocity))
            rows.append(
                f"- {name}.wav: GM program {program} ({_family(program)}), MIDI pitch {pitch}, velocity {velocity}"
            )
    (out_dir / "LICENSE.txt").write_text(_LICENCE.format(table="\n".join(rows)))
    return out_dir
