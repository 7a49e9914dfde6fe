"""Auto-graded quizzes: questions, a neat printout and grading (day 7).

A quiz is a list of :class:`Question` objects under a name (``"week1"``).
:func:`show_quiz` prints the questions; the learner answers in a function
that returns a dict such as ``{"q1": "b", "q2": 8}``, and
:func:`helpers.checks.check_quiz` grades it through :func:`grade`. The check
names the concept and the day to revisit for each answer that is not right
yet, but never prints the right answers; :func:`explain` reveals the answer
and the reasoning of one question at a time, for after a genuine attempt.

Multiple-choice answers are letters (``"b"``, ``"B"``, ``"(b)"`` and
``"b)"`` all count as ``b``); numeric answers are numbers, and strings that
hold a number (``"1.39"``, ``"1,39"``, ``"3/4"``) are read as that number.
Introduced on day 7.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, field

WIDTH = 80
LETTERS = "abcdefgh"


@dataclass(frozen=True)
class Question:
    """One quiz question (day 7).

    ``qid`` is the key the learner answers under (``"q1"``); ``options`` maps
    letters to choices for a multiple-choice question and is empty for a
    numeric one. ``answer`` is a letter, or a number accepted within ``tol``
    (absolute) or ``rtol`` (relative). ``concept`` and ``day`` say what to
    revisit after a wrong answer; ``explanation`` is shown by :func:`explain`.
    """

    qid: str
    day: int
    concept: str
    text: str
    answer: str | float
    explanation: str
    options: dict = field(default_factory=dict)
    tol: float = 1e-6
    rtol: float = 0.0

    @property
    def numeric(self) -> bool:
        return not self.options


@dataclass(frozen=True)
class Quiz:
    """A named list of questions with a title (day 7)."""

    name: str
    title: str
    questions: tuple

    def __post_init__(self):
        ids = [q.qid for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError(f"quiz {self.name!r} repeats a question id.")
        for q in self.questions:
            if q.options and q.answer not in q.options:
                raise ValueError(f"{q.qid}: the answer {q.answer!r} is not one "
                                 "of its options.")

    def __getitem__(self, qid: str) -> Question:
        for q in self.questions:
            if q.qid == qid:
                return q
        raise KeyError(f"quiz {self.name!r} has no question {qid!r}; its "
                       f"questions are {', '.join(self.ids)}.")

    def __len__(self) -> int:
        return len(self.questions)

    @property
    def ids(self) -> list[str]:
        return [q.qid for q in self.questions]


# --------------------------------------------------------------------------
# the week 1 quiz

_WEEK1 = (
    Question(
        "q1", 1, "shape rules of batched matrix multiplication",
        "A batch X has shape (4, 3, 8) and a weight matrix W has shape (8, 5). "
        "What is the shape of X @ W?",
        "c",
        "The matrix product contracts the last axis of X with the first axis "
        "of W (8 with 8); the leading batch axes (4, 3) are carried along, so "
        "the result is (4, 3, 5).",
        options={"a": "(4, 3, 8)", "b": "(4, 5)", "c": "(4, 3, 5)",
                 "d": "an error: the shapes do not match"},
    ),
    Question(
        "q2", 1, "the dot product",
        "What is the dot product of u = (1, 2, 3) and v = (4, -1, 2)?",
        8,
        "Multiply matching entries and add them: 1*4 + 2*(-1) + 3*2 = 8.",
    ),
    Question(
        "q3", 2, "numerically stable softmax",
        "Why does a stable softmax subtract max(z) from the logits z before "
        "taking exp?",
        "a",
        "softmax(z - c) = softmax(z) for any constant c, because exp(-c) "
        "cancels between the numerator and the sum. With c = max(z) the "
        "largest exponent is exp(0) = 1, so nothing overflows.",
        options={
            "a": "softmax is unchanged by subtracting a constant, and then no "
                 "exponent can overflow",
            "b": "it sharpens the distribution, the way a low temperature "
                 "does",
            "c": "it makes the largest probability exactly 1 and the others 0",
            "d": "it turns the logits into log-probabilities before exp",
        },
    ),
    Question(
        "q4", 2, "cross-entropy of a single prediction",
        "A classifier gives the correct class probability 0.25. What is its "
        "cross-entropy loss with the natural log? (two decimals)",
        math.log(4),
        "Cross-entropy is -log p(correct) = -ln 0.25 = ln 4 = 1.386. A "
        "uniform guess over 4 classes scores exactly this.",
        tol=0.01,
    ),
    Question(
        "q5", 2, "temperature",
        "You divide the logits by a temperature T = 5 before the softmax. "
        "What happens to the distribution?",
        "d",
        "Dividing by T > 1 shrinks the gaps between logits, so the "
        "probabilities move towards uniform; the ranking of the classes does "
        "not change.",
        options={
            "a": "it becomes sharper: the top class gains probability",
            "b": "nothing: softmax ignores a common scale",
            "c": "the ranking of the classes changes",
            "d": "it becomes flatter, closer to uniform, with the same ranking",
        },
    ),
    Question(
        "q6", 3, "counting the parameters of an MLP",
        "How many trainable parameters (weights and biases) does an MLP "
        "2 -> 16 -> 3 have (two linear layers, a ReLU between them)?",
        99,
        "The first layer has 2*16 weights + 16 biases = 48, the second 16*3 "
        "+ 3 = 51; ReLU has none. 48 + 51 = 99.",
    ),
    Question(
        "q7", 3, "why an MLP needs a non-linearity",
        "What happens if you remove the ReLU from a stack of linear layers?",
        "b",
        "A product of matrices is one matrix, so without a non-linearity the "
        "whole stack collapses into a single linear map and can only draw "
        "straight decision boundaries.",
        options={
            "a": "gradients explode, so training becomes unstable",
            "b": "the stack collapses into one linear map: straight "
                 "boundaries only",
            "c": "nothing changes; the model only becomes faster",
            "d": "the model can no longer be trained by gradient descent",
        },
    ),
    Question(
        "q8", 4, "the chain rule",
        "L = (w*x - t)^2 with w = 2, x = 3, t = 5. What is dL/dw?",
        6,
        "Chain rule: dL/dw = 2*(w*x - t) * x = 2 * (6 - 5) * 3 = 6.",
    ),
    Question(
        "q9", 4, "accumulating gradients in backpropagation",
        "In a computation graph, a value a is used twice: c = a * b and "
        "d = a + e, and the loss depends on both c and d. Which gradient "
        "does a receive?",
        "d",
        "Every path from a to the loss contributes, so the gradients add: "
        "dL/da = dL/dc * b + dL/dd * 1. That is why backward uses += and why "
        "PyTorch accumulates .grad until you zero it.",
        options={
            "a": "only the gradient from the path computed last",
            "b": "the larger of the two gradients",
            "c": "the average of the two gradients",
            "d": "the sum of the gradients from both paths",
        },
    ),
    Question(
        "q10", 5, "embedding lookup as a matrix product",
        "W is an embedding table of shape (V, d) and ids is a LongTensor of "
        "shape (T,). Which expression equals W[ids]?",
        "a",
        "A one-hot row picks exactly one row of W, so one_hot(ids, V) @ W "
        "(shape (T, V) times (V, d)) equals the lookup W[ids], shape (T, d). "
        "The lookup is just the fast way to compute it.",
        options={
            "a": "one_hot(ids, V).float() @ W",
            "b": "W @ one_hot(ids, V).float()",
            "c": "W.T[ids]",
            "d": "ids.float() @ W",
        },
    ),
    Question(
        "q11", 6, "order blindness without positions",
        "A model averages the embeddings of a sentence and has no "
        "positional encoding. What does it output for "
        "'dog bites man' and 'man bites dog'?",
        "c",
        "Both sentences hold the same multiset of vectors, and a sum or a "
        "mean does not care about their order, so the outputs are identical. "
        "Attention without positions is just as blind (day 12).",
        options={
            "a": "different outputs, because the ids differ",
            "b": "different outputs, because the first word counts most",
            "c": "exactly the same output",
            "d": "it depends on the random seed",
        },
    ),
    Question(
        "q12", 6, "the sinusoidal table at position 0",
        "In an interleaved sin/cos positional encoding with d_model = 8, what "
        "is the sum of the 8 entries of the vector for position 0?",
        4,
        "At position 0 every angle is 0: the sin entries are sin(0) = 0 and "
        "the cos entries are cos(0) = 1. Four of each, so the sum is 4.",
    ),
)

QUIZZES = {
    "week1": Quiz("week1", "Week 1 review quiz: foundations", _WEEK1),
}


def get_quiz(name: str) -> Quiz:
    """Return the quiz called ``name`` (day 7)."""
    if isinstance(name, Quiz):
        return name
    try:
        return QUIZZES[name]
    except KeyError:
        raise KeyError(f"there is no quiz called {name!r}; the quizzes are "
                       f"{', '.join(sorted(QUIZZES))}.") from None


# --------------------------------------------------------------------------
# printing


def _wrap(text: str, indent: str, first: str = "") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=first or indent,
                         subsequent_indent=indent)


def format_question(q: Question) -> str:
    """The question as printed by :func:`show_quiz` (day 7)."""
    head = f"{q.qid} · day {q.day} · "
    lines = [_wrap(q.text, " " * 4, head)]
    if q.numeric:
        lines.append("    (answer with a number)")
    for letter, option in q.options.items():
        lines.append(_wrap(option, " " * 7, f"    {letter}) "))
    return "\n".join(lines)


def show_quiz(name: str = "week1") -> None:
    """Print every question of the quiz ``name`` (day 7)."""
    quiz = get_quiz(name)
    n_choice = sum(1 for q in quiz.questions if not q.numeric)
    print(f"{quiz.title} · {len(quiz)} questions")
    print(f"{n_choice} multiple choice (answer with a letter), "
          f"{len(quiz) - n_choice} numeric (answer with a number).")
    for q in quiz.questions:
        print()
        print(format_question(q))


def explain(name: str, qid: str) -> None:
    """Print the answer and the reasoning of one question (day 7)."""
    q = get_quiz(name)[qid]
    if q.numeric:
        answer = _fmt_number(float(q.answer))
    else:
        answer = f"{q.answer}) {q.options[q.answer]}"
    print(_wrap(f"{q.qid} · {q.concept} (day {q.day})", ""))
    print(_wrap(f"Answer: {answer}", "    ", "    "))
    print(_wrap(q.explanation, "    ", "    "))


def _fmt_number(x: float) -> str:
    return f"{x:.4g}" if not float(x).is_integer() else str(int(x))


# --------------------------------------------------------------------------
# grading

CORRECT, WRONG, INVALID, MISSING = "correct", "wrong", "invalid", "missing"

_LETTER = re.compile(r"^\(?\s*([a-z])\s*[).:]?$")
_FRACTION = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*/\s*([-+]?\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Mark:
    """The grade of one answer: ``status`` is correct, wrong, invalid (the
    answer could not be read) or missing; ``note`` says why when invalid."""

    question: Question
    status: str
    given: object = None
    note: str = ""


def read_letter(value) -> str | None:
    """``"B"``, ``" b "``, ``"(b)"``, ``"b)"`` -> ``"b"``; anything else -> None."""
    if not isinstance(value, str):
        return None
    match = _LETTER.match(value.strip().lower())
    return match.group(1) if match else None


def read_number(value) -> float | None:
    """A number, or a string holding one (``"1.39"``, ``"1,39"``, ``"3/4"``),
    as a float; anything else (including ``True``) -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        x = float(value)
        return x if math.isfinite(x) else None
    item = getattr(value, "item", None)
    if callable(item):  # NumPy and PyTorch scalars
        try:
            return read_number(item())
        except Exception:  # more than one element
            return None
    if not isinstance(value, str):
        return None
    text = value.strip().replace(" ", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    fraction = _FRACTION.match(text)
    try:
        if fraction:
            x = float(fraction.group(1)) / float(fraction.group(2))
        else:
            x = float(text)
    except (ValueError, ZeroDivisionError):
        return None
    return x if math.isfinite(x) else None


def normalise_key(key) -> str | None:
    """``"q1"``, ``"Q1"``, ``" q1 "`` and ``1`` all mean question ``"q1"``."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return f"q{key}"
    if isinstance(key, str):
        text = key.strip().lower().replace(" ", "")
        if text.isdigit():
            return f"q{int(text)}"
        return text
    return None


def grade_one(q: Question, given) -> Mark:
    """Grade one answer to ``q`` (day 7)."""
    if given is None or (isinstance(given, str) and not given.strip()) \
            or given is Ellipsis:
        return Mark(q, MISSING, given)
    if q.numeric:
        x = read_number(given)
        if x is None:
            return Mark(q, INVALID, given, f"{q.qid} needs a number such as 0.5 "
                                           f"or 12, but got {given!r}")
        target = float(q.answer)
        ok = math.isclose(x, target, abs_tol=q.tol, rel_tol=q.rtol)
        return Mark(q, CORRECT if ok else WRONG, given)
    letter = read_letter(given)
    if letter is None:
        return Mark(q, INVALID, given, f"{q.qid} needs one letter, one of "
                                       f"{', '.join(q.options)}, but got {given!r}")
    if letter not in q.options:
        return Mark(q, INVALID, given, f"{q.qid} has no option {letter!r}; "
                                       f"choose one of {', '.join(q.options)}")
    return Mark(q, CORRECT if letter == q.answer else WRONG, given)


@dataclass
class QuizResult:
    """All the marks of one attempt, plus the keys that matched no question."""

    quiz: Quiz
    marks: list
    unknown_keys: list

    @property
    def score(self) -> int:
        return sum(m.status == CORRECT for m in self.marks)

    def with_status(self, status: str) -> list:
        return [m for m in self.marks if m.status == status]

    @property
    def passed(self) -> bool:
        return self.score == len(self.quiz)


def grade(name: str, answers: dict) -> QuizResult:
    """Grade ``answers`` (question id -> answer) against the quiz ``name``.

    Keys are matched case-insensitively (``"Q1"`` and ``1`` mean ``"q1"``);
    keys that match no question are reported in ``unknown_keys``.
    Introduced on day 7.
    """
    quiz = get_quiz(name)
    if not isinstance(answers, dict):
        raise TypeError("answers must be a dict such as {'q1': 'b'}, not a "
                        f"{type(answers).__name__}.")
    given, unknown = {}, []
    for key, value in answers.items():
        qid = normalise_key(key)
        if qid in quiz.ids:
            given[qid] = value
        else:
            unknown.append(key)
    marks = [grade_one(q, given.get(q.qid)) for q in quiz.questions]
    return QuizResult(quiz, marks, unknown)
