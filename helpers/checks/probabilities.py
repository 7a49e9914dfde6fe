"""Checks for day 2: softmax, temperature, log-softmax and cross-entropy.

Every check runs the learner's function next to the reference in
:mod:`helpers.probabilities` on ordinary logits and on the edge cases that
break careless code: logits of ±1000, rows of equal values, a batch of one,
odd sizes and a reduction over another axis. The classic mistakes of the
topic are recognised and named.
"""

from __future__ import annotations

import torch

from helpers import probabilities as ref
from helpers.checks._core import Case, Mistake, Verdict, check_function, compare

__all__ = ["check_softmax", "check_softmax_with_temperature", "check_log_softmax",
           "check_cross_entropy"]


# --------------------------------------------------------------------------
# inputs


def _randn(*shape: int, seed: int, scale: float = 2.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g)


def _huge() -> torch.Tensor:
    # Row 0 overflows exp(), row 1 underflows it; one row of each in the same
    # tensor also exposes a single maximum taken over the whole tensor.
    return torch.tensor([[1000.0, 998.0, 999.0, 1000.5, 990.0],
                         [-1000.0, -1001.0, -998.0, -999.5, -1000.0]])  # (2, 5)


def _wide_gaps() -> torch.Tensor:
    # Gaps of hundreds inside a row: some probabilities underflow to 0.
    return torch.tensor([[1000.0, 0.0, -1000.0, 500.0, 999.0],
                         [-1000.0, -1001.0, -998.0, -999.5, -1000.0]])  # (2, 5)


def _equal_rows() -> torch.Tensor:
    return torch.tensor([[0.0] * 4, [7.0] * 4, [-1000.0] * 4])          # (3, 4)


def _distribution_cases(huge: torch.Tensor) -> list[Case]:
    return [
        Case((_randn(2, 5, seed=1),), "a (2, 5) batch of logits"),
        Case((huge,), "logits of ±1000"),
        Case((_equal_rows(),), "rows of equal values (0, 7 and -1000)"),
        Case((_randn(1, 7, seed=2),), "a batch of one (1, 7)"),
        Case((_randn(3, 5, 7, seed=3),), "odd sizes (3, 5, 7)"),
        Case((_randn(4, 3, seed=4),), "dim=0 on a (4, 3) tensor", {"dim": 0}),
    ]


def _dim_of(case: Case) -> int:
    if "dim" in case.kwargs:
        return case.kwargs["dim"]
    return case.args[1] if len(case.args) > 1 else -1


def _over_another_axis(reference):
    """A `when` predicate: the output is right, but along some other axis."""

    def when(case, got, expected) -> bool:
        z = case.args[0]
        dim = _dim_of(case) % z.dim()
        return any(compare(got, reference(z, dim=d)) is None
                   for d in range(z.dim()) if d != dim)

    return when


# --------------------------------------------------------------------------
# softmax


def _exp_shifted(z, dim=-1):
    return torch.exp(z - z.amax(dim=dim, keepdim=True))


def _softmax_global_max(z, dim=-1):
    e = torch.exp(z - z.max())
    return e / e.sum(dim=dim, keepdim=True)


def _softmax_global_sum(z, dim=-1):
    e = _exp_shifted(z, dim)
    return e / e.sum()


SOFTMAX_MISTAKES = [
    Mistake("wrong_axis",
            "the output is normalised over the wrong axis: each slice along "
            "`dim` should sum to 1, so pass `dim` to both the max and the sum",
            when=_over_another_axis(ref.softmax)),
    Mistake("not_normalised",
            "you return the exponentials without dividing by their sum; divide "
            "by `e.sum(dim=dim, keepdim=True)` so each row sums to 1",
            impl=_exp_shifted),
    Mistake("not_normalised",
            "you return the exponentials without dividing by their sum; divide "
            "by `e.sum(dim=dim, keepdim=True)` so each row sums to 1",
            impl=lambda z, dim=-1: torch.exp(z)),
    Mistake("global_sum",
            "you divide by the sum over the whole tensor; sum along `dim` with "
            "`keepdim=True` so that every row sums to 1 on its own",
            impl=_softmax_global_sum),
    Mistake("no_max_subtraction",
            "exp() overflows to inf (or underflows to 0) on large logits and the "
            "division gives NaN; subtract each row's maximum before exp()",
            impl=ref.softmax_naive),
    Mistake("global_max",
            "you subtract one maximum for the whole tensor, so a row far below "
            "it underflows to 0/0; subtract each row's own maximum with "
            "`z.amax(dim=dim, keepdim=True)`",
            impl=_softmax_global_max),
]


