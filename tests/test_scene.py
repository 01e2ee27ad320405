"""The synthetic scene: plausible, reproducible, and true to the published date table."""

import datetime as dt

import numpy as np
import pytest

from sar_helpers.cubes.grid import bbox_window
from sar_helpers.cubes.testcube import scene
from sar_helpers.products import ALOS_PALSAR_MOSAIC, JERS_SAR_MOSAIC, MASK_CLASSES

from helpers import PUBLISHED

TUTORIAL = bbox_window(31.90, 30.37, 32.10, 30.55)


def axes(window):
    return (
        np.arange(window.row_top, window.row_bottom - 1, -1),
        np.arange(window.col_left, window.col_right + 1),
    )


@pytest.fixture(scope="module")
def tutorial_2016():
    return scene.render(ALOS_PALSAR_MOSAIC, 2016, *axes(TUTORIAL))


@pytest.mark.parametrize("year", sorted(PUBLISHED))
def test_date_band_reproduces_the_published_table(year):
    bands = scene.render(ALOS_PALSAR_MOSAIC, year, *axes(TUTORIAL))
    days = bands["date"][bands["date"] > 0]
    platform = ALOS_PALSAR_MOSAIC.platform_for_year(year)
    first = platform.launch + dt.timedelta(days=int(days.min()))
    last = platform.launch + dt.timedelta(days=int(days.max()))
    assert (first.isoformat(), last.isoformat()) == PUBLISHED[year]


def test_pixels_do_not_depend_on_the_window_asked_for():
    big = bbox_window(31.95, 30.40, 32.05, 30.50)
    small = bbox_window(31.99, 30.44, 32.01, 30.46)
    whole = scene.render(ALOS_PALSAR_MOSAIC, 2010, *axes(big))
    part = scene.render(ALOS_PALSAR_MOSAIC, 2010, *axes(small))
    rows, cols = big.slices_of(small)
    for name in whole:
        np.testing.assert_array_equal(whole[name][rows, cols], part[name])


def test_every_mask_class_is_in_the_tutorial_area_except_no_data(tutorial_2016):
    mask = tutorial_2016["mask"]
    present = set(np.unique(mask).tolist())
    assert present == {MASK_CLASSES[c] for c in ("water", "lay_over", "shadowing", "land")}


def test_backscatter_is_plausible(tutorial_2016):
    b = tutorial_2016
    db = {k: 20 * np.log10(b[k].astype("float64")) - 83.0 for k in ("hh", "hv")}
    land = b["mask"] == MASK_CLASSES["land"]
    water = b["mask"] == MASK_CLASSES["water"]
    # HV below HH, water darkest, lay-over brightest, shadow dark.
    assert np.median(db["hv"][land]) < np.median(db["hh"][land]) - 5
    assert np.median(db["hh"][water]) < -24
    assert np.median(db["hh"][b["mask"] == 100]) > -3
    assert np.median(db["hh"][b["mask"] == 150]) < -28
    assert -30 < np.median(db["hh"][land]) < 0
    assert b["hh"].min() >= 1 and b["hv"].min() >= 1  # DN 0 is reserved for no data
    assert 20 < np.median(b["linci"]) < 50


def test_speckle_is_multiplicative_with_four_looks():
    """Over a homogeneous patch, intensity's coefficient of variation is about 1/sqrt(4)."""
    window = bbox_window(32.06, 30.403, 32.07, 30.407)  # inside the lake
    bands = scene.render(ALOS_PALSAR_MOSAIC, 2018, *axes(window))
    assert (bands["mask"] == MASK_CLASSES["water"]).all()
    intensity = bands["hh"].astype("float64") ** 2
    assert intensity.std() / intensity.mean() == pytest.approx(0.5, abs=0.05)


def test_built_up_area_grows():
    window = bbox_window(31.85, 30.32, 32.15, 30.60)
    bright = []
    for year in (2007, 2010, 2016, 2021):
        hh = scene.render(ALOS_PALSAR_MOSAIC, year, *axes(window))["hh"]
        bright.append(float((20 * np.log10(np.maximum(hh, 1)) - 83 > -8).mean()))
    assert bright == sorted(bright) and bright[-1] > 2 * bright[0]


def test_2022_reuses_the_2021_acquisition_over_the_tutorial_area():
    y21 = scene.render(ALOS_PALSAR_MOSAIC, 2021, *axes(TUTORIAL))
    y22 = scene.render(ALOS_PALSAR_MOSAIC, 2022, *axes(TUTORIAL))
    for name in y21:
        np.testing.assert_array_equal(y21[name], y22[name])


def test_no_data_sliver_lies_in_the_margin_only():
    margin = bbox_window(31.85, 30.32, 32.15, 30.60)
    bands = scene.render(ALOS_PALSAR_MOSAIC, 2016, *axes(margin))
    empty = bands["mask"] == 0
    assert empty.any()
    for name, values in bands.items():
        assert (values[empty] == 0).all(), name
    rows, cols = margin.slices_of(TUTORIAL)
    assert not empty[rows, cols].any()


def test_jers_is_scaled_for_its_calibration_constant():
    """The same backscatter gives JERS DNs 10**(1.66/20) times ALOS's, so dB agree."""
    window = bbox_window(32.06, 30.403, 32.07, 30.407)  # lake: same cover in 1996 and 2007
    jers = scene.render(JERS_SAR_MOSAIC, 1996, *axes(window))
    alos = scene.render(ALOS_PALSAR_MOSAIC, 2007, *axes(window))
    assert "hv" not in jers

    def mean_db(hh, cal):
        return 10 * np.log10((hh.astype("float64") ** 2).mean()) + cal

    assert mean_db(jers["hh"], -84.66) == pytest.approx(mean_db(alos["hh"], -83.0), abs=0.3)
