"""The documentation site, built as `make docs` builds it (every warning an error), read in Chromium.

Every page loads; every figure of a rendered lesson is a decoded image and every map a frame that
holds its map; no link between our pages (or to an anchor on one) is broken; the API page has
every name of ``sar.__all__``.
"""

import functools
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

import sar_helpers as sar

from helpers import CHROMIUM, CHROMIUM_FLAGS, REPO

pytestmark = pytest.mark.e2e

LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "html"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "docs", str(out)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def served(site):
    """The built site over HTTP on 127.0.0.1, as a browser reads a published one."""
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1300, "height": 900},
        )
        yield context
        context.close()


def pages(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if "_static" not in p.parts)


def stored_images(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))


def test_every_page_loads_and_no_internal_link_is_broken(site, served, browser):
    page = browser.new_page()
    broken, anchors_of = [], {}
    for name in pages(site):
        response = page.goto(served + name)
        assert response is not None and response.status == 200, name
        anchors_of[name] = set(page.eval_on_selector_all("[id]", "nodes => nodes.map(n => n.id)"))
    for name in pages(site):
        page.goto(served + name)
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            url, fragment = urldefrag(href)
            if not url.startswith(served):
                continue  # another site: not ours to check offline
            target = urlparse(url).path.lstrip("/") or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if not (site / target).is_file():
                broken.append(f"{name} -> {href}")
            elif fragment and target in anchors_of and fragment not in anchors_of[target]:
                broken.append(f"{name} -> {href} (no such anchor)")
    page.close()
    assert broken == []
    assert {f"notebooks/{n.stem}.html" for n in LESSONS} <= set(pages(site))


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_every_figure_and_map_of_a_lesson_is_shown(served, browser, notebook):
    page = browser.new_page()
    page.goto(urljoin(served, f"notebooks/{notebook.stem}.html"))
    page.wait_for_load_state("load")
    images = page.locator("div.cell_output img")
    widths = [images.nth(i).evaluate("img => img.complete && img.naturalWidth") for i in range(images.count())]
    assert len(widths) == stored_images(notebook) > 0
    assert all(width and width > 100 for width in widths), widths
    shown = page.locator("div.cell_output img").first
    shown.scroll_into_view_if_needed()
    shots = REPO / "build" / "docs-e2e"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{notebook.stem}.png"))
    frames = page.locator("div.cell_output iframe")
    for i in range(frames.count()):
        frame = frames.nth(i)
        frame.scroll_into_view_if_needed()
        box = frame.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 200, box
        # The map's own page is inside the frame (its tiles need the network; the map does not).
        assert frame.content_frame.locator("div.folium-map").count() == 1
    page.close()


def test_the_api_page_documents_every_public_name(served, browser):
    page = browser.new_page()
    page.goto(served + "api.html")
    ids = set(page.eval_on_selector_all("dt[id]", "nodes => nodes.map(n => n.id)"))
    page.close()
    assert {f"sar_helpers.{name}" for name in sar.__all__} - ids == set()
