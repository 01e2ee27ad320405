"""HTTP with limits for what a catalog or a bucket sends: every request has a connect and a read
timeout, the whole transfer a deadline and a size cap, and a request (or a redirect) may go only
to the places we chose."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sar_helpers.cubes.localcube.base import CubeError

if TYPE_CHECKING:
    import requests

#: How many bytes one read may wait for before the deadline is checked again.
_READ = 1 << 16


class TransferError(CubeError):
    """A transfer broke a limit or went where it may not; the message names the address."""


def origin(url: str) -> str:
    """``scheme://host:port`` of an address (the default port made explicit)."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def session(origins: set[str], deadline: float, max_bytes: int, what: str) -> "requests.Session":
    """A requests session that sends requests, and follows redirects, only to ``origins``, and
    reads every answer whole within ``deadline`` (``time.monotonic()``) and ``max_bytes``."""
    import requests
    from requests.adapters import HTTPAdapter

    class GuardedAdapter(HTTPAdapter):
        def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
            url = request.url or ""
            if origin(url) not in origins:
                raise TransferError(
                    f"{what} sent us to {url}, which is not {' or '.join(sorted(origins))}: refused (we follow "
                    "links and redirects only to the address we were given)."
                )
            if time.monotonic() > deadline:
                raise TransferError(f"{what} took longer than its deadline; stopped before {url}.")
            response = super().send(request, True, timeout, verify, cert, proxies)
            if not stream:
                # The body read here, piece by piece, so that a server dripping bytes meets the deadline.
                response._content = b"".join(read_body(response, deadline, max_bytes, what))
            return response

    guarded = requests.Session()
    guarded.max_redirects = 5
    for scheme in ("http://", "https://"):
        guarded.mount(scheme, GuardedAdapter(max_retries=0))
    return guarded


def read_body(
    response: "requests.Response", deadline: float, max_bytes: int, what: str, decode: bool = True
) -> Iterator[bytes]:
    """The body of a streamed response, in pieces, refused past ``deadline`` or ``max_bytes``;
    ``decode`` False keeps the bytes as sent (a .tar.gz a server labels gzip-encoded stays gzip)."""
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise TransferError(f"{what} took longer than its deadline while sending {response.url}.")
            piece = response.raw.read1(_READ, decode_content=decode)
            if not piece:
                return
            size += len(piece)
            if size > max_bytes:
                raise TransferError(f"{what} sent more than {max_bytes >> 20} MiB from {response.url}: refused.")
            yield piece
    finally:
        response.close()
