"""The Binder environment stays consistent with pyproject.toml, and postBuild works offline."""

import os
import shutil
import subprocess
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _requirements(path):
    lines = (line.strip() for line in path.read_text().splitlines())
    return sorted(line for line in lines if line and not line.startswith("#"))


def test_requirements_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert _requirements(ROOT / "binder" / "requirements.txt") == sorted(project["dependencies"])


def test_runtime_python_satisfies_requires_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version = (ROOT / "binder" / "runtime.txt").read_text().strip().removeprefix("python-")
    minimum = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split(".")))


def test_postbuild_is_strict_and_the_download_is_opt_in():
    script = (ROOT / "binder" / "postBuild").read_text()
    assert script.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in script
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK)
    assert 'if [ "${NSYNTH_DOWNLOAD_CHECKPOINT:-0}" = "1" ]' in script


def test_postbuild_runs_in_a_fresh_venv_without_network(tmp_path):
    """Dependencies come from the system site-packages (as requirements.txt would provide);
    pip may not reach any index: the script must install the package from the checkout alone."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    checkout = tmp_path / "repo"
    for name in files:
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    env = {
        **os.environ,
        "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}",
        "PIP_NO_INDEX": "1",
        "NSYNTH_DOWNLOAD_CHECKPOINT": "0",
        "VIRTUAL_ENV": str(env_dir),
        "PYTHONNOUSERSITE": "1",
    }
    env.pop("PYTHONPATH", None)
    # with_pip=False keeps the venv small: pip itself comes from the system site-packages
    subprocess.run(["bash", str(checkout / "binder" / "postBuild")], env=env, check=True, capture_output=True)
    where = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", "import nsynth_widgets; print(nsynth_widgets.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(where).is_relative_to(checkout)
    assert (env_dir / "bin" / "nsynth-widgets").exists()
