"""Workers that share nothing with the kernel but the network (issue 28): a `dask scheduler` with
`dask worker` processes, and a Dask Gateway's clusters, all run as another local user in folders of
their own (tests/clusters.py), reading a real cube's COGs over HTTP from the stand-in. Notebook 03
run by `sar-helpers report` on either prints what it prints on the in-process cluster."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import dask
import pytest
from distributed import Client

import sar_helpers as sar
from sar_helpers.cubes.realcube.cube import RealCube
from sar_helpers.tools.cli import main
from sar_helpers.tools.cluster import ClusterError, close_gateway

import clusters
from helpers import REPO, TUTORIAL_BBOX
from helpers import realcube_up as up

#: The other user's Python is the machine's own (3.11.2 here, the tests' 3.11.7): Dask says so once per client.
pytestmark = pytest.mark.filterwarnings("ignore:Mismatched versions found")

NOTEBOOK = str(REPO / "notebooks" / "03_scaling_with_dask.ipynb")
AREA = {"x": (31.9, 32.1), "y": (30.37, 30.55)}


@pytest.fixture(scope="module")
def user():
    found = clusters.other_user()
    if found is None:
        pytest.skip(f"starting workers as another user ({clusters.OTHER_USER}) needs root; CI runs as root")
    return found


@pytest.fixture(scope="module")
def shared(user):
    """The folder the other user's processes live in, and the Python they run."""
    with clusters.shared_folder() as folder:
        yield folder, clusters.python_for(user, folder)


@pytest.fixture(scope="module")
def separate(shared, user):
    folder, python = shared
    with clusters.separate_cluster(folder, python, user) as started:
        yield started


@pytest.fixture(scope="module")
def gateway(shared, user):
    folder, python = shared
    with clusters.gateway(folder, python, user) as started:
        yield started


@pytest.fixture(scope="module")
def real_config(module_scratch, module_api) -> Path:
    """A real cube of notebook 03's area and years, its pixels behind the stand-in's URLs."""
    folder = module_scratch / "real"
    assert up(folder, module_api, "--bbox", *TUTORIAL_BBOX, "--years", "2007-2010", "2015-2022").returncode == 0
    return RealCube(folder).config_path


def printed(executed: Path) -> list[list[str]]:
    """What each code cell printed and showed as text, but for the cells nbval leaves unchecked."""
    cells = json.loads(executed.read_text())["cells"]
    return [
        [
            "".join(o.get("text", "") if o.get("name") != "stderr" else "")
            + "".join(o.get("data", {}).get("text/plain", ""))
            for o in cell["outputs"]
        ]
        for cell in cells
        if cell["cell_type"] == "code" and "nbval-ignore-output" not in cell["metadata"].get("tags", [])
    ]


def run_notebook_03(folder: Path, config: Path, *scheduler: str) -> list[list[str]]:
    html = folder / "report.html"
    code = main(["report", NOTEBOOK, "--config", str(config), *scheduler, "--quiet", "-o", str(html)])
    assert code == 0
    return printed(html.with_suffix(".ipynb"))


