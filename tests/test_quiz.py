"""The week 1 quiz: its answers are right, and its grading is fair (day 7)."""

import math
import subprocess
import sys

import pytest
import torch

from helpers.checks import check_quiz
from helpers.quiz import (
    QUIZZES,
    explain,
    get_quiz,
    grade,
    read_letter,
    read_number,
    show_quiz,
)

QUIZ = QUIZZES["week1"]


def right_answers() -> dict:
    return {q.qid: q.answer for q in QUIZ.questions}


def a_wrong_answer(q):
    if q.numeric:
        return float(q.answer) + 10.0
    return next(letter for letter in q.options if letter != q.answer)


def run(fn, capsys, **kw):
    verdict = check_quiz(fn, **kw)
    out = capsys.readouterr().out
    assert "Traceback" not in out
    assert out.strip() == verdict.message
    return verdict, out


# --------------------------------------------------------------------------
# the quiz itself


def test_quiz_has_8_to_12_questions_covering_days_1_to_6():
    assert 8 <= len(QUIZ) <= 12
    assert {q.day for q in QUIZ.questions} == {1, 2, 3, 4, 5, 6}
    assert len(set(QUIZ.ids)) == len(QUIZ)
    numeric = [q for q in QUIZ.questions if q.numeric]
    choice = [q for q in QUIZ.questions if not q.numeric]
    assert numeric and choice
    for q in QUIZ.questions:
        assert q.text and q.explanation and q.concept
        if not q.numeric:
            assert q.answer in q.options and len(q.options) >= 3


def test_right_letters_are_spread_over_the_options():
    letters = [q.answer for q in QUIZ.questions if not q.numeric]
    assert len(set(letters)) >= 3


def test_q1_batched_matmul_shape():
    X, W = torch.randn(4, 3, 8), torch.randn(8, 5)
    assert QUIZ["q1"].options[QUIZ["q1"].answer] == str(tuple((X @ W).shape))


def test_q2_dot_product():
    u, v = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0, -1.0, 2.0])
    assert QUIZ["q2"].answer == torch.dot(u, v).item()


def test_q3_softmax_shift_invariance_is_the_reason():
    z = torch.tensor([1000.0, 999.0, 990.0])
    assert torch.isnan(z.exp() / z.exp().sum()).any()  # the naive way fails
    shifted = (z - z.max()).exp()
    assert torch.allclose(shifted / shifted.sum(), torch.softmax(z, -1))
    assert QUIZ["q3"].answer == "a" and "constant" in QUIZ["q3"].options["a"]


def test_q4_cross_entropy_matches_pytorch():
    logits = torch.log(torch.tensor([[0.25, 0.5, 0.125, 0.125]]))
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0]))
    assert QUIZ["q4"].answer == pytest.approx(loss.item(), abs=1e-6)


def test_q5_high_temperature_flattens_and_keeps_the_ranking():
    z = torch.tensor([2.0, 1.0, -1.0, 0.5])
    p, p_hot = torch.softmax(z, -1), torch.softmax(z / 5, -1)

    def entropy(q):
        return -(q * q.log()).sum()

    assert entropy(p_hot) > entropy(p)
    assert torch.equal(p.argsort(), p_hot.argsort())
    assert "flatter" in QUIZ["q5"].options[QUIZ["q5"].answer]


def test_q6_mlp_parameter_count():
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 3))
    assert QUIZ["q6"].answer == sum(p.numel() for p in mlp.parameters())


def test_q7_linear_layers_without_relu_collapse():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(3, 5), torch.nn.Linear(5, 2)
    x = torch.randn(7, 3)
    merged_w = b.weight @ a.weight
    merged_b = b.weight @ a.bias + b.bias
    assert torch.allclose(b(a(x)), x @ merged_w.T + merged_b, atol=1e-6)
    assert "one linear map" in QUIZ["q7"].options[QUIZ["q7"].answer]


def test_q8_chain_rule_matches_autograd():
    w = torch.tensor(2.0, requires_grad=True)
    loss = (w * 3.0 - 5.0) ** 2
    loss.backward()
    assert QUIZ["q8"].answer == w.grad.item()


