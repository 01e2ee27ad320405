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
def _filtered_value(x, n, s, s2, noise, cu, cmax, enhanced, in_db):  # pragma: no cover - compiled
    """One pixel ``x`` filtered from its window's count, sum and sum of squares."""
    mean = s / n
    variance = max(s2 / n - mean * mean, 0.0)
    if enhanced:  # the coefficient of variation ci = sqrt(variance) / mean, compared squared first
        if mean <= 0 or variance <= cu * cu * mean * mean:
            weight = 0.0
        elif variance >= cmax * cmax * mean * mean:
            weight = 1.0
        else:
            ci = math.sqrt(variance) / mean
            weight = 1.0 - math.exp(-(ci - cu) / (cmax - ci))
    else:
        weight = variance / (variance + noise) if variance + noise > 0 else 0.0
    result = mean + weight * (x - mean)
    return 10.0 * math.log10(result) if enhanced and in_db else result


@compiled
def _add_row(values, row, offset, sign, count, total, squares):  # pragma: no cover - compiled
    """Add (``sign`` 1) or take away (-1) one row's finite values to its columns' running sums,
    column ``j`` of ``values`` at ``offset + j`` of the sums."""
    for j in range(values.shape[1]):
        v = values[row, j]
        finite = np.isfinite(v)
        x = float(v) if finite else 0.0
        count[offset + j] += sign * finite
        total[offset + j] += sign * x
        squares[offset + j] += sign * x * x


@compiled
def _mirror(k, n):  # pragma: no cover - compiled
    """Index ``k`` of a line of ``n`` values reflected at its ends as numpy's "symmetric" pad does."""
    while k < 0 or k >= n:
        k = -k - 1 if k < 0 else 2 * n - k - 1
    return k


@compiled
def _mirror_columns(sums, half, columns):  # pragma: no cover - compiled
    """Fill the ``half`` columns beyond each end of the running sums from the ``columns`` between."""
    for k in range(half):
        sums[half - 1 - k] = sums[half + _mirror(k, columns)]
        sums[half + columns + k] = sums[half + _mirror(columns + k, columns)]


#: What a window pass writes: the filtered value, or forest codes (:func:`forest_codes`).
FILTERED, FOREST_CODES = 0, 1
#: Forest codes: JAXA's classes as year_of_loss reads them (dense and non-dense forest both 1).
NO_DATA, FOREST, NON_FOREST, WATER = 0, 1, 3, 4
#: Relative rounding bound of a window's float64 mean and of a blend of two values: far below
#: float32's 6e-8, so a pixel decided from the mean and itself decides as the filtered float32 would.
_ROUNDING = 1e-12


@compiled
def _forest_code(x, n, s, s2, code, cu, cmax, threshold):  # pragma: no cover - compiled
    """FOREST where a land pixel's enhanced-Lee-filtered power (as float32) is at least
    ``threshold`` (a float32 value), else its mask's ``code``. The filtered value lies between the
    window mean and the pixel, so only pixels with the threshold between the two need the filter."""
    if code != NON_FOREST or not np.isfinite(x):
        return code
    mean = s / n
    low, high = min(mean, x), max(mean, x)
    if low * (1.0 - _ROUNDING) >= threshold:
        return FOREST
    if np.float32(high * (1.0 + _ROUNDING)) < threshold:
        return code
    filtered = np.float32(_filtered_value(x, n, s, s2, 0.0, cu, cmax, True, False))
    return FOREST if filtered >= threshold else code


