"""Forest cover, biomass, their change and the year of loss: formulas at known points, class rules
at their thresholds, the forested test area against its truth and its forest/non-forest map."""

import dask
import numpy as np
import pytest
import xarray as xr

import sar_helpers as sar
from sar_helpers.analysis.biomass import BIOMASS_CHANGE_CLASSES, INTERCEPT, SLOPE
from sar_helpers.cubes.testcube import forest as scene
from sar_helpers.products import RESOLUTION

from helpers import synthetic


def dn_of(db: float) -> int:
    return round(10 ** ((db + 83.0) / 20))


def test_biomass_follows_biotas_calibration_at_known_points():
    """analysis.md's derived values: HV -20 dB -> 1.55 tC/ha, -15 -> 17.8, -12 -> 41.5; below 0 -> 0."""
    hv = np.array([[[dn_of(-20.0), dn_of(-15.0), dn_of(-12.0), dn_of(-25.0)]]], dtype=np.uint16)
    ds = synthetic(hv, band="hv", mask=np.full(hv.shape, 255))
    carbon = sar.biomass(ds, size=None).values[0, 0]
    exact = [SLOPE * (float(dn) ** 2 * 10 ** (-8.3)) + INTERCEPT for dn in hv[0, 0, :3]]
    np.testing.assert_allclose(carbon[:3], exact, rtol=1e-6)
    np.testing.assert_allclose(carbon[:3], [1.55, 17.8, 41.5], atol=0.05)
    assert carbon[3] == 0 and sar.biomass(ds, size=None).attrs["units"] == "tC/ha"


def change_of(before: float, after: float) -> str:
    carbon = xr.DataArray(
        np.array([[[before]], [[after]]], dtype=np.float32),
        dims=("time", "latitude", "longitude"),
        coords={
            "time": np.array(["2015-07-02", "2016-07-02"], dtype="datetime64[ns]"),
            "latitude": [0.5],
            "longitude": [25.0],
        },
    )
    value = int(sar.biomass_change(carbon, 2015, 2016).values[0, 0])
    return {v: k for k, v in BIOMASS_CHANGE_CLASSES.items()}[value]


@pytest.mark.parametrize(
    "before,after,expected",
    [
        (20.0, 9.9, "deforestation"),  # forest to non-forest, by more than 20 %
        (10.5, 9.9, "minor_loss"),  # forest to non-forest, by less: biota calls it minor
        (20.0, 16.0, "degradation"),  # exactly 20 % down counts
        (20.0, 16.1, "minor_loss"),
        (20.0, 24.0, "growth"),
        (20.0, 23.9, "minor_gain"),
        (5.0, 12.0, "afforestation"),
        (5.0, 9.9, "non_forest"),
        (np.nan, 12.0, "no_data"),
    ],
)
def test_biomass_change_classes_at_their_thresholds(before, after, expected):
    assert change_of(before, after) == expected


def test_year_of_loss_rules():
    """One pixel per column: forest (1) and non-forest (3) over five mosaics; the dates say which
    mosaics repeat an acquisition. Eager and lazy give the same."""
    forest = np.array(
        [
            [1, 1, 3, 3, 3],  # lost in the third mosaic
            [1, 3, 1, 1, 1],  # one dip between forest years: noise, not loss
            [1, 1, 3, 3, 1],  # lost, then forest again at the last mosaic (unconfirmable: reported as it is)
            [1, 1, 1, 1, 3],  # lost at the last mosaic: reported as it is
            [1, 1, 1, 3, 3],  # the third mosaic repeats the second's acquisition (forest): loss is the fourth's
            [1, 0, 3, 3, 3],  # masked in the second: the loss shows in the third
            [1, 3, 3, 1, 1],  # lost in the second, forest again from the fourth: regrowth confirmed
            [1, 3, 3, 1, 3],  # lost in the second, one forest year after: noise, no regrowth
        ],
        dtype=np.uint8,
    ).T[:, None, :]
    dates = np.tile(np.arange(1, 6, dtype=np.uint16)[:, None, None], (1, 1, forest.shape[2]))
    dates[2, 0, 4] = dates[1, 0, 4]
    ds = synthetic(np.full(forest.shape, 3000), satellite="ALOS-2", band="hv", mask=np.full(forest.shape, 255))
    ds = ds.assign(date=(("time", "latitude", "longitude"), dates))  # mosaics 2015 to 2019
    classes = xr.DataArray(forest, dims=ds.hv.dims, coords=ds.hv.coords)
    for lazy in (False, True):
        data, codes = (ds.chunk({"longitude": 2}), classes.chunk({"longitude": 2})) if lazy else (ds, classes)
        result = sar.year_of_loss(data, classes=codes).compute()
        assert result.year_of_loss.values[0].tolist() == [2017, 0, 2017, 2019, 2018, 2017, 2016, 2016]
        assert result.year_of_regrowth.values[0].tolist() == [0, 0, 2019, 0, 0, 0, 2018, 0]


