"""The year forest was lost, and regrown, per pixel over every mosaic: one lazy pass over the years.

Each mosaic's forest classes (:func:`forest_cover`'s, or from one band a faster pass in the
filter's loop) update a small per-pixel state in order of the years, so memory does not grow
with the number of years.
"""

from __future__ import annotations

import inspect
from functools import partial

import dask.array as dsa
import numpy as np
import xarray as xr
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from sar_helpers.checks import mosaic_years, require_bands, require_not_empty
from sar_helpers.products import MASK_CLASSES, VALID_CLASSES

from .calibration import calibration_constants, dn_table
from .forest import forest_cover, power_and_looks, power_of
from .kernels import class_table, compiled
from .masking import class_values
from .speckle import check_filter_input, overlapped
from .windows import NO_DATA, NON_FOREST, WATER, forest_codes

#: The per-pixel state year_of_loss carries from mosaic to mosaic (uint16 each).
LAST_FOREST, LAST_DATE, PENDING, LOSS, REGROWTH = range(5)
UNSEEN = 2  # LAST_FOREST before any observation


@compiled
def _observe(state, classes, dates, year):  # pragma: no cover - compiled
    """Each pixel's state (5 x rows x columns) after one mosaic, updated in place: a loss (forest to
    non-forest) is pending until the next observation agrees; once lost, a return to forest is
    pending the same way. Fields are written only when they change (most pixels keep their class)."""
    for i in range(classes.shape[0]):
        for j in range(classes.shape[1]):
            c, date = classes[i, j], dates[i, j]
            if c == 0 or date == state[LAST_DATE, i, j]:
                continue  # masked, or the previous acquisition again
            forest = c == 1 or c == 2
            was_forest = state[LAST_FOREST, i, j] == 1
            state[LAST_DATE, i, j] = date
            if state[LAST_FOREST, i, j] != forest:
                state[LAST_FOREST, i, j] = forest
            pending, loss = state[PENDING, i, j], state[LOSS, i, j]
            if pending == 0 and (forest or not was_forest if loss == 0 else not forest or state[REGROWTH, i, j] != 0):
                continue  # no change starts: the common case, written nowhere
            regrowth = state[REGROWTH, i, j]
            if loss == 0:
                if pending:
                    if not forest:
                        loss = pending  # else one non-forest year between forest years: noise
                    pending = 0
                elif was_forest and not forest:
                    pending = year
            elif regrowth == 0:
                if pending:
                    if forest:
                        regrowth = pending
                    pending = 0
                elif forest:
                    pending = year
            state[PENDING, i, j], state[LOSS, i, j], state[REGROWTH, i, j] = pending, loss, regrowth


def _new_state(classes: np.ndarray) -> np.ndarray:
    """The state before any mosaic, for the pixels of one chunk of ``classes``."""
    state = np.zeros((5, *classes.shape[-2:]), dtype=np.uint16)
    state[LAST_FOREST] = UNSEEN
    return state


def _step(state: np.ndarray, classes: np.ndarray, dates: np.ndarray, *, year: int) -> np.ndarray:
    """``state`` after one mosaic, updated in place: each state array is made by :func:`_new_state`
    for one chain of steps and read by the next step only, so no other task sees it change, and the
    years of a chunk share one array (a fresh one per year costs more in page faults than the fold)."""
    _observe(state, classes.reshape(classes.shape[-2:]), dates.reshape(dates.shape[-2:]), year)
    return state


def _first_step(classes: np.ndarray, dates: np.ndarray, *, year: int) -> np.ndarray:
    return _step(_new_state(classes), classes, dates, year=year)


