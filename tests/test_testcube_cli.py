"""`sar-helpers testcube` in scratch folders: idempotence, repair, and bad input."""

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from sar_helpers.cubes.testcube.cube import TestCube

from helpers import SMALL_BBOX, run_cli

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube

SMALL = ["--bbox", *map(str, SMALL_BBOX), "--years", "2021-2022", "--quiet"]


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Path -> (sha256, mtime in ns) of every data file."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted((folder / "data").rglob("*"))
        if p.is_file()
    }


def dataset_ids(cube: TestCube) -> list[str]:
    with cube.datacube() as dc:
        return sorted(
            str(ds.id) for p in ("alos_palsar_mosaic", "jers_sar_mosaic") for ds in dc.find_datasets(product=p)
        )


def test_second_up_changes_nothing(scratch):
    first = run_cli("testcube", "up", "--dir", str(scratch), *SMALL)
    assert first.returncode == 0, first.stderr
    assert "rendered 4, indexed 4" in first.stdout
    before = fingerprint(scratch)
    ids = dataset_ids(TestCube(scratch))
    second = run_cli("testcube", "up", "--dir", str(scratch), *SMALL)
    assert second.returncode == 0, second.stderr
    assert "rendered 0, indexed 0, removed 0" in second.stdout
    assert fingerprint(scratch) == before
    assert dataset_ids(TestCube(scratch)) == ids and len(ids) == 4


def test_status_down_config_and_restart(scratch):
    assert run_cli("testcube", "up", "--dir", str(scratch), *SMALL).returncode == 0
    status = run_cli("testcube", "status", "--dir", str(scratch))
    assert "running" in status.stdout and "alos_palsar_mosaic: 4 datasets" in status.stdout
    assert "2021: 2" in status.stdout and "2022: 2" in status.stdout
    config = run_cli("testcube", "config", "--dir", str(scratch))
    assert config.stdout.strip() == str(scratch / "datacube.conf")
    assert run_cli("testcube", "down", "--dir", str(scratch)).stdout.strip() == "Server stopped; data kept."
    assert "stopped" in run_cli("testcube", "status", "--dir", str(scratch)).stdout
    again = run_cli("testcube", "up", "--dir", str(scratch), *SMALL)
    assert "rendered 0, indexed 0" in again.stdout
    assert len(dataset_ids(TestCube(scratch))) == 4


def test_the_server_listens_on_a_private_socket_only(scratch):
    assert run_cli("testcube", "up", "--dir", str(scratch), *SMALL).returncode == 0
    server_files = TestCube(scratch).server
    run = server_files.socket_dir
    assert (run / ".s.PGSQL.5432").is_socket()
    assert run.stat().st_mode & 0o777 == 0o700
    pid = int((server_files.data / "postmaster.pid").read_text().split()[0])
    server = psutil.Process(pid)
    inet = [c for p in [server, *server.children(recursive=True)] for c in p.net_connections(kind="inet")]
    assert inet == [], "the server must not use TCP or UDP at all"
    assert any(c.laddr == str(run / ".s.PGSQL.5432") for c in server.net_connections(kind="unix"))


def test_a_larger_box_replaces_datasets_without_duplicates(scratch):
    assert run_cli("testcube", "up", "--dir", str(scratch), *SMALL).returncode == 0
    wider = run_cli(
        "testcube",
        "up",
        "--dir",
        str(scratch),
        "--bbox",
        "31.98",
        "30.45",
        "32.02",
        "30.48",
        "--years",
        "2021",
        "--quiet",
    )
    assert wider.returncode == 0, wider.stderr
    assert "rendered 2, indexed 2, removed 2" in wider.stdout
    cube = TestCube(scratch)
    assert len(dataset_ids(cube)) == 4
    with cube.datacube() as dc:
        ds = dc.load(product="alos_palsar_mosaic", time="2021", x=(31.98, 32.02), y=(30.45, 30.48), measurements=["hh"])
    assert int((ds.hh == 0).sum()) == 0