def check_softmax(fn) -> Verdict:
    """Check ``fn(z, dim=-1)`` against the stable softmax (day 2).

    Cases: a (2, 5) batch, logits of ±1000, rows of equal values, a batch of
    one, a (3, 5, 7) tensor and ``dim=0``. Names the mistakes ``wrong_axis``,
    ``not_normalised``, ``global_sum``, ``no_max_subtraction`` and
    ``global_max``.
    """
    return check_function(
        "softmax", fn, _distribution_cases(_huge()), ref.softmax, SOFTMAX_MISTAKES,
        success="softmax is correct and stable: it survives logits of ±1000, "
                "rows of equal values, a batch of one, odd sizes and dim=0.")


# --------------------------------------------------------------------------
# temperature


def _temperature_cases() -> list[Case]:
    z = _randn(2, 5, seed=5)
    return [
        Case((z, 2.0), "a (2, 5) batch at T = 2"),
        Case((z, 0.5), "a (2, 5) batch at T = 0.5"),
        Case((_huge(), 0.1), "logits of ±1000 at T = 0.1"),
        Case((_equal_rows(), 3.0), "rows of equal values at T = 3"),
        Case((_randn(1, 7, seed=6), 1.0), "a batch of one at T = 1"),
        Case((_randn(3, 5, seed=7), 0.0), "T = 0", raises=ValueError),
        Case((_randn(3, 5, seed=7), -1.0), "T = -1", raises=ValueError),
    ]


TEMPERATURE_MISTAKES = [
    Mistake("temperature_multiplied",
            "you multiply the logits by the temperature; divide them instead, "
            "`softmax(z / T)`, so that T > 1 flattens and T < 1 sharpens",
            impl=lambda z, t, dim=-1: ref.softmax(z * t, dim=dim)),
    Mistake("temperature_ignored",
            "your output does not change with the temperature; apply it to the "
            "logits, `softmax(z / T)`",
            impl=lambda z, t, dim=-1: ref.softmax(z, dim=dim)),
    Mistake("temperature_after_softmax",
            "you apply the temperature to the probabilities, so they no longer "
            "sum to 1; divide the logits before the softmax, `softmax(z / T)`",
            impl=lambda z, t, dim=-1: ref.softmax(z, dim=dim) / t),
    Mistake("no_max_subtraction",
            "dividing by a small T makes the logits huge and a naive softmax "
            "overflows to NaN; use a stable softmax (your `softmax` from the "
            "first exercise, or `torch.softmax`)",
            impl=lambda z, t, dim=-1: ref.softmax_naive(z / t, dim=dim)),
]


def check_softmax_with_temperature(fn) -> Verdict:
    """Check ``fn(z, temperature)`` against ``softmax(z / temperature)`` (day 2).

    Cases: T = 2 and 0.5 on a (2, 5) batch, logits of ±1000 at T = 0.1, rows
    of equal values, a batch of one at T = 1; T = 0 and T = -1 must raise
    ``ValueError``. Names ``temperature_multiplied``, ``temperature_ignored``,
    ``temperature_after_softmax`` and ``no_max_subtraction``.
    """
    return check_function(
        "softmax_with_temperature", fn, _temperature_cases(),
        ref.softmax_with_temperature, TEMPERATURE_MISTAKES,
        success="softmax_with_temperature is correct: it divides by T, stays "
                "stable at T = 0.1 on logits of ±1000 and refuses T <= 0.")


# --------------------------------------------------------------------------
# log-softmax


