"""The learner edition runs top to bottom before any exercise is solved, and
every check then says, in one friendly sentence, that the work is not done."""

import nbformat
import pytest

from helpers.course import CHECK_CALL, all_notebooks, execute, learner_notebook

STORED = all_notebooks()


@pytest.mark.parametrize("path", STORED, ids=[p.stem for p in STORED])
def test_learner_edition_runs_and_checks_ask_for_the_work(path, tmp_path):
    target = tmp_path / path.name
    nbformat.write(learner_notebook(nbformat.read(path, as_version=4)), target)
    execute(target)  # raises CourseError if any cell fails
    ran = nbformat.read(target, as_version=4)
    verdicts = []
    for cell in ran.cells:
        if cell.cell_type != "code" or not CHECK_CALL.search(cell.source):
            continue
        text = "".join(o.get("text", "") for o in cell.outputs
                       if o.get("output_type") == "stream")
        assert "Traceback" not in text
        verdicts.append(text)
    assert len(verdicts) >= 2
    assert all("not written yet" in v for v in verdicts), verdicts
