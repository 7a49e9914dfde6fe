"""Checks for day 1: cosine similarity, a loop matmul and batched scores.

Each check runs the learner's function next to the reference in
:mod:`helpers.linalg` on several cases (a batch of one, odd sizes, large
values, a zero vector, a shape mismatch) and names the classic mistakes of
the topic, such as a missing normalisation or an index mix-up in the loops.
"""

from __future__ import annotations

import inspect
import io
import math
import textwrap
import tokenize
import warnings
from contextlib import redirect_stdout

import torch

from helpers import linalg
from helpers.checks._core import FAIL, Case, Mistake, Verdict, check_function

# --------------------------------------------------------------------------
# exercise 1.1: cosine similarity


def _rows_dot(a, b):
    return (a * b).sum(dim=-1)


def _unsafe_cosine(a, b):
    return _rows_dot(a, b) / (a.norm(dim=-1) * b.norm(dim=-1))


def _all_pairs_cosine(a, b):
    a_unit = a / a.norm(dim=-1, keepdim=True)
    b_unit = b / b.norm(dim=-1, keepdim=True)
    if a.dim() < 2 or b.dim() < 2:
        raise ValueError("all pairs needs 2-D inputs")
    return a_unit @ b_unit.transpose(-2, -1)


def _wrong_axis_cosine(a, b):
    a_unit = a / a.norm(dim=0, keepdim=True)
    b_unit = b / b.norm(dim=0, keepdim=True)
    return _rows_dot(a_unit, b_unit)


COSINE_MISTAKES = [
    Mistake("raw_dot", (
        "your function returns the raw dot product a . b; divide it by both "
        "lengths, |a| * |b|, so that only the angle counts"), impl=_rows_dot),
    Mistake("one_vector_normalised", (
        "only a was normalised: the result is a . b / |a|; divide by |b| as "
        "well"), impl=lambda a, b: _rows_dot(a, b) / a.norm(dim=-1)),
    Mistake("one_vector_normalised", (
        "only b was normalised: the result is a . b / |b|; divide by |a| as "
        "well"), impl=lambda a, b: _rows_dot(a, b) / b.norm(dim=-1)),
    Mistake("forgot_sqrt", (
        "you divided by the squared lengths a . a and b . b; the length is the "
        "square root, |a| = sqrt(a . a)"),
        impl=lambda a, b: _rows_dot(a, b) / (_rows_dot(a, a) * _rows_dot(b, b))),
    Mistake("norm_of_whole_tensor", (
        "the lengths were taken over every entry of the batch at once (for "
        "example torch.norm(a) without dim); take one length per vector with "
        "dim=-1"), impl=lambda a, b: _rows_dot(a, b) / (a.norm() * b.norm())),
    Mistake("norm_wrong_axis", (
        "the lengths were taken along the batch axis (dim=0) instead of the "
        "vector axis; use dim=-1 so each vector gets its own length"),
        impl=_wrong_axis_cosine),
    Mistake("all_pairs", (
        "you compared every vector of a with every vector of b (a matrix "
        "product); pair them up instead: multiply elementwise and sum over "
        "dim=-1"), impl=_all_pairs_cosine),
    Mistake("kept_last_axis", (
        "the values are right but a size-1 axis was kept at the end (keepdim="
        "True); return one number per pair, shape (...) rather than (..., 1)"),
        impl=lambda a, b: linalg.cosine_similarity(a, b).unsqueeze(-1)),
    Mistake("zero_vector_nan", (
        "a zero vector gives NaN (0 divided by 0); clamp each length to at "
        "least eps, e.g. norm.clamp_min(eps), so a zero vector has similarity "
        "0"), impl=_unsafe_cosine),
]


def cosine_cases() -> list[Case]:
    """The inputs :func:`check_cosine_similarity` uses, in order."""
    g = torch.Generator().manual_seed(101)
    r = torch.randn(2, 5, generator=g)
    return [
        Case((torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)),
             "3 pairs of 5-d vectors"),
        Case((torch.randn(1, 4, generator=g), torch.randn(1, 4, generator=g)),
             "a batch of one pair"),
        Case((torch.randn(7, generator=g), torch.randn(7, generator=g)),
             "two plain 1-D vectors of length 7"),
        Case((torch.randn(2, 3, 6, generator=g),
              torch.randn(2, 3, 6, generator=g)), "a (2, 3, 6) batch"),
        Case((torch.randn(6, generator=g), torch.randn(4, 6, generator=g)),
             "one vector against 4 (broadcasting)"),
        Case((r, torch.stack([3 * r[0], -2 * r[1]])),
             "parallel and opposite vectors"),
        Case((1000 * torch.randn(3, 5, generator=g),
              1000 * torch.randn(3, 5, generator=g)), "entries near 1000"),
        Case((torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [1.0, 0.0, -1.0]]),
              torch.tensor([[1.0, 2.0, 2.0], [2.0, 0.0, 1.0], [0.0, 0.0, 0.0]])),
             "pairs with a zero vector"),
    ]


