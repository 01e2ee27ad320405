"""Forest from L-band mosaics: forest / non-forest / water per mosaic, the year forest was lost, and
agreement with a reference map.

Forest scatters the radar wave back in the cross polarisation (volume scattering), so filtered
HV gamma-nought separates it from cleared land; JAXA's own forest/non-forest maps threshold the
same mosaics' HV, region by region (Shimada et al. 2014). JERS-1 (1996) has HH only, which
separates forest from cleared land by 1 to 3 dB: its maps are weaker, and say so.
"""

from __future__ import annotations

import inspect

import dask.array as dsa
import numba
import numpy as np
import pandas as pd
import xarray as xr

from sar_helpers.checks import mosaic_years, require_bands, require_not_empty
from sar_helpers.products import FNF_CLASSES, MASK_CLASSES

from .calibration import to_power
from .kernels import NO_DATA, NON_FOREST, WATER, forest_codes
from .speckle import check_filter_input, estimated_looks, lee_filter, overlapped
from .statistics import pixel_area_km2

#: HV (dB) above which filtered ground is forest: biota's 10 tC/ha (751.667 · γ⁰ − 5.967 = 10 at
#: −16.73 dB; McNicol et al. 2018), which also falls between cleared land (−20 to −16 dB) and
#: degraded forest (−15 to −13 dB) in the literature's ranges (analysis.md).
HV_FOREST_DB = -16.7
#: HV (dB) above which forest is dense: between degraded (−15 to −13) and dense tropical forest (−12 to −11).
HV_DENSE_DB = -13.0
#: HH (dB) above which JERS-1 ground is forest: between cleared land (−12 to −8) and forest (−9 to −6),
#: whose ranges overlap: the HH rule is weaker.
HH_FOREST_DB = -8.5
#: HH (dB) below which ground is open water, besides what the mask calls water.
HH_WATER_DB = -20.0


def _power_and_looks(ds: xr.Dataset, band: str, size: int, looks: float | None) -> tuple[xr.DataArray, float]:
    """One band's power (NaN but land and water), and the looks: given, or measured on the first mosaic."""
    power = to_power(ds[band], mask=ds["mask"], classes=("land", "water"))
    assert isinstance(power, xr.DataArray)
    looks = estimated_looks(power.isel(time=0) if "time" in power.dims else power, size) if looks is None else looks
    return power, looks


def _filtered_power(ds: xr.Dataset, band: str, size: int, looks: float | None) -> tuple[xr.DataArray, float]:
    power, looks = _power_and_looks(ds, band, size, looks)
    return lee_filter(power, size=size, method="enhanced", looks=looks), looks


def _classify(values, water, valid, *, dense: float, forest: float | None) -> np.ndarray:
    """uint8 classes from filtered power (HV, or HH with ``dense`` as its forest threshold and no
    ``forest``), with no int64 temporaries."""
    out = np.full(values.shape, FNF_CLASSES["non_forest"], np.uint8)
    if forest is not None:
        out[values >= forest] = FNF_CLASSES["non_dense_forest"]
    out[values >= dense] = FNF_CLASSES["dense_forest"]
    out[water] = FNF_CLASSES["water"]
    out[~valid] = FNF_CLASSES["no_data"]
    return out


def _power(db: float) -> float:
    """A threshold in dB as linear power: comparing powers spares a logarithm per pixel."""
    return 10 ** (db / 10)


