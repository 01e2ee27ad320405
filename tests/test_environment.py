"""environment.yml (conda users) and binder/environment.yml (Binder) agree with the lock and pyproject."""

import re
import tomllib

import pytest
import yaml

from helpers import REPO


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0])


def locked() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonical(name)] = version
    return pins


def conda_environment(path):
    """(conda dependencies, pip lines) of an environment file."""
    doc = yaml.safe_load(path.read_text())
    assert doc["channels"] == ["conda-forge"]
    conda = [d for d in doc["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in doc["dependencies"] if isinstance(d, dict))
    return conda, pip


@pytest.mark.parametrize(
    "path, constraint",
    [
        (REPO / "environment.yml", "-c requirements.lock"),
        (REPO / "binder" / "environment.yml", "-c ../requirements.lock"),
    ],
)
def test_environment_pins_what_the_lock_pins(path, constraint):
    conda, pip = conda_environment(path)
    assert conda == ["python=3.11", "pip"]
    assert pip[0] == constraint and (path.parent / constraint.split()[1]).resolve() == REPO / "requirements.lock"
    pins = locked()
    for line in pip[1:]:
        name, version = line.split("==")
        assert canonical(name) in pins, f"{name} is in {path.name} but not in the lock"
        assert pins[canonical(name)] == version, (
            f"{name}: {version} in {path.name}, {pins[canonical(name)]} in the lock"
        )


@pytest.mark.parametrize("path", [REPO / "environment.yml", REPO / "binder" / "environment.yml"])
def test_environment_has_every_dependency_of_pyproject(path):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {requirement_name(r) for r in project["dependencies"]}
    wanted |= {requirement_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    _, pip = conda_environment(path)
    listed = {requirement_name(line) for line in pip[1:]}
    assert wanted - listed == set(), "missing from the environment"
    assert listed - wanted == set(), "in the environment but not a dependency in pyproject.toml"


def test_python_versions_agree():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    for path in (REPO / "environment.yml", REPO / "binder" / "environment.yml"):
        assert "python=3.11" in conda_environment(path)[0]


def test_every_lock_line_is_an_exact_pin():
    for line in (REPO / "requirements.lock").read_text().splitlines():
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line), line