def test_bad_input_is_refused():
    jers = synthetic(np.full((1, 3, 3), 3000), satellite="JERS-1", mask=np.full((1, 3, 3), 255))
    with pytest.raises(ValueError, match="biomass needs the HV band.*JERS-1 mosaics have HH only"):
        sar.biomass(jers)
    desert = synthetic(np.full((2, 3, 3), dn_of(-25.0)), band="hv", mask=np.full((2, 3, 3), 255))
    desert["date"] = (
        ("time", "latitude", "longitude"),
        np.tile(np.array([500, 900], np.uint16)[:, None, None], (1, 3, 3)),
    )
    with pytest.raises(ValueError, match="No pixel of the area is forest in any mosaic"):
        sar.year_of_loss(desert, size=3, looks=4)
    one = synthetic(np.full((1, 3, 3), 3000), band="hv", mask=np.full((1, 3, 3), 255))
    one["date"] = (("time", "latitude", "longitude"), np.full((1, 3, 3), 500, np.uint16))
    with pytest.raises(ValueError, match="at least two mosaics"):
        sar.year_of_loss(one)
    classes = xr.DataArray(np.ones((3, 3), np.uint8), dims=("latitude", "longitude"), coords=one.isel(time=0).coords)
    with pytest.raises(ValueError, match="does not say which classes it uses"):
        sar.agreement(classes, classes)
    for flags in ("forest", {"category": "forest"}, {"category": {"values": ["forest"]}}):  # malformed metadata
        with pytest.raises(ValueError, match="does not say which classes it uses"):
            sar.agreement(classes, classes.assign_attrs(flags_definition=flags))
    with pytest.raises(ValueError, match="on another grid"):
        sar.agreement(classes, classes.isel(latitude=[0, 1]), scheme="fnf4")
    with pytest.raises(ValueError, match="must be earlier"):
        sar.biomass_change(
            xr.concat([classes.astype(np.float32)] * 2, "time").assign_coords(
                time=one.time.values.repeat(2) + np.array([0, 1], "timedelta64[D]")
            ),
            1,
            0,
        )


def test_a_three_class_reference_is_read_as_one():
    """In the 3-class maps 2 is non-forest (in the 4-class maps, non-dense forest)."""
    ours = xr.DataArray(
        np.array([[1, 3, 4]], np.uint8),
        dims=("latitude", "longitude"),
        coords={"latitude": [0.5], "longitude": [25.0, 25.1, 25.2]},
    ).odc.assign_crs("EPSG:4326")
    old = ours.copy(data=np.array([[1, 2, 3]], np.uint8))
    result = sar.agreement(ours, old, scheme="fnf3")
    assert result["overall"] == 1.0 and result["scheme"] == "fnf3"


@pytest.fixture(scope="module")
def forest_years(dc):
    query = dict(x=(25.30, 25.50), y=(0.40, 0.55), time=("2007", "2022"))
    chunks = {"time": 1, "latitude": 400, "longitude": 400}
    ds = dc.load(product="alos_palsar_mosaic", measurements=["hh", "hv", "mask", "date"], dask_chunks=chunks, **query)
    reference = dc.load(product="alos_fnf_mosaic", measurements=["fnf"], time=query["time"], like=ds.odc.geobox)
    return ds, sar.forest_cover(ds).persist(), reference


