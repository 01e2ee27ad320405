"""An interactive map of the area a query covers."""

from __future__ import annotations

import folium
from odc.geo.geom import box

#: Esri's imagery, as Digital Earth Africa's notebooks show it.
ESRI_IMAGERY = (
    "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}",
    "Tiles &copy; Esri",
)


def display_map(
    x: tuple[float, float], y: tuple[float, float], crs: str = "EPSG:4326", tiles=ESRI_IMAGERY
) -> folium.Map:
    """A folium map zoomed to a box, with the box drawn.

    Building the map needs no network: the tiles and Leaflet's scripts are fetched by the browser
    that shows it, so offline the box is still there but the background stays blank.

    Parameters
    ----------
    x, y : (float, float)
        The box's edges, smallest first, in ``crs``.
    crs : str, default "EPSG:4326"
        The box's CRS.
    tiles : (str, str), str or None
        A (URL template, attribution) pair (default: Esri's imagery), a folium tile name such as
        "OpenStreetMap", or None for no background.

    Returns
    -------
    folium.Map
        The map; shown when it is a cell's last value.
    """
    (x0, x1), (y0, y1) = sorted(x), sorted(y)
    if x0 == x1 or y0 == y1:
        raise ValueError(f"The box x={x}, y={y} has no area; give two different values for each.")
    west, south, east, north = box(x0, y0, x1, y1, crs).to_crs("EPSG:4326").boundingbox
    if isinstance(tiles, tuple):
        url, attribution = tiles
        m = folium.Map(tiles=url, attr=attribution, control_scale=True)
    else:
        m = folium.Map(tiles=tiles, control_scale=True)
    folium.Rectangle(
        bounds=[[south, west], [north, east]], color="red", weight=2, fill=False, tooltip="query area"
    ).add_to(m)
    m.fit_bounds([[south, west], [north, east]])
    return m
