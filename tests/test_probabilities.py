"""Day 2: softmax, temperature, log-softmax and cross-entropy, and their checks.

The reference code is compared with PyTorch and with the properties that
define it; every check must pass the reference, name each classic mistake
from a wrong implementation written here, and turn stubs, exceptions and NaN
into one friendly line.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from helpers import probabilities as P
from helpers.checks import (
    check_cross_entropy,
    check_log_softmax,
    check_softmax,
    check_softmax_with_temperature,
)
from helpers.checks.probabilities import (
    CROSS_ENTROPY_MISTAKES,
    LOG_SOFTMAX_MISTAKES,
    SOFTMAX_MISTAKES,
    TEMPERATURE_MISTAKES,
)

HUGE = torch.tensor([[1000.0, 999.0, -1000.0, 0.0, 998.5],
                     [-1000.0, -1001.0, -999.0, -1000.0, -1003.0]])     # (2, 5)
EQUAL = torch.tensor([[0.0] * 5, [3.0] * 5, [1000.0] * 5, [-1000.0] * 5])


def _inputs():
    g = torch.Generator().manual_seed(0)
    return {
        "random (4, 6)": 3 * torch.randn(4, 6, generator=g),
        "±1000": HUGE,
        "equal rows": EQUAL,
        "batch of one": torch.randn(1, 9, generator=g),
        "odd sizes (3, 5, 7)": torch.randn(3, 5, 7, generator=g),
    }


# --------------------------------------------------------------------------
# reference code against PyTorch and the defining properties


@pytest.mark.parametrize("name", list(_inputs()))
@pytest.mark.parametrize("dim", [-1, 0])
def test_softmax_matches_torch(name, dim):
    z = _inputs()[name]
    got = P.softmax(z, dim=dim)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, torch.softmax(z, dim=dim))


@pytest.mark.parametrize("name", list(_inputs()))
@pytest.mark.parametrize("dim", [-1, 0])
def test_log_softmax_matches_torch(name, dim):
    z = _inputs()[name]
    got = P.log_softmax(z, dim=dim)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, torch.log_softmax(z, dim=dim))


def test_softmax_rows_sum_to_one_and_ignore_a_shift():
    z = _inputs()["random (4, 6)"]
    p = P.softmax(z)
    torch.testing.assert_close(p.sum(-1), torch.ones(4))
    assert (p > 0).all()
    torch.testing.assert_close(P.softmax(z + 123.0), p)


def test_softmax_of_equal_values_is_uniform():
    torch.testing.assert_close(P.softmax(EQUAL), torch.full_like(EQUAL, 0.2))


def test_naive_softmax_overflows_where_stable_one_does_not():
    assert torch.isnan(P.softmax_naive(HUGE)).any(dim=-1).all()  # every row
    assert torch.isfinite(P.softmax(HUGE)).all()


def test_log_of_softmax_gives_minus_infinity_where_log_softmax_is_finite():
    assert torch.isinf(torch.log(P.softmax(HUGE))).any()
    assert torch.isfinite(P.log_softmax(HUGE)).all()


def test_logsumexp_matches_torch():
    for z in _inputs().values():
        torch.testing.assert_close(P.logsumexp(z, dim=-1), torch.logsumexp(z, -1))
    assert P.logsumexp(HUGE, keepdim=True).shape == (2, 1)


@pytest.mark.parametrize("t", [0.05, 0.5, 1.0, 2.0, 20.0])
def test_temperature_divides_the_logits(t):
    z = _inputs()["random (4, 6)"]
    torch.testing.assert_close(P.softmax_with_temperature(z, t),
                               torch.softmax(z / t, dim=-1))


def test_temperature_moves_between_one_hot_and_uniform():
    z = torch.tensor([2.0, 1.0, 0.5, -1.0])
    cold = P.softmax_with_temperature(z, 0.01)
    hot = P.softmax_with_temperature(z, 1000.0)
    torch.testing.assert_close(cold, torch.tensor([1.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(hot, torch.full((4,), 0.25), atol=1e-3, rtol=0)
    assert P.entropy(cold) < P.entropy(P.softmax(z)) < P.entropy(hot)


@pytest.mark.parametrize("t", [0.0, -1.0])
def test_temperature_must_be_positive(t):
    with pytest.raises(ValueError, match="positive"):
        P.softmax_with_temperature(torch.zeros(3), t)


def _targets(z, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, z.shape[1], (z.shape[0],), generator=g)


@pytest.mark.parametrize("name", ["random (4, 6)", "±1000", "equal rows",
                                  "batch of one"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_torch(name, reduction):
    z = _inputs()[name]
    t = _targets(z)
    got = P.cross_entropy(z, t, reduction=reduction)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, F.cross_entropy(z, t, reduction=reduction))


def test_cross_entropy_of_equal_logits_is_log_of_the_class_count():
    z = torch.zeros(3, 10)
    got = P.cross_entropy(z, torch.tensor([0, 4, 9]))
    assert math.isclose(got.item(), math.log(10), rel_tol=1e-6)


def test_cross_entropy_gradient_is_probabilities_minus_one_hot():
    z = _inputs()["random (4, 6)"].clone().requires_grad_(True)
    t = _targets(z)
    P.cross_entropy(z, t).backward()
    expected = (torch.softmax(z.detach(), -1) - F.one_hot(t, 6)) / 4
    torch.testing.assert_close(z.grad, expected)


def test_cross_entropy_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        P.cross_entropy(torch.zeros(5), torch.tensor([1]))
    with pytest.raises(ValueError, match="one class index per row"):
        P.cross_entropy(torch.zeros(2, 3), torch.tensor([1, 0, 2]))


def test_entropy_of_one_hot_and_uniform():
    assert P.entropy(torch.tensor([0.0, 1.0, 0.0])).item() == 0.0
    assert math.isclose(P.entropy(torch.full((8,), 1 / 8)).item(), math.log(8),
                        rel_tol=1e-6)


# --------------------------------------------------------------------------
# wrong implementations, one per named mistake, written independently


def _sm_wrong_axis(z, dim=-1):
    return torch.softmax(z, dim=0 if dim in (-1, z.dim() - 1) else -1)


def _sm_not_normalised(z, dim=-1):
    return torch.exp(z - z.max(dim=dim, keepdim=True).values)


def _sm_global_sum(z, dim=-1):
    e = torch.exp(z - z.max(dim=dim, keepdim=True).values)
    return e / e.sum()


def _sm_no_max(z, dim=-1):
    return torch.exp(z) / torch.exp(z).sum(dim=dim, keepdim=True)


def _sm_global_max(z, dim=-1):
    e = torch.exp(z - z.max())
    return e / e.sum(dim=dim, keepdim=True)


SOFTMAX_WRONG = {
    "wrong_axis": _sm_wrong_axis,
    "not_normalised": _sm_not_normalised,
    "global_sum": _sm_global_sum,
    "no_max_subtraction": _sm_no_max,
    "global_max": _sm_global_max,
}


def _lsm_wrong_axis(z, dim=-1):
    return torch.log_softmax(z, dim=0 if dim in (-1, z.dim() - 1) else -1)


def _lsm_lost_max(z, dim=-1):
    m = z.max(dim=dim, keepdim=True).values
    return z - (z - m).exp().sum(dim=dim, keepdim=True).log()


def _lsm_no_max(z, dim=-1):
    return z - z.exp().sum(dim=dim, keepdim=True).log()


LOG_SOFTMAX_WRONG = {
    "wrong_axis": _lsm_wrong_axis,
    "returned_probabilities": lambda z, dim=-1: torch.softmax(z, dim),
    "lost_max": _lsm_lost_max,
    "log_of_softmax": lambda z, dim=-1: torch.softmax(z, dim).log(),
    "no_max_subtraction": _lsm_no_max,
}


def _stable_softmax(z):
    e = torch.exp(z - z.max(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)


def _rows(z):
    return torch.arange(z.shape[0])


CROSS_ENTROPY_WRONG = {
    "sum_not_mean": lambda z, t: F.cross_entropy(z, t, reduction="sum"),
    "not_reduced": lambda z, t: F.cross_entropy(z, t, reduction="none"),
    "missing_minus": lambda z, t: torch.log_softmax(z, 1)[_rows(z), t].mean(),
    "missing_log": lambda z, t: -torch.softmax(z, 1)[_rows(z), t].mean(),
    "wrong_column": lambda z, t: -torch.log_softmax(z, 1)[_rows(z), t - 1].mean(),
    "grid_indexing": lambda z, t: -torch.log_softmax(z, 1)[:, t].mean(),
    "softmax_twice": lambda z, t: F.cross_entropy(torch.softmax(z, 1), t),
    "unstable": lambda z, t: -_stable_softmax(z)[_rows(z), t].log().mean(),
}


def _temp_stable(z, t):
    if t <= 0:
        raise ValueError("temperature must be positive")
    return z, t


TEMPERATURE_WRONG = {
    "temperature_multiplied":
        lambda z, t: torch.softmax(_temp_stable(z, t)[0] * t, -1),
    "temperature_ignored": lambda z, t: torch.softmax(_temp_stable(z, t)[0], -1),
    "temperature_after_softmax":
        lambda z, t: torch.softmax(_temp_stable(z, t)[0], -1) / t,
    "no_max_subtraction": lambda z, t: _sm_no_max(_temp_stable(z, t)[0] / t),
}

CHECKS = {
    "softmax": (check_softmax, P.softmax, SOFTMAX_WRONG, SOFTMAX_MISTAKES),
    "log_softmax": (check_log_softmax, P.log_softmax, LOG_SOFTMAX_WRONG,
                    LOG_SOFTMAX_MISTAKES),
    "cross_entropy": (check_cross_entropy, P.cross_entropy, CROSS_ENTROPY_WRONG,
                      CROSS_ENTROPY_MISTAKES),
    "softmax_with_temperature": (check_softmax_with_temperature,
                                 P.softmax_with_temperature, TEMPERATURE_WRONG,
                                 TEMPERATURE_MISTAKES),
}

MISTAKE_CASES = [(check, name) for check, (_, _, wrong, _) in CHECKS.items()
                 for name in wrong]


def _one_friendly_line(capsys):
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert "Traceback" not in out
    return out


# --------------------------------------------------------------------------
# the checks


@pytest.mark.parametrize("check", list(CHECKS))
def test_check_passes_the_reference(check, capsys):
    run, reference, _, _ = CHECKS[check]
    verdict = run(reference)
    assert verdict.passed, verdict.message
    assert verdict.mistake is None
    _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_every_named_mistake_has_a_wrong_implementation_here(check):
    _, _, wrong, mistakes = CHECKS[check]
    assert {m.name for m in mistakes} == set(wrong)


@pytest.mark.parametrize("check,mistake", MISTAKE_CASES)
def test_check_names_the_mistake(check, mistake, capsys):
    run, _, wrong, _ = CHECKS[check]
    verdict = run(wrong[mistake])
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message
    _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_stub_is_not_implemented(check, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError("Your turn: replace this line with your code.")

    verdict = CHECKS[check][0](stub)
    assert verdict.mistake == "not_implemented"
    assert "not written yet" in _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_raising_is_reported_as_an_exception(check, capsys):
    def broken(z, *args, **kwargs):
        return z @ torch.zeros(1, 1, 1, 1)

    verdict = CHECKS[check][0](broken)
    assert verdict.mistake == "exception"
    assert "raised" in _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_nan_output_is_named(check, capsys):
    names = {m.name for m in CHECKS[check][3]} | {"nan"}

    def nan(z, *args, **kwargs):
        if check == "cross_entropy":
            return torch.tensor(float("nan"))
        return torch.full_like(z, float("nan"))

    verdict = CHECKS[check][0](nan)
    assert verdict.mistake in names, verdict.message
    _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_none_and_wrong_shape_are_friendly(check, capsys):
    run = CHECKS[check][0]
    assert run(lambda *a, **k: None).mistake == "returned_none"
    _one_friendly_line(capsys)
    verdict = run(lambda z, *a, **k: torch.zeros(2, 2, 2, 2))
    assert verdict.mistake == "shape", verdict.message
    _one_friendly_line(capsys)


def test_temperature_check_wants_an_error_for_zero(capsys):
    def no_guard(z, t):
        return torch.softmax(z / t, -1)

    assert check_softmax_with_temperature(no_guard).mistake == "no_error"
    _one_friendly_line(capsys)


# --------------------------------------------------------------------------
# the temperature slider


def test_temperature_slider_redraws_when_the_temperature_moves():
    import ipywidgets

    from helpers.widgets import temperature_slider

    box = temperature_slider(torch.tensor([2.0, 1.0, 0.5, -1.0]),
                             ["cat", "dog", "fox", "owl"])
    assert isinstance(box, ipywidgets.VBox)
    slider, picture = box.children
    assert slider.value == 1.0
    first = bytes(picture.value)
    assert first.startswith(b"\x89PNG")
    slider.value = 0.1
    second = bytes(picture.value)
    assert second.startswith(b"\x89PNG") and second != first


def test_temperature_slider_rejects_bad_inputs():
    from helpers.widgets import temperature_slider

    with pytest.raises(ValueError, match="one label per logit"):
        temperature_slider([1.0, 2.0, 3.0], ["a", "b"])
    with pytest.raises(ValueError, match="1-D"):
        temperature_slider([[1.0, 2.0], [3.0, 4.0]])
