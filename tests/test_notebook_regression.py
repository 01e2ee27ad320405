"""nbval compares the notebooks' stored text outputs: show that a changed value fails it."""

import json
import shutil
import subprocess
import sys

import pytest

from helpers import REPO

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube

NOTEBOOK = REPO / "notebooks" / "01_ALOS_PALSAR_annual_mosaic.ipynb"


def run_nbval(notebook) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--nbval",
            "--nbval-sanitize-with",
            str(REPO / "tests" / "nbval-sanitize.cfg"),
            str(notebook),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=notebook.parent,
    )


def test_a_changed_stored_value_fails_nbval(tmp_path):
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    assert run_nbval(copy).returncode == 0, "the committed notebook should pass as it is"

    notebook = json.loads(copy.read_text())
    changed = 0
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            for mime, text in output.get("data", {}).items():
                if mime in ("text/plain", "text/html") and "2007-06-27" in "".join(text):
                    output["data"][mime] = [line.replace("2007-06-27", "2007-06-28") for line in text]
                    changed += 1
    assert changed == 2  # the observation-date table, as text and as HTML
    copy.write_text(json.dumps(notebook))

    result = run_nbval(copy)
    assert result.returncode == 1
    assert "Cell outputs differ" in result.stdout and "2007-06-28" in result.stdout
