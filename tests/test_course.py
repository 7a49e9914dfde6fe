"""The course command: solution blocks, the learner and presenter editions,
and executing a notebook."""

import re

import nbformat
import pytest

from helpers.course import (
    CHECK_CALL,
    CourseError,
    all_notebooks,
    execute,
    has_solution,
    learner_notebook,
    presenter_notebook,
    split_solution,
    strip_solutions,
    write_edition,
)

CELL = '''def softmax(z, dim=-1):
    """Softmax along dim."""
    # BEGIN SOLUTION (hint: subtract the maximum first)
    z = z - z.max(dim=dim, keepdim=True).values
    return z.exp() / z.exp().sum(dim=dim, keepdim=True)
    # END SOLUTION
'''


def test_strip_solutions_keeps_signature_and_adds_hint():
    out = strip_solutions(CELL)
    assert out.startswith('def softmax(z, dim=-1):\n    """Softmax along dim."""\n')
    assert "    # Hint: subtract the maximum first\n" in out
    assert '    raise NotImplementedError("Your turn' in out
    assert "z.max" not in out and "BEGIN SOLUTION" not in out
    compile(out, "<learner>", "exec")  # still valid Python


def test_solution_without_hint_gets_no_hint_line():
    src = "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n"
    assert strip_solutions(src) == (
        'def f():\n    raise NotImplementedError("Your turn: replace this line '
        'with your code.")\n')


@pytest.mark.parametrize("bad", [
    "# BEGIN SOLUTION\nx = 1\n",
    "x = 1\n# END SOLUTION\n",
    "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n",
])
def test_malformed_solution_blocks_are_reported(bad):
    with pytest.raises(CourseError):
        split_solution(bad)


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Day 1 · x"),
        nbformat.v4.new_code_cell(CELL, execution_count=1,
                                  outputs=[nbformat.v4.new_output("stream", text="x")]),
        nbformat.v4.new_code_cell("check_softmax(softmax)", execution_count=2,
                                  outputs=[nbformat.v4.new_output("stream",
                                                                  text="✅")]),
        nbformat.v4.new_code_cell("print(1)", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="1")]),
    ]
    return nb


def test_learner_notebook_clears_solution_and_check_outputs_only():
    nb = learner_notebook(_notebook())
    solution, check, plain = nb.cells[1:]
    assert "NotImplementedError" in solution.source
    assert solution.outputs == [] and check.outputs == []
    assert plain.outputs and plain.execution_count == 3


def test_presenter_notebook_collapses_solution_cells():
    nb = presenter_notebook(_notebook())
    assert nb.cells[1].metadata["jupyter"]["source_hidden"] is True
    assert "jupyter" not in nb.cells[3].metadata


def _code_lines(text):
    return {line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")}


STORED = all_notebooks()


@pytest.mark.parametrize("path", STORED, ids=[p.stem for p in STORED])
def test_learner_edition_contains_no_solution_code(path):
    nb = nbformat.read(path, as_version=4)
    learner = learner_notebook(nb)
    n_solutions = 0
    for original, stripped in zip(nb.cells, learner.cells):
        if original.cell_type != "code" or not has_solution(original.source):
            continue
        outside, inside = set(), set()
        for is_solution, lines, _ in split_solution(original.source):
            (inside if is_solution else outside).update(_code_lines("".join(lines)))
            n_solutions += is_solution
        leaked = (inside - outside) & _code_lines(stripped.source)
        assert not leaked, f"solution lines left in the learner edition: {leaked}"
        assert not re.search(r"BEGIN SOLUTION|END SOLUTION", stripped.source)
        assert stripped.outputs == []
    assert n_solutions >= 2, "every day has at least two exercises"
    for cell in learner.cells:
        if cell.cell_type == "code" and CHECK_CALL.search(cell.source):
            assert cell.outputs == []


def test_execute_runs_a_notebook_and_stores_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(6 * 7)"),
                nbformat.v4.new_code_cell(
                    "import os\nprint(os.path.basename(os.getcwd()))")]
    path = tmp_path / "day99_demo.ipynb"
    nbformat.write(nb, path)
    seconds = execute(path)
    stored = nbformat.read(path, as_version=4)
    assert seconds > 0
    assert stored.cells[0].outputs[0]["text"] == "42\n"
    assert stored.cells[1].outputs[0]["text"].strip() == tmp_path.name
    assert [c.execution_count for c in stored.cells] == [1, 2]
    assert "iopub.execute_input" in stored.cells[0].metadata["execution"]
    assert stored.metadata["kernelspec"]["name"] == "python3"


def test_execute_reports_a_failing_notebook_in_one_sentence(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 / 0")]
    path = tmp_path / "day98_broken.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()
    with pytest.raises(CourseError, match="ZeroDivisionError"):
        execute(path)
    assert path.read_text() == before, "a failed run must not overwrite outputs"


def test_learner_edition_keeps_existing_work_unless_forced(tmp_path):
    written, kept = write_edition("learner", tmp_path)
    assert written and not kept
    work = written[0]
    work.write_text(work.read_text().replace("NotImplementedError", "MyWork", 1))
    written_again, kept = write_edition("learner", tmp_path)
    assert written_again == [] and work in kept
    assert "MyWork" in work.read_text()
    forced, _ = write_edition("learner", tmp_path, force=True)
    assert work in forced and "MyWork" not in work.read_text()
