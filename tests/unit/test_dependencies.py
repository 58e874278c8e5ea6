"""``pip install .`` is enough: what the package and its notebooks import is declared in ``[project.dependencies]``.

The test environment also holds the ``test`` extra, so a missing declaration would not break an import here;
these tests read the imports from the source instead and map them to distributions through the installed
metadata. ``.ci/fresh_install.py`` proves the same in a venv made by ``pip install .`` alone.
"""

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "nsynth_widgets"

#: Declared but never imported: what runs the notebooks that README promises.
RUN_TIME_ONLY = {
    "ipykernel": "the python3 kernel Voila and JupyterLab run the notebooks in",
    "jupyterlab": "the front end for notebooks/ (`jupyter lab`)",
}


def _normalize(name):
    """A distribution's name as PEP 503 compares it: ``Pillow`` is ``pillow``, ``tensorflow_cpu`` ``tensorflow-cpu``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared():
    """Names of the ``[project.dependencies]`` that apply on this platform."""
    requirements = map(Requirement, tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    return {_normalize(r.name) for r in requirements if r.marker is None or r.marker.evaluate()}


def _sources():
    """``(where, code)`` for every module of the package and every code cell of the notebooks (magics left out)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text()
    for path in sorted([*ROOT.glob("notebooks/*.ipynb"), *PACKAGE.rglob("*.ipynb")]):
        for number, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()
                yield (
                    f"{path.relative_to(ROOT)} cell {number}",
                    "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!"))),
                )


def _third_party_imports():
    """``{top-level module: [where it is imported]}``, leaving out the standard library and the package itself.

    Every ``import`` counts, also those inside functions (the package imports TensorFlow, librosa, Voila lazily).
    """
    found = {}
    for where, code in _sources():
        for node in ast.walk(ast.parse(code, filename=where)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for top in {name.split(".")[0] for name in names} - set(sys.stdlib_module_names) - {"nsynth_widgets"}:
                found.setdefault(top, []).append(where)
    return found


def test_the_scan_sees_the_lazy_imports():
    imports = _third_party_imports()
    assert {"numpy", "tensorflow", "keras", "librosa", "voila", "PIL", "ipywidgets"} <= set(imports)
    assert "nsynth_widgets/dashboard_server.py" in imports["voila"]  # imported inside main()


def test_every_import_comes_from_a_declared_distribution():
    providers = importlib.metadata.packages_distributions()
    declared = _declared()
    undeclared = {}
    for module, places in sorted(_third_party_imports().items()):
        distributions = {_normalize(name) for name in providers.get(module, [])}
        if not distributions & declared:
            undeclared[module] = (
                f"from {sorted(distributions) or 'no installed distribution'}, imported in {places[:3]}"
            )
    assert not undeclared, f"add these to [project.dependencies] (and binder/requirements.txt): {undeclared}"


def test_every_declared_distribution_is_imported_or_runs_the_notebooks():
    providers = importlib.metadata.packages_distributions()
    imported = {_normalize(name) for module in _third_party_imports() for name in providers.get(module, [])}
    declared = _declared()
    missing = set(RUN_TIME_ONLY) - declared
    assert not missing, f"the dashboard and the notebooks need these at run time; declare them: {sorted(missing)}"
    unused = declared - imported - set(RUN_TIME_ONLY)
    assert not unused, f"declared but never imported (remove them, or say in RUN_TIME_ONLY why): {sorted(unused)}"


def test_every_module_of_the_package_imports():
    code = (
        "import importlib, pathlib, pkgutil, nsynth_widgets\n"
        "names = ['nsynth_widgets', *(m.name for m in pkgutil.walk_packages(nsynth_widgets.__path__, 'nsynth_widgets.'))]\n"
        "for name in names:\n"
        "    print(name, importlib.import_module(name).__file__)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    imported = dict(line.split(" ", 1) for line in output.splitlines())
    files = {Path(path) for path in imported.values()}
    assert files == set(PACKAGE.rglob("*.py")), "a module was skipped, or came from another checkout"
