"""The tests' Dask Gateway (dask-gateway-server -f this file; tests/clusters.py starts it): on
127.0.0.1, its local backend starting each cluster's scheduler and workers as the user who signs
in, one password made for the session. Ports, password and the workers' Python come from the
environment, so that no secret is on a command line or in a file."""

import os

from dask_gateway_server.backends.local import LocalBackend
from dask_gateway_server.options import Float, Integer, Options

c = get_config()  # noqa: F821 - given by traitlets to a config file


class OwnFoldersBackend(LocalBackend):
    """The local backend, handing a new cluster's folder to its user without touching anything else.

    dask-gateway-server 2026.3.0 adds the paths of the cluster's key and certificate letter by
    letter to the paths it hands over (``paths.extend(path)``): it changes the owner of ``/`` to
    the user, then fails on a relative "t". Here the folders it made and the key and certificate
    in them are handed over, and nothing else.
    """

    def set_file_permissions(self, paths, username):
        folders = [p for p in paths if os.path.isabs(p) and os.path.isdir(p) and p != "/"]
        certificates = self.get_certs_directory(folders[0])
        files = [os.path.join(certificates, name) for name in sorted(os.listdir(certificates))]
        super().set_file_permissions(folders + files, username)


# The private API's port, and the proxy's: the gateway's public address, for HTTP and schedulers alike.
api_port, proxy_port = os.environ["SAR_GATEWAY_PORTS"].split()
python = os.environ["SAR_GATEWAY_PYTHON"]

c.DaskGateway.address = f"127.0.0.1:{api_port}"
c.Proxy.address = f"127.0.0.1:{proxy_port}"
c.DaskGateway.backend_class = OwnFoldersBackend
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.SimpleAuthenticator.password = os.environ["SAR_GATEWAY_PASSWORD"]
c.LocalBackend.inherited_environment = ["LANG"]
c.LocalClusterConfig.scheduler_cmd = [python, "-m", "dask", "scheduler"]
c.LocalClusterConfig.worker_cmd = [python, "-m", "dask", "worker"]
# Scratch space in the cluster's own folder (the processes' working directory), not in /tmp.
c.LocalClusterConfig.environment = {"DASK_TEMPORARY_DIRECTORY": "."}


def _cluster_config(options):
    return {"worker_cores": options.worker_cores, "worker_memory": f"{options.worker_memory} G"}


# The options a user may choose, as hosted gateways offer them.
c.Backend.cluster_options = Options(
    Integer("worker_cores", default=1, min=1, max=2, label="Threads per worker"),
    Float("worker_memory", default=2, min=1, max=4, label="Memory per worker (GiB)"),
    handler=_cluster_config,
)
