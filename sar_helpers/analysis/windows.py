"""Running window sums over an image, compiled with numba: the Lee filters and forest codes.

One pass per image: each column's count, sum and sum of squares (float64) of the window's rows
slide down the image a row at a time, and a running sum along each row gives every window's
three sums; the image's edges are mirrored without a padded copy. Forest codes decide each pixel
from its window mean where they can and filter only the rest, so the two agree bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from .kernels import compiled


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
def _add_row(row, count, total, squares):  # pragma: no cover - compiled
    """Add one row's finite values to its columns' running sums (all four of one length)."""
    for j in range(row.shape[0]):
        x = float(row[j])
        finite = np.isfinite(x)
        x = x if finite else 0.0
        count[j] += 1.0 * finite
        total[j] += x
        squares[j] += x * x


@compiled
def _slide_rows(leaving, entering, count, total, squares):  # pragma: no cover - compiled
    """Take one row's finite values away from the running sums, then add another's: per column the
    operations of a subtraction and an addition in turn (bit for bit), in one pass that vectorizes."""
    for j in range(leaving.shape[0]):
        x, y = float(leaving[j]), float(entering[j])
        x_finite, y_finite = np.isfinite(x), np.isfinite(y)
        x, y = (x if x_finite else 0.0), (y if y_finite else 0.0)
        count[j] = count[j] + -1.0 * x_finite + 1.0 * y_finite
        total[j] = total[j] + -1.0 * x + y
        squares[j] = squares[j] + -1.0 * x * x + y * y


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
def _row(step, row, entering, values, dn, mask, keep, table, ring):  # pragma: no cover - compiled
    """The image's ``row``, the window's ``step``-th: a row of ``values``, or, with a ``ring`` of
    more than one row, the row of ``dn`` looked up in ``table`` (DN 0 where ``keep[mask]`` is 0),
    written into the ring's slot for ``step`` when ``entering`` and read from it afterwards."""
    if ring.shape[0] == 1:
        return values[row]
    slot = ring[step % ring.shape[0]]
    if entering:
        for j in range(slot.shape[0]):
            slot[j] = table[dn[row, j] * keep[mask[row, j]]]
    return slot


@compiled
def _window_pass(
    values, out, size, padded, mode, noise, cu, cmax, enhanced, in_db, mask, codes, threshold, dn, keep, table, ring
):  # pragma: no cover
    """One pass of running window sums over ``values`` into ``out`` (``mode`` FILTERED or
    FOREST_CODES, the latter reading each pixel's class from ``codes[mask]``): ``padded``,
    ``values`` carries ``size // 2`` extra pixels on every side; otherwise the two have one shape
    and the image's edges are mirrored here. With a ``ring`` of ``size + 1`` rows, the image is
    ``dn`` looked up in ``table`` a row at a time as the window reaches it (see :func:`_row`)."""
    half = size // 2
    pad = half if padded else 0
    rows, columns = out.shape
    offset = 0 if padded else half
    count = np.zeros(columns + 2 * half)
    total = np.zeros(columns + 2 * half)
    squares = np.zeros(columns + 2 * half)
    source_rows = mask.shape[0] if ring.shape[0] > 1 else values.shape[0]
    inner = slice(offset, offset + columns + 2 * pad)  # the sums of the columns the image holds
    held = count[inner], total[inner], squares[inner]
    image = (values, dn, mask, keep, table, ring)
    for p in range(size):  # the first window's rows
        _add_row(_row(p, p if padded else _mirror(p - half, source_rows), True, *image), *held)
    for i in range(rows):
        if i > 0:  # the window moves down a row
            leaving, entering = i - 1, i + size - 1
            if not padded:
                leaving, entering = _mirror(leaving - half, source_rows), _mirror(entering - half, source_rows)
            _slide_rows(_row(i - 1, leaving, False, *image), _row(i + size - 1, entering, True, *image), *held)
        if not padded:
            for sums in (count, total, squares):
                _mirror_columns(sums, half, columns)
        # Rows as views from their first column used, so every index below is a loop's own j (numba
        # checks an index that could be negative, such as j + pad, on every access: 10 % of the pass)
        centre, centre_mask = _row(i + half, i + pad, False, *image)[pad:], mask[i + pad, pad:]
        count_in, total_in, squares_in = count[size - 1 :], total[size - 1 :], squares[size - 1 :]
        n = 0.0
        s = 0.0
        s2 = 0.0
        for j in range(size - 1):
            n += count[j]
            s += total[j]
            s2 += squares[j]
        leaving_n = leaving_s = leaving_s2 = 0.0
        for j in range(columns):
            n += count_in[j] - leaving_n  # one addition per sum on the loop's chain
            s += total_in[j] - leaving_s
            s2 += squares_in[j] - leaving_s2
            v = centre[j]
            if mode == FOREST_CODES:
                out[i, j] = _forest_code(v, n, s, s2, codes[centre_mask[j]], cu, cmax, threshold)
            elif np.isfinite(v):
                out[i, j] = _filtered_value(v, n, s, s2, noise, cu, cmax, enhanced, in_db)
            else:
                out[i, j] = np.nan
            leaving_n, leaving_s, leaving_s2 = count[j], total[j], squares[j]


