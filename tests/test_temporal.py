import warnings

import numpy as np
import pandas as pd
import pytest

import sar_helpers as sar

from helpers import PUBLISHED, synthetic


def test_observation_dates_reproduce_the_published_table(tutorial):
    table = sar.observation_dates(tutorial)
    assert len(table) == 12
    columns = ["mosaic", "platform", "earliest", "latest", "median", "span_days", "nodata_share", "same_dates_as"]
    assert list(table.columns) == columns
    for _, row in table.iterrows():
        first, last = PUBLISHED[row.mosaic]
        assert (str(row.earliest.date()), str(row.latest.date())) == (first, last)
        assert row.span_days == (pd.Timestamp(last) - pd.Timestamp(first)).days
    assert table.platform.tolist() == ["ALOS"] * 4 + ["ALOS-2"] * 8
    assert (table.nodata_share == 0).all()
    # Only the 2022 mosaic reuses an acquisition over this area: 2021-12-28, 2021's.
    assert table.same_dates_as.dropna().to_dict() == {table.index[-1]: 2021}


def test_median_is_exact(tutorial):
    table = sar.observation_dates(tutorial)
    for step in range(tutorial.sizes["time"]):
        days = tutorial.date[step].values
        median = np.median(days[days > 0])
        launch = {"ALOS": "2006-01-24", "ALOS-2": "2014-05-24"}[table.platform.iloc[step]]
        expected = pd.Timestamp(launch) + pd.Timedelta(days=int(np.floor(median + 0.5)))
        assert table["median"].iloc[step] == expected


def test_lazy_and_eager_agree(tutorial, tutorial_lazy):
    pd.testing.assert_frame_equal(sar.observation_dates(tutorial), sar.observation_dates(tutorial_lazy))


def test_no_data_share_and_an_empty_time_step():
    ds = synthetic([[[0, 0, 0, 0]], [[0, 10, 10, 12]]], band="date")
    with pytest.warns(UserWarning, match="No acquired pixels in the mosaic"):
        table = sar.observation_dates(ds)
    assert table.nodata_share.tolist() == [1.0, 0.25]
    assert pd.isna(table.earliest.iloc[0]) and pd.isna(table.span_days.iloc[0])
    assert table.earliest.iloc[1] == pd.Timestamp("2006-02-03") and table.span_days.iloc[1] == 2
    assert table["median"].iloc[1] == pd.Timestamp("2006-02-03")


def test_even_counts_take_the_midpoint_rounded_up():
    ds = synthetic([[[10, 11]]], band="date")
    assert sar.observation_dates(ds)["median"].iloc[0] == pd.Timestamp("2006-01-24") + pd.Timedelta(days=11)


def test_per_pixel_dates(tutorial_lazy):
    dates = sar.observation_date_map(tutorial_lazy)
    assert dates.dtype == np.dtype("datetime64[ns]") and hasattr(dates.data, "dask")
    first = dates.isel(time=0).values
    assert set(np.unique(first).astype("datetime64[D]").astype(str)) == {"2007-06-27", "2007-07-29", "2007-08-29"}
    ds = synthetic([[[0, 773]]], satellite="ALOS-2", band="date")
    values = sar.observation_date_map(ds).values.ravel()
    assert np.isnat(values[0]) and str(values[1].astype("datetime64[D]")) == "2016-07-05"


def test_relabel_handles_the_shared_2021_acquisition(tutorial):
    with pytest.warns(UserWarning, match="Mosaics 2021, 2022 share an observation date"):
        relabelled = sar.relabel_time(tutorial)
    assert relabelled.sizes["time"] == 12
    assert relabelled.mosaic.values.tolist() == tutorial.time.dt.year.values.tolist()
    assert str(relabelled.time.values[-1].astype("datetime64[D]")) == "2021-12-28"
    two = relabelled.sel(time=relabelled.mosaic == 2022)
    np.testing.assert_array_equal(two.hh.values[0], tutorial.hh.isel(time=-1).values)
    with pytest.warns(UserWarning, match="kept the first"):
        dropped = sar.relabel_time(tutorial, duplicates="drop")
    assert dropped.sizes["time"] == 11 and dropped.mosaic.values[-1] == 2021
    assert pd.Index(dropped.time.values).is_unique
    with pytest.raises(ValueError, match="share an observation date"):
        sar.relabel_time(tutorial, duplicates="raise")


def test_relabel_sorts_out_of_order_dates_with_a_warning():
    ds = synthetic([[[500]], [[300]]], band="date")
    with pytest.warns(UserWarning, match="not in mosaic order"):
        out = sar.relabel_time(ds)
    assert out.mosaic.values.tolist() == [2008, 2007]
    assert (np.diff(out.time.values) > np.timedelta64(0)).all()
    assert out.date.values.ravel().tolist() == [300, 500]


def test_relabel_in_order_is_silent(tutorial):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sar.relabel_time(tutorial.isel(time=slice(0, 10)), by="earliest")


def test_bad_input_is_named(tutorial):
    with pytest.raises(ValueError, match="needs the band"):
        sar.observation_dates(tutorial[["hh"]])
    with pytest.raises(ValueError, match="launchdate '2014-05-24'"):
        sar.observation_dates(tutorial.assign_coords(launchdate=("time", ["2014-05-24"] * 12)))
    with pytest.raises(ValueError, match="by must be"):
        sar.relabel_time(tutorial, by="mean")
    ds = synthetic([[[0]]], band="date")
    with pytest.raises(ValueError, match="no acquired pixels"), pytest.warns(UserWarning):
        sar.relabel_time(ds)
