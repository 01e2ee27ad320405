"""Per-pixel loops compiled with numba: the counting that numpy can only do in several passes.

Each loop makes one pass over a 2-D image and its mask, allocates nothing and
releases the GIL, so the threads of a Dask worker run them side by side. numba caches the
machine code where it can write (else each process compiles once): later sessions compile nothing.

Masked-out pixels count as DN 0 (no data), as everywhere in the package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numba
import numpy as np

#: Counts are spread over this many tables (by column), so that runs of one DN (no data,
#: masked areas) do not wait on the previous increment of the same counter; summed at the end.
LANES = 2


def compiled(function: Callable) -> Callable:
    """``function`` compiled without the GIL, cached where numba can write (else once per process)."""
    try:
        return numba.njit(nogil=True, cache=True)(function)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(function)


def class_table(values: tuple[int, ...]) -> np.ndarray:
    """A 256-entry table of the uint8 mask DNs: 1 at ``values``, 0 elsewhere."""
    table = np.zeros(256, dtype=np.uint8)
    table[list(values)] = 1
    return table


@compiled
def _count_into(bands, lanes):  # pragma: no cover - compiled
    rows, columns = bands[0].shape
    for i in range(rows):
        for j in range(columns):
            for b in range(len(bands)):
                lanes[b, j & (LANES - 1), bands[b][i, j]] += 1


@compiled
def _count_kept_into(bands, mask, keep, lanes):  # pragma: no cover - compiled
    rows, columns = mask.shape
    for i in range(rows):
        for j in range(columns):
            kept = keep[mask[i, j]]
            for b in range(len(bands)):
                lanes[b, j & (LANES - 1), bands[b][i, j] * kept] += 1


@compiled
def _count_kept_above_into(bands, mask, keep, limit, lanes, above):  # pragma: no cover - compiled
    rows, columns = mask.shape
    for i in range(rows):
        n = 0
        for j in range(columns):
            kept = keep[mask[i, j]]
            first = bands[0][i, j]
            n += (first > limit) & kept
            lanes[0, j & (LANES - 1), first * kept] += 1
            for b in range(1, len(bands)):
                lanes[b, j & (LANES - 1), bands[b][i, j] * kept] += 1
        above[i] = n


def _images(bands: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """The bands as C-contiguous 2-D uint16 images of one shape (one array type for the compiled loops)."""
    images = tuple(np.ascontiguousarray(b) for b in bands)
    if not images or any(b.dtype != np.uint16 or b.ndim != 2 or b.shape != images[0].shape for b in images):
        raise ValueError(
            f"The counted bands must be 2-D uint16 images of one shape; got {[(b.dtype.name, b.shape) for b in images]}."
        )
    return images


def _lanes(images: tuple[np.ndarray, ...]) -> np.ndarray:
    """Zeroed count tables: uint32 (half the cache of int64) unless an image has too many pixels for them."""
    dtype = np.uint32 if images[0].size < 2**32 else np.int64
    return np.zeros((len(images), LANES, 2**16), dtype=dtype)


def count_values(
    bands: Sequence[np.ndarray], mask: np.ndarray | None = None, keep: np.ndarray | None = None
) -> np.ndarray:
    """int64 counts (band, DN) of each DN of 2-D uint16 images of one shape, in one pass
    over them; with ``mask`` and ``keep`` (a :func:`class_table`), pixels whose mask DN
    is not kept count as 0."""
    images = _images(bands)
    lanes = _lanes(images)
    if mask is None or keep is None:
        _count_into(images, lanes)
    else:
        _require_mask(images[0], mask)
        _count_kept_into(images, mask, keep, lanes)
    return lanes.sum(axis=1, dtype=np.int64)


def count_values_and_above(
    bands: Sequence[np.ndarray], mask: np.ndarray, keep: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """``count_values(bands, mask, keep)`` and ``count_above(bands[0], threshold, mask, keep)``
    from one pass over the pixels."""
    images = _images(bands)
    _require_mask(images[0], mask)
    lanes = _lanes(images)
    above = np.empty(images[0].shape[0], dtype=np.int64)
    _count_kept_above_into(images, mask, keep, _limit(threshold), lanes, above)
    return lanes.sum(axis=1, dtype=np.int64), above


def _require_mask(values: np.ndarray, mask: np.ndarray) -> None:
    if mask.dtype != np.uint8 or mask.shape != values.shape:
        raise ValueError(f"The mask must be uint8 and {values.shape}; got {mask.dtype} {mask.shape}.")


def _limit(threshold: float) -> np.integer:
    """The integer a uint16 DN must exceed to be above ``threshold``: its integer part (no float
    per pixel); below 0 every DN is above, which needs a signed limit."""
    if math.isnan(threshold):
        raise ValueError("A DN threshold must be a number; got NaN.")
    return np.int64(-1) if threshold < 0 else np.uint16(math.floor(min(threshold, 65535.0)))


@compiled
def _count_above_into(values, limit, mask, keep, out):  # pragma: no cover - compiled
    rows, columns = values.shape
    for i in range(rows):
        n = 0
        for j in range(columns):
            n += (values[i, j] > limit) & keep[mask[i, j]]
        out[i] = n


def count_above(values: np.ndarray, threshold: float, mask: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per row of a 2-D uint16 image, how many kept pixels hold a DN above ``threshold`` (int64)."""
    _require_mask(values, mask)
    out = np.empty(values.shape[0], dtype=np.int64)
    _count_above_into(values, _limit(threshold), mask, keep, out)
    return out