def test_forest_cover_agrees_with_the_forest_map(forest_years):
    """Measured 0.96 to 0.99 overall; forest recall 1.00 and non-forest recall 0.73 to 0.79 (fields in
    regrowth and slash read as forest, as they would on real mosaics)."""
    ds, classes, reference = forest_years
    for year in (2007, 2015, 2022):
        result = sar.agreement(
            classes.sel(time=str(year)).squeeze("time"), reference.fnf.sel(time=str(year)).squeeze("time")
        )
        assert result["overall"] > 0.94 and result["scheme"] == "fnf4", (year, result["overall"])
        assert result["per_class"].loc["forest", "recall"] > 0.99
        assert result["per_class"].loc["non-forest", "precision"] > 0.98
    area = sar.forest_area(classes).values
    assert (np.diff(area) < 0.5).all() and area[0] - area[-1] > 20  # km² lost, mosaic after mosaic


def test_year_of_loss_against_the_truth(forest_years):
    """Of the pixels cleared between the 2007 and 2022 acquisitions, the year of loss is found for
    90 %, and is the mosaic right after the clearing for 63 % of all and 80 % of those inside their
    parcels (the 7 x 7 filter blurs each 10-pixel parcel's edges); under 0.5 % of the never-cleared
    forest gets a year of loss."""
    ds, classes, _ = forest_years
    result = sar.year_of_loss(ds, classes=classes).compute()
    rows = np.rint(ds.latitude.values / RESOLUTION).astype(int)
    cols = np.floor(ds.longitude.values / RESOLUTION + 1e-6).astype(int)
    cleared = scene.cleared_at(rows, cols)
    loss = result.year_of_loss.values
    observed = np.isfinite(cleared) & (cleared > 2007.7) & (cleared < 2022.5)
    expected = np.zeros(loss.shape, np.uint16)
    for year in sorted(set(ds.time.dt.year.values), reverse=True):  # the first mosaic after the clearing
        expected = np.where(cleared < year + 0.55, year, expected)
    inside = ((rows[:, None] % 10 >= 3) & (rows[:, None] % 10 <= 6)) & (
        (cols[None, :] % 10 >= 3) & (cols[None, :] % 10 <= 6)
    )
    assert (loss[observed] > 0).mean() > 0.85
    assert (loss[observed] == expected[observed]).mean() > 0.58
    assert (loss[observed & inside] == expected[observed & inside]).mean() > 0.75
    assert (loss[~np.isfinite(cleared)] > 0).mean() < 0.005


def test_the_one_band_pass_gives_the_year_of_loss_of_forest_cover_on_the_forested_area(forest_years):
    hv = forest_years[0][["hv", "mask", "date"]]
    fused = sar.year_of_loss(hv).compute()
    xr.testing.assert_identical(fused, sar.year_of_loss(hv, classes=sar.forest_cover(hv)).compute())
    assert (fused.year_of_loss > 0).sum() > 1000


def test_jers_forest_cover_uses_hh_and_says_it_is_weaker(jers):
    classes = sar.forest_cover(jers)
    assert "HH only (JERS-1)" in classes.attrs["rule"] and set(np.unique(classes.values)) <= {0, 1, 3, 4}


def speckled_forest(band: str, satellite: str = "ALOS", years: int = 4) -> xr.Dataset:
    """Forest (HV -12 dB, HH -7) with a block cleared after the first mosaic (HV -19, HH -11), in
    4-look speckle, with water and lay-over in the mask and a new acquisition date every mosaic."""
    rng = np.random.default_rng(26)
    shape = (years, 48, 40)
    forest_db, cleared_db = (-12.0, -19.0) if band == "hv" else (-7.0, -11.0)
    db = np.full(shape, forest_db)
    db[1:, 10:30, 8:24] = cleared_db
    db += 10 * np.log10(rng.gamma(4, 1 / 4, size=shape))
    calibration = -84.66 if satellite == "JERS-1" else -83.0
    dn = np.clip(np.rint(10 ** ((db - calibration) / 20)), 1, 65535)
    mask = np.full(shape, 255)
    mask[:, 40:, :] = 50  # water
    mask[:, 2:5, 30:34] = 100  # lay-over
    ds = synthetic(dn, satellite=satellite, band=band, mask=mask)
    ds["date"] = (
        ("time", "latitude", "longitude"),
        np.tile(np.arange(1, years + 1, dtype=np.uint16)[:, None, None] * 400, (1, 48, 40)),
    )
    return ds


