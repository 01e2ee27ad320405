"""Each finished dataset folder records what its files should be (``files.json``: size and
sha256 of every other file, written last), so a truncated or damaged file is found and
rendered again: by size on every ``up``, by checksum with ``up --verify``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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


def remove_recorded(data: Path, products: list[str]) -> list[Path]:
    """Delete what a cube wrote under ``data/PRODUCT/``: each dataset folder's files as its record
    lists them, unfinished ones (``*.partial-PID``), and the folders this leaves empty; never
    following a link. Returns the files that stay: the cube did not make them."""
    if not data.is_dir() or data.is_symlink():
        return []
    for product in products:
        top = data / product
        if not top.is_dir() or top.is_symlink():
            continue
        for folder, subfolders, files in os.walk(top, topdown=False):
            here = Path(folder)
            for name in [*subfolders, *files]:
                path = here / name
                if ".partial-" not in name or not (path.exists() or path.is_symlink()):
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            for path in recorded_files(here):
                if path.is_symlink() or path.is_file():
                    path.unlink()
            if here != top and not any(here.iterdir()):
                here.rmdir()
        if not any(top.iterdir()):
            top.rmdir()
    return sorted(Path(folder) / name for folder, _, files in os.walk(data) for name in files)
