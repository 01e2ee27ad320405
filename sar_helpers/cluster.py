"""A Dask cluster for loads larger than one kernel's memory.

One call, :func:`get_client`, connects to an existing scheduler when given its
address (argument or ``DASK_SCHEDULER_ADDRESS``), which is how a team moves the same
notebook to Dask Gateway, Kubernetes or an HPC queue; otherwise it starts a
``LocalCluster`` sized to this machine.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import TYPE_CHECKING

import dask
import psutil

if TYPE_CHECKING:
    from distributed import Client

#: How long to wait for a scheduler that was named before giving up.
CONNECT_TIMEOUT_S = 5
#: A chunk needs about this many times its own size while it is converted and reduced
#: (its DNs, a float32 result, masks and the reduction's buffers).
WORKING_SET_FACTOR = 6
#: glibc settings for the local workers (dask sets only a 64 KiB trim threshold, which
#: also pins the mmap threshold at 128 KiB): temporaries up to 32 MiB (a chunk of
#: DNs, np.bincount's int64 copy of a slab) are reused from the heap instead of being
#: mapped, zero-filled by the kernel and unmapped at every allocation. Measured in
#: benchmarks/scaling.py: the per-chunk histograms take half the time.
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": 32 * 2**20, "MALLOC_TRIM_THRESHOLD_": 64 * 2**20}


class ClusterError(RuntimeError):
    """The cluster cannot be reached or used; the message says what to do."""


def get_client(
    address: str | None = None, n_workers: int | None = None, memory_limit: str | int | None = None
) -> "Client":
    """A ``dask.distributed.Client``: to ``address`` (or $DASK_SCHEDULER_ADDRESS), else to a new LocalCluster.

    The local cluster has one single-threaded worker process per core (at most
    four) sharing 80 % of the machine's memory, listens on 127.0.0.1 only, and
    serves its dashboard on a free port (``client.dashboard_link``). Its scheduler
    and workers speak TLS with certificates made for this cluster and held only in
    memory (``Security.temporary()``): another local user cannot join it and run code.
    """
    from distributed import Client, LocalCluster
    from distributed.security import Security

    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        try:
            return Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as err:
            raise ClusterError(
                f"No Dask scheduler answered at {address} within {CONNECT_TIMEOUT_S} s ({err.__class__.__name__}). "
                "Check the address (e.g. tcp://host:8786) and that the scheduler runs, or leave it out "
                "to start a local cluster."
            ) from None
    workers = n_workers or max(1, min(os.cpu_count() or 1, 4))
    if memory_limit is None:
        memory_limit = int(psutil.virtual_memory().total * 0.8 / workers)
    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **WORKER_MALLOC}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            protocol="tls://",
            security=Security.temporary(),
        )
    return Client(cluster)


def worker_memory_bytes(client) -> int:
    """The smallest memory limit among the client's workers (0 when unlimited)."""
    limits = [w.get("memory_limit") or 0 for w in client.scheduler_info()["workers"].values()]
    if not limits:
        raise ClusterError("The Dask cluster has no workers yet; wait for them or start some.")
    return min(limits)


def check_chunks(ds, client) -> int:
    """Warn, before anything is computed, if one chunk of ``ds`` would not fit a worker's memory.

    Returns the estimated working set of the largest chunk in bytes.
    """
    largest = 0
    for da in ds.data_vars.values():
        if da.chunks is None:
            continue
        pixels = math.prod(max(sizes) for sizes in da.chunks)
        largest = max(largest, pixels * da.dtype.itemsize)
    working_set = largest * WORKING_SET_FACTOR
    limit = worker_memory_bytes(client)
    if limit and working_set > limit:
        warnings.warn(
            f"A chunk needs about {working_set / 2**20:.0f} MiB while it is processed, more than a worker's "
            f"{limit / 2**20:.0f} MiB: workers would spill or die. Load with smaller dask_chunks.",
            stacklevel=2,
        )
    return working_set


def release(client) -> None:
    """Disconnect; a local cluster that :func:`get_client` started is shut down, a shared one is left running."""
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()
