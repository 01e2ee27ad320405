"""Observation dates: when the pixels of each annual mosaic were actually acquired.

The ``date`` band counts days after the launch of the platform that acquired the
pixel (ALOS 2006-01-24, ALOS-2 2014-05-24, JERS-1 1992-02-11); 0 is no data. A
mosaic labelled 2022 can hold a 2021 acquisition, and one year's pixels can span
months, so change between mosaics should be read against these dates.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from sar_helpers.checks import mosaic_years, platforms, require_bands, require_dtype, require_not_empty

from .counts import median_of_counts, value_counts

_DAY = np.timedelta64(1, "D")


def _launches(ds: xr.Dataset) -> xr.DataArray:
    launch = [np.datetime64(p.launch, "ns") for p in platforms(ds)]
    return xr.DataArray(launch, dims="time", coords={"time": ds.time})


def _date_band(ds: xr.Dataset) -> xr.DataArray:
    require_not_empty(ds)
    require_bands(ds, ["date"], "Observation dates")
    require_dtype(ds["date"], "uint16")
    if "time" not in ds["date"].dims:
        raise ValueError("Observation dates need a time dimension; select time steps with isel(time=[...]).")
    return ds["date"]


def observation_dates(ds: xr.Dataset) -> pd.DataFrame:
    """A table of each mosaic's observation dates.

    No-data pixels (date 0) are left out. The median is the middle day of the acquired pixels (the
    midpoint of the middle two for an even count), rounded to the nearest whole day, ties upward.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with the ``date`` band (days since the satellite's launch).

    Returns
    -------
    pandas.DataFrame
        One row per time step: the mosaic's year, platform, earliest, latest and median observation
        date, the span in days, the share of no data, and ``same_dates_as``: the earlier mosaic whose
        pixels have the same earliest, latest and median dates (one acquisition reused: over the
        tutorial area 2022 repeats 2021-12-28), which a time series should drop or mark. A time
        step with no data at all gets empty dates and a warning.
    """
    date = _date_band(ds)
    satellites = platforms(ds)
    years = mosaic_years(ds)
    counts = value_counts(date).values[0]
    rows = []
    empty = []
    for step, label in enumerate(ds.time.values):
        total = counts[step].sum()
        acquired = total - counts[step][0]
        row = {
            "mosaic": years[step],
            "platform": satellites[step].name,
            "earliest": pd.NaT,
            "latest": pd.NaT,
            "median": pd.NaT,
            "span_days": pd.NA,
            "nodata_share": round(float(counts[step][0] / total), 4),
        }
        if acquired:
            days = np.flatnonzero(counts[step][1:]) + 1
            median = int(np.floor(median_of_counts(counts[step]) + 0.5))
            launch = np.datetime64(satellites[step].launch, "ns")
            row.update(
                earliest=launch + int(days[0]) * _DAY,
                latest=launch + int(days[-1]) * _DAY,
                median=launch + median * _DAY,
                span_days=int(days[-1] - days[0]),
            )
        else:
            empty.append(str(row["mosaic"]))
        rows.append(row)
    if empty:
        warnings.warn(
            f"No acquired pixels in the mosaic(s) {', '.join(empty)} over this area: their dates are empty.",
            stacklevel=2,
        )
    table = pd.DataFrame(rows, index=pd.Index(ds.time.values, name="time"))
    for column in ("earliest", "latest", "median"):
        table[column] = pd.to_datetime(table[column]).astype("datetime64[ns]")
    table["span_days"] = table["span_days"].astype("Int64")
    table["same_dates_as"] = _same_dates_as(table)
    return table


def _same_dates_as(table: pd.DataFrame) -> pd.Series:
    """For each row, the first earlier mosaic of the same platform with the same dates, or <NA>."""
    keys = list(zip(table["platform"], table["earliest"], table["latest"], table["median"]))
    first: dict = {}
    out = []
    for key, mosaic in zip(keys, table["mosaic"]):
        acquired = not pd.isna(key[1])
        out.append(first.get(key) if acquired else None)
        if acquired:
            first.setdefault(key, mosaic)
    return pd.Series(out, index=table.index, dtype="Int64")


def observation_date_map(ds: xr.Dataset) -> xr.DataArray:
    """The acquisition date of every pixel.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with the ``date`` band.

    Returns
    -------
    xarray.DataArray
        datetime64, NaT where no data; lazy if the load is.
    """
    date = _date_band(ds)
    when = _launches(ds) + date.astype("timedelta64[D]").astype("timedelta64[ns]")
    out = when.where(date > 0).rename("observation_date")
    out.attrs = {"long_name": "observation date"}
    return out


def relabel_time(ds: xr.Dataset, by: str = "median", duplicates: str = "warn") -> xr.Dataset:
    """Label each time step by its observation date instead of the mosaic's year.

    The original labels stay as the ``mosaic`` coordinate, and time steps are put in order of the new
    labels, stably. Labels that come out of order are sorted, with a warning.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with the ``date`` band.
    by : {"median", "earliest", "latest"}, default "median"
        Which of each mosaic's observation dates labels it.
    duplicates : {"warn", "drop", "raise"}, default "warn"
        Two mosaics can share an acquisition (over the tutorial area, 2022 reuses 2021-12-28):
        "warn" keeps every step and warns, "drop" keeps the first mosaic of each label and warns,
        "raise" refuses.

    Returns
    -------
    xarray.Dataset
        ``ds`` with the new ``time`` labels and the ``mosaic`` coordinate.
    """
    if by not in ("median", "earliest", "latest"):
        raise ValueError(f"by must be 'median', 'earliest' or 'latest', not {by!r}.")
    if duplicates not in ("warn", "drop", "raise"):
        raise ValueError(f"duplicates must be 'warn', 'drop' or 'raise', not {duplicates!r}.")
    table = observation_dates(ds)
    if table[by].isna().any():
        missing = ", ".join(map(str, table.loc[table[by].isna(), "mosaic"]))
        raise ValueError(
            f"The mosaic(s) {missing} have no acquired pixels here, so they have no {by} date; drop them first."
        )
    out = ds.assign_coords(mosaic=("time", table["mosaic"].to_numpy()))
    out = out.assign_coords(time=table[by].to_numpy())
    order = np.argsort(out.time.values, kind="stable")
    if (order != np.arange(len(order))).any():
        warnings.warn(
            f"Observation dates are not in mosaic order (mosaics {', '.join(map(str, table['mosaic'].to_numpy()[order]))} "
            "in date order); the time steps were sorted by date.",
            stacklevel=2,
        )
        out = out.isel(time=order)
    labels = pd.Index(out.time.values)
    if labels.has_duplicates:
        repeated = out.mosaic.values[labels.duplicated(keep=False)]
        message = (
            f"Mosaics {', '.join(map(str, repeated))} share an observation date ({by}), so their time labels repeat"
        )
        if duplicates == "raise":
            raise ValueError(message + "; choose another `by`, or duplicates='warn' or 'drop'.")
        if duplicates == "drop":
            out = out.isel(time=~labels.duplicated(keep="first"))
            warnings.warn(message + "; kept the first of each.", stacklevel=2)
        else:
            warnings.warn(
                message + "; select one with the `mosaic` coordinate, e.g. ds.sel(time=ds.mosaic == 2022).",
                stacklevel=2,
            )
    return out
