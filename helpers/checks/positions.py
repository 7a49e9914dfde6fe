"""Checks for day 6: the sinusoidal encoding, its offset rotation, and
pooling with positions.

Each check runs the learner's function next to the reference in
:mod:`helpers.positions` and names the classic mistakes of the topic: sine
and cosine swapped, the wrong frequency, positions counted from 1, the blocked
layout, odd sizes, a rotation in the wrong direction, positions added after
pooling or looked up by token id. Introduced on day 6.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from helpers import positions as ref
from helpers.checks._core import (
    Case,
    Mistake,
    Verdict,
    call_learner,
    check_function,
    compare,
    diagnose,
    fail,
    run_check,
)

__all__ = [
    "check_offset_rotation",
    "check_pool_with_positions",
    "check_sinusoidal_encoding",
]


# --------------------------------------------------------------------------
# a small runner for functions of plain numbers (sizes, offsets)


def _run_cases(name: str, fn: Callable, cases: Sequence[Case],
               reference: Callable, mistakes: Sequence[Mistake],
               atol: float, rtol: float,
               before_call: Callable[[Case], None] | None = None) -> Verdict:
    """Like :func:`check_function`, plus a hook that runs before each call and
    a final test that the result is a float32 tensor."""

    def body() -> str:
        for case in cases:
            if case.raises is not None:
                _expect_error(name, fn, case)
                continue
            if before_call is not None:
                before_call(case)
            got = call_learner(name, fn, case.args, case.kwargs, case.label)
            with torch.no_grad():
                expected = reference(*case.args, **case.kwargs)
            if got is None:
                fail(f"{name} returned None on {case.label}; did you forget "
                     "the `return` statement?", "returned_none")
            difference = compare(got, expected, atol, rtol, check_dtype=False)
            if difference is not None:
                diagnose(name, case, got, expected, mistakes, difference,
                         atol, rtol)
            if not isinstance(got, torch.Tensor):
                fail(f"{name} returned a {type(got).__name__} on {case.label}; "
                     "return a torch.Tensor so it can be added to token "
                     "embeddings.", "type")
            if got.dtype != torch.float32:
                fail(f"{name} returned {got.dtype} on {case.label}; the course "
                     "keeps positions in float32 like the embeddings, so end "
                     "with `.float()` or build with dtype=torch.float32.",
                     "wrong_dtype")
        n_values = sum(1 for c in cases if c.raises is None)
        n_errors = len(cases) - n_values
        inputs = "input" if n_errors == 1 else "inputs"
        errors = (f", and raises ValueError on {n_errors} impossible {inputs}"
                  if n_errors else "")
        labels = "; ".join(c.label for c in cases if c.raises is None)
        return f"{name} is correct on all {n_values} cases ({labels}){errors}."

    return run_check(name, body)


def _expect_error(name: str, fn: Callable, case: Case) -> None:
    try:
        fn(*case.args, **case.kwargs)
    except NotImplementedError:
        call_learner(name, fn, case.args, case.kwargs, case.label)  # reports it
    except case.raises:
        return
    except Exception as exc:
        fail(f"{name} raised {type(exc).__name__} on {case.label}, but it "
             f"should raise {case.raises.__name__} with a clear message; test "
             "the sizes at the top of the function.", "wrong_error")
    else:
        fail(f"{name} returned a result on {case.label}, but it should raise "
             f"{case.raises.__name__} so the caller learns about the mistake; "
             "test the sizes at the top of the function.", "no_error")


# --------------------------------------------------------------------------
# mistaken versions of the sinusoidal encoding


def _angles(n_positions: int, d_model: int, exponent: torch.Tensor,
            base: float = 10000.0, first: int = 0) -> torch.Tensor:
    """Angles p * base**(-exponent) for positions first, first+1, ..."""
    p = torch.arange(first, first + n_positions, dtype=torch.float64)[:, None]
    return p * base ** (-exponent)


def _interleave(sines: torch.Tensor, cosines: torch.Tensor,
                d_model: int) -> torch.Tensor:
    out = torch.empty(sines.shape[0], d_model, dtype=torch.float64)
    out[:, 0::2] = sines[:, : (d_model + 1) // 2]
    out[:, 1::2] = cosines[:, : d_model // 2]
    return out.float()


def _pairwise(n_positions, d_model, exponent_of_pair, base=10000.0, first=0,
              swap=False):
    """Interleaved encoding whose pair i uses ``exponent_of_pair(i, d)``."""
    i = torch.arange((d_model + 1) // 2, dtype=torch.float64)
    a = _angles(n_positions, d_model, exponent_of_pair(i, d_model), base, first)
    s, c = torch.sin(a), torch.cos(a)
    return _interleave(c, s, d_model) if swap else _interleave(s, c, d_model)


def _per_column(n_positions, d_model, exponent_of_column, base=10000.0):
    """Each column j gets its own frequency from its column index."""
    j = torch.arange(d_model, dtype=torch.float64)
    a = _angles(n_positions, d_model, exponent_of_column(j, d_model), base)
    out = torch.where(j.long() % 2 == 0, torch.sin(a), torch.cos(a))
    return out.float()


def _swapped(n, d, base=10000.0):
    return _pairwise(n, d, lambda i, d: 2 * i / d, base, swap=True)


def _exponent_i_over_d(n, d, base=10000.0):
    return _pairwise(n, d, lambda i, d: i / d, base)


def _column_index(n, d, base=10000.0):
    return _per_column(n, d, lambda j, d: j / d, base)


def _column_index_doubled(n, d, base=10000.0):
    return _per_column(n, d, lambda j, d: 2 * j / d, base)


def _positive_exponent(n, d, base=10000.0):
    return _pairwise(n, d, lambda i, d: -2 * i / d, base)


def _from_one(n, d, base=10000.0):
    return _pairwise(n, d, lambda i, d: 2 * i / d, base, first=1)


def _blocked(n, d, base=10000.0):
    i = torch.arange((d + 1) // 2, dtype=torch.float64)
    a = _angles(n, d, 2 * i / d, base)
    return torch.cat([torch.sin(a), torch.cos(a[:, : d // 2])], dim=1).float()


def _odd_denominator(n, d, base=10000.0):
    if d % 2 == 0:
        raise ValueError("only for odd d_model")
    return ref.sinusoidal_encoding(n, d + 1, base)[:, :d]


def _base_ignored(n, d, base=10000.0):
    if float(base) == 10000.0:
        raise ValueError("only differs for another base")
    return ref.sinusoidal_encoding(n, d)


def _odd_wrong_width(case, got, expected):
    n, d = case.args[0], case.args[1]
    return (d % 2 == 1 and isinstance(got, torch.Tensor) and got.dim() == 2
            and tuple(got.shape) in {(n, d + 1), (n, d - 1)})


_ENCODING_MISTAKES = [
    Mistake("sin_cos_swapped",
            "sine and cosine are swapped: even columns (0, 2, 4, ...) hold "
            "sin(p * w_i) and odd columns hold cos(p * w_i), so row 0 starts "
            "[0, 1, 0, 1, ...]", impl=_swapped),
    Mistake("positions_from_one",
            "your positions start at 1; count them from 0 with "
            "torch.arange(n_positions), so row 0 is [0, 1, 0, 1, ...]",
            impl=_from_one),
    Mistake("blocked_layout",
            "you put all the sines first and all the cosines after them; "
            "interleave them instead: pe[:, 0::2] = sin, pe[:, 1::2] = cos",
            impl=_blocked),
    Mistake("exponent_i_over_d",
            "the exponent is i / d_model; the formula uses 2i / d_model, i.e. "
            "torch.arange(0, d_model, 2) / d_model, one value per sine/cosine "
            "pair", impl=_exponent_i_over_d),
    Mistake("frequency_per_column",
            "each column got its own frequency from its column index; a sine "
            "column and the cosine column after it share one frequency, "
            "base ** (-2i / d_model) with i the pair index (column // 2)",
            impl=_column_index),
    Mistake("frequency_per_column",
            "you used the column index j as i, giving base ** (-2j / d_model); "
            "i is the pair index (column // 2), so the sine column and the "
            "cosine column after it share one frequency", impl=_column_index_doubled),
    Mistake("exponent_sign",
            "the exponent has the wrong sign: the frequency is "
            "base ** (-2i / d_model) (divide p by base ** (2i / d_model)), so "
            "later pairs turn more slowly, not faster", impl=_positive_exponent),
    Mistake("odd_d_denominator",
            "for odd d_model the exponent used d_model + 1 (did you build an "
            "extra column and drop it?); keep 2i / d_model with the true "
            "d_model and give the cosines only the first d_model // 2 "
            "frequencies", impl=_odd_denominator),
    Mistake("odd_d_model",
            "for odd d_model the output must have exactly d_model columns, the "
            "last one a sine; fill pe[:, 0::2] with all the sines and "
            "pe[:, 1::2] with the first d_model // 2 cosines",
            when=_odd_wrong_width),
    Mistake("base_ignored",
            "the `base` argument is ignored (10000 is hard-coded); use base in "
            "the frequency base ** (-2i / d_model)", impl=_base_ignored),
]


def _odd_call_guard(name: str, fn: Callable) -> Callable[[Case], None]:
    """Name the odd-size mistake when the learner's code crashes on it."""

    def guard(case: Case) -> None:
        if case.args[1] % 2 == 0:
            return
        try:
            fn(*case.args, **case.kwargs)
        except NotImplementedError:
            return  # the normal call reports it
        except Exception as exc:
            fail(f"{name} raised {type(exc).__name__} on {case.label}: an odd "
                 "d_model has one more sine column than cosine columns, so give "
                 "pe[:, 1::2] only the first d_model // 2 frequencies (the last "
                 "column is a sine).", "odd_d_model")

    return guard


