"""Change between two mosaics: the filtered log-ratio, a threshold, and classes with their areas.

A raw per-pixel log-ratio is mostly speckle (see :func:`sar_helpers.log_ratio`); here each
mosaic is speckle-filtered in power first, so that a threshold separates changed ground from
unchanged. The threshold is given, or found by Kittler and Illingworth's minimum-error method
on the log-ratio's histogram (each side of the unchanged peak: decrease and increase), as SAR
change detection uses it (Bazi, Bruzzone and Melgani 2005 on log-ratio images).

The pair is made by observation date, not mosaic year: every pixel carries the days between its
two acquisitions, and pixels that share one acquisition (the same date in both mosaics) cannot
show change at all, so such a pair is refused.
"""

from __future__ import annotations

import math
import warnings

import dask
import dask.array as dsa
import numpy as np
import pandas as pd
import xarray as xr

from sar_helpers.checks import platforms, require_bands, require_dtype, require_not_empty

from .areas import class_areas
from .calibration import to_power
from .masking import in_classes
from .speckle import estimated_looks, lee_filter
from .steps import time_steps
from .temporal import observation_date_map

#: The classes :func:`detect_change` gives, as its ``change`` band holds them.
CHANGE_CLASSES: dict[str, int] = {"no_data": 0, "no_change": 1, "decrease": 2, "increase": 3}
#: Bins of the log-ratio histogram the automatic threshold is found on (dB).
HISTOGRAM_EDGES = np.arange(-20.0, 20.0 + 1e-9, 0.05)


def _pair(ds: xr.Dataset, before, after, band: str) -> tuple[int, int]:
    require_not_empty(ds)
    if band not in ds.data_vars and band in ("hh", "hv"):
        satellites = ", ".join(p.name for p in platforms(ds)) if "time" in ds.dims else "this product"
        raise ValueError(
            f"detect_change needs the {band.upper()} band, which the data lacks ({satellites}; JERS-1 mosaics "
            "have HH only): use band='hh', or load it with measurements=[...]."
        )
    require_bands(ds, [band, "mask", "date"], "detect_change")
    require_dtype(ds[band], "uint16", "detect_change takes the DNs as loaded.")
    if "time" not in ds.dims or ds.sizes["time"] < 2:
        raise ValueError("detect_change compares two mosaics, and the data holds one: load at least two years.")
    first, last = time_steps(ds, [before])[0], time_steps(ds, [after])[0]
    if ds.time.values[first] >= ds.time.values[last]:
        raise ValueError(
            f"before ({before}) must be earlier than after ({after}): change is measured from the first to the second."
        )
    return first, last


def _days_between(ds: xr.Dataset, first: int, last: int) -> xr.DataArray:
    """Days from each pixel's earlier acquisition to its later one (float32, NaN without data)."""
    when = observation_date_map(ds[["date"]].isel(time=[first, last]))
    days = (when.isel(time=1) - when.isel(time=0)) / np.timedelta64(1, "D")
    return days.astype(np.float32).drop_vars("time", errors="ignore").rename("days")


def _refuse_shared(days: xr.DataArray, valid: xr.DataArray, before, after) -> None:
    """A ValueError if any valid pixel has the same acquisition in both mosaics, or no pixel is valid."""
    both = valid.all("time")
    sums = (((days == 0) & both).sum(), both.sum(), valid.isel(time=0).sum(), valid.isel(time=1).sum())
    shared, valid_count, before_count, after_count = (int(v) for v in dask.compute(*(s.data for s in sums)))
    if before_count == 0 or after_count == 0:
        which = before if before_count == 0 else after
        raise ValueError(f"Every pixel of the {which} mosaic is masked or no data: there is nothing to compare.")
    if valid_count == 0:
        raise ValueError(
            f"The {before} and {after} mosaics have no valid pixel in common (their areas do not overlap): "
            "choose an area both cover."
        )
    if shared:
        raise ValueError(
            f"{shared / valid_count:.0%} of the valid pixels were acquired on the same date in the {before} and "
            f"{after} mosaics (JAXA filled one with the other's acquisition): their log-ratio is zero by "
            "construction, not a finding. Compare mosaics made from different acquisitions "
            "(sar.observation_dates shows which share dates), or cut the area to where the dates differ."
        )


