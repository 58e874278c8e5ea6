"""Importing the package (and its light modules) never loads TensorFlow, Keras, librosa or Dask."""

import subprocess
import sys


def test_import_is_cheap():
    code = (
        "import sys, nsynth_widgets as nw\n"
        "nw.load_audio, nw.save_encoding, nw.examples, nw.ModelConfig, nw.download_checkpoint, nw.render_grid\n"
        "import nsynth_widgets.runtime, nsynth_widgets.plotting, nsynth_widgets.dsp, nsynth_widgets.cli\n"
        "import nsynth_widgets.model\n"
        "heavy = ('tensorflow', 'keras', 'librosa', 'dask', 'distributed')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_attribute_errors_are_plain():
    import nsynth_widgets

    try:
        nsynth_widgets.not_a_thing
    except AttributeError as error:
        assert "not_a_thing" in str(error)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")
