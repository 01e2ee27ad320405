"""Attacks by another local user and mistakes by a careless one, performed for real:
planted links, paths made to reach a shell, a reset in a shared folder, readers while the
cube is rebuilt."""

import json
import os
import pwd
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sar_helpers.cubes.localcube.server import EmbeddedServer, ServerError, private_folder, server_folder

from helpers import SMALL_BBOX, run_cli

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube

SMALL = ["--bbox", *map(str, SMALL_BBOX), "--years", "2022", "--quiet"]
PROBE_USER = "sarprobe"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creates an unprivileged user, which needs root")


@pytest.fixture(scope="module")
def probe_user() -> pwd.struct_passwd:
    """An unprivileged local account, made for these tests."""
    try:
        return pwd.getpwnam(PROBE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PROBE_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(PROBE_USER)


def test_a_planted_link_for_a_private_folder_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    planted = tmp_path / "sarcube-0-abc"
    planted.symlink_to(victim)
    with pytest.raises(ServerError, match="exists but is not a folder"):
        private_folder(planted, (os.geteuid(), os.getegid()))
    assert victim.stat().st_mode & 0o777 == 0o755 and victim.stat().st_uid == os.geteuid()


@needs_root
def test_a_folder_of_another_user_is_refused_for_the_socket(tmp_path, probe_user):
    planted = tmp_path / "socket"
    planted.mkdir()
    planted.chmod(0o777)
    os.chown(planted, probe_user.pw_uid, probe_user.pw_gid)
    with pytest.raises(ServerError, match="belongs to another user"):
        private_folder(planted, (os.geteuid(), os.getegid()))
    assert planted.stat().st_uid == probe_user.pw_uid and planted.stat().st_mode & 0o777 == 0o777


def test_a_server_with_a_long_path_meets_a_planted_socket_link(tmp_path):
    """A cube folder with a long path puts its socket in the temp folder, where anyone can plant a link."""
    home = Path(tempfile.mkdtemp(prefix="sarcube-test-"))
    home.chmod(0o755)  # as root, the server's user must reach the folder
    server = EmbeddedServer(home / ("long-" * 16) / "pg")
    assert server.socket_dir.parent == Path(tempfile.gettempdir())
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    server.socket_dir.symlink_to(victim)
    try:
        with pytest.raises(ServerError, match="exists but is not a folder"):
            server.initialise()
        assert victim.stat().st_mode & 0o777 == 0o755 and victim.stat().st_uid == os.geteuid()
    finally:
        server.socket_dir.unlink()
        server.remove()
        subprocess.run(["rm", "-rf", str(home)], check=False)


def test_a_path_with_spaces_quotes_and_dollars_never_reaches_a_shell():
    """The server's folder name goes to PostgreSQL as it is: nothing in it runs."""
    home = Path(tempfile.mkdtemp(prefix="sarcube-test-"))
    home.chmod(0o755)
    # Run by a shell, either substitution would print "uid=..." into the server's log.
    server = EmbeddedServer(home / "a b$(id>&2)`id>&2`\"q'" / "pg")
    assert server.socket_dir == server.folder / "run", "short enough for the socket to live there too"
    try:
        server.initialise()
        server.stop()
        server.start()
        assert server.running() and "uid=" not in server.log.read_text(), "a path ran as a command"
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlalchemy, sys; e = sqlalchemy.create_engine(sys.argv[1]); "
                "print(e.connect().exec_driver_sql('select 1').scalar())",
                server.url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.strip() == "1", result.stderr
    finally:
        server.remove()
        subprocess.run(["rm", "-rf", str(home)], check=False)


def test_reset_deletes_only_what_the_cube_made(scratch):
    assert run_cli("testcube", "up", "--dir", str(scratch), *SMALL).returncode == 0
    notes = scratch / "notes.txt"
    notes.write_text("my notes")
    thesis = scratch / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("\\chapter{One}")
    mine_in_data = scratch / "data" / "my-labels.csv"
    mine_in_data.write_text("x,y\n")

    refused = run_cli("testcube", "reset", "--dir", str(scratch), *SMALL)
    assert refused.returncode == 1 and "--force" in refused.stderr and "notes.txt" in refused.stderr
    assert len(list((scratch / "data").glob("*/*/*/*.tif"))) == 10, "nothing was deleted"

    in_a_dataset = next((scratch / "data").glob("*/*/*/")) / "README.txt"
    in_a_dataset.write_text("where these came from")
    forced = run_cli("testcube", "reset", "--dir", str(scratch), *SMALL, "--force")
    assert forced.returncode == 0, forced.stderr
    assert notes.read_text() == "my notes" and (thesis / "chapter1.tex").exists() and mine_in_data.exists()
    assert in_a_dataset.read_text() == "where these came from"
    assert f"Kept (not made by the cube): {in_a_dataset}" in forced.stdout
    assert "rendered 2, indexed 2" in forced.stdout


@needs_root
def test_as_root_reset_leaves_a_users_pg_folder(scratch):
    """Root's cube keeps its server in /var/lib/sar-helpers: a pg/ in the cube folder is not its own."""
    assert run_cli("testcube", "up", "--dir", str(scratch), *SMALL).returncode == 0
    (scratch / "pg").mkdir()
    (scratch / "pg" / "my.sql").write_text("select 1;")
    refused = run_cli("testcube", "reset", "--dir", str(scratch), *SMALL)
    assert refused.returncode == 1 and "(pg/)" in refused.stderr
    assert run_cli("testcube", "reset", "--dir", str(scratch), *SMALL, "--force").returncode == 0
    assert (scratch / "pg" / "my.sql").read_text() == "select 1;"


def test_delete_removes_the_cube_and_its_server_and_names_what_it_keeps(scratch):
    cube_folder = scratch / "cube"
    assert run_cli("testcube", "up", "--dir", str(cube_folder), *SMALL).returncode == 0
    server = server_folder(cube_folder)
    assert server.is_dir()
    note = next((cube_folder / "data").glob("*/*/*/")) / "note.txt"
    note.write_text("mine")
    result = run_cli("testcube", "delete", "--dir", str(cube_folder))
    assert result.returncode == 0, result.stderr
    assert f"Kept (not made by the cube): {note}" in result.stdout
    assert not server.exists() and note.read_text() == "mine"
    assert [p for p in cube_folder.rglob("*") if not p.is_dir()] == [note]
    assert {p for p in cube_folder.rglob("*") if p.is_dir()} == {note.parents[0], note.parents[1], note.parents[2]} | {
        cube_folder / "data"
    }
    note.unlink()
    assert run_cli("testcube", "delete", "--dir", str(cube_folder)).returncode == 0
    assert not cube_folder.exists()


def test_planted_links_for_the_lock_and_the_config_are_not_followed(scratch, tmp_path):
    assert run_cli("testcube", "up", "--dir", str(scratch), *SMALL).returncode == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (scratch / "datacube.conf").unlink()
    (scratch / "datacube.conf").symlink_to(victim)
    repaired = run_cli("testcube", "up", "--dir", str(scratch), *SMALL)
    assert repaired.returncode == 0, repaired.stderr
    assert victim.read_text() == "precious" and not (scratch / "datacube.conf").is_symlink()
    (scratch / "lock").unlink()
    (scratch / "lock").symlink_to(victim)
    refused = run_cli("testcube", "up", "--dir", str(scratch), *SMALL)
    assert refused.returncode == 1 and "is a link, not the cube's lock file" in refused.stderr
    assert victim.read_text() == "precious"


@needs_root
@pytest.mark.parametrize("given", ["owned", "writable"])
def test_as_root_a_cube_folder_another_user_owns_or_can_write_is_refused(scratch, probe_user, given):
    folder = scratch / "shared"
    folder.mkdir()
    if given == "owned":
        os.chown(folder, probe_user.pw_uid, probe_user.pw_gid)
    else:
        folder.chmod(0o777)
    result = run_cli("testcube", "up", "--dir", str(folder), *SMALL)
    assert result.returncode == 1 and "another user owns it or can write to it" in result.stderr
    assert list(folder.iterdir()) == []


def test_readers_see_the_old_cube_or_the_new_one_while_it_grows(scratch):
    """`up --bbox <bigger box>` renders and indexes every dataset again while loads go on."""
    years = ["--years", "2015-2022", "--quiet"]
    assert run_cli("testcube", "up", "--dir", str(scratch), "--bbox", *map(str, SMALL_BBOX), *years).returncode == 0
    log = scratch / "reader.jsonl"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"""
import json, time
import datacube
dc = datacube.Datacube(config={str(scratch / "datacube.conf")!r})
with open({str(log)!r}, "a") as out:
    while True:
        try:
            ds = dc.load(product="alos_palsar_mosaic", measurements=["hh"], time=("2015", "2022"),
                         x=(31.995, 32.005), y=(30.455, 30.465))
            out.write(json.dumps({{"steps": ds.sizes.get("time", 0), "empty": int((ds.hh == 0).sum())}}) + "\\n")
        except Exception as err:
            out.write(json.dumps({{"error": repr(err)[:300]}}) + "\\n")
        out.flush()
""",
        ],
        cwd="/",
    )
    try:
        time.sleep(3)
        bigger = run_cli("testcube", "up", "--dir", str(scratch), "--bbox", "31.97", "30.44", "32.03", "30.48", *years)
        assert bigger.returncode == 0, bigger.stderr
        assert "rendered 16, indexed 16, removed 16" in bigger.stdout
        time.sleep(2)
    finally:
        reader.kill()
        reader.wait()
    loads = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert len(loads) >= 10, "the reader should have loaded many times during the rebuild"
    assert [r for r in loads if "error" in r] == []
    assert {r["steps"] for r in loads} == {8} and {r["empty"] for r in loads} == {0}


def test_the_printed_export_line_runs_nothing_when_pasted(scratch):
    folder = scratch / "a b $(touch pwned)"
    result = run_cli("testcube", "up", "--dir", str(folder), *SMALL)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("Connect with: "))
    pasted = subprocess.run(
        ["bash", "-c", line.removeprefix("Connect with: ") + '; printf %s "$ODC_CONFIG_PATH"'],
        capture_output=True,
        text=True,
        cwd=scratch,
    )
    assert pasted.stdout == str(folder / "datacube.conf") and not (scratch / "pwned").exists()
