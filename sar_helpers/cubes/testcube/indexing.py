"""The index mirrors the data folder: datasets on disk and not indexed are added, and
indexed datasets of this cube whose files are gone are removed, in one transaction."""

from __future__ import annotations

from pathlib import Path

from sar_helpers.cubes.localcube.base import CubeError
from sar_helpers.products import PRODUCTS


def reconcile(index, on_disk: dict[str, tuple[Path, dict]], data: Path, progress: bool) -> tuple[int, int]:
    """Make the index hold exactly the datasets ``on_disk`` (id: (document path, document)) among
    those whose files lie under ``data``; returns (added, removed)."""
    from tqdm.auto import tqdm

    ours = data.as_uri() + "/"
    stale = []
    for product in PRODUCTS:
        for ds in index.datasets.search(product=product):
            uri = ds.uri or ""
            if uri.startswith(ours) and str(ds.id) not in on_disk:
                stale.append(ds.id)
    missing = [i for i in on_disk if not index.datasets.has(i)]
    if not missing and not stale:
        return 0, 0
    # New datasets in, old ones out, in one transaction: a reader sees the old cube or
    # the new one, never a part (until it commits, the index is as it was).
    with index.transaction():
        if missing:
            from datacube.index.hl import Doc2Dataset  # slow to import: only when needed

            resolver = Doc2Dataset(index, verify_lineage=False)
            for dataset_id in tqdm(missing, desc="Indexing", unit="dataset", disable=not progress):
                path, doc = on_disk[dataset_id]
                dataset, error = resolver(doc, path.as_uri())
                if error:
                    raise CubeError(f"{path} is not a valid dataset document: {error}")
                index.datasets.add(dataset, with_lineage=False)
        if stale:
            index.datasets.archive(stale)
            index.datasets.purge(stale)
    return len(missing), len(stale)
