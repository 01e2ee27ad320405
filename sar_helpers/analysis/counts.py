"""Exact histograms of uint16 DNs: one count per possible value, per band and time step.

Backscatter and date DNs are uint16, so 65,536 counts describe a band completely:
medians and means come from them exactly. On dask every chunk counts all its bands
in one task (one compiled pass over them all, :mod:`sar_helpers.analysis.kernels`) and dask sums
the chunks' counts, in memory that does not grow with the area.
"""

from __future__ import annotations

from collections.abc import Sequence

import dask
import dask.array as dsa
import numpy as np
import xarray as xr

from sar_helpers.checks import require_dtype, require_not_empty

from .kernels import class_table, count_values
from .masking import class_values

BINS = 2**16


def _block_counts(*blocks: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Counts of one (time, y, x) block of each band: shape (time, 1, 1, band, BINS).

    With ``keep`` (a :func:`~sar_helpers.analysis.kernels.class_table`), the first block is
    the mask and only its pixels of those classes are counted.
    """
    bands = blocks if keep is None else blocks[1:]
    out = np.empty((bands[0].shape[0], 1, 1, len(bands), BINS), dtype=np.int64)
    for step in range(out.shape[0]):
        mask = None if keep is None else blocks[0][step]
        out[step, 0, 0] = count_values([values[step] for values in bands], mask, keep)
    return out


def value_counts(
    bands: xr.DataArray | Sequence[xr.DataArray], mask: xr.DataArray | None = None, classes: Sequence[str] | None = None
) -> xr.DataArray:
    """How many pixels of each band and time step hold each DN: int64 (band, time, dn).

    Pixels whose ``mask`` class is not in ``classes`` count as DN 0 (no data). Lazy
    when the bands are (one task per chunk for all bands); ``.compute()`` or
    ``client.persist`` it.
    """
    bands = [bands] if isinstance(bands, xr.DataArray) else list(bands)
    for band in bands:
        require_not_empty(band)
        require_dtype(band, "uint16")
    if (mask is None) != (classes is None):
        raise ValueError("value_counts needs both mask and classes to leave pixels out, or neither.")
    dims = bands[0].dims
    if any(b.dims != dims for b in bands) or (mask is not None and mask.dims != dims):
        raise ValueError(f"The bands and mask must share their dimensions; got {[b.dims for b in bands]}.")
    if mask is not None:
        require_dtype(mask, "uint8", "Load the mask band without resampling other than nearest.")
    arrays = [b if "time" in dims else b.expand_dims("time") for b in ([mask] if mask is not None else []) + bands]
    data = [a.transpose("time", ...).data for a in arrays]
    keep = None if classes is None else class_table(class_values(tuple(classes)))
    if any(dask.is_dask_collection(d) for d in data):
        first = dsa.asarray(data[-1])
        data = [dsa.asarray(d).rechunk(first.chunks) for d in data]
        chunks = (first.chunks[0], (1,) * len(first.chunks[1]), (1,) * len(first.chunks[2]), (len(bands),), (BINS,))
        per_chunk = dsa.map_blocks(_block_counts, *data, keep=keep, new_axis=[3, 4], chunks=chunks, dtype=np.int64)
        counts = per_chunk.sum(axis=(1, 2))
    else:
        counts = _block_counts(*(np.asarray(d) for d in data), keep=keep)[:, 0, 0]
    coords: dict[str, object] = {"band": [str(b.name) for b in bands]}
    if "time" in arrays[-1].coords:
        coords["time"] = arrays[-1]["time"].values
    return xr.DataArray(counts.transpose(1, 0, 2), dims=("band", "time", "dn"), coords=coords, name="counts")


def median_of_counts(counts: np.ndarray) -> float:
    """Exact median of the values ``counts`` describes, leaving out value 0 (no data)."""
    cumulative = np.cumsum(counts[1:])
    n = cumulative[-1]
    lower = np.searchsorted(cumulative, (n - 1) // 2 + 1) + 1
    upper = np.searchsorted(cumulative, n // 2 + 1) + 1
    return (lower + upper) / 2
