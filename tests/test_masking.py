import numpy as np
import pytest

import sar_helpers as sar

from helpers import assert_lazy_matches_eager, synthetic


def test_valid_mask_by_class_names():
    ds = synthetic([[[1, 1, 1, 1, 1]]], mask=[[[0, 50, 100, 150, 255]]])
    assert sar.valid_mask(ds).values.ravel().tolist() == [False, True, False, False, True]
    assert sar.valid_mask(ds, classes=("shadowing",)).values.ravel().tolist() == [False, False, False, True, False]


def test_valid_mask_is_lazy_when_the_data_is():
    ds = synthetic(np.ones((2, 3, 5)), mask=np.resize(np.array([0, 50, 100, 150, 255], dtype=np.uint8), (2, 3, 5)))
    assert_lazy_matches_eager(sar.valid_mask, ds)


def test_valid_mask_on_the_tutorial_load_is_lazy_when_the_load_is(tutorial, tutorial_lazy):
    lazy = sar.valid_mask(tutorial_lazy)
    assert hasattr(lazy.data, "dask")
    np.testing.assert_array_equal(lazy.values, tutorial.mask.isin([50, 255]).values)


def test_unknown_class_and_wrong_dtype_are_named():
    ds = synthetic([[[1]]], mask=[[[255]]])
    with pytest.raises(ValueError, match="Unknown mask class 'cloud'"):
        sar.valid_mask(ds, classes=("land", "cloud"))
    with pytest.raises(ValueError, match="mask must be uint8"):
        sar.valid_mask(ds.assign(mask=ds.mask.astype("float32")))
    with pytest.raises(ValueError, match="needs the band"):
        sar.valid_mask(ds.drop_vars("mask"))
