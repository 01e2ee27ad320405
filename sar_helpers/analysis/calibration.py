"""DN to gamma-nought backscatter: decibels, linear power, and back.

gamma-nought [dB] = 10 * log10(DN**2) + K, with K = -83.0 dB for ALOS/ALOS-2 PALSAR
and -84.66 dB for JERS-1 SAR. K is chosen per time step from the satellite that
acquired it, which the mosaic's year names (see :func:`sar_helpers.platforms`).

The conversion is one table look-up per pixel: DN is uint16, so every possible
answer is computed once (65,536 float32 values) and the result is the only array
allocated, besides a one-byte-per-pixel mask. NaN marks no data (DN 0) and pixels
the mask rejects; the result is never -inf.

The sign of K: the datasets' metadata states the calibration factor as a positive number
(``cf: "83.0 dB"``), which the formula subtracts. DN 0 is no data in the DNs themselves; mask
class 0 says the same in the mask band, and both are honoured.

Average in linear power, not in dB: the mean of dB values is the dB of a geometric mean,
which speckle biases low. For an L-look intensity the bias is 10·log10(e)·(ψ(L) − ln L):
-2.51 dB for 1 look, -1.17 dB for 2, -0.57 dB for 4 (the test cube's synthetic speckle),
-0.14 dB for 16. JAXA's mosaics are multi-looked to a number of looks of their own; estimate it
on a uniform area with :func:`equivalent_looks`. JAXA's own formula averages DN² before taking
the log for the same reason. Use ``power_to_db(to_power(ds).mean(...))``.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Literal

import numpy as np
import xarray as xr

from sar_helpers.checks import platforms, require_dtype, require_not_empty
from sar_helpers.products import VALID_CLASSES, calibration_of

from .kernels import class_table, lookup_kept
from .masking import class_values
from .tables import lookup

BACKSCATTER_BANDS = ("hh", "hv")


Quantity = Literal["db", "power"]


def calibration_constants(data: xr.Dataset | xr.DataArray) -> list[float]:
    """The calibration constant (dB) of each time step, from the satellite that made it."""
    return [calibration_of(p) for p in platforms(data)]


@lru_cache
def dn_table(calibration_db: float, quantity: Quantity) -> np.ndarray:
    """Answer for every uint16 DN: 'db' or linear 'power'; NaN for DN 0."""
    if quantity not in ("db", "power"):
        raise ValueError(f"quantity must be 'db' or 'power', not {quantity!r}.")
    dn = np.arange(2**16, dtype=np.float64)
    with np.errstate(divide="ignore"):
        db = 20 * np.log10(dn) + calibration_db
    values = db if quantity == "db" else 10 ** (db / 10)
    values[0] = np.nan
    return values.astype(np.float32)


#: A mask band and the table of its classes to keep (:func:`kernels.class_table`).
Kept = tuple[xr.DataArray, np.ndarray]


def _convert(da: xr.DataArray, kept: Kept | None, quantity: Quantity) -> xr.DataArray:
    """Look up every DN of one band; pixels whose mask class is not kept become NaN."""
    require_not_empty(da)
    require_dtype(da, "uint16", "Is it already converted? These helpers take the DNs as loaded.")
    constants = calibration_constants(da)

    def convert(dn, kept, constant):
        table = dn_table(constant, quantity)
        if kept is None:
            return xr.apply_ufunc(lookup, dn, kwargs={"table": table}, dask="parallelized", output_dtypes=[np.float32])
        mask, keep = kept
        options = {"table": table, "keep": keep}
        return xr.apply_ufunc(lookup_kept, dn, mask, kwargs=options, dask="parallelized", output_dtypes=[np.float32])

    if "time" not in da.dims or len(set(constants)) == 1:
        out = convert(da, kept, constants[0])
    else:  # time steps of platforms with different constants: convert each group
        steps = np.asarray(constants)
        groups = [np.flatnonzero(steps == k) for k in dict.fromkeys(constants)]
        parts = [
            convert(da.isel(time=g), None if kept is None else (kept[0].isel(time=g), kept[1]), constants[g[0]])
            for g in groups
        ]
        out = xr.concat(parts, dim="time").isel(time=np.argsort(np.concatenate(groups)))
    what = "" if quantity == "db" else ", linear power"
    out.attrs = {"units": "dB" if quantity == "db" else "1", "long_name": f"{str(da.name).upper()} gamma-nought{what}"}
    return out.rename(f"{da.name}_{quantity}")


def _kept(mask: xr.DataArray | None, classes) -> Kept | None:
    if mask is None or classes is None:
        return None
    require_dtype(mask, "uint8", "Load the mask band without resampling other than nearest.")
    return mask, class_table(class_values(tuple(classes)))


def _valid_for(ds: xr.Dataset, classes) -> Kept | None:
    if classes is None:
        return None
    if "mask" not in ds.data_vars:
        warnings.warn(
            "The data has no mask band, so only no-data (DN 0) is removed; lay-over and shadow stay in. "
            "Load 'mask' too to remove them.",
            stacklevel=3,
        )
        return None
    return _kept(ds["mask"], classes)


def _backscatter_bands(ds: xr.Dataset) -> list[str]:
    bands = [b for b in BACKSCATTER_BANDS if b in ds.data_vars]
    if not bands:
        raise ValueError(
            f"There is no hh or hv band to convert (the data has {', '.join(map(str, ds.data_vars))}). "
            "Load them with measurements=['hh', 'hv', 'mask']."
        )
    return bands


def to_db(
    data: xr.Dataset | xr.DataArray, mask: xr.DataArray | None = None, classes=VALID_CLASSES
) -> xr.Dataset | xr.DataArray:
    """Gamma-nought backscatter in dB from DNs: 10·log10(DN²) + K, K from each time step's satellite.

    Parameters
    ----------
    data : xarray.Dataset or xarray.DataArray
        DNs as loaded (uint16). A Dataset's ``mask`` band is applied.
    mask : xarray.DataArray, optional
        For a DataArray: the ``mask`` band to apply (``mask=ds.mask``).
    classes : sequence of str or None, default ("land", "water")
        Mask classes kept; None keeps all.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        float32 dB. A Dataset gives ``hh_db`` and/or ``hv_db``, and ``hvhh_db`` (HV minus HH, the
        cross-polarisation ratio in dB) when both exist. NaN for DN 0 and masked pixels, never
        -inf. Lazy if the load is.

    Raises
    ------
    ValueError
        Data that is not uint16 DNs (already converted?), or no time step.
    """
    if isinstance(data, xr.DataArray):
        return _convert(data, _kept(mask, classes), "db")
    require_not_empty(data)
    bands = _backscatter_bands(data)
    valid = _valid_for(data, classes)
    out = xr.Dataset({f"{b}_db": _convert(data[b], valid, "db") for b in bands}, attrs=dict(data.attrs))
    if {"hh", "hv"} <= set(bands):
        ratio = out["hv_db"] - out["hh_db"]  # float32 already: no copy
        ratio.attrs = {"units": "dB", "long_name": "HV/HH cross-polarisation ratio"}
        out["hvhh_db"] = ratio
    return out


def to_power(
    data: xr.Dataset | xr.DataArray, mask: xr.DataArray | None = None, classes=VALID_CLASSES
) -> xr.Dataset | xr.DataArray:
    """Linear gamma-nought power from DNs: the quantity to average.

    Parameters
    ----------
    data : xarray.Dataset or xarray.DataArray
        DNs as loaded (uint16). A Dataset's ``mask`` band is applied.
    mask : xarray.DataArray, optional
        For a DataArray: the ``mask`` band to apply.
    classes : sequence of str or None, default ("land", "water")
        Mask classes kept; None keeps all.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        float32 linear power (``hh_power``, ``hv_power`` for a Dataset); NaN for DN 0 and masked
        pixels. Lazy if the load is.

    Raises
    ------
    ValueError
        Data that is not uint16 DNs.
    """
    if isinstance(data, xr.DataArray):
        return _convert(data, _kept(mask, classes), "power")
    require_not_empty(data)
    valid = _valid_for(data, classes)
    return xr.Dataset(
        {f"{b}_power": _convert(data[b], valid, "power") for b in _backscatter_bands(data)}, attrs=dict(data.attrs)
    )


def power_to_db(power: xr.DataArray | xr.Dataset) -> xr.DataArray | xr.Dataset:
    """Linear power to dB, e.g. after averaging in power.

    Parameters
    ----------
    power : xarray.DataArray or xarray.Dataset
        Linear gamma-nought power.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        10·log10(power) in dB; zero power gives NaN, not -inf.
    """

    def one(p: xr.DataArray) -> xr.DataArray:
        out = (10 * xr.apply_ufunc(np.log10, p.where(p > 0), dask="allowed")).astype(np.float32)
        out.attrs = {"units": "dB"}
        name = str(p.name)
        return out.rename(name.removesuffix("_power") + "_db" if name.endswith("_power") else name)

    if isinstance(power, xr.Dataset):
        return xr.Dataset({one(power[v]).name: one(power[v]) for v in power.data_vars}, attrs=dict(power.attrs))
    return one(power)


def db_to_dn(db: xr.DataArray) -> xr.DataArray:
    """The inverse of :func:`to_db` for one band.

    Parameters
    ----------
    db : xarray.DataArray
        Gamma-nought in dB, with ``time`` (which fixes each step's calibration constant).

    Returns
    -------
    xarray.DataArray
        DN as float32; round it to get the stored value.
    """
    per_step = calibration_constants(db)
    constants = xr.DataArray(per_step, dims="time", coords={"time": db.time}) if "time" in db.dims else per_step[0]
    out = (10 ** ((db - constants) / 20)).astype(np.float32)
    out.attrs = {"units": "1"}
    return out.rename(str(db.name).removesuffix("_db"))


def hv_hh_ratio(ds: xr.Dataset) -> xr.DataArray:
    """The HV/HH amplitude ratio.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with ``hh`` and ``hv`` DNs.

    Returns
    -------
    xarray.DataArray
        float32, unitless; NaN where either band is no data (never a division by zero).
    """
    require_not_empty(ds)
    for band in ("hh", "hv"):
        if band not in ds.data_vars:
            raise ValueError(f"hv_hh_ratio needs the {band} band; load measurements=['hh', 'hv', ...].")
    hh = ds.hh.where(ds.hh > 0).astype(np.float32)
    hv = ds.hv.where(ds.hv > 0).astype(np.float32)
    ratio = (hv / hh).astype(np.float32).rename("hvhh")
    ratio.attrs = {"units": "1", "long_name": "HV/HH amplitude ratio"}
    return ratio