def kittler_illingworth(counts: np.ndarray, centres: np.ndarray, side: str) -> float:
    """The minimum-error threshold (Kittler and Illingworth 1986) between the unchanged pixels and
    the tail on one ``side`` ("decrease": below the histogram's peak, "increase": above it),
    each modelled as a Gaussian; NaN where that side has too few pixels to model."""
    peak = int(np.argmax(counts))
    total = counts.sum()
    candidates = range(1, peak) if side == "decrease" else range(peak + 1, len(counts) - 1)
    best, threshold = np.inf, np.nan
    for t in candidates:
        low, high = counts[:t], counts[t:]
        n_low, n_high = low.sum(), high.sum()
        if n_low < 0.0005 * total or n_high < 0.0005 * total:
            continue
        m_low, m_high = (low @ centres[:t]) / n_low, (high @ centres[t:]) / n_high
        v_low = (low @ (centres[:t] - m_low) ** 2) / n_low
        v_high = (high @ (centres[t:] - m_high) ** 2) / n_high
        if v_low <= 0 or v_high <= 0:
            continue
        p_low, p_high = n_low / total, n_high / total
        cost = p_low * np.log(v_low) + p_high * np.log(v_high) - 2 * (p_low * np.log(p_low) + p_high * np.log(p_high))
        if cost < best:
            best, threshold = cost, float(centres[t] - (centres[1] - centres[0]) / 2)
    return threshold


def _automatic_thresholds(ratio: xr.DataArray) -> tuple[float, float, float]:
    """(decrease threshold, increase threshold, robust spread of the unchanged peak) in dB."""
    values = ratio.data
    counts, _ = (dsa if isinstance(values, dsa.Array) else np).histogram(values, bins=HISTOGRAM_EDGES)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() == 0:
        raise ValueError("The log-ratio has no valid pixel within ±20 dB: there is nothing to threshold.")
    centres = (HISTOGRAM_EDGES[:-1] + HISTOGRAM_EDGES[1:]) / 2
    cumulative = np.cumsum(counts) / counts.sum()
    q25, q50, q75 = (centres[np.searchsorted(cumulative, q)] for q in (0.25, 0.5, 0.75))
    spread = (q75 - q25) / 1.349  # the standard deviation of a Gaussian with this interquartile range
    decrease = kittler_illingworth(counts, centres, "decrease")
    increase = kittler_illingworth(counts, centres, "increase")
    for name, value in (("decrease", decrease), ("increase", increase)):
        if not np.isfinite(value):
            continue
        beyond = centres <= value if name == "decrease" else centres >= value
        observed = counts[beyond].sum() / counts.sum()
        expected = 0.5 * math.erfc(abs(value - q50) / (spread * math.sqrt(2)))  # of the unchanged peak alone
        if observed < 3 * expected + 1e-4:
            warnings.warn(
                f"Few more pixels pass the automatic {name} threshold ({value:+.2f} dB, {observed:.2%} of them) than "
                f"the unchanged pixels' own spread ({spread:.2f} dB) would put there ({expected:.2%}): there is no "
                f"distinct population of {name} here, and what passes is mostly noise. Give threshold_db= from "
                "what you know of the change.",
                stacklevel=3,
            )
    return decrease, increase, spread


def _db(power: xr.DataArray) -> xr.DataArray:
    db = xr.apply_ufunc(np.log10, power, dask="allowed") * 10
    return db.astype(np.float32).drop_vars("time", errors="ignore")


def _thresholds(ratio: xr.DataArray, threshold_db: float | None) -> tuple[float, float, float, str]:
    """(decrease threshold, increase threshold, spread of the unchanged peak, how they were found)."""
    if threshold_db is None:
        decrease, increase, spread = _automatic_thresholds(ratio)
        return (
            decrease,
            increase,
            spread,
            "Kittler-Illingworth minimum error on the log-ratio histogram, each side of its peak",
        )
    if not np.isfinite(threshold_db) or threshold_db <= 0:
        raise ValueError(f"threshold_db must be a positive number of dB (e.g. 3); got {threshold_db!r}.")
    return -float(threshold_db), float(threshold_db), np.nan, "given"


def _classes(ratio: xr.DataArray, decrease: float, increase: float, attrs: dict) -> xr.Dataset:
    """The change classes of a filtered log-ratio, with the log-ratio, as a Dataset with ``attrs``."""
    lowered = ratio <= decrease if np.isfinite(decrease) else xr.zeros_like(ratio, dtype=bool)
    raised = ratio >= increase if np.isfinite(increase) else xr.zeros_like(ratio, dtype=bool)
    change = xr.where(ratio.notnull(), xr.where(lowered, 2, xr.where(raised, 3, 1)), 0).astype(np.uint8)
    what = f"{attrs['band'].upper()} from {attrs['before']} to {attrs['after']}"
    change.attrs = {
        "flag_values": list(CHANGE_CLASSES.values()),
        "flag_meanings": " ".join(CHANGE_CLASSES),
        "long_name": f"change of {what}",
    }
    ratio.attrs = {"units": "dB", "long_name": f"filtered log-ratio of {what}"}
    return xr.Dataset({"change": change, "log_ratio": ratio}, attrs=attrs)


