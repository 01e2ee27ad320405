"""A Dask cluster for loads larger than one kernel's memory.

One call, :func:`get_client`, connects to an existing scheduler when given its
address (argument or ``DASK_SCHEDULER_ADDRESS``), asks a Dask Gateway (the API that hosted
Jupyter platforms expose) for a new cluster when given the gateway's http(s) address, and
otherwise starts a ``LocalCluster`` sized to this machine. That is how the same notebook
moves to Kubernetes, an HPC queue or a hosted platform.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psutil
from distributed import Client, LocalCluster
from distributed.utils import format_dashboard_link

from sar_helpers.loading.remote import REMOTE_READING

#: How long to wait for a scheduler or gateway that was named before giving up.
CONNECT_TIMEOUT_S = 5
#: How long a gateway may take to start a cluster and its workers.
GATEWAY_START_TIMEOUT_S = 180
#: Workers asked of a gateway when ``n_workers`` is not given.
GATEWAY_WORKERS = 2
#: Address schemes: a scheduler's, and a gateway's.
SCHEDULER_SCHEMES = ("tcp", "tls")
GATEWAY_SCHEMES = ("http", "https")

T = TypeVar("T")
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


def check_address(address: str) -> str:
    """``address`` if it names a scheduler (tcp://, tls://) or a gateway (http://, https://) with a host.

    Raises
    ------
    ClusterError
        Any other address, in one sentence.
    """
    parts = urlsplit(address) if isinstance(address, str) else None
    if parts is None or parts.scheme not in (*SCHEDULER_SCHEMES, *GATEWAY_SCHEMES) or not parts.hostname:
        raise ClusterError(
            f"{address!r} is not a cluster address: give a Dask scheduler's (tcp://host:8786 or tls://host:8786) "
            "or a Dask Gateway's (https://host/services/dask-gateway), or leave it out to start a local cluster."
        )
    return address


def get_client(
    address: str | None = None,
    n_workers: int | None = None,
    memory_limit: str | int | None = None,
    cluster_options: dict[str, Any] | None = None,
) -> Client:
    """A Dask client: to a running scheduler, to a new cluster of a Dask Gateway, or to a new
    cluster in this process.

    The local cluster is one worker in this process with a thread per core (at most four) and 80 %
    of the machine's memory. GDAL, numpy and the compiled loops release the GIL, so threads share
    the cores without copying chunks between processes. Scheduler and worker talk in memory
    (``inproc://``): nothing listens on a network port but the dashboard (127.0.0.1 only).

    A scheduler's or gateway's workers are given the GDAL settings for files behind a URL
    (``REMOTE_READING``) by a worker plugin, unless they have their own; they need this package and
    the locked packages installed (docs/cluster.md). A gateway's credentials come from Dask's
    configuration (``gateway.auth``, e.g. ``DASK_GATEWAY__AUTH__TYPE``), as hosted platforms set them.

    Parameters
    ----------
    address : str, optional
        A scheduler's address (``tcp://host:8786``, ``tls://...``) or a Dask Gateway's
        (``https://host/services/dask-gateway``); ``DASK_SCHEDULER_ADDRESS`` when not given.
    n_workers : int, optional
        The local cluster's threads, or the workers asked of a gateway (default 2).
    memory_limit : str or int, optional
        The local worker's memory limit (bytes, or "8GB"). A gateway's workers have the memory
        its cluster options give (often ``worker_memory``).
    cluster_options : dict, optional
        A gateway's cluster options (``Gateway.cluster_options()`` lists them), e.g.
        ``{"worker_cores": 2, "worker_memory": 8}``.

    Returns
    -------
    distributed.Client
        The client; :func:`release` it when done (a gateway cluster it started is shut down).

    Raises
    ------
    ClusterError
        The address is not a scheduler's or a gateway's, nothing answered at it within 5 s, the
        gateway refused the credentials or the options, or its cluster did not start in time.
    """
    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address and urlsplit(check_address(address)).scheme in GATEWAY_SCHEMES:
        if memory_limit is not None:
            raise ClusterError(
                "A gateway's workers get the memory its cluster options give: pass "
                "cluster_options={'worker_memory': ...} (Gateway.cluster_options() lists them), not memory_limit."
            )
        client = _gateway_client(address, n_workers or GATEWAY_WORKERS, cluster_options or {})
    elif address:
        if cluster_options:
            raise ClusterError("cluster_options are a gateway's; a running scheduler's cluster is already made.")
        try:
            client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as err:
            raise ClusterError(
                f"No Dask scheduler answered at {address} within {CONNECT_TIMEOUT_S} s ({err.__class__.__name__}). "
                "Check the address (e.g. tcp://host:8786) and that the scheduler runs, or leave it out "
                "to start a local cluster."
            ) from None
    else:
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
    client.register_plugin(_remote_reading_plugin(), name="sar-helpers-remote-reading")
    return client


def _within(seconds: float, call: Callable[[], T], late: str) -> T:
    """``call()``, or ClusterError(``late``) once ``seconds`` have passed (the call is left to end
    on its own: dask-gateway's client has no deadline of its own)."""
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            done["value"] = call()
        except BaseException as err:  # noqa: BLE001 - raised again in the caller's thread
            done["error"] = err

    thread = threading.Thread(target=run, daemon=True, name="sar-gateway-call")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ClusterError(late)
    if "error" in done:
        raise done["error"]
    return done["value"]


def _gateway_failure(address: str, err: BaseException) -> ClusterError:
    """One sentence for a gateway's refusal or silence."""
    status = getattr(err, "status", None)
    if status in (401, 403):
        return ClusterError(
            f"The Dask Gateway at {address} refused the credentials ({status}): set them in Dask's configuration "
            "(gateway.auth; e.g. DASK_GATEWAY__AUTH__TYPE=basic with DASK_GATEWAY__AUTH__KWARGS__PASSWORD), "
            "or on a hosted platform start the kernel from its own environment."
        )
    if isinstance(err, ValueError):  # the gateway's 404/422: an unknown option or a bad value
        return ClusterError(f"The Dask Gateway at {address} refused the cluster options: {str(err).strip()[:300]}")
    return ClusterError(
        f"No Dask Gateway answered at {address} ({err.__class__.__name__}: {str(err).strip()[:200]}). Check the "
        "address (e.g. https://host/services/dask-gateway) and that the gateway runs."
    )


def close_gateway(gateway) -> None:
    """Close a ``dask_gateway.Gateway`` or ``GatewayCluster`` (shutting the cluster down) once.

    dask-gateway 2026.3 closes a Gateway again when it is collected, and distributed 2026's loop
    runner refuses that second close ("Exception ignored in Gateway.__del__", printed in the
    notebook); the object is closed already, so later closes do nothing.
    """
    gateway.close()
    inner = getattr(gateway, "gateway", gateway)  # a GatewayCluster's own Gateway
    inner.close = lambda: None


def _gateway_client(address: str, workers: int, options: dict[str, Any]) -> Client:
    """A client of a new cluster of the gateway at ``address``, scaled to ``workers`` and waited for."""
    try:
        from dask_gateway import Gateway
    except ImportError:
        raise ClusterError(
            f"{address} names a Dask Gateway; connecting to one needs the dask-gateway package "
            "(pip install dask-gateway, the version in requirements.lock)."
        ) from None
    gateway = Gateway(address)
    try:
        try:
            _within(
                CONNECT_TIMEOUT_S,
                gateway.list_clusters,
                f"No Dask Gateway answered at {address} within "
                f"{CONNECT_TIMEOUT_S} s. Check the address and that the gateway runs.",
            )
            cluster = _within(
                GATEWAY_START_TIMEOUT_S,
                lambda: gateway.new_cluster(shutdown_on_close=True, **options),
                f"The Dask Gateway at {address} did not start a cluster within {GATEWAY_START_TIMEOUT_S} s; "
                "its own logs say why.",
            )
        except ClusterError:
            raise
        except Exception as err:  # noqa: BLE001 - aiohttp's, dask-gateway's and the gateway's errors
            raise _gateway_failure(address, err) from None
    finally:
        close_gateway(gateway)
    try:
        cluster.scale(workers)
        client = cluster.get_client(set_as_default=True)
        client.wait_for_workers(workers, timeout=GATEWAY_START_TIMEOUT_S)
    except BaseException as err:
        close_gateway(cluster)
        if isinstance(err, (TimeoutError, OSError)):
            raise ClusterError(
                f"The Dask Gateway at {address} started a cluster, but fewer than {workers} workers joined it within "
                f"{GATEWAY_START_TIMEOUT_S} s; ask for fewer workers or check the gateway's limits and logs."
            ) from None
        raise
    return client


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
    """Disconnect from a cluster: one :func:`get_client` started (in this process, or a gateway's) is
    shut down, a running scheduler's left running.

    Parameters
    ----------
    client : distributed.Client
        The client :func:`get_client` gave.
    """
    cluster = client.cluster
    client.close()
    if cluster is not None and hasattr(cluster, "gateway"):
        close_gateway(cluster)  # shuts the gateway's cluster down
    elif cluster is not None:
        cluster.close()