def forest_cover(
    ds: xr.Dataset,
    hv_forest_db: float = HV_FOREST_DB,
    hv_dense_db: float = HV_DENSE_DB,
    hh_forest_db: float = HH_FOREST_DB,
    hh_water_db: float = HH_WATER_DB,
    size: int = 7,
    looks: float | None = None,
) -> xr.DataArray:
    """Forest / non-forest / water per mosaic, in JAXA's classes (uint8: 1 dense forest, 2 non-dense
    forest, 3 non-forest, 4 water, 0 no data, lay-over or shadow), from a ``dc.load`` with ``hv``
    (or only ``hh``, as JERS-1), ``mask`` and, where present, ``hh``. Lazy if the load is.

    Each band is speckle-filtered first (the enhanced Lee filter, ``size`` pixels, ``looks``
    measured on the first mosaic unless given). Water: the mask's water class, or filtered HH below
    ``hh_water_db``. With HV: forest where filtered HV ≥ ``hv_forest_db``, dense where ≥
    ``hv_dense_db`` (module constants name the defaults' sources). HH only (JERS-1): forest where
    filtered HH ≥ ``hh_forest_db``, all of it labelled 1 (HH cannot tell dense from not), and the
    attributes say the rule is weaker. JAXA tunes its thresholds per region: tune these to yours.
    """
    require_not_empty(ds)
    require_bands(ds, ["hh" if "hv" not in ds.data_vars else "hv", "mask"], "forest_cover")
    water = ds["mask"] == MASK_CLASSES["water"]
    valid = ds["mask"].isin([MASK_CLASSES["land"], MASK_CLASSES["water"]])
    if "hh" in ds.data_vars:
        hh, looks = _filtered_power(ds, "hh", size, looks)
        water = water | (hh < _power(hh_water_db))
    if "hv" in ds.data_vars:
        values, looks = _filtered_power(ds, "hv", size, looks)
        thresholds: dict[str, float | None] = {"dense": _power(hv_dense_db), "forest": _power(hv_forest_db)}
        rule = f"filtered HV: forest >= {hv_forest_db} dB, dense >= {hv_dense_db} dB"
    else:
        values, thresholds = hh, {"dense": _power(hh_forest_db), "forest": None}
        rule = f"filtered HH only (JERS-1): forest >= {hh_forest_db} dB; weaker than an HV rule, no dense/non-dense"
    classes = xr.apply_ufunc(
        _classify, values, water, valid, kwargs=thresholds, dask="parallelized", output_dtypes=[np.uint8]
    )
    classes.attrs = {
        "flag_values": list(FNF_CLASSES.values()),
        "flag_meanings": " ".join(FNF_CLASSES),
        "rule": rule,
        "looks": float(looks) if looks is not None else np.nan,
        "speckle_filter": f"enhanced Lee, {size} x {size} window",
    }
    crs = ds.odc.crs
    classes = classes.rename("forest_cover")
    return classes if crs is None else classes.odc.assign_crs(crs)


def forest_area(classes: xr.DataArray) -> xr.DataArray:
    """Forest area (dense and non-dense, km², true pixel areas) per time step; NaN where no pixel is valid."""
    y, x = [d for d in classes.dims if d != "time"][-2:]
    area = pixel_area_km2(classes)
    forest = (classes.isin([1, 2]) * area).sum([y, x])
    out = forest.where((classes > 0).any([y, x])).rename("forest_km2")
    out.attrs = {"units": "km2", "long_name": "forest area"}
    return out


def _reference_classes(reference: xr.DataArray, scheme: str | None) -> tuple[xr.DataArray, str]:
    """The reference in the 4-class scheme, and which scheme it came in."""
    if scheme is None:
        flags = reference.attrs.get("flags_definition")
        category = flags.get("category") if isinstance(flags, dict) else None
        values = category.get("values") if isinstance(category, dict) else None
        names = {str(v) for v in values.values()} if isinstance(values, dict) else set()
        scheme = "fnf4" if "non_dense_forest" in names else "fnf3" if "forest" in names else None
    if scheme == "fnf4":
        return reference, scheme
    if scheme == "fnf3":  # 1 forest, 2 non-forest, 3 water: 2 means something else in the 4-class maps
        return reference.copy(data=np.array([0, 1, 3, 4], np.uint8)[np.clip(np.asarray(reference), 0, 3)]), scheme
    raise ValueError(
        "The reference map does not say which classes it uses (no flags_definition): JAXA's 4-class maps "
        "(1 dense forest, 2 non-dense forest, 3 non-forest, 4 water) and 3-class maps (1 forest, 2 non-forest, "
        "3 water) give 2 different meanings. Say which with scheme='fnf4' or scheme='fnf3'."
    )


