"""Change detection on the forested test area against its truth, the automatic threshold on a
histogram with known change, pairing by observation date, areas, and the refusals."""

import warnings

import numpy as np
import pytest

import sar_helpers as sar
from sar_helpers.analysis.change import HISTOGRAM_EDGES, kittler_illingworth
from sar_helpers.cubes.testcube import forest
from sar_helpers.products import RESOLUTION

FOREST_QUERY = dict(x=(25.30, 25.50), y=(0.40, 0.55))


@pytest.fixture(scope="module")
def forest_load(dc):
    return dc.load(
        product="alos_palsar_mosaic",
        measurements=["hh", "hv", "mask", "date"],
        time=("2007", "2022"),
        dask_chunks={"time": 1, "latitude": 300, "longitude": 300},
        **FOREST_QUERY,
    )


def truth_of(ds, before: int, after: int) -> np.ndarray:
    """Pixels cleared between their two acquisitions, from the scene's own truth."""
    rows = np.rint(ds.latitude.values / RESOLUTION).astype(int)
    cols = np.floor(ds.longitude.values / RESOLUTION + 1e-6).astype(int)
    cleared = forest.cleared_at(rows, cols)
    years = list(ds.time.dt.year.values)
    when = sar.observation_date_map(ds[["date"]].isel(time=[years.index(before), years.index(after)])).compute()
    decimal = (when.dt.year + (when.dt.dayofyear - 1) / 365.25).values
    return (cleared > decimal[0]) & (cleared <= decimal[1])


def test_forest_loss_is_found_against_the_truth(forest_load):
    """2007 -> 2010 on the forested area: the scene's clearings are found with precision and recall
    above 0.8 and 0.9 (measured 0.88 and 0.99), by the automatic threshold, on 4-look speckle."""
    result = sar.detect_change(forest_load, 2007, 2010).compute()
    truth = truth_of(forest_load, 2007, 2010)
    found = result.change.values == 2
    valid = result.change.values > 0
    precision = (found & truth & valid).sum() / (found & valid).sum()
    recall = (found & truth & valid).sum() / (truth & valid).sum()
    assert precision > 0.8 and recall > 0.9, (precision, recall)
    assert -3.5 < result.attrs["threshold_decrease_db"] < -1.0 and 3.5 < result.looks < 4.5
    assert set(np.unique(result.days.values[valid])) <= set(range(1090, 1180))  # about three years, per strip


def test_the_lazy_result_equals_the_eager_one(forest_load):
    lazy = sar.detect_change(forest_load, 2015, 2019, threshold_db=2.0)
    assert lazy.change.chunks is not None
    eager = sar.detect_change(forest_load.compute(), 2015, 2019, threshold_db=2.0)
    assert np.array_equal(lazy.change.values, eager.change.values)
    np.testing.assert_allclose(lazy.log_ratio.values, eager.log_ratio.values, rtol=1e-5, atol=1e-5)


def test_areas_add_up_to_the_area_of_the_load(forest_load):
    result = sar.detect_change(forest_load, 2007, 2010, threshold_db=2.0)
    areas = sar.change_areas(result)
    whole = float(sar.pixel_area_km2(forest_load).sum()) * forest_load.sizes["longitude"]
    assert areas.sum() == pytest.approx(whole, rel=1e-9)
    assert 15 < areas["decrease"] < 35  # km² cleared 2007-2010 (the truth: about 22)


def test_kittler_illingworth_finds_the_valley_between_two_known_populations():
    rng = np.random.default_rng(3)
    unchanged = rng.normal(0.0, 0.6, 200_000)
    lost = rng.normal(-6.0, 1.0, 20_000)
    counts, _ = np.histogram(np.concatenate([unchanged, lost]), bins=HISTOGRAM_EDGES)
    centres = (HISTOGRAM_EDGES[:-1] + HISTOGRAM_EDGES[1:]) / 2
    threshold = kittler_illingworth(counts.astype(float), centres, "decrease")
    # The minimum-error point of these two Gaussians lies near -2.5 dB.
    assert -3.2 < threshold < -1.9


def test_a_pair_sharing_an_acquisition_is_refused(tutorial):
    with pytest.raises(ValueError, match="acquired on the same date in the 2021 and 2022 mosaics"):
        sar.detect_change(tutorial, 2021, 2022)


@pytest.mark.parametrize(
    "args,message",
    [
        (dict(before=2010, after=2007), "must be earlier than after"),
        (dict(before=2010, after=2010), "must be earlier than after"),
        (dict(before=2007, after=2010, threshold_db=-2), "positive number of dB"),
        (dict(before=2007, after=2010, size=8), "odd whole number"),
        (dict(before=2007, after=2010, size=401), "larger than the data's 300-pixel chunks"),
    ],
)
def test_bad_choices_are_refused(forest_load, args, message):
    with pytest.raises(ValueError, match=message):
        sar.detect_change(forest_load, **args)


def test_bad_data_is_refused(forest_load, jers):
    with pytest.raises(ValueError, match="lacks.*JERS-1 mosaics have HH only"):
        sar.detect_change(jers, 1996, 1996)
    with pytest.raises(ValueError, match="holds one"):
        sar.detect_change(forest_load.isel(time=[0]), 2007, 2010)
    masked = forest_load.assign(mask=forest_load.mask.where(forest_load.time.dt.year != 2010, 0))
    with pytest.raises(ValueError, match="Every pixel of the 2010 mosaic is masked"):
        sar.detect_change(masked, 2007, 2010)
    west = forest_load.longitude < 25.40
    apart = forest_load.assign(
        mask=forest_load.mask.where((forest_load.time.dt.year == 2007) == west, 0)  # 2007 west, the rest east
    )
    with pytest.raises(ValueError, match="no valid pixel in common"):
        sar.detect_change(apart, 2007, 2010)


def test_no_distinct_change_is_warned_about(forest_load):
    """Two mosaics of the desert's stable part would have nothing to find; here: the forest's
    2021 -> 2022 over its standing forest only (a box with no clearing)."""
    standing = forest_load.sel(latitude=slice(0.548, 0.535), longitude=slice(25.47, 25.50))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sar.detect_change(standing, 2021, 2022).change.compute()
    assert any("no distinct population" in str(w.message) for w in caught)
