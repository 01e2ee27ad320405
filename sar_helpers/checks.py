"""Checks of what a user passes in: queries, bands, dtypes, and which satellite made
each time step (which fixes its launch date and calibration).

Every helper checks its input here first, so that a mistake ends in one sentence that
names the input and the fix, not in a traceback from deep inside xarray or the index.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
import xarray as xr

from .products import Platform, get_product, platform_in_orbit, platforms_named


def check_query(query: dict) -> None:
    """ValueError for a search that would fail deep inside the index: coordinates that are
    not finite numbers in order, or a time range that runs backwards."""
    for axis in ("x", "y", "longitude", "latitude"):
        if axis not in query or isinstance(query[axis], (int, float)):
            values = [query[axis]] if axis in query else []
        else:
            values = list(query[axis])
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise ValueError(f"{axis} must be finite numbers, e.g. {axis}=(31.90, 32.10); got {query[axis]!r}.")
        if len(values) == 2 and values[0] > values[1]:
            raise ValueError(f"{axis} must be given smallest first: {values[0]} is above {values[1]}.")
    time = query.get("time")
    if isinstance(time, (tuple, list)) and len(time) == 2 and None not in time:
        try:
            first, last = pd.Timestamp(str(time[0])), pd.Timestamp(str(time[1]))
        except ValueError:
            raise ValueError(f"time must be dates like '2015' or '2015-07-01'; got {time!r}.") from None
        if first > last:
            raise ValueError(f"time must be given earliest first: {time[0]} is after {time[1]}.")


def no_data_message(product: str, query: dict) -> str:
    where = ", ".join(f"{k}={query[k]!r}" for k in ("x", "y", "time") if k in query)
    years = ", ".join(map(str, get_product(product).years))
    return (
        f"No {product} data for {where or 'this query'}. Check that the area is covered "
        f"(dc.find_datasets(product={product!r}, ...)) and that the years are among {years}."
    )


def require_not_empty(ds: xr.Dataset | xr.DataArray) -> None:
    if (
        not ds.sizes
        or any(size == 0 for size in ds.sizes.values())
        or (isinstance(ds, xr.Dataset) and not ds.data_vars)
    ):
        raise ValueError(
            "The data is empty: the query found nothing. Check x, y and time against the "
            "product's coverage with dc.find_datasets(...)."
        )


def require_bands(ds: xr.Dataset, bands: Iterable[str], purpose: str) -> None:
    missing = [b for b in bands if b not in ds.data_vars]
    if missing:
        raise ValueError(
            f"{purpose} needs the band(s) {', '.join(missing)}, which the data lacks "
            f"(it has {', '.join(map(str, ds.data_vars)) or 'none'}). Load them with measurements=[...]."
        )


def require_dtype(da: xr.DataArray, dtype: str, hint: str = "") -> None:
    if da.dtype != np.dtype(dtype):
        raise ValueError(f"{da.name} must be {dtype} as the product stores it, not {da.dtype}. {hint}".strip())


def mosaic_years(ds: xr.Dataset | xr.DataArray) -> list[int]:
    """The year of each time step's mosaic: the ``mosaic`` coordinate where
    :func:`sar_helpers.relabel_time` left one, else the year of the time label."""
    require_not_empty(ds)
    if "mosaic" in ds.coords:
        years = [int(year) for year in np.atleast_1d(ds.coords["mosaic"].values)]
    elif "time" not in ds.coords:
        raise ValueError(
            "The data has no time coordinate, so the year (and from it the satellite, launch date "
            "and calibration) of each mosaic is unknown. Keep the time coordinate as dc.load gives it."
        )
    else:
        years = pd.DatetimeIndex(np.atleast_1d(ds.coords["time"].values)).year.tolist()
    repeated = sorted({year for year in years if years.count(year) > 1})
    if repeated:
        raise ValueError(
            f"The data holds more than one time step of the {', '.join(map(str, repeated))} mosaic; each year has one "
            "annual mosaic, and the helpers answer per year. Keep one step a year (ds.isel(time=[...])), or check "
            "the index for datasets indexed twice."
        )
    return years


def require_possible_values(da: xr.DataArray, purpose: str) -> None:
    """Refuse values no mosaic band can hold: negative numbers that are not dB (DNs, linear
    power and ratios are never negative). Reads the values: for what is drawn or counted."""
    if da.dtype.kind != "f" or str(da.attrs.get("units", "")).lower() in ("db", "decibel"):
        return
    if bool((da < 0).any()):
        raise ValueError(
            f"{purpose}: {da.name} holds negative values, which no DN, linear power or ratio can be. If they "
            f"are dB, say so with ds[{str(da.name)!r}].attrs['units'] = 'dB'; else load the band as the product "
            "stores it."
        )


def platforms(ds: xr.Dataset | xr.DataArray) -> list[Platform]:
    """The satellite of each time step, which fixes its launch date and calibration.

    The mosaic's year names it (JERS-1 1992–1998, ALOS 2006–2011, ALOS-2 from 2014), so plain
    ``dc.load`` output is enough. Metadata copied on by :func:`add_platform` is checked against the
    year: a ``platform`` coordinate ("ALOS-2", or Digital Earth Africa's "ALOS/ALOS-2") must name
    that satellite, a ``launchdate`` must be its launch.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A load with a ``time`` dimension.

    Returns
    -------
    list of Platform
        One per time step, in order (with its name, launch date and calibration constant).

    Raises
    ------
    ValueError
        A year no satellite covers, or metadata that disagrees with the year (the time step named).
    """
    years = mosaic_years(ds)
    labels = _per_step(ds, "platform", len(years))
    launches = _per_step(ds, "launchdate", len(years))
    out = []
    for year, label, launch in zip(years, labels, launches):
        platform = platform_in_orbit(year)
        if label is not None and platform not in platforms_named(label):
            raise ValueError(
                f"The {year} mosaic is labelled platform {label!r}, but only {platform.name} made mosaics "
                f"in {year}. The time labels and the metadata disagree: check both (was the time axis relabelled?)."
            )
        if launch is not None and pd.Timestamp(launch).date() != platform.launch:
            raise ValueError(
                f"The {year} mosaic has launchdate {launch!r}, but its satellite {platform.name} was launched "
                f"on {platform.launch}. The time labels and the metadata disagree: check both."
            )
        out.append(platform)
    return out


def _per_step(ds: xr.Dataset | xr.DataArray, name: str, steps: int) -> list:
    """A coordinate's value for each time step, or None for each where it is absent."""
    if name not in ds.coords:
        return [None] * steps
    values = np.broadcast_to(np.atleast_1d(ds.coords[name].values), (steps,))
    return [str(value) or None for value in values]
