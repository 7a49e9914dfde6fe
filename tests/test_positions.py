"""Tests for day 6: the sinusoidal encoding, the offset rotation, pooling
with positions, and the checks that grade them."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from helpers import positions as P
from helpers.checks import (
    check_offset_rotation,
    check_pool_with_positions,
    check_sinusoidal_encoding,
)

# --------------------------------------------------------------------------
# the reference encoding against the formula and its defining properties


def formula_by_loops(n_positions, d_model, base=10000.0):
    """The formula written out one entry at a time, in NumPy float64."""
    out = np.zeros((n_positions, d_model))
    for p in range(n_positions):
        for col in range(d_model):
            i = col // 2
            angle = p / base ** (2 * i / d_model)
            out[p, col] = math.sin(angle) if col % 2 == 0 else math.cos(angle)
    return out


@pytest.mark.parametrize("n, d", [(1, 1), (5, 2), (30, 8), (17, 7), (100, 64)])
def test_encoding_matches_formula_written_out(n, d):
    pe = P.sinusoidal_encoding(n, d)
    assert pe.shape == (n, d) and pe.dtype == torch.float32
    np.testing.assert_allclose(pe.numpy(), formula_by_loops(n, d), atol=1e-6)


def test_encoding_honours_base():
    np.testing.assert_allclose(P.sinusoidal_encoding(12, 6, base=100.0).numpy(),
                               formula_by_loops(12, 6, base=100.0), atol=1e-6)


@pytest.mark.parametrize("d", [1, 2, 7, 8, 33])
def test_position_zero_is_zero_one_alternating(d):
    row0 = P.sinusoidal_encoding(3, d)[0]
    expected = torch.tensor([float(j % 2) for j in range(d)])
    assert torch.equal(row0, expected)


@pytest.mark.parametrize("d", [1, 3, 7, 33])
def test_odd_d_model_shape_and_last_column_is_a_sine(d):
    n = 40
    pe = P.sinusoidal_encoding(n, d)
    assert pe.shape == (n, d)
    omega_last = 10000.0 ** (-(d - 1) / d)  # pair (d - 1) / 2 has 2i = d - 1
    p = torch.arange(n, dtype=torch.float64)
    torch.testing.assert_close(pe[:, -1].double(), torch.sin(p * omega_last),
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize("d", [2, 8, 64, 9])
def test_each_sine_cosine_pair_lies_on_the_unit_circle(d):
    pe = P.sinusoidal_encoding(200, d).double()
    pairs = d // 2
    s, c = pe[:, 0: 2 * pairs: 2], pe[:, 1: 2 * pairs: 2]  # (200, pairs)
    torch.testing.assert_close(s ** 2 + c ** 2, torch.ones_like(s), atol=1e-6,
                               rtol=0)


def test_every_position_gets_a_distinct_bounded_row():
    pe = P.sinusoidal_encoding(512, 64)
    assert pe.abs().max() <= 1.0
    dist = torch.cdist(pe, pe) + torch.eye(512) * 10
    assert dist.min() > 0.1


def test_wavelengths_grow_geometrically_from_two_pi():
    lam = P.wavelengths(16)
    assert lam.shape == (8,)
    assert lam[0].item() == pytest.approx(2 * math.pi)
    ratios = lam[1:] / lam[:-1]
    torch.testing.assert_close(ratios, torch.full_like(ratios, 10000 ** (2 / 16)))
    assert P.wavelengths(7).shape == (4,)
    torch.testing.assert_close(P.frequencies(16) * lam,
                               torch.full_like(lam, 2 * math.pi))


@pytest.mark.parametrize("bad", [0, -3])
def test_sizes_below_one_raise_value_error(bad):
    with pytest.raises(ValueError, match="n_positions"):
        P.sinusoidal_encoding(bad, 8)
    with pytest.raises(ValueError, match="d_model"):
        P.sinusoidal_encoding(8, bad)


def test_non_integer_sizes_raise_type_error():
    with pytest.raises(TypeError):
        P.sinusoidal_encoding(4.5, 8)
    with pytest.raises(ValueError, match="base"):
        P.sinusoidal_encoding(4, 8, base=-1.0)


# --------------------------------------------------------------------------
# the relative-position property


@pytest.mark.parametrize("d", [2, 8, 64])
@pytest.mark.parametrize("k", [0, 1, 3, 17, -5])
def test_offset_rotation_moves_every_position_by_k(d, k):
    pe = P.sinusoidal_encoding(120, d)
    m = P.offset_rotation(k, d)
    for p in [5, 6, 40, 99]:
        torch.testing.assert_close(pe[p] @ m, pe[p + k], atol=2e-5, rtol=0)


def test_offset_rotation_is_block_diagonal_orthogonal_and_composes():
    d = 12
    m3, m4, m7 = (P.offset_rotation(k, d) for k in (3, 4, 7))
    block = torch.block_diag(*[torch.ones(2, 2)] * (d // 2))
    assert torch.all(m7[block == 0] == 0)
    torch.testing.assert_close(m7 @ m7.T, torch.eye(d), atol=1e-6, rtol=0)
    torch.testing.assert_close(m3 @ m4, m7, atol=1e-5, rtol=0)
    torch.testing.assert_close(P.offset_rotation(-7, d), m7.T, atol=1e-6, rtol=0)
    torch.testing.assert_close(P.offset_rotation(0, d), torch.eye(d))


def test_offset_rotation_rejects_odd_d_model():
    with pytest.raises(ValueError, match="even d_model"):
        P.offset_rotation(1, 7)


@pytest.mark.parametrize("d", [8, 32])
def test_dot_product_depends_only_on_the_offset(d):
    pe = P.sinusoidal_encoding(300, d).double()
    gram = pe @ pe.T  # (300, 300)
    for k in [0, 1, 4, 25, 100]:
        diagonal = torch.diagonal(gram, offset=k)  # PE[p] . PE[p + k] over p
        assert diagonal.max() - diagonal.min() < 1e-4
        assert diagonal[0].item() == pytest.approx(P.relative_dot(k, d), abs=1e-4)
    # symmetric in k: PE[p] . PE[p - k] is the same number
    assert P.relative_dot(-9, d) == pytest.approx(P.relative_dot(9, d))


# --------------------------------------------------------------------------
# order blindness and the pooling functions


def _toy(d=6, vocab=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(vocab, d, generator=g), torch.randn(d, generator=g)


def test_softmax_pool_ignores_order_without_positions():
    table, q = _toy()
    ids = torch.tensor([0, 3, 1, 4])
    outs = [P.softmax_pool(table[torch.tensor(perm)], q)
            for perm in itertools.permutations(ids.tolist())]
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], atol=1e-6, rtol=0)


def test_mean_of_embeddings_plus_positions_is_still_order_blind():
    table, _ = _toy()
    pe = P.sinusoidal_encoding(4, 6)
    a = (table[torch.tensor([0, 1, 2])] + pe[:3]).mean(0)
    b = (table[torch.tensor([2, 1, 0])] + pe[:3]).mean(0)
    torch.testing.assert_close(a, b)


def test_pool_with_positions_tells_orders_apart():
    table, q = _toy()
    pe = P.sinusoidal_encoding(8, 6)
    a = P.pool_with_positions(torch.tensor([0, 1, 2]), table, pe, q)
    b = P.pool_with_positions(torch.tensor([2, 1, 0]), table, pe, q)
    assert (a - b).abs().max() > 0.05
    weights = torch.softmax((table[[0, 1, 2]] + pe[:3]) @ q, dim=-1)
    torch.testing.assert_close(a, weights @ (table[[0, 1, 2]] + pe[:3]))


def test_pool_with_positions_rejects_a_too_short_position_table():
    table, q = _toy()
    pe = P.sinusoidal_encoding(4, 6)
    with pytest.raises(ValueError, match="rows of positions"):
        P.pool_with_positions(torch.zeros(5, dtype=torch.long), table, pe, q)


# --------------------------------------------------------------------------
# the checks: pass the reference, name each mistake, stay polite


def _one_line(capsys):
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and "Traceback" not in out
    return out


@pytest.mark.parametrize("check, fn", [
    (check_sinusoidal_encoding, P.sinusoidal_encoding),
    (check_offset_rotation, P.offset_rotation),
    (check_pool_with_positions, P.pool_with_positions),
])
def test_checks_pass_the_reference(check, fn, capsys):
    verdict = check(fn)
    assert verdict.passed, verdict.message
    assert _one_line(capsys).startswith("✅")


def _stub(*args, **kwargs):
    raise NotImplementedError("Your turn: replace this line with your code.")


def _crash(*args, **kwargs):
    return torch.zeros(3) @ torch.zeros(4)


@pytest.mark.parametrize("check", [check_sinusoidal_encoding,
                                   check_offset_rotation,
                                   check_pool_with_positions])
def test_checks_report_stub_and_exception_in_one_line(check, capsys):
    assert check(_stub).mistake == "not_implemented"
    assert "not written yet" in _one_line(capsys)
    assert check(_crash).mistake == "exception"
    assert "RuntimeError" in _one_line(capsys)
    assert check(lambda *a, **k: None).mistake == "returned_none"
    _one_line(capsys)


# Learner-style wrong versions of the encoding, one per classic mistake.


def _checked(n, d):
    if n < 1 or d < 1:
        raise ValueError("sizes must be at least 1")


def enc_swapped(n, d, base=10000.0):
    _checked(n, d)
    p = torch.arange(n).float()[:, None]
    w = base ** (-torch.arange(0, d, 2).float() / d)
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.cos(p * w)
    pe[:, 1::2] = torch.sin(p * w)[:, : d // 2]
    return pe


def enc_i_over_d(n, d, base=10000.0):
    _checked(n, d)
    p = torch.arange(n).float()[:, None]
    w = base ** (-torch.arange((d + 1) // 2).float() / d)
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(p * w)
    pe[:, 1::2] = torch.cos(p * w)[:, : d // 2]
    return pe


def enc_per_column(n, d, base=10000.0):
    _checked(n, d)
    pe = torch.zeros(n, d)
    for pos in range(n):
        for col in range(d):
            angle = pos / base ** (col / d)  # uses the column, not 2 * (col // 2)
            pe[pos, col] = math.sin(angle) if col % 2 == 0 else math.cos(angle)
    return pe


def enc_column_as_i(n, d, base=10000.0):
    _checked(n, d)
    pe = torch.zeros(n, d)
    for pos in range(n):
        for col in range(d):
            angle = pos / base ** (2 * col / d)
            pe[pos, col] = math.sin(angle) if col % 2 == 0 else math.cos(angle)
    return pe


def enc_sign(n, d, base=10000.0):
    _checked(n, d)
    p = torch.arange(n).float()[:, None]
    w = base ** (torch.arange(0, d, 2).float() / d)  # forgot the minus sign
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(p * w)
    pe[:, 1::2] = torch.cos(p * w)[:, : d // 2]
    return pe


def enc_from_one(n, d, base=10000.0):
    _checked(n, d)
    p = torch.arange(1, n + 1).float()[:, None]
    w = base ** (-torch.arange(0, d, 2).float() / d)
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(p * w)
    pe[:, 1::2] = torch.cos(p * w)[:, : d // 2]
    return pe


def enc_blocked(n, d, base=10000.0):
    _checked(n, d)
    p = torch.arange(n).float()[:, None]
    w = base ** (-torch.arange(0, d, 2).float() / d)
    return torch.cat([torch.sin(p * w), torch.cos(p * w)[:, : d // 2]], dim=1)


def enc_odd_crashes(n, d, base=10000.0):
    _checked(n, d)
    p = torch.arange(n).float()[:, None]
    w = base ** (-torch.arange(0, d, 2).float() / d)
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(p * w)
    pe[:, 1::2] = torch.cos(p * w)  # one column too many when d is odd
    return pe


def enc_odd_too_wide(n, d, base=10000.0):
    _checked(n, d)
    p = torch.arange(n).float()[:, None]
    w = base ** (-torch.arange(0, d, 2).float() / d)
    return torch.stack([torch.sin(p * w), torch.cos(p * w)], dim=2).reshape(n, -1)


def enc_odd_via_extra_column(n, d, base=10000.0):
    _checked(n, d)
    width = d + d % 2
    p = torch.arange(n).float()[:, None]
    w = base ** (-torch.arange(0, width, 2).float() / width)
    pe = torch.zeros(n, width)
    pe[:, 0::2] = torch.sin(p * w)
    pe[:, 1::2] = torch.cos(p * w)
    return pe[:, :d]


def enc_hard_coded_base(n, d, base=10000.0):
    return P.sinusoidal_encoding(n, d)


def enc_float64(n, d, base=10000.0):
    return P.sinusoidal_encoding(n, d, base).double()


def enc_no_validation(n, d, base=10000.0):
    if n < 1 or d < 1:
        return torch.zeros(max(n, 0), max(d, 0))
    return P.sinusoidal_encoding(n, d, base)


@pytest.mark.parametrize("wrong, mistake", [
    (enc_swapped, "sin_cos_swapped"),
    (enc_i_over_d, "exponent_i_over_d"),
    (enc_per_column, "frequency_per_column"),
    (enc_column_as_i, "frequency_per_column"),
    (enc_sign, "exponent_sign"),
    (enc_from_one, "positions_from_one"),
    (enc_blocked, "blocked_layout"),
    (enc_odd_crashes, "odd_d_model"),
    (enc_odd_too_wide, "odd_d_model"),
    (enc_odd_via_extra_column, "odd_d_denominator"),
    (enc_hard_coded_base, "base_ignored"),
    (enc_float64, "wrong_dtype"),
    (enc_no_validation, "no_error"),
])
def test_encoding_check_names_each_mistake(wrong, mistake, capsys):
    verdict = check_sinusoidal_encoding(wrong)
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message
    assert _one_line(capsys).startswith("❌")


# Learner-style wrong versions of the offset rotation.


def _rotation(k, d, angle_of_pair, transpose=False):
    if d % 2:
        raise ValueError("d_model must be even")
    m = torch.zeros(d, d)
    for i in range(d // 2):
        a = angle_of_pair(i)
        block = torch.tensor([[math.cos(a), -math.sin(a)],
                              [math.sin(a), math.cos(a)]])
        m[2 * i: 2 * i + 2, 2 * i: 2 * i + 2] = block.T if transpose else block
    return m


def rot_transposed(k, d, base=10000.0):
    return _rotation(k, d, lambda i: k * base ** (-2 * i / d), transpose=True)


def rot_i_over_d(k, d, base=10000.0):
    return _rotation(k, d, lambda i: k * base ** (-i / d))


def rot_sign(k, d, base=10000.0):
    return _rotation(k, d, lambda i: k * base ** (2 * i / d))


def rot_no_k(k, d, base=10000.0):
    return _rotation(k, d, lambda i: base ** (-2 * i / d))


def rot_blocked(k, d, base=10000.0):
    if d % 2:
        raise ValueError("d_model must be even")
    h, m = d // 2, torch.zeros(d, d)
    for i in range(h):
        a = k * base ** (-2 * i / d)
        m[i, i], m[i, i + h] = math.cos(a), -math.sin(a)
        m[i + h, i], m[i + h, i + h] = math.sin(a), math.cos(a)
    return m


def rot_hard_coded_base(k, d, base=10000.0):
    return P.offset_rotation(k, d)


def rot_odd_accepted(k, d, base=10000.0):
    if d % 2:
        return torch.eye(d)
    return P.offset_rotation(k, d, base)


@pytest.mark.parametrize("wrong, mistake", [
    (rot_transposed, "wrong_direction"),
    (rot_i_over_d, "wrong_frequency"),
    (rot_sign, "wrong_frequency"),
    (rot_no_k, "angle_not_times_k"),
    (rot_blocked, "blocked_layout"),
    (rot_hard_coded_base, "base_ignored"),
    (rot_odd_accepted, "no_error"),
])
def test_rotation_check_names_each_mistake(wrong, mistake, capsys):
    verdict = check_offset_rotation(wrong)
    assert verdict.mistake == mistake, verdict.message
    assert _one_line(capsys).startswith("❌")


def test_transposed_rotation_really_moves_backwards():
    pe = P.sinusoidal_encoding(40, 8)
    torch.testing.assert_close(pe[20] @ rot_transposed(3, 8), pe[17], atol=1e-5,
                               rtol=0)


# Learner-style wrong versions of pooling with positions.


def pool_no_positions(ids, table, pe, query):
    x = table[ids]
    return torch.softmax(x @ query, dim=0) @ x


def pool_after(ids, table, pe, query):
    x = table[ids]
    pooled = torch.softmax(x @ query, dim=0) @ x
    return pooled + pe[: len(ids)].mean(dim=0)


def pool_by_token_id(ids, table, pe, query):
    x = table[ids] + pe[ids]
    return torch.softmax(x @ query, dim=0) @ x


def pool_from_one(ids, table, pe, query):
    x = table[ids] + pe[1: len(ids) + 1]
    return torch.softmax(x @ query, dim=0) @ x


def pool_mean(ids, table, pe, query):
    return (table[ids] + pe[: len(ids)]).mean(dim=0)


def pool_values_bare(ids, table, pe, query):
    x = table[ids] + pe[: len(ids)]
    return torch.softmax(x @ query, dim=0) @ table[ids]


def pool_scores_bare(ids, table, pe, query):
    x = table[ids] + pe[: len(ids)]
    return torch.softmax(table[ids] @ query, dim=0) @ x


def pool_raw_scores(ids, table, pe, query):
    x = table[ids] + pe[: len(ids)]
    return (x @ query) @ x


def pool_naive_softmax(ids, table, pe, query):
    x = table[ids] + pe[: len(ids)]
    e = torch.exp(x @ query)  # overflows for a sharp query
    return (e / e.sum()) @ x


@pytest.mark.parametrize("wrong, mistake", [
    (pool_no_positions, "no_positions"),
    (pool_after, "positions_after_pooling"),
    (pool_by_token_id, "positions_by_token_id"),
    (pool_from_one, "positions_from_one"),
    (pool_mean, "mean_pooling"),
    (pool_values_bare, "values_without_positions"),
    (pool_scores_bare, "scores_without_positions"),
    (pool_raw_scores, "no_softmax"),
    (pool_naive_softmax, "nan"),
])
def test_pool_check_names_each_mistake(wrong, mistake, capsys):
    verdict = check_pool_with_positions(wrong)
    assert verdict.mistake == mistake, verdict.message
    assert _one_line(capsys).startswith("❌")
