"""Exact DN histograms on small synthetic arrays: every band at once, the mask applied, lazy or not."""

import numpy as np
import pytest

from sar_helpers.analysis.counts import BINS, median_of_counts, value_counts

from helpers import assert_lazy_matches_eager, synthetic

HH = [[[0, 1, 1, 7], [7, 7, 65535, 3]], [[2, 2, 2, 2], [5, 5, 5, 0]]]
MASK = [[[255, 255, 100, 255], [50, 150, 255, 0]], [[255] * 4, [255, 255, 255, 255]]]


def tiny():
    ds = synthetic(HH, mask=MASK)
    return ds.assign(hv=ds.hh // 2 + 1)


def test_counts_every_value_of_every_band_and_step():
    ds = tiny()
    counts = value_counts([ds.hh, ds.hv])
    assert counts.dims == ("band", "time", "dn") and counts.shape == (2, 2, BINS)
    assert list(counts.band.values) == ["hh", "hv"]
    assert counts.sel(band="hh").values[0, 7] == 3 and counts.sel(band="hh").values[0, 65535] == 1
    assert (counts.sum("dn") == 8).all()


def test_pixels_outside_the_classes_count_as_no_data():
    ds = tiny()
    counts = value_counts(ds.hh, ds["mask"], ("land", "water")).sel(band="hh").values
    # step 0: lay-over (100) hides a 1, shadowing (150) a 7, no data (0) a 3
    assert counts[0, 0] == 1 + 3 and counts[0, 1] == 1 and counts[0, 7] == 2 and counts[0, 3] == 0
    assert counts[1, 0] == 1 and counts[1, 2] == 4


def test_lazy_in_lazy_out_and_equal():
    assert_lazy_matches_eager(lambda ds: value_counts([ds.hh, ds.hv], ds["mask"], ("land", "water")), tiny())


def test_a_single_step_without_a_time_dimension():
    counts = value_counts(tiny().hh.isel(time=1))
    assert counts.shape == (1, 1, BINS) and int(counts.sum()) == 8


def test_bad_input_is_named():
    ds = tiny()
    with pytest.raises(ValueError, match="both mask and classes"):
        value_counts(ds.hh, ds["mask"])
    with pytest.raises(ValueError, match="uint16"):
        value_counts(ds.hh.astype("float32"))
    with pytest.raises(ValueError, match="Unknown mask class 'city'"):
        value_counts(ds.hh, ds["mask"], ("city",))


@pytest.mark.parametrize("values, median", [([5], 5), ([1, 3], 2), ([2, 2, 9], 2), ([1, 2, 3, 40], 2.5)])
def test_median_of_counts_leaves_out_no_data(values, median):
    counts = np.bincount(np.array(values + [0, 0, 0]), minlength=BINS)
    assert median_of_counts(counts) == median
