"""JAXA EORC's archive, stood in on 127.0.0.1 with the test cube's mosaics: behind HTTP basic auth
(``tester`` / ``secret``), ``/jaxa/{YEAR}/map.htm`` for each published year and
``/jaxa/{YEAR}/dir_gz/{YEAR}/{GROUP}/{TILE}_{YY}_MOS[_F02DAR].tar.gz`` for each tile and year the test
cube has (any other tile answers 404, as ocean does), with byte ranges. Each tarball holds the
tile's band GeoTIFFs, a header, and what a hostile tarball could add (a link named as a band, a
member whose path climbs). ``/_truncate?on=1`` serves every tarball cut in half. It runs in the
process ``tests/stac_api.py`` starts (``StacApi(..., flavour="jaxa")``).
"""

from __future__ import annotations

import base64
import io
import re
import tarfile
from pathlib import Path

from werkzeug import Request, Response
from werkzeug.utils import send_file

from stac_api import App

USER, PASSWORD = "tester", "secret"
_TARBALL = re.compile(
    r"/jaxa/(\d{4})/dir_gz/(\d{4})/([NS]\d{2}[EW]\d{3})/([NS]\d{2}[EW]\d{3})_(\d{2})_MOS(_F02DAR)?\.tar\.gz"
)


def _add(archive: tarfile.TarFile, name: str, data: bytes, kind: bytes = tarfile.REGTYPE, target: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mtime = kind, len(data), target, 0
    archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def build_tarball(folder: Path, stem: str, target: Path) -> None:
    """The tarball JAXA publishes for one tile and year, from the test cube's files in ``folder``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as archive:
        tifs = sorted(folder.glob("*.tif"))
        _add(archive, f"{stem}/{tifs[0].name}", b"", tarfile.SYMTYPE, "/etc/passwd")  # a link named as a band
        _add(archive, "../escape.tif", b"not here")  # a path that climbs out
        for tif in tifs:
            _add(archive, f"{stem}/{tif.name}", tif.read_bytes())
        _add(archive, f"{stem}/KC_{stem}.hdr", b"header\n")


class JaxaApp(App):
    """The archive over ``data`` (a test cube's data folder)."""

    def __init__(self, data: Path, log: Path, root: str, elsewhere: str):
        super().__init__(data, log, root, elsewhere)
        self.tarballs = log.parent / "jaxa-tarballs"
        self.truncate = False
        # Every year the test cube has, but 2022: a year the stand-in has "not published yet".
        self.years = sorted({int(p.name) for p in data.glob("alos_palsar_mosaic/*/*")} - {2022} | {1996})

    def respond(self, request: Request) -> Response:
        if request.path == "/_truncate":
            self.truncate = request.args.get("on") == "1"
            return Response("ok")
        if not request.path.startswith("/jaxa/"):
            return super().respond(request)
        expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return Response("Unauthorized", status=401, headers={"WWW-Authenticate": 'Basic realm="JAXA"'})
        year_page = re.fullmatch(r"/jaxa/(\d{4})/map\.htm", request.path)
        if year_page:
            published = int(year_page.group(1)) in self.years
            return Response("<html>map</html>", content_type="text/html") if published else Response("", status=404)
        match = _TARBALL.fullmatch(request.path)
        if match is None:
            return Response("not found", status=404)
        year, tile = match.group(1), match.group(4)
        product = "jers_sar_mosaic" if year == "1996" else "alos_palsar_mosaic"
        folder = self.data / product / tile / year
        if not folder.is_dir():
            return Response("not found", status=404)  # no such tile: ocean
        name = request.path.rsplit("/", 1)[-1]
        target = self.tarballs / year / name
        if not target.exists():
            build_tarball(folder, name.removesuffix(".tar.gz"), target)
        if self.truncate:
            data = target.read_bytes()
            return Response(data[: len(data) // 2], content_type="application/gzip")
        # As a web server sends a .tar.gz: the file's bytes, labelled gzip-encoded.
        response = send_file(target, request.environ, mimetype="application/x-tar", conditional=True)
        response.headers["Content-Encoding"] = "gzip"
        return response
