"""A synthetic but plausible L-band scene of tropical forest east of Kisangani (Tshopo, DR Congo),
for the local test datacube, with its truth.

Why there: the forest around Kisangani is among the Congo Basin's fastest-cleared, mostly by
smallholders opening fields along the roads that leave the city (the RN4 towards Lubutu runs
east through this tile), with the Congo's swamp forests along the rivers and old plantations
nearby. The scene is synthetic (no real road, river or field is drawn where it really is),
but it has what a lesson on forest change needs, at the backscatter that
``../shared/reference/analysis.md`` gives for L-band at 25 m:

* dense forest (HH about -6.5 dB, HV -11.5), with patches of degraded forest (-8, -14);
* a river with swamp forest on its banks (double bounce: HH -1.5, HV as forest);
* a road whose fields advance eastwards year after year, each 10-pixel parcel cleared at its
  own moment (earlier near the road and in the west), some abandoned to regrow;
* three patches cleared at known moments (April 2008, April 2016, May 2019), the first
  regrowing from 2011, and a plantation cleared in 2009 and planted in 2010 that grows;
* a fresh clearing's first months: on a third of the parcels felled trunks keep HV near
  degraded forest's and raise HH for six months;
* ALOS-2 a few tenths of a dB brighter than ALOS (a cross-sensor step, ``CROSS_SENSOR_DB``);
* 4-look speckle, as the desert scene: a conservative choice (JAXA's mosaics average more
  looks than that; biota assumes 16), so a method that works here has speckle to spare;
* two acquisition strips per year in ``date``, in the dry season, none shared between years.

The truth, as pure functions of global pixel indices: :func:`cleared_at` (the decimal year
each pixel was cleared, inf if never), and :func:`forest_classes` (JAXA's four classes at an
acquisition), which is also the ``alos_fnf_mosaic`` product. Determinism as in :mod:`.scene`.
"""

from __future__ import annotations

import numpy as np

from sar_helpers.products import FNF_CLASSES, MASK_CLASSES, TILE_PIXELS, Platform

from .scene import (
    Scene,
    Strip,
    _as_acquired,
    _decimal_year,
    _hash_uniform,
    _value_noise,
    acquisition_date,
    amplitude,
)

#: The default area: 0.2° x 0.15° of tile N01E025, east of Kisangani.
FOREST_BBOX = (25.30, 0.40, 25.50, 0.55)
#: Latitudes (degrees) of the tiles this scene fills; the desert scene fills the others.
LATITUDES = (-10.0, 10.0)

ACQUISITIONS: dict[int, tuple[Strip, ...]] = {
    1996: (Strip(1581, 25.41), Strip(1625, None)),
    2007: (Strip(527, 25.41), Strip(573, None)),
    2008: (Strip(896, 25.41), Strip(941, None)),
    2009: (Strip(1264, 25.41), Strip(1308, None)),
    2010: (Strip(1632, 25.41), Strip(1675, None)),
    2015: (Strip(443, 25.41), Strip(471, None)),
    2016: (Strip(808, 25.41), Strip(836, None)),
    2017: (Strip(1172, 25.41), Strip(1200, None)),
    2018: (Strip(1536, 25.41), Strip(1564, None)),
    2019: (Strip(1900, 25.41), Strip(1928, None)),
    2020: (Strip(2265, 25.41), Strip(2291, None)),
    2021: (Strip(2629, 25.41), Strip(2655, None)),
    2022: (Strip(2993, 25.41), Strip(3019, None)),
}
STRIP_REFERENCE_LAT = 0.47

# Covers: (HH, HV) as ALOS DN amplitudes of their mean gamma-nought in dB.
DENSE = (amplitude(-6.5), amplitude(-11.5))
DEGRADED = (amplitude(-8.0), amplitude(-14.0))
SWAMP = (amplitude(-1.5), amplitude(-11.5))
RIVER = (amplitude(-26.0), amplitude(-32.0))
ROAD = (amplitude(-10.5), amplitude(-19.0))
SLASH = (amplitude(-6.0), amplitude(-14.5))
FIELD_DARK = (amplitude(-11.0), amplitude(-20.0))
FIELD_BRIGHT = (amplitude(-8.5), amplitude(-17.0))
YOUNG_PALMS = (amplitude(-10.0), amplitude(-18.5))
MATURE_PALMS = (amplitude(-7.5), amplitude(-13.0))
#: ALOS-2's mosaics over this scene are this much brighter than ALOS's (dB, HH and HV).
CROSS_SENSOR_DB = 0.2
_ALOS2_GAIN = round(10 ** (CROSS_SENSOR_DB / 20), 9)

