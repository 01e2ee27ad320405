"""Statistics of whole mosaics that stay exact and light on any size of load.

Backscatter and date DNs are uint16, so a per-time-step histogram of 65,536 counts
describes a band completely: medians, means of linear power, minima and maxima come
from it exactly, with one pass over the pixels and memory that does not grow with
the area. On dask-backed data each chunk makes its own histogram and dask sums them,
so the same code runs on a laptop or a cluster.
"""

from __future__ import annotations

import math

import dask
import dask.array as dsa
import numpy as np
import odc.geo.xr  # noqa: F401  (the .odc accessor pixel_area_km2 reads the CRS with)
import xarray as xr

from .calibration import calibration_constants, dn_table
from .checks import platforms, require_bands, require_dtype, require_not_empty
from .counts import median_of_counts, value_counts
from .kernels import class_table, count_above, difference_of_lookups
from .masking import class_values
from .products import VALID_CLASSES
from .steps import time_steps

#: Rows of the change map computed in one task: a whole tile's chunk is cut in five.
_SLAB_ROWS = 1024


def backscatter_histograms(ds: xr.Dataset, classes=VALID_CLASSES) -> xr.DataArray:
    """DN counts (band, time, dn) of hh and hv over pixels whose mask class is in ``classes``.

    Lazy when ``ds`` is (one task per chunk counts both bands): persist it on a
    cluster and watch the progress, or compute it with the other results of the same pass.
    """
    require_not_empty(ds)
    bands = [b for b in ("hh", "hv") if b in ds.data_vars]
    if not bands:
        require_bands(ds, ["hh"], "backscatter_histograms")
    require_bands(ds, ["mask"], "backscatter_histograms")
    return value_counts([ds[b] for b in bands], ds["mask"], classes)


def yearly_backscatter(ds: xr.Dataset, histograms: xr.DataArray | None = None, classes=VALID_CLASSES) -> xr.Dataset:
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
    for band in histograms["band"].values:
        counts = np.asarray(histograms.sel(band=band).values)
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
        out[f"{band}_mean_db"] = (
            "time",
            np.array(means),
            {"units": "dB", "long_name": f"mean {band.upper()} gamma-nought (averaged in power)"},
        )
        out[f"{band}_median_db"] = ("time", np.array(medians), {"units": "dB"})
        out[f"{band}_valid_pixels"] = ("time", np.array(valid, dtype=np.int64), {"units": "pixels"})
    platform = ("time", [p.name for p in satellites])
    return xr.Dataset(out, coords={"time": ds.time, "platform": platform}, attrs=dict(ds.attrs))


def pixel_area_km2(ds: xr.Dataset | xr.DataArray) -> xr.DataArray | float:
    """Area of one pixel in km²: per latitude on a geographic grid, one number on a projected one."""
    crs = ds.odc.crs
    if crs is None:
        raise ValueError(
            "The data has no coordinate reference system (no spatial_ref); load it with dc.load, "
            "or set one with ds.odc.assign_crs('EPSG:4326')."
        )
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


def _bright_rows(hh: np.ndarray, mask: np.ndarray, *, thresholds, keep, block_info=None) -> np.ndarray:
    """Per (time, y) of a (time, y, x) block: kept pixels with a DN above that step's threshold."""
    first = 0 if block_info is None else block_info[0]["array-location"][0][0]
    out = np.empty((*hh.shape[:2], 1), dtype=np.int64)
    for step in range(hh.shape[0]):
        out[step, :, 0] = count_above(hh[step], thresholds[first + step], mask[step], keep)
    return out