def test_q9_gradients_of_two_paths_add_up():
    a = torch.tensor(1.5, requires_grad=True)
    b, e = torch.tensor(2.0), torch.tensor(-0.5)
    c, d = a * b, a + e
    (3 * c + 4 * d).backward()
    assert a.grad.item() == pytest.approx(3 * b.item() + 4 * 1.0)
    assert "sum" in QUIZ["q9"].options[QUIZ["q9"].answer]


def test_q10_only_the_one_hot_product_equals_the_lookup():
    V, d = 7, 4
    W = torch.randn(V, d)
    ids = torch.tensor([3, 0, 6, 3, 5])
    one_hot = torch.nn.functional.one_hot(ids, V).float()
    assert torch.allclose(one_hot @ W, W[ids])
    assert QUIZ["q10"].options[QUIZ["q10"].answer] == "one_hot(ids, V).float() @ W"
    with pytest.raises(RuntimeError):
        W @ one_hot  # (V, d) @ (T, V) does not fit when d != T


def test_q11_mean_of_embeddings_ignores_order():
    W = torch.randn(5, 8)
    dog_bites_man, man_bites_dog = torch.tensor([2, 3, 4]), torch.tensor([4, 3, 2])
    assert torch.allclose(W[dog_bites_man].mean(0), W[man_bites_dog].mean(0))
    assert "same" in QUIZ["q11"].options[QUIZ["q11"].answer]


def test_q12_sum_of_position_zero():
    from helpers.positions import sinusoidal_encoding

    assert QUIZ["q12"].answer == pytest.approx(
        sinusoidal_encoding(1, 8)[0].sum().item())


# --------------------------------------------------------------------------
# grading


def test_all_right_passes(capsys):
    verdict, out = run(right_answers, capsys)
    assert verdict.passed and verdict.mistake is None
    assert f"{len(QUIZ)}/{len(QUIZ)}" in out
    assert out.count("\n") == 1


def test_some_wrong_names_concept_and_day_but_not_the_answer(capsys):
    answers = right_answers()
    wrong = [QUIZ["q3"], QUIZ["q6"], QUIZ["q10"]]
    for q in wrong:
        answers[q.qid] = a_wrong_answer(q)
    verdict, out = run(lambda: answers, capsys)
    assert not verdict.passed and verdict.mistake == "wrong_answers"
    assert f"{len(QUIZ) - 3}/{len(QUIZ)} correct" in out
    for q in wrong:
        assert f"{q.qid} is not right yet" in out
        assert q.concept in out and f"day {q.day}" in out
        assert q.explanation not in out
    assert "q1 " not in out  # right answers get no line
    assert "99" not in out and "one_hot(ids, V)" not in out


def test_all_wrong_reveals_no_answer(capsys):
    answers = {q.qid: a_wrong_answer(q) for q in QUIZ.questions}
    verdict, out = run(lambda: answers, capsys)
    assert verdict.mistake == "wrong_answers" and f"0/{len(QUIZ)}" in out
    for q in QUIZ.questions:
        assert q.explanation not in out
        if not q.numeric:
            assert q.options[q.answer] not in out


def test_missing_answers_are_listed(capsys):
    answers = right_answers()
    del answers["q2"], answers["q12"]
    answers["q5"] = "   "
    answers["q7"] = ...
    verdict, out = run(lambda: answers, capsys)
    assert verdict.mistake == "missing_answers"
    for qid in ("q2", "q12", "q5", "q7"):
        assert f"{qid} has no answer yet" in out
    assert f"{len(QUIZ) - 4}/{len(QUIZ)}" in out


def test_empty_dict_scores_zero(capsys):
    verdict, out = run(dict, capsys)
    assert verdict.mistake == "missing_answers" and f"0/{len(QUIZ)}" in out


def test_wrong_takes_priority_over_missing(capsys):
    answers = right_answers()
    del answers["q1"]
    answers["q2"] = 7
    verdict, _ = run(lambda: answers, capsys)
    assert verdict.mistake == "wrong_answers"


