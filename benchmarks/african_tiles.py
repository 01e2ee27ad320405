"""Derive the list of Africa's 1° mosaic tiles that hold land, which benchmarks/continental.py plans for.

    .venv/bin/python -m pip download --no-deps geopandas==0.14.4 -d /tmp/ne
    .venv/bin/python -m pip install --target /tmp/ne/site pyshp
    PYTHONPATH=/tmp/ne/site .venv/bin/python benchmarks/african_tiles.py /tmp/ne/geopandas-0.14.4-py3-none-any.whl

The land is Natural Earth's 1:110 million countries (public domain), as geopandas 0.14 ships
them (its ``naturalearth_lowres`` dataset, which has each country's continent), read from the
wheel with pyshp; neither is a dependency of the project, so this runs once and its result is
committed as ``african_land_tiles.txt``. A tile counts when a country whose continent is Africa
covers part of it. At that scale small islands are missing (Cape Verde, the Comoros, Mauritius,
Seychelles, São Tomé and Príncipe) and coasts are drawn to within tens of kilometres, so the count
is good to a few per cent, which is what a plan needs. Tiles are named as JAXA names them, by
their north-west corner (N31E031 spans 30–31° N, 31–32° E).
"""

from __future__ import annotations

import math
import sys
import zipfile
from pathlib import Path

import shapefile  # pyshp
from shapely.geometry import box, shape

SHAPES = "geopandas/datasets/naturalearth_lowres/naturalearth_lowres"
OUTPUT = Path(__file__).with_name("african_land_tiles.txt")


def tile_name(west: int, north: int) -> str:
    """JAXA's name of the 1° tile whose north-west corner is (west, north)."""
    return f"{'N' if north >= 0 else 'S'}{abs(north):02d}{'E' if west >= 0 else 'W'}{abs(west):03d}"


def african_land(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        parts = {ext: archive.open(f"{SHAPES}.{ext}") for ext in ("shp", "shx", "dbf")}
        encoding = archive.read(f"{SHAPES}.cpg").decode().strip()  # the text's code page
        reader = shapefile.Reader(**parts, encoding=encoding)
        return [
            (record["name"], shape(geometry.__geo_interface__))
            for record, geometry in zip(reader.records(), reader.shapes(), strict=True)
            if record["continent"] == "Africa"
        ]


def main(wheel: Path) -> None:
    tiles = set()
    countries = african_land(wheel)
    for _, land in countries:
        west, south, east, north = land.bounds
        for x in range(math.floor(west), math.ceil(east)):
            for y in range(math.floor(south), math.ceil(north)):
                if land.intersection(box(x, y, x + 1, y + 1)).area > 0:
                    tiles.add(tile_name(x, y + 1))
    header = (
        f"# {len(tiles)} 1-degree tiles holding land of Natural Earth's 1:110m countries of Africa "
        f"({len(countries)} countries; geopandas 0.14.4's naturalearth_lowres), made by benchmarks/african_tiles.py"
    )
    OUTPUT.write_text("\n".join([header, *sorted(tiles)]) + "\n")
    print(header)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
