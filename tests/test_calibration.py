import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import sar_helpers as sar

from helpers import assert_lazy_matches_eager, synthetic


@pytest.mark.parametrize("platform, constant", [("ALOS", -83.0), ("ALOS-2", -83.0), ("JERS-1", -84.66)])
def test_exact_values(platform, constant):
    ds = synthetic([[[0, 1, 65535]]], satellite=platform)
    db = sar.to_db(ds.hh)
    assert db.dtype == np.float32
    values = db.values.ravel()
    assert np.isnan(values[0])
    assert values[1] == np.float32(constant)
    assert values[2] == np.float32(10 * np.log10(65535.0**2) + constant)


@settings(max_examples=300, deadline=None)
@given(dn=st.integers(1, 65535), platform=st.sampled_from(["ALOS", "ALOS-2", "JERS-1"]))
def test_dn_db_dn_round_trip(dn, platform):
    ds = synthetic([[[dn]]], satellite=platform)
    back = sar.db_to_dn(sar.to_db(ds.hh))
    assert int(np.rint(back.values.item())) == dn


@pytest.mark.parametrize("convert", [sar.to_db, sar.to_power])
def test_conversions_are_lazy_when_the_data_is(convert):
    rng = np.random.default_rng(3)
    ds = synthetic(
        rng.integers(0, 30000, (3, 4, 6)), mask=rng.choice(np.array([0, 50, 100, 255], dtype=np.uint8), (3, 4, 6))
    )
    out = assert_lazy_matches_eager(convert, ds.assign(hv=ds.hh // 2))
    assert np.isnan(out[f"hh_{convert.__name__[3:]}"].values[ds["mask"].values == 100]).all()


def test_mask_and_no_data_become_nan_never_minus_infinity(tutorial):
    db = sar.to_db(tutorial)
    rejected = ~tutorial.mask.isin([50, 255]) | (tutorial.hh == 0)
    assert bool(db.hh_db.where(rejected).isnull().all())
    assert int(db.hh_db.isnull().sum()) == int(rejected.sum()) > 0
    assert not np.isinf(db.to_array().values).any()
    assert {db[v].attrs["units"] for v in db.data_vars} == {"dB"}


def test_agrees_with_the_published_formula(tutorial):
    """Same numbers as the tutorial's 10*log10(DN**2) - 83 with the mask applied, to 1e-3 dB."""
    valid = tutorial.mask.isin([50, 255])
    db = sar.to_db(tutorial)
    for band in ("hh", "hv"):
        published = 10 * np.log10(tutorial[band].where(valid).astype("float64") ** 2) - 83.0
        np.testing.assert_allclose(db[f"{band}_db"].values, published.values, atol=1e-3, equal_nan=True)
    np.testing.assert_allclose(db.hvhh_db, db.hv_db - db.hh_db, atol=1e-5, equal_nan=True)


def test_coordinates_and_attributes_are_kept(tutorial):
    db = sar.to_db(tutorial)
    for name in ("time", "latitude", "longitude", "platform", "spatial_ref"):
        assert name in db.coords
    assert db.attrs["crs"] == "EPSG:4326" and db.attrs["product"] == "alos_palsar_mosaic"


def test_stays_lazy_on_dask(tutorial, tutorial_lazy):
    lazy = sar.to_db(tutorial_lazy)
    for name in lazy.data_vars:
        assert hasattr(lazy[name].data, "dask"), name
    np.testing.assert_array_equal(lazy.hh_db.values, sar.to_db(tutorial).hh_db.values)
    assert hasattr(sar.to_power(tutorial_lazy).hh_power.data, "dask")


def test_calibration_follows_each_time_steps_platform(tutorial, jers):
    mixed = xr.concat([jers[["hh", "mask"]], tutorial[["hh", "mask"]].isel(time=[0, -1])], dim="time")
    db = sar.to_db(mixed)["hh_db"]
    for step, constant in enumerate([-84.66, -83.0, -83.0]):
        dn = mixed.hh[step].values.astype("float64")
        ok = np.isfinite(db[step].values)
        np.testing.assert_allclose(db[step].values[ok], 20 * np.log10(dn[ok]) + constant, atol=1e-4)


def test_jers_uses_its_own_constant(jers):
    db = sar.to_db(jers)
    assert "hvhh_db" not in db and "hv_db" not in db
    dn = jers.hh.values[jers.mask.isin([50, 255]).values].astype("float64")
    assert np.nanmedian(db.hh_db) == pytest.approx(np.median(20 * np.log10(dn) - 84.66), abs=1e-3)


def test_dataarray_with_a_mask(tutorial):
    da = sar.to_db(tutorial.hv, mask=tutorial.mask)
    assert da.name == "hv_db"
    np.testing.assert_array_equal(da.values, sar.to_db(tutorial).hv_db.values)
    unmasked = sar.to_db(tutorial.hv)
    assert int(unmasked.isnull().sum()) < int(da.isnull().sum())


def test_average_in_power_not_in_db(tutorial):
    """The mean in power, converted to dB, lies above the mean of dB values (speckle bias)."""
    power = sar.to_power(tutorial.isel(time=[-1]))
    in_power = float(sar.power_to_db(power.hh_power.mean()))
    in_db = float(sar.to_db(tutorial.isel(time=[-1])).hh_db.mean())
    assert in_power > in_db + 0.5
    np.testing.assert_allclose(
        sar.power_to_db(power).hh_db.values, sar.to_db(tutorial.isel(time=[-1])).hh_db.values, atol=1e-4, equal_nan=True
    )


def test_hv_hh_ratio_never_divides_by_zero():
    ds = synthetic([[[0, 100, 200]]])
    ds["hv"] = ds.hh.copy(data=np.array([[[50, 0, 100]]], dtype=np.uint16))
    ratio = sar.hv_hh_ratio(ds).values.ravel()
    assert np.isnan(ratio[0]) and np.isnan(ratio[1]) and ratio[2] == pytest.approx(0.5)


def test_warns_without_a_mask_band():
    with pytest.warns(UserWarning, match="no mask band"):
        sar.to_db(synthetic([[[5]]]))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: xr.Dataset(), "empty"),
        (lambda t: t[["mask", "date"]], "no hh or hv band"),
        (lambda t: t.drop_vars("time"), "no time coordinate"),
        (lambda t: t.assign(hh=t.hh.astype("float32")), "must be uint16"),
        (
            lambda t: t.assign_coords(platform=("time", ["SENTINEL-1"] * t.sizes["time"])),
            "Unknown platform 'SENTINEL-1'",
        ),
        (lambda t: t.assign_coords(platform=("time", ["ALOS-2"] * t.sizes["time"])), "labelled platform 'ALOS-2'"),
        (lambda t: t.assign_coords(time=t.time - np.timedelta64(3 * 365, "D")), "No SAR mosaic satellite flew in 2004"),
    ],
)
def test_bad_input_is_named(tutorial, make, message):
    with pytest.raises(ValueError, match=message):
        sar.to_db(make(tutorial.isel(time=[0, 1])))


def test_dn_table_knows_two_quantities_only():
    from sar_helpers.analysis.calibration import dn_table

    assert dn_table(-83.0, "db")[1] == np.float32(-83.0)
    with pytest.raises(ValueError, match="quantity must be 'db' or 'power', not 'dB'"):
        dn_table(-83.0, "dB")
