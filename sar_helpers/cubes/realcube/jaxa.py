"""JAXA EORC's own archive: every year of every tile, as tarballs of plain GeoTIFFs behind a free account.

For each tile and year over the area: a tarball ``{BASE}/{YEAR}/dir_gz/{YEAR}/{GROUP}/{TILE}_{YY}_MOS[_F02DAR].tar.gz``
(``GROUP`` the 5° cell named by its north-west corner; ``_F02DAR`` from ALOS-2 on) is downloaded
into ``downloads/`` (a broken transfer is resumed by the next ``up``), read as untrusted input
(only regular files named as a band's GeoTIFF are taken, never a path from the tarball), each band
checked (one band, the product's type, EPSG:4326 at the mosaics' pixel size, one grid for all) and
converted to a COG named and laid out as the other sources' files (``data/PRODUCT/YEAR/TILE/``), so
the fast local reader applies; then the dataset is indexed and the tarball deleted.

The account comes from ``JAXA_USERNAME`` and ``JAXA_PASSWORD`` or from ``~/.netrc`` (the
archive's host), never from the command line, and is never shown.
"""

from __future__ import annotations

import errno
import netrc
import os
import re
import tarfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sar_helpers.cubes.documents import dataset_document, file_name, window_of
from sar_helpers.cubes.grid import Tile
from sar_helpers.cubes.localcube.base import CubeError
from sar_helpers.cubes.localcube.status import SOURCE_PROPERTY
from sar_helpers.products import CRS, RESOLUTION, Product

from .limits import Limits
from .transfer import origin, read_body, session

USER_ENV, PASSWORD_ENV = "JAXA_USERNAME", "JAXA_PASSWORD"
#: A band's GeoTIFF in a tarball, by the stem JAXA gives it: ``N01E025_17_sl_HV_F02DAR.tif``.
_STEMS = {"hh": "sl_HH", "hv": "sl_HV", "date": "date", "linci": "linci", "mask": "mask"}
_MEMBER = re.compile(r"[NS]\d{2}[EW]\d{3}_\d{2}_(?:sl_)?(HH|HV|date|linci|mask)(?:_[A-Za-z0-9_]+)?\.tif", re.I)


class BrokenTarball(CubeError):
    """A downloaded tarball that cannot be read whole: delete it, and download it anew."""


@dataclass(frozen=True)
class Account:
    user: str
    password: str = field(repr=False)  # never in a log or a traceback's locals


def account(url: str) -> Account:
    """The user's JAXA account: the environment's, else ``~/.netrc``'s for the archive's host."""
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if user and password:
        return Account(user, password)
    host = urlsplit(url).hostname or ""
    try:
        found = netrc.netrc().authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError):
        found = None
    if found and found[0] and found[2]:
        return Account(found[0], found[2])
    raise CubeError(
        f"JAXA's archive needs a free account (https://www.eorc.jaxa.jp/ALOS/en/palsar_fnf/registration.htm): "
        f"set {USER_ENV} and {PASSWORD_ENV}, or add 'machine {host} login USER password PASSWORD' to ~/.netrc."
    )


