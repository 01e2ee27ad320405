"""The per-pixel look-up that converts DNs and applies the mask."""

import numpy as np
import pytest

from sar_helpers.analysis.calibration import dn_table
from sar_helpers.analysis.masking import class_values, is_class
from sar_helpers.analysis.tables import lookup

TABLE = dn_table(-83.0, "db")


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_lookup_equals_indexing_for_any_shape(shape):
    values = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape) * 997
    np.testing.assert_array_equal(lookup(values, table=TABLE), TABLE[values])


def test_pixels_not_valid_take_the_no_data_answer():
    values = np.array([[10, 20], [30, 40]], dtype=np.uint16)
    valid = np.array([[True, False], [False, True]])
    out = lookup(values, valid, table=TABLE)
    assert np.isnan(out[0, 1]) and np.isnan(out[1, 0]) and out[0, 0] == TABLE[10] and out[1, 1] == TABLE[40]
    assert values[0, 1] == 20  # the input is not changed


def test_a_table_that_does_not_fit_the_dtype_is_refused():
    with pytest.raises(ValueError, match="needs 256 entries"):
        lookup(np.zeros(3, dtype=np.uint8), table=TABLE)


def test_mask_classes_by_comparison():
    mask = np.array([0, 50, 100, 150, 255], dtype=np.uint8)
    assert is_class(mask, class_values(("land", "water"))).tolist() == [False, True, False, False, True]
    assert is_class(mask, class_values(("no_data",))).tolist() == [True, False, False, False, False]
    assert not is_class(mask, ()).any()
