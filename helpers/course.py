"""The ``course`` command: execute notebooks and make the other editions.

    course execute [NOTEBOOK ...]   run notebooks top to bottom in a fresh
                                    kernel and store their outputs (all when
                                    none is named)
    course learner [--out DIR]      write the learner edition: solutions
                                    replaced by a NotImplementedError with a
                                    hint, outputs of those cells cleared;
                                    notebooks already there are kept unless
                                    --force is given
    course present [--out DIR]      write the presenter edition: solution
                                    cells collapsed, ready to reveal live
    course list                     the days that exist, with their paths
    course syllabus                 rewrite the README's syllabus table

``python -m helpers.course ...`` does the same when the ``course`` script is
not on the PATH. Introduced on day 1 (README).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from helpers.syllabus import DAYS, NOTEBOOKS, ROOT

SOLUTION_BEGIN = re.compile(r"^(?P<indent>\s*)#+\s*BEGIN SOLUTION(?P<rest>.*)$")
SOLUTION_END = re.compile(r"^\s*#+\s*END SOLUTION")
CHECK_CALL = re.compile(r"\bcheck_\w+\s*\(")
CELL_TIMEOUT = 120


class CourseError(Exception):
    """A problem the course command reports in one sentence."""


# --------------------------------------------------------------------------
# finding notebooks


def shown(path: Path) -> str:
    """``path`` relative to the course folder when it lies inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def all_notebooks() -> list[Path]:
    """Every stored day notebook, sorted by path."""
    return sorted(p for p in NOTEBOOKS.rglob("day*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def resolve(names: list[str]) -> list[Path]:
    """Turn command-line names (paths, or day numbers like ``3``) into paths."""
    if not names:
        return all_notebooks()
    paths = []
    for name in names:
        if name.isdigit():
            number = int(name)
            if number not in DAYS or not DAYS[number].path.exists():
                raise CourseError(f"There is no notebook for day {number} yet.")
            paths.append(DAYS[number].path)
            continue
        path = Path(name)
        if not path.exists():
            raise CourseError(f"{name} does not exist; give a notebook path or "
                              "a day number.")
        path = path.resolve()
        paths.extend(sorted(path.rglob("day*.ipynb")) if path.is_dir() else [path])
    return paths


# --------------------------------------------------------------------------
# solutions and editions


def split_solution(source: str) -> list[tuple[bool, list[str], str]]:
    """Split cell source into ``(is_solution, lines, hint)`` chunks.

    Raises :class:`CourseError` for an unclosed or nested solution block.
    """
    chunks: list[tuple[bool, list[str], str]] = []
    current: list[str] = []
    inside, hint = False, ""
    for line in source.splitlines(keepends=True):
        begin = SOLUTION_BEGIN.match(line.rstrip("\n"))
        if begin:
            if inside:
                raise CourseError("A BEGIN SOLUTION line sits inside another "
                                  "solution block; close the first with END "
                                  "SOLUTION.")
            chunks.append((False, current, ""))
            current, inside = [line], True
            hint = _hint(begin.group("rest"))
        elif SOLUTION_END.match(line):
            if not inside:
                raise CourseError("An END SOLUTION line has no BEGIN SOLUTION "
                                  "before it.")
            current.append(line)
            chunks.append((True, current, hint))
            current, inside = [], False
        else:
            current.append(line)
    if inside:
        raise CourseError("A BEGIN SOLUTION block is never closed; add an END "
                          "SOLUTION line.")
    chunks.append((False, current, ""))
    return [c for c in chunks if c[1]]


def _hint(rest: str) -> str:
    rest = rest.strip().lstrip(":-–—(").strip()
    if rest.endswith(")"):
        rest = rest[:-1]
    rest = re.sub(r"^hint:\s*", "", rest, flags=re.I).strip()
    return rest


def strip_solutions(source: str) -> str:
    """Replace every solution block by a hint and a ``NotImplementedError``."""
    out = []
    for is_solution, lines, hint in split_solution(source):
        if not is_solution:
            out.extend(lines)
            continue
        indent = SOLUTION_BEGIN.match(lines[0].rstrip("\n")).group("indent")
        if hint:
            out.append(f"{indent}# Hint: {hint}\n")
        out.append(f"{indent}raise NotImplementedError(\"Your turn: replace this "
                   f"line with your code.\")\n")
    return "".join(out)


def has_solution(source: str) -> bool:
    return any(SOLUTION_BEGIN.match(line) for line in source.splitlines())


def learner_notebook(nb):
    """Return a learner-edition copy of ``nb`` (an nbformat notebook)."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        solved = has_solution(cell.source)
        if solved:
            cell.source = strip_solutions(cell.source)
        if solved or CHECK_CALL.search(cell.source):
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    return nb


def presenter_notebook(nb):
    """Return a copy of ``nb`` whose solution cells start collapsed."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and has_solution(cell.source):
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    return nb


def _tag_solutions(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = [t for t in cell.metadata.get("tags", []) if t != "solution"]
        if has_solution(cell.source):
            tags.append("solution")
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)


def write_edition(kind: str, out: Path, force: bool = False
                  ) -> tuple[list[Path], list[Path]]:
    """Write the ``kind`` edition of every notebook under ``out``.

    Notebooks that already exist there are kept (they may hold a learner's
    work) unless ``force`` is set. Returns ``(written, kept)``.
    """
    import nbformat

    make = {"learner": learner_notebook, "present": presenter_notebook}[kind]
    written, kept = [], []
    for path in all_notebooks():
        target = out / path.relative_to(ROOT)
        if target.exists() and not force:
            kept.append(target)
            continue
        nb = nbformat.read(path, as_version=4)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(make(nb), target)
        written.append(target)
    return written, kept


# --------------------------------------------------------------------------
# executing


def execute(path: Path, timeout: int = CELL_TIMEOUT) -> float:
    """Run ``path`` top to bottom in a fresh kernel of this Python environment,
    store the outputs in place and return the seconds it took."""
    import nbformat
    from jupyter_client import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    km = KernelManager(kernel_name=CURRENT_ENV_KERNEL_NAME,
                       kernel_spec_manager=NbvalKernelspecManager())
    client = NotebookClient(nb, km=km, timeout=timeout,
                            resources={"metadata": {"path": str(path.parent)}},
                            record_timing=True)
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        raise CourseError(f"{shown(path)} stopped with {exc.ename}: {exc.evalue}; "
                          "nothing was stored.") from None
    seconds = time.perf_counter() - start
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    _tag_solutions(nb)
    nbformat.write(nb, path)
    return seconds


# --------------------------------------------------------------------------
# the README's syllabus table

TABLE_BEGIN = "<!-- syllabus:begin (course syllabus rewrites this table) -->"
TABLE_END = "<!-- syllabus:end -->"


def syllabus_table() -> str:
    """The README's syllabus: every day, linked when its notebook exists."""
    from helpers.syllabus import WEEKS

    lines = ["| week | day | topic |", "|---|---|---|"]
    for number, day in DAYS.items():
        topic = f"[{day.title}]({day.relpath})" if day.path.exists() else day.title
        first = number == 1 or DAYS[number - 1].week != day.week
        label = "8-9" if day.week == 8 else str(day.week)
        week = f"{label} · {WEEKS[day.week][1]}" if first else ""
        lines.append(f"| {week} | {number} | {topic} |")
    return "\n".join(lines)


def update_readme(readme: Path = ROOT / "README.md") -> bool:
    """Rewrite the syllabus table in the README; return True if it changed."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(TABLE_BEGIN), text.index(TABLE_END)
    new = (text[:start] + TABLE_BEGIN + "\n" + syllabus_table() + "\n"
           + text[end:])
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


# --------------------------------------------------------------------------
# command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("execute", help="run notebooks and store their outputs")
    ex.add_argument("notebooks", nargs="*",
                    help="paths or day numbers (all by default)")
    ex.add_argument("--timeout", type=int, default=CELL_TIMEOUT,
                    help="seconds allowed per cell")
    for kind, default in (("learner", "learner"), ("present", "presenter")):
        p = sub.add_parser(kind, help=f"write the {kind} edition")
        p.add_argument("--out", default=str(ROOT / default))
        p.add_argument("--force", action="store_true",
                       help="overwrite notebooks that already exist there")
    sub.add_parser("list", help="list the days that exist")
    sub.add_parser("syllabus", help="rewrite the syllabus table in README.md")
    args = parser.parse_args(argv)

    try:
        if args.command == "execute":
            total = 0.0
            for path in resolve(args.notebooks):
                seconds = execute(path, args.timeout)
                total += seconds
                print(f"{seconds:6.1f} s  {shown(path)}", flush=True)
            print(f"{total:6.1f} s  in all")
        elif args.command in ("learner", "present"):
            written, kept = write_edition(args.command, Path(args.out), args.force)
            print(f"wrote {len(written)} notebooks to {args.out}")
            if kept:
                print(f"kept {len(kept)} notebooks that were already there, with "
                      "any work in them; add --force to replace them")
        elif args.command == "syllabus":
            changed = update_readme()
            print("README.md syllabus " + ("updated" if changed else "unchanged"))
        elif args.command == "list":
            for number, day in DAYS.items():
                mark = "" if day.path.exists() else "  (not written yet)"
                print(f"{number:2d}  {day.relpath}{mark}")
    except CourseError as exc:
        print(f"course: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
