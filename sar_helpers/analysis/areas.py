"""Areas in km² from true pixel areas: of one pixel, of each class of a map, above a threshold."""

from __future__ import annotations

import numpy as np
import odc.geo.xr  # noqa: F401  (the .odc accessor pixel_area_km2 reads the CRS with)
import pandas as pd
import xarray as xr

from sar_helpers.checks import require_not_empty


def pixel_area_km2(ds: xr.Dataset | xr.DataArray) -> xr.DataArray | float:
    """The true area of one pixel.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A load (its CRS and coordinates are used).

    Returns
    -------
    xarray.DataArray or float
        km²: per latitude on a geographic grid (on the CRS's ellipsoid, WGS84 for EPSG:4326); one
        number on a projected grid (the true area on an equal-area projection such as EPSG:6933,
        the grid's own on others).

    Raises
    ------
    ValueError
        Data with no CRS, or a projected CRS not in metres.
    """
    crs = ds.odc.crs
    if crs is None:
        raise ValueError(
            "The data has no coordinate reference system (no spatial_ref); load it with dc.load, "
            "or set one with ds.odc.assign_crs('EPSG:4326')."
        )
    if crs.geographic:
        lat = ds["latitude"]
        res_lat = abs(float(lat[1] - lat[0])) if lat.size > 1 else 0.000222222222222
        res_lon = abs(float(ds["longitude"][1] - ds["longitude"][0])) if ds["longitude"].size > 1 else res_lat
        ellipsoid = crs.proj.ellipsoid
        a_km = ellipsoid.semi_major_metre / 1000
        e = np.sqrt(1 - (ellipsoid.semi_minor_metre / ellipsoid.semi_major_metre) ** 2)
        north = _zone_area(np.deg2rad(lat.values + res_lat / 2), a_km, e)
        south = _zone_area(np.deg2rad(lat.values - res_lat / 2), a_km, e)
        return xr.DataArray(np.deg2rad(res_lon) * (north - south), coords={"latitude": lat}, dims=lat.dims)
    res = ds.odc.geobox.resolution
    factor = {"metre": 1e-3, "m": 1e-3}.get(crs.units[0], None)
    if factor is None:
        raise ValueError(f"Cannot tell pixel areas in units of {crs.units[0]}; reproject to metres.")
    return abs(res.x * res.y) * factor * factor


def _zone_area(phi: np.ndarray, a: float, e: float) -> np.ndarray:
    """Area, per radian of longitude, between the equator and latitude ``phi`` on an ellipsoid of
    semi-major axis ``a`` and eccentricity ``e`` (the authalic-latitude formula)."""
    s = np.sin(phi)
    b2 = a * a * (1 - e * e)
    return b2 / 2 * (s / (1 - e * e * s * s) + np.log((1 + e * s) / (1 - e * s)) / (2 * e))


def class_areas(classes: xr.DataArray, names: dict[str, int]) -> pd.Series:
    """Area of each class of a 2-D class map.

    Parameters
    ----------
    classes : xarray.DataArray
        Integer classes, 2-D (y, x).
    names : dict of str to int
        Class name to its value.

    Returns
    -------
    pandas.Series
        km² per class name (true pixel areas).
    """
    area = pixel_area_km2(classes)
    totals = xr.Dataset({name: ((classes == value) * area).sum() for name, value in names.items()}).compute()
    return pd.Series({name: float(totals[name]) for name in names}, name="area_km2")


def area_above(data: xr.DataArray, threshold: float) -> xr.DataArray:
    """Area per time step where ``data`` is above ``threshold``.

    Parameters
    ----------
    data : xarray.DataArray
        Any per-pixel value with ``time`` (e.g. filtered HH in dB); NaN is left out.
    threshold : float
        In ``data``'s units.

    Returns
    -------
    xarray.DataArray
        km² per time step (each pixel's true area); NaN for a time step with no finite pixel.
        Lazy on dask.
    """
    require_not_empty(data)
    y, x = [d for d in data.dims if d != "time"][-2:]
    area = pixel_area_km2(data)
    above = ((data > threshold) * area).sum([y, x])
    out = above.where(data.notnull().any([y, x])).rename("area_above_km2")
    out.attrs = {"units": "km2", "long_name": f"area above {threshold} {data.attrs.get('units', '')}".strip()}
    return out
