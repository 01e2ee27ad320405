"""Exact histograms of uint16 DNs: one count per possible value, per time step.

Backscatter and date DNs are uint16, so 65,536 counts describe a band completely:
medians and means come from them exactly, and on dask each chunk makes its own
histogram and dask sums them, in memory that does not grow with the area.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .checks import require_dtype, require_not_empty

BINS = 2**16


def _block_counts(values: np.ndarray, invalid: np.ndarray | None = None) -> np.ndarray:
    """Counts of each value per time step of one (time, y, x) block: shape (time, 1, 1, BINS)."""
    out = np.empty((values.shape[0], 1, 1, BINS), dtype=np.int64)
    for step in range(values.shape[0]):
        v = values[step] if invalid is None else np.where(invalid[step], 0, values[step])
        out[step, 0, 0] = np.bincount(v.ravel(), minlength=BINS)
    return out


def value_counts(da: xr.DataArray, invalid: xr.DataArray | None = None, compute: bool = True):
    """How many pixels of each time step hold each DN (invalid pixels count as DN 0).

    Returns an int64 array (time, 65536); on dask it is made in one pass, chunk by
    chunk, and left lazy with ``compute=False`` (to persist it and watch its progress).
    """
    require_not_empty(da)
    require_dtype(da, "uint16")
    if "time" not in da.dims:
        da = da.expand_dims("time")
        invalid = None if invalid is None else invalid.expand_dims("time")
    data = da.transpose("time", ...).data
    bad = None if invalid is None else invalid.transpose("time", ...).data
    if not hasattr(data, "dask"):
        return _block_counts(np.asarray(data), None if bad is None else np.asarray(bad))[:, 0, 0]
    import dask.array as dsa

    args = [data] if bad is None else [data, dsa.asarray(bad).rechunk(data.chunks)]
    chunks = (data.chunks[0], (1,) * len(data.chunks[1]), (1,) * len(data.chunks[2]), (BINS,))
    counts = dsa.map_blocks(_block_counts, *args, new_axis=3, chunks=chunks, dtype=np.int64).sum(axis=(1, 2))
    return counts.compute() if compute else counts


def median_of_counts(counts: np.ndarray) -> float:
    """Exact median of the values ``counts`` describes, leaving out value 0 (no data)."""
    cumulative = np.cumsum(counts[1:])
    n = cumulative[-1]
    lower = np.searchsorted(cumulative, (n - 1) // 2 + 1) + 1
    upper = np.searchsorted(cumulative, n // 2 + 1) + 1
    return (lower + upper) / 2
