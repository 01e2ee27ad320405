"""A synthetic but plausible L-band scene east of Cairo, for the local test datacube.

The scene is a pure function of the global pixel indices (see :mod:`.grid`) and
of the acquisition that a pixel comes from, so any window of any year renders the
same pixels whatever box was asked for, and tiles meet without a seam.

What is in it:

* desert sand (dark, with dune texture) almost everywhere;
* a town whose built-up area (bright HH, moderate HV, a street grid) grows from
  acquisition to acquisition, and a second one that appears after 2008;
* irrigated fields west of a canal, each parcel changing from year to year;
* water (a canal and a lake, very dark, mask ``water``);
* two small hills, each with a lay-over patch (bright, mask ``lay_over``) and a
  shadow patch (very dark, mask ``shadowing``);
* multiplicative speckle of a 4-look intensity image;
* acquisition strips in the ``date`` band, whose values over the published
  tutorial's area reproduce its table of observation dates;
* a no-data sliver (mask ``no_data``, DN 0 in every band) north of that area in 2016.

Determinism: only integer arithmetic and IEEE-754 basic operations (+, -, *, /,
sqrt) touch the arrays; every value that needs a transcendental function is a
scalar or a table computed once and rounded, so the same inputs give the same
bytes on any CPU.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sar_helpers.products import MASK_CLASSES, TILE_PIXELS, Platform, Product

# --------------------------------------------------------------------------- acquisitions


@dataclass(frozen=True)
class Strip:
    """One acquisition strip: its date (days after launch) and its eastern edge.

    The edge is the longitude at latitude ``STRIP_REFERENCE_LAT``; strips lean
    like ascending orbit paths. ``east=None`` extends the strip eastwards forever.
    """

    date: int
    east: float | None


STRIP_REFERENCE_LAT = 30.46
STRIP_LEAN = 0.1  # degrees of longitude per degree of latitude

#: Strips west to east for each mosaic year. Over the tutorial area (longitude
#: 31.90-32.10, latitude 30.37-30.55) their dates give the published table;
#: strips in the margin carry other dates on purpose.
ACQUISITIONS: dict[int, tuple[Strip, ...]] = {
    1996: (Strip(1663, 31.99), Strip(1617, None)),
    2007: (Strip(505, 31.875), Strip(582, 31.96), Strip(551, 32.03), Strip(519, None)),
    2008: (Strip(979, 31.98), Strip(950, 32.125), Strip(996, None)),
    2009: (Strip(1318, 32.05), Strip(1301, None)),
    2010: (Strip(1669, 31.93), Strip(1655, 32.06), Strip(1640, None)),
    2015: (Strip(395, 31.878), Strip(409, None)),
    2016: (Strip(773, None),),
    2017: (Strip(1137, 32.125), Strip(1151, None)),
    2018: (Strip(1403, None),),
    2019: (Strip(1669, 31.877), Strip(1683, None)),
    2020: (Strip(2411, None),),
    2021: (Strip(2775, 32.124), Strip(2761, None)),
    # Over the tutorial area the 2022 mosaic reuses the 2021-12-28 acquisition.
    2022: (Strip(2775, 32.124), Strip(3125, None)),
}

#: (year, southern edge latitude) of no-data slivers: nothing was acquired north of it.
NODATA_SLIVERS: dict[int, float] = {2016: 30.578}


def acquisition_date(platform: Platform, date_dn: int) -> dt.date:
    return platform.launch + dt.timedelta(days=int(date_dn))


def _decimal_year(day: dt.date) -> float:
    start = dt.date(day.year, 1, 1)
    length = (dt.date(day.year + 1, 1, 1) - start).days
    return day.year + (day - start).days / length


# --------------------------------------------------------------------------- noise


_MIX = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xC2B2AE3D27D4EB4F),
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
)
_OFFSET = 1 << 24  # keeps global indices positive before they become unsigned


def _hash_uniform(seed: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A uniform value in [0, 1) for each integer pair: splitmix64 of the pair."""
    x = (np.asarray(a, np.int64) + _OFFSET).astype(np.uint64) * _MIX[0]
    x = x ^ ((np.asarray(b, np.int64) + _OFFSET).astype(np.uint64) * _MIX[1]) ^ np.uint64(seed)
    x ^= x >> np.uint64(30)
    x *= _MIX[2]
    x ^= x >> np.uint64(27)
    x *= _MIX[3]
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _value_noise(rows: np.ndarray, cols: np.ndarray, cell: int, seed: int) -> np.ndarray:
    """Smooth noise in [0, 1): random values on a lattice of ``cell`` pixels, blended."""
    gr, fr = np.divmod(rows, cell)
    gc, fc = np.divmod(cols, cell)
    sr = fr / cell
    sc = fc / cell
    sr = sr * sr * (3 - 2 * sr)
    sc = sc * sc * (3 - 2 * sc)
    top = _hash_uniform(seed, gr, gc) * (1 - sc) + _hash_uniform(seed, gr, gc + 1) * sc
    bottom = _hash_uniform(seed, gr + 1, gc) * (1 - sc) + _hash_uniform(seed, gr + 1, gc + 1) * sc
    return top * (1 - sr) + bottom * sr