def _log_softmax_no_max(z, dim=-1):
    return z - torch.log(torch.exp(z).sum(dim=dim, keepdim=True))


def _log_softmax_lost_max(z, dim=-1):
    m = z.amax(dim=dim, keepdim=True)
    return z - torch.log(torch.exp(z - m).sum(dim=dim, keepdim=True))


LOG_SOFTMAX_MISTAKES = [
    Mistake("wrong_axis",
            "the output is normalised over the wrong axis; take the max and "
            "the log-sum-exp along `dim` (with `keepdim=True`)",
            when=_over_another_axis(ref.log_softmax)),
    Mistake("returned_probabilities",
            "you return probabilities, not log-probabilities; log-softmax is "
            "`z - logsumexp(z)`, every entry <= 0",
            impl=ref.softmax),
    Mistake("lost_max",
            "you subtract the maximum inside exp() but never add it back: "
            "logsumexp(z) = m + log(sum(exp(z - m))), so compute "
            "`z - m - log(sum(exp(z - m)))`",
            impl=_log_softmax_lost_max),
    Mistake("log_of_softmax",
            "you take log(softmax(z)): probabilities that underflow to 0 give "
            "-inf (or NaN); compute `z - m - log(sum(exp(z - m)))` directly",
            impl=lambda z, dim=-1: torch.log(ref.softmax(z, dim=dim))),
    Mistake("log_of_softmax",
            "you take log(softmax(z)) with a naive softmax, which gives NaN on "
            "large logits; compute `z - m - log(sum(exp(z - m)))` directly",
            impl=lambda z, dim=-1: torch.log(ref.softmax_naive(z, dim=dim))),
    Mistake("no_max_subtraction",
            "log(sum(exp(z))) overflows to inf (or to -inf) on large logits; "
            "subtract the row maximum m first and add it back: "
            "`z - m - log(sum(exp(z - m)))`",
            impl=_log_softmax_no_max),
]


def check_log_softmax(fn) -> Verdict:
    """Check ``fn(z, dim=-1)`` against the stable log-softmax (day 2).

    Cases as for :func:`check_softmax`, with gaps of up to 2000 inside a row
    so that ``log(softmax(z))`` meets probabilities of exactly 0. Names
    ``wrong_axis``, ``returned_probabilities``, ``lost_max``,
    ``log_of_softmax`` and ``no_max_subtraction``.
    """
    cases = _distribution_cases(_wide_gaps())
    cases[1] = Case((_wide_gaps(),), "logits of ±1000 with gaps of up to 2000")
    return check_function(
        "log_softmax", fn, cases, ref.log_softmax, LOG_SOFTMAX_MISTAKES,
        rtol=1e-5,
        success="log_softmax is correct and stable: finite log-probabilities "
                "even where the probability itself underflows to 0.")


# --------------------------------------------------------------------------
# cross-entropy


def _picked(log_p, targets):
    return log_p[torch.arange(log_p.shape[0]), targets]     # (N,)


def _ce_unstable(z, targets):
    return -torch.log(_picked(ref.softmax(z), targets)).mean()


def _ce_naive(z, targets):
    return -torch.log(_picked(ref.softmax_naive(z), targets)).mean()


def _is_large(case) -> bool:
    return bool(case.args[0].abs().max() > 80)


def _not_finite(got) -> bool:
    return isinstance(got, torch.Tensor) and not bool(torch.isfinite(got).all())


