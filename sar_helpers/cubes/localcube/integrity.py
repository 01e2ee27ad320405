"""Each finished dataset folder records what its files should be (``files.json``: size and
sha256 of every other file, written last), so a truncated or damaged file is found and
rendered again: by size on every ``up``, by checksum with ``up --verify``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

#: In each dataset folder: the size and sha256 of every other file, written last.
FILE_RECORD = "files.json"


def file_sha256(path: Path) -> str:
    """sha256 of a file, read a MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_files(folder: Path) -> None:
    """Write ``files.json``: what each file of a finished dataset folder should be."""
    record = {
        path.name: {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
        for path in sorted(folder.iterdir())
        if path.name != FILE_RECORD
    }
    (folder / FILE_RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def damaged_files(folder: Path, verify: bool = False) -> list[Path]:
    """Files of a dataset folder that are missing or differ from its record: by size, and
    with ``verify`` by checksum too. A folder without a readable record counts as damaged."""
    try:
        record = json.loads((folder / FILE_RECORD).read_text())
    except (OSError, ValueError):
        return [folder / FILE_RECORD]
    damaged = []
    for name, expected in record.items():
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            damaged.append(path)
            continue
        if size != expected["bytes"] or (verify and file_sha256(path) != expected["sha256"]):
            damaged.append(path)
    return damaged


def recorded_files(folder: Path) -> list[Path]:
    """The files a dataset folder's record lists, and the record itself (what the cube wrote
    there); none when there is no readable record. Names that are not plain file names are
    passed over: they cannot be ours."""
    try:
        record = json.loads((folder / FILE_RECORD).read_text())
    except (OSError, ValueError):
        return []
    names = [name for name in record if isinstance(name, str) and name not in ("", ".", "..") and "/" not in name]
    return [folder / name for name in names] + [folder / FILE_RECORD]
