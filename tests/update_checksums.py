"""Rewrite tests/data/testcube.sha256 after a deliberate change to the generated data.

    .venv/bin/python tests/update_checksums.py

Commit the new manifest with the change that made it, saying why the bytes changed.
"""

import tempfile
from pathlib import Path

from sar_helpers.cubes.testcube.cube import TestCube

MANIFEST = Path(__file__).with_name("data") / "testcube.sha256"


def render_default_data(folder: Path) -> dict[str, str]:
    cube = TestCube(folder)
    cube.render(progress=False)
    return cube.checksums()


def manifest_text(checksums: dict[str, str]) -> str:
    return "".join(f"{digest}  {path}\n" for path, digest in checksums.items())


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        MANIFEST.write_text(manifest_text(render_default_data(Path(folder))))
    print(f"wrote {MANIFEST}")