def _coefficients(looks: float | None) -> tuple[float, float]:
    """The enhanced Lee filter's Cu = √(1/N) and Cmax = √(1 + 2/N) for N looks."""
    return (math.sqrt(1.0 / looks), math.sqrt(1.0 + 2.0 / looks)) if looks is not None else (0.0, 0.0)


def _output(values: np.ndarray, size: int, padded: bool, dtype) -> np.ndarray:
    margin = 2 * (size // 2) if padded else 0
    return np.empty((values.shape[0] - margin, values.shape[1] - margin), dtype=dtype)


#: What a filter's pass gets for the arguments it does not read: the mask and codes; the DNs, keep and table.
_NO_CODES = np.zeros((1, 1), np.uint8), np.zeros(1, np.uint8)
_NO_DN = np.zeros((1, 1), np.uint16), np.zeros(1, np.uint8), np.zeros(1, np.float32)


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
    no_ring = np.zeros((1, 1), image.dtype)  # the rows are the image's own (C-contiguous, as the ring: one array type)
    options = (float(noise), cu, cmax, looks is not None, in_db, *_NO_CODES, 0.0, *_NO_DN, no_ring)
    _window_pass(image, out, size, padded, FILTERED, *options)
    return out


def forest_codes(
    dn: np.ndarray,
    mask: np.ndarray,
    codes: np.ndarray,
    *,
    keep: np.ndarray,
    table: np.ndarray,
    size: int,
    looks: float,
    threshold: float,
    padded: bool,
) -> np.ndarray:
    """uint8 forest codes of one 2-D image of uint16 DNs and its uint8 mask: ``codes[mask]``
    (:data:`NO_DATA`, :data:`NON_FOREST` for land, :data:`WATER`), with :data:`FOREST` where the
    enhanced Lee filter (``looks``) of a land pixel's linear power, as float32, is at least
    ``threshold``. The power is ``table[dn]`` where ``keep[mask]`` (``lookup_kept``'s), looked up a
    row at a time as the window reaches it (no power image is written): the codes are what
    thresholding :func:`speckle_filter` of that power gives, without filtering the pixels the window
    mean already decides. ``padded`` as there, for both images."""
    dn, mask = np.ascontiguousarray(dn), np.ascontiguousarray(mask)
    if dn.dtype != np.uint16 or mask.shape != dn.shape or mask.dtype != np.uint8:
        raise ValueError(
            f"forest_codes takes uint16 DNs and a uint8 mask of one shape; got {dn.dtype} {dn.shape}, {mask.dtype} {mask.shape}."
        )
    if codes.shape != (256,) or codes.dtype != np.uint8 or keep.shape != (256,) or table.shape != (2**16,):
        raise ValueError("forest_codes takes 256 uint8 codes, a 256-entry keep table and a 65,536-entry DN table.")
    out = _output(dn, size, padded, np.uint8)
    cu, cmax = _coefficients(looks)
    table = np.ascontiguousarray(table, dtype=np.float32)
    ring = np.empty((size + 1, dn.shape[1]), np.float32)
    options = (0.0, cu, cmax, True, False, mask, codes, float(np.float32(threshold)), dn, keep, table, ring)
    _window_pass(np.zeros((1, 1), np.float32), out, size, padded, FOREST_CODES, *options)
    return out
