"""Every notebook runs top to bottom on the real core (the embedded model), offline."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_the_promised_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01_wavenet_basics.ipynb",
        "02_nsynth_encode_decode.ipynb",
        "03_timbre_mixing.ipynb",
        "dashboard.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "commit notebooks without outputs"
    )
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    texts = "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        for o in cell.get("outputs", [])
    )
    assert "Traceback" not in texts


def test_tutorial_notebook_shows_the_tutorial_shapes(tmp_path):
    path = next(p for p in NOTEBOOKS if p.name.startswith("02_"))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    plain = [str(o.get("data", {}).get("text/plain", "")) for c in notebook.cells for o in c.get("outputs", [])]
    assert "(1, 78, 16)" in plain  # 40000 samples -> 78 frames of 16
    assert (tmp_path / "piano_C4.npy").is_file()
    images = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # encoding figure, comparison, rainbowgrams


def test_packaged_dashboard_is_the_notebooks_dashboard():
    """`nsynth-widgets dashboard` serves the copy inside the package; Binder serves notebooks/."""
    from nsynth_widgets.dashboard_server import DASHBOARD_NOTEBOOK

    packaged = DASHBOARD_NOTEBOOK.read_bytes()
    assert packaged == (Path(__file__).resolve().parents[2] / "notebooks" / "dashboard.ipynb").read_bytes()
