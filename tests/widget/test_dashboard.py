import numpy as np
import pytest

import nsynth_widgets as nw

from nsynth_widgets.runtime import Synthesizer
from nsynth_widgets.widgets import Dashboard, Session

from .conftest import tone


@pytest.fixture
def missing_default(monkeypatch, tmp_path):
    import nsynth_widgets.model.config as model_config

    monkeypatch.setattr(model_config, "DEFAULT_WEIGHTS", tmp_path / "absent.npz")


def test_top_level_name():
    assert nw.Dashboard is Dashboard


def test_dashboard_composes_the_panels(session):
    dashboard = Dashboard(session=session, run_in_thread=False)
    assert dashboard.tabs.titles == ("Load", "Encode", "Plots", "Resynthesize", "Mix", "Pad", "Play")
    built = lambda: [bool(box.children) for box in dashboard.tabs.children]  # noqa: E731
    assert built() == [True] + [False] * 6  # only the first tab's panel, for a quick first paint
    dashboard.tabs.selected_index = 3  # opening a tab builds its panel
    assert built() == [True, False, False, True, False, False, False]
    assert dashboard.tabs.children[3].children == (dashboard.resynth,)
    panels = [
        dashboard.loader,
        dashboard.encoder,
        dashboard.plots,
        dashboard.resynth,
        dashboard.mixer,
        dashboard.pad,
        dashboard.play,
    ]
    assert [box.children for box in dashboard.tabs.children] == [(panel,) for panel in panels]
    assert all(panel.session is session for panel in panels)
    assert dashboard.model_status.value == "Model: loads on first use."


def test_weights_toggle_sets_the_precision_of_every_panel(session, tiny_model):
    dashboard = Dashboard(session=session, run_in_thread=False)
    assert dashboard.precision.value == session.precision == "float32"
    dashboard.precision.value = "int8"
    assert session.precision == "int8"
    session.add_sound("a", tone(640))
    dashboard.resynth.synthesize_button.click()
    expected = tiny_model.synthesize(tiny_model.encode(session.sounds["a"]), seed=0, precision="int8")[0]
    np.testing.assert_array_equal(session.resyntheses["a"], expected)
    session.precision = "float32"  # set from Python: the toggle follows
    assert dashboard.precision.value == "float32"
    session.precision = "w8a8"
    assert dashboard.precision.value == "w8a8"


def test_tampered_weights_toggle_is_refused(session):
    dashboard = Dashboard(session=session, run_in_thread=False)
    dashboard.precision.options = ["float32", "int8", "w8a8", "int4"]
    dashboard.precision.value = "int4"
    assert (
        "`precision` must be one of [&#x27;float32&#x27;, &#x27;int8&#x27;, &#x27;w8a8&#x27;]. Received: precision=&#x27;int4&#x27;."
        in (dashboard.status.value)
    )
    assert session.precision == "float32" and dashboard.precision.value == "float32"


def test_missing_default_model_is_a_message_not_a_crash(missing_default):
    dashboard = Dashboard(run_in_thread=False)
    assert "The embedded default model is not installed" in dashboard.model_status.value
    dashboard.session.add_sound("a", tone(2048))
    dashboard.encoder.encode_button.click()
    assert "`NSynth.default()` must find the embedded weights" in dashboard.encoder.error.value
    assert "embedded weights" in dashboard.status.value and "#b00020" in dashboard.status.value


def test_status_line_shows_the_latest_message(session):
    dashboard = Dashboard(session=session, run_in_thread=False)
    dashboard.loader.length.max = 10**9
    dashboard.loader.length.value = 10**8
    dashboard.loader.add_example_button.click()
    assert "`length` must be an integer" in dashboard.status.value
    dashboard.loader.length.value = 1000
    dashboard.loader.add_example_button.click()
    assert "Added" in dashboard.status.value and "#1b5e20" in dashboard.status.value
    dashboard.encoder.encode_button.click()
    assert dashboard.model_status.value.endswith("Model: test — tiny: 6 layers × 8 channels, hop 64</span>")


def test_load_a_weights_file(tiny_model, tmp_path, missing_default):
    path = tiny_model.save_weights(tmp_path / "tiny.npz")
    dashboard = Dashboard(run_in_thread=False)
    before = dashboard.session.synthesizer
    dashboard.model_source.value = "path"
    dashboard.model_path.value = str(tmp_path / "nothing here")
    dashboard.load_button.click()
    assert "#b00020" in dashboard.model_status.value and "nothing here" in dashboard.model_status.value
    assert dashboard.session.synthesizer is before

    dashboard.model_path.value = "   "
    dashboard.load_button.click()
    assert "`path` must be a checkpoint prefix or .npz weights file" in dashboard.model_status.value

    dashboard.model_path.value = str(path)
    dashboard.load_button.click()
    synthesizer = dashboard.session.synthesizer
    assert synthesizer is not before and isinstance(synthesizer, Synthesizer)
    assert synthesizer.config == tiny_model.config
    assert "Model: weights" in dashboard.model_status.value and "int8" not in dashboard.model_status.value
    dashboard.session.add_sound("a", tone(640))
    dashboard.encoder.encode_button.click()
    assert dashboard.session.encodings["a"].shape == (1, 10, 16)


def test_load_in_a_thread(tiny_model, tmp_path):
    path = tiny_model.save_weights(tmp_path / "tiny.npz")
    dashboard = Dashboard(session=Session(Synthesizer(tiny_model)))
    dashboard.model_source.value = "path"
    dashboard.model_path.value = str(path)
    dashboard.load_button.click()
    dashboard.wait(60)
    assert "Model: weights" in dashboard.model_status.value and "int8" not in dashboard.model_status.value


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_public_dashboard_refuses_server_paths(tiny_model, tmp_path, monkeypatch, how):
    """`nsynth-widgets dashboard --public`: a visitor sending `model_source="path"` anyway is refused."""
    path = tiny_model.save_weights(tmp_path / "tiny.npz")
    if how == "environment":
        from nsynth_widgets.widgets.dashboard import MODEL_PATHS_ENV

        monkeypatch.setenv(MODEL_PATHS_ENV, "0")
        dashboard = Dashboard(run_in_thread=False)
    else:
        dashboard = Dashboard(run_in_thread=False, model_paths=False)
    before = dashboard.session.synthesizer
    assert dashboard.children[1].layout.display == "none"  # the picker is not on show
    dashboard.model_source.value = "path"
    dashboard.model_path.value = str(path)
    dashboard.load_button.click()
    assert "`model_source` must be one of" in dashboard.model_status.value
    assert dashboard.session.synthesizer is before


def test_loading_a_large_model_suggests_int8_weights(tmp_path, missing_default):
    from nsynth_widgets.model.config import ModelConfig
    from nsynth_widgets.model.nsynth import NSynth

    from ..conftest import random_arrays

    wide = ModelConfig(
        name="wide",
        num_layers=2,
        num_stages=2,
        width=256,
        skip_width=16,
        ae_num_layers=2,
        ae_num_stages=2,
        ae_width=8,
        hop_length=64,
    )
    path = NSynth(wide, random_arrays(wide, scale=0.05)).save_weights(tmp_path / "wide.npz")
    dashboard = Dashboard(run_in_thread=False)
    dashboard.model_source.value = "path"
    dashboard.model_path.value = str(path)
    dashboard.load_button.click()
    assert "the int8 weights toggle generates about 4× faster" in dashboard.model_status.value
