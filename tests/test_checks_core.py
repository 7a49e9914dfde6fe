"""The shared check machinery turns every kind of learner error into one
friendly sentence and names known mistakes."""

import numpy as np
import pytest
import torch

from helpers.checks import Case, Mistake, Verdict, all_checks, check_function

CASES = [Case((torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]]),), "a 2x3 batch"),
         Case((torch.tensor([[1000.0, 0.0, -1000.0]]),), "logits of ±1000")]


def reference(z):
    return torch.softmax(z, dim=-1)


def naive(z):
    return z.exp() / z.exp().sum(dim=-1, keepdim=True)


MISTAKES = [Mistake("overflow", "exp overflows; subtract the row maximum first",
                    impl=naive),
            Mistake("wrong_axis", "softmax runs over the batch axis",
                    impl=lambda z: torch.softmax(z, dim=0))]


def run(fn, capsys, **kw):
    verdict = check_function("softmax", fn, CASES, reference, MISTAKES, **kw)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert "Traceback" not in out
    assert out.strip() == verdict.message
    return verdict


def test_reference_passes(capsys):
    verdict = run(reference, capsys)
    assert verdict.passed and verdict.mistake is None
    assert "2 cases" in verdict.message and "logits of ±1000" in verdict.message


def test_named_mistakes(capsys):
    assert run(naive, capsys).mistake == "overflow"
    wrong_axis = run(lambda z: torch.softmax(z, dim=0), capsys)
    assert wrong_axis.mistake == "wrong_axis"
    assert "batch axis" in wrong_axis.message and "a 2x3 batch" in wrong_axis.message


def test_stub_is_not_written_yet(capsys):
    def stub(z):
        raise NotImplementedError("Your turn")

    verdict = run(stub, capsys)
    assert verdict.mistake == "not_implemented" and "not written yet" in verdict.message


def test_exception_names_the_learner_line(capsys):
    def buggy(z):
        total = z.sum(dim=5)
        return total

    verdict = run(buggy, capsys)
    assert verdict.mistake == "exception"
    assert "IndexError" in verdict.message and "z.sum(dim=5)" in verdict.message


def test_none_wrong_shape_type_and_nan(capsys):
    def no_return(z):
        z.exp()

    assert run(no_return, capsys).mistake == "returned_none"
    assert run(lambda z: z.sum(-1), capsys).mistake == "shape"
    assert run(lambda z: "probabilities", capsys).mistake == "type"
    assert run(lambda z: torch.full_like(z, float("nan")), capsys).mistake == "nan"
    assert run(lambda z: z, capsys).mistake == "values"


def test_numpy_output_is_a_type_problem(capsys):
    verdict = run(lambda z: reference(z).numpy(), capsys)
    assert verdict.mistake == "type" and "NumPy" in verdict.message


def test_float64_output_for_float32_answer_is_a_dtype_problem(capsys):
    verdict = run(lambda z: reference(z).double(), capsys)
    assert verdict.mistake == "dtype" and "float64" in verdict.message


def test_values_message_points_at_the_largest_difference(capsys):
    def second_row_wrong(z):
        out = reference(z)
        out[-1] = out[-1] * 0.5
        return out

    verdict = run(second_row_wrong, capsys)
    assert verdict.mistake == "values" and "at index [1," in verdict.message


def test_integer_output_for_float_answer_is_a_dtype_problem(capsys):
    assert run(lambda z: reference(z).round().long(), capsys).mistake == "dtype"


def test_not_callable(capsys):
    verdict = run(reference(CASES[0].args[0]), capsys)
    assert verdict.mistake == "not_callable"


def test_changing_an_input_in_place_is_named(capsys):
    def destructive(z):
        out = torch.softmax(z, dim=-1)
        z.zero_()
        return out

    verdict = run(destructive, capsys)
    assert verdict.mistake == "modifies_input" and "in place" in verdict.message
    assert CASES[0].args[0][0, 2] == 3.0  # the check's own data is untouched


def test_expected_errors(capsys):
    cases = [Case((torch.ones(2, 3), torch.ones(2, 3)), "incompatible shapes",
                  raises=ValueError)]

    def strict(a, b):
        if a.shape[1] != b.shape[0]:
            raise ValueError("shapes do not fit")
        return a @ b

    ok = check_function("matmul", strict, cases, torch.matmul)
    silent = check_function("matmul", lambda a, b: a, cases, torch.matmul)
    wrong = check_function("matmul", lambda a, b: a @ b, cases, torch.matmul)
    capsys.readouterr()
    assert ok.passed
    assert silent.mistake == "no_error"
    assert wrong.mistake == "wrong_error"


def test_structured_outputs(capsys):
    def ref(x):
        return {"grad": x * 2, "pair": (x, x + 1)}

    cases = [Case((torch.arange(3.0),), "a vector")]
    assert check_function("f", ref, cases, ref).passed
    missing = check_function("f", lambda x: {"grad": x * 2}, cases, ref)
    short = check_function("f", lambda x: {"grad": x * 2, "pair": (x,)}, cases, ref)
    capsys.readouterr()
    assert missing.mistake == "keys" and short.mistake == "length"


def test_a_bug_inside_a_check_is_reported_politely(capsys):
    def broken_reference(z):
        raise RuntimeError("reference bug")

    verdict = check_function("softmax", reference, CASES, broken_reference)
    out = capsys.readouterr().out
    assert verdict.mistake == "internal" and "Traceback" not in out


def test_verdict_shows_nothing_more_in_a_notebook():
    verdict = Verdict(True, "✅ fine")
    assert verdict._ipython_display_() is None
    assert bool(verdict)


def test_every_public_check_survives_stubs_and_garbage(capsys):
    """Whatever a learner hands in, every check prints exactly one line."""

    def stub(*args, **kwargs):
        raise NotImplementedError

    def garbage(*args, **kwargs):
        return "not a tensor"

    checks = all_checks()
    assert checks, "no checks found"
    for name, check in checks.items():
        for learner in (stub, garbage, None, np.zeros(3)):
            verdict = check(learner)
            out = capsys.readouterr().out
            assert isinstance(verdict, Verdict), name
            assert not verdict.passed, name
            assert out.count("\n") == 1 and "Traceback" not in out, (name, out)
            assert verdict.mistake != "internal", (name, verdict.message)
            if learner is stub:
                assert verdict.mistake == "not_implemented", name


def test_every_public_check_reports_a_learner_exception_in_one_line(capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    for name, check in all_checks().items():
        verdict = check(boom)
        out = capsys.readouterr().out
        assert verdict.mistake == "exception", (name, verdict.message)
        assert "RuntimeError: boom" in out and "Traceback" not in out, name


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_values_formatting_survives_non_finite(value, capsys):
    cases = [Case((torch.tensor([value]),), "a strange input")]
    verdict = check_function("f", lambda x: x + 1, cases, lambda x: torch.zeros(1))
    capsys.readouterr()
    assert not verdict.passed
