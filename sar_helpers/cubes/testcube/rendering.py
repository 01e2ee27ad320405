"""Rendering datasets in parallel worker processes, each into a ``.partial`` folder that
is moved into place only when complete: a build killed at any point leaves finished
datasets and removable leftovers, never a half-written dataset where a reader looks."""

from __future__ import annotations

import errno
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import yaml

from sar_helpers.cubes import documents
from sar_helpers.cubes.grid import Tile, Window
from sar_helpers.cubes.localcube.base import CubeError
from sar_helpers.cubes.localcube.integrity import record_files, recorded_files
from sar_helpers.products import Product

from .rasters import write_dataset_rasters

DOC_SUFFIX = ".odc-metadata.yaml"
#: Free bytes below which a failed write is taken for a full disk.
_NEARLY_FULL = 1 << 20


@dataclass(frozen=True)
class DatasetJob:
    """One dataset to render: a product's tile and year, over ``window`` of the tile."""

    product: Product
    tile: Tile
    year: int
    window: Window


def _init_worker() -> None:
    """Worker initialiser: on Linux, end this worker when the building process is killed;
    and leave GDAL's complaints to the exception the failed write raises (the building
    process turns that into one sentence)."""
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 2)  # libtiff prints each failed write here; the exception carries the error
    os.close(quiet)
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _own_files(folder: Path) -> set[Path]:
    """What a dataset folder holds of the cube's: the files its record lists, and (for a folder an
    older version wrote without a record) its documents and the files they name."""
    own = set(recorded_files(folder))
    for doc in folder.glob(f"*{DOC_SUFFIX}"):
        own.add(doc)
        try:
            measurements = (yaml.safe_load(doc.read_text()) or {}).get("measurements") or {}
            own.update(folder / Path(str(m["path"])).name for m in measurements.values())
        except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError):
            continue  # a damaged document names nothing
    return own


def _retire(old: Path, new: Path) -> None:
    """Delete a replaced dataset folder; what it held that the cube did not make (a note of the
    user's) moves into its replacement, where it was."""
    own = _own_files(old)
    for path in old.iterdir():
        if path not in own and not (new / path.name).exists():
            path.rename(new / path.name)
    shutil.rmtree(old)


def _exchange(first: Path, second: Path) -> None:
    """Swap two folders atomically (Linux renameat2 RENAME_EXCHANGE): a reader finds the old
    dataset or the new one at ``second``, never none."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    at_cwd, rename_exchange = -100, 2
    if libc.renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), rename_exchange) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"Cannot swap {first} and {second}: {os.strerror(code)}")


def _render_job(folder: str, job: DatasetJob) -> str:
    """Render one dataset into ``folder`` (runs in a worker process)."""
    path = Path(folder)
    write_dataset_rasters(path, job.product, job.tile, job.year, job.window)
    doc = documents.dataset_document(job.product, job.tile, job.year, job.window)
    (path / f"{doc['label']}{DOC_SUFFIX}").write_text(yaml.safe_dump(doc, sort_keys=True))
    record_files(path)
    return folder


def render_datasets(jobs: list[DatasetJob], finals: list[Path], data: Path, progress: bool) -> None:
    """Render each job into a ``.partial`` folder beside its final one, in parallel worker processes,
    and move each into place when complete (swapped atomically with an older version).
    A full disk is a CubeError; unfinished folders are removed either way."""
    from tqdm.auto import tqdm

    staged = {}
    for job, final in zip(jobs, finals):
        partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
        partial.mkdir(parents=True)
        staged[str(partial)] = final
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    # Spawned, not forked: a forked worker would inherit (and keep) the cube's lock.
    context = multiprocessing.get_context("spawn")
    try:
        with (
            ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool,
            tqdm(total=len(jobs), desc="Rendering mosaics", unit="dataset", disable=not progress) as bar,
        ):
            futures = [pool.submit(_render_job, folder, job) for folder, job in zip(staged, jobs)]
            for future in as_completed(futures):
                done = Path(future.result())
                final = staged[str(done)]
                if final.exists():  # a larger window replaces a smaller one, in one step
                    _exchange(done, final)
                    _retire(done, final)
                else:
                    done.rename(final)
                bar.update()
    except Exception as err:
        # GDAL reports a full disk as a failed write without saying why: look at the disk.
        disk_full = (isinstance(err, OSError) and err.errno == errno.ENOSPC) or (
            shutil.disk_usage(data).free < _NEARLY_FULL
        )
        for unfinished in staged:  # free their space now
            shutil.rmtree(unfinished, ignore_errors=True)
        if disk_full:
            raise CubeError(
                f"The disk holding {data} is full. Free some space (or choose another folder with "
                "--dir), then run `sar-helpers testcube up` again: the datasets already finished are kept."
            ) from None
        raise
