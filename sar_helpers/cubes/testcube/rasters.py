"""Writing one tile-year of mosaics as Cloud-Optimized GeoTIFFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from affine import Affine

from sar_helpers.cubes.documents import file_name
from sar_helpers.cubes.grid import Tile, Window
from sar_helpers.loading.cog import write_array
from sar_helpers.products import CRS, NODATA, Product

from .forest import FOREST, is_forest_tile
from .scene import DESERT, Scene, render

#: Overview resampling: averages for backscatter and angles, nearest for labels.
OVERVIEW_RESAMPLING = {
    "hh": "AVERAGE",
    "hv": "AVERAGE",
    "linci": "AVERAGE",
    "date": "NEAREST",
    "mask": "NEAREST",
    "fnf": "NEAREST",
}

#: Rows rendered at a time, to bound memory on full 4,500 x 4,500 tiles.
RENDER_ROWS = 1024


def scene_of(tile: Tile) -> Scene:
    """The scene that fills a tile: tropical forest near the equator, desert elsewhere."""
    return FOREST if is_forest_tile(tile.window.row_top) else DESERT


def has_mosaic(product: Product, tile: Tile) -> bool:
    """Does the test cube hold ``product`` over ``tile``? Every scene has the backscatter mosaics;
    only one with a forest truth has the forest/non-forest map."""
    return product.calibration_db is not None or scene_of(tile).forest_classes is not None


def render_window(product: Product, tile: Tile, year: int, window: Window) -> dict[str, np.ndarray]:
    """All bands of a window of ``tile``, rendered in bands of rows."""
    scene = scene_of(tile)
    height, width = window.shape
    cols = np.arange(window.col_left, window.col_right + 1)
    out: dict[str, np.ndarray] = {}
    for start in range(0, height, RENDER_ROWS):
        rows = np.arange(window.row_top - start, max(window.row_top - start - RENDER_ROWS, window.row_bottom - 1), -1)
        part = render(product, year, rows, cols, scene)
        if not out:
            out = {name: np.empty((height, width), values.dtype) for name, values in part.items()}
        for name, values in part.items():
            out[name][start : start + len(rows)] = values
    return out


def write_dataset_rasters(folder: Path, product: Product, tile: Tile, year: int, window: Window) -> None:
    """Render and write every band of one tile-year into ``folder``."""
    for band, values in render_window(product, tile, year, window).items():
        write_array(
            folder / file_name(product, tile, year, band),
            values,
            Affine(*window.transform),
            CRS,
            NODATA,
            band,
            OVERVIEW_RESAMPLING[band],
        )
