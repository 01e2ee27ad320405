"""Forest from L-band mosaics: forest / non-forest / water per mosaic, the year forest was lost, and
agreement with a reference map.

Forest scatters the radar wave back in the cross polarisation (volume scattering), so filtered
HV gamma-nought separates it from cleared land; JAXA's own forest/non-forest maps threshold the
same mosaics' HV, region by region (Shimada et al. 2014). JERS-1 (1996) has HH only, which
separates forest from cleared land by 1 to 3 dB: its maps are weaker, and say so.
"""

from __future__ import annotations

import dask.array as dsa
import numba
import numpy as np
import pandas as pd
import xarray as xr

from sar_helpers.checks import mosaic_years, require_bands, require_not_empty
from sar_helpers.products import FNF_CLASSES, MASK_CLASSES

from .calibration import power_to_db, to_power
from .speckle import estimated_looks, lee_filter
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


def _filtered_db(ds: xr.Dataset, band: str, size: int, looks: float | None) -> tuple[xr.DataArray, float]:
    power = to_power(ds[band], mask=ds["mask"], classes=("land", "water"))
    assert isinstance(power, xr.DataArray)
    looks = estimated_looks(power.isel(time=0) if "time" in power.dims else power, size) if looks is None else looks
    filtered = power_to_db(lee_filter(power, size=size, method="enhanced", looks=looks))
    assert isinstance(filtered, xr.DataArray)
    return filtered, looks


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
        hh, looks = _filtered_db(ds, "hh", size, looks)
        water = water | (hh < hh_water_db)
    if "hv" in ds.data_vars:
        hv, looks = _filtered_db(ds, "hv", size, looks)
        land = xr.where(hv >= hv_dense_db, 1, xr.where(hv >= hv_forest_db, 2, 3))
        rule = f"filtered HV: forest >= {hv_forest_db} dB, dense >= {hv_dense_db} dB"
    else:
        land = xr.where(hh >= hh_forest_db, 1, 3)
        rule = f"filtered HH only (JERS-1): forest >= {hh_forest_db} dB; weaker than an HV rule, no dense/non-dense"
    classes = xr.where(valid, xr.where(water, FNF_CLASSES["water"], land), 0).astype(np.uint8)
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
        flags = (reference.attrs.get("flags_definition") or {}).get("category", {}).get("values", {})
        names = set(flags.values()) if isinstance(flags, dict) else set()
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


@numba.njit(nogil=True, cache=True)
def _loss_and_regrowth(forest, valid, dates, years, loss, regrowth):  # pragma: no cover - compiled
    steps, rows, columns = forest.shape
    seen = np.empty(steps, np.int64)  # a pixel's steps that are new observations of it
    for i in range(rows):
        for j in range(columns):
            n = 0
            for t in range(steps):
                if valid[t, i, j] and (n == 0 or dates[t, i, j] != dates[seen[n - 1], i, j]):
                    seen[n] = t
                    n += 1
            lost = -1
            for k in range(1, n):
                now, before = forest[seen[k], i, j], forest[seen[k - 1], i, j]
                confirmed = k == n - 1 or not forest[seen[k + 1], i, j]
                if lost < 0 and before and not now and confirmed:
                    lost = k
                    loss[i, j] = years[seen[k]]
                elif lost >= 0 and now and (k == n - 1 or forest[seen[k + 1], i, j]):
                    regrowth[i, j] = years[seen[k]]
                    break


def _loss_block(forest, valid, dates, years):
    """(y, x, time) blocks, as apply_ufunc gives them, to (y, x, 2): the years of loss and regrowth."""
    forest, valid, dates = (np.ascontiguousarray(np.moveaxis(a, -1, 0)) for a in (forest, valid, dates))
    loss = np.zeros(forest.shape[1:], np.uint16)
    regrowth = np.zeros(forest.shape[1:], np.uint16)
    _loss_and_regrowth(forest, valid, dates, years, loss, regrowth)
    return np.stack([loss, regrowth], axis=-1)


def year_of_loss(ds: xr.Dataset, classes: xr.DataArray | None = None, **cover_options) -> xr.Dataset:
    """Per pixel, the first mosaic year in which forest turned to non-forest and stayed so (the next
    observation agrees: one non-forest year between forest years is noise, not loss; a change at the
    last mosaic cannot be confirmed and is reported as it is), and the first later year it was forest
    again (regrowth, reported, not hidden). 0 means none. A mosaic whose pixel repeats the previous
    mosaic's acquisition (the same ``date``) is not a new observation and is skipped.

    ``classes`` from :func:`forest_cover` (made from ``ds`` with ``cover_options`` if not given);
    ``ds`` needs ``date``. Lazy: one pass over the chunks, every year of a chunk together. An area
    with no forest in any mosaic is refused on an eager load; on a lazy one, look at
    :func:`forest_area` first (the check would cost a second pass).
    """
    require_bands(ds, ["date"], "year_of_loss")
    years = np.array(mosaic_years(ds), dtype=np.uint16)
    if len(years) < 2:
        raise ValueError("year_of_loss needs at least two mosaics: load more years.")
    classes = forest_cover(ds, **cover_options) if classes is None else classes
    if not isinstance(classes.data, dsa.Array) and not classes.isin([1, 2]).any():
        raise ValueError("No pixel of the area is forest in any mosaic, so no forest can have been lost here.")
    y, x = [d for d in classes.dims if d != "time"][-2:]
    forest = classes.isin([1, 2]).transpose("time", y, x)
    valid = (classes > 0).transpose("time", y, x)
    dates = ds["date"].transpose("time", y, x)
    out = xr.apply_ufunc(
        _loss_block,
        forest,
        valid,
        dates,
        kwargs={"years": years},
        input_core_dims=[["time"]] * 3,
        output_core_dims=[["result"]],
        dask="parallelized",
        output_dtypes=[np.uint16],
        dask_gufunc_kwargs={"output_sizes": {"result": 2}, "allow_rechunk": True},
        vectorize=False,
    )
    result = xr.Dataset({"year_of_loss": out.isel(result=0), "year_of_regrowth": out.isel(result=1)})
    for name in result.data_vars:
        result[name].attrs = {"units": "year", "note": "0: none"}
    return result
