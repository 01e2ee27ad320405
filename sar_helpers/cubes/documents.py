"""ODC product definitions and eo3 dataset documents for the mosaics: the test cube's, and the files a
real cube converts itself (JAXA's archive)."""

from __future__ import annotations

import json
import uuid

from sar_helpers.cubes.grid import Tile, Window
from sar_helpers.products import CRS, RESOLUTION, Product

#: Namespace of the test cube's dataset ids (uuid5 of the rest of the document, so that
#: a document written by another version of this package is another dataset).
DATASET_NAMESPACE = uuid.UUID("6f3a1c52-4d0e-5b7a-9c1e-2b8d7e5a0f41")

#: What the test cube adds to Digital Earth Africa's definitions: load hints that put
#: pixel centres on whole multiples of the pixel size in latitude and pixel edges on
#: them in longitude (see grid.py). With them datacube 1.9 loads the published
#: tutorial query as the published 811 x 900 pixels; without them (Digital Earth
#: Africa's definitions as they are) it loads 810 x 900.
LOAD_HINTS = {
    "crs": CRS,
    "resolution": {"latitude": -RESOLUTION, "longitude": RESOLUTION},
    "align": {"latitude": RESOLUTION / 2, "longitude": 0},
}


def product_definition(product: Product) -> dict:
    """The product as the test cube adds it: Digital Earth Africa's definition plus ``load`` hints."""
    return {**product.published_definition(), "load": LOAD_HINTS}


def file_name(product: Product, tile: Tile, year: int, band: str) -> str:
    """A band's file name as Digital Earth Africa stores it: ``N31E031_17_sl_HH_F02DAR.tif``,
    ``N31E031_08_sl_linci_F__DAR.tif``, ``N31E031_96_sl_date.tif``."""
    platform = product.platform_for_year(year)
    if band == "fnf":  # JAXA names the map's file C (for class), as Planetary Computer's asset
        return f"{tile.name}_{year % 100:02d}_C{platform.file_suffix}.tif"
    stem = {"hh": "HH", "hv": "HV"}.get(band, band)
    return f"{tile.name}_{year % 100:02d}_sl_{stem}{platform.file_suffix}.tif"


def dataset_label(product: Product, tile: Tile, year: int) -> str:
    return f"{product.name}_{tile.name}_{year}"


def dataset_document(
    product: Product, tile: Tile, year: int, window: Window, extra_properties: dict | None = None
) -> dict:
    """The eo3 document of one tile's mosaic for one year; paths are relative to it. Its id is made
    from its content, ``extra_properties`` (e.g. the source it came from) included."""
    platform = product.platform_for_year(year)
    west, south, east, north = window.bounds
    ring = [[west, north], [east, north], [east, south], [west, south], [west, north]]
    doc = {
        "$schema": "https://schemas.opendatacube.org/dataset",
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
            # As Digital Earth Africa's STAC items give them (through odc-apps-dc-tools):
            # one platform label for ALOS and ALOS-2 alike, the launch and calibration as text.
            "eo:platform": product.platform_label,
            "eo:instrument": product.instrument_label,
            "launchdate": platform.launch.isoformat(),
            **({} if product.cf is None else {"cf": product.cf}),
            "odc:region_code": tile.name,
            "odc:product": product.name,
            **(extra_properties or {}),
        },
        "measurements": {band: {"path": file_name(product, tile, year, band)} for band in product.bands},
        "lineage": {},
    }
    content = json.dumps(doc, sort_keys=True)
    return {"id": str(uuid.uuid5(DATASET_NAMESPACE, content)), **doc}


def window_of(transform, shape: tuple[int, int]) -> Window:
    """The pixel window of a grid (an affine ``transform``'s first six numbers, and its shape)."""
    height, width = shape
    col_left = round(transform[2] / RESOLUTION)
    row_top = round(transform[5] / RESOLUTION - 0.5)
    return Window(row_top, row_top - height + 1, col_left, col_left + width - 1)


def document_window(doc: dict) -> Window:
    """The pixel window a dataset document covers (inverse of :func:`dataset_document`)."""
    return window_of(doc["grids"]["default"]["transform"], doc["grids"]["default"]["shape"])