def check_sinusoidal_encoding(fn: Callable) -> Verdict:
    """Check ``fn(n_positions, d_model, base=10000.0)`` against
    :func:`helpers.positions.sinusoidal_encoding` (day 6)."""
    cases = [
        Case((4, 8), "4 positions, d_model = 8"),
        Case((50, 16), "50 positions, d_model = 16"),
        Case((1, 6), "a single position"),
        Case((10, 7), "odd d_model = 7"),
        Case((3, 1), "d_model = 1 (one sine column)"),
        Case((64, 33), "64 positions, odd d_model = 33"),
        Case((20, 12), "base = 100", kwargs={"base": 100.0}),
        Case((0, 8), "n_positions = 0", raises=ValueError),
        Case((5, 0), "d_model = 0", raises=ValueError),
    ]
    name = "sinusoidal_encoding"
    return _run_cases(name, fn, cases, ref.sinusoidal_encoding,
                      _ENCODING_MISTAKES, atol=1e-4, rtol=1e-4,
                      before_call=_odd_call_guard(name, fn))


# --------------------------------------------------------------------------
# the offset rotation


def _rotation_from(k, d, theta_of_pair):
    """Block-diagonal rotation with angle ``theta_of_pair(i)`` for pair i."""
    theta = theta_of_pair(torch.arange(d // 2, dtype=torch.float64))
    m = torch.zeros(d, d, dtype=torch.float64)
    e = torch.arange(0, d, 2)
    m[e, e], m[e, e + 1] = torch.cos(theta), -torch.sin(theta)
    m[e + 1, e], m[e + 1, e + 1] = torch.sin(theta), torch.cos(theta)
    return m.float()


def _rot_transposed(k, d, base=10000.0):
    if k == 0:
        raise ValueError("a transpose of the identity is the identity")
    return ref.offset_rotation(k, d, base).T


def _rot_i_over_d(k, d, base=10000.0):
    return _rotation_from(k, d, lambda i: k * base ** (-i / d))


def _rot_positive_exponent(k, d, base=10000.0):
    return _rotation_from(k, d, lambda i: k * base ** (2 * i / d))


def _rot_no_k(k, d, base=10000.0):
    if k == 1:
        raise ValueError("same as the reference for k = 1")
    return ref.offset_rotation(1, d, base)


def _rot_blocked(k, d, base=10000.0):
    """Pairs (i, i + d/2): the rotation for the blocked layout."""
    theta = k * ref.frequencies(d, base)
    h = d // 2
    m = torch.zeros(d, d, dtype=torch.float64)
    s, c = torch.arange(h), torch.arange(h) + h
    m[s, s], m[s, c] = torch.cos(theta), -torch.sin(theta)
    m[c, s], m[c, c] = torch.sin(theta), torch.cos(theta)
    return m.float()


def _rot_base_ignored(k, d, base=10000.0):
    if float(base) == 10000.0:
        raise ValueError("only differs for another base")
    return ref.offset_rotation(k, d)


_ROTATION_MISTAKES = [
    Mistake("wrong_direction",
            "your rotation turns the wrong way: it is the transpose of M_k, "
            "which moves positions back by k; with row vectors "
            "(pe[p] @ M) the block is [[cos, -sin], [sin, cos]]",
            impl=_rot_transposed),
    Mistake("angle_not_times_k",
            "every block turns by w_i instead of k * w_i, so it always moves "
            "one position; multiply the angle by the offset k",
            impl=_rot_no_k),
    Mistake("wrong_frequency",
            "the angles use base ** (-i / d_model); the pair i turns by "
            "k * base ** (-2i / d_model), the same frequency as the encoding",
            impl=_rot_i_over_d),
    Mistake("wrong_frequency",
            "the exponent has the wrong sign; the pair i turns by "
            "k * base ** (-2i / d_model), so later pairs turn more slowly",
            impl=_rot_positive_exponent),
    Mistake("blocked_layout",
            "your blocks pair column i with column i + d_model / 2 (the blocked "
            "layout); in the interleaved encoding the pair is columns 2i and "
            "2i + 1", impl=_rot_blocked),
    Mistake("base_ignored",
            "the `base` argument is ignored (10000 is hard-coded); use it in "
            "the frequency base ** (-2i / d_model)", impl=_rot_base_ignored),
]


def check_offset_rotation(fn: Callable) -> Verdict:
    """Check ``fn(k, d_model, base=10000.0)`` against
    :func:`helpers.positions.offset_rotation` (day 6)."""
    cases = [
        Case((1, 8), "offset k = 1, d_model = 8"),
        Case((5, 16), "offset k = 5, d_model = 16"),
        Case((0, 4), "offset k = 0 (the identity)"),
        Case((-3, 6), "a negative offset k = -3"),
        Case((40, 2), "offset k = 40, d_model = 2"),
        Case((3, 12), "base = 100", kwargs={"base": 100.0}),
        Case((2, 7), "odd d_model = 7", raises=ValueError),
    ]
    return _run_cases("offset_rotation", fn, cases, ref.offset_rotation,
                      _ROTATION_MISTAKES, atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------------
# pooling with positions


def _tokens(ids):
    return torch.tensor(ids, dtype=torch.long)


def _pool_case(ids, d, label, vocab=6, query_scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(vocab, d, generator=g)
    query = torch.randn(d, generator=g) * query_scale
    pe = ref.sinusoidal_encoding(12, d)
    return Case((_tokens(ids), table, pe, query), label)


def _no_positions(ids, table, pe, query):
    return ref.softmax_pool(table[ids], query)


def _after_pooling_mean(ids, table, pe, query):
    return ref.softmax_pool(table[ids], query) + pe[: len(ids)].mean(0)


def _after_pooling_sum(ids, table, pe, query):
    return ref.softmax_pool(table[ids], query) + pe[: len(ids)].sum(0)


def _after_pooling_pooled(ids, table, pe, query):
    return ref.softmax_pool(table[ids], query) + ref.softmax_pool(pe[: len(ids)],
                                                                 query)


def _by_token_id(ids, table, pe, query):
    return ref.softmax_pool(table[ids] + pe[ids], query)


def _pool_from_one(ids, table, pe, query):
    return ref.softmax_pool(table[ids] + pe[1: len(ids) + 1], query)


def _mean_pool(ids, table, pe, query):
    return (table[ids] + pe[: len(ids)]).mean(0)


def _values_without_positions(ids, table, pe, query):
    x = table[ids] + pe[: len(ids)]
    return torch.softmax(x @ query, dim=-1) @ table[ids]


def _scores_without_positions(ids, table, pe, query):
    x = table[ids] + pe[: len(ids)]
    return torch.softmax(table[ids] @ query, dim=-1) @ x


def _no_softmax(ids, table, pe, query):
    x = table[ids] + pe[: len(ids)]
    return (x @ query) @ x


def _unnormalised(ids, table, pe, query):
    x = table[ids] + pe[: len(ids)]
    return torch.exp(x @ query) @ x


_AFTER = ("you added positions after pooling; add pe[:T] to the token vectors "
          "first, then pool, otherwise the weights never see where a token is")

_POOL_MISTAKES = [
    Mistake("no_positions",
            "the result ignores positions, so 'dog bites man' and 'man bites "
            "dog' pool to the same vector; add pe[:T] to table[token_ids] "
            "before pooling", impl=_no_positions),
    Mistake("positions_after_pooling", _AFTER, impl=_after_pooling_mean),
    Mistake("positions_after_pooling", _AFTER, impl=_after_pooling_sum),
    Mistake("positions_after_pooling", _AFTER, impl=_after_pooling_pooled),
    Mistake("positions_by_token_id",
            "you looked positions up by token id (pe[token_ids]); a token's "
            "position is its place in the sequence, so use pe[:T] (row t for "
            "the t-th token)", impl=_by_token_id),
    Mistake("positions_from_one",
            "your positions start at 1 (pe[1:T+1]); the first token sits at "
            "position 0, so use pe[:T]", impl=_pool_from_one),
    Mistake("mean_pooling",
            "you took a plain mean; mean(E + P) = mean(E) + mean(P) is still "
            "blind to order, so weight the rows by softmax(x @ query) instead",
            impl=_mean_pool),
    Mistake("values_without_positions",
            "the weights see positions but you averaged the bare token vectors; "
            "average x = table[token_ids] + pe[:T], the same rows that were "
            "scored", impl=_values_without_positions),
    Mistake("scores_without_positions",
            "the scores come from the bare token vectors; score "
            "x = table[token_ids] + pe[:T] against the query, then average x",
            impl=_scores_without_positions),
    Mistake("no_softmax",
            "the weights are the raw scores x @ query; turn them into weights "
            "that sum to one with torch.softmax(..., dim=-1)", impl=_no_softmax),
    Mistake("no_softmax",
            "the weights are exp(scores) but are never divided by their sum; "
            "use torch.softmax(x @ query, dim=-1)", impl=_unnormalised),
]


def check_pool_with_positions(fn: Callable) -> Verdict:
    """Check ``fn(token_ids, table, pe, query)`` against
    :func:`helpers.positions.pool_with_positions` (day 6)."""
    cases = [
        _pool_case([0, 1, 2], 8, "'dog bites man', ids [0, 1, 2]"),
        _pool_case([2, 1, 0], 8, "'man bites dog', ids [2, 1, 0]"),
        _pool_case([3], 8, "a single token"),
        _pool_case([1, 1, 1, 1], 8, "one token repeated four times", seed=1),
        _pool_case([4, 0, 5, 2, 2, 1, 3], 7, "7 tokens with odd d_model = 7",
                   seed=2),
        _pool_case([5, 3, 0, 1, 4, 2, 0, 5, 1, 3], 16,
                   "10 tokens and a sharp query (scores in the hundreds)",
                   query_scale=60.0, seed=3),
    ]
    labels = "; ".join(c.label for c in cases)
    return check_function("pool_with_positions", fn, cases,
                          ref.pool_with_positions, _POOL_MISTAKES,
                          atol=1e-4, rtol=1e-4,
                          success=f"pool_with_positions is correct on all "
                                  f"{len(cases)} cases ({labels}).")
