"""Choosing time steps: by position, year or date, or spread evenly over the record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from sar_helpers.checks import require_not_empty


def time_steps(ds: xr.Dataset | xr.DataArray, when=None) -> list[int]:
    """Positions along time for ``when``: None (all), an int or list of ints (negative
    counts from the end), years (e.g. 2007) or dates ("2015-07-07", datetime64)."""
    require_not_empty(ds)
    if "time" not in ds.dims:
        raise ValueError("The data has no time dimension.")
    n = ds.sizes["time"]
    if when is None:
        return list(range(n))
    wanted = [when] if np.isscalar(when) or isinstance(when, pd.Timestamp) else list(when)
    labels = pd.DatetimeIndex(ds.time.values)
    steps = []
    for item in wanted:
        if isinstance(item, (int, np.integer)) and not 1000 <= item <= 9999:
            if not -n <= item < n:
                raise ValueError(f"Time step {item} is out of range: the data has {n} time steps (0 to {n - 1}).")
            steps.append(int(item) % n)
            continue
        if isinstance(item, (int, np.integer)):
            found, what = np.flatnonzero(labels.year == item), f"year {item}"
        else:
            day = pd.Timestamp(item).normalize()
            found, what = np.flatnonzero(labels.normalize() == day), f"date {day.date()}"
        if len(found) == 0:
            years = ", ".join(str(y) for y in sorted(set(labels.year)))
            raise ValueError(f"No time step for {what}; the data has {years}.")
        steps.extend(int(i) for i in found)
    return steps


def spread_steps(ds: xr.Dataset | xr.DataArray, n: int = 3) -> list[int]:
    """Time steps spread evenly from the first to the last.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A load with a ``time`` dimension.
    n : int, default 3
        How many.

    Returns
    -------
    list of int
        Positions along ``time``; all of them if there are fewer than ``n``.
    """
    require_not_empty(ds)
    count = ds.sizes["time"]
    n = min(n, count)
    return sorted({round(i * (count - 1) / max(n - 1, 1)) for i in range(n)})