def detect_change(
    ds: xr.Dataset,
    before,
    after,
    band: str = "hv",
    threshold_db: float | None = None,
    size: int = 7,
    method: str = "enhanced",
    looks: float | None = None,
    classes=("land",),
) -> xr.Dataset:
    """Where ``band`` fell or rose between two mosaics, from speckle-filtered backscatter.

    Each mosaic is calibrated to power, pixels outside ``classes`` masked, and filtered
    (:func:`lee_filter`); the log-ratio of the filtered powers (dB) is classed as decrease
    (≤ −threshold), increase (≥ +threshold) or no change. Without ``threshold_db`` each side's
    threshold is found by Kittler and Illingworth's minimum-error method on the log-ratio's
    histogram (a warning says when a side has no distinct change to find). Forest loss at L-band is
    mostly a drop in HV, hence the default band.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with ``band`` (DNs), ``mask`` and ``date``.
    before, after : int, str or datetime64
        The two mosaics: years or dates of two time steps, ``before`` earlier.
    band : {"hv", "hh"}, default "hv"
        The band compared.
    threshold_db : float, optional
        A positive threshold (dB) for both sides; found from the data when not given.
    size, method, looks
        The filter's (:func:`lee_filter`); by default the enhanced Lee filter with the looks
        measured on the ``before`` mosaic (:func:`estimated_looks`).
    classes : sequence of str, default ("land",)
        Mask classes kept (water is noise at both dates).

    Returns
    -------
    xarray.Dataset
        ``change`` (uint8: 0 no data, 1 no change, 2 decrease, 3 increase; lazy if the load is),
        ``log_ratio`` (float32 dB, filtered), ``days`` (float32, days between each pixel's two
        acquisitions) and ``before_db`` (the filtered ``before`` mosaic, dB: a decrease is forest
        loss only where the ground was forest before); the attributes hold the thresholds and how
        they were found.

    Raises
    ------
    ValueError
        A band the data lacks, one mosaic, ``before`` not earlier than ``after``, mosaics with no
        valid pixel in common, or pixels that share one acquisition.
    """
    first, last = _pair(ds, before, after, band)
    pair = ds[[band, "mask", "date"]].isel(time=[first, last])
    valid = in_classes(pair["mask"], tuple(classes)) & (pair[band] > 0)
    days = _days_between(ds, first, last)
    _refuse_shared(days, valid, before, after)
    power = to_power(pair[band], mask=pair["mask"], classes=tuple(classes))
    assert isinstance(power, xr.DataArray)
    if method == "enhanced" and looks is None:
        looks = estimated_looks(power.isel(time=0), size)
    filtered = lee_filter(power, size=size, method=method, looks=looks)
    ratio = _db(filtered.isel(time=1) / filtered.isel(time=0))
    decrease, increase, spread, how = _thresholds(ratio, threshold_db)
    thresholds = {"threshold_decrease_db": decrease, "threshold_increase_db": increase}
    attrs = {"before": str(before), "after": str(after), "band": band, **thresholds, "threshold_method": how}
    attrs |= {"unchanged_spread_db": spread, "speckle_filter": filtered.attrs["speckle_filter"]}
    attrs["looks"] = np.nan if looks is None else float(looks)
    out = _classes(ratio, decrease, increase, attrs)
    before_db = _db(filtered.isel(time=0))
    before_db.attrs = {"units": "dB", "long_name": f"filtered {band.upper()} gamma-nought of {before}"}
    days.attrs = {"units": "days", "long_name": "days between the two acquisitions"}
    out = out.assign(days=days, before_db=before_db)
    crs = ds.odc.crs  # arithmetic keeps the spatial_ref coordinate but not always what names the CRS
    return out if crs is None else out.odc.assign_crs(crs)


def change_areas(change: xr.Dataset | xr.DataArray) -> pd.Series:
    """Area of each change class of :func:`detect_change`.

    Parameters
    ----------
    change : xarray.Dataset or xarray.DataArray
        :func:`detect_change`'s result, or its ``change`` variable.

    Returns
    -------
    pandas.Series
        km² per class (no data, no change, decrease, increase), from true pixel areas.
    """
    return class_areas(change["change"] if isinstance(change, xr.Dataset) else change, CHANGE_CLASSES)