@pytest.fixture(scope="module")
def in_process(real_config, tmp_path_factory):
    """Notebook 03 on the in-process cluster, as the other runs' reference."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ODC_CONFIG_PATH", str(real_config))
        return run_notebook_03(tmp_path_factory.mktemp("in-process"), real_config)


def test_the_workers_run_as_another_user_in_folders_of_their_own(separate, user):
    address, tls = separate
    with dask.config.set(tls):
        client = sar.get_client(address)
    try:
        client.wait_for_workers(2, timeout=60)
        seen = client.run(lambda: (os.getuid(), os.getcwd(), os.access(__file__, os.R_OK)))
        assert {uid for uid, _, _ in seen.values()} == {user.pw_uid}
        assert len({cwd for _, cwd, _ in seen.values()}) == 2
        private = Path(tempfile.mkdtemp(prefix="sar-kernel-"))  # a kernel's file, as the kernel's own folders
        try:
            (private / "file").write_text("the kernel's")
            where = str(private / "file")
            assert not any(client.run(lambda: os.access(where, os.R_OK)).values())
        finally:
            (private / "file").unlink()
            private.rmdir()
    finally:
        sar.release(client)


def test_a_scheduler_started_here_refuses_a_client_without_its_certificate(separate):
    address, _ = separate
    with pytest.raises((OSError, TimeoutError)):
        Client(address.replace("tls://", "tcp://"), timeout="5s")
    with pytest.raises((OSError, TimeoutError, TypeError, ValueError)):
        Client(address, timeout="5s")  # TLS without a certificate the scheduler trusts


#: Each kind of cluster, with how a kernel started later is given its credentials.
KINDS = {"separate": clusters.tls_environment, "gateway": clusters.gateway_environment}


@pytest.mark.parametrize("kind", KINDS)
def test_notebook_03_on_workers_elsewhere_prints_what_it_prints_in_process(
    kind, in_process, real_config, tmp_path, monkeypatch, request
):
    address, credentials = request.getfixturevalue(kind)
    for name, value in KINDS[kind](credentials).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ODC_CONFIG_PATH", str(real_config))
    assert run_notebook_03(tmp_path, real_config, "--scheduler", address) == in_process
    assert any("hh_mean_db" in text for texts in in_process for text in texts)


def test_a_gateway_cluster_has_the_workers_asked_and_ends_on_release(gateway, user):
    address, auth = gateway
    from dask_gateway import Gateway

    with dask.config.set(auth):
        client = sar.get_client(address, n_workers=1, cluster_options={"worker_cores": 2})
        try:
            assert list(client.run(os.getuid).values()) == [user.pw_uid]
            assert list(client.nthreads().values()) == [2]
            assert client.run(lambda: os.environ["GDAL_DISABLE_READDIR_ON_OPEN"]) != {}
        finally:
            sar.release(client)
        gateway_api = Gateway(address)
        try:
            assert gateway_api.list_clusters() == []
        finally:
            close_gateway(gateway_api)


def test_a_gateway_says_what_it_refused(gateway):
    address, auth = gateway
    wrong = {**auth, "gateway.auth.kwargs": {**auth["gateway.auth.kwargs"], "password": "not-the-password"}}
    with dask.config.set(wrong), pytest.raises(ClusterError, match=r"refused the credentials \(401\)"):
        sar.get_client(address)
    with dask.config.set(auth), pytest.raises(ClusterError, match="refused the cluster options"):
        sar.get_client(address, cluster_options={"no_such_option": 1})
    with dask.config.set(auth), pytest.raises(ClusterError, match="memory its cluster options give"):
        sar.get_client(address, memory_limit="1GB")


def test_a_gateway_that_does_not_answer_fails_within_seconds():
    with pytest.raises(ClusterError, match="No Dask Gateway answered at http://127.0.0.1:9"):
        sar.get_client("http://127.0.0.1:9")


def test_an_address_that_names_no_cluster_is_refused_in_one_sentence():
    with pytest.raises(ClusterError, match="is not a cluster address"):
        sar.get_client("scheduler.example.org:8786")


def test_a_worker_that_cannot_read_a_cubes_local_files_says_so(separate, module_scratch, module_api):
    """The files copied by `realcube up --download` into a folder only the kernel's user can read."""
    folder = module_scratch / "downloaded"
    assert up(folder, module_api, "--bbox", *TUTORIAL_BBOX, "--years", "2017", "--download").returncode == 0
    address, tls = separate
    with RealCube(folder).datacube() as dc:
        ds = sar.load_mosaics(
            dc, "alos_palsar_mosaic", ["hh"], time="2017", x=(31.9, 32.1), y=(30.37, 30.55), dask_chunks={"time": 1}
        )
    with dask.config.set(tls):
        client = sar.get_client(address)
    try:
        with pytest.raises(sar.LocalFileUnreadable) as failure:
            client.compute(ds.hh).result()
    finally:
        sar.release(client)
    message = str(failure.value)
    assert message.startswith(f"The file {folder}") and f"({clusters.OTHER_USER} on " in message
    assert "use a real cube (`sar-helpers realcube up`)" in message and "\n" not in message


def test_a_file_the_server_keeps_failing_reaches_the_kernel_as_one_sentence(separate, real_config, module_api):
    """Raised on a worker in another process, the error arrives as itself (it pickles), not as a bare Exception."""
    address, tls = separate
    with RealCube(real_config.parent).datacube() as dc:
        ds = sar.load_mosaics(dc, "alos_palsar_mosaic", ["hv"], time="2016", dask_chunks={"time": 1}, **AREA)
    with dask.config.set(tls):
        client = sar.get_client(address)
    module_api.set_hostile("unavailable", "always")
    try:
        with pytest.raises(sar.RemoteFileUnreadable) as failure:
            client.compute(ds.hv).result()
    finally:
        module_api.set_hostile("none")
        sar.release(client)
    assert str(failure.value).startswith(f"The file {module_api.bucket_url}alos_palsar_mosaic/2016/")


def test_a_report_refuses_an_address_that_names_no_cluster(tmp_path, capsys):
    assert main(["report", NOTEBOOK, "--scheduler", "scheduler:8786", "-o", str(tmp_path / "r.html")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("sar-helpers: 'scheduler:8786' is not a cluster address") and error.count("\n") == 1
    assert not (tmp_path / "r.html").exists()