@compiled
def _difference_into(after, mask_after, before, mask_before, keep, after_table, before_table, out):  # pragma: no cover
    rows, columns = after.shape
    for i in range(rows):
        for j in range(columns):
            out[i, j] = (
                after_table[after[i, j] * keep[mask_after[i, j]]] - before_table[before[i, j] * keep[mask_before[i, j]]]
            )


def difference_of_lookups(
    after: np.ndarray,
    mask_after: np.ndarray,
    before: np.ndarray,
    mask_before: np.ndarray,
    keep: np.ndarray,
    after_table: np.ndarray,
    before_table: np.ndarray,
) -> np.ndarray:
    """``after_table[after] - before_table[before]`` for two 2-D uint16 images, each pixel
    whose mask DN is not kept looked up as DN 0 (the tables' no-data answer)."""
    for values, mask in ((after, mask_after), (before, mask_before)):
        if values.dtype != np.uint16 or values.shape != after.shape:
            raise ValueError(
                f"difference_of_lookups takes uint16 images of one shape; got {values.dtype} {values.shape}."
            )
        _require_mask(values, mask)
    if after_table.shape != (2**16,) or before_table.shape != (2**16,) or after_table.dtype != before_table.dtype:
        raise ValueError("difference_of_lookups needs two 65,536-entry tables of one dtype.")
    out = np.empty(after.shape, dtype=after_table.dtype)
    _difference_into(after, mask_after, before, mask_before, keep, after_table, before_table, out)
    return out


@compiled
def _moments_into(values, out):  # pragma: no cover - compiled
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if np.isfinite(v):
                x = float(v)
                out[0] += 1.0
                out[1] += x
                out[2] += x * x


def moments(values: np.ndarray) -> np.ndarray:
    """float64 (count, sum, sum of squares) of the finite values of each 2-D image of ``values``
    (shape ``values.shape[:-2] + (3,)``): one pass, no temporaries."""
    images = values.reshape(-1, *values.shape[-2:])
    out = np.zeros((len(images), 3))
    for image, sums in zip(images, out):
        _moments_into(image, sums)
    return out.reshape(*values.shape[:-2], 3)


@compiled
def _lookup_kept_into(values, mask, keep, table, out):  # pragma: no cover - compiled
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            out[i, j] = table[values[i, j] * keep[mask[i, j]]]


def lookup_kept(values: np.ndarray, mask: np.ndarray, *, keep: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[values]`` where the mask DN is kept (``keep``, a :func:`class_table`), ``table[0]``
    (the no-data answer) elsewhere: one compiled pass over uint16 values and their uint8 mask."""
    images = values.reshape(-1, *values.shape[-2:])
    masks = np.broadcast_to(mask, values.shape).reshape(-1, *values.shape[-2:])
    out = np.empty(images.shape, dtype=table.dtype)
    for image, image_mask, image_out in zip(images, masks, out):
        _lookup_kept_into(image, image_mask, keep, table, image_out)
    return out.reshape(values.shape)
