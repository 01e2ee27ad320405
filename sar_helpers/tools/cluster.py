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

import psutil
from distributed import Client, LocalCluster
from distributed.utils import format_dashboard_link

from sar_helpers.loading.remote import REMOTE_READING

#: How long to wait for a scheduler that was named before giving up.
CONNECT_TIMEOUT_S = 5
#: A chunk needs about this many times its own size while it is processed
#: (its DNs, a float32 result, masks and the reduction's buffers).
WORKING_SET_FACTOR = 6


class ClusterError(RuntimeError):
    """The cluster cannot be reached or used; the message says what to do."""


class InProcessCluster(LocalCluster):
    """A LocalCluster whose dashboard link names 127.0.0.1, where its dashboard listens
    (an in-memory scheduler's address names the machine's network address instead)."""

    @property
    def dashboard_link(self) -> str:
        port = self.scheduler_info.get("services", {}).get("dashboard")
        return format_dashboard_link("127.0.0.1", port) if port else ""


def get_client(
    address: str | None = None, n_workers: int | None = None, memory_limit: str | int | None = None
) -> Client:
    """A Dask client: to a running scheduler if one is named, else to a new cluster in this process.

    The local cluster is one worker in this process with a thread per core (at most four) and 80 %
    of the machine's memory. GDAL, numpy and the compiled loops release the GIL, so threads share
    the cores without copying chunks between processes. Scheduler and worker talk in memory
    (``inproc://``): nothing listens on a network port but the dashboard (127.0.0.1 only). A named
    scheduler's workers are given the GDAL setting for files behind a URL
    (``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``) by a worker plugin, unless they have their own.

    Parameters
    ----------
    address : str, optional
        A scheduler's address (``tcp://host:8786``); ``DASK_SCHEDULER_ADDRESS`` when not given.
    n_workers : int, optional
        The local cluster's threads.
    memory_limit : str or int, optional
        The local worker's memory limit (bytes, or "8GB").

    Returns
    -------
    distributed.Client
        The client; :func:`release` it when done.

    Raises
    ------
    ClusterError
        No scheduler answered at the address within 5 s.
    """
    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        try:
            client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
            client.register_plugin(_remote_reading_plugin(), name="sar-helpers-remote-reading")
            return client
        except (OSError, TimeoutError) as err:
            raise ClusterError(
                f"No Dask scheduler answered at {address} within {CONNECT_TIMEOUT_S} s ({err.__class__.__name__}). "
                "Check the address (e.g. tcp://host:8786) and that the scheduler runs, or leave it out "
                "to start a local cluster."
            ) from None
    threads = n_workers or max(1, min(os.cpu_count() or 1, 4))
    if memory_limit is None:
        memory_limit = int(psutil.virtual_memory().total * 0.8)
    cluster = InProcessCluster(
        n_workers=1,
        threads_per_worker=threads,
        processes=False,
        memory_limit=memory_limit,
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address="127.0.0.1:0",
    )
    return Client(cluster)


def _remote_reading_plugin():
    """A worker plugin that gives each worker the kernels' GDAL setting for files behind a URL
    (no folder listing on open) unless the worker has its own. Defined here, so that it travels
    by value: a worker without this package still takes it."""
    from distributed.diagnostics.plugin import WorkerPlugin

    settings = dict(REMOTE_READING)

    class RemoteReading(WorkerPlugin):
        def setup(self, worker) -> None:
            for name, value in settings.items():
                os.environ.setdefault(name, value)

    return RemoteReading()


def worker_memory_bytes(client) -> int:
    """The smallest memory limit among the client's workers (0 when unlimited)."""
    limits = [w.get("memory_limit") or 0 for w in client.scheduler_info()["workers"].values()]
    if not limits:
        raise ClusterError("The Dask cluster has no workers yet; wait for them or start some.")
    return min(limits)


def check_chunks(ds, client) -> int:
    """Warn, before anything is computed, if one chunk would not fit a worker's memory.

    Parameters
    ----------
    ds : xarray.Dataset
        A lazy load.
    client : distributed.Client
        The client whose workers will compute it.

    Returns
    -------
    int
        The estimated working set of the largest chunk in bytes (about six times its size).
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
    """Disconnect from a cluster: one :func:`get_client` started is shut down, a shared one left running.

    Parameters
    ----------
    client : distributed.Client
        The client :func:`get_client` gave.
    """
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()