# Speckle: the amplitude of a LOOKS-look intensity image is sqrt of the mean of
# LOOKS unit exponentials; an exponential is drawn by table look-up of -ln(u).
LOOKS = 4
_EXP_TABLE = np.array([round(-math.log((k + 0.5) / 4096), 9) for k in range(4096)], dtype=np.float64)
SPECKLE_BLOCK = 500  # pixels; speckle is drawn per global block so windows agree


def _speckle(seed: tuple[int, ...], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Amplitude speckle (mean square 1) over rows x cols, drawn per global block."""
    size = SPECKLE_BLOCK
    r_top, r_bottom = int(rows[0]), int(rows[-1])
    c_left, c_right = int(cols[0]), int(cols[-1])
    out = np.empty((len(rows), len(cols)), dtype=np.float64)
    # Block (br, bc) holds rows -br*size down to -br*size - size + 1 and
    # columns bc*size to bc*size + size - 1.
    for br in range((-r_top) // size, (-r_bottom) // size + 1):
        for bc in range(c_left // size, c_right // size + 1):
            sequence = np.random.SeedSequence([*seed, br + _OFFSET, bc + _OFFSET])
            rng = np.random.Generator(np.random.PCG64(sequence))
            draws = rng.integers(0, len(_EXP_TABLE), size=(LOOKS, size, size))
            block = np.sqrt(_EXP_TABLE[draws].sum(axis=0) / LOOKS)
            block_top, block_left = -br * size, bc * size
            top, bottom = min(r_top, block_top), max(r_bottom, block_top - size + 1)
            left, right = max(c_left, block_left), min(c_right, block_left + size - 1)
            out[r_top - top : r_top - bottom + 1, left - c_left : right - c_left + 1] = block[
                block_top - top : block_top - bottom + 1, left - block_left : right - block_left + 1
            ]
    return out


# --------------------------------------------------------------------------- backscatter


def amplitude(db: float) -> float:
    """ALOS DN amplitude of a gamma-nought in dB (calibration -83.0), rounded."""
    return round(10 ** ((db + 83.0) / 20), 3)


#: JERS-1 DNs run this much above ALOS DNs for the same backscatter (-84.66 vs -83.0 dB).
JERS_GAIN = round(10 ** (1.66 / 20), 9)

# Mean HH and HV gamma-nought (dB) of each cover, as ALOS DN amplitudes.
SAND = (amplitude(-21.0), amplitude(-29.5))
ROCK = (amplitude(-14.0), amplitude(-22.0))
TOWN = (amplitude(-4.0), amplitude(-13.0))
STREET = (amplitude(-12.0), amplitude(-21.0))
WATER = (amplitude(-27.0), amplitude(-34.0))
LAYOVER = (amplitude(-1.0), amplitude(-9.0))
SHADOW = (amplitude(-32.0), amplitude(-36.0))
# Field parcels: a crop's backscatter depends on its stage at the acquisition.
FIELD_STAGES = tuple(
    (amplitude(hh), amplitude(hv))
    for hh, hv in ((-15.0, -24.0), (-12.0, -19.5), (-10.0, -16.5), (-8.0, -14.5), (-17.0, -26.0))
)

# Where things are (degrees).
TOWN_CENTRE = (32.02, 30.47)
NEW_TOWN_CENTRE = (31.95, 30.40)
CANAL_LON = 31.935
LAKE = (32.065, 30.405, 0.009, 0.006)  # lon, lat, semi-axes
HILLS = ((31.97, 30.39), (32.085, 30.53))
FIELDS_EAST = CANAL_LON - 0.003  # fields lie west of the canal


def _town_radius(year: float) -> float:
    return 0.012 + 0.0045 * (year - 1996)


def _new_town_radius(year: float) -> float:
    return max(0.0, 0.0032 * (year - 2008))


def _ellipse(lon, lat, centre, semi) -> np.ndarray:
    x = (lon - centre[0]) / semi[0]
    y = (lat - centre[1]) / semi[1]
    return x * x + y * y < 1


def _render_acquisition(platform: Platform, date_dn: int, rows: np.ndarray, cols: np.ndarray) -> dict[str, np.ndarray]:
    """All bands of one acquisition over rows x cols, before no-data is applied."""
    when = _decimal_year(acquisition_date(platform, date_dn))
    r = rows[:, None]
    c = cols[None, :]
    lat = r / TILE_PIXELS
    lon = c / TILE_PIXELS

    dunes = _value_noise(r, c, 90, seed=1)
    hh = SAND[0] * (0.8 + 0.4 * dunes)
    hv = SAND[1] * (0.8 + 0.4 * dunes)
    incidence = (36.0 if platform.name == "ALOS-2" else 38.5) + 3.0 * _value_noise(r, c, 400, seed=2)
    mask = np.full(hh.shape, MASK_CLASSES["land"], dtype=np.uint8)

    def paint(where, cover, texture=None):
        factor = 1.0 if texture is None else texture
        hh[...] = np.where(where, cover[0] * factor, hh)
        hv[...] = np.where(where, cover[1] * factor, hv)

    # Irrigated fields: 16-pixel parcels whose crop stage changes every year.
    fields = (lon < FIELDS_EAST) & (lat > 30.43) & (_value_noise(r, c, 250, seed=3) > 0.3)
    if fields.any():
        stage = (_hash_uniform(int(when) * 7919, r // 16, c // 16) * len(FIELD_STAGES)).astype(int)
        stages = np.array(FIELD_STAGES)
        hh[...] = np.where(fields, stages[stage, 0], hh)
        hv[...] = np.where(fields, stages[stage, 1], hv)

    # Towns: a street grid of bright blocks, growing with time.
    edge = 0.75 + 0.5 * _value_noise(r, c, 60, seed=4)
    dx, dy = lon - TOWN_CENTRE[0], (lat - TOWN_CENTRE[1]) / 0.85
    town = dx * dx + dy * dy < (_town_radius(when) * edge) ** 2
    dx, dy = lon - NEW_TOWN_CENTRE[0], lat - NEW_TOWN_CENTRE[1]
    town |= dx * dx + dy * dy < (_new_town_radius(when) * edge) ** 2
    street = (r % 12 == 0) | (c % 12 == 0)
    block_texture = 0.6 + 0.8 * _hash_uniform(5, r // 12, c // 12)
    paint(town & ~street, TOWN, block_texture)
    paint(town & street, STREET)

    # Hills: rock, with lay-over on the side facing the radar (west) and shadow east.
    for centre in HILLS:
        rock = _ellipse(lon, lat, centre, (0.009, 0.006))
        layover = _ellipse(lon, lat, (centre[0] - 0.0035, centre[1]), (0.0025, 0.002))
        shadow = _ellipse(lon, lat, (centre[0] + 0.0035, centre[1]), (0.0025, 0.002))
        paint(rock, ROCK, 0.8 + 0.4 * dunes)
        paint(layover, LAYOVER)
        paint(shadow, SHADOW)
        incidence = np.where(rock, incidence + 12.0 * (lon - centre[0]) / 0.009, incidence)
        incidence = np.where(layover, 8.0, np.where(shadow, 75.0, incidence))
        mask[layover] = MASK_CLASSES["lay_over"]
        mask[shadow] = MASK_CLASSES["shadowing"]

    # Water: a meandering canal about 3 pixels wide, and a lake.
    canal = np.abs(lon - (CANAL_LON + 0.004 * (_value_noise(r, np.zeros_like(c), 300, seed=6) - 0.5))) < 0.00035
    lake = _ellipse(lon, lat, LAKE[:2], LAKE[2:])
    water = canal | lake
    paint(water, WATER)
    mask[water] = MASK_CLASSES["water"]
    return _as_acquired(platform, date_dn, rows, cols, hh, hv, incidence) | {"mask": mask}


def _as_acquired(platform: Platform, date_dn: int, rows: np.ndarray, cols: np.ndarray, hh, hv, incidence) -> dict:
    """The backscatter with the acquisition's speckle (and JERS-1's gain) as DNs; the incidence as degrees."""
    seed = (sum(map(ord, platform.name)), date_dn)
    hh = hh * _speckle(seed + (1,), rows, cols)
    if platform.name == "JERS-1":
        hh = hh * JERS_GAIN
    bands = {"hh": hh, "hv": hv * _speckle(seed + (2,), rows, cols)}
    bands = {k: np.clip(np.rint(v), 1, 65535).astype(np.uint16) for k, v in bands.items()}
    bands["linci"] = np.clip(np.rint(incidence), 1, 90).astype(np.uint8)
    return bands


def strip_dates(
    acquisitions: tuple[Strip, ...], reference_lat: float, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """The ``date`` DN of every pixel, from one year's acquisition strips (west to east)."""
    lat = rows[:, None] / TILE_PIXELS
    lon = cols[None, :] / TILE_PIXELS
    lean = (lat - reference_lat) * STRIP_LEAN
    dates = np.zeros((len(rows), len(cols)), dtype=np.uint16)
    assigned = np.zeros(dates.shape, dtype=bool)
    for strip in acquisitions:
        here = ~assigned if strip.east is None else ~assigned & (lon + 0.5 / TILE_PIXELS < strip.east + lean)
        dates[here] = strip.date
        assigned |= here
    return dates


