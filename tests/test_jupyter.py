"""Real Jupyter kernels find the test cube by themselves, and say clearly when it is down."""

import os

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from sar_helpers.cubes.testcube.cube import TestCube
from sar_helpers.tools.jupyter import install_kernel

from helpers import SMALL_BBOX, run_cli

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube

LIST_PRODUCTS = "import datacube\nprint(sorted(datacube.Datacube(app='ALOS').list_products().index))"


def run_in_kernel(client, code: str) -> tuple[str, str, list[dict]]:
    """Execute code; return (stdout, stderr, error messages)."""
    out, err, errors = [], [], []

    def collect(msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            (out if content["name"] == "stdout" else err).append(content["text"])
        elif kind == "error":
            errors.append(content)

    client.execute_interactive(code, output_hook=collect, timeout=120)
    return "".join(out), "".join(err), errors


def kernel_for(cube: TestCube, prefix, home):
    """A kernel from the spec `sar-helpers testcube kernel` writes, in a clean environment."""
    install_kernel(cube.config_path, prefix=str(prefix))
    specs = KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ODC_", "SAR_TESTCUBE"))}
    env["HOME"] = str(home)
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    manager.start_kernel(env=env, cwd=str(home))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=120)
    return manager, client


@pytest.fixture
def small_cube(scratch):
    result = run_cli(
        "testcube", "up", "--dir", str(scratch / "cube"), "--bbox", *map(str, SMALL_BBOX), "--years", "2021", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    (scratch / "home").mkdir()
    return TestCube(scratch / "cube")


def test_the_installed_kernel_connects_with_a_plain_datacube(cube, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    manager, client = kernel_for(cube, tmp_path, home)
    try:
        out, err, errors = run_in_kernel(client, LIST_PRODUCTS)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert errors == [], errors
    assert out.strip() == "['alos_fnf_mosaic', 'alos_palsar_mosaic', 'jers_sar_mosaic']"


def test_a_stopped_server_is_started_for_the_kernel(small_cube, scratch):
    small_cube.down()
    manager, client = kernel_for(small_cube, scratch, scratch / "home")
    try:
        out, err, errors = run_in_kernel(client, LIST_PRODUCTS)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert errors == [] and "alos_palsar_mosaic" in out


def test_a_database_that_goes_down_gets_one_clear_sentence(small_cube, scratch):
    manager, client = kernel_for(small_cube, scratch, scratch / "home")
    try:
        small_cube.down()
        out, err, errors = run_in_kernel(client, LIST_PRODUCTS)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert err.startswith("The datacube database cannot be reached (")
    assert "Start it with `sar-helpers testcube up`" in err and "`make setup`" in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_lab_refuses_public_interfaces_and_weak_tokens_unless_asked(tmp_path):
    from sar_helpers.tools.jupyter import lab_command

    with pytest.raises(ValueError, match="Refusing to serve JupyterLab on 0.0.0.0"):
        lab_command(tmp_path, ip="0.0.0.0")
    for weak in ("", "   ", "short", "x" * 15, " " + "x" * 20):
        with pytest.raises(ValueError, match="Refusing a JupyterLab token that is blank"):
            lab_command(tmp_path, token=weak)
    command, env, token = lab_command(tmp_path)
    assert len(token) == 48 and env["JUPYTER_TOKEN"] == token and "--ip=127.0.0.1" in command
    assert not any(token in part for part in command), "the token never goes on the command line"
    command, env, token = lab_command(tmp_path, ip="0.0.0.0", public=True, no_token=True)
    assert token == "" and "--ip=0.0.0.0" in command and "JUPYTER_TOKEN" not in env


def test_a_file_a_worker_cannot_read_gets_its_one_sentence_in_the_kernel(small_cube, scratch):
    """The loaders' own errors (a local file another user's worker cannot read, a remote file the
    server keeps failing) are shown as their sentence, not as a traceback."""
    manager, client = kernel_for(small_cube, scratch, scratch / "home")
    try:
        code = "import sar_helpers as sar\nraise sar.{}('The file x cannot be read by this process.')"
        shown = [run_in_kernel(client, code.format(name)) for name in ("LocalFileUnreadable", "RemoteFileUnreadable")]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    for out, err, _ in shown:
        assert err.strip() == "The file x cannot be read by this process." and "Traceback" not in err + out
