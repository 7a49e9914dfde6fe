"""The README, CI and the notebooks agree with each other."""

import json
import re
from pathlib import Path

from helpers.course import TABLE_BEGIN, TABLE_END, all_notebooks, syllabus_table
from helpers.syllabus import DAYS, NOTEBOOKS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

INSTALL_AND_OPEN = ("python3 -m venv .venv && .venv/bin/pip install -e . && "
                    ".venv/bin/jupyter lab notebooks")
INSTALL_AND_TEST = ('python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && '
                    ".venv/bin/python -m pytest")


def test_readme_start_has_the_two_commands():
    start = README.split("## Start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)\n\s*```", start, flags=re.S)
    commands = [b.strip() for b in blocks]
    assert commands[0] == INSTALL_AND_OPEN
    assert commands[1] == INSTALL_AND_TEST


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert INSTALL_AND_TEST in ci.splitlines()


def test_syllabus_table_is_current():
    block = README.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0].strip()
    assert block == syllabus_table(), "run `course syllabus` to refresh the README"


def test_readme_links_every_notebook_that_exists():
    linked = set(re.findall(r"\]\((notebooks/[^)]+\.ipynb)\)", README))
    existing = {str(p.relative_to(ROOT)) for p in all_notebooks()}
    assert existing, "no notebooks found"
    assert existing == linked


def test_every_relative_link_in_the_readme_exists():
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        assert (ROOT / target).exists(), target


def test_every_notebook_sits_where_the_syllabus_says():
    expected = {d.path for d in DAYS.values()}
    for path in all_notebooks():
        assert path in expected, f"{path.relative_to(ROOT)} is not in the syllabus"


def test_every_notebook_first_cell_titles_its_day():
    for day in DAYS.values():
        if not day.path.exists():
            continue
        nb = json.loads(day.path.read_text(encoding="utf-8"))
        first = "".join(nb["cells"][0]["source"])
        assert nb["cells"][0]["cell_type"] == "markdown"
        assert first.lstrip().startswith(f"# {day.heading}"), day.relpath
        assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_notebook_folder_exists():
    assert NOTEBOOKS.is_dir()
