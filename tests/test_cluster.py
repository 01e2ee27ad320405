"""The Dask pipeline on a real scheduler with two worker processes, against the same pipeline run eagerly."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from distributed import get_task_stream

import sar_helpers as sar
from sar_helpers.analysis.counts import value_counts
from sar_helpers.loading.remote import REMOTE_READING
from sar_helpers.tools.cluster import ClusterError

import clusters

#: A scheduler and two worker processes, most tests against the cube's tutorial load.
pytestmark = pytest.mark.cube

DASK = str(Path(sys.executable).with_name("dask"))
QUERY = dict(x=(31.97, 32.03), y=(30.44, 30.50), time=("2007", "2022"))


#: The workers' environment: without the GDAL settings this process may have set, so that what they
#: have comes from get_client's plugin.
WORKER_ENV = {k: v for k, v in os.environ.items() if k not in REMOTE_READING}


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, stopped however the tests end."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    processes = [
        subprocess.Popen(
            [
                DASK,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for n in range(2):
            processes.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        address,
                        "--host",
                        "127.0.0.1",
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--memory-limit",
                        "2GB",
                        "--no-dashboard",
                        "--name",
                        f"worker-{n}",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=WORKER_ENV,
                )
            )
        client = sar.get_client(address)
        client.wait_for_workers(2, timeout=60)
        yield client
        sar.release(client)
    finally:
        clusters.stop(processes)


@pytest.fixture(scope="module")
def eager(dc):
    return sar.load_mosaics(dc, "alos_palsar_mosaic", ["hh", "hv", "mask"], **QUERY)


@pytest.fixture(scope="module")
def lazy(dc):
    return sar.load_mosaics(
        dc,
        "alos_palsar_mosaic",
        ["hh", "hv", "mask"],
        dask_chunks={"time": 1, "latitude": 128, "longitude": 128},
        **QUERY,
    )


def test_histograms_on_the_cluster_equal_numpy(scheduler, eager, lazy):
    assert len(scheduler.scheduler_info()["workers"]) == 2
    on_cluster = sar.backscatter_histograms(lazy)
    assert dask.is_dask_collection(on_cluster) and on_cluster.dims == ("band", "time", "dn")
    with get_task_stream(scheduler) as tasks:  # what ran where, from the scheduler (not the heartbeats' metrics)
        on_cluster = on_cluster.compute()
    invalid = ~eager.mask.isin([50, 255]).values
    for band in ("hh", "hv"):
        dn = np.where(invalid, 0, eager[band].values)
        expected = np.stack([np.bincount(dn[t].ravel(), minlength=2**16) for t in range(dn.shape[0])])
        np.testing.assert_array_equal(on_cluster.sel(band=band), expected)
    workers, ran_on = set(scheduler.run(lambda: 1)), {task["worker"] for task in tasks.data}
    assert len(workers) == 2 and ran_on and ran_on <= workers


def test_yearly_statistics_agree_with_plain_numpy(scheduler, eager, lazy):
    stats = sar.yearly_backscatter(lazy)
    valid = eager.mask.isin([50, 255]).values
    for step in range(eager.sizes["time"]):
        for band in ("hh", "hv"):
            dn = eager[band].values[step][valid[step]].astype("float64")
            power = dn**2 * 10 ** (-83.0 / 10)
            assert stats[f"{band}_valid_pixels"].values[step] == dn.size
            assert stats[f"{band}_mean_db"].values[step] == pytest.approx(10 * np.log10(power.mean()), abs=1e-4)
            assert stats[f"{band}_median_db"].values[step] == pytest.approx(
                20 * np.log10(np.median(dn)) - 83.0, abs=1e-4
            )


def test_built_up_area_and_log_ratio_agree_with_the_eager_run(scheduler, eager, lazy):
    area = sar.built_up_area(lazy, -8.0)
    assert hasattr(area.data, "dask")
    np.testing.assert_allclose(area.compute().values, sar.built_up_area(eager, -8.0).values, rtol=1e-12)
    assert (np.diff(area.values) >= -0.05 * area.values[:-1]).all()  # the town grows
    change = sar.log_ratio(lazy, 2007, 2022)
    np.testing.assert_allclose(
        change.compute().values, sar.log_ratio(eager, 2007, 2022).values, atol=1e-4, equal_nan=True
    )


def test_log_ratio_is_written_as_a_cloud_optimized_geotiff(eager, tmp_path):
    import rasterio

    path = tmp_path / "change.tif"
    change = sar.log_ratio(eager, 2007, 2022)
    sar.write_cog(change, path)
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG" and src.crs.to_epsg() == 4326
        assert src.profile["tiled"] and (src.profile["blockxsize"], src.profile["blockysize"]) == (512, 512)
        np.testing.assert_array_equal(src.read(1), change.values)


def test_built_up_area_uses_true_pixel_sizes(eager):
    everything = sar.built_up_area(eager.assign(hh=eager.hh * 0 + 60000, mask=eager.mask * 0 + 255), -8.0)
    # 0.06 x 0.06 degrees at latitude 30.47: 6.67 km x 5.75 km
    assert float(everything[0]) == pytest.approx(0.06 * 111.195 * 0.06 * 111.195 * np.cos(np.deg2rad(30.47)), rel=0.01)


def test_a_scheduler_that_does_not_answer_fails_within_seconds():
    start = time.monotonic()
    with pytest.raises(ClusterError, match="No Dask scheduler answered at tcp://127.0.0.1:9 within 5 s"):
        sar.get_client("tcp://127.0.0.1:9")
    assert time.monotonic() - start < 60  # guards against a hang, not a speed target


def test_a_chunk_too_big_for_the_workers_is_warned_about_before_computing(scheduler):
    tile = xr.Dataset(
        {"hh": (("time", "latitude", "longitude"), dsa.zeros((12, 4500, 4500), dtype="uint16", chunks=-1))}
    )
    with pytest.warns(UserWarning, match="more than a worker's"):
        sar.check_chunks(tile, scheduler)
    small = tile.chunk({"time": 1, "latitude": 1024, "longitude": 1024})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sar.check_chunks(small, scheduler) == 1024 * 1024 * 2 * 6


def test_value_counts_of_a_single_step(eager):
    counts = value_counts(eager.hh.isel(time=0))
    assert counts.shape == (1, 1, 2**16) and counts.sum() == eager.hh.isel(time=0).size


def test_the_local_cluster_is_reachable_only_from_this_process():
    """Scheduler and worker talk in memory: another local user has no address to connect to
    and run code; the only listening sockets are the dashboards, on 127.0.0.1."""
    import psutil

    before = {c.laddr for c in psutil.Process().net_connections("inet") if c.status == psutil.CONN_LISTEN}
    client = sar.get_client(n_workers=2)
    try:
        address = client.scheduler.address
        assert address.startswith("inproc://")
        assert client.submit(sum, [40, 2]).result() == 42
        assert client.dashboard_link.startswith("http://127.0.0.1:")
        listening = {c.laddr for c in psutil.Process().net_connections("inet") if c.status == psutil.CONN_LISTEN}
        assert listening - before and all(laddr.ip == "127.0.0.1" for laddr in listening - before), listening
        code = f"from distributed import Client\nc = Client({address!r}, timeout=5)\nprint(c.submit(sum, [1]).result())"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert result.returncode != 0 and result.stdout.strip() == ""
    finally:
        sar.release(client)


def test_workers_of_a_named_scheduler_open_remote_files_without_listing_folders(scheduler):
    """get_client gives them the kernels' GDAL setting (they started without it)."""
    found = scheduler.run(lambda: {name: os.environ.get(name) for name in REMOTE_READING})
    assert len(found) == 2 and all(settings == REMOTE_READING for settings in found.values())
