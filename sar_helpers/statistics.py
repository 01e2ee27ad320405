"""Statistics of whole mosaics that stay exact and light on any size of load.

Backscatter and date DNs are uint16, so a per-time-step histogram of 65,536 counts
describes a band completely: medians, means of linear power, minima and maxima come
from it exactly, with one pass over the pixels and memory that does not grow with
the area. On dask-backed data each chunk makes its own histogram and dask sums them,
so the same code runs on a laptop or a cluster.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .calibration import calibration_constants, dn_table, to_db
from .checks import platforms, require_bands, require_not_empty
from .counts import median_of_counts, value_counts
from .masking import in_classes
from .products import VALID_CLASSES
from .steps import time_steps


def backscatter_histograms(ds: xr.Dataset, classes=VALID_CLASSES, compute: bool = True) -> dict:
    """DN histograms (time, 65536) of hh and hv over pixels whose mask class is in ``classes``.

    Lazy on dask with ``compute=False``: persist them on a cluster and watch the progress.
    """
    require_not_empty(ds)
    bands = [b for b in ("hh", "hv") if b in ds.data_vars]
    if not bands:
        require_bands(ds, ["hh"], "backscatter_histograms")
    require_bands(ds, ["mask"], "backscatter_histograms")
    invalid = in_classes(ds["mask"], classes, invert=True)
    return {band: value_counts(ds[band], invalid, compute=compute) for band in bands}


def yearly_backscatter(ds: xr.Dataset, histograms: dict | None = None, classes=VALID_CLASSES) -> xr.Dataset:
    """Per time step and band: mean and median gamma-nought in dB over valid pixels, and their count.

    The mean is taken in linear power and then converted to dB (the mean of dB
    values would be biased low by speckle); the median of power and of dB is the
    same pixel. Exact, from the DN histograms (made here unless ``histograms`` from
    :func:`backscatter_histograms` are given).
    """
    histograms = histograms if histograms is not None else backscatter_histograms(ds, classes)
    satellites = platforms(ds)
    constants = calibration_constants(ds)
    out = {}
    for band, counts in histograms.items():
        counts = np.asarray(counts.compute() if hasattr(counts, "compute") else counts)
        means, medians, valid = [], [], []
        for step, constant in enumerate(constants):
            c = counts[step]
            n = int(c[1:].sum())
            valid.append(n)
            if n == 0:
                means.append(np.nan)
                medians.append(np.nan)
                continue
            power = dn_table(constant, "power").astype(np.float64)
            means.append(10 * np.log10(float((c[1:] * power[1:]).sum() / n)))
            medians.append(20 * np.log10(median_of_counts(c)) + constant)
        out[f"{band}_mean_db"] = ("time", np.array(means), {"units": "dB", "long_name": f"mean {band.upper()} gamma-nought (averaged in power)"})
        out[f"{band}_median_db"] = ("time", np.array(medians), {"units": "dB"})
        out[f"{band}_valid_pixels"] = ("time", np.array(valid, dtype=np.int64), {"units": "pixels"})
    platform = ("time", [p.name for p in satellites])
    return xr.Dataset(out, coords={"time": ds.time, "platform": platform}, attrs=dict(ds.attrs))


def pixel_area_km2(ds: xr.Dataset | xr.DataArray) -> xr.DataArray | float:
    """Area of one pixel in km²: per latitude on a geographic grid, one number on a projected one."""
    crs = ds.odc.crs
    if crs.geographic:
        lat = ds["latitude"]
        res_lat = abs(float(lat[1] - lat[0])) if lat.size > 1 else 0.000222222222222
        res_lon = abs(float(ds["longitude"][1] - ds["longitude"][0])) if ds["longitude"].size > 1 else res_lat
        radius = 6371.0088
        km_lat = np.deg2rad(res_lat) * radius
        return (np.deg2rad(res_lon) * radius * np.cos(np.deg2rad(lat))) * km_lat
    res = ds.odc.geobox.resolution
    factor = {"metre": 1e-3, "m": 1e-3}.get(crs.units[0], None)
    if factor is None:
        raise ValueError(f"Cannot tell pixel areas in units of {crs.units[0]}; reproject to metres.")
    return abs(res.x * res.y) * factor * factor


def built_up_area(ds: xr.Dataset, threshold_db: float = -8.0, classes=VALID_CLASSES) -> xr.DataArray:
    """Area (km²) per time step whose HH gamma-nought is above ``threshold_db`` among valid pixels.

    Built-up land is the brightest L-band HH return; -8 dB separates it from sand,
    rock and fields in these mosaics. Lazy on dask until the sum is asked for.
    """
    require_bands(ds, ["hh", "mask"], "built_up_area")
    constants = np.array(calibration_constants(ds))
    # HH above the threshold in dB means DN above this, per time step (no float conversion of pixels).
    dn_threshold = xr.DataArray(10 ** ((threshold_db - constants) / 20), dims="time", coords={"time": ds.time})
    bright = (ds.hh > dn_threshold) & in_classes(ds["mask"], classes)
    area = (bright * pixel_area_km2(ds)).sum(dim=[d for d in ds.hh.dims if d != "time"])
    area.attrs = {"units": "km2", "long_name": f"area with HH above {threshold_db} dB"}
    return area.rename("built_up_km2")


def change_map(ds: xr.Dataset, before, after, band: str = "hh") -> xr.DataArray:
    """``band`` in dB at ``after`` minus at ``before`` (years or dates), NaN where either is masked."""

    first, last = time_steps(ds, [before])[0], time_steps(ds, [after])[0]
    pair = ds[[band, "mask"]].isel(time=[first, last])
    db = to_db(pair)[f"{band}_db"]
    change = db.isel(time=1) - db.isel(time=0)
    change.attrs = {"units": "dB", "long_name": f"change of {band.upper()} from {before} to {after}"}
    return change.drop_vars(["time", "platform", "instrument", "launchdate"], errors="ignore").rename(f"{band}_change_db")