def group_of(tile: Tile) -> str:
    """The 5° folder a tile is filed in, named by its north-west corner (N05E025 for N01E025, S05W065
    for S06W061)."""
    return Tile(-5 * (-tile.north // 5), 5 * (tile.west // 5)).name


def tarball_url(base: str, product: Product, tile: Tile, year: int) -> str:
    suffix = "_F02DAR" if product.platform_for_year(year).name == "ALOS-2" else ""
    return f"{base.rstrip('/')}/{year}/dir_gz/{year}/{group_of(tile)}/{tile.name}_{year % 100:02d}_MOS{suffix}.tar.gz"


def _get(guarded, url: str, who: Account, limits: Limits, **kwargs):
    import requests

    try:
        return guarded.get(url, auth=(who.user, who.password), timeout=limits.request_timeout, **kwargs)
    except requests.exceptions.RequestException as err:
        raise CubeError(
            f"JAXA's archive at {urlsplit(url).netloc} did not answer ({type(err).__name__}): check the network and "
            "run the same command again."
        ) from None


def _refused(status: int) -> CubeError | None:
    if status in (401, 403):
        return CubeError(
            f"JAXA's archive refused the account (HTTP {status}): check {USER_ENV} and {PASSWORD_ENV}, or ~/.netrc."
        )
    return None


def check_year(base: str, product: Product, year: int, who: Account, limits: Limits) -> None:
    """A CubeError unless JAXA has published the year (its year page answers)."""
    url = f"{base.rstrip('/')}/{year}/map.htm"
    guarded = session({origin(url)}, time.monotonic() + limits.deadline, 1 << 22, "JAXA's archive")
    response = _get(guarded, url, who, limits)
    refused = _refused(response.status_code)
    if refused is not None:
        raise refused
    if response.status_code == 404:
        raise CubeError(f"JAXA has not published the {year} mosaics ({product.name}): choose published years.")
    if not response.ok:
        raise CubeError(f"JAXA's archive answered HTTP {response.status_code} for {year}; try again later.")


def download(url: str, target: Path, who: Account, limits: Limits, progress: bool) -> bool:
    """The tarball at ``url`` into ``target``, resuming a ``.partial`` an earlier run left; False if
    JAXA has no such tarball (404: ocean, or outside the mosaic)."""
    from tqdm.auto import tqdm

    partial = target.with_name(target.name + ".partial")
    have = partial.stat().st_size if partial.exists() else 0
    what = f"JAXA's archive ({url})"
    deadline = time.monotonic() + limits.deadline
    guarded = session({origin(url)}, deadline, limits.max_file_bytes, what)
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
    with _get(guarded, url, who, limits, stream=True, headers=headers) as response:
        refused = _refused(response.status_code)
        if refused is not None:
            raise refused
        if response.status_code == 404:
            return False
        if response.status_code == 416 and have:  # nothing left to fetch
            partial.replace(target)
            return True
        if response.status_code not in (200, 206):
            raise CubeError(f"{what} answered HTTP {response.status_code}; run the same command again.")
        mode = "ab" if response.status_code == 206 else "wb"
        total = int(response.headers.get("Content-Length", 0) or 0) + (have if mode == "ab" else 0)
        with (
            partial.open(mode) as out,
            tqdm(
                total=total or None,
                initial=have if mode == "ab" else 0,
                unit="B",
                unit_scale=True,
                desc=f"Downloading {target.name}",
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            for piece in read_body(response, deadline, limits.max_file_bytes, what, decode=False):
                out.write(piece)
                bar.update(len(piece))
    partial.replace(target)
    return True


def _bands_of(tarball: Path, product: Product, folder: Path, stem: str) -> dict[str, Path]:
    """Each band's GeoTIFF taken out of the tarball into ``folder`` (as ``stem.BAND.tif``): only
    regular files named as a band's file; anything else in it is left alone."""
    wanted = {v.lower(): k for k, v in _STEMS.items() if k in product.bands}
    found: dict[str, Path] = {}
    try:
        with tarfile.open(tarball, "r:*") as archive:
            for member in archive:
                name = member.name.rsplit("/", 1)[-1]
                match = _MEMBER.fullmatch(name)
                if not member.isreg() or match is None:
                    continue
                key = ("sl_" + match.group(1) if match.group(1).upper() in ("HH", "HV") else match.group(1)).lower()
                band = wanted.get(key)
                if band is None or band in found:
                    continue
                path = folder / f"{stem}.{band}.tif"
                source = archive.extractfile(member)
                assert source is not None
                with source, path.open("wb") as out:
                    while piece := source.read(1 << 20):
                        out.write(piece)
                found[band] = path
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            raise
        raise BrokenTarball(
            f"The tarball {tarball.name} is truncated or not a tarball ({type(err).__name__}): deleted; run the same "
            "command again to download it anew."
        ) from None
    missing = sorted(set(product.bands) - set(found))
    if missing:
        raise BrokenTarball(
            f"The tarball {tarball.name} has no {', '.join(missing)} GeoTIFF: deleted; run the same command again to "
            "download it anew."
        )
    return found


def convert(tarball: Path, product: Product, tile: Tile, year: int, folder: Path) -> dict:
    """The tarball's bands as COGs in ``folder``, named as the other sources name them; the dataset's
    eo3 document (paths relative to ``folder``). Nothing is left in ``folder`` if it fails."""
    import numpy as np
    import rasterio

    from sar_helpers.loading.cog import write_array

    folder.mkdir(parents=True, exist_ok=True)
    stem = f".unpacked-{os.getpid()}"
    written: list[Path] = []
    try:
        extracted = _bands_of(tarball, product, folder, stem)
        measurements = {m["name"]: m for m in product.published_definition()["measurements"]}
        grid = None
        for band, path in extracted.items():
            with rasterio.open(path) as src:
                measurement = measurements[band]
                if (
                    src.count != 1
                    or src.dtypes[0] != measurement["dtype"]
                    or src.crs != rasterio.crs.CRS.from_string(CRS)
                ):
                    raise CubeError(
                        f"{tarball.name}'s {band} is not a one-band {measurement['dtype']} {CRS} GeoTIFF: refused."
                    )
                if not np.isclose(src.transform.a, RESOLUTION) or (
                    grid is not None and grid != (src.transform, src.shape)
                ):
                    raise CubeError(f"{tarball.name}'s {band} is not on the mosaics' grid: refused.")
                grid = (src.transform, src.shape)
                values = src.read(1)
            target = folder / file_name(product, tile, year, band)
            written.append(target)
            write_array(target, values, grid[0], CRS, measurement["nodata"])
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    finally:
        for path in folder.glob(f"{stem}.*"):
            path.unlink()
    assert grid is not None
    window = window_of(list(grid[0])[:6], grid[1])
    if not tile.window.contains(window):
        raise CubeError(f"{tarball.name} covers pixels outside tile {tile.name}: refused.")
    return dataset_document(product, tile, year, window, {SOURCE_PROPERTY: "jaxa"})


def full_disk(err: BaseException) -> bool:
    return (isinstance(err, OSError) and err.errno == errno.ENOSPC) or "No space left on device" in str(err)
