"""The test datacube's files are the same bytes on every machine (for the locked dependencies)."""

import pytest

from update_checksums import MANIFEST, manifest_text, render_default_data

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube


def test_default_cube_data_matches_the_committed_checksums(scratch):
    """Rendered afresh here, every file equals the bytes recorded when the manifest was made.

    A difference means the generator, GDAL, zlib or numpy changed. If that was deliberate,
    run tests/update_checksums.py and commit the manifest with the change.
    """
    assert manifest_text(render_default_data(scratch)) == MANIFEST.read_text()


def test_the_built_cube_holds_the_same_bytes(cube):
    """The cube that `make setup` built agrees with the manifest for every file it lists."""
    expected = dict(line.split("  ")[::-1] for line in MANIFEST.read_text().splitlines())
    built = cube.checksums()
    assert {p: built.get(p) for p in expected} == expected
