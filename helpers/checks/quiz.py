"""The check that grades a quiz (day 7).

The learner writes ``def quiz_answers(): return {"q1": "b", ...}``; the
check calls it, prints the score and, for every answer that is not right
yet, one sentence naming the concept and the day to revisit. It never
prints the right answers: ``helpers.quiz.explain(quiz, qid)`` shows one at a
time, for after a real attempt.
"""

from __future__ import annotations

from typing import Callable

from helpers.checks._core import Verdict, call_learner, fail, run_check
from helpers.quiz import INVALID, MISSING, WRONG, get_quiz, grade


def _feedback_line(mark) -> str:
    q = mark.question
    if mark.status == WRONG:
        return (f"{q.qid} is not right yet: revisit {q.concept} "
                f"(day {q.day}).")
    if mark.status == MISSING:
        return (f"{q.qid} has no answer yet: it is about {q.concept} "
                f"(day {q.day}).")
    return f"{mark.note}; it is about {q.concept} (day {q.day})."


def check_quiz(answers_fn: Callable, quiz: str = "week1") -> Verdict:
    """Grade the dict returned by ``answers_fn()`` against ``quiz`` (day 7).

    ``answers_fn`` takes no arguments and returns ``{"q1": "b", "q2": 8,
    ...}``: letters for multiple-choice questions, numbers for numeric ones
    (strings holding a number are accepted). Prints the score and one
    sentence per answer that is wrong, unreadable or missing.
    """
    the_quiz = get_quiz(quiz)
    name = f"quiz {the_quiz.name}"

    def body() -> str:
        answers = call_learner("quiz_answers", answers_fn, label="the quiz")
        if answers is None:
            fail("quiz_answers returned None; end it with `return {...}` "
                 "holding your answers.", "returned_none")
        if not isinstance(answers, dict):
            fail(f"quiz_answers should return a dict such as {{'q1': 'b', "
                 f"'q2': 8}}, but it returned a {type(answers).__name__}.",
                 "not_a_dict")
        result = grade(the_quiz, answers)
        total = len(the_quiz)
        lines = [_feedback_line(m) for m in result.marks
                 if m.status in (WRONG, INVALID, MISSING)]
        for key in result.unknown_keys:
            lines.append(f"the key {key!r} matches no question of this quiz "
                         f"({the_quiz.ids[0]} to {the_quiz.ids[-1]}), so it "
                         "was ignored.")
        if result.passed:
            extra = ("\n   " + "\n   ".join(lines)) if lines else ""
            return (f"{name}: {total}/{total} correct. Every answer is right; "
                    f"explain({the_quiz.name!r}, 'q1') shows the reasoning "
                    f"behind any question.{extra}")
        if result.with_status(WRONG):
            mistake = "wrong_answers"
        elif result.with_status(INVALID):
            mistake = "invalid_answers"
        else:
            mistake = "missing_answers"
        feedback = "\n   ".join(lines)
        fail(f"{name}: {result.score}/{total} correct.\n   {feedback}\n"
             "Revisit those days, change your answers and run the check "
             f"again (explain({the_quiz.name!r}, 'qN') reveals one answer "
             "when you are stuck).", mistake)

    return run_check(name, body)