def _folded(steps: list[tuple[dsa.Array, dsa.Array, int]]) -> dsa.Array:
    """The state after the last of ``steps`` ((classes, dates, year) of each mosaic, in order), per
    chunk, from a chain of tasks, one a mosaic: each runs once its mosaic's classes are made and
    frees them, beside the next mosaics' reads. (Steps made by ``map_blocks`` are fused by Dask
    into one task that waits for every mosaic: all the years' classes and dates held at once, and
    the whole fold left for the end, on one thread.)"""
    name = "year-of-loss-fold-" + tokenize(*[(c.name, d.name, year) for c, d, year in steps])
    classes = steps[0][0]
    graph: dict = {}
    for iy, ix in np.ndindex(*classes.numblocks):
        state = None
        for n, (c, d, year) in enumerate(steps):
            here = (c.name, iy, ix), (d.name, iy, ix)
            key = (name, n, iy, ix) if n < len(steps) - 1 else (name + "-last", 0, iy, ix)
            graph[key] = (
                (partial(_first_step, year=year), *here) if state is None else (partial(_step, year=year), state, *here)
            )
            state = key
    arrays: list = [a for c, d, _ in steps for a in (c, d)]
    layers = HighLevelGraph.from_collections(name + "-last", graph, dependencies=arrays)
    return dsa.Array(layers, name + "-last", chunks=((5,), *classes.chunks), dtype=np.uint16)


def _finish(state: np.ndarray) -> np.ndarray:
    """(loss, regrowth): a change pending at the last observation cannot be confirmed: reported as it is."""
    pending = state[PENDING]
    loss = np.where(state[LOSS] == 0, pending, state[LOSS])
    regrowth = np.where((state[LOSS] > 0) & (state[REGROWTH] == 0), pending, state[REGROWTH])
    return np.stack([loss, regrowth])


def _mask_codes() -> np.ndarray:
    """The forest code of each mask DN before the backscatter is read: land non-forest, water, else no data."""
    codes = np.full(256, NO_DATA, np.uint8)
    codes[MASK_CLASSES["land"]], codes[MASK_CLASSES["water"]] = NON_FOREST, WATER
    return codes


def _codes_block(
    dn: np.ndarray, mask: np.ndarray, *, constants, padded: bool, block_info=None, **options
) -> np.ndarray:
    """Forest codes of each image of a (time, y, x) block of DNs and its mask, from each image's power
    (land and water, as :func:`forest_cover` filters it) looked up a row at a time inside the
    window's pass: no power image is made. ``constants``: the calibration constant of every time
    step of the load (``block_info`` places the block)."""
    first = block_info[0]["array-location"][0][0] if block_info else 0
    codes, keep = _mask_codes(), class_table(class_values(VALID_CLASSES))
    return np.stack(
        [
            forest_codes(
                image,
                image_mask,
                codes,
                keep=keep,
                table=dn_table(constants[first + k], "power"),
                padded=padded,
                **options,
            )
            for k, (image, image_mask) in enumerate(zip(dn, mask))
        ]
    )


