"""Play a Binder launch as far as this machine allows (no conda, no Docker).

repo2docker would build binder/environment.yml, run binder/postBuild once, then run
binder/start before every session. Here: a copy of the repository, a fresh virtual
environment and a temporary HOME; pip installs the environment file's pip section (as
conda would), then postBuild, then start with a command that executes notebook 01.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from sar_helpers.cubes.testcube.cube import TestCube

from helpers import REPO

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube

NOT_COPIED = shutil.ignore_patterns(
    ".venv", ".testcube", "reports", "build", ".git", "__pycache__", "*.egg-info", ".pytest_cache", ".hypothesis"
)


@pytest.fixture
def launch_folder():
    folder = Path(tempfile.mkdtemp(prefix="sar-binder-"))
    yield folder
    TestCube(folder / "repo" / ".testcube").server.remove()
    shutil.rmtree(folder, ignore_errors=True)


def test_binder_launch_runs_notebook_01(launch_folder):
    repo = launch_folder / "repo"
    shutil.copytree(REPO, repo, ignore=NOT_COPIED)
    home = launch_folder / "home"
    home.mkdir()
    env_dir = launch_folder / "env"
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base_python), "-m", "venv", str(env_dir)], check=True)

    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ODC_", "SAR_", "VIRTUAL_ENV", "JUPYTER", "PYTHON"))
    }
    env.update(
        HOME=str(home),
        PATH=f"{env_dir / 'bin'}:{env['PATH']}",
        PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
    )

    def run(*command, cwd=repo, timeout=1200):
        start = time.monotonic()
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return time.monotonic() - start

    # repo2docker's environment step: conda would hand the pip section to pip.
    pip_section = next(
        d["pip"]
        for d in yaml.safe_load((repo / "binder" / "environment.yml").read_text())["dependencies"]
        if isinstance(d, dict)
    )
    requirements = repo / "binder" / "condaenv.requirements.txt"
    requirements.write_text("\n".join(pip_section) + "\n")
    environment = run(
        "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)
    )

    post_build = run("bash", "binder/postBuild")
    executed = launch_folder / "executed.ipynb"
    start = run(
        "bash",
        "binder/start",
        "jupyter",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "notebooks/01_ALOS_PALSAR_annual_mosaic.ipynb",
        "--output",
        str(executed),
    )
    print(
        f"Binder launch: environment {environment:.0f} s, postBuild {post_build:.0f} s, start + notebook {start:.0f} s"
    )

    cells = json.loads(executed.read_text())["cells"]
    outputs = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("2007-06-27" in "".join(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert (repo / ".testcube" / "datacube.conf").exists()
