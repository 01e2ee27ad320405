import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sar_helpers as sar

from helpers import REPO

PACKAGE = Path(sar.__file__).parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_every_exported_name_resolves():
    for name in sar.__all__:
        assert callable(getattr(sar, name)), name


def test_the_command_line_does_not_import_plotting_libraries():
    code = "import sys, sar_helpers.tools.cli; print(sorted(m for m in ('matplotlib', 'folium', 'distributed') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """The package and its contracts in a scratch folder, to plant imports in."""
    shutil.copytree(PACKAGE, tmp_path / "sar_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """import-linter as `make lint` runs it, on the package in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [LINT_IMPORTS, "--no-cache", "--config", str(tree / "pyproject.toml")]
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_the_package_keeps_its_layer_contracts(package_copy):
    result = lint_imports(package_copy)
    assert result.returncode == 0, result.stdout
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, planted, broken",
    [
        # An analysis module reaching up to the tools.
        (
            "analysis/masking.py",
            "from sar_helpers.tools import cluster",
            "sar_helpers.analysis.masking -> sar_helpers.tools.cluster",
        ),
        # A base module reaching up to an analysis module, through a function-level import.
        (
            "checks.py",
            "def f():\n    from sar_helpers.analysis import steps",
            "sar_helpers.checks -> sar_helpers.analysis.steps",
        ),
        # Display and the cubes are independent of each other.
        ("display/maps.py", "from sar_helpers.cubes import grid", "sar_helpers.display.maps -> sar_helpers.cubes.grid"),
        # The real cube may not stand on the test cube.
        (
            "cubes/realcube/catalog.py",
            "from sar_helpers.cubes.testcube import scene",
            "catalog -> sar_helpers.cubes.testcube.scene",
        ),
        # The report runner may not use the command line that calls it.
        ("tools/reports.py", "from sar_helpers.tools import cli", "sar_helpers.tools.reports -> sar_helpers.tools.cli"),
        # A cycle inside one layer.
        ("analysis/masking.py", "from . import statistics", "No cycles are allowed in sar_helpers.analysis"),
    ],
)
def test_a_wrong_way_import_breaks_a_contract(package_copy, module, planted, broken):
    path = package_copy / "sar_helpers" / module
    path.write_text(path.read_text() + "\n" + planted + "\n")
    result = lint_imports(package_copy)
    assert result.returncode == 1, result.stdout
    assert broken in result.stdout, result.stdout


def docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = node.body[0]
    is_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    return first.end_lineno - first.lineno + 1 if is_docstring else 0


def test_modules_and_functions_stay_short():
    """A newcomer reads a module in one sitting and a function's code on one screen (its numpydoc
    docstring, the API reference's page, apart)."""
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        name = path.relative_to(PACKAGE.parent)
        if len(source.splitlines()) > 400:
            too_long.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                code = node.end_lineno - node.lineno + 1 - docstring_lines(node)
                if code > 60:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {code} lines of code")
    assert too_long == []


#: numpydoc's checks every public name passes: a docstring, a one-line summary, every parameter
#: documented and none that does not exist, and what it returns. ``make docs`` applies the same.
NUMPYDOC_CHECKS = {"GL08", "SS01", "PR01", "PR02", "RT01"}


def test_every_public_name_is_documented_in_numpydoc_style():
    from numpydoc.validate import validate

    problems = []
    for name in sar.__all__:
        result = validate(f"sar_helpers.{name}")
        problems += [f"{name}: {code} {message}" for code, message in result["errors"] if code in NUMPYDOC_CHECKS]
    assert problems == []


def test_the_documentation_check_finds_an_undocumented_parameter(tmp_path, monkeypatch):
    """The check above can fail: a function whose docstring omits a parameter and its result."""
    from numpydoc.validate import validate

    (tmp_path / "planted_module.py").write_text(
        'def planted(ds, size=7):\n    """Filter ds.\n\n    Parameters\n    ----------\n    ds : xarray.Dataset\n'
        '        A load.\n    """\n    return ds\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    codes = {code for code, _ in validate("planted_module.planted")["errors"]}
    assert {"PR01", "RT01"} <= codes


def test_every_public_function_states_its_return_type():
    """mypy checks the bodies; this keeps each public function's result typed for readers and callers."""
    import importlib
    import inspect
    import pkgutil

    untyped = []
    for info in pkgutil.walk_packages(sar.__path__, "sar_helpers."):
        if info.name == "sar_helpers.__main__":
            continue  # running it is the command line itself
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            members = [(name, obj)] if inspect.isfunction(obj) else []
            if inspect.isclass(obj):
                members = [
                    (f"{name}.{n}", f) for n, f in vars(obj).items() if inspect.isfunction(f) and not n.startswith("_")
                ]
            untyped += [f"{module.__name__}.{label}" for label, f in members if "return" not in f.__annotations__]
    assert untyped == []


def test_the_readme_is_a_newcomers_page():
    """Two commands first, every lesson named, the rest in the documentation: 120 lines at most."""
    readme = (REPO / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert first_block.splitlines()[1:3] == [
        "make demo   # set everything up, build the local test datacube, run the tutorials into reports/",
        "make test   # set everything up, then run the whole test suite",
    ]
    assert all(f"`{notebook.stem}`" in readme for notebook in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert "make docs" in readme
    assert len(readme.splitlines()) <= 120
