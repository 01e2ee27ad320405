"""Facts about the JAXA annual SAR mosaic products, in one place.

Everything else in the package (the local test datacube, calibration, observation
dates, plotting) reads these facts from here instead of repeating them.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from importlib.resources import files

import yaml

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
    #: Years of this satellite's mosaics.
    years: tuple[int, ...]
    #: First and last year in orbit (None: still flying). The three satellites' years
    #: do not overlap, so a mosaic's year names its satellite.
    in_orbit: tuple[int, int | None]
    #: Suffix of the file names of this platform's mosaics, e.g. ``_F02DAR``.
    file_suffix: str

    def flew_in(self, year: int) -> bool:
        first, last = self.in_orbit
        return first <= year and (last is None or year <= last)


ALOS = Platform("ALOS", "PALSAR", _dt.date(2006, 1, 24), (2007, 2008, 2009, 2010), (2006, 2011), "_F__DAR")
ALOS2 = Platform("ALOS-2", "PALSAR-2", _dt.date(2014, 5, 24), tuple(range(2015, 2023)), (2014, None), "_F02DAR")
JERS1 = Platform("JERS-1", "SAR", _dt.date(1992, 2, 11), (1996,), (1992, 1998), "")

PLATFORMS: dict[str, Platform] = {p.name: p for p in (ALOS, ALOS2, JERS1)}


@dataclass(frozen=True)
class Product:
    """An annual mosaic product as the datacube knows it."""

    name: str
    platforms: tuple[Platform, ...]
    bands: tuple[str, ...]
    #: Calibration constant of gamma-nought: dB = 10*log10(DN**2) + calibration
    #: (None for a product of classes, such as the forest/non-forest map).
    calibration_db: float | None
    #: ``eo:platform`` and ``eo:instrument`` as Digital Earth Africa's dataset metadata
    #: gives them for every dataset of the product ("ALOS/ALOS-2" for ALOS and ALOS-2 alike).
    platform_label: str
    instrument_label: str

    @property
    def cf(self) -> str | None:
        """The calibration factor as the dataset metadata states it, e.g. "83.0 dB"."""
        return None if self.calibration_db is None else f"{-self.calibration_db} dB"

    def published_definition(self) -> dict:
        """Digital Earth Africa's product definition (``datacube product add`` document), verbatim."""
        text = (files(__package__) / "definitions" / f"{self.name}.odc-product.yaml").read_text()
        return yaml.safe_load(text)

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(y for p in self.platforms for y in p.years)

    def platform_for_year(self, year: int) -> Platform:
        for platform in self.platforms:
            if year in platform.years:
                return platform
        raise ValueError(f"{self.name} has no mosaic for {year}; its years are {', '.join(map(str, self.years))}")


ALOS_PALSAR_MOSAIC = Product(
    "alos_palsar_mosaic",
    (ALOS, ALOS2),
    ("hh", "hv", "date", "linci", "mask"),
    -83.0,
    "ALOS/ALOS-2",
    "PALSAR/PALSAR-2",
)
JERS_SAR_MOSAIC = Product(
    "jers_sar_mosaic",
    (JERS1,),
    ("hh", "date", "linci", "mask"),
    -84.66,
    "JERS-1",
    "SAR",
)

#: JAXA's forest/non-forest map, made from the same mosaics (our product name; Planetary Computer's
#: collection ``alos-fnf-mosaic``). One measurement, ``fnf``, of the classes in ``FNF_CLASSES``.
ALOS_FNF_MOSAIC = Product(
    "alos_fnf_mosaic",
    (ALOS, ALOS2),
    ("fnf",),
    None,
    "ALOS/ALOS-2",
    "PALSAR/PALSAR-2",
)

#: The ``fnf`` band's classes (JAXA's 4-class maps, version 2; 0 is no data). The older 3-class
#: maps (1 forest, 2 non-forest, 3 water) give 2 another meaning.
FNF_CLASSES: dict[str, int] = {"no_data": 0, "dense_forest": 1, "non_dense_forest": 2, "non_forest": 3, "water": 4}

PRODUCTS: dict[str, Product] = {p.name: p for p in (ALOS_PALSAR_MOSAIC, JERS_SAR_MOSAIC, ALOS_FNF_MOSAIC)}


def platforms_named(label: str) -> tuple[Platform, ...]:
    """The satellites a dataset's platform label names: one ("ALOS-2") or several
    separated by "/" ("ALOS/ALOS-2", as Digital Earth Africa labels every ALOS and
    ALOS-2 mosaic); a ValueError for a name that is none of them."""
    names = [part.strip() for part in str(label).split("/")]
    unknown = [name for name in names if name not in PLATFORMS]
    if unknown or not names:
        raise ValueError(
            f"Unknown platform {label!r}: the SAR mosaics come from {', '.join(PLATFORMS)} "
            "(Digital Earth Africa labels ALOS and ALOS-2 together as 'ALOS/ALOS-2'). "
            "Is this a load of another product?"
        )
    return tuple(PLATFORMS[name] for name in names)


def platform_in_orbit(year: int) -> Platform:
    """The satellite that made a mosaic of ``year``: JERS-1 1992-1998, ALOS 2006-2011,
    ALOS-2 from 2014; a ValueError for a year none of them flew."""
    for platform in PLATFORMS.values():
        if platform.flew_in(year):
            return platform
    spans = ", ".join(
        f"{p.name} {p.in_orbit[0]}-{p.in_orbit[1]}" if p.in_orbit[1] else f"{p.name} from {p.in_orbit[0]}"
        for p in PLATFORMS.values()
    )
    raise ValueError(
        f"No SAR mosaic satellite flew in {year} ({spans}), so a time step labelled {year} "
        "cannot be an ALOS, ALOS-2 or JERS-1 mosaic. Check the time labels."
    )


def product_of(platform: Platform) -> Product:
    """The backscatter mosaic product that holds a platform's data."""
    return next(p for p in PRODUCTS.values() if platform in p.platforms and p.calibration_db is not None)


def calibration_of(platform: Platform) -> float:
    """The calibration constant (dB) of a platform's backscatter mosaics."""
    constant = product_of(platform).calibration_db
    assert constant is not None  # product_of gives backscatter products only
    return constant


def get_product(name: str) -> Product:
    """The product called ``name``, or a ValueError listing the known ones."""
    try:
        return PRODUCTS[name]
    except KeyError:
        raise ValueError(f"Unknown product {name!r}: this package knows {', '.join(PRODUCTS)}.") from None
