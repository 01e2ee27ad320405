"""The mosaics' global pixel grid, JAXA's 1-degree tiles, and windows of both.

Pixels are addressed by global integer indices so that every tile, window and
year lines up exactly:

* column ``c`` spans longitudes ``[c, c + 1] * RESOLUTION`` (edges on whole
  multiples of the pixel size, so 1-degree tile edges are pixel edges);
* row ``r`` is centred on latitude ``r * RESOLUTION`` (pixel-centre aligned), so
  rows decrease southwards and a tile's top row is centred on its name's latitude.

This is the grid the product definitions' ``load`` section describes
(``align``: latitude half a pixel, longitude 0), which is what makes the published
tutorial query load 811 x 900 pixels with datacube 1.9.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sar_helpers.products import RESOLUTION, TILE_PIXELS

_EPS = 1e-6  # of a pixel: snapping tolerance for user-given degrees


@dataclass(frozen=True, order=True)
class Window:
    """Rows ``row_top`` down to ``row_bottom`` and columns ``col_left`` to ``col_right``, inclusive."""

    row_top: int
    row_bottom: int
    col_left: int
    col_right: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.row_top - self.row_bottom + 1, self.col_right - self.col_left + 1

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL-order affine coefficients (a, b, c, d, e, f) of the window."""
        return (
            RESOLUTION,
            0.0,
            self.col_left * RESOLUTION,
            0.0,
            -RESOLUTION,
            (self.row_top + 0.5) * RESOLUTION,
        )

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees."""
        return (
            self.col_left * RESOLUTION,
            (self.row_bottom - 0.5) * RESOLUTION,
            (self.col_right + 1) * RESOLUTION,
            (self.row_top + 0.5) * RESOLUTION,
        )

    def intersection(self, other: Window) -> Window | None:
        top = min(self.row_top, other.row_top)
        bottom = max(self.row_bottom, other.row_bottom)
        left = max(self.col_left, other.col_left)
        right = min(self.col_right, other.col_right)
        if top < bottom or left > right:
            return None
        return Window(top, bottom, left, right)

    def union(self, other: Window) -> Window:
        """The smallest window holding both."""
        return Window(
            max(self.row_top, other.row_top),
            min(self.row_bottom, other.row_bottom),
            min(self.col_left, other.col_left),
            max(self.col_right, other.col_right),
        )

    def contains(self, other: Window) -> bool:
        return self.union(other) == self

    def slices_of(self, inner: Window) -> tuple[slice, slice]:
        """Array slices of ``inner`` inside an array covering this window."""
        if not self.contains(inner):
            raise ValueError(f"{inner} is not inside {self}")
        r0 = self.row_top - inner.row_top
        c0 = inner.col_left - self.col_left
        h, w = inner.shape
        return slice(r0, r0 + h), slice(c0, c0 + w)


def bbox_window(west: float, south: float, east: float, north: float) -> Window:
    """Every pixel that overlaps the box (degrees) by more than a sliver."""
    if not (west < east and south < north):
        raise ValueError(
            f"bbox must be given as WEST SOUTH EAST NORTH with west < east and "
            f"south < north; got {west} {south} {east} {north}"
        )
    if not (-180 <= west and east <= 180 and -90 <= south and north <= 90):
        raise ValueError(f"bbox {west} {south} {east} {north} is outside -180..180, -90..90")
    col_left = math.floor(west * TILE_PIXELS + _EPS)
    col_right = math.ceil(east * TILE_PIXELS - _EPS) - 1
    row_bottom = math.floor(south * TILE_PIXELS - 0.5 + _EPS) + 1
    row_top = math.ceil(north * TILE_PIXELS + 0.5 - _EPS) - 1
    return Window(row_top, row_bottom, col_left, col_right)


@dataclass(frozen=True, order=True)
class Tile:
    """A JAXA 1-degree tile, named after its north-west corner."""

    north: int
    west: int

    @property
    def name(self) -> str:
        ns = "N" if self.north >= 0 else "S"
        ew = "E" if self.west >= 0 else "W"
        return f"{ns}{abs(self.north):02d}{ew}{abs(self.west):03d}"

    @classmethod
    def from_name(cls, name: str) -> Tile:
        """``N31E031`` -> Tile(31, 31); ValueError for anything else."""
        match = re.fullmatch(r"([NS])(\d{2})([EW])(\d{3})", name)
        if match is None:
            raise ValueError(f"{name!r} is not a tile name like N31E031")
        ns, north, ew, west = match.groups()
        return cls(int(north) * (1 if ns == "N" else -1), int(west) * (1 if ew == "E" else -1))

    @property
    def window(self) -> Window:
        top = self.north * TILE_PIXELS
        left = self.west * TILE_PIXELS
        return Window(top, top - TILE_PIXELS + 1, left, left + TILE_PIXELS - 1)


def tiles_over(window: Window) -> list[tuple[Tile, Window]]:
    """The tiles a window touches, each with the part of the window inside it."""
    norths = range(math.ceil(window.row_bottom / TILE_PIXELS), math.ceil(window.row_top / TILE_PIXELS) + 1)
    wests = range(window.col_left // TILE_PIXELS, window.col_right // TILE_PIXELS + 1)
    out = []
    for north in reversed(norths):
        for west in wests:
            tile = Tile(north, west)
            part = tile.window.intersection(window)
            if part is not None:
                out.append((tile, part))
    return out