def built_up_area(ds: xr.Dataset, threshold_db: float = -8.0, classes=VALID_CLASSES) -> xr.DataArray:
    """Area (km²) per time step whose HH gamma-nought is above ``threshold_db`` among valid pixels.

    Built-up land is the brightest L-band HH return; -8 dB separates it from sand,
    rock and fields in these mosaics. Lazy on dask until the sum is asked for.
    """
    require_bands(ds, ["hh", "mask"], "built_up_area")
    require_dtype(ds["mask"], "uint8", "Load the mask band without resampling other than nearest.")
    constants = np.array(calibration_constants(ds))
    # HH above the threshold in dB means DN above this, per time step (no float conversion of pixels).
    thresholds = 10 ** ((threshold_db - constants) / 20)
    hh, mask = (ds[b] if "time" in ds[b].dims else ds[b].expand_dims("time") for b in ("hh", "mask"))
    y, x = [d for d in hh.dims if d != "time"]
    hh, mask = hh.transpose("time", y, x), mask.transpose("time", y, x)
    keep = class_table(class_values(tuple(classes)))
    # Count bright pixels per row (integers, one compiled pass), then weigh each row by its pixels' area.
    if dask.is_dask_collection(hh.data) or dask.is_dask_collection(mask.data):
        data = dsa.asarray(hh.data)
        per_block = dsa.map_blocks(
            _bright_rows,
            data,
            dsa.asarray(mask.data).rechunk(data.chunks),
            thresholds=thresholds,
            keep=keep,
            chunks=(data.chunks[0], data.chunks[1], (1,) * len(data.chunks[2])),
            dtype=np.int64,
        )
        rows = per_block.sum(axis=2)
    else:
        rows = _bright_rows(np.asarray(hh.data), np.asarray(mask.data), thresholds=thresholds, keep=keep)[..., 0]
    coords = {name: c for name, c in hh.coords.items() if x not in c.dims}
    bright = xr.DataArray(rows, dims=("time", y), coords=coords)
    area = (bright * pixel_area_km2(ds)).sum(dim=[y])
    area.attrs = {"units": "km2", "long_name": f"area with HH above {threshold_db} dB"}
    return area.rename("built_up_km2")


def _change_block(dn_before, mask_before, dn_after, mask_after, *, keep, before, after) -> np.ndarray:
    """dB after minus dB before for one 2-D block, in one compiled pass: the only array
    allocated is the result (no float32 image per year)."""
    return difference_of_lookups(dn_after, mask_after, dn_before, mask_before, keep, after, before)


def _in_slabs(image: xr.DataArray) -> xr.DataArray:
    """A lazy 2-D image with each chunk cut into slabs of at most _SLAB_ROWS rows (only cut, never merged)."""
    if image.chunks is None:
        return image
    rows = [
        n // math.ceil(n / _SLAB_ROWS) + (i < n % math.ceil(n / _SLAB_ROWS))
        for n in image.chunks[0]
        for i in range(math.ceil(n / _SLAB_ROWS))
    ]
    return image.chunk({image.dims[0]: tuple(rows)})


def change_map(ds: xr.Dataset, before, after, band: str = "hh") -> xr.DataArray:
    """``band`` in dB at ``after`` minus at ``before`` (years or dates), NaN where either is masked."""
    require_bands(ds, [band, "mask"], "change_map")
    require_dtype(ds[band], "uint16", "change_map takes the DNs as loaded.")
    require_dtype(ds["mask"], "uint8", "Load the mask band without resampling other than nearest.")
    first, last = time_steps(ds, [before])[0], time_steps(ds, [after])[0]
    constants = calibration_constants(ds)
    tables = {"before": dn_table(constants[first], "db"), "after": dn_table(constants[last], "db")}
    # One time step at a time keeps the load's chunks (no shuffle or rechunk of the two years);
    # chunks of many rows are cut in slabs (views, no copy) that the threads share.
    steps = [_in_slabs(ds[name].isel(time=step)) for step in (first, last) for name in (band, "mask")]
    change = xr.apply_ufunc(
        _change_block,
        *steps,
        kwargs={"keep": class_table(class_values(VALID_CLASSES)), **tables},
        dask="parallelized",
        output_dtypes=[np.float32],
    )
    change.attrs = {"units": "dB", "long_name": f"change of {band.upper()} from {before} to {after}"}
    return change.drop_vars(["time", "platform", "instrument", "launchdate"], errors="ignore").rename(
        f"{band}_change_db"
    )
