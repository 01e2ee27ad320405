"""Loading mosaics, knowing which satellite made each one, and checking what was loaded.

``dc.load`` returns pixels only. Which satellite made each time step decides which
launch date its ``date`` band counts from and which calibration applies. For these
products the mosaic's year tells (:func:`platforms`), so plain ``dc.load`` output is
enough; :func:`add_platform` copies the datasets' own metadata on as well, and then
the two are checked against each other.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .errors import DatabaseUnavailable, database_down_message, is_database_lost
from .products import Platform, get_product, platform_in_orbit, platforms_named


def add_platform(ds: xr.Dataset, datasets: Iterable) -> xr.Dataset:
    """Copy the datasets' metadata onto ``ds``: ``platform``, ``instrument`` and (where
    the datasets give it) ``launchdate`` coordinates along ``time``, and the attribute
    ``product``.

    ``datasets`` are the ODC datasets the load used (``dc.find_datasets`` with the same
    query). The helpers do not need this (a mosaic's year names its satellite), but
    with it they check the year against the metadata.
    """
    require_not_empty(ds)
    by_time: dict[np.datetime64, set[tuple[str, str, str]]] = defaultdict(set)
    products = set()
    for dataset in datasets:
        label = np.datetime64(dataset.center_time.replace(tzinfo=None), "ns")
        launch = str(dataset.metadata_doc.get("properties", {}).get("launchdate", ""))
        by_time[label].add((dataset.metadata.platform or "", dataset.metadata.instrument or "", launch))
        products.add(dataset.product.name)
    if len(products) > 1:
        raise ValueError(f"The datasets come from several products ({', '.join(sorted(products))}); load one product at a time.")
    found_per_step = []
    for label in ds.time.values:
        found = by_time.get(np.datetime64(label, "ns"), set())
        if len(found) != 1:
            what = "no dataset" if not found else f"datasets of {len(found)} platforms"
            raise ValueError(
                f"Time step {np.datetime_as_string(label, unit='D')} has {what} among those given; "
                "pass the datasets of the same query to add_platform (dc.find_datasets(product=..., x=..., y=..., time=...))."
            )
        found_per_step.append(found.pop())
    platform, instrument, launch = (list(column) for column in zip(*found_per_step))
    out = ds.assign_coords(platform=("time", platform), instrument=("time", instrument))
    if all(launch):
        out = out.assign_coords(launchdate=("time", launch))
    out.attrs["product"] = products.pop()
    platforms(out)  # the metadata agrees with the years, or a clear error
    return out


#: dc.load options that are not search terms for dc.find_datasets.
_LOAD_ONLY_OPTIONS = {
    "output_crs", "resolution", "resampling", "align", "dask_chunks", "group_by", "like",
    "fuse_func", "progress_cbk", "skip_broken_datasets", "driver", "patch_url", "limit",
}


def load_mosaics(dc, product: str, measurements: Sequence[str] | None = None, **query) -> xr.Dataset:
    """``dc.load`` of one SAR mosaic product, with :func:`add_platform` applied.

    Raises a ValueError naming the product's bands for an unknown band, one saying
    what to check when the query finds no data, and DatabaseUnavailable (one sentence,
    no driver traceback) when the datacube's database cannot be reached.
    """
    known = get_product(product)
    if measurements is not None:
        unknown = [m for m in measurements if m not in known.bands]
        if unknown:
            raise ValueError(
                f"{product} has no band {', '.join(map(repr, unknown))}; its bands are {', '.join(known.bands)}."
            )
    check_query(query)
    search = {k: v for k, v in query.items() if k not in _LOAD_ONLY_OPTIONS}
    try:
        datasets = dc.find_datasets(product=product, **search)
    except Exception as err:
        if is_database_lost(err):
            raise DatabaseUnavailable(database_down_message(err)) from None
        raise
    if not datasets:
        raise ValueError(no_data_message(product, query))
    grid = grid_options(query.pop("output_crs", None), query.pop("resolution", None))
    ds = dc.load(datasets=datasets, measurements=measurements, **query, **grid)
    return add_platform(ds, datasets)


def grid_options(output_crs: str | None = None, resolution=None) -> dict:
    """dc.load options for an output grid: {} for the product's own grid.

    ``resolution`` is one number (square pixels, in the CRS's units) or a
    (y, x) pair such as (-25, 25).
    """
    if output_crs is None:
        if resolution is not None:
            raise ValueError("resolution needs output_crs: give both to reproject, or neither for the native grid.")
        return {}
    if resolution is None:
        raise ValueError(f"output_crs={output_crs!r} needs a resolution too, e.g. resolution=(-25, 25) for 25 m pixels.")
    import pyproj
    from odc.geo import Resolution, resyx_

    try:
        pyproj.CRS.from_user_input(output_crs)
    except pyproj.exceptions.CRSError:
        raise ValueError(f"output_crs={output_crs!r} is not a coordinate reference system pyproj knows, "
                         "e.g. EPSG:6933 (equal area) or EPSG:32636 (UTM 36N).") from None
    if isinstance(resolution, Resolution):
        return {"output_crs": output_crs, "resolution": resolution}
    values = [resolution] if isinstance(resolution, (int, float)) else list(resolution)
    if len(values) not in (1, 2) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v != 0 for v in values
    ):
        raise ValueError(f"resolution must be one finite, non-zero number or a (y, x) pair like (-25, 25); got {resolution!r}.")
    if len(values) == 1:
        return {"output_crs": output_crs, "resolution": values[0]}
    y, x = values
    return {"output_crs": output_crs, "resolution": resyx_(y, x)}


def check_query(query: dict) -> None:
    """ValueError for a search that would fail deep inside the index: coordinates that are
    not finite numbers in order, or a time range that runs backwards."""
    for axis in ("x", "y", "longitude", "latitude"):
        if axis not in query or isinstance(query[axis], (int, float)):
            values = [query[axis]] if axis in query else []
        else:
            values = list(query[axis])
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise ValueError(f"{axis} must be finite numbers, e.g. {axis}=(31.90, 32.10); got {query[axis]!r}.")
        if len(values) == 2 and values[0] > values[1]:
            raise ValueError(f"{axis} must be given smallest first: {values[0]} is above {values[1]}.")
    time = query.get("time")
    if isinstance(time, (tuple, list)) and len(time) == 2 and None not in time:
        try:
            first, last = pd.Timestamp(str(time[0])), pd.Timestamp(str(time[1]))
        except ValueError:
            raise ValueError(f"time must be dates like '2015' or '2015-07-01'; got {time!r}.") from None
        if first > last:
            raise ValueError(f"time must be given earliest first: {time[0]} is after {time[1]}.")


def no_data_message(product: str, query: dict) -> str:
    where = ", ".join(f"{k}={query[k]!r}" for k in ("x", "y", "time") if k in query)
    years = ", ".join(map(str, get_product(product).years))
    return (
        f"No {product} data for {where or 'this query'}. Check that the area is covered "
        f"(dc.find_datasets(product={product!r}, ...)) and that the years are among {years}."
    )


def require_not_empty(ds: xr.Dataset | xr.DataArray) -> None:
    if not ds.sizes or any(size == 0 for size in ds.sizes.values()) or (
        isinstance(ds, xr.Dataset) and not ds.data_vars
    ):
        raise ValueError(
            "The data is empty: the query found nothing. Check x, y and time against the "
            "product's coverage with dc.find_datasets(...)."
        )


def require_bands(ds: xr.Dataset, bands: Iterable[str], purpose: str) -> None:
    missing = [b for b in bands if b not in ds.data_vars]
    if missing:
        raise ValueError(
            f"{purpose} needs the band(s) {', '.join(missing)}, which the data lacks "
            f"(it has {', '.join(map(str, ds.data_vars)) or 'none'}). Load them with measurements=[...]."
        )


def require_dtype(da: xr.DataArray, dtype: str, hint: str = "") -> None:
    if da.dtype != np.dtype(dtype):
        raise ValueError(
            f"{da.name} must be {dtype} as the product stores it, not {da.dtype}. {hint}".strip()
        )


def mosaic_years(ds: xr.Dataset | xr.DataArray) -> list[int]:
    """The year of each time step's mosaic: the ``mosaic`` coordinate where
    :func:`sar_helpers.relabel_time` left one, else the year of the time label."""
    require_not_empty(ds)
    if "mosaic" in ds.coords:
        return [int(year) for year in np.atleast_1d(ds.coords["mosaic"].values)]
    if "time" not in ds.coords:
        raise ValueError(
            "The data has no time coordinate, so the year (and from it the satellite, launch date "
            "and calibration) of each mosaic is unknown. Keep the time coordinate as dc.load gives it."
        )
    return pd.DatetimeIndex(np.atleast_1d(ds.coords["time"].values)).year.tolist()


def platforms(ds: xr.Dataset | xr.DataArray) -> list[Platform]:
    """The satellite of each time step, which fixes its launch date and calibration.

    The mosaic's year names it (JERS-1 1992-1998, ALOS 2006-2011, ALOS-2 from 2014), so
    plain ``dc.load`` output is enough. Metadata copied on by :func:`add_platform` is
    checked against the year: a ``platform`` coordinate ("ALOS-2", or Digital Earth
    Africa's "ALOS/ALOS-2") must name that satellite, a ``launchdate`` must be its
    launch; a ValueError says which time step disagrees.
    """
    years = mosaic_years(ds)
    labels = _per_step(ds, "platform", len(years))
    launches = _per_step(ds, "launchdate", len(years))
    out = []
    for year, label, launch in zip(years, labels, launches):
        platform = platform_in_orbit(year)
        if label is not None and platform not in platforms_named(label):
            raise ValueError(
                f"The {year} mosaic is labelled platform {label!r}, but only {platform.name} made mosaics "
                f"in {year}. The time labels and the metadata disagree: check both (was the time axis relabelled?)."
            )
        if launch is not None and pd.Timestamp(launch).date() != platform.launch:
            raise ValueError(
                f"The {year} mosaic has launchdate {launch!r}, but its satellite {platform.name} was launched "
                f"on {platform.launch}. The time labels and the metadata disagree: check both."
            )
        out.append(platform)
    return out


def _per_step(ds: xr.Dataset | xr.DataArray, name: str, steps: int) -> list:
    """A coordinate's value for each time step, or None for each where it is absent."""
    if name not in ds.coords:
        return [None] * steps
    values = np.broadcast_to(np.atleast_1d(ds.coords[name].values), (steps,))
    return [str(value) or None for value in values]