CROSS_ENTROPY_MISTAKES = [
    Mistake("sum_not_mean",
            "you add the losses of the rows; take their mean so that the loss "
            "does not grow with the batch size (PyTorch's default)",
            impl=lambda z, t: ref.cross_entropy(z, t, reduction="sum")),
    Mistake("not_reduced",
            "you return one loss per row; average them into one number with "
            "`.mean()`",
            impl=lambda z, t: ref.cross_entropy(z, t, reduction="none")),
    Mistake("missing_minus",
            "your loss is negative: log-probabilities are <= 0, so the loss is "
            "`-log_p[...]`; add the minus sign",
            impl=lambda z, t: -ref.cross_entropy(z, t)),
    Mistake("missing_log",
            "you average the probabilities of the right classes, not their "
            "logs; use the log-softmax, loss = -log p",
            impl=lambda z, t: -_picked(ref.softmax(z), t).mean()),
    Mistake("wrong_column",
            "you pick the wrong class column (off by one): index with the "
            "targets exactly as given, `log_p[torch.arange(N), targets]`",
            impl=lambda z, t: ref.cross_entropy(z, (t + 1) % z.shape[1])),
    Mistake("wrong_column",
            "you pick the wrong class column (off by one): index with the "
            "targets exactly as given, `log_p[torch.arange(N), targets]`",
            impl=lambda z, t: ref.cross_entropy(z, (t - 1) % z.shape[1])),
    Mistake("grid_indexing",
            "`log_p[:, targets]` picks every target for every row (an N x N "
            "grid); pair each row with its own target, "
            "`log_p[torch.arange(N), targets]`",
            impl=lambda z, t: -ref.log_softmax(z)[:, t].mean()),
    Mistake("softmax_twice",
            "you apply softmax before the loss, so probabilities are treated "
            "as logits; cross-entropy takes the raw logits",
            impl=lambda z, t: ref.cross_entropy(ref.softmax(z), t)),
    Mistake("unstable",
            "your loss is inf or NaN on large logits because it takes "
            "log(softmax(z)) or exp() of a huge number; use a stable "
            "log-softmax, `z - m - log(sum(exp(z - m)))`",
            impl=_ce_unstable),
    Mistake("unstable",
            "your loss is inf or NaN on large logits because it takes "
            "log(softmax(z)) or exp() of a huge number; use a stable "
            "log-softmax, `z - m - log(sum(exp(z - m)))`",
            impl=_ce_naive),
    Mistake("unstable",
            "your loss is inf or NaN on large logits, where the right loss is "
            "finite; compute it from a stable log-softmax, "
            "`z - m - log(sum(exp(z - m)))`",
            when=lambda case, got, expected: _is_large(case) and _not_finite(got)),
]


def _cross_entropy_cases() -> list[Case]:
    huge = torch.tensor([[1000.0, -1000.0, 0.0, 500.0],
                         [-1000.0, -999.0, -1000.0, -1002.0],
                         [1000.0, 999.0, 998.0, 0.0]])                  # (3, 4)
    equal = torch.tensor([[0.0] * 6, [5.0] * 6, [-1000.0] * 6])        # (3, 6)
    return [
        Case((_randn(4, 5, seed=8), torch.tensor([0, 3, 1, 2])),
             "a batch of 4 rows over 5 classes"),
        Case((huge, torch.tensor([1, 0, 3])), "logits of ±1000"),
        Case((equal, torch.tensor([0, 5, 2])), "rows of equal values"),
        Case((_randn(1, 7, seed=9), torch.tensor([6])), "a batch of one (1, 7)"),
        Case((_randn(7, 3, seed=10), torch.tensor([2, 0, 1, 1, 2, 0, 2])),
             "odd sizes: 7 rows over 3 classes"),
    ]


def check_cross_entropy(fn) -> Verdict:
    """Check ``fn(logits, targets)`` against ``F.cross_entropy`` (day 2).

    ``logits`` has shape ``(N, C)``, ``targets`` shape ``(N,)`` with class
    indices; the answer is the mean loss, a scalar. Cases: a (4, 5) batch,
    logits of ±1000, rows of equal values, a batch of one, 7 rows over 3
    classes. Names ``sum_not_mean``, ``not_reduced``, ``missing_minus``,
    ``missing_log``, ``wrong_column``, ``grid_indexing``, ``softmax_twice``
    and ``unstable``.
    """
    return check_function(
        "cross_entropy", fn, _cross_entropy_cases(), ref.cross_entropy,
        CROSS_ENTROPY_MISTAKES,
        success="cross_entropy is correct: it matches F.cross_entropy, stays "
                "finite on logits of ±1000 and gives ln(C) for equal logits.")