def _one_band_codes(ds: xr.Dataset, **cover_options):
    """Forest codes (time, y, x; forest 1, non-forest 3, water 4, no data 0) as :func:`forest_cover`
    gives them from one band with ``cover_options`` (its parameters), without writing the filtered
    image: only pixels whose window mean and own value lie on either side of the threshold are
    filtered. And the looks used."""
    bound = inspect.signature(forest_cover).bind(ds, **cover_options)
    bound.apply_defaults()
    options = bound.arguments
    size, looks = options["size"], options["looks"]
    band, threshold_db = ("hv", options["hv_forest_db"]) if "hv" in ds.data_vars else ("hh", options["hh_forest_db"])
    power, looks = power_and_looks(ds.isel(time=[0]), band, size, looks)  # the looks, from the first mosaic
    check_filter_input(power, size, "enhanced", looks)
    options = {
        "size": size,
        "looks": looks,
        "threshold": power_of(threshold_db),
        "constants": calibration_constants(ds[band]),
    }
    y, x = [d for d in ds[band].dims if d != "time"][-2:]
    values, mask = ds[band].transpose("time", y, x).data, ds["mask"].transpose("time", y, x).data
    if not isinstance(values, dsa.Array):
        return _codes_block(np.asarray(values), np.asarray(mask), padded=False, **options), looks
    mask = dsa.asarray(mask).rechunk(values.chunks)
    if all(len(c) == 1 for c in values.chunks[-2:]):
        return dsa.map_blocks(_codes_block, values, mask, padded=False, dtype=np.uint8, **options), looks
    (values, chunks), (mask, _) = overlapped(values, size // 2), overlapped(mask, size // 2)
    return dsa.map_blocks(_codes_block, values, mask, padded=True, chunks=chunks, dtype=np.uint8, **options), looks


def year_of_loss(ds: xr.Dataset, classes: xr.DataArray | None = None, **cover_options) -> xr.Dataset:
    """Per pixel, the first mosaic year in which forest turned to non-forest and stayed so, and regrowth.

    Loss is confirmed by the next observation (one non-forest year between forest years is noise,
    not loss; a change at the last mosaic cannot be confirmed and is reported as it is); regrowth is
    the first later year the pixel was forest again, confirmed the same way, reported, not hidden. A
    mosaic whose pixel repeats the previous observation's acquisition (the same ``date``) is
    skipped. The mosaics are taken in order, each updating a small per-pixel state (one array per
    chunk for all the years), so memory does not grow with the number of years. Without
    ``classes``, a load of one backscatter band (hv, or hh for JERS-1) takes a faster pass with the
    same years bit for bit: only pixels whose window mean and own value lie on either side of the
    forest threshold are filtered, and no filtered image is written.

    Parameters
    ----------
    ds : xarray.Dataset
        A load of two mosaics or more with ``date`` (and, without ``classes``, what
        :func:`forest_cover` needs).
    classes : xarray.DataArray, optional
        :func:`forest_cover`'s classes of ``ds``; made from ``ds`` when not given.
    **cover_options
        :func:`forest_cover`'s parameters, when ``classes`` is not given.

    Returns
    -------
    xarray.Dataset
        ``year_of_loss`` and ``year_of_regrowth`` (years; 0: none). Lazy if the load is.

    Raises
    ------
    ValueError
        One mosaic only, a load without ``date``, or (on an eager load) an area with no forest in any
        mosaic; on a lazy one, look at :func:`forest_area` first (the check would cost a second pass).
    """
    require_bands(ds, ["date"], "year_of_loss")
    years = mosaic_years(ds)
    if len(years) < 2:
        raise ValueError("year_of_loss needs at least two mosaics: load more years.")
    y, x = [d for d in ds["date"].dims if d != "time"][-2:]
    if classes is not None:
        codes = classes.transpose("time", y, x).data
    elif len({"hh", "hv"} & set(ds.data_vars)) == 1:  # one band to filter: the fused pass
        require_not_empty(ds)
        require_bands(ds, ["hv" if "hv" in ds.data_vars else "hh", "mask"], "year_of_loss")
        codes, _ = _one_band_codes(ds, **cover_options)
    else:
        codes = forest_cover(ds, **cover_options).transpose("time", y, x).data
    lazy = isinstance(codes, dsa.Array)
    if not lazy and not np.isin(codes, [1, 2]).any():
        raise ValueError("No pixel of the area is forest in any mosaic, so no forest can have been lost here.")
    dates = ds["date"].transpose("time", y, x)
    order = np.argsort(dates.time.values)
    if lazy:
        days = dsa.asarray(dates.data).rechunk(codes.chunks)
        steps = [(codes[t], days[t], int(years[t])) for t in order]
        result = dsa.map_blocks(_finish, _folded(steps), dtype=np.uint16)
    else:
        codes, days = np.asarray(codes), np.asarray(dates.data)
        state = _new_state(codes[0])
        for t in order:
            state = _step(state, codes[t], days[t], year=int(years[t]))
        result = _finish(state)
    coords = {name: c for name, c in dates.coords.items() if "time" not in c.dims}
    out = xr.Dataset(
        {name: ((y, x), result[k]) for k, name in enumerate(("year_of_loss", "year_of_regrowth"))}, coords=coords
    )
    for name in out.data_vars:
        out[name].attrs = {"units": "year", "note": "0: none"}
    return out
