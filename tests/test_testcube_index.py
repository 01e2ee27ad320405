"""The built test datacube, seen through datacube's own API and command line."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sar_helpers.products import PRODUCTS

from helpers import PUBLISHED, TUTORIAL_QUERY

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube

ALOS_BANDS = ["hh", "hv", "mask", "date"]


@pytest.fixture(scope="module")
def tutorial(dc):
    return dc.load(product="alos_palsar_mosaic", time=("2007", "2022"), measurements=ALOS_BANDS, **TUTORIAL_QUERY)


def test_products_are_listed_with_their_grid(dc):
    products = dc.list_products()
    assert set(products.index) == {"alos_palsar_mosaic", "jers_sar_mosaic", "alos_fnf_mosaic"}
    for name in products.index:
        assert str(products.loc[name, "default_crs"]) == "EPSG:4326"
        assert tuple(products.loc[name, "default_resolution"].yx) == (
            -0.000222222222222,
            0.000222222222222,
        )


def test_products_are_digital_earth_africas_plus_load_hints(dc):
    for product in PRODUCTS.values():
        published = product.published_definition()
        indexed = dc.index.products.get_by_name(product.name).definition
        assert json.loads(json.dumps(published)) == {k: v for k, v in indexed.items() if k != "load"}
        assert indexed["load"]["align"] == {"latitude": 0.000222222222222 / 2, "longitude": 0}


def test_measurements_match_the_product_facts(dc):
    table = dc.list_measurements()
    dtypes = {"hh": "uint16", "hv": "uint16", "date": "uint16", "linci": "uint8", "mask": "uint8", "fnf": "uint8"}
    for product in PRODUCTS.values():
        rows = table.loc[product.name]
        assert list(rows.index) == list(product.bands)
        for band in product.bands:
            row = rows.loc[band]
            if band == "linci":
                assert {"local incidence angle", "incidence"} <= set(row["aliases"])
            assert row["dtype"] == dtypes[band] and row["nodata"] == 0 and row["units"] == "1"
        flagged = "fnf" if product.name == "alos_fnf_mosaic" else "mask"
        values = {int(k): v for k, v in rows.loc[flagged, "flags_definition"]["category"]["values"].items()}
        if flagged == "fnf":  # JAXA's 4-class maps
            assert values == {0: "no_data", 1: "dense_forest", 2: "non_dense_forest", 3: "non_forest", 4: "water"}
        else:
            assert values == {0: "no_data", 50: "water", 100: "lay_over", 150: "shadowing", 255: "land"}


def test_tutorial_load_has_the_published_shape_and_labels(tutorial):
    assert dict(tutorial.sizes) == {"time": 12, "latitude": 811, "longitude": 900}
    assert [tutorial[b].dtype.name for b in ALOS_BANDS] == ["uint16", "uint16", "uint8", "uint16"]
    assert str(tutorial.time.values[0]) == "2007-07-02T11:59:59.500000000"
    years = tutorial.time.dt.year.values.tolist()
    assert years == [2007, 2008, 2009, 2010, *range(2015, 2023)]


def test_jers_load_for_1996(dc):
    jers = dc.load(product="jers_sar_mosaic", time="1996", measurements=["hh", "mask"], **TUTORIAL_QUERY)
    assert dict(jers.sizes) == {"time": 1, "latitude": 811, "longitude": 900}
    assert str(jers.time.values[0]) == "1996-07-01T23:59:59.500000000"


def test_observation_dates_over_the_tutorial_area_match_the_published_table(dc, tutorial):
    datasets = {ds.time.begin.year: ds for ds in dc.find_datasets(product="alos_palsar_mosaic", **TUTORIAL_QUERY)}
    for step in range(tutorial.sizes["time"]):
        year = int(tutorial.time.dt.year[step])
        days = tutorial.date[step].values
        days = days[days > 0]
        launch = dt.date.fromisoformat(datasets[year].metadata_doc["properties"]["launchdate"])
        first = launch + dt.timedelta(days=int(days.min()))
        last = launch + dt.timedelta(days=int(days.max()))
        assert (first.isoformat(), last.isoformat()) == PUBLISHED[year]


def test_datasets_carry_digital_earth_africas_properties(dc):
    expected = {
        2009: ("ALOS/ALOS-2", "PALSAR/PALSAR-2", "2006-01-24", "83.0 dB"),
        2015: ("ALOS/ALOS-2", "PALSAR/PALSAR-2", "2014-05-24", "83.0 dB"),
        1996: ("JERS-1", "SAR", "1992-02-11", "84.66 dB"),
    }
    for year, (platform, instrument, launch, cf) in expected.items():
        product = "jers_sar_mosaic" if year == 1996 else "alos_palsar_mosaic"
        found = dc.find_datasets(product=product, time=str(year), **TUTORIAL_QUERY)
        assert {ds.metadata.region_code for ds in found} == {"N31E031", "N31E032"}
        for ds in found:
            props = ds.metadata_doc["properties"]
            assert (ds.metadata.platform, ds.metadata.instrument) == (platform, instrument)
            assert (props["launchdate"], props["cf"], props["odc:product"]) == (launch, cf, product)
            assert props["dtr:start_datetime"] == f"{year}-01-01T00:00:00Z"
            assert props["dtr:end_datetime"] == f"{year}-12-31T23:59:59Z"


def test_files_are_cloud_optimized_geotiffs_named_as_digital_earth_africa_names_them(cube):
    folder = cube.data / "alos_palsar_mosaic" / "N31E031" / "2017"
    names = sorted(p.name for p in folder.glob("*.tif"))
    assert names == sorted(f"N31E031_17_sl_{b}_F02DAR.tif" for b in ("HH", "HV", "linci", "date", "mask"))
    alos = sorted(p.name for p in (cube.data / "alos_palsar_mosaic" / "N31E031" / "2008").glob("*.tif"))
    assert alos == sorted(f"N31E031_08_sl_{b}_F__DAR.tif" for b in ("HH", "HV", "linci", "date", "mask"))
    jers = sorted(p.name for p in (cube.data / "jers_sar_mosaic" / "N31E032" / "1996").glob("*.tif"))
    assert jers == sorted(f"N31E032_96_sl_{b}.tif" for b in ("HH", "linci", "date", "mask"))
    with rasterio.open(folder / "N31E031_17_sl_HH_F02DAR.tif") as src:
        assert src.profile["compress"] == "deflate" and src.profile["tiled"]
        assert (src.profile["blockxsize"], src.profile["blockysize"]) == (512, 512)
        assert src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "2"
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.nodata == 0 and src.overviews(1)
        assert src.crs.to_epsg() == 4326


def test_pixels_either_side_of_the_tile_seam_are_the_files_pixels(cube, tutorial):
    """No gap and no doubled column where N31E031 meets N31E032 at 32.0 degrees east."""
    step = list(tutorial.time.dt.year.values).index(2015)
    loaded = tutorial.hh[step]
    for tile, side in (("N31E031", -1), ("N31E032", 0)):
        path = cube.data / "alos_palsar_mosaic" / tile / "2015" / f"{tile}_15_sl_HH_F02DAR.tif"
        with rasterio.open(path) as src:
            seam_col = round((32.0 - src.transform.c) / src.transform.a)
            col = seam_col + side  # last column of the west tile, first of the east one
            lon = src.transform.c + (col + 0.5) * src.transform.a
            lon_index = int(np.argmin(np.abs(loaded.longitude.values - lon)))
            assert abs(loaded.longitude.values[lon_index] - lon) < 1e-9
            top_row = round((src.transform.f - float(loaded.latitude[0])) / -src.transform.e - 0.5)
            column = src.read(1, window=((top_row, top_row + 811), (col, col + 1)))[:, 0]
        np.testing.assert_array_equal(loaded[:, lon_index].values, column)
    seam = np.searchsorted(loaded.longitude.values, 32.0)
    assert np.diff(loaded.longitude.values[seam - 2 : seam + 2]) == pytest.approx(0.000222222222222)


def test_datacube_command_line_searches_the_cube(cube):
    datacube_cli = Path(sys.executable).with_name("datacube")
    result = subprocess.run(
        [str(datacube_cli), "dataset", "search", "product=alos_palsar_mosaic", "time in [2015, 2015]"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ODC_CONFIG_PATH": str(cube.config_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("product: alos_palsar_mosaic") == 3  # the desert's two tiles, the forest's one
    assert all(tile in result.stdout for tile in ("N31E031", "N31E032", "N01E025"))


def test_the_forest_map_covers_the_forest_only(dc):
    found = dc.find_datasets(product="alos_fnf_mosaic")
    assert {ds.metadata.region_code for ds in found} == {"N01E025"}
    assert sorted(ds.time.begin.year for ds in found) == [2007, 2008, 2009, 2010, *range(2015, 2023)]
    props = found[0].metadata_doc["properties"]
    assert "cf" not in props and found[0].metadata.platform == "ALOS/ALOS-2"
