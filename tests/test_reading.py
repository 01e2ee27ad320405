"""Chunks decoded straight into their arrays are the arrays dc.load gives, bit for bit."""

import dask
import numpy as np
import pytest
import xarray as xr
from datacube.model import Dataset

import sar_helpers as sar
from sar_helpers.loading import bandfiles, reading

from helpers import TUTORIAL_QUERY, assert_band_files_are_bandinfos

ALL_BANDS = ["hh", "hv", "date", "linci", "mask"]


def both(dc, product, bands, **query):
    """(load_mosaics, plain dc.load) of one lazy query, computed on one thread."""
    ours = sar.load_mosaics(dc, product, bands, **query)
    plain = dc.load(product=product, measurements=bands, **query)
    with dask.config.set(scheduler="synchronous"):
        return ours, ours.compute(), plain.compute()


def assert_same(ours, plain):
    xr.testing.assert_identical(
        ours.drop_vars(["platform", "instrument", "launchdate"]).drop_attrs(), plain.drop_attrs()
    )
    for name in plain.data_vars:
        assert ours[name].attrs == plain[name].attrs


def test_band_files_are_what_datacubes_bandinfo_says(dc):
    products = ("alos_palsar_mosaic", "jers_sar_mosaic", "alos_fnf_mosaic")
    datasets = [dataset for product in products for dataset in dc.find_datasets(product=product)]
    assert_band_files_are_bandinfos(datasets)
    one = datasets[0]  # a dataset in two locations: BandInfo's own choice of the two
    two = Dataset(one.product, one.metadata_doc, uris=[one.uri, "file:///elsewhere/dataset.odc-metadata.yaml"])
    assert_band_files_are_bandinfos([two])


@pytest.mark.parametrize(
    "chunks",
    [
        {"time": 1, "latitude": 4608, "longitude": 4608},  # one chunk per step, across the seam of two tiles
        {"time": 1, "latitude": 256, "longitude": 300},  # chunks on either side of the seam and across it
    ],
)
def test_the_tutorial_load_across_two_tiles(dc, fallbacks, chunks):
    lazy, ours, plain = both(
        dc, "alos_palsar_mosaic", ALL_BANDS, time=("2007", "2022"), dask_chunks=chunks, **TUTORIAL_QUERY
    )
    assert_same(ours, plain)
    assert all(key[0].startswith("sar-read-") for key in lazy.hh.data.__dask_keys__()[0][0])
    assert fallbacks == []  # every chunk decoded straight from its files


def test_an_area_partly_outside_the_mosaics(dc, fallbacks):
    # The test cube's mosaics end at 32.15 E: the east of this box has no files, its chunks are no-data.
    query = dict(x=(32.12, 32.18), y=(30.40, 30.42), time=("2015", "2016"))
    _, ours, plain = both(
        dc, "alos_palsar_mosaic", ["hh", "mask"], dask_chunks={"latitude": 50, "longitude": 64}, **query
    )
    assert_same(ours, plain)
    assert (ours.hh.values == 0).any() and (ours.hh.values != 0).any() and fallbacks == []


def test_jers(dc, fallbacks):
    _, ours, plain = both(dc, "jers_sar_mosaic", ["hh", "mask", "date"], time="1996", dask_chunks={}, **TUTORIAL_QUERY)
    assert_same(ours, plain)
    assert fallbacks == []


def test_reprojected_and_resampled_loads_are_datacubes_own(dc):
    query = dict(time="2015", dask_chunks={"x": 200, "y": 200}, **sar.reproject_options("EPSG:6933", (-30, 30)))
    ours = sar.load_mosaics(dc, "alos_palsar_mosaic", ["hh"], **TUTORIAL_QUERY, **query)
    assert not any(key[0].startswith("sar-read-") for key in dask.core.flatten(ours.hh.data.__dask_keys__()))
    plain = dc.load(product="alos_palsar_mosaic", measurements=["hh"], **TUTORIAL_QUERY, **query)
    np.testing.assert_array_equal(ours.hh.values, plain.hh.values)


def test_chunks_of_several_steps_are_left_to_datacube(dc):
    ours = sar.load_mosaics(
        dc, "alos_palsar_mosaic", ["hh"], time=("2015", "2017"), dask_chunks={"time": 3}, **TUTORIAL_QUERY
    )
    assert not any(key[0].startswith("sar-read-") for key in dask.core.flatten(ours.hh.data.__dask_keys__()))


def test_overlapping_files_keep_the_first_valid_pixel(dc, fallbacks):
    """Two datasets over the same pixels: the second only fills the first's no-data, as datacube fuses."""
    datasets = dc.find_datasets(product="alos_palsar_mosaic", time="2015", **TUTORIAL_QUERY)
    geobox = dc.load(datasets=datasets, measurements=["hh"], **TUTORIAL_QUERY, dask_chunks={}).odc.geobox
    measurement = dc.index.products.get_by_name("alos_palsar_mosaic").lookup_measurements(["hh"])["hh"]
    twice = datasets + datasets
    np.testing.assert_array_equal(
        reading.read_chunk(twice, geobox, measurement), reading.fuse_lazy(twice, geobox, measurement, prepend_dims=1)
    )
    assert len(fallbacks) == 1  # the reference above, not the chunk


def test_a_damaged_file_names_itself(dc, tmp_path, monkeypatch):
    datasets = dc.find_datasets(product="alos_palsar_mosaic", time="2015", **TUTORIAL_QUERY)
    measurement = dc.index.products.get_by_name("alos_palsar_mosaic").lookup_measurements(["hh"])["hh"]
    geobox = dc.load(datasets=datasets[:1], measurements=["hh"], dask_chunks={}).odc.geobox
    from datacube.storage import BandInfo
    from datacube.utils.uris import uri_to_local_path

    original = uri_to_local_path(BandInfo(datasets[0], "hh").uri)
    damaged = tmp_path / original.name
    damaged.write_bytes(original.read_bytes()[: original.stat().st_size // 2])
    monkeypatch.setattr(bandfiles, "uri_to_local_path", lambda uri: damaged)
    with pytest.raises(Exception) as failure:
        reading.read_chunk(datasets[:1], geobox, measurement)
    assert sar.errors.unreadable_file_message(failure.value) is not None