def check_cosine_similarity(fn) -> Verdict:
    """Check ``fn(a, b)``: cosine similarity over the last axis of ``(..., d)``
    inputs, 0 for a zero vector (exercise 1.1, day 1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check_function(
            "cosine_similarity", fn, cosine_cases(), linalg.cosine_similarity,
            COSINE_MISTAKES, atol=1e-5, rtol=1e-4,
            success=("cosine_similarity is correct on all 8 cases, including a "
                     "batch of one, broadcasting, parallel and opposite "
                     "vectors, large entries and a zero vector."))


# --------------------------------------------------------------------------
# exercise 1.2: matrix product with loops


def _row_cumsum(A, B):
    return (A @ B).cumsum(dim=1)


def _flat_cumsum(A, B):
    C = A @ B
    return C.reshape(-1).cumsum(dim=0).reshape(C.shape)


MATMUL_MISTAKES = [
    Mistake("transposed", (
        "you returned the transpose of A @ B; store the sum for row i and "
        "column j in C[i, j], and make C of shape (n, m)"),
        impl=lambda A, B: (A @ B).T),
    Mistake("b_times_a", (
        "your loops compute B @ A; the order matters: C[i, j] sums "
        "A[i, p] * B[p, j] over p"), impl=lambda A, B: B @ A),
    Mistake("b_index_swapped", (
        "B is read as B[j, p], which computes A @ B.T; walk down column j of "
        "B with B[p, j]"), impl=lambda A, B: A @ B.T),
    Mistake("a_index_swapped", (
        "A is read as A[p, i], which computes A.T @ B; walk along row i of A "
        "with A[i, p]"), impl=lambda A, B: A.T @ B),
    Mistake("overwrites_sum", (
        "each cell keeps only the last product A[i, k-1] * B[k-1, j]; add to "
        "the running total with += instead of overwriting it with ="),
        impl=lambda A, B: A[:, -1:] @ B[-1:, :]),
    Mistake("accumulator_not_reset", (
        "the running total is not reset for each cell, so sums pile up across "
        "cells; set it to 0 just before the innermost loop"),
        impl=_row_cumsum),
    Mistake("accumulator_not_reset", (
        "the running total is set to 0 only once, so sums pile up across "
        "cells; set it to 0 just before the innermost loop"),
        impl=_flat_cumsum),
]


def matmul_cases() -> list[Case]:
    """The inputs :func:`check_matmul_loops` uses, in order."""
    g = torch.Generator().manual_seed(102)

    def rand(*shape):
        return torch.randn(*shape, generator=g)

    return [
        Case((rand(3, 3), rand(3, 3)), "two random 3x3 matrices"),
        Case((rand(2, 3), rand(3, 4)), "(2, 3) @ (3, 4)"),
        Case((rand(1, 5), rand(5, 1)), "a (1, 5) row times a (5, 1) column"),
        Case((rand(4, 1), rand(1, 3)), "a (4, 1) column times a (1, 3) row"),
        Case((rand(5, 2), rand(2, 6)), "(5, 2) @ (2, 6)"),
        Case((rand(2, 3), rand(4, 2)), "(2, 3) @ (4, 2), whose inner sizes "
             "3 and 4 differ", raises=ValueError),
        Case((rand(3, 2), rand(3, 2)), "(3, 2) @ (3, 2), whose inner sizes "
             "2 and 3 differ", raises=ValueError),
    ]


def _has_python_loop(fn) -> bool:
    """True when ``fn``'s source has a ``for`` or ``while`` (or its source
    cannot be read, to give the benefit of the doubt)."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tokens = tokenize.generate_tokens(io.StringIO(source).readline)
        return any(t.type == tokenize.NAME and t.string in ("for", "while")
                   for t in tokens)
    except (OSError, TypeError, tokenize.TokenError, IndentationError,
            SyntaxError):
        return True


def check_matmul_loops(fn) -> Verdict:
    """Check ``fn(A, B)``: ``A @ B`` for ``(n, k)`` and ``(k, m)`` written with
    Python loops, raising ``ValueError`` on a shape mismatch (exercise 1.2,
    day 1)."""
    printed = io.StringIO()
    with redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verdict = check_function(
            "matmul_loops", fn, matmul_cases(), linalg.matmul_loops,
            MATMUL_MISTAKES, atol=1e-5, rtol=1e-4,
            success=("matmul_loops is correct on 5 shapes (square, row times "
                     "column, outer product, ...) and raises ValueError on "
                     "both shape mismatches."))
    if verdict.passed and not _has_python_loop(fn):
        verdict = Verdict(False, (
            f"{FAIL} matmul_loops gives the right numbers but has no Python "
            "loop; write the three loops yourself, so that you see the "
            "n * k * m multiply-adds that @ does for you."), "no_loops")
        print(verdict.message)
        return verdict
    print(printed.getvalue(), end="")
    return verdict


