"""Tests for day 1: helpers.linalg against PyTorch, and its three checks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers import linalg
from helpers.checks import (
    check_batched_scores,
    check_cosine_similarity,
    check_matmul_loops,
)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------
# reference code against PyTorch and the defining properties


@pytest.mark.parametrize("shape_a, shape_b", [
    ((5,), (5,)), ((3, 5), (3, 5)), ((2, 3, 4), (2, 3, 4)), ((6,), (4, 6)),
    ((2, 1, 3), (1, 4, 3)),
])
def test_dot_matches_torch(shape_a, shape_b):
    a, b = randn(*shape_a, seed=1), randn(*shape_b, seed=2)
    expected = torch.einsum("...d,...d->...", *torch.broadcast_tensors(a, b))
    torch.testing.assert_close(linalg.dot(a, b), expected)
    if a.dim() == b.dim() == 1:
        torch.testing.assert_close(linalg.dot(a, b), torch.dot(a, b))


def test_dot_rejects_different_lengths():
    with pytest.raises(ValueError, match="same length"):
        linalg.dot(torch.ones(3), torch.ones(4))


def test_norm_is_euclidean_length():
    x = randn(4, 7, seed=3)
    torch.testing.assert_close(linalg.norm(x), torch.linalg.vector_norm(x, dim=-1))
    assert linalg.norm(torch.tensor([3.0, 4.0])).item() == pytest.approx(5.0)


@pytest.mark.parametrize("shape_a, shape_b", [
    ((7,), (7,)), ((3, 5), (3, 5)), ((1, 4), (1, 4)), ((2, 3, 6), (2, 3, 6)),
    ((6,), (4, 6)),
])
def test_cosine_matches_torch(shape_a, shape_b):
    a, b = randn(*shape_a, seed=4), randn(*shape_b, seed=5)
    torch.testing.assert_close(linalg.cosine_similarity(a, b),
                               F.cosine_similarity(a, b, dim=-1))


def test_cosine_zero_vector_and_tiny_vector_match_torch():
    a = torch.tensor([[0.0, 0.0, 0.0], [1e-9, 0.0, 0.0], [1.0, 2.0, 3.0]])
    b = torch.tensor([[1.0, 2.0, 2.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    got = linalg.cosine_similarity(a, b)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, F.cosine_similarity(a, b, dim=-1))


def test_cosine_properties():
    a = randn(10, 8, seed=6)
    b = randn(10, 8, seed=7)
    cos = linalg.cosine_similarity(a, b)
    assert (cos.abs() <= 1 + 1e-6).all(), "cosine must lie in [-1, 1]"
    torch.testing.assert_close(linalg.cosine_similarity(a, a), torch.ones(10))
    torch.testing.assert_close(linalg.cosine_similarity(a, -a), -torch.ones(10))
    # scale invariance: lengths do not matter, only directions
    torch.testing.assert_close(linalg.cosine_similarity(3.5 * a, 0.2 * b), cos)
    # symmetry
    torch.testing.assert_close(linalg.cosine_similarity(b, a), cos)


def test_projection_residual_is_orthogonal_and_idempotent():
    a, b = randn(6, 5, seed=8), randn(6, 5, seed=9)
    p = linalg.project(a, b)
    assert p.shape == (6, 5)
    residual = a - p
    torch.testing.assert_close(linalg.dot(residual, b), torch.zeros(6),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(linalg.project(p, b), p, atol=1e-5, rtol=1e-5)
    # projecting b onto itself gives b
    torch.testing.assert_close(linalg.project(b, b), b)


def test_projection_known_2d_example_and_zero_target():
    p = linalg.project(torch.tensor([1.0, 3.0]), torch.tensor([4.0, 1.0]))
    torch.testing.assert_close(p, torch.tensor([28 / 17, 7 / 17]))
    zero = linalg.project(torch.tensor([1.0, 2.0]), torch.zeros(2))
    torch.testing.assert_close(zero, torch.zeros(2))


@pytest.mark.parametrize("n, k, m", [(3, 3, 3), (2, 3, 4), (1, 5, 1), (4, 1, 3),
                                     (5, 2, 6)])
def test_matmul_loops_matches_torch(n, k, m):
    A, B = randn(n, k, seed=10), randn(k, m, seed=11)
    C = linalg.matmul_loops(A, B)
    assert C.shape == (n, m)
    torch.testing.assert_close(C, torch.matmul(A, B))


def test_matmul_loops_keeps_float64():
    A = randn(2, 3, seed=12).double()
    B = randn(3, 2, seed=13).double()
    C = linalg.matmul_loops(A, B)
    assert C.dtype == torch.float64
    torch.testing.assert_close(C, A @ B)


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 2)), ((3, 2), (3, 2)),
                                              ((3,), (3, 2)), ((2, 2, 2), (2, 2))])
def test_matmul_loops_rejects_bad_shapes(shape_a, shape_b):
    with pytest.raises(ValueError):
        linalg.matmul_loops(torch.ones(shape_a), torch.ones(shape_b))


def test_multiply_add_count():
    assert linalg.matmul_multiply_adds((2, 3), (3, 4)) == 24
    assert linalg.matmul_multiply_adds((8, 5, 16), (8, 16, 7)) == 8 * 5 * 16 * 7
    # a shared weight broadcast over a batch
    assert linalg.matmul_multiply_adds((4, 10, 6), (6, 3)) == 4 * 10 * 6 * 3
    with pytest.raises(ValueError):
        linalg.matmul_multiply_adds((2, 3), (4, 5))


@pytest.mark.parametrize("B, T, S, d", [(2, 3, 4, 4), (3, 5, 2, 6), (1, 1, 1, 1),
                                        (4, 7, 3, 2)])
def test_batched_scores_matches_torch(B, T, S, d):
    Q, K = randn(B, T, d, seed=14), randn(B, S, d, seed=15)
    scores = linalg.batched_scores(Q, K)
    assert scores.shape == (B, T, S)
    torch.testing.assert_close(scores, torch.einsum("btd,bsd->bts", Q, K))
    torch.testing.assert_close(scores, torch.matmul(Q, K.transpose(1, 2)))
    # entry by entry: one query against one key of the same batch element
    torch.testing.assert_close(scores[B - 1, T - 1, 0],
                               torch.dot(Q[B - 1, T - 1], K[B - 1, 0]))


def test_batched_scores_rejects_different_d():
    with pytest.raises(ValueError):
        linalg.batched_scores(torch.ones(2, 3, 4), torch.ones(2, 3, 5))


def test_plots_draw_without_error():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = linalg.plot_projection([1.0, 3.0], [4.0, 1.0], title="projection")
    assert ax.get_title() == "projection"
    ax = linalg.plot_matmul_shapes(3, 4, 2, i=1, j=1)
    assert len(ax.patches) == 3 * 4 + 4 * 2 + 3 * 2
    plt.close("all")


# --------------------------------------------------------------------------
# the checks: pass the reference, name every mistake, stay polite


def verdict_of(check, fn, capsys):
    verdict = check(fn)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"expected one printed line, got {out!r}"
    assert "Traceback" not in out
    assert out.strip() == verdict.message
    return verdict


@pytest.mark.parametrize("check, reference", [
    (check_cosine_similarity, linalg.cosine_similarity),
    (check_matmul_loops, linalg.matmul_loops),
    (check_batched_scores, linalg.batched_scores),
])
def test_checks_pass_the_reference(check, reference, capsys):
    verdict = verdict_of(check, reference, capsys)
    assert verdict.passed, verdict.message
    assert verdict.mistake is None


def test_checks_accept_other_correct_solutions(capsys):
    def cosine_torch(a, b):
        return F.cosine_similarity(a, b, dim=-1)

    def cosine_plus_eps(a, b):
        na = a.norm(dim=-1)
        nb = b.norm(dim=-1)
        return (a * b).sum(-1) / (na * nb + 1e-8)

    def matmul_two_loops(A, B):
        if A.shape[1] != B.shape[0]:
            raise ValueError("inner sizes differ")
        C = torch.zeros(A.shape[0], B.shape[1])
        for i in range(A.shape[0]):
            for j in range(B.shape[1]):
                C[i, j] = sum(A[i, p] * B[p, j] for p in range(A.shape[1]))
        return C

    def scores_einsum(Q, K):
        return torch.einsum("btd,bsd->bts", Q, K)

    assert verdict_of(check_cosine_similarity, cosine_torch, capsys).passed
    assert verdict_of(check_cosine_similarity, cosine_plus_eps, capsys).passed
    assert verdict_of(check_matmul_loops, matmul_two_loops, capsys).passed
    assert verdict_of(check_batched_scores, scores_einsum, capsys).passed


# the wrong implementations a learner might write, one per named mistake

def cos_raw_dot(a, b):
    return (a * b).sum(dim=-1)


def cos_only_a(a, b):
    return (a * b).sum(dim=-1) / a.norm(dim=-1).clamp_min(1e-8)


def cos_only_b(a, b):
    b_unit = b / b.norm(dim=-1, keepdim=True)
    return (a * b_unit).sum(dim=-1)


def cos_no_sqrt(a, b):
    return (a * b).sum(-1) / ((a * a).sum(-1) * (b * b).sum(-1)).clamp_min(1e-8)


def cos_whole_norm(a, b):
    return (a * b).sum(-1) / (torch.norm(a) * torch.norm(b))


def cos_wrong_axis(a, b):
    a = a / a.norm(dim=0, keepdim=True)
    b = b / b.norm(dim=0, keepdim=True)
    return (a * b).sum(-1)


def cos_all_pairs(a, b):
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    return a @ b.transpose(-2, -1)


def cos_keepdim(a, b):
    dot = (a * b).sum(dim=-1, keepdim=True)
    na = a.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    nb = b.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return dot / (na * nb)


def cos_no_eps(a, b):
    return (a * b).sum(dim=-1) / (a.norm(dim=-1) * b.norm(dim=-1))


@pytest.mark.parametrize("wrong, name", [
    (cos_raw_dot, "raw_dot"), (cos_only_a, "one_vector_normalised"),
    (cos_only_b, "one_vector_normalised"), (cos_no_sqrt, "forgot_sqrt"),
    (cos_whole_norm, "norm_of_whole_tensor"), (cos_wrong_axis, "norm_wrong_axis"),
    (cos_all_pairs, "all_pairs"), (cos_keepdim, "kept_last_axis"),
    (cos_no_eps, "zero_vector_nan"),
])
def test_cosine_check_names_each_mistake(wrong, name, capsys):
    verdict = verdict_of(check_cosine_similarity, wrong, capsys)
    assert not verdict.passed
    assert verdict.mistake == name, verdict.message


def loops(A, B, cell, reset="cell", keep="add"):
    """A configurable loop matmul used to write each mistaken version."""
    n, k = A.shape
    m = B.shape[1]
    C = torch.zeros(n, m)
    total = 0.0
    for i in range(n):
        if reset == "row":
            total = 0.0
        for j in range(m):
            if reset == "cell":
                total = 0.0
            for p in range(k):
                term = cell(A, B, i, j, p)
                total = total + term if keep == "add" else term
            C[i, j] = total
    return C


def checked(A, B):
    if A.shape[1] != B.shape[0]:
        raise ValueError("inner sizes differ")


def mm_transposed(A, B):
    checked(A, B)
    C = torch.zeros(B.shape[1], A.shape[0])
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            for p in range(A.shape[1]):
                C[j, i] += A[i, p] * B[p, j]
    return C


def mm_b_times_a(A, B):
    checked(A, B)
    return loops(B, A, lambda X, Y, i, j, p: X[i, p] * Y[p, j])


def mm_b_swapped(A, B):
    checked(A, B)
    n, k = A.shape
    C = torch.zeros(n, B.shape[1])
    for i in range(n):
        for j in range(B.shape[1]):
            C[i, j] = sum(A[i, p] * B[j, p] for p in range(k))
    return C


def mm_a_swapped(A, B):
    checked(A, B)
    n, k = A.shape
    C = torch.zeros(n, B.shape[1])
    for i in range(n):
        for j in range(B.shape[1]):
            C[i, j] = sum(A[p, i] * B[p, j] for p in range(k))
    return C


def mm_overwrites(A, B):
    checked(A, B)
    return loops(A, B, lambda X, Y, i, j, p: X[i, p] * Y[p, j], keep="set")


def mm_reset_per_row(A, B):
    checked(A, B)
    return loops(A, B, lambda X, Y, i, j, p: X[i, p] * Y[p, j], reset="row")


def mm_reset_once(A, B):
    checked(A, B)
    return loops(A, B, lambda X, Y, i, j, p: X[i, p] * Y[p, j], reset="never")


def mm_no_shape_check(A, B):
    return loops(A, B, lambda X, Y, i, j, p: X[i, p] * Y[p, j])


def mm_index_error(A, B):
    n, m = A.shape[0], B.shape[1]
    C = torch.zeros(n, m)
    for i in range(n):
        for j in range(m):
            for p in range(B.shape[0]):
                C[i, j] += A[i, p] * B[p, j]
    return C


def mm_builtin(A, B):
    if A.shape[1] != B.shape[0]:
        raise ValueError("inner sizes differ")
    return A @ B


@pytest.mark.parametrize("wrong, name", [
    (mm_transposed, "transposed"), (mm_b_times_a, "b_times_a"),
    (mm_b_swapped, "b_index_swapped"), (mm_a_swapped, "a_index_swapped"),
    (mm_overwrites, "overwrites_sum"), (mm_reset_per_row, "accumulator_not_reset"),
    (mm_reset_once, "accumulator_not_reset"), (mm_no_shape_check, "no_error"),
    (mm_index_error, "wrong_error"), (mm_builtin, "no_loops"),
])
def test_matmul_check_names_each_mistake(wrong, name, capsys):
    verdict = verdict_of(check_matmul_loops, wrong, capsys)
    assert not verdict.passed
    assert verdict.mistake == name, verdict.message


def sc_transposed(Q, K):
    return K @ Q.transpose(-2, -1)


def sc_no_transpose(Q, K):
    return Q @ K


def sc_reshape(Q, K):
    B, S, d = K.shape
    return Q @ K.view(B, d, S)


def sc_einsum_letters(Q, K):
    return torch.einsum("btd,csd->bts", Q, K)


def sc_sum_over_batch(Q, K):
    return torch.einsum("btd,bsd->ts", Q, K)


def sc_flattened(Q, K):
    B, T, d = Q.shape
    return Q.reshape(B * T, d) @ K.reshape(-1, d).T


def sc_first_batch(Q, K):
    return Q @ K[0].T


def sc_dot_T(Q, K):
    return Q @ K.T


def sc_scaled(Q, K):
    return Q @ K.transpose(1, 2) / math.sqrt(Q.shape[-1])


@pytest.mark.parametrize("wrong, name", [
    (sc_transposed, "transposed_scores"), (sc_no_transpose, "forgot_transpose"),
    (sc_reshape, "forgot_transpose"), (sc_einsum_letters, "batches_mixed"),
    (sc_sum_over_batch, "batches_mixed"), (sc_flattened, "batches_mixed"),
    (sc_first_batch, "batches_mixed"), (sc_scaled, "scaled_by_sqrt_d"),
    (sc_dot_T, "transposed_all_axes"),
])
def test_scores_check_names_each_mistake(wrong, name, capsys):
    verdict = verdict_of(check_batched_scores, wrong, capsys)
    assert not verdict.passed
    assert verdict.mistake == name, verdict.message


ALL_CHECKS = [check_cosine_similarity, check_matmul_loops, check_batched_scores]


@pytest.mark.parametrize("check", ALL_CHECKS)
def test_stub_is_not_implemented(check, capsys):
    def stub(*args):
        raise NotImplementedError("Your turn: replace this line with your code.")

    verdict = verdict_of(check, stub, capsys)
    assert verdict.mistake == "not_implemented"
    assert "not written yet" in verdict.message


@pytest.mark.parametrize("check", ALL_CHECKS)
def test_exception_is_one_friendly_sentence(check, capsys):
    def broken(*args):
        return args[0].undefined_attribute

    verdict = verdict_of(check, broken, capsys)
    assert verdict.mistake == "exception"
    assert "AttributeError" in verdict.message


@pytest.mark.parametrize("check", ALL_CHECKS)
def test_none_wrong_type_and_nan_are_reported(check, capsys):
    def returns_none(*args):
        return None

    def returns_list(*args):
        return [1.0, 2.0]

    def returns_nan(*args):
        a, b = args
        out = linalg.cosine_similarity(a, b) if check is check_cosine_similarity \
            else (linalg.batched_scores(a, b) if check is check_batched_scores
                  else a @ b)
        return out * float("nan")

    assert verdict_of(check, returns_none, capsys).mistake == "returned_none"
    assert verdict_of(check, returns_list, capsys).mistake == "type"
    nan_verdict = verdict_of(check, returns_nan, capsys)
    assert nan_verdict.mistake == "nan", nan_verdict.message
