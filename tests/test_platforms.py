"""Which satellite made each time step: from the mosaic's year, checked against metadata."""

import numpy as np
import pytest

import sar_helpers as sar
from sar_helpers.products import ALOS, ALOS2, JERS1, platform_in_orbit, platforms_named

from helpers import synthetic


@pytest.mark.parametrize(
    "year, satellite",
    [
        (1992, JERS1),
        (1996, JERS1),
        (1998, JERS1),
        (2006, ALOS),
        (2010, ALOS),
        (2011, ALOS),
        (2014, ALOS2),
        (2022, ALOS2),
        (2030, ALOS2),
    ],
)
def test_the_year_names_the_satellite(year, satellite):
    assert platform_in_orbit(year) is satellite


@pytest.mark.parametrize("year", [1991, 1999, 2005, 2012, 2013])
def test_a_year_no_satellite_flew_is_refused(year):
    with pytest.raises(ValueError, match=f"No SAR mosaic satellite flew in {year}"):
        platform_in_orbit(year)


def test_digital_earth_africas_joint_label_is_understood():
    assert platforms_named("ALOS/ALOS-2") == (ALOS, ALOS2)
    assert platforms_named("JERS-1") == (JERS1,)
    with pytest.raises(ValueError, match="Unknown platform 'ALOS/SENTINEL-1'"):
        platforms_named("ALOS/SENTINEL-1")


@pytest.mark.parametrize("label", [None, "ALOS/ALOS-2", "ALOS-2"])
def test_calibration_and_dates_need_no_metadata_and_accept_either_label(label):
    ds = synthetic([[[773]]], satellite="ALOS-2", band="date", platform_label=label)
    assert sar.platforms(ds) == [ALOS2]
    assert str(sar.observation_dates(ds)["earliest"].iloc[0].date()) == "2016-07-05"
    assert sar.to_db(synthetic([[[1]]], satellite="ALOS-2", platform_label=label).hh).item() == -83.0


def test_a_relabelled_time_axis_keeps_the_mosaic_year():
    ds = synthetic([[[1]]], satellite="ALOS")  # 2007
    moved = ds.assign_coords(mosaic=("time", [2007]), time=np.array(["2016-01-01"], dtype="datetime64[ns]"))
    assert sar.platforms(moved) == [ALOS]


def test_metadata_that_disagrees_with_the_year_is_refused():
    with pytest.raises(ValueError, match="The 2007 mosaic is labelled platform 'JERS-1'"):
        sar.platforms(synthetic([[[1]]], satellite="ALOS", platform_label="JERS-1"))
    launch = synthetic([[[1]]], satellite="JERS-1").assign_coords(launchdate=("time", ["2006-01-24"]))
    with pytest.raises(
        ValueError, match="launchdate '2006-01-24', but its satellite JERS-1 was launched on 1992-02-11"
    ):
        sar.to_db(launch.hh)


def test_a_scalar_time_step_is_understood(tutorial):
    one = tutorial.isel(time=-1)
    assert sar.platforms(one) == [ALOS2]
    assert float(sar.to_db(one.hh).max()) > -30