# --------------------------------------------------------------------------
# exercise 1.3: batched scores


def _keys_summed_over_batch(Q, K):
    return torch.einsum("btd,csd->bts", Q, K)


def _scores_summed_over_batch(Q, K):
    return torch.einsum("btd,bsd->ts", Q, K)


def _flattened_batches(Q, K):
    d = Q.shape[-1]
    return Q.reshape(-1, d) @ K.reshape(-1, d).T


def _first_batch_keys(Q, K):
    return Q @ K[0].T


def _reshaped_keys(Q, K):
    B, S, d = K.shape
    return Q @ K.reshape(B, d, S)


_MIXED = ("your scores mix batch elements; each query may only meet the keys "
          "of its own batch element, so keep the batch index on both sides "
          "(einsum 'btd,bsd->bts' or Q @ K.transpose(-2, -1))")

SCORES_MISTAKES = [
    Mistake("transposed_scores", (
        "your scores have shape (B, S, T), keys by queries; compute "
        "Q @ K^T so that rows are queries: (B, T, S)"),
        impl=lambda Q, K: K @ Q.transpose(-2, -1)),
    Mistake("forgot_transpose", (
        "K was used without swapping its last two axes (a reshape or view "
        "does not transpose); use K.transpose(-2, -1), shape (B, d, S)"),
        impl=lambda Q, K: Q @ K),
    Mistake("forgot_transpose", (
        "K was reshaped to (B, d, S) instead of transposed; reshape keeps the "
        "memory order and scrambles the vectors, use K.transpose(-2, -1)"),
        impl=_reshaped_keys),
    Mistake("batches_mixed", _MIXED, impl=_keys_summed_over_batch),
    Mistake("batches_mixed", _MIXED, impl=_scores_summed_over_batch),
    Mistake("batches_mixed", _MIXED, impl=_flattened_batches),
    Mistake("batches_mixed", _MIXED, impl=_first_batch_keys),
    Mistake("scaled_by_sqrt_d", (
        "your scores are divided by sqrt(d); that scaling belongs to "
        "attention (day 12), here return the plain dot products"),
        impl=lambda Q, K: Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])),
]


def scores_cases() -> list[Case]:
    """The inputs :func:`check_batched_scores` uses, in order."""
    g = torch.Generator().manual_seed(103)

    def pair(B, T, S, d, scale=1.0):
        return (scale * torch.randn(B, T, d, generator=g),
                scale * torch.randn(B, S, d, generator=g))

    return [
        Case(pair(2, 3, 4, 4), "Q (2, 3, 4) with K (2, 4, 4)"),
        Case(pair(3, 5, 2, 6), "Q (3, 5, 6) with K (3, 2, 6)"),
        Case(pair(1, 2, 3, 5), "a batch of one, Q (1, 2, 5) with K (1, 3, 5)"),
        Case(pair(4, 1, 1, 3), "one query and one key per batch element"),
        Case(pair(2, 4, 6, 3, scale=100.0), "entries near 100"),
    ]


def _fails_like_dot_T(fn, case: Case) -> bool:
    """True when ``fn`` raises exactly the error that ``Q @ K.T`` raises:
    ``.T`` on a 3-D tensor reverses all three axes, batch axis included."""
    Q, K = case.args
    try:
        Q @ K.T
    except Exception as expected:
        try:
            fn(Q.clone(), K.clone())
        except Exception as got:
            return type(got) is type(expected) and str(got) == str(expected)
    return False


def check_batched_scores(fn) -> Verdict:
    """Check ``fn(Q, K)``: ``Q @ K^T`` per batch element, ``(B, T, d)`` and
    ``(B, S, d)`` to ``(B, T, S)`` (exercise 1.3, day 1)."""
    cases = scores_cases()
    printed = io.StringIO()
    with redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verdict = check_function(
            "batched_scores", fn, cases, linalg.batched_scores,
            SCORES_MISTAKES, atol=1e-4, rtol=1e-4,
            success=("batched_scores is correct on all 5 cases, including T "
                     "different from S, a batch of one, one query per batch "
                     "element and large entries."))
        dot_T = (verdict.mistake == "exception"
                 and _fails_like_dot_T(fn, cases[0]))
    if dot_T:
        verdict = Verdict(False, (
            f"{FAIL} batched_scores: K.T on a 3-D tensor reverses all three "
            "axes, (B, S, d) -> (d, S, B), so the batch axis moves; swap only "
            "the last two with K.transpose(-2, -1) or K.mT."),
            "transposed_all_axes")
        print(verdict.message)
        return verdict
    print(printed.getvalue(), end="")
    return verdict