def agreement(classes: xr.DataArray, reference: xr.DataArray, scheme: str | None = None) -> dict:
    """How a forest map agrees with a reference of the same grid (``alos_fnf_mosaic`` as loaded, or
    another map with ``scheme`` "fnf4" or "fnf3"), over pixels both classify: a confusion matrix
    (km², rows ours, columns the reference), overall agreement, and per-class precision and recall.
    Dense and non-dense forest are compared as one class, forest (HH-only maps, and 3-class
    references, cannot tell them apart)."""
    if classes.shape != reference.shape or any(
        not np.allclose(classes[d].values, reference[d].values) for d in classes.dims if d in reference.coords
    ):
        raise ValueError(
            "The reference map is on another grid than the forest map: load it onto the same pixels "
            "(dc.load(..., like=ds.odc.geobox))."
        )
    reference, scheme = _reference_classes(reference, scheme)
    names = ("forest", "non-forest", "water")
    merge = np.array([0, 1, 1, 2, 3], np.uint8)  # no data, forest, forest, non-forest, water
    ours = merge[np.clip(np.asarray(classes), 0, 4)]
    theirs = merge[np.clip(np.asarray(reference), 0, 4)]
    area = np.broadcast_to(np.asarray(pixel_area_km2(classes), dtype=np.float64)[:, None], ours.shape[-2:])
    both = (ours > 0) & (theirs > 0)
    matrix = np.zeros((3, 3))
    index = (ours[both] - 1) * 3 + (theirs[both] - 1)
    matrix.flat[:] = np.bincount(index, weights=np.broadcast_to(area, ours.shape)[both], minlength=9)
    table = pd.DataFrame(matrix, index=[f"ours: {n}" for n in names], columns=[f"reference: {n}" for n in names])
    total = matrix.sum()
    if total == 0:
        raise ValueError("No pixel is classified in both maps: they do not overlap, or one is all no data.")
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, recall = np.diag(matrix) / matrix.sum(axis=1), np.diag(matrix) / matrix.sum(axis=0)
    per_class = pd.DataFrame({"precision": precision, "recall": recall}, index=list(names))
    return {
        "confusion_km2": table,
        "overall": float(np.trace(matrix) / total),
        "per_class": per_class,
        "scheme": scheme,
    }


#: The per-pixel state year_of_loss carries from mosaic to mosaic (uint16 each).
LAST_FOREST, LAST_DATE, PENDING, LOSS, REGROWTH = range(5)
UNSEEN = 2  # LAST_FOREST before any observation


@numba.njit(nogil=True, cache=True)
def _observe(state, out, classes, dates, year):  # pragma: no cover - compiled
    """Each pixel's state after one mosaic, from its state before (both 5 x rows x columns): a loss
    (forest to non-forest) is pending until the next observation agrees; once lost, a return to
    forest is pending the same way."""
    for i in range(classes.shape[0]):
        for j in range(classes.shape[1]):
            last_forest, last_date = state[LAST_FOREST, i, j], state[LAST_DATE, i, j]
            pending, loss, regrowth = state[PENDING, i, j], state[LOSS, i, j], state[REGROWTH, i, j]
            c = classes[i, j]
            if c != 0 and dates[i, j] != last_date:  # else masked, or the previous acquisition again
                forest = c == 1 or c == 2
                if loss == 0:
                    if pending:
                        if not forest:
                            loss = pending  # else one non-forest year between forest years: noise
                        pending = 0
                    elif last_forest == 1 and not forest:
                        pending = year
                elif regrowth == 0:
                    if pending:
                        if forest:
                            regrowth = pending
                        pending = 0
                    elif forest:
                        pending = year
                last_forest, last_date = 1 if forest else 0, dates[i, j]
            out[LAST_FOREST, i, j], out[LAST_DATE, i, j] = last_forest, last_date
            out[PENDING, i, j], out[LOSS, i, j], out[REGROWTH, i, j] = pending, loss, regrowth


