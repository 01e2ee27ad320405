"""ODC product definitions and eo3 dataset documents for the mosaics."""

from __future__ import annotations

import uuid

from ..products import (
    CRS,
    MASK_CLASSES,
    MEASUREMENTS,
    NODATA,
    RESOLUTION,
    Product,
)
from .grid import Tile, Window

#: Namespace of the test cube's dataset ids (uuid5 of the dataset's label and window).
DATASET_NAMESPACE = uuid.UUID("6f3a1c52-4d0e-5b7a-9c1e-2b8d7e5a0f41")


def product_definition(product: Product) -> dict:
    """The product as ``datacube product add`` takes it."""
    measurements = []
    for band in product.bands:
        m = MEASUREMENTS[band]
        doc = {"name": m.name, "dtype": m.dtype, "nodata": NODATA, "units": "1"}
        if m.aliases:
            doc["aliases"] = list(m.aliases)
        if band == "mask":
            doc["flags_definition"] = {
                "category": {
                    "bits": list(range(8)),
                    "values": {value: name for name, value in MASK_CLASSES.items()},
                    "description": "Quality of each pixel: no data, water, lay-over, shadowing or land",
                }
            }
        measurements.append(doc)
    return {
        "name": product.name,
        "description": product.title,
        "metadata_type": "eo3",
        "license": "CC-BY-4.0",
        "metadata": {"product": {"name": product.name}},
        "measurements": measurements,
        "load": {
            "crs": CRS,
            "resolution": {"latitude": -RESOLUTION, "longitude": RESOLUTION},
            # Pixel centres on whole multiples of the pixel size in latitude;
            # pixel edges on them in longitude (see grid.py).
            "align": {"latitude": RESOLUTION / 2, "longitude": 0},
        },
    }


def file_name(product: Product, tile: Tile, year: int, band: str) -> str:
    """The file name JAXA gives a band of a tile's mosaic, e.g. ``N31E031_17_sl_HH_F02DAR.tif``."""
    platform = product.platform_for_year(year)
    stem = {"hh": "sl_HH", "hv": "sl_HV"}.get(band, band)
    return f"{tile.name}_{year % 100:02d}_{stem}{platform.file_suffix}.tif"


def dataset_label(product: Product, tile: Tile, year: int) -> str:
    return f"{product.name}_{tile.name}_{year}"


def dataset_id(product: Product, tile: Tile, year: int, window: Window) -> uuid.UUID:
    key = f"{dataset_label(product, tile, year)}/{window.row_top},{window.row_bottom},{window.col_left},{window.col_right}"
    return uuid.uuid5(DATASET_NAMESPACE, key)


def dataset_document(product: Product, tile: Tile, year: int, window: Window) -> dict:
    """The eo3 document of one tile's mosaic for one year; paths are relative to it."""
    platform = product.platform_for_year(year)
    west, south, east, north = window.bounds
    ring = [[west, north], [east, north], [east, south], [west, south], [west, north]]
    return {
        "$schema": "https://schemas.opendatacube.org/dataset",
        "id": str(dataset_id(product, tile, year, window)),
        "label": dataset_label(product, tile, year),
        "product": {"name": product.name},
        "crs": CRS.lower(),
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "grids": {
            "default": {
                "shape": list(window.shape),
                "transform": [*window.transform, 0.0, 0.0, 1.0],
            }
        },
        "properties": {
            # The mosaic stands for its whole year: dc.load labels it at the midpoint.
            "datetime": f"{year}-01-01T00:00:00Z",
            "dtr:start_datetime": f"{year}-01-01T00:00:00Z",
            "dtr:end_datetime": f"{year}-12-31T23:59:59Z",
            "eo:platform": platform.name,
            "eo:instrument": platform.instrument,
            "odc:region_code": tile.name,
            "odc:file_format": "GeoTIFF",
            "odc:product": product.name,
        },
        "measurements": {
            band: {"path": file_name(product, tile, year, band)} for band in product.bands
        },
        "lineage": {},
    }


def document_window(doc: dict) -> Window:
    """The pixel window a dataset document covers (inverse of :func:`dataset_document`)."""
    height, width = doc["grids"]["default"]["shape"]
    transform = doc["grids"]["default"]["transform"]
    col_left = round(transform[2] / RESOLUTION)
    row_top = round(transform[5] / RESOLUTION - 0.5)
    return Window(row_top, row_top - height + 1, col_left, col_left + width - 1)
