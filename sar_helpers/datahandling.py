"""Loading mosaics with the metadata the other helpers need, and checking what was loaded.

``dc.load`` returns pixels only. Which satellite each time step comes from (and so
which launch date its ``date`` band counts from, and which calibration applies) is
in the datasets' metadata: :func:`add_platform` copies it onto the loaded data as a
``platform`` coordinate along ``time``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import xarray as xr

from .products import Platform, get_platform, get_product


def add_platform(ds: xr.Dataset, datasets: Iterable) -> xr.Dataset:
    """Label each time step of ``ds`` with the platform of the datasets behind it.

    ``datasets`` are the ODC datasets the load used (``dc.find_datasets`` with the
    same query). Adds the coordinates ``platform`` and ``instrument`` along ``time``
    and the attribute ``product``.
    """
    require_not_empty(ds)
    by_time: dict[np.datetime64, set[tuple[str, str]]] = defaultdict(set)
    products = set()
    for dataset in datasets:
        label = np.datetime64(dataset.center_time.replace(tzinfo=None), "ns")
        by_time[label].add((dataset.metadata.platform, dataset.metadata.instrument))
        products.add(dataset.product.name)
    if len(products) > 1:
        raise ValueError(f"The datasets come from several products ({', '.join(sorted(products))}); load one product at a time.")
    platforms, instruments = [], []
    for label in ds.time.values:
        found = by_time.get(np.datetime64(label, "ns"), set())
        if len(found) != 1:
            what = "no dataset" if not found else f"datasets of {len(found)} platforms"
            raise ValueError(
                f"Time step {np.datetime_as_string(label, unit='D')} has {what} among those given; "
                "pass the datasets of the same query to add_platform (dc.find_datasets(product=..., x=..., y=..., time=...))."
            )
        (platform, instrument), = found
        get_platform(platform)  # a known SAR mosaic platform, or a clear error
        platforms.append(platform)
        instruments.append(instrument)
    out = ds.assign_coords(platform=("time", platforms), instrument=("time", instruments))
    out.attrs["product"] = products.pop()
    return out


#: dc.load options that are not search terms for dc.find_datasets.
_LOAD_ONLY_OPTIONS = {
    "output_crs", "resolution", "resampling", "align", "dask_chunks", "group_by", "like",
    "fuse_func", "progress_cbk", "skip_broken_datasets", "driver", "patch_url", "limit",
}


def load_mosaics(dc, product: str, measurements: Sequence[str] | None = None, **query) -> xr.Dataset:
    """``dc.load`` of one SAR mosaic product, with :func:`add_platform` applied.

    Raises a ValueError naming the product's bands for an unknown band, and one
    saying what to check when the query finds no data.
    """
    known = get_product(product)
    if measurements is not None:
        unknown = [m for m in measurements if m not in known.bands]
        if unknown:
            raise ValueError(
                f"{product} has no band {', '.join(map(repr, unknown))}; its bands are {', '.join(known.bands)}."
            )
    search = {k: v for k, v in query.items() if k not in _LOAD_ONLY_OPTIONS}
    datasets = dc.find_datasets(product=product, **search)
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
    from odc.geo import Resolution, resyx_

    if isinstance(resolution, (int, float, Resolution)):
        return {"output_crs": output_crs, "resolution": resolution}
    y, x = resolution
    return {"output_crs": output_crs, "resolution": resyx_(y, x)}


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


def platforms(ds: xr.Dataset | xr.DataArray) -> list[Platform]:
    """The platform of each time step, from the ``platform`` coordinate; a clear error without it."""
    require_not_empty(ds)
    if "platform" not in ds.coords:
        raise ValueError(
            "The data does not say which satellite each time step comes from, so the launch "
            "date and calibration cannot be chosen. Load with sar_helpers.load_mosaics(dc, ...) "
            "or add it with sar_helpers.add_platform(ds, dc.find_datasets(...))."
        )
    names = np.atleast_1d(ds.coords["platform"].values)
    return [get_platform(str(name)) for name in names]
