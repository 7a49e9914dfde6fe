"""The two ways of installing the course ask for the same packages."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent

# conda names that differ from the PyPI names in pyproject.toml
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name_and_bound(requirement: str):
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(>=\s*[\w.]+)?", requirement)
    name = match.group(1).lower().replace("_", "-")
    return name, (match.group(2) or "").replace(" ", "")


def _pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(_name_and_bound(r) for r in reqs)


def _environment():
    text = (ROOT / "environment.yml").read_text()
    found = {}
    in_deps = False
    for line in text.splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        match = re.match(r"^  - ([A-Za-z0-9_.\-]+)(>=[\w.]+)?\s*$", line)
        if in_deps and match:
            name = CONDA_TO_PYPI.get(match.group(1), match.group(1))
            if name not in ("python", "pip"):
                found[name.lower()] = match.group(2) or ""
    return found


def test_environment_yml_lists_the_same_packages_as_pyproject():
    assert _environment() == _pyproject()


def test_dependencies_have_lower_bounds_not_pins():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for req in data["dependencies"] + data["optional-dependencies"]["test"]:
        assert ">=" in req and "==" not in req, req


def test_torch_is_not_required_newer_than_the_local_build():
    bound = _pyproject()["torch"]
    major, minor = (int(x) for x in bound[2:].split(".")[:2])
    assert (major, minor) <= (2, 14)
