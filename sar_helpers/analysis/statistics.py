"""Statistics of whole mosaics that stay exact and light on any size of load.

Backscatter and date DNs are uint16, so a per-time-step histogram of 65,536 counts
describes a band completely: medians, means of linear power, minima and maxima come
from it exactly, with one pass over the pixels and memory that does not grow with
the area. On dask-backed data each chunk makes its own histogram and dask sums them,
so the same code runs on a laptop or a cluster.
"""

from __future__ import annotations

import warnings
from functools import partial

import dask
import dask.array as dsa
import numpy as np
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from sar_helpers.checks import mosaic_years, platforms, require_bands, require_dtype, require_not_empty
from sar_helpers.products import VALID_CLASSES

from .areas import pixel_area_km2
from .calibration import calibration_constants, dn_table
from .counts import BINS, median_of_counts, value_counts
from .kernels import class_table, count_above, count_values_and_above, difference_of_lookups
from .masking import class_values, in_classes
from .steps import time_steps


def backscatter_histograms(ds: xr.Dataset, classes=VALID_CLASSES) -> xr.DataArray:
    """Exact DN counts of ``hh`` and ``hv`` per time step, over pixels whose mask class is kept.

    Lazy when the load is (one task per chunk counts both bands): persist it on a cluster and watch
    the progress, or compute it with the other results of the same pass.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with ``hh``, ``hv`` (DNs, uint16) and ``mask``.
    classes : sequence of str, default ("land", "water")
        Mask classes counted.

    Returns
    -------
    xarray.DataArray
        Counts of pixels (band, time, dn), dn 0–65,535 (DN 0 is no data and never counted).
    """
    require_not_empty(ds)
    bands = [b for b in ("hh", "hv") if b in ds.data_vars]
    if not bands:
        require_bands(ds, ["hh"], "backscatter_histograms")
    require_bands(ds, ["mask"], "backscatter_histograms")
    if "time" in ds.dims:
        mosaic_years(ds)  # one time step a year, as every helper takes them
    return value_counts([ds[b] for b in bands], ds["mask"], classes)


