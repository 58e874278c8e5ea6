"""Training the embedded default model on NSynth-like notes rendered locally, and measuring it.

One module per job:

* :mod:`.fluidsynth` — libfluidsynth through ctypes: :class:`~.fluidsynth.NoteRenderer` renders one note;
* :mod:`.notes` — the plan of notes (families, pitch ranges, the split by instrument) and rendering it to a folder;
* :mod:`.dataset` — :class:`~.dataset.NoteDataset` (a split in memory, random crops) and the notes' pitch channels;
* :mod:`.train` — the training loop;
* :mod:`.evaluate` — the evaluation on held-out notes (the measures themselves are in :mod:`nsynth_widgets.metrics`);
* :mod:`.report` — the evaluation's JSON, Markdown tables and figures;
* :mod:`.make_examples` — the bundled example sounds.

From a shell: ``nsynth-widgets render-notes``, ``train``, ``evaluate`` and ``make-examples``.
Nothing here is imported by ``import nsynth_widgets``.
"""

__all__ = []
