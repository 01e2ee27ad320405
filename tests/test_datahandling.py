import pytest

import sar_helpers as sar

from helpers import TUTORIAL_QUERY


def test_load_mosaics_copies_the_metadata_as_digital_earth_africa_gives_it(tutorial, jers):
    assert tutorial.attrs["product"] == "alos_palsar_mosaic"
    assert tutorial.platform.values.tolist() == ["ALOS/ALOS-2"] * 12
    assert tutorial.instrument.values.tolist() == ["PALSAR/PALSAR-2"] * 12
    assert tutorial.launchdate.values.tolist() == ["2006-01-24"] * 4 + ["2014-05-24"] * 8
    assert [p.name for p in sar.platforms(tutorial)] == ["ALOS"] * 4 + ["ALOS-2"] * 8
    assert (jers.platform.values.tolist(), jers.launchdate.values.tolist()) == (["JERS-1"], ["1992-02-11"])


def test_add_platform_after_a_plain_dc_load(dc):
    query = dict(time=("2009", "2016"), **TUTORIAL_QUERY)
    datasets = dc.find_datasets(product="alos_palsar_mosaic", **query)
    plain = dc.load(datasets=datasets, measurements=["hh"], **query)
    ds = sar.add_platform(plain, datasets)
    assert ds.platform.values.tolist() == ["ALOS/ALOS-2"] * 4
    assert sar.platforms(ds) == sar.platforms(plain)
    assert [p.name for p in sar.platforms(plain)] == ["ALOS", "ALOS", "ALOS-2", "ALOS-2"]


def test_load_with_reprojection(dc):
    ds = sar.load_mosaics(
        dc, "jers_sar_mosaic", ["hh"], time="1996", output_crs="EPSG:6933", resolution=(-25, 25), **TUTORIAL_QUERY
    )
    assert ds.odc.crs == "EPSG:6933" and "x" in ds.dims and ds.platform.values.tolist() == ["JERS-1"]


@pytest.mark.parametrize(
    "product, bands, query, message",
    [
        (
            "alos_palsar_mosaic",
            ["hh", "vv"],
            TUTORIAL_QUERY,
            "has no band 'vv'; its bands are hh, hv, date, linci, mask",
        ),
        ("sentinel1", ["vv"], TUTORIAL_QUERY, "Unknown product 'sentinel1'"),
        (
            "alos_palsar_mosaic",
            ["hh"],
            dict(x=(10.0, 10.1), y=(5.0, 5.1)),
            "No alos_palsar_mosaic data for x=(10.0, 10.1)",
        ),
        ("alos_palsar_mosaic", ["hh"], dict(time=("2012", "2013"), **TUTORIAL_QUERY), "years are among 2007"),
    ],
)
def test_bad_queries_are_named(dc, product, bands, query, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sar.load_mosaics(dc, product, bands, **query)


def test_add_platform_needs_the_right_datasets(dc, tutorial):
    jers_datasets = dc.find_datasets(product="jers_sar_mosaic", **TUTORIAL_QUERY)
    with pytest.raises(ValueError, match="has no dataset among those given"):
        sar.add_platform(tutorial.drop_vars(["platform", "instrument", "launchdate"]), jers_datasets)


def test_reproject_options():
    assert sar.reproject_options() == {}
    options = sar.reproject_options("EPSG:6933", (-25, 25))
    assert options["output_crs"] == "EPSG:6933" and tuple(options["resolution"].yx) == (-25, 25)
    assert sar.reproject_options("EPSG:6933", 30) == {"output_crs": "EPSG:6933", "resolution": 30}
    with pytest.raises(ValueError, match="needs a resolution"):
        sar.reproject_options("EPSG:6933")
    with pytest.raises(ValueError, match="resolution needs output_crs"):
        sar.reproject_options(None, 25)


@pytest.mark.parametrize(
    "query, message",
    [
        (dict(time=("2022", "2015")), "time must be given earliest first"),
        (dict(x=(float("nan"), 32.0)), "x must be finite numbers"),
        (dict(y=(30.5, float("inf"))), "y must be finite numbers"),
        (dict(x=(32.1, 31.9)), "x must be given smallest first"),
    ],
)
def test_queries_that_would_fail_inside_the_index_are_refused_first(dc, query, message):
    full = dict(x=(31.99, 32.0), y=(30.45, 30.46), time=("2015", "2016"))
    with pytest.raises(ValueError, match=message):
        sar.load_mosaics(dc, "alos_palsar_mosaic", ["hh"], **{**full, **query})