def yearly_backscatter(ds: xr.Dataset, histograms: xr.DataArray | None = None, classes=VALID_CLASSES) -> xr.Dataset:
    """Mean and median gamma-nought per time step and band, over valid pixels, exactly.

    The mean is taken in linear power and then converted to dB (the mean of dB values would be
    biased low by speckle); the median of power and of dB is the same pixel. Mean and median differ
    mostly because the area mixes surfaces (a mean in power is pulled up by the bright ones), and
    also by speckle.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with ``hh``, ``hv`` (DNs) and ``mask``.
    histograms : xarray.DataArray, optional
        The DN counts of :func:`backscatter_histograms`, if already made (made here otherwise).
    classes : sequence of str, default ("land", "water")
        Mask classes counted.

    Returns
    -------
    xarray.Dataset
        Per band, along ``time``: ``{band}_mean_db`` and ``{band}_median_db`` (dB) and
        ``{band}_valid_pixels`` (the count), with each step's ``platform``.
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


def _block_summary(mask, *bands, keep, thresholds, histograms, total_rows, block_info=None) -> np.ndarray:
    """One (time, y, x) block's counts, per time step: the DN counts of each band if
    ``histograms``, then for every row of the load its kept pixels whose first band is above
    that step's threshold (this block's rows; 0 for the others). int64 (time, 1, 1, counts + rows)."""
    (first, _), (top, bottom) = (
        ((0, 0), (0, mask.shape[1])) if block_info is None else block_info[0]["array-location"][:2]
    )
    width = len(bands) * BINS if histograms else 0
    out = np.zeros((mask.shape[0], 1, 1, width + total_rows), dtype=np.int64)
    for step in range(mask.shape[0]):
        images, threshold = [band[step] for band in bands], thresholds[first + step]
        if histograms:
            counts, rows = count_values_and_above(images, mask[step], keep, threshold)
            out[step, 0, 0, :width] = counts.ravel()
        else:
            rows = count_above(images[0], threshold, mask[step], keep)
        out[step, 0, 0, width + top : width + bottom] = rows
    return out


def _counts_and_area(ds: xr.Dataset, threshold_db: float, classes, histograms: bool, purpose: str):
    """(the DN counts of hh and hv as :func:`backscatter_histograms` makes them, or None
    without ``histograms``; the area with HH above ``threshold_db``), from one task per chunk."""
    require_not_empty(ds)
    require_bands(ds, ["hh", "mask"], purpose)
    require_dtype(ds["mask"], "uint8", "Load the mask band without resampling other than nearest.")
    names = [b for b in ("hh", "hv") if b in ds.data_vars] if histograms else ["hh"]
    for name in names:
        require_dtype(ds[name], "uint16")
    constants = np.array(calibration_constants(ds))
    # HH above the threshold in dB means DN above this, per time step (no float conversion of pixels).
    thresholds = 10 ** ((threshold_db - constants) / 20)
    arrays = [ds[b] if "time" in ds[b].dims else ds[b].expand_dims("time") for b in ("mask", *names)]
    y, x = [d for d in arrays[1].dims if d != "time"]
    arrays = [a.transpose("time", y, x) for a in arrays]
    width, rows = (len(names) * BINS if histograms else 0), arrays[1].sizes[y]
    keep = class_table(class_values(tuple(classes)))
    options = dict(keep=keep, thresholds=thresholds, histograms=histograms, total_rows=rows)
    row_area = np.broadcast_to(np.asarray(pixel_area_km2(ds), dtype=np.float64), (rows,))
    if any(dask.is_dask_collection(a.data) for a in arrays):
        hh = dsa.asarray(arrays[1].data)
        data = [dsa.asarray(a.data).rechunk(hh.chunks) for a in arrays]
        chunks = (hh.chunks[0], (1,) * len(hh.chunks[1]), (1,) * len(hh.chunks[2]), (width + hh.shape[1],))
        per_block = dsa.map_blocks(_block_summary, *data, **options, new_axis=[3], chunks=chunks, dtype=np.int64)
        summary = per_block.sum(axis=(1, 2))
        area_data = dsa.blockwise(
            _area_of_rows, "t", summary, "tw", width=width, row_area=row_area, concatenate=True, dtype=np.float64
        )
        new_axes = {"b": len(names), "d": BINS}
        counts = (
            dsa.blockwise(
                _split_counts, "btd", summary, "tw", width=width, new_axes=new_axes, concatenate=True, dtype=np.int64
            )
            if histograms
            else None
        )
    else:
        summary = _block_summary(*(np.asarray(a.data) for a in arrays), **options)[:, 0, 0]
        area_data = _area_of_rows(summary, width=width, row_area=row_area)
        counts = _split_counts(summary, width) if histograms else None
    coords = {name: c for name, c in arrays[1].coords.items() if x not in c.dims and y not in c.dims}
    # A time step with no valid pixel has no area to tell: NaN, not 0 km². With the histograms the
    # counts tell, in the same task (_area_of_rows); alone, the area needs a look at the mask.
    valid = None if histograms else in_classes(arrays[0], classes).any([y, x]).data
    area = _built_up(area_data, valid, coords, threshold_db, mosaic_years(ds), purpose)
    if counts is None:
        return None, area
    time = {"time": arrays[1]["time"].values} if "time" in arrays[1].coords else {}
    return xr.DataArray(counts, dims=("band", "time", "dn"), coords={"band": names, **time}, name="counts"), area


def _built_up(area, valid, coords: dict, threshold_db: float, years: list[int], purpose: str) -> xr.DataArray:
    """The built-up area per time step, NaN (and, computed, a warning) where no pixel is valid."""
    out = xr.DataArray(area, dims=("time",), coords=coords, name="built_up_km2")
    if valid is not None:
        out = out.where(xr.DataArray(valid, dims=("time",), coords=coords))
    out.attrs = {
        "units": "km2",
        "long_name": f"area with HH above {threshold_db} dB (a proxy for built-up land)",
        "note": "NaN for a time step with no valid pixel (no data, lay-over or shadow everywhere)",
    }
    if not dask.is_dask_collection(out.data) and np.isnan(out.values).any():
        empty = [str(year) for year, area_km2 in zip(years, np.atleast_1d(out.values)) if np.isnan(area_km2)]
        warnings.warn(
            f"{purpose}: the {', '.join(empty)} mosaic has no valid pixel here, so its area is NaN, not 0 km².",
            stacklevel=4,
        )
    return out


def _area_of_rows(summary: np.ndarray, *, width: int, row_area: np.ndarray) -> np.ndarray:
    """Per time step of a (time, counts + rows) summary: its bright pixels per row, each row
    weighed by the area of its pixels; NaN where the counts (when there are any) hold no valid
    pixel of the first band."""
    area = np.sum(summary[:, width:] * row_area, axis=1)
    if width:
        area = np.where(summary[:, 1:BINS].sum(axis=1) > 0, area, np.nan)
    return area


def _split_counts(summary: np.ndarray, width: int) -> np.ndarray:
    """The DN counts (band, time, dn) in the first ``width`` values of a (time, counts + rows) summary."""
    return summary[:, :width].reshape(summary.shape[0], width // BINS, BINS).transpose(1, 0, 2)


def built_up_area(ds: xr.Dataset, threshold_db: float = -8.0, classes=VALID_CLASSES) -> xr.DataArray:
    """Area per time step whose HH is brighter than ``threshold_db``: a proxy for built-up land, not a map of it.

    Buildings are the brightest L-band HH returns (double bounce), so a high threshold picks them,
    but also whatever else is bright: irrigated fields near −8 dB, rough rock, and, pixel by pixel,
    speckle (a 4-look pixel of a −10 dB surface passes −8 dB one time in eight). Lay-over is excluded
    by the default ``classes`` because terrain facing the radar is bright without being built up.
    Choose the threshold from the data (the HH histogram of known built-up and open land) and
    average spatially first where speckle matters. Lazy on dask (one task per chunk) until the sum
    is asked for; :func:`histograms_and_built_up_area` makes it in the histograms' pass.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with ``hh`` (DNs) and ``mask``.
    threshold_db : float, default -8.0
        HH gamma-nought (dB) above which a pixel counts.
    classes : sequence of str, default ("land", "water")
        Mask classes counted.

    Returns
    -------
    xarray.DataArray
        km² per time step (each pixel's true area); NaN for a time step with no valid pixel.
    """
    return _counts_and_area(ds, threshold_db, classes, False, "built_up_area")[1]


def histograms_and_built_up_area(
    ds: xr.Dataset, threshold_db: float = -8.0, classes=VALID_CLASSES
) -> tuple[xr.DataArray, xr.DataArray]:
    """:func:`backscatter_histograms` and :func:`built_up_area` from one pass over the pixels.

    On dask, one task per chunk counts the DNs and the bright pixels together.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with ``hh``, ``hv`` (DNs) and ``mask``.
    threshold_db : float, default -8.0
        HH gamma-nought (dB) above which a pixel counts as bright.
    classes : sequence of str, default ("land", "water")
        Mask classes counted.

    Returns
    -------
    tuple of xarray.DataArray
        The DN counts (band, time, dn) and the bright area (km² per time step), equal to the bit to
        what each function gives alone.
    """
    histograms, area = _counts_and_area(ds, threshold_db, classes, True, "histograms_and_built_up_area")
    assert histograms is not None
    return histograms, area


def _log_ratio_block(dn_before, mask_before, dn_after, mask_after, *, at, keep, before, after) -> np.ndarray:
    """dB after minus dB before for one (y, x) block, from the (time, y, x) blocks that hold the
    two steps at positions ``at``; one compiled pass, the only array allocated is the result."""
    i, j = at
    return difference_of_lookups(dn_after[j], mask_after[j], dn_before[i], mask_before[i], keep, after, before)


def _block_of(chunks: tuple[int, ...], position: int) -> tuple[int, int]:
    """(the block along an axis chunked ``chunks`` that holds ``position``, the position in it)."""
    starts = np.cumsum((0, *chunks))
    block = int(np.searchsorted(starts, position, side="right")) - 1
    return block, position - int(starts[block])


def log_ratio(ds: xr.Dataset, before, after, band: str = "hh", classes=("land",)) -> xr.DataArray:
    """The log-ratio of ``band`` between two time steps: a raw product, not a map of change.

    Per pixel it holds speckle (for two independent 4-look intensities an unchanged pixel's
    log-ratio has a standard deviation of about 3.3 dB, so about a third of unchanged pixels pass
    ±3 dB), any difference between the two sensors and seasons, and the change itself. Filter or
    aggregate it before any threshold (:func:`detect_change` does). Lazy on dask: one compiled
    pass per chunk, as soon as both steps are read.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with ``band`` (DNs) and ``mask``.
    before, after : int, str or datetime64
        The two time steps: years (2007) or dates ("2007-06-27").
    band : {"hh", "hv"}, default "hh"
        The band compared.
    classes : sequence of str, default ("land",)
        Mask classes kept at both steps (over water both values sit near the noise floor).

    Returns
    -------
    xarray.DataArray
        10·log10(γ⁰ after / γ⁰ before) in dB (float32); NaN where either step is masked.
    """
    require_bands(ds, [band, "mask"], "log_ratio")
    require_dtype(ds[band], "uint16", "log_ratio takes the DNs as loaded.")
    require_dtype(ds["mask"], "uint8", "Load the mask band without resampling other than nearest.")
    first, last = time_steps(ds, [before])[0], time_steps(ds, [after])[0]
    constants = calibration_constants(ds)
    values, mask = ds[band], ds["mask"]
    y, x = [d for d in values.dims if d != "time"]
    values, mask = values.transpose("time", y, x), mask.transpose("time", y, x)
    options = {
        "keep": class_table(class_values(tuple(classes))),
        "before": dn_table(constants[first], "db"),
        "after": dn_table(constants[last], "db"),
    }
    ratio_data: dsa.Array | np.ndarray
    if dask.is_dask_collection(values.data) or dask.is_dask_collection(mask.data):
        # Each task takes the two years' blocks straight from the load (no slicing task between),
        # so the scheduler runs it as soon as both are read, not after every other ready task.
        data = dsa.asarray(values.data)
        masks = dsa.asarray(mask.data).rechunk(data.chunks)
        (block_before, i), (block_after, j) = _block_of(data.chunks[0], first), _block_of(data.chunks[0], last)
        task = partial(_log_ratio_block, at=(i, j), **options)
        key = f"log-ratio-{tokenize(data.name, masks.name, first, last, options)}"
        graph: dict = {
            (key, iy, ix): (
                task,
                *((array.name, block, iy, ix) for block in (block_before, block_after) for array in (data, masks)),
            )
            for iy, ix in np.ndindex(*data.numblocks[1:])
        }
        layer = HighLevelGraph.from_collections(key, graph, dependencies=[data, masks])
        ratio_data = dsa.Array(layer, key, chunks=data.chunks[1:], dtype=np.float32)
    else:
        data, masks = np.asarray(values.data), np.asarray(mask.data)
        ratio_data = _log_ratio_block(data, masks, data, masks, at=(first, last), **options)
    coords = {name: c for name, c in values.coords.items() if set(c.dims) <= {y, x}}
    attrs = {
        "units": "dB",
        "long_name": f"log-ratio of {band.upper()} gamma-nought, {after} over {before}",
        "note": "raw per-pixel ratio: speckle, sensor and season differences included; not a change map",
    }
    return xr.DataArray(ratio_data, dims=(y, x), coords=coords, attrs=attrs, name=f"{band}_log_ratio_db")