def test_a_killed_build_is_finished_by_the_next_up(scratch):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sar_helpers",
            "testcube",
            "up",
            "--dir",
            str(scratch),
            "--bbox",
            *map(str, SMALL_BBOX),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list((scratch / "data").glob("*/*/*/*.odc-metadata.yaml")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = list((scratch / "data").glob("*/*/*/*.odc-metadata.yaml"))
    assert 0 < len(finished) < 26, "the kill should land half way"
    repaired = run_cli("testcube", "up", "--dir", str(scratch), "--bbox", *map(str, SMALL_BBOX), "--quiet")
    assert repaired.returncode == 0, repaired.stderr
    assert not list((scratch / "data").glob("*/*/*.partial-*"))
    cube = TestCube(scratch)
    assert len(dataset_ids(cube)) == 26
    with cube.datacube() as dc:
        ds = dc.load(product="alos_palsar_mosaic", time=("2007", "2022"), x=(31.995, 32.005), y=(30.455, 30.465))
    assert ds.sizes["time"] == 12 and int((ds.mask == 0).sum()) == 0


def test_a_half_initialised_server_is_rebuilt(scratch):
    """initdb killed half way leaves a data folder without our marker: the next up remakes it."""
    data = TestCube(scratch).server.data
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("18\n")
    result = run_cli("testcube", "up", "--dir", str(scratch), *SMALL)
    assert result.returncode == 0, result.stderr
    assert len(dataset_ids(TestCube(scratch))) == 4


def test_a_folder_without_write_permission_is_refused(scratch):
    readonly = scratch / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    result = run_cli("testcube", "up", "--dir", str(readonly / "cube"), *SMALL, obey_permissions=True)
    assert result.returncode == 1
    assert "Cannot write to" in result.stderr and "--dir" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (readonly / "cube").exists()


def test_a_second_command_on_the_same_folder_is_refused(scratch):
    first = subprocess.Popen(
        [sys.executable, "-m", "sar_helpers", "testcube", "up", "--dir", str(scratch), *SMALL],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = scratch / "lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    second = run_cli("testcube", "up", "--dir", str(scratch), *SMALL)
    out, err = first.communicate(timeout=300)
    assert second.returncode == 1
    assert f"Another command (pid {first.pid})" in second.stderr
    assert first.returncode == 0, err
    assert len(dataset_ids(TestCube(scratch))) == 4


def test_an_unreachable_database_is_reported_clearly(scratch):
    result = run_cli(
        "testcube",
        "up",
        "--dir",
        str(scratch / "cube"),
        *SMALL,
        "--db-url",
        f"postgresql://postgres@/datacube?host={scratch}/nowhere",
    )
    assert result.returncode == 1
    assert "Cannot connect to the PostgreSQL database at postgresql+psycopg2://" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((scratch / "cube").rglob("*.tif"))


def test_a_shared_index_in_an_existing_postgresql(scratch):
    """Two cube folders, one index: the second builds into the first one's server."""
    team = TestCube(scratch / "team")
    assert run_cli("testcube", "up", "--dir", str(team.folder), *SMALL).returncode == 0
    mine = run_cli(
        "testcube",
        "up",
        "--dir",
        str(scratch / "mine"),
        "--db-url",
        team.server.url,
        "--bbox",
        *map(str, SMALL_BBOX),
        "--years",
        "2010",
        "--quiet",
    )
    assert mine.returncode == 0, mine.stderr
    assert "indexed 2" in mine.stdout
    assert len(dataset_ids(team)) == 6
    # The URL is remembered; resetting mine leaves the team's datasets alone.
    status = run_cli("testcube", "status", "--dir", str(scratch / "mine"))
    assert "external database" in status.stdout
    reset = run_cli(
        "testcube",
        "reset",
        "--dir",
        str(scratch / "mine"),
        "--bbox",
        *map(str, SMALL_BBOX),
        "--years",
        "2009",
        "--quiet",
    )
    assert reset.returncode == 0, reset.stderr
    assert len(dataset_ids(team)) == 6
    with team.datacube() as dc:
        assert {ds.time.begin.year for ds in dc.find_datasets(product="alos_palsar_mosaic")} == {2009, 2021, 2022}


def test_unknown_years_are_refused(scratch):
    result = run_cli("testcube", "up", "--dir", str(scratch), "--years", "2012")
    assert result.returncode == 1
    assert "No mosaics exist for 2012" in result.stderr


def test_a_dataset_written_by_another_version_is_rendered_and_indexed_again(scratch):
    """A cube built by an older version (other file names, other properties, other ids) is brought up to date."""
    import uuid

    import yaml
    from datacube.index.hl import Doc2Dataset

    cube = TestCube(scratch)
    cube.up(bbox=SMALL_BBOX, years={2021}, progress=False)
    path = sorted(scratch.glob("data/alos_palsar_mosaic/*/2021/*.odc-metadata.yaml"))[0]
    current = yaml.safe_load(path.read_text())
    old = {**current, "id": str(uuid.uuid4()), "properties": {**current["properties"], "eo:platform": "ALOS-2"}}
    old["measurements"] = {**current["measurements"], "hh": {"path": "N31E031_21_sl_HH_old.tif"}}
    (path.parent / current["measurements"]["hh"]["path"]).rename(path.parent / "N31E031_21_sl_HH_old.tif")
    path.write_text(yaml.safe_dump(old))
    (path.parent / "files.json").unlink()  # older versions kept no record of their files
    with cube.datacube() as dc:  # as the older version indexed it
        dc.index.datasets.archive([current["id"]])
        dc.index.datasets.purge([current["id"]])
        dataset, error = Doc2Dataset(dc.index)(old, path.as_uri())
        assert error is None
        dc.index.datasets.add(dataset, with_lineage=False)

    done = cube.up(bbox=SMALL_BBOX, years={2021}, progress=False)
    assert done == {"rendered": 1, "indexed": 1, "removed": 1, "repaired": []}
    assert yaml.safe_load(path.read_text()) == current
    assert not (path.parent / "N31E031_21_sl_HH_old.tif").exists()
    assert sorted(dataset_ids(cube)) == sorted(
        yaml.safe_load(p.read_text())["id"] for p in scratch.glob("data/*/*/*/*.odc-metadata.yaml")
    )


def test_a_year_range_that_runs_backwards_is_refused(scratch):
    result = run_cli("testcube", "up", "--dir", str(scratch / "cube"), "--years", "2022-2015", "--quiet")
    assert result.returncode == 2 and "runs backwards" in result.stderr and "2015-2022" in result.stderr
    assert not (scratch / "cube").exists()


def test_output_into_a_reader_that_went_away_ends_quietly(scratch):
    """`sar-helpers testcube status | head -1`, with the reader gone before the first line."""
    assert run_cli("testcube", "up", "--dir", str(scratch), *SMALL).returncode == 0
    for args in (["status"], ["up", *SMALL]):
        command = [sys.executable, "-m", "sar_helpers", "testcube", args[0], "--dir", str(scratch), *args[1:]]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
        process.stdout.close()
        err = process.stderr.read().decode()
        assert process.wait(timeout=300) == 141 and err == "", err
