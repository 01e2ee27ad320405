"""The catalogs a real cube can be indexed from, and how each one's items become our products.

Every source's items are rewritten into one shape before they are checked and indexed: the
collection named as our product, the assets keyed by our measurement names, the tile in
``odc:region_code``, and the source in ``sar_helpers:source``; so the notebooks load the same
products and measurements whichever source a cube came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping

from sar_helpers.cubes.localcube.base import CubeError
from sar_helpers.cubes.localcube.status import SOURCE_PROPERTY
from sar_helpers.products import Product

from .items import TILE_NAME
from .signing import SIGNED_FORMAT

if TYPE_CHECKING:
    import pystac


@dataclass(frozen=True)
class Source:
    """One catalog of the mosaics: where it is, what it calls our products and bands, how its files are read."""

    name: str
    title: str
    catalog: str
    #: Our product name -> the catalog's collection id.
    collections: Mapping[str, str]
    #: Where its files are, as the catalog gives them -> an address GDAL reads (--url-replace's default).
    url_replace: tuple[tuple[str, str], ...] = ()
    #: The catalog's asset keys that differ from our measurement names -> ours.
    assets: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Its files are read through URLs signed when opened (Planetary Computer's SAS tokens).
    signed: bool = False
    #: Where it has mosaics, for the sentence that says an area has none.
    coverage: str = ""
    #: Not a STAC API: an archive of tarballs, downloaded and converted (:mod:`.jaxa`).
    archive: bool = False

    def collection(self, product: str) -> str:
        """The collection that holds ``product``, or a CubeError naming what this source has."""
        if product not in self.collections:
            raise CubeError(
                f"{self.title} has no {product}; it serves {', '.join(sorted(self.collections))}. "
                "Choose another --source or --product."
            )
        return self.collections[product]


DEAFRICA = Source(
    name="deafrica",
    title="Digital Earth Africa",
    catalog="https://explorer.digitalearth.africa/stac",
    collections=MappingProxyType({"alos_palsar_mosaic": "alos_palsar_mosaic", "jers_sar_mosaic": "jers_sar_mosaic"}),
    # Its items point at the public bucket; the same files are served over HTTPS, which GDAL
    # reads without any AWS set-up.
    url_replace=(("s3://deafrica-input-datasets/", "https://deafrica-input-datasets.s3.af-south-1.amazonaws.com/"),),
    coverage="Digital Earth Africa's mosaics cover Africa",
)
PLANETARY_COMPUTER = Source(
    name="planetary-computer",
    title="Microsoft Planetary Computer",
    catalog="https://planetarycomputer.microsoft.com/api/stac/v1",
    collections=MappingProxyType({"alos_palsar_mosaic": "alos-palsar-mosaic", "alos_fnf_mosaic": "alos-fnf-mosaic"}),
    assets=MappingProxyType({"HH": "hh", "HV": "hv", "C": "fnf"}),
    signed=True,
    coverage="Planetary Computer has ALOS-2 mosaics from 2015 and forest/non-forest maps, worldwide",
)
JAXA = Source(
    name="jaxa",
    title="JAXA EORC's archive",
    catalog="https://www.eorc.jaxa.jp/ALOS/en/palsar_fnf/data",
    collections=MappingProxyType({"alos_palsar_mosaic": "alos_palsar_mosaic", "jers_sar_mosaic": "jers_sar_mosaic"}),
    coverage="JAXA publishes every year of every land tile",
    archive=True,
)
SOURCES = {source.name: source for source in (DEAFRICA, PLANETARY_COMPUTER, JAXA)}


def get_source(name: str) -> Source:
    if name not in SOURCES:
        raise CubeError(f"There is no source {name!r}; choose one of {', '.join(SOURCES)}.")
    return SOURCES[name]


def source_of(properties: Mapping) -> str:
    """The source a dataset's properties record (datasets indexed before sources were recorded: deafrica)."""
    return str(properties.get(SOURCE_PROPERTY) or DEAFRICA.name)


def normalised(item: "pystac.Item", source: Source, product: Product) -> "pystac.Item":
    """A copy of one of ``source``'s items in our products' shape (see the module's docstring),
    with only the product's bands among its assets (not, say, Planetary Computer's XML metadata).

    An item of another collection keeps its collection, to be refused by name; the tile comes
    from the item's id (``N02E009_21_...``) where the item does not name it.
    """
    item = item.clone()
    if item.collection_id == source.collections.get(product.name):
        item.collection_id = product.name
    bands = set(product.bands)
    renamed = {source.assets.get(key, key): asset for key, asset in item.assets.items()}
    item.assets.clear()
    item.assets.update({band: asset for band, asset in renamed.items() if band in bands})
    if "odc:region_code" not in item.properties and TILE_NAME.fullmatch(str(item.id)[:7]):
        item.properties["odc:region_code"] = str(item.id)[:7]
    item.properties[SOURCE_PROPERTY] = source.name
    if source.signed:
        item.properties["odc:file_format"] = SIGNED_FORMAT
    return item
