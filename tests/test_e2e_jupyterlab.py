"""JupyterLab in a real browser: open notebook 01, run every cell, look at what the page shows."""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil
import pytest

from helpers import CHROMIUM, CHROMIUM_FLAGS, REPO

pytestmark = [pytest.mark.e2e, pytest.mark.cube]

NOTEBOOK = "01_ALOS_PALSAR_annual_mosaic.ipynb"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
def lab(cube, tmp_path):
    """`sar-helpers lab` (what `make lab` runs) on a copy of the notebooks, with a token."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(REPO / "notebooks" / NOTEBOOK, folder)
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Render every cell, not only those on screen, so the page holds all outputs.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), secrets.token_hex(16)
    log = (tmp_path / "lab.log").open("w")
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"), "JUPYTER_TOKEN": token}
    server = subprocess.Popen(
        [sys.executable, "-m", "sar_helpers", "lab", "--notebook-dir", str(folder), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if http_status(f"{base}/api/status?token={token}") == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
    # What any local user sees with `ps`: the command line must not hold the token.
    assert token not in " ".join(psutil.Process(server.pid).cmdline())
    yield base, token
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()


def test_the_server_wants_its_token(lab):
    base, token = lab
    assert http_status(f"{base}/api/contents") == 403
    assert http_status(f"{base}/api/contents?token={token}") == 200


def test_run_all_cells_of_notebook_01(lab, tmp_path, figures):
    from playwright.sync_api import sync_playwright

    base, token = lab
    shots = REPO / "build" / "e2e"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            kernel_idle = page.locator(".jp-StatusBar-TextItem", has_text="| Idle")
            kernel_idle.wait_for(timeout=120_000)

            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

            code_cells = page.locator(".jp-Notebook .jp-CodeCell")
            count = code_cells.count()
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_inner_texts()
                if all(p.strip().startswith("[") and p.strip()[1:-2].isdigit() for p in prompts):
                    break
                time.sleep(1)
            else:
                pytest.fail(f"cells still running or not run: {prompts}")
            kernel_idle.wait_for(timeout=60_000)

            stderr = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            ).all_inner_texts()
            images = page.locator(".jp-OutputArea-output img")
            tables = page.locator(".jp-OutputArea-output table").all_inner_texts()
            maps = page.locator(".jp-OutputArea-output iframe")

            images.first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "jupyterlab_rgb.png"))
            page.locator(".jp-OutputArea-output table", has_text="2007-06-27").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "jupyterlab_dates.png"))
            maps.first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "jupyterlab_map.png"))

            cells = json.loads((REPO / "notebooks" / NOTEBOOK).read_text())["cells"]
            assert count == sum(c["cell_type"] == "code" for c in cells)
            assert len(stderr) == 1 and "share an observation date" in stderr[0], stderr
            assert not any("Traceback" in text or "Error" in text for text in stderr)
            assert images.count() >= 4
            assert images.first.get_attribute("src").startswith("data:image/png")
            assert images.first.evaluate("img => img.naturalWidth") > 500
            assert any("2007-06-27" in t and "2021-12-28" in t for t in tables)
            assert maps.count() >= 1
        finally:
            browser.close()
