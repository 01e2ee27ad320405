"""Facts about the JAXA annual SAR mosaic products, in one place.

Everything else in the package (the local test datacube, calibration, observation
dates, plotting) reads these facts from here instead of repeating them.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

#: Pixel size of the mosaics in degrees (0.8 arc-second, about 25 m), as the
#: product definitions state it.
RESOLUTION = 0.000222222222222

#: Pixels per 1-degree JAXA tile along each axis.
TILE_PIXELS = 4500

#: CRS of storage and of the default load grid.
CRS = "EPSG:4326"

#: The ``mask`` band's classes.
MASK_CLASSES: dict[str, int] = {
    "no_data": 0,
    "water": 50,
    "lay_over": 100,
    "shadowing": 150,
    "land": 255,
}

#: Mask classes whose backscatter is valid for analysis.
VALID_CLASSES: tuple[str, ...] = ("land", "water")

#: DN value meaning "no data" in every band.
NODATA = 0


@dataclass(frozen=True)
class Platform:
    """A satellite whose mosaics a product holds."""

    name: str
    instrument: str
    launch: _dt.date
    years: tuple[int, ...]
    #: Suffix of the file names of this platform's mosaics, e.g. ``_F02DAR``.
    file_suffix: str


ALOS = Platform("ALOS", "PALSAR", _dt.date(2006, 1, 24), (2007, 2008, 2009, 2010), "")
ALOS2 = Platform(
    "ALOS-2", "PALSAR-2", _dt.date(2014, 5, 24), tuple(range(2015, 2023)), "_F02DAR"
)
JERS1 = Platform("JERS-1", "SAR", _dt.date(1992, 2, 11), (1996,), "")

PLATFORMS: dict[str, Platform] = {p.name: p for p in (ALOS, ALOS2, JERS1)}


@dataclass(frozen=True)
class Measurement:
    name: str
    dtype: str
    aliases: tuple[str, ...] = ()
    description: str = ""


MEASUREMENTS: dict[str, Measurement] = {
    m.name: m
    for m in (
        Measurement("hh", "uint16", description="HH backscatter amplitude, DN"),
        Measurement("hv", "uint16", description="HV backscatter amplitude, DN"),
        Measurement("date", "uint16", description="observation date, days after launch"),
        Measurement(
            "linci",
            "uint8",
            ("local incidence angle", "incidence"),
            "local incidence angle, degrees",
        ),
        Measurement("mask", "uint8", description="quality mask, see flags_definition"),
    )
}


@dataclass(frozen=True)
class Product:
    """An annual mosaic product as the datacube knows it."""

    name: str
    title: str
    platforms: tuple[Platform, ...]
    bands: tuple[str, ...]
    #: Calibration constant of gamma-nought: dB = 10*log10(DN**2) + calibration.
    calibration_db: float

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(y for p in self.platforms for y in p.years)

    def platform_for_year(self, year: int) -> Platform:
        for platform in self.platforms:
            if year in platform.years:
                return platform
        raise ValueError(
            f"{self.name} has no mosaic for {year}; its years are "
            f"{', '.join(map(str, self.years))}"
        )


ALOS_PALSAR_MOSAIC = Product(
    "alos_palsar_mosaic",
    "ALOS/PALSAR and ALOS-2/PALSAR-2 annual mosaics of L-band backscatter, 25 m, "
    "dual polarisation (HH, HV)",
    (ALOS, ALOS2),
    ("hh", "hv", "linci", "date", "mask"),
    -83.0,
)
JERS_SAR_MOSAIC = Product(
    "jers_sar_mosaic",
    "JERS-1 SAR annual mosaic of L-band backscatter, 25 m, single polarisation (HH)",
    (JERS1,),
    ("hh", "linci", "date", "mask"),
    -84.66,
)

PRODUCTS: dict[str, Product] = {p.name: p for p in (ALOS_PALSAR_MOSAIC, JERS_SAR_MOSAIC)}


def get_platform(name: str) -> Platform:
    """The platform called ``name`` (as datasets record it), or a ValueError listing the known ones."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ValueError(
            f"Unknown platform {name!r}: the SAR mosaics come from {', '.join(PLATFORMS)}. "
            "Is this a load of another product?"
        ) from None


def product_of(platform: Platform) -> Product:
    """The mosaic product that holds a platform's data."""
    return next(p for p in PRODUCTS.values() if platform in p.platforms)


def get_product(name: str) -> Product:
    """The product called ``name``, or a ValueError listing the known ones."""
    try:
        return PRODUCTS[name]
    except KeyError:
        raise ValueError(
            f"Unknown product {name!r}: this package knows {', '.join(PRODUCTS)}."
        ) from None