@dataclass(frozen=True)
class Scene:
    """What a scene is made of: its acquisitions per year, how one acquisition renders (every
    band of the backscatter product, and the forest/non-forest classes), and its no-data slivers."""

    acquisitions: dict[int, tuple[Strip, ...]]
    reference_lat: float
    bands: Callable[[Platform, int, np.ndarray, np.ndarray], dict[str, np.ndarray]]
    forest_classes: Callable[[Platform, int, np.ndarray, np.ndarray], np.ndarray] | None = None
    slivers: dict[int, float] = field(default_factory=dict)


def render(
    product: Product, year: int, rows: np.ndarray, cols: np.ndarray, scene: Scene | None = None
) -> dict[str, np.ndarray]:
    """Every band of ``product``'s mosaic for ``year`` over global ``rows`` x ``cols``, from
    ``scene`` (default: the desert east of Cairo).

    ``rows`` run north to south (descending indices), ``cols`` west to east.
    """
    scene = scene or DESERT
    platform = product.platform_for_year(year)
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    dates = strip_dates(scene.acquisitions[year], scene.reference_lat, rows, cols)
    shape = dates.shape
    if product.bands == ("fnf",):
        if scene.forest_classes is None:
            raise ValueError(f"{product.name} is not made for this scene.")
        out = {"date": dates, "fnf": np.zeros(shape, np.uint8)}
        draw = scene.forest_classes
        draw_bands = lambda p, d, r, c: {"fnf": draw(p, d, r, c)}  # noqa: E731
    else:
        out = {"date": dates, "hh": np.zeros(shape, np.uint16), "hv": np.zeros(shape, np.uint16)}
        out |= {"linci": np.zeros(shape, np.uint8), "mask": np.zeros(shape, np.uint8)}
        draw_bands = scene.bands
    for date_dn in np.unique(dates):
        here = dates == date_dn
        used = np.flatnonzero(here.any(axis=0))
        span = slice(used[0], used[-1] + 1)  # render only the strip's columns
        bands = draw_bands(platform, int(date_dn), rows, cols[span])
        for name, values in bands.items():
            out[name][:, span] = np.where(here[:, span], values, out[name][:, span])

    south_edge = scene.slivers.get(year)
    if south_edge is not None:
        missing = (rows[:, None] - 0.5) / TILE_PIXELS >= south_edge
        missing = np.broadcast_to(missing, dates.shape)
        for values in out.values():
            values[missing] = 0
    return {name: out[name] for name in product.bands}


DESERT = Scene(ACQUISITIONS, STRIP_REFERENCE_LAT, _render_acquisition, slivers=NODATA_SLIVERS)
