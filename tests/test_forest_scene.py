"""The forested test area: plausible L-band backscatter per cover, its truth, and the
forest/non-forest map made from the same scene."""

import numpy as np
import pytest

from sar_helpers.cubes.grid import Tile, bbox_window
from sar_helpers.cubes.testcube import forest, rasters
from sar_helpers.products import ALOS_FNF_MOSAIC, ALOS_PALSAR_MOSAIC, FNF_CLASSES, JERS_SAR_MOSAIC

TILE = Tile(1, 25)
WINDOW = bbox_window(*forest.FOREST_BBOX)
ROWS = np.arange(WINDOW.row_top, WINDOW.row_bottom - 1, -1)
COLS = np.arange(WINDOW.col_left, WINDOW.col_right + 1)


def mean_db(dn: np.ndarray, where: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(dn[where].astype(np.float64) ** 2)) - 83.0)


@pytest.fixture(scope="module")
def year_2015():
    return rasters.render_window(ALOS_PALSAR_MOSAIC, TILE, 2015, WINDOW), rasters.render_window(
        ALOS_FNF_MOSAIC, TILE, 2015, WINDOW
    )["fnf"]


def test_each_cover_has_the_backscatter_of_the_facts(year_2015):
    bands, fnf = year_2015
    cross_sensor = forest.CROSS_SENSOR_DB  # ALOS-2 is drawn this much brighter
    dense = fnf == FNF_CLASSES["dense_forest"]
    water = fnf == FNF_CLASSES["water"]
    cleared = fnf == FNF_CLASSES["non_forest"]
    assert -7.5 <= mean_db(bands["hh"], dense) - cross_sensor <= -5.5
    assert -12.5 <= mean_db(bands["hv"], dense) - cross_sensor <= -10.5
    assert mean_db(bands["hv"], water) <= -30 and np.all(bands["mask"][water] == 50)
    assert -20 <= mean_db(bands["hv"], cleared) - cross_sensor <= -14  # fields, fallow and a year's slash
    assert set(np.unique(fnf)) == {1, 2, 3, 4}  # every class, and never no data inside the area


def test_clearing_advances_year_by_year_and_the_map_follows_it():
    cleared = forest.cleared_at(ROWS, COLS)
    shares = [float(np.mean(cleared <= year)) for year in (1997, 2007, 2010, 2015, 2022)]
    assert shares[0] < 0.005 and all(a < b for a, b in zip(shares, shares[1:])) and 0.1 < shares[-1] < 0.4
    for year in (2007, 2022):
        fnf = rasters.render_window(ALOS_FNF_MOSAIC, TILE, year, WINDOW)["fnf"]
        # Every pixel cleared more than a year before the acquisitions and not regrown is non-forest.
        long_cleared = cleared < year - 1.5
        assert np.mean(fnf[long_cleared] >= 2) == 1.0
        standing = np.isin(fnf[cleared > year + 1], (1, 2, 4))  # forest or water where nothing was cleared yet
        assert np.mean(standing) > 0.99  # (the road is the rest)


def test_the_known_patches_are_cleared_when_the_truth_says():
    for lon, lat, _, _, when, _ in forest.PATCHES:
        rows = np.array([round(lat * 4500)])
        cols = np.array([int(lon * 4500)])
        assert forest.cleared_at(rows, cols)[0, 0] == when


def test_jers_has_hh_only_and_the_scene_repeats_itself_bit_for_bit():
    jers = rasters.render_window(JERS_SAR_MOSAIC, TILE, 1996, WINDOW)
    assert set(jers) == {"hh", "date", "linci", "mask"}
    again = rasters.render_window(JERS_SAR_MOSAIC, TILE, 1996, WINDOW)
    assert all(np.array_equal(jers[k], again[k]) for k in jers)


def test_only_the_forest_has_a_forest_map():
    assert rasters.has_mosaic(ALOS_FNF_MOSAIC, TILE) and not rasters.has_mosaic(ALOS_FNF_MOSAIC, Tile(31, 31))
    assert rasters.has_mosaic(ALOS_PALSAR_MOSAIC, Tile(31, 31))
