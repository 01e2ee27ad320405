"""Choosing time steps by position, year or date."""

import numpy as np
import pytest

from sar_helpers.analysis.steps import spread_steps, time_steps

from helpers import synthetic

DS = synthetic(np.ones((4, 1, 1)))  # ALOS mosaics: 2007 to 2010


def test_positions_years_and_dates():
    years = list(DS.time.dt.year.values)
    assert time_steps(DS) == [0, 1, 2, 3]
    assert time_steps(DS, -1) == [3] and time_steps(DS, [0, 2]) == [0, 2]
    assert time_steps(DS, years[3]) == [3] and time_steps(DS, [2008, 2009]) == [1, 2]
    assert time_steps(DS, f"{years[1]}-07-02") == [1]
    assert time_steps(DS, np.datetime64(f"{years[2]}-07-02")) == [2]


@pytest.mark.parametrize(
    "index, message",
    [
        (4, "out of range"),
        (-5, "out of range"),
        (1999, "No time step for year 1999"),
        ("2001-01-01", "date 2001-01-01"),
    ],
)
def test_what_is_not_there_is_named(index, message):
    with pytest.raises(ValueError, match=message):
        time_steps(DS, index)


@pytest.mark.parametrize("n, steps", [(1, [0]), (2, [0, 3]), (3, [0, 2, 3]), (4, [0, 1, 2, 3]), (10, [0, 1, 2, 3])])
def test_spread_steps(n, steps):
    assert spread_steps(DS, n) == steps
