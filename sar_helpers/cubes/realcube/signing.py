"""Reading Planetary Computer's files: each URL signed when a file is opened, never when indexed.

Planetary Computer keeps its COGs in Azure Blob Storage, readable with a SAS token appended to the
URL; a token lasts about 45 minutes. A cube indexed yesterday, or a notebook that runs for two
hours, must still read, so the index holds the plain blob URLs and the datasets say so in their
format (:data:`SIGNED_FORMAT`). datacube chooses its reader by URL scheme and format: this module
is that reader (registered under ``datacube.plugins.io.read``), and signs each URL as the file is
opened. No token is written to the index, a file or a log.

The token service and its settings are the ``planetary-computer`` package's: ``PC_SDK_SAS_URL``
(where tokens come from) and ``PC_SDK_SUBSCRIPTION_KEY`` (sent as a header; optional), from the
environment or ``~/.planetarycomputer/settings.env``. Tokens are cached per storage container
and replaced when less than a minute is left, as the package does; ours are fetched with a
deadline and a size cap. ``SAR_PC_BLOB_URL`` (e.g. ``http://127.0.0.1:8080/blob``) reads
``https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH`` from ``SAR_PC_BLOB_URL/ACCOUNT/CONTAINER/PATH``
instead: a local server standing in for the blob host.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sar_helpers.cubes.localcube.base import CubeError

if TYPE_CHECKING:
    from datacube.drivers.datasource import DataSource
    from planetary_computer.sas import SASToken

#: The format of datasets whose files are read through signed URLs.
SIGNED_FORMAT = "GeoTIFF (SAS-signed)"
#: Blob hosts whose URLs are signed.
BLOB_DOMAIN = ".blob.core.windows.net"
BLOB_URL_ENV = "SAR_PC_BLOB_URL"
#: A token with less than this many seconds left is replaced (planetary-computer's own margin).
REFRESH_S = 60.0
TOKEN_TIMEOUT_S = (10.0, 30.0)
TOKEN_DEADLINE_S = 60.0
TOKEN_MAX_BYTES = 1 << 16

_tokens: dict[str, "SASToken"] = {}
_lock = threading.Lock()


class SigningError(CubeError):
    """A file could not be signed or read with its token; the message says why, without the token."""


def blob_parts(url: str) -> tuple[str, str, str]:
    """(account, container, path) of a blob URL, or a SigningError."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    account = host.removesuffix(BLOB_DOMAIN)
    container, _, path = parts.path.lstrip("/").partition("/")
    if parts.scheme != "https" or not host.endswith(BLOB_DOMAIN) or not account or not container or not path:
        raise SigningError(
            f"{url[:120]!r} is not an https://ACCOUNT{BLOB_DOMAIN}/CONTAINER/PATH address, the only kind signed here."
        )
    return account, container, path


def _planetary_computer():
    """The ``planetary-computer`` package's token model and settings (imported quietly: its models
    use a pydantic style that pydantic 2 warns about, which is not the user's to fix)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from planetary_computer.sas import SASToken
        from planetary_computer.settings import Settings
    return SASToken, Settings


def _token_url(account: str, container: str) -> str:
    _, settings = _planetary_computer()
    return f"{settings.get().sas_url.rstrip('/')}/{account}/{container}"


def _fetch_token(account: str, container: str) -> "SASToken":
    """A new token from the token service, within a deadline; errors name the service, never the key."""
    import requests

    from .transfer import TransferError, origin, session

    sas_token, settings = _planetary_computer()
    url = _token_url(account, container)
    what = f"Planetary Computer's token service at {url}"
    key = settings.get().subscription_key
    guarded = session({origin(url)}, time.monotonic() + TOKEN_DEADLINE_S, TOKEN_MAX_BYTES, what)
    try:
        response = guarded.get(
            url, headers={"Ocp-Apim-Subscription-Key": key} if key else None, timeout=TOKEN_TIMEOUT_S
        )
    except (requests.exceptions.RequestException, TransferError) as err:
        raise SigningError(
            f"{what} did not answer ({type(err).__name__}): check the network, or PC_SDK_SAS_URL if you set it."
        ) from None
    if response.status_code in (401, 403):
        raise SigningError(
            f"{what} refused a token for {account}/{container} (HTTP {response.status_code}): check "
            "PC_SDK_SUBSCRIPTION_KEY, or unset it to read anonymously."
        )
    if not response.ok:
        raise SigningError(f"{what} answered HTTP {response.status_code}; try again later.")
    try:
        token = sas_token(**response.json())
    except Exception:  # anything that is not a token is refused alike
        raise SigningError(f"{what} answered something that is not a SAS token; refused.") from None
    if token.ttl() <= 0:
        raise SigningError(f"{what} sent a token that has already expired; check this machine's clock.")
    return token


def token_for(account: str, container: str) -> "SASToken":
    """The cached token of a container (per token service), replaced when less than
    :data:`REFRESH_S` seconds are left."""
    key = _token_url(account, container)
    with _lock:
        token = _tokens.get(key)
        if token is None or token.ttl() < REFRESH_S:
            token = _tokens[key] = _fetch_token(account, container)
    return token


def read_url(url: str) -> str:
    """The address to open for an indexed blob URL: the blob host (or ``SAR_PC_BLOB_URL``'s stand-in)
    with a fresh token. A secret: never log it."""
    account, container, path = blob_parts(url)
    token = token_for(account, container)
    stand_in = os.environ.get(BLOB_URL_ENV)
    base = f"{stand_in.rstrip('/')}/{account}/{container}/{path}" if stand_in else url.split("?")[0]
    return f"{base}?{token.token}"


def _signed_datasource():
    """The datasource class, made on first use so that importing this module loads no datacube."""
    import rasterio
    from datacube.storage._rio import BandDataSource, RasterDatasetDataSource
    from datacube.utils.math import num2numpy

    class SignedDataSource(RasterDatasetDataSource):
        """datacube's GeoTIFF datasource, opening a freshly signed URL in place of the indexed one."""

        @contextmanager
        def open(self):
            url = str(self._band_info.uri)
            try:
                src = rasterio.open(read_url(url), sharing=False)
            except rasterio.errors.RasterioIOError as err:
                reason = str(err).split("?")[0][:160]  # GDAL's message may quote the signed URL: cut it there
                raise SigningError(
                    f"Reading {url} with a Planetary Computer token failed ({reason}): the token may have been "
                    "refused or the file moved; run again, and check PC_SDK_SUBSCRIPTION_KEY if it persists."
                ) from None
            with src:
                band = rasterio.band(src, self.get_bandnumber(src))
                declared = src.nodatavals[band.bidx - 1]
                nodata = num2numpy(self.nodata if declared is None else declared, band.dtype)
                yield BandDataSource(band, nodata=nodata)

    return SignedDataSource


class SignedReaderDriver:
    """datacube's reader-driver interface for :data:`SIGNED_FORMAT` datasets over https."""

    protocols = ["https"]
    formats = [SIGNED_FORMAT]

    def supports(self, protocol: str, fmt: str) -> bool:
        return protocol.lower() == "https" and fmt.lower() == SIGNED_FORMAT.lower()

    def new_datasource(self, band) -> "DataSource":
        return _signed_datasource()(band)


def reader_driver_init() -> SignedReaderDriver:
    """The entry point datacube calls (``datacube.plugins.io.read``)."""
    return SignedReaderDriver()
