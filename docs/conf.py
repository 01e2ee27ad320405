"""Sphinx settings of the documentation site: ``make docs`` builds it into build/docs/html/.

The lessons are rendered from the outputs stored in notebooks/ (never executed here: the
regression tests run them); the API reference comes from the docstrings of ``sar.__all__``,
in numpydoc style, and numpydoc's validation turns a missing parameter or result into a
warning, which ``make docs`` treats as an error.
"""

import shutil
from pathlib import Path

import sar_helpers

# The lessons are copied in beside these pages (a copy, not a link: Sphinx resolves a link to
# its target outside the source folder, and the notebooks' links to each other would break).
DOCS = Path(__file__).parent
LESSONS = DOCS / "notebooks"
LESSONS.mkdir(exist_ok=True)
for notebook in sorted((DOCS.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")):
    copy = LESSONS / notebook.name
    if not copy.exists() or copy.read_bytes() != notebook.read_bytes():
        shutil.copyfile(notebook, copy)

project = "SAR mosaics on the Open Data Cube"
author = "the sar-helpers developers"
copyright = "2026, the sar-helpers developers"
release = sar_helpers.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "numpydoc"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "notebooks/*.tif", "**/.ipynb_checkpoints"]

# The notebooks' stored outputs are what the tests compare; the site shows them as they are.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

nitpicky = True  # a cross-reference that leads nowhere is an error too
autodoc_typehints = "none"  # the numpydoc sections state the types, in words a reader uses
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Every public name: a summary, each parameter, what it returns (or yields).
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "RT01", "SS01"}

html_theme = "pydata_sphinx_theme"
html_title = project
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
html_static_path: list[str] = []
