"""Where a band's pixels are: a local file, a GeoTIFF behind an http(s) URL, or something only
datacube's own reader reads (a layer of a container, another format)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from datacube.storage import BandInfo
from datacube.utils.documents import get_doc_offset
from datacube.utils.uris import uri_resolve, uri_to_local_path


class BandFile(NamedTuple):
    """What the reader takes of datacube's ``BandInfo``: the file's URI, band index and layer, its format."""

    uri: str
    band: int | None
    layer: str | int | None
    format: str


def band_file(dataset, name: str) -> BandFile:
    """``BandInfo(dataset, name)``'s file, read from the dataset's document at its metadata type's
    offsets: each of ``BandInfo``'s dataset properties evaluates every search field of the document
    (1.3 ms a band, holding the interpreter while a load's other files wait on it). Where the
    document is not laid out so (several locations, no such offsets), ``BandInfo`` itself."""
    offsets = dataset.metadata_type.definition.get("dataset", {})
    try:
        if dataset.has_multiple_uris():
            raise KeyError("several locations")
        doc = dataset.metadata_doc
        (measurement,) = dataset.product.lookup_measurements([name]).values()
        entry = get_doc_offset(offsets["measurements"], doc)[measurement.canonical_name]
        file_format = get_doc_offset(offsets["format"], doc)
    except (KeyError, TypeError):
        info = BandInfo(dataset, name)
        return BandFile(str(info.uri), info.band, info.layer, info.format)
    band, layer = entry.get("band"), entry.get("layer")
    if band is None and isinstance(layer, int):  # a layer number is a band, as BandInfo reads it
        band, layer = layer, None
    return BandFile(uri_resolve(dataset.uri, entry.get("path")), band, layer, file_format or "")


def file_location(band: BandFile) -> Path | str | None:
    """A local file's path, a GeoTIFF's http(s) URL, or None where datacube must read the band."""
    if band.layer is not None:
        return None  # a layer of a container
    uri = str(band.uri)
    if uri.startswith("file:"):
        return uri_to_local_path(uri)
    if urlsplit(uri).scheme in ("http", "https") and str(band.format).lower() in ("geotiff", "cog"):
        return uri  # another format (Planetary Computer's signed one) has its own reader
    return None


def behind_urls(datasets: Sequence, names: Sequence[str]) -> bool:
    """Are any of these bands of these datasets GeoTIFFs behind an http(s) URL (read as :func:`.reading.read_at_once` reads)?"""
    return any(isinstance(file_location(band_file(dataset, name)), str) for dataset in datasets for name in names)
