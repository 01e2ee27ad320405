"""Faults made for real, and the repair: a server killed with SIGKILL, a stale pid file,
a server killed while `up` works, a truncated COG, a database that is down, a cube in a
private (0700) folder as root."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import papermill
import psutil
import pytest

from sar_helpers.cubes.localcube.server import SERVICE_USER, SYSTEM_FOLDER
from sar_helpers.cubes.testcube.cube import TestCube
from sar_helpers.tools.cli import main

from helpers import REPO, SMALL_BBOX, run_cli

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube

SMALL = ["--bbox", *map(str, SMALL_BBOX), "--years", "2021-2022", "--quiet"]
ALOS = str(REPO / "notebooks" / "01_ALOS_PALSAR_annual_mosaic.ipynb")


def ids_and_pixels(cube: TestCube) -> tuple[list[str], int]:
    with cube.datacube() as dc:
        ids = sorted(str(ds.id) for ds in dc.find_datasets(product="alos_palsar_mosaic"))
        ds = dc.load(product="alos_palsar_mosaic", measurements=["hh"], x=(31.99, 32.01), y=(30.45, 30.47))
    return ids, int(ds.hh.sum())


def postmaster_pid(cube: TestCube) -> int:
    return int((cube.server.data / "postmaster.pid").read_text().split()[0])


def kill_postmaster(cube: TestCube) -> None:
    """SIGKILL the postmaster and wait until it is gone: a signal is delivered, not acted on at once,
    and a server that is checked a moment after the kill may still be there."""
    process = psutil.Process(postmaster_pid(cube))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@pytest.fixture
def built(scratch) -> TestCube:
    assert run_cli("testcube", "up", "--dir", str(scratch), *SMALL).returncode == 0
    return TestCube(scratch)


@pytest.mark.skipif(os.geteuid() != 0, reason="what root meets: PostgreSQL refuses to run as root")
def test_root_builds_a_cube_in_a_private_folder(tmp_path):
    """A checkout in a 0700 folder (root's home): the server's files go where its user can reach them."""
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    folder = private / "checkout" / ".testcube"
    try:
        result = run_cli("testcube", "up", "--dir", str(folder), *SMALL)
        assert result.returncode == 0, result.stderr
        assert private.stat().st_mode & 0o777 == 0o700, "the user's folder keeps its permissions"
        cube = TestCube(folder)
        assert cube.server.folder.parent == SYSTEM_FOLDER
        info = cube.server.folder.stat()
        assert info.st_mode & 0o777 == 0o700 and info.st_uid == __import__("pwd").getpwnam(SERVICE_USER).pw_uid
        assert len(ids_and_pixels(cube)[0]) == 4
    finally:
        TestCube(folder).server.remove()


def test_a_killed_server_is_started_again_by_up_and_nothing_is_lost(built):
    before = ids_and_pixels(built)
    for _ in range(3):
        kill_postmaster(built)
        result = run_cli("testcube", "up", "--dir", str(built.folder), *SMALL)
        assert result.returncode == 0, result.stderr
        assert "rendered 0, indexed 0, removed 0" in result.stdout
        assert ids_and_pixels(built) == before


def test_a_stale_pid_file_naming_another_live_process(built):
    """After a reboot postmaster.pid may name a process that is something else now."""
    before = ids_and_pixels(built)
    assert run_cli("testcube", "down", "--dir", str(built.folder)).returncode == 0
    other = subprocess.Popen(["sleep", "60"])
    try:
        pid_file = built.server.data / "postmaster.pid"
        pid_file.write_text(f"{other.pid}\n{built.server.data}\n")
        assert "stopped" in run_cli("testcube", "status", "--dir", str(built.folder)).stdout
        result = run_cli("testcube", "up", "--dir", str(built.folder), *SMALL)
        assert result.returncode == 0, result.stderr
        assert ids_and_pixels(built) == before and other.poll() is None, "the other process is left alone"
    finally:
        other.kill()


def test_the_kernel_and_reports_start_a_killed_server(built, monkeypatch):
    from sar_helpers.tools.jupyter import ensure_cube_running

    kill_postmaster(built)
    monkeypatch.setenv("ODC_CONFIG_PATH", str(built.config_path))
    assert ensure_cube_running() is None
    assert built.server.running() and len(ids_and_pixels(built)[0]) == 4


def _kill_server_when(cube: TestCube, moment) -> subprocess.CompletedProcess:
    """Run `up` for every year and kill the server as soon as ``moment()`` is true."""
    every_year = ["--bbox", *map(str, SMALL_BBOX), "--quiet"]
    process = subprocess.Popen(
        [sys.executable, "-m", "sar_helpers", "testcube", "up", "--dir", str(cube.folder), *every_year],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    deadline = time.monotonic() + 300
    while process.poll() is None and not moment() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the moment should come while up works"
    kill_postmaster(cube)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("moment", ["rendering", "indexing"])
def test_a_server_killed_while_up_works_ends_in_one_sentence(built, moment):
    """Kill the server while `up` renders, or while it indexes; that `up` ends in one sentence and
    the next one finishes the cube."""
    data = built.data
    if moment == "rendering":
        happening = lambda: any(data.glob("*/*/*.partial-*"))  # noqa: E731
    else:  # every dataset rendered, so up is indexing them
        happening = lambda: len(list(data.glob("*/*/[0-9]*[0-9]/files.json"))) == 26  # noqa: E731
    result = _kill_server_when(built, happening)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "`sar-helpers testcube up`" in result.stderr
    again = run_cli("testcube", "up", "--dir", str(built.folder), "--bbox", *map(str, SMALL_BBOX), "--quiet")
    assert again.returncode == 0, again.stderr
    with built.datacube() as dc:
        assert (
            len(dc.find_datasets(product="alos_palsar_mosaic")) + len(dc.find_datasets(product="jers_sar_mosaic")) == 26
        )


def test_a_truncated_cog_is_named_and_rendered_again(built, tmp_path, monkeypatch, capsys):
    path = next((built.data / "alos_palsar_mosaic").glob("N31E031/2022/*_HH_*.tif"))
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 3])

    # A report stops before any kernel, naming the file and the repair.
    monkeypatch.setenv("ODC_CONFIG_PATH", str(built.config_path))
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a kernel was started"))
    code = main(
        [
            "report",
            ALOS,
            *("--x", "31.99", "32.01", "--y", "30.45", "30.47", "--time", "2022"),
            "-o",
            str(tmp_path / "r.html"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and str(path) in err and "sar-helpers testcube up" in err and len(err.strip().splitlines()) == 1

    # Reading it in plain Python: the one-sentence form names the file.
    from sar_helpers.errors import unreadable_file_message

    with built.datacube() as dc, pytest.raises(Exception) as raised:
        dc.load(product="alos_palsar_mosaic", measurements=["hh"], time="2022", x=(31.99, 32.0), y=(30.45, 30.47))
    assert path.name in unreadable_file_message(raised.value)

    # `up` renders it again, to the same bytes.
    result = run_cli("testcube", "up", "--dir", str(built.folder), *SMALL)
    assert result.returncode == 0 and f"Damaged, rendered again: {path}" in result.stdout
    assert path.read_bytes() == good


def test_a_report_on_a_file_damaged_at_the_same_size_names_it(built, tmp_path, monkeypatch, capsys):
    path = next((built.data / "alos_palsar_mosaic").glob("N31E031/2022/*_HH_*.tif"))
    good = path.read_bytes()
    half = len(good) // 2  # a COG keeps its full-resolution tiles last: damage the second half
    path.write_bytes(good[:half] + bytes(i % 251 for i in range(len(good) - half)))
    assert path.stat().st_size == len(good)
    monkeypatch.setenv("ODC_CONFIG_PATH", str(built.config_path))
    window = ("--x", "31.99", "32.01", "--y", "30.45", "30.47", "--time", "2022")
    code = main(["report", ALOS, *window, "--quiet", "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 1 and f"The test cube's file {path} is damaged" in err and "testcube up --verify" in err
    assert not (tmp_path / "r.html").exists()
    path.write_bytes(good)


def test_a_changed_byte_is_found_by_verify(built):
    path = next((built.data / "alos_palsar_mosaic").glob("N31E032/2021/*_date_*.tif"))
    good = bytearray(path.read_bytes())
    changed = bytearray(good)
    changed[len(changed) // 2] ^= 0xFF
    path.write_bytes(changed)
    quick = run_cli("testcube", "up", "--dir", str(built.folder), *SMALL)
    assert "Damaged" not in quick.stdout, "same size: only --verify reads every byte"
    verified = run_cli("testcube", "up", "--dir", str(built.folder), *SMALL, "--verify")
    assert f"Damaged, rendered again: {path}" in verified.stdout and path.read_bytes() == good


def test_a_database_that_is_down_is_one_sentence_for_the_helpers(built):
    import sar_helpers as sar

    dc = built.datacube()
    assert run_cli("testcube", "down", "--dir", str(built.folder)).returncode == 0
    with pytest.raises(sar.DatabaseUnavailable) as raised:
        sar.load_mosaics(dc, "alos_palsar_mosaic", ["hh"], time="2022", x=(31.99, 32.0), y=(30.45, 30.47))
    message = str(raised.value)
    assert raised.value.__suppress_context__ and len(message.splitlines()) == 1
    assert message.startswith("The datacube database cannot be reached") and "sar-helpers testcube up" in message


def test_report_outputs_that_cannot_be_written_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a kernel was started"))
    folder = tmp_path / "folder.html"
    folder.mkdir()
    cases = [
        (folder, "is a folder"),
        (Path("/proc/report.html"), "Cannot write the report into /proc"),
        (Path("/sys/kernel/r.html"), "Cannot write the report into /sys/kernel"),
        (tmp_path / "r.ipynb", "give -o a path ending in .html"),
        (REPO / "notebooks" / "01_ALOS_PALSAR_annual_mosaic.html", "beside the tutorial notebooks"),
    ]
    for target, message in cases:
        code = main(["report", ALOS, "--quiet", "-o", str(target)])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (target, err)
    assert [p.name for p in tmp_path.iterdir()] == ["folder.html"]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs, which needs root")
def test_a_full_disk_stops_the_build_in_one_sentence_and_the_next_up_finishes(scratch):
    disk = scratch / "small-disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k,mode=0755", "tmpfs", str(disk)], check=True)
    try:
        folder = disk / "cube"
        every_year = ["--bbox", *map(str, SMALL_BBOX), "--quiet"]
        full = run_cli("testcube", "up", "--dir", str(folder), *every_year)
        assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
        assert "is full" in full.stderr and len(full.stderr.strip().splitlines()) == 1
        assert not list(folder.rglob("*.partial-*")), "unfinished datasets are removed"
        kept = len(list((folder / "data").glob("*/*/*/files.json")))
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)
        finished = run_cli("testcube", "up", "--dir", str(folder), *every_year)
        assert finished.returncode == 0, finished.stderr
        assert f"rendered {26 - kept}, indexed 26" in finished.stdout
    finally:
        TestCube(disk / "cube").server.remove()
        subprocess.run(["umount", "--lazy", str(disk)], check=False)
