"""Forest from L-band mosaics: forest / non-forest / water per mosaic, its area, and agreement with
a reference map (the year it was lost: :mod:`loss`).

Forest scatters the radar wave back in the cross polarisation (volume scattering), so filtered
HV gamma-nought separates it from cleared land; JAXA's own forest/non-forest maps threshold the
same mosaics' HV, region by region (Shimada et al. 2014). JERS-1 (1996) has HH only, which
separates forest from cleared land by 1 to 3 dB: its maps are weaker, and say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from sar_helpers.checks import require_bands, require_not_empty
from sar_helpers.products import FNF_CLASSES, MASK_CLASSES

from .areas import pixel_area_km2
from .calibration import to_power
from .speckle import estimated_looks, lee_filter

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


def power_and_looks(ds: xr.Dataset, band: str, size: int, looks: float | None) -> tuple[xr.DataArray, float]:
    """One band's power (NaN but land and water), and the looks: given, or measured on the first mosaic."""
    power = to_power(ds[band], mask=ds["mask"], classes=("land", "water"))
    assert isinstance(power, xr.DataArray)
    looks = estimated_looks(power.isel(time=0) if "time" in power.dims else power, size) if looks is None else looks
    return power, looks


def _filtered_power(ds: xr.Dataset, band: str, size: int, looks: float | None) -> tuple[xr.DataArray, float]:
    power, looks = power_and_looks(ds, band, size, looks)
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


def power_of(db: float) -> float:
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
    """Forest / non-forest / water per mosaic, in JAXA's classes, from speckle-filtered backscatter.

    Each band is filtered first (the enhanced Lee filter). Water: the mask's water class, or filtered
    HH below ``hh_water_db``. With HV: forest where filtered HV ≥ ``hv_forest_db``, dense where ≥
    ``hv_dense_db`` (the module's constants name the defaults' sources). HH only (JERS-1): forest
    where filtered HH ≥ ``hh_forest_db``, all of it class 1 (HH cannot tell dense from not), and the
    attributes say the rule is weaker. JAXA tunes its thresholds per region: tune these to yours.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with ``hv`` (or only ``hh``, as JERS-1) as DNs, ``mask`` and, where present, ``hh``.
    hv_forest_db, hv_dense_db : float, default -16.7, -13.0
        HV gamma-nought (dB) of forest and of dense forest.
    hh_forest_db, hh_water_db : float, default -8.5, -20.0
        HH gamma-nought (dB) of forest (HH-only rule) and below which ground is water.
    size : int, default 7
        The filter's window in pixels.
    looks : float, optional
        The equivalent number of looks; measured on the first mosaic when not given.

    Returns
    -------
    xarray.DataArray
        uint8 per pixel and mosaic: 1 dense forest, 2 non-dense forest, 3 non-forest, 4 water, 0 no
        data, lay-over or shadow; the rule, looks and filter in the attributes. Lazy if the load is.

    Raises
    ------
    ValueError
        A load without ``mask`` or without a backscatter band.
    """
    require_not_empty(ds)
    require_bands(ds, ["hh" if "hv" not in ds.data_vars else "hv", "mask"], "forest_cover")
    water = ds["mask"] == MASK_CLASSES["water"]
    valid = ds["mask"].isin([MASK_CLASSES["land"], MASK_CLASSES["water"]])
    if "hh" in ds.data_vars:
        hh, looks = _filtered_power(ds, "hh", size, looks)
        water = water | (hh < power_of(hh_water_db))
    if "hv" in ds.data_vars:
        values, looks = _filtered_power(ds, "hv", size, looks)
        thresholds: dict[str, float | None] = {"dense": power_of(hv_dense_db), "forest": power_of(hv_forest_db)}
        rule = f"filtered HV: forest >= {hv_forest_db} dB, dense >= {hv_dense_db} dB"
    else:
        values, thresholds = hh, {"dense": power_of(hh_forest_db), "forest": None}
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
    """Forest area (dense and non-dense) per time step.

    Parameters
    ----------
    classes : xarray.DataArray
        :func:`forest_cover`'s classes.

    Returns
    -------
    xarray.DataArray
        km² per time step (true pixel areas); NaN where no pixel is valid. Lazy if ``classes`` is.
    """
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
    """How a forest map agrees with a reference map of the same pixels, over pixels both classify.

    Dense and non-dense forest are compared as one class, forest (HH-only maps, and 3-class
    references, cannot tell them apart).

    Parameters
    ----------
    classes : xarray.DataArray
        One map of :func:`forest_cover` (2-D, or one time step).
    reference : xarray.DataArray
        The reference on the same grid: ``alos_fnf_mosaic``'s ``fnf`` as loaded, or another map.
    scheme : {"fnf4", "fnf3"}, optional
        The reference's classes: JAXA's 4-class maps (3 is non-forest) or 3-class maps (2 is
        non-forest); read from its ``flags_definition`` when not given.

    Returns
    -------
    dict
        ``confusion_km2`` (pandas.DataFrame, km², rows ours, columns the reference), ``overall``
        (float, the share of area on which both agree), ``per_class`` (pandas.DataFrame of
        precision and recall per class) and ``scheme``.

    Raises
    ------
    ValueError
        A reference on another grid, one whose class scheme is unknown, or no pixel both classify.
    """
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
