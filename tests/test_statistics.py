"""Whole-mosaic statistics on small synthetic arrays: exact against plain numpy, lazy as eager."""

import dask
import numpy as np
import pytest
import xarray as xr
from dask.core import flatten, get_dependencies

import sar_helpers as sar
from sar_helpers.analysis.areas import pixel_area_km2

from helpers import assert_lazy_matches_eager, synthetic

RNG = np.random.default_rng(7)
DN = RNG.integers(1, 20000, size=(3, 6, 5)).astype(np.uint16)
MASK = np.where(RNG.random((3, 6, 5)) < 0.2, 100, 255).astype(np.uint8)


def scene():
    ds = synthetic(DN, mask=MASK)
    return ds.assign(hv=(ds.hh // 3).astype(np.uint16))


def test_histograms_match_numpy_and_stay_lazy():
    eager = assert_lazy_matches_eager(sar.backscatter_histograms, scene())
    for band in ("hh", "hv"):
        dn = np.where(MASK == 255, scene()[band].values, 0)
        for step in range(3):
            np.testing.assert_array_equal(
                eager.sel(band=band).values[step], np.bincount(dn[step].ravel(), minlength=2**16)
            )


def test_yearly_backscatter_is_the_mean_in_power_and_the_exact_median():
    stats = sar.yearly_backscatter(scene())
    for step in range(3):
        dn = DN[step][MASK[step] == 255].astype(np.float64)
        assert stats.hh_valid_pixels.values[step] == dn.size
        assert stats.hh_mean_db.values[step] == pytest.approx(
            10 * np.log10(np.mean(dn**2 * 10 ** (-8.3))), abs=1e-6
        )  # float32 power table
        assert stats.hh_median_db.values[step] == pytest.approx(20 * np.log10(np.median(dn)) - 83.0, abs=1e-9)
    assert list(stats.platform.values) == ["ALOS"] * 3


def test_yearly_backscatter_of_an_empty_step_is_nan():
    ds = scene()
    ds["mask"] = ds["mask"].where(ds.time != ds.time[1], 100).astype(np.uint8)
    stats = sar.yearly_backscatter(ds)
    assert np.isnan(stats.hh_mean_db.values[1]) and stats.hh_valid_pixels.values[1] == 0


def test_built_up_area_counts_bright_valid_pixels_by_their_true_area():
    ds = scene()
    area = assert_lazy_matches_eager(lambda d: sar.built_up_area(d, -20.0), ds, rtol=1e-12)
    threshold = 10 ** ((-20.0 + 83.0) / 20)
    per_pixel = pixel_area_km2(ds).values[None, :, None]
    expected = (((DN > threshold) & (MASK == 255)) * per_pixel).sum(axis=(1, 2))
    np.testing.assert_allclose(area.values, expected, rtol=1e-12)
    assert area.attrs["units"] == "km2"


@pytest.mark.parametrize(
    "chunks", [None, {"time": 1, "latitude": 2, "longitude": 3}, {"time": 2, "latitude": 4, "longitude": -1}]
)
def test_histograms_and_built_up_area_in_one_pass_equal_each_alone(chunks):
    """The fused pass gives, to the bit, what backscatter_histograms and built_up_area give
    alone, eager and on any chunking (time chunks of several steps included)."""
    ds = scene() if chunks is None else scene().chunk(chunks)
    histograms, area = sar.histograms_and_built_up_area(ds, -20.0)
    assert dask.is_dask_collection(histograms.data) == dask.is_dask_collection(area.data) == (chunks is not None)
    xr.testing.assert_identical(histograms.compute(), sar.backscatter_histograms(scene()))
    xr.testing.assert_identical(area.compute(), sar.built_up_area(ds, -20.0).compute())
    xr.testing.assert_allclose(area.compute(), sar.built_up_area(scene(), -20.0), rtol=1e-12)


def test_histograms_and_built_up_area_on_hh_alone_and_without_hh():
    ds = scene().drop_vars("hv")
    histograms, area = sar.histograms_and_built_up_area(ds)
    assert list(histograms.band.values) == ["hh"]
    xr.testing.assert_identical(area, sar.built_up_area(ds))
    with pytest.raises(ValueError, match="histograms_and_built_up_area needs the band"):
        sar.histograms_and_built_up_area(scene().drop_vars("hh"))


def test_pixel_areas_shrink_towards_the_poles():
    area = pixel_area_km2(scene())
    assert area.dims == ("latitude",) and float(area[0]) == pytest.approx(0.0247 * 0.0213, rel=0.05)
    assert (np.diff(area.values) > 0).all()  # rows run south, so cos(latitude) grows


@pytest.mark.parametrize("latitude", [0.0001, 30.5, -45.0, 71.3])
def test_pixel_areas_are_those_of_the_wgs84_ellipsoid(latitude):
    """Against pyproj's geodesic area of the same pixel, which a sphere misses by about 0.1 % at 30°N."""
    from pyproj import Geod

    step = 0.000222222222222
    ds = synthetic(np.ones((1, 3, 2)))
    ds = ds.assign_coords(latitude=latitude - np.arange(3) * step)
    west, north = float(ds.longitude[0]) - step / 2, latitude + step / 2
    lons, lats = [west, west + step, west + step, west], [north, north, north - step, north - step]
    geodesic = abs(Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)[0]) / 1e6
    assert float(pixel_area_km2(ds)[0]) == pytest.approx(geodesic, rel=1e-6)


def test_log_ratio_is_after_minus_before_in_db_and_masked():
    ds = scene()
    change = assert_lazy_matches_eager(lambda d: sar.log_ratio(d, 0, 2), ds)
    db = sar.to_db(ds)["hh_db"]
    np.testing.assert_array_equal(change.values, (db.isel(time=2) - db.isel(time=0)).values)
    assert change.dims == ("latitude", "longitude") and change.name == "hh_log_ratio_db"
    assert np.isnan(change.values[(MASK[0] != 255) | (MASK[2] != 255)]).all()
    assert np.isfinite(change.values[(MASK[0] == 255) & (MASK[2] == 255)]).all()


def test_log_ratio_from_time_chunks_of_several_steps():
    ds = scene()
    for chunks in ({"time": 2, "latitude": 4, "longitude": 2}, {"time": -1, "latitude": 3, "longitude": -1}):
        assert_lazy_matches_eager(lambda d: sar.log_ratio(d, 2, 1), ds, chunks)


def test_log_ratio_tasks_take_the_loaded_chunks_directly():
    """No slicing task between the load and the log-ratio: the scheduler can then run each
    change task as soon as its two years are read (the keys it depends on are the load's)."""
    ds = scene().chunk({"time": 1, "latitude": 3, "longitude": 5})
    change = sar.log_ratio(ds, 0, 2).data
    graph = dict(change.__dask_graph__())
    loaded = {ds.hh.data.name, ds["mask"].data.name}
    keys = list(flatten(change.__dask_keys__()))
    assert len(keys) == 2
    for key in keys:
        assert {dependency[0] for dependency in get_dependencies(graph, key)} == loaded


def test_log_ratio_names_what_is_missing():
    with pytest.raises(ValueError, match="mask"):
        sar.log_ratio(scene().drop_vars("mask"), 0, 2)
    with pytest.raises(ValueError, match="No time step for year 1999"):
        sar.log_ratio(scene(), 1999, 2)


@pytest.mark.parametrize("together", [False, True])
def test_built_up_area_of_a_year_with_no_valid_pixel_is_nan_and_says_why(together):
    ds = scene()
    ds["mask"] = ds["mask"].where(ds.time != ds.time[1], 150).astype(np.uint8)  # all shadow in the second year
    measure = (lambda d: sar.histograms_and_built_up_area(d, -20.0)[1]) if together else sar.built_up_area
    with pytest.warns(UserWarning, match="the 2008 mosaic has no valid pixel here, so its area is NaN, not 0 km²"):
        area = measure(ds)
    assert np.isnan(area.values[1]) and np.isfinite(area.values[[0, 2]]).all()
    lazy = measure(ds.chunk({"time": 1, "latitude": 3, "longitude": -1}))
    assert dask.is_dask_collection(lazy) and np.isnan(lazy.values[1]) and np.isfinite(lazy.values[[0, 2]]).all()


def test_two_time_steps_of_one_mosaic_year_are_refused():
    ds = scene()
    twice = xr.concat([ds.isel(time=[0]), ds.isel(time=[0])], dim="time")
    for helper in (sar.to_db, sar.observation_dates, sar.built_up_area, sar.backscatter_histograms):
        with pytest.raises(ValueError, match="more than one time step of the 2007 mosaic"):
            helper(twice if helper is not sar.observation_dates else twice.assign(date=twice.hh))


def test_log_ratio_leaves_water_out_unless_asked():
    ds = scene()
    ds["mask"] = ds["mask"].where(ds.latitude != ds.latitude[0], 50).astype(np.uint8)  # a row of water
    land_only = sar.log_ratio(ds, 0, 2)
    assert np.isnan(land_only.values[0]).all() and "not a change map" in land_only.attrs["note"]
    with_water = sar.log_ratio(ds, 0, 2, classes=("land", "water"))
    assert np.isfinite(with_water.values[0]).all()


@pytest.mark.parametrize("looks", [1, 4, 16])
def test_equivalent_looks_of_gamma_distributed_speckle(looks):
    intensity = np.random.default_rng(looks).gamma(looks, 1 / looks, size=(2, 300, 300)) * 0.01
    power = synthetic(np.ones((2, 300, 300))).hh.astype(np.float64).copy(data=intensity)
    enl = sar.equivalent_looks(power)
    np.testing.assert_allclose(enl.values, looks, rtol=0.05)
    with pytest.raises(ValueError, match="takes linear power"):
        sar.equivalent_looks(power.assign_attrs(units="dB"))
