"""write_cog: COGs on the array's own grid, with overviews that mean something for its values."""

import numpy as np
import pytest
import rasterio

import sar_helpers as sar

from helpers import synthetic


@pytest.mark.parametrize("units, expected", [("dB", {-20.0, 0.0}), ("1", {0.5})])
def test_overviews_average_power_but_not_db(tmp_path, units, expected):
    """A checkerboard of 0 and -20 dB seen zoomed out: nearest pixels, never the meaningless -10 dB
    an average of dB would give; linear values (0 and 1) are averaged."""
    board = (np.indices((1024, 1024)).sum(axis=0) % 2).astype(np.float32)
    values = -20.0 * board if units == "dB" else board
    da = synthetic(np.ones((1, 1024, 1024))).hh.isel(time=0).astype(np.float32).copy(data=values)
    da.attrs["units"] = units
    path = sar.write_cog(da, tmp_path / "board.tif")
    with rasterio.open(path, overview_level=0) as overview:
        assert overview.shape == (512, 512)
        assert set(np.unique(overview.read(1))) <= expected