PARCEL = 10  # pixels (250 m): the unit of clearing along the road
ROAD_LAT, ROAD_HALF_WIDTH = 0.49, 0.00012
RIVER_LAT, RIVER_HALF_WIDTH = 0.425, 0.0011
SWAMP_REACH = 0.0035
#: Patches cleared at a known moment: (lon, lat, semi-axes lon and lat, decimal year, regrows).
PATCHES = (
    (25.46, 0.520, 0.010, 0.007, 2008.30, True),
    (25.34, 0.452, 0.008, 0.005, 2016.30, False),
    (25.48, 0.455, 0.007, 0.005, 2019.40, False),
)
PLANTATION = (25.315, 0.505, 25.345, 0.530)  # west, south, east, north
PLANTATION_CLEARED, PLANTATION_PLANTED = 2009.30, 2010.0
REGROWTH_DELAY, REGROWTH_YEARS = 3.0, 10.0
SLASH_MONTHS, SLASH_SHARE = 6, 0.3


def is_forest_tile(row: int) -> bool:
    """Does this scene fill the tile that holds global ``row`` (by its latitude)?"""
    lat = row / TILE_PIXELS
    return LATITUDES[0] <= lat <= LATITUDES[1]


def _lat_lon(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(rows)[:, None] / TILE_PIXELS, np.asarray(cols)[None, :] / TILE_PIXELS


def _meander(cols: np.ndarray, centre: float, swing: float, cell: int, seed: int) -> np.ndarray:
    """A line's latitude at each column: ``centre`` plus or minus ``swing`` degrees."""
    return centre + swing * (2 * _value_noise(np.zeros_like(cols), cols, cell, seed) - 1)


def _water_and_swamp(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat, _ = _lat_lon(rows, cols)
    off = np.abs(lat - _meander(np.asarray(cols)[None, :], RIVER_LAT, 0.008, 700, 32))
    water = off < RIVER_HALF_WIDTH
    swamp = ~water & (off < RIVER_HALF_WIDTH + SWAMP_REACH)
    swamp &= _value_noise(rows[:, None], cols[None, :], 120, 33) > 0.35
    return water, swamp


def _road(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    lat, _ = _lat_lon(rows, cols)
    return np.abs(lat - _meander(np.asarray(cols)[None, :], ROAD_LAT, 0.006, 400, 31)) < ROAD_HALF_WIDTH


def _parcels(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(when each road-side parcel was cleared, inf if never; whether it was left to regrow)."""
    pr, pc = np.asarray(rows)[:, None] // PARCEL, np.asarray(cols)[None, :] // PARCEL
    centre_lat = (pr * PARCEL + PARCEL // 2) / TILE_PIXELS
    centre_col = pc * PARCEL + PARCEL // 2
    centre_lon = centre_col / TILE_PIXELS
    distance = np.abs(centre_lat - _meander(centre_col, ROAD_LAT, 0.006, 400, 31))
    east = (centre_lon - FOREST_BBOX[0]) / (FOREST_BBOX[2] - FOREST_BBOX[0])
    when = 1997.0 + 24.0 * east + 300.0 * distance + 3.0 * _hash_uniform(11, pr, pc)
    taken = _hash_uniform(12, pr, pc) < 0.85 - 20.0 * distance
    return np.where(taken, when, np.inf), _hash_uniform(13, pr, pc) < 0.25


def _in_ellipse(lat, lon, patch) -> np.ndarray:
    x, y = (lon - patch[0]) / patch[2], (lat - patch[1]) / patch[3]
    return x * x + y * y < 1


def _plantation(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    lat, lon = _lat_lon(rows, cols)
    west, south, east, north = PLANTATION
    return (lon >= west) & (lon < east) & (lat >= south) & (lat < north)


def _clearing(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(when each pixel was cleared, inf if never; whether it regrows), water and swamp excluded."""
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    lat, lon = _lat_lon(rows, cols)
    when, regrows = _parcels(rows, cols)
    for patch in PATCHES:
        inside = _in_ellipse(lat, lon, patch)
        when = np.where(inside, patch[4], when)
        regrows = np.where(inside, patch[5], regrows)
    plantation = _plantation(rows, cols)
    when = np.where(plantation, PLANTATION_CLEARED, when)
    regrows = regrows & ~plantation
    water, swamp = _water_and_swamp(rows, cols)
    when = np.where(water | swamp | _road(rows, cols), np.inf, when)
    return np.broadcast_to(when, (len(rows), len(cols))), np.broadcast_to(regrows, (len(rows), len(cols)))


def cleared_at(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The truth: the decimal year each pixel's forest was cleared; inf where it never was
    (standing forest, swamp, river and road)."""
    return _clearing(rows, cols)[0].copy()


def _state(when: float, rows: np.ndarray, cols: np.ndarray) -> dict[str, np.ndarray]:
    """What covers each pixel at decimal year ``when``: masks of each state and the regrowth
    (or the plantation's growth) as a fraction 0-1."""
    cleared, regrows = _clearing(rows, cols)
    age = when - cleared
    water, swamp = _water_and_swamp(rows, cols)
    plantation = _plantation(rows, cols) & (age >= 0)
    growth = np.clip((when - PLANTATION_PLANTED) / 12.0, 0.0, 1.0)
    regrowth = np.where(regrows, np.clip((age - REGROWTH_DELAY) / REGROWTH_YEARS, 0.0, 1.0), 0.0)
    cleared_now = ~plantation & (age >= 0)
    # Felled trunks left to dry keep HV up for a few months, on some parcels (others are burnt at once).
    parcel_r, parcel_c = np.asarray(rows)[:, None] // PARCEL, np.asarray(cols)[None, :] // PARCEL
    slash = (age < SLASH_MONTHS / 12) & (_hash_uniform(14, parcel_r, parcel_c) < SLASH_SHARE)
    degraded = _value_noise(rows[:, None], cols[None, :], 250, 21) > 0.62
    return {
        "water": np.broadcast_to(water, age.shape),
        "swamp": np.broadcast_to(swamp, age.shape),
        "road": np.broadcast_to(_road(rows, cols), age.shape),
        "slash": cleared_now & slash,
        "field": cleared_now & ~slash,
        "regrowth": regrowth,
        "plantation": plantation,
        "growth": np.full(age.shape, growth),
        "degraded": np.broadcast_to(degraded, age.shape),
    }


def _blend(a: tuple[float, float], b: tuple[float, float], fraction: np.ndarray, band: int) -> np.ndarray:
    return a[band] + fraction * (b[band] - a[band])


def _render_acquisition(platform: Platform, date_dn: int, rows: np.ndarray, cols: np.ndarray) -> dict[str, np.ndarray]:
    """All bands of one acquisition over rows x cols."""
    when = _decimal_year(acquisition_date(platform, date_dn))
    state = _state(when, rows, cols)
    r, c = rows[:, None], cols[None, :]
    texture = 0.9 + 0.2 * _value_noise(r, c, 20, 22)
    yearly = 0.98 + 0.04 * _hash_uniform(int(when * 100), r // 30, c // 30)  # about +-0.2 dB a year
    stage = _hash_uniform(int(when) * 7919, r // PARCEL, c // PARCEL)  # each field's crop or fallow
    rows_of_palms = np.where(c % 4 == 0, 0.85, 1.0)
    out = []
    for band in (0, 1):
        value = np.where(state["degraded"], DEGRADED[band], DENSE[band]) * texture * yearly
        field = _blend(FIELD_DARK, FIELD_BRIGHT, stage, band)
        value = np.where(state["field"], field + state["regrowth"] * (DEGRADED[band] - field), value)
        value = np.where(state["slash"], SLASH[band], value)
        palms = _blend(YOUNG_PALMS, MATURE_PALMS, state["growth"], band) * rows_of_palms
        value = np.where(state["plantation"], palms, value)
        value = np.where(state["swamp"], SWAMP[band] * texture, value)
        value = np.where(state["road"], ROAD[band], value)
        value = np.where(state["water"], RIVER[band], value)
        out.append(value * _ALOS2_GAIN if platform.name == "ALOS-2" else value)
    incidence = (36.0 if platform.name == "ALOS-2" else 38.5) + 3.0 * _value_noise(r, c, 400, 2)
    mask = np.where(state["water"], MASK_CLASSES["water"], MASK_CLASSES["land"]).astype(np.uint8)
    return _as_acquired(platform, date_dn, rows, cols, out[0], out[1], incidence) | {"mask": mask}


def forest_classes(platform: Platform, date_dn: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """JAXA's forest/non-forest classes at one acquisition (the truth the ``fnf`` band holds):
    dense forest (standing forest and swamp forest), non-dense forest (degraded forest, regrowth
    more than half-way back, a plantation past 5 years), non-forest, water."""
    when = _decimal_year(acquisition_date(platform, date_dn))
    state = _state(when, rows, cols)
    classes = np.where(state["degraded"], FNF_CLASSES["non_dense_forest"], FNF_CLASSES["dense_forest"])
    cleared = state["field"] | state["slash"]
    classes = np.where(cleared, np.where(state["regrowth"] >= 0.5, 2, 3), classes)
    classes = np.where(state["plantation"], np.where(state["growth"] >= 5 / 12, 2, 3), classes)
    classes = np.where(state["road"], FNF_CLASSES["non_forest"], classes)
    classes = np.where(state["water"], FNF_CLASSES["water"], classes)
    return classes.astype(np.uint8)


FOREST = Scene(ACQUISITIONS, STRIP_REFERENCE_LAT, _render_acquisition, forest_classes)