@compiled
def _window_pass(
    values, out, size, padded, mode, noise, cu, cmax, enhanced, in_db, mask, codes, threshold
):  # pragma: no cover
    """One pass of running window sums over ``values`` into ``out`` (``mode`` FILTERED or
    FOREST_CODES, the latter reading each pixel's class from ``codes[mask]``): ``padded``,
    ``values`` carries ``size // 2`` extra pixels on every side; otherwise the two have one shape
    and the image's edges are mirrored here."""
    half = size // 2
    pad = half if padded else 0
    rows, columns = out.shape
    offset = 0 if padded else half
    count = np.zeros(columns + 2 * half)
    total = np.zeros(columns + 2 * half)
    squares = np.zeros(columns + 2 * half)
    source_rows = values.shape[0]
    for p in range(size - 1):  # the first window's rows but its last
        _add_row(values, p if padded else _mirror(p - half, source_rows), offset, 1.0, count, total, squares)
    for i in range(rows):
        last_row = i + size - 1
        _add_row(
            values, last_row if padded else _mirror(last_row - half, source_rows), offset, 1.0, count, total, squares
        )
        if not padded:
            for sums in (count, total, squares):
                _mirror_columns(sums, half, columns)
        n = 0.0
        s = 0.0
        s2 = 0.0
        for j in range(size - 1):
            n += count[j]
            s += total[j]
            s2 += squares[j]
        leaving_n = leaving_s = leaving_s2 = 0.0
        for j in range(columns):
            last = j + size - 1
            n += count[last] - leaving_n  # one addition per sum on the loop's chain
            s += total[last] - leaving_s
            s2 += squares[last] - leaving_s2
            v = values[i + pad, j + pad]
            if mode == FOREST_CODES:
                out[i, j] = _forest_code(v, n, s, s2, codes[mask[i + pad, j + pad]], cu, cmax, threshold)
            elif np.isfinite(v):
                out[i, j] = _filtered_value(v, n, s, s2, noise, cu, cmax, enhanced, in_db)
            else:
                out[i, j] = np.nan
            leaving_n, leaving_s, leaving_s2 = count[j], total[j], squares[j]
        _add_row(values, i if padded else _mirror(i - half, source_rows), offset, -1.0, count, total, squares)


def _coefficients(looks: float | None) -> tuple[float, float]:
    """The enhanced Lee filter's Cu = √(1/N) and Cmax = √(1 + 2/N) for N looks."""
    return (math.sqrt(1.0 / looks), math.sqrt(1.0 + 2.0 / looks)) if looks is not None else (0.0, 0.0)


def _output(values: np.ndarray, size: int, padded: bool, dtype) -> np.ndarray:
    margin = 2 * (size // 2) if padded else 0
    return np.empty((values.shape[0] - margin, values.shape[1] - margin), dtype=dtype)


_NO_MASK = np.zeros((1, 1), np.uint8)


def speckle_filter(
    values: np.ndarray,
    size: int,
    noise: float = 0.0,
    looks: float | None = None,
    in_db: bool = False,
    padded: bool = True,
) -> np.ndarray:
    """The Lee filter (``looks`` None: noise term ``noise``) or the enhanced Lee filter (``looks``)
    of a 2-D image, as float32: ``padded``, the image carries ``size // 2`` pixels of its
    neighbours on every side (dropped from the result); otherwise its edges are mirrored (numpy's
    "symmetric") without a padded copy. Each window's mean and variance are of its finite values
    only; a NaN pixel stays NaN. One pass of running sums (float64) over the image; with ``in_db``
    the enhanced filter works on power."""
    image = np.ascontiguousarray(values)
    if looks is not None and in_db:
        image = 10.0 ** (image / np.float32(10))  # the enhanced filter works on power (returned in dB)
    out = _output(image, size, padded, np.float32)
    cu, cmax = _coefficients(looks)
    _window_pass(
        image, out, size, padded, FILTERED, float(noise), cu, cmax, looks is not None, in_db, _NO_MASK, _NO_MASK[0], 0.0
    )
    return out


def forest_codes(
    power: np.ndarray, mask: np.ndarray, codes: np.ndarray, *, size: int, looks: float, threshold: float, padded: bool
) -> np.ndarray:
    """uint8 forest codes of one 2-D image of linear power (NaN where masked) and its uint8 mask:
    ``codes[mask]`` (:data:`NO_DATA`, :data:`NON_FOREST` for land, :data:`WATER`), with
    :data:`FOREST` where the enhanced Lee filter (``looks``) of a land pixel, as float32, is at
    least ``threshold``: what thresholding :func:`speckle_filter`'s output gives, without
    filtering the pixels the window mean already decides. ``padded`` as there, for both images."""
    image, mask = np.ascontiguousarray(power), np.ascontiguousarray(mask)
    if mask.shape != image.shape or mask.dtype != np.uint8 or codes.shape != (256,) or codes.dtype != np.uint8:
        raise ValueError(f"forest_codes takes a uint8 mask of the image's shape {image.shape} and 256 uint8 codes.")
    out = _output(image, size, padded, np.uint8)
    cu, cmax = _coefficients(looks)
    _window_pass(
        image, out, size, padded, FOREST_CODES, 0.0, cu, cmax, True, False, mask, codes, float(np.float32(threshold))
    )
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