@pytest.mark.parametrize("qid, given", [
    ("q2", "8"), ("q2", " 8.0 "), ("q2", 8.0), ("q4", "1.39"), ("q4", "1,39"),
    ("q4", 1.3863), ("q6", "99"), ("q8", "6"), ("q12", "8/2"),
    ("q1", "C"), ("q1", "(c)"), ("q1", "c)"), ("q1", " c "), ("q3", "A."),
])
def test_answers_written_differently_are_read_sensibly(qid, given):
    answers = right_answers()
    answers[qid] = given
    assert grade("week1", answers).passed


def test_numpy_and_torch_numbers_are_accepted():
    import numpy as np

    answers = right_answers()
    answers["q2"], answers["q6"] = np.int64(8), torch.tensor(99)
    assert grade("week1", answers).passed


def test_numeric_tolerance_is_tight_enough():
    answers = right_answers()
    answers["q4"] = 1.5
    assert grade("week1", answers).score == len(QUIZ) - 1


@pytest.mark.parametrize("qid, given, words", [
    ("q2", "b", "needs a number"),
    ("q2", True, "needs a number"),
    ("q2", [8], "needs a number"),
    ("q6", "ninety-nine", "needs a number"),
    ("q1", 3, "needs one letter"),
    ("q1", "c or b", "needs one letter"),
    ("q1", "e", "no option 'e'"),
])
def test_unreadable_answers_say_what_is_expected(qid, given, words, capsys):
    answers = right_answers()
    answers[qid] = given
    verdict, out = run(lambda: answers, capsys)
    assert verdict.mistake == "invalid_answers"
    assert words in out and qid in out


def test_keys_are_matched_loosely_and_unknown_keys_reported(capsys):
    answers = {k.upper(): v for k, v in right_answers().items()}
    answers[2] = answers.pop("Q2")
    answers["q13"] = "a"
    verdict, out = run(lambda: answers, capsys)
    assert verdict.passed
    assert "'q13' matches no question" in out


def test_stub_is_not_written_yet(capsys):
    def quiz_answers():
        raise NotImplementedError("Your turn")

    verdict, out = run(quiz_answers, capsys)
    assert verdict.mistake == "not_implemented" and "not written yet" in out
    assert out.count("\n") == 1


def test_raising_is_one_sentence(capsys):
    def quiz_answers():
        return {"q1": undefined_name}  # noqa: F821

    verdict, out = run(quiz_answers, capsys)
    assert verdict.mistake == "exception" and "NameError" in out
    assert out.count("\n") == 1


@pytest.mark.parametrize("returned, mistake", [
    (None, "returned_none"), (["c", 8], "not_a_dict"), ("c, 8", "not_a_dict"),
])
def test_wrong_return_types(returned, mistake, capsys):
    verdict, out = run(lambda: returned, capsys)
    assert verdict.mistake == mistake and out.count("\n") == 1


def test_passing_the_dict_instead_of_the_function(capsys):
    verdict, out = run(right_answers(), capsys)
    assert verdict.mistake == "not_callable" and "without calling it" in out


def test_unknown_quiz_name():
    with pytest.raises(KeyError, match="no quiz called"):
        get_quiz("week9")


# --------------------------------------------------------------------------
# printing


def test_show_quiz_prints_every_question_and_option(capsys):
    show_quiz("week1")
    out = capsys.readouterr().out
    for q in QUIZ.questions:
        assert f"{q.qid} · day {q.day}" in out
        for letter, option in q.options.items():
            assert f"{letter}) {option.split()[0]}" in out
    assert max(len(line) for line in out.splitlines()) <= 88
    assert "Answer:" not in out


def test_explain_reveals_one_answer(capsys):
    explain("week1", "q6")
    out = capsys.readouterr().out
    assert "Answer: 99" in out and "day 3" in out
    assert out.count("Answer:") == 1


def test_read_helpers():
    assert read_letter("(B)") == "b" and read_letter("bb") is None
    assert read_number("3/4") == 0.75 and read_number("1/0") is None
    assert read_number("nan") is None and read_number(False) is None
    assert math.isclose(read_number("-2,5"), -2.5)


def test_quiz_module_does_not_import_torch():
    code = "import sys, helpers.quiz; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "False"