def _new_state(classes: np.ndarray) -> np.ndarray:
    """The state before any mosaic, for the pixels of one chunk of ``classes``."""
    state = np.zeros((5, *classes.shape[-2:]), dtype=np.uint16)
    state[LAST_FOREST] = UNSEEN
    return state


def _step(state: np.ndarray, classes: np.ndarray, dates: np.ndarray, *, year: int) -> np.ndarray:
    """``state`` after one mosaic, updated in place: each state array is made by :func:`_new_state`
    for one chain of steps and read by the next step only, so no other task sees it change, and the
    years of a chunk share one array (a fresh one per year costs more in page faults than the fold)."""
    _observe(state, state, classes.reshape(classes.shape[-2:]), dates.reshape(dates.shape[-2:]), year)
    return state


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


def _codes_block(power: np.ndarray, mask: np.ndarray, *, padded: bool, **options) -> np.ndarray:
    """Forest codes of each image of a (time, y, x) block and its mask."""
    codes = _mask_codes()
    return np.stack([forest_codes(p, m, codes, padded=padded, **options) for p, m in zip(power, mask)])


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
    power, looks = _power_and_looks(ds, band, size, looks)
    check_filter_input(power, size, "enhanced", looks)
    options = {"size": size, "looks": looks, "threshold": _power(threshold_db)}
    y, x = [d for d in power.dims if d != "time"][-2:]
    values, mask = power.transpose("time", y, x).data, ds["mask"].transpose("time", y, x).data
    if not isinstance(values, dsa.Array):
        return _codes_block(np.asarray(values), np.asarray(mask), padded=False, **options), looks
    mask = dsa.asarray(mask).rechunk(values.chunks)
    if all(len(c) == 1 for c in values.chunks[-2:]):
        return dsa.map_blocks(_codes_block, values, mask, padded=False, dtype=np.uint8, **options), looks
    (values, chunks), (mask, _) = overlapped(values, size // 2), overlapped(mask, size // 2)
    return dsa.map_blocks(_codes_block, values, mask, padded=True, chunks=chunks, dtype=np.uint8, **options), looks


def year_of_loss(ds: xr.Dataset, classes: xr.DataArray | None = None, **cover_options) -> xr.Dataset:
    """Per pixel, the first mosaic year in which forest turned to non-forest and stayed so (the next
    observation agrees: one non-forest year between forest years is noise, not loss; a change at the
    last mosaic cannot be confirmed and is reported as it is), and the first later year it was forest
    again (regrowth, reported, not hidden; confirmed the same way). 0 means none. A mosaic whose
    pixel repeats the previous observation's acquisition (the same ``date``) is skipped.

    ``classes`` from :func:`forest_cover` (made from ``ds`` with ``cover_options`` if not given);
    ``ds`` needs ``date``. Without ``classes``, a load of one backscatter band (hv, or hh for
    JERS-1) takes a faster pass that gives the same years bit for bit: it filters only the pixels
    whose window mean and own value lie on either side of the forest threshold (the filtered value
    lies between the two), and writes no filtered image. Lazy: the mosaics are taken in order, each
    updating a small per-pixel state (one array per chunk for all the years), so memory does not
    grow with the number of years. An area with no forest in any mosaic
    is refused on an eager load; on a lazy one, look at :func:`forest_area` first (the check would
    cost a second pass).
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
        first = codes[order[0]]
        state = dsa.map_blocks(_new_state, first, new_axis=0, chunks=((5,), *first.chunks), dtype=np.uint16)
        for t in order:
            state = dsa.map_blocks(_step, state, codes[t], days[t], year=int(years[t]), dtype=np.uint16)
        result = dsa.map_blocks(_finish, state, dtype=np.uint16)
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
