"""Failures from the libraries below us, turned into one sentence that says what to do.

Two kinds reach users of a datacube most often: its database has gone away (not
started, killed, a reboot), and a data file cannot be read (truncated or damaged, behind a
server that keeps failing, or a local path on a worker that cannot read it).
The command line, the Jupyter kernel extension and the loaders all word them here.
"""

from __future__ import annotations

import os
import re


class DatabaseUnavailable(RuntimeError):
    """The datacube's database cannot be reached; the message says how to start it."""


class RemoteFileUnreadable(OSError):
    """A file behind a URL could not be read, after GDAL's retries; the message names it."""


class LocalFileUnreadable(OSError):
    """A cube's local file is missing or not readable here (a worker elsewhere, or another user);
    the message names it and says what to do."""


def local_file_message(path: str) -> str:
    """The sentence for a cube's local file this process cannot read."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a user id without a name
        user = f"uid {os.getuid()}"
    return (
        f"The file {path} cannot be read by this process ({user} on {socket.gethostname()}): a cube's local "
        "files are read where they were made, so Dask workers on other machines or as other users cannot "
        "read them; use a real cube (`sar-helpers realcube up`), whose files are read over HTTPS, or put the "
        "cube folder on storage every worker reads at the same path."
    )


def remote_file_message(url: str, error: BaseException) -> str:
    """The sentence for a file behind ``url`` whose read failed with ``error`` (its query string,
    which may hold a token, left out)."""
    cause: BaseException | None = error
    innermost = str(error)
    for _ in range(10):  # GDAL's own words are at the end of the chain
        if cause is None:
            break
        innermost = str(cause)
        cause = cause.__cause__ or cause.__context__
    return (
        f"The file {url.split('?', 1)[0]} could not be read over the network: the server failed or cut its "
        f"answer short ({innermost.strip()[:200]}), even after GDAL's retries; try again later, or copy the "
        "files once with `sar-helpers realcube up --download` and read them locally."
    )


def is_database_lost(error: BaseException) -> bool:
    """Is ``error`` a lost or refused connection to the index database?"""
    import psycopg2
    import sqlalchemy.exc

    if isinstance(error, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, (psycopg2.OperationalError, psycopg2.InterfaceError))


def database_down_message(error: BaseException) -> str:
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    return (
        f"The datacube database cannot be reached ({reason}). Start it with `sar-helpers testcube up` "
        "(or `sar-helpers realcube up ...` for the real-data cube, or `make setup`), then run this again."
    )


_FILE_IN_MESSAGE = re.compile(r"([^\s:'\"]+\.tiff?)\b", re.IGNORECASE)


def unreadable_file_message(error: BaseException) -> str | None:
    """One sentence naming the file a failed raster read was reading, or None if ``error``
    is not such a failure. GDAL names the file in an exception further down the chain."""
    import rasterio.errors

    if not isinstance(error, rasterio.errors.RasterioError):  # RasterioIOError among them
        return None
    chain: list[str] = []
    cause: BaseException | None = error
    while cause is not None and len(chain) < 10:
        chain.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    return unreadable_file_sentence("\n".join(chain))


def unreadable_file_sentence(text: str) -> str | None:
    """The sentence for a traceback's text, if it names the file a read failed on."""
    named = _FILE_IN_MESSAGE.search(text)
    if named is None:
        return None
    return (
        f"The data file {named.group(1)} could not be read: it is damaged or incomplete. For the test cube, "
        "`sar-helpers testcube up --verify` renders damaged files again; for files that `realcube up "
        "--download` copied, delete the file and run that command again."
    )