@pytest.mark.parametrize("band", ["hv", "hh"])
@pytest.mark.parametrize(
    "chunks", [None, {"time": 1, "latitude": -1, "longitude": -1}, {"time": 1, "latitude": 17, "longitude": 13}]
)
def test_year_of_loss_from_one_band_equals_the_year_of_loss_of_its_forest_cover(band, chunks):
    """The fused pass (forest codes without the filtered image) gives what forest_cover's classes give, bit for bit."""
    ds = speckled_forest(band)
    ds = ds if chunks is None else ds.chunk(chunks)
    fused = sar.year_of_loss(ds, looks=4.0).compute()
    general = sar.year_of_loss(ds, classes=sar.forest_cover(ds, looks=4.0)).compute()
    xr.testing.assert_identical(fused, general)
    assert (fused.year_of_loss.values[12:28, 10:22] > 0).mean() > 0.9  # the cleared block is found


def test_the_lazy_fold_is_a_task_a_mosaic_and_equals_the_eager_one():
    """Each mosaic's step of a chunk is a task of its own (not fused into one task that would wait for
    every year's classes and dates, holding them all), and the years are the eager fold's."""
    ds = speckled_forest("hv")
    lazy = sar.year_of_loss(ds.chunk({"time": 1, "latitude": 17, "longitude": 13}), looks=4.0)
    (optimized,) = dask.optimize(lazy.year_of_loss.data)
    steps = [k for k in dict(optimized.__dask_graph__()) if str(k[0]).startswith("year-of-loss-fold")]
    assert len(steps) >= (ds.sizes["time"] - 1) * optimized.npartitions > 0  # the last may join _finish
    xr.testing.assert_identical(lazy.compute(), sar.year_of_loss(ds, looks=4.0))


def test_forest_codes_equal_thresholding_the_filtered_image():
    """Near the threshold every pixel is decided by the filter itself; elsewhere by the window mean
    and the pixel. The codes read DNs and look them up a row at a time: the same as filtering the
    looked-up power image, with mirrored edges and with chunks' padding."""
    from sar_helpers.analysis.calibration import dn_table
    from sar_helpers.analysis.kernels import class_table, lookup_kept
    from sar_helpers.analysis.windows import FOREST, NON_FOREST, WATER, forest_codes, speckle_filter

    rng = np.random.default_rng(7)
    dn = rng.gamma(4, 1500 / 4, size=(60, 70)).clip(1, 65535).astype(np.uint16)
    dn[20:25, 30:40] = 0
    mask = np.full(dn.shape, 255, np.uint8)
    mask[:, :5] = 50
    mask[20:25, 30:40] = 100
    mask[40:45, 50:60] = 150  # not kept: no data, whatever its DNs
    codes = np.zeros(256, np.uint8)
    codes[255], codes[50] = NON_FOREST, WATER
    keep, table = class_table((50, 255)), dn_table(-83.0, "power")
    power = lookup_kept(dn, mask, keep=keep, table=table)
    filtered = speckle_filter(power, 7, looks=4.0, padded=False)
    for threshold in np.quantile(filtered[np.isfinite(filtered)], [0.0, 0.1, 0.5, 0.9, 1.0]):
        expected = np.where(
            codes[mask] == NON_FOREST, np.where(filtered >= np.float32(threshold), FOREST, NON_FOREST), codes[mask]
        )
        options = {"keep": keep, "table": table, "size": 7, "looks": 4.0, "threshold": float(threshold)}
        np.testing.assert_array_equal(forest_codes(dn, mask, codes, padded=False, **options), expected)
        padded = [np.pad(a, 3, mode="symmetric") for a in (dn, mask)]
        np.testing.assert_array_equal(forest_codes(*padded, codes, padded=True, **options), expected)
