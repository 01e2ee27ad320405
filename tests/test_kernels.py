"""The compiled per-pixel loops against the plain numpy they replace, on awkward inputs."""

import threading

import numpy as np
import pytest

from sar_helpers.analysis.calibration import dn_table
from sar_helpers.analysis.kernels import (
    _lanes,
    class_table,
    count_above,
    count_values,
    count_values_and_above,
    difference_of_lookups,
)
from sar_helpers.analysis.masking import is_class
from sar_helpers.analysis.tables import lookup

KEEP = class_table((50, 255))


def images(seed=0, shape=(37, 53)):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**16, size=shape, dtype=np.uint16)
    values[0, :5] = [0, 65535, 65535, 1, 0]  # the extremes, and runs of one DN
    values[1] = 7
    mask = rng.choice(np.array([0, 50, 100, 150, 255], dtype=np.uint8), size=shape)
    return values, mask


def test_class_table_marks_only_the_given_dns():
    assert np.flatnonzero(KEEP).tolist() == [50, 255] and KEEP.dtype == np.uint8


@pytest.mark.parametrize("seed", range(3))
def test_counts_equal_numpy_bincount(seed):
    values, mask = images(seed)
    other = values[::-1].copy()
    np.testing.assert_array_equal(count_values([values])[0], np.bincount(values.ravel(), minlength=2**16))
    kept = np.isin(mask, [50, 255])
    for band, image in enumerate((values, other)):
        expected = np.bincount(np.where(kept, image, 0).ravel(), minlength=2**16)
        np.testing.assert_array_equal(count_values([values, other], mask, KEEP)[band], expected)


def test_counts_of_strided_views():
    values, mask = images(shape=(40, 60))
    view, mask_view = values[::3, 5:47:2], mask[::3, 5:47:2]
    expected = np.bincount(np.where(np.isin(mask_view, [50, 255]), view, 0).ravel(), minlength=2**16)
    np.testing.assert_array_equal(count_values([view, view.copy()], mask_view, KEEP), [expected, expected])
    np.testing.assert_array_equal(count_values([values.T])[0], np.bincount(values.ravel(), minlength=2**16))


@pytest.mark.parametrize(
    "threshold", [-np.inf, -1.5, -1.0, -0.5, 0.0, 0.5, 7.0, 7.5, 30000.25, 65534.9, 65535.0, 1e300, np.inf]
)
def test_count_above_equals_numpy(threshold):
    values, mask = images()
    expected = ((values > threshold) & np.isin(mask, [50, 255])).sum(axis=1)
    np.testing.assert_array_equal(count_above(values, threshold, mask, KEEP), expected)


@pytest.mark.parametrize("threshold", [-1.0, 7.0, 30000.25, 70000.0])
def test_counts_and_rows_above_in_one_pass_equal_each_alone(threshold):
    values, mask = images(3)
    other = values[::-1].copy()
    mask[5:9] = 0  # long runs of one counted DN (masked: 0)
    counts, above = count_values_and_above([values[:, 1:], other[:, 1:]], mask[:, 1:], KEEP, threshold)
    np.testing.assert_array_equal(counts, count_values([values[:, 1:], other[:, 1:]], mask[:, 1:], KEEP))
    np.testing.assert_array_equal(above, count_above(values[:, 1:], threshold, mask[:, 1:], KEEP))
    assert counts.dtype == above.dtype == np.int64


def test_count_tables_widen_where_an_image_could_overflow_them():
    """uint32 tables count up to 4,294,967,295 pixels; an image with more gets int64 ones."""
    assert _lanes((np.zeros((4500, 4500), dtype=np.uint16),)).dtype == np.uint32
    huge = np.broadcast_to(np.zeros(1, dtype=np.uint16), (2**16, 2**16))  # 2**32 pixels, no memory
    assert _lanes((huge,)).dtype == np.int64


def test_difference_of_lookups_equals_two_numpy_lookups_to_the_bit():
    after, mask_after = images(1)
    before, mask_before = images(2)
    tables = dn_table(-83.0, "db"), dn_table(-84.66, "db")
    expected = lookup(after, is_class(mask_after, (50, 255)), table=tables[0]) - lookup(
        before, is_class(mask_before, (50, 255)), table=tables[1]
    )
    got = difference_of_lookups(after, mask_after, before, mask_before, KEEP, *tables)
    assert got.dtype == np.float32 and np.isnan(got).any()
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))  # NaNs and all


def test_empty_images():
    empty = np.zeros((0, 4), dtype=np.uint16)
    assert count_values([empty]).sum() == 0
    assert count_above(empty, 1.0, empty.astype(np.uint8), KEEP).shape == (0,)


def test_threads_count_at_once_and_agree():
    """The loops release the GIL; results from threads are those of one thread."""
    values, mask = images(shape=(300, 400))
    expected = count_values([values], mask, KEEP)
    results = [None] * 4

    def work(i):
        results[i] = count_values([values], mask, KEEP)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_bad_input_is_named():
    values, mask = images()
    with pytest.raises(ValueError, match="2-D uint16 images of one shape"):
        count_values([values.astype(np.int32)])
    with pytest.raises(ValueError, match="2-D uint16 images of one shape"):
        count_values([values, values[:-1]])
    with pytest.raises(ValueError, match="2-D uint16 images of one shape"):
        count_values([])
    with pytest.raises(ValueError, match="mask must be uint8"):
        count_values([values], mask.astype(np.uint16), KEEP)
    with pytest.raises(ValueError, match="mask must be uint8"):
        count_above(values, 1.0, mask[:-1], KEEP)
    with pytest.raises(ValueError, match="NaN"):
        count_above(values, float("nan"), mask, KEEP)
    table = dn_table(-83.0, "db")
    with pytest.raises(ValueError, match="uint16 images of one shape"):
        difference_of_lookups(values, mask, values[:-1], mask[:-1], KEEP, table, table)
    with pytest.raises(ValueError, match="65,536-entry tables"):
        difference_of_lookups(values, mask, values, mask, KEEP, table, table[:10])
