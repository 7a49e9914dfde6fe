"""Tests for days 11 to 13: masks, scaled dot-product attention, additive
attention, multi-head attention, and the checks that grade them."""

from __future__ import annotations

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import attention as A
from helpers.checks import (
    check_attention,
    check_causal_mask,
    check_merge_heads,
    check_multi_head_attention,
    check_split_heads,
)

TOL = dict(atol=1e-5, rtol=1e-5)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def torch_mha(d_model, n_heads, seed=0, bias=True):
    torch.manual_seed(seed)
    return nn.MultiheadAttention(d_model, n_heads, dropout=0.0, bias=bias,
                                 batch_first=True).eval()


# --------------------------------------------------------------------------
# masks and the course convention


def test_mask_convention_is_one_printable_sentence_about_true_meaning_keep():
    assert isinstance(A.MASK_CONVENTION, str)
    assert "True means the query may attend" in A.MASK_CONVENTION
    assert "(B, n_heads, T_q, T_k)" in A.MASK_CONVENTION


def test_causal_mask_is_lower_triangular_bool():
    m = A.causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert m.tolist() == [[True, False, False, False], [True, True, False, False],
                          [True, True, True, False], [True, True, True, True]]


@pytest.mark.parametrize("T", [1, 3, 6])
def test_causal_mask_agrees_with_pytorchs_square_subsequent_mask(T):
    additive = nn.Transformer.generate_square_subsequent_mask(T)  # 0 / -inf
    assert torch.equal(A.from_attn_mask(additive), A.causal_mask(T))
    assert torch.equal(A.to_attn_mask(A.causal_mask(T)), torch.isneginf(additive))


def test_padding_mask_shape_values_and_errors():
    m = A.padding_mask([3, 1, 0], 4)
    assert m.shape == (3, 1, 1, 4) and m.dtype == torch.bool
    assert m[:, 0, 0].tolist() == [[True, True, True, False],
                                   [True, False, False, False], [False] * 4]
    assert A.padding_mask(torch.tensor([2, 5])).shape == (2, 1, 1, 5)
    with pytest.raises(ValueError):
        A.padding_mask([5], 4)
    with pytest.raises(ValueError):
        A.padding_mask([1.5, 2.0], 4)


def test_key_padding_converters_round_trip_and_accept_float_masks():
    kpm = torch.tensor([[False, False, True], [False, True, True]])
    keep = A.from_key_padding_mask(kpm)
    assert keep.shape == (2, 1, 1, 3)
    assert torch.equal(keep[:, 0, 0], ~kpm)
    assert torch.equal(A.to_key_padding_mask(keep), kpm)
    additive = torch.zeros(2, 3).masked_fill(kpm, float("-inf"))
    assert torch.equal(A.from_key_padding_mask(additive), keep)
    with pytest.raises(ValueError, match="soft biases"):
        A.from_key_padding_mask(torch.full((2, 3), -1.0))


def test_combine_masks_broadcasts_and_skips_none():
    both = A.combine_masks(A.causal_mask(3), None, A.padding_mask([3, 2], 3))
    assert both.shape == (2, 1, 3, 3)
    assert both[1, 0].tolist() == [[True, False, False], [True, True, False],
                                   [True, True, False]]
    assert A.combine_masks(None, None) is None
    with pytest.raises(TypeError):
        A.combine_masks(torch.ones(3, 3))


def test_attention_rejects_float_masks_and_silent_broadcasting():
    q = randn(2, 3, 4)
    with pytest.raises(TypeError, match="boolean"):
        A.scaled_dot_product_attention(q, q, q, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="does not broadcast"):
        # a (B, 1, 1, T) mask on 3-D inputs would silently grow a batch axis
        A.scaled_dot_product_attention(q, q, q, A.padding_mask([3, 2], 3))


# The converters must mean what PyTorch means: feed PyTorch its own masks and
# ours the converted ones, and the two modules agree.


def test_converted_key_padding_mask_matches_pytorch_behaviour():
    mha = torch_mha(8, 2)
    ours = A.MultiHeadAttention(8, 2).load_from_torch(mha).eval()
    x = randn(2, 5, 8)
    kpm = torch.tensor([[False] * 5, [False, False, True, True, True]])
    for torch_mask in (kpm, torch.zeros(2, 5).masked_fill(kpm, float("-inf"))):
        want, _ = mha(x, x, x, key_padding_mask=torch_mask)
        got = ours(x, mask=A.from_key_padding_mask(torch_mask))
        torch.testing.assert_close(got, want, **TOL)


def test_converted_attn_masks_match_pytorch_behaviour_2d_and_per_head():
    B, h, T = 2, 3, 4
    mha = torch_mha(12, h, seed=1)
    ours = A.MultiHeadAttention(12, h).load_from_torch(mha).eval()
    x = randn(B, T, 12, seed=2)
    blocked = torch.ones(T, T, dtype=torch.bool).triu(1)
    want, _ = mha(x, x, x, attn_mask=blocked)
    torch.testing.assert_close(ours(x, mask=A.from_attn_mask(blocked)), want, **TOL)
    # a different pattern for every (batch, head), PyTorch's (B * h, T, T) layout
    per_head = torch.rand(B * h, T, T, generator=torch.Generator().manual_seed(3)) > 0.6
    per_head[:, :, 0] = False                     # every query keeps one key
    want, _ = mha(x, x, x, attn_mask=per_head)
    got = ours(x, mask=A.from_attn_mask(per_head, n_heads=h))
    torch.testing.assert_close(got, want, **TOL)
    with pytest.raises(ValueError, match="n_heads"):
        A.from_attn_mask(per_head)


# --------------------------------------------------------------------------
# scaled dot-product attention


@pytest.mark.parametrize("causal", [False, True])
def test_attention_equals_pytorch_sdpa(causal):
    q, k, v = randn(2, 3, 5, 4, seed=1), randn(2, 3, 5, 4, seed=2), randn(2, 3, 5, 6)
    mask = A.causal_mask(5) if causal else None
    want = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(A.scaled_dot_product_attention(q, k, v, mask),
                               want, **TOL)


def test_attention_equals_pytorch_sdpa_with_cross_lengths_and_a_padding_mask():
    q, k, v = randn(2, 2, 3, 4, seed=1), randn(2, 2, 6, 4, seed=2), randn(2, 2, 6, 5)
    mask = A.padding_mask([6, 2], 6)                   # (B, 1, 1, T_k)
    # F.scaled_dot_product_attention reads a boolean mask as the course does
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    got = A.scaled_dot_product_attention(q, k, v, mask)
    assert got.shape == (2, 2, 3, 5)
    torch.testing.assert_close(got, want, **TOL)


def test_weights_are_a_distribution_and_padding_gets_exactly_zero():
    q, k, v = randn(3, 4, 8, seed=1), randn(3, 6, 8, seed=2), randn(3, 6, 8)
    mask = A.padding_mask([6, 4, 1], 6)[:, 0]          # (B, 1, T_k)
    _, w = A.scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    assert w.shape == (3, 4, 6)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 4))
    padded = ~mask.expand_as(w)
    assert torch.equal(w[padded], torch.zeros(int(padded.sum())))


def test_padding_changes_nothing_for_the_real_keys():
    q, k, v = randn(1, 3, 4, seed=1), randn(1, 3, 4, seed=2), randn(1, 3, 5)
    short = A.scaled_dot_product_attention(q, k, v)
    k_long = torch.cat([k, randn(1, 2, 4, seed=7) * 100], dim=1)
    v_long = torch.cat([v, randn(1, 2, 5, seed=8) * 100], dim=1)
    mask = A.padding_mask([3], 5)[:, 0]
    torch.testing.assert_close(A.scaled_dot_product_attention(q, k_long, v_long, mask),
                               short, **TOL)


@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_fully_masked_row_gives_zero_output_and_finite_gradients():
    q, k, v = (randn(2, 4, 3, seed=s).requires_grad_() for s in (1, 2, 3))
    mask = A.causal_mask(4).clone()
    mask[1] = False                                   # query 1 sees nothing
    with torch.autograd.detect_anomaly(check_nan=True):
        out, w = A.scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    assert torch.isfinite(out).all() and torch.isfinite(w).all()
    assert torch.equal(w[:, 1], torch.zeros(2, 4))
    assert torch.equal(out[:, 1], torch.zeros(2, 3))
    # anomaly mode fails on any NaN inside the backward pass, even a discarded one
    with torch.autograd.detect_anomaly(check_nan=True):
        (out * randn(2, 4, 3, seed=9)).sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()
    assert torch.equal(q.grad[:, 1], torch.zeros(2, 3))
    # the other rows are untouched by the empty one
    rows = [0, 2, 3]
    want = A.scaled_dot_product_attention(q[:, rows], k, v, mask[rows])
    torch.testing.assert_close(out[:, rows], want, **TOL)


def test_scores_are_scaled_by_the_square_root_of_the_key_size():
    q, k = randn(1, 2, 16, seed=1), randn(1, 3, 16, seed=2)
    _, w = A.scaled_dot_product_attention(q, k, k, return_weights=True)
    torch.testing.assert_close(w, torch.softmax(q @ k.mT / 4.0, dim=-1), **TOL)


# --------------------------------------------------------------------------
# additive attention


def test_additive_attention_matches_the_formula_written_out():
    torch.manual_seed(0)
    att = A.AdditiveAttention(d_query=5, d_key=6, d_hidden=7)
    s, h, values = randn(2, 5, seed=1), randn(2, 4, 6, seed=2), randn(2, 4, 3)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    context, w = att(s, h, values, mask=mask)
    assert context.shape == (2, 3) and w.shape == (2, 4)
    Wq, Wk, bk = att.query_proj.weight, att.key_proj.weight, att.key_proj.bias
    wv = att.score.weight[0]
    for b in range(2):
        e = torch.stack([wv @ torch.tanh(Wq @ s[b] + Wk @ h[b, j] + bk)
                         for j in range(4)])
        e = e.masked_fill(~mask[b], float("-inf"))
        a = torch.softmax(e, dim=0)
        torch.testing.assert_close(w[b], a, **TOL)
        torch.testing.assert_close(context[b], a @ values[b], **TOL)
    assert torch.equal(w[1, 2:], torch.zeros(2))


def test_additive_attention_many_queries_equal_one_at_a_time():
    torch.manual_seed(1)
    att = A.AdditiveAttention(4, 4, 8)
    queries, keys = randn(2, 3, 4, seed=3), randn(2, 5, 4, seed=4)
    mask = A.padding_mask([5, 3], 5)
    context, w = att(queries, keys, mask=mask)
    assert context.shape == (2, 3, 4) and w.shape == (2, 3, 5)
    for t in range(3):
        c_t, w_t = att(queries[:, t], keys, mask=mask[:, 0, 0])
        torch.testing.assert_close(c_t, context[:, t], **TOL)
        torch.testing.assert_close(w_t, w[:, t], **TOL)


# --------------------------------------------------------------------------
# heads and multi-head attention


def test_split_heads_takes_contiguous_blocks_and_merge_undoes_it():
    x = randn(2, 5, 12)
    heads = A.split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    for h in range(3):
        assert torch.equal(heads[:, h], x[..., 4 * h:4 * h + 4])
    assert torch.equal(A.merge_heads(heads), x)
    with pytest.raises(ValueError):
        A.split_heads(x, 5)


@pytest.mark.parametrize("bias", [True, False])
def test_multi_head_self_attention_matches_pytorch_with_masks(bias):
    mha = torch_mha(12, 4, seed=3, bias=bias)
    ours = A.MultiHeadAttention(12, 4, bias=bias).load_from_torch(mha).eval()
    x = randn(3, 6, 12, seed=4)
    kpm = torch.tensor([[False] * 6, [False] * 4 + [True] * 2, [False] + [True] * 5])
    blocked = torch.ones(6, 6, dtype=torch.bool).triu(1)
    want, want_w = mha(x, x, x, key_padding_mask=kpm, attn_mask=blocked,
                       average_attn_weights=False)
    mask = A.from_key_padding_mask(kpm) & A.from_attn_mask(blocked)
    got, got_w = ours(x, mask=mask, return_weights=True)
    torch.testing.assert_close(got, want, **TOL)
    torch.testing.assert_close(got_w, want_w, **TOL)
    assert got_w.shape == (3, 4, 6, 6)


def test_multi_head_cross_attention_matches_pytorch_with_different_lengths():
    mha = torch_mha(8, 2, seed=5)
    ours = A.MultiHeadAttention(8, 2).load_from_torch(mha).eval()
    query, memory = randn(2, 3, 8, seed=6), randn(2, 7, 8, seed=7)
    kpm = torch.tensor([[False] * 7, [False] * 5 + [True] * 2])
    want, want_w = mha(query, memory, memory, key_padding_mask=kpm)
    got, got_w = ours(query, memory, memory, mask=A.from_key_padding_mask(kpm),
                      return_weights=True)
    assert got.shape == (2, 3, 8) and got_w.shape == (2, 2, 3, 7)
    torch.testing.assert_close(got, want, **TOL)
    torch.testing.assert_close(got_w.mean(1), want_w, **TOL)   # PyTorch averages


def test_multi_head_attention_accepts_unbatched_input_and_3d_masks():
    mha = torch_mha(8, 2, seed=8)
    ours = A.MultiHeadAttention(8, 2).load_from_torch(mha).eval()
    x = randn(5, 8, seed=9)
    want, _ = mha(x, x, x)
    torch.testing.assert_close(ours(x), want, **TOL)
    xb = randn(2, 4, 8, seed=10)
    mask3 = A.causal_mask(4).expand(2, 4, 4)              # read as (B, T_q, T_k)
    torch.testing.assert_close(ours(xb, mask=mask3), ours(xb, mask=A.causal_mask(4)),
                               **TOL)


def test_scores_use_the_head_size_not_d_model():
    torch.manual_seed(11)
    d_model, n_heads = 16, 4                         # d_head = 4, sqrt 2 vs 4
    mha = A.MultiHeadAttention(d_model, n_heads).eval()
    x = randn(1, 5, d_model, seed=12)
    _, w = mha(x, return_weights=True)
    q = mha.q_proj(x).reshape(1, 5, n_heads, 4).transpose(1, 2)  # (1, h, 5, 4)
    k = mha.k_proj(x).reshape(1, 5, n_heads, 4).transpose(1, 2)
    by_head = torch.softmax(q @ k.mT / math.sqrt(4), dim=-1)
    by_model = torch.softmax(q @ k.mT / math.sqrt(16), dim=-1)
    torch.testing.assert_close(w, by_head, **TOL)
    assert not torch.allclose(w, by_model, atol=1e-3)


def test_fused_projection_equals_separate_projections():
    mha = torch_mha(12, 3, seed=13)
    separate = A.MultiHeadAttention(12, 3).load_from_torch(mha).eval()
    fused = A.FusedMultiHeadAttention(12, 3).load_from_torch(mha).eval()
    x, mask = randn(2, 5, 12, seed=14), A.padding_mask([5, 3], 5)
    torch.testing.assert_close(fused(x, mask), separate(x, mask=mask), **TOL)
    n = sum(p.numel() for p in fused.parameters())
    assert n == sum(p.numel() for p in separate.parameters()) == 4 * (12 * 12 + 12)


def test_load_from_torch_refuses_mismatched_modules():
    with pytest.raises(ValueError, match="num_heads"):
        A.MultiHeadAttention(8, 4).load_from_torch(torch_mha(8, 2))
    with pytest.raises(ValueError, match="bias"):
        A.MultiHeadAttention(8, 2).load_from_torch(torch_mha(8, 2, bias=False))
    with pytest.raises(ValueError):
        A.MultiHeadAttention(8, 3)


def test_attention_dropout_acts_in_training_only():
    torch.manual_seed(15)
    mha = A.MultiHeadAttention(8, 2, dropout=0.5)
    x = randn(2, 6, 8, seed=16)
    mha.train()
    assert not torch.allclose(mha(x), mha(x))
    mha.eval()
    torch.testing.assert_close(mha(x), mha(x))


# --------------------------------------------------------------------------
# the checks: each passes the reference and names each mistake


def verdict_of(check, learner, capsys):
    verdict = check(learner)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "Traceback" not in out, out
    assert out.strip() == verdict.message
    return verdict


def make_attention(scale="sqrt", softmax_dim=-1, mask_mode="keep", fill="-inf",
                   zero_hidden=True, weights_out="weights", values="v",
                   manual_exp=False, detach=False, additive=False):
    """A learner's attention, right by default, with one switch per mistake."""

    def attention(q, k, v, mask=None):
        d_k = q.size(-1)
        divisor = {"sqrt": math.sqrt(d_k), "none": 1.0, "d_k": d_k}[scale]
        scores = q @ k.transpose(-2, -1) / divisor
        if mask is not None and mask_mode == "inverted":
            mask = ~mask
        use_mask = mask is not None and mask_mode in ("keep", "inverted")
        low = float("-inf") if fill == "-inf" else torch.finfo(scores.dtype).min
        if use_mask and additive:
            scores = scores + torch.where(mask, 0.0, float("-inf"))
        elif use_mask:
            scores = scores.masked_fill(~mask, low)
        if manual_exp:
            e = scores.exp()
            weights = e / e.sum(dim=softmax_dim, keepdim=True)
        else:
            weights = torch.softmax(scores, dim=softmax_dim)
        if mask is not None and mask_mode == "after":
            weights = weights * mask
        if use_mask and zero_hidden:
            weights = torch.where(mask, weights, 0.0)
        out = weights @ (v if values == "v" else k)
        if detach:
            out, weights = out.detach(), weights.detach()
        return out, (weights if weights_out == "weights" else scores)

    return attention


def test_check_attention_passes_the_reference_and_a_plain_solution(capsys):
    def reference(q, k, v, mask=None):
        return A.scaled_dot_product_attention(q, k, v, mask, return_weights=True)

    assert verdict_of(check_attention, reference, capsys).passed
    assert verdict_of(check_attention, make_attention(), capsys).passed
    assert verdict_of(check_attention, make_attention(fill="min"), capsys).passed


@pytest.mark.parametrize("mistake, options", [
    ("no_scaling", dict(scale="none")),
    ("scaled_by_d_k", dict(scale="d_k")),
    ("softmax_query_axis", dict(softmax_dim=-2)),
    ("returned_scores", dict(weights_out="scores")),
    ("weights_times_keys", dict(values="k")),
    ("inverted_mask", dict(mask_mode="inverted")),
    ("padding_attended", dict(mask_mode="ignored")),
    ("mask_after_softmax", dict(mask_mode="after")),
    ("overflow", dict(manual_exp=True)),
    ("fully_masked_nan", dict(zero_hidden=False)),
    ("fully_masked_uniform", dict(fill="min", zero_hidden=False)),
    ("fully_masked_nan_grad", dict(additive=True)),
    ("no_gradient", dict(detach=True)),
])
def test_check_attention_names_each_mistake(mistake, options, capsys):
    verdict = verdict_of(check_attention, make_attention(**options), capsys)
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message


def test_check_attention_stub_exception_and_single_output(capsys):
    def stub(q, k, v, mask=None):
        raise NotImplementedError

    def broken(q, k, v, mask=None):
        return q @ k

    assert verdict_of(check_attention, stub, capsys).mistake == "not_implemented"
    assert verdict_of(check_attention, broken, capsys).mistake == "exception"
    only_output = verdict_of(check_attention, lambda q, k, v, mask=None:
                             make_attention()(q, k, v, mask)[0], capsys)
    assert only_output.mistake == "missing_weights"


def test_check_causal_mask_passes_and_names_each_mistake(capsys):
    assert verdict_of(check_causal_mask, A.causal_mask, capsys).passed

    def ones(T):
        return torch.ones(T, T, dtype=torch.bool)

    wrong = {
        "causal_excludes_diagonal": lambda T: ones(T).tril(diagonal=-1),
        "causal_sees_next": lambda T: ones(T).tril(diagonal=1),
        "inverted_mask": lambda T: ones(T).triu(diagonal=1),
        "sees_future": lambda T: ones(T).triu(),
        "no_mask": ones,
        "pytorch_float_mask": nn.Transformer.generate_square_subsequent_mask,
        "not_bool": lambda T: torch.ones(T, T).tril(),
    }
    for mistake, fn in wrong.items():
        assert verdict_of(check_causal_mask, fn, capsys).mistake == mistake, mistake


def test_check_split_and_merge_heads(capsys):
    assert verdict_of(check_split_heads, A.split_heads, capsys).passed
    assert verdict_of(check_merge_heads, A.merge_heads, capsys).passed

    def split_no_transpose(x, n_heads):
        B, T, d = x.shape
        return x.view(B, n_heads, T, d // n_heads)

    def split_not_moved(x, n_heads):
        B, T, d = x.shape
        return x.view(B, T, n_heads, d // n_heads)

    def split_interleaved(x, n_heads):
        B, T, d = x.shape
        return x.view(B, T, d // n_heads, n_heads).permute(0, 3, 1, 2)

    for mistake, fn in [("split_without_transpose", split_no_transpose),
                        ("heads_not_moved", split_not_moved),
                        ("interleaved_heads", split_interleaved)]:
        assert verdict_of(check_split_heads, fn, capsys).mistake == mistake

    def merge_no_transpose(x):
        B, h, T, d = x.shape
        return x.reshape(B, T, h * d)

    def merge_interleaved(x):
        B, h, T, d = x.shape
        return x.permute(0, 2, 3, 1).reshape(B, T, h * d)

    def merge_with_view(x):
        B, h, T, d = x.shape
        return x.transpose(1, 2).view(B, T, h * d)

    for mistake, fn in [("merged_without_transpose", merge_no_transpose),
                        ("interleaved_heads", merge_interleaved),
                        ("not_reshaped", lambda x: x.transpose(1, 2)),
                        ("view_after_transpose", merge_with_view)]:
        assert verdict_of(check_merge_heads, fn, capsys).mistake == mistake


class LearnerMHA(nn.Module):
    """A learner's multi-head attention, right by default, with one switch per
    classic mistake."""

    def __init__(self, d_model, n_heads, mistake=None):
        super().__init__()
        self.h, self.mistake = n_heads, mistake
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, query, key, value, mask=None):
        m = self.mistake
        if m == "ignores_key_value":
            key = value = query
        B, T_q, d = query.shape
        h = 1 if m == "heads_not_split" else self.h

        def split(x):
            if m == "split_without_transpose":
                return x.reshape(B, h, x.shape[1], d // h)
            return x.reshape(B, x.shape[1], h, d // h).transpose(1, 2)

        q, k, v = split(self.q_proj(query)), split(self.k_proj(key)), \
            split(self.v_proj(value))
        scale = {"scaled_by_d_model": math.sqrt(d), "no_scaling": 1.0,
                 "heads_not_split": math.sqrt(d)}.get(m, math.sqrt(d // h))
        scores = q @ k.transpose(-2, -1) / scale
        if mask is not None and m != "padding_attended":
            hidden = mask if m == "inverted_mask" else ~mask
            scores = scores.masked_fill(hidden, float("-inf"))
        weights = torch.softmax(scores, dim=-2 if m == "softmax_query_axis" else -1)
        out = weights @ v
        if m == "merged_without_transpose":
            out = out.reshape(B, T_q, d)
        else:
            out = out.transpose(1, 2).reshape(B, T_q, d)
        return out if m == "missing_output_projection" else self.out_proj(out)


class NoOutProj(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.proj = nn.Linear(d_model, d_model)


class HalfKeys(LearnerMHA):
    def __init__(self, d_model, n_heads):
        super().__init__(d_model, n_heads)
        self.k_proj = nn.Linear(d_model, d_model // 2)


MHA_MISTAKES = ["scaled_by_d_model", "no_scaling", "heads_not_split",
                "split_without_transpose", "merged_without_transpose",
                "softmax_query_axis", "missing_output_projection",
                "ignores_key_value", "inverted_mask", "padding_attended"]


def test_check_multi_head_attention_passes_the_reference(capsys):
    assert verdict_of(check_multi_head_attention, A.MultiHeadAttention, capsys).passed
    assert verdict_of(check_multi_head_attention, LearnerMHA, capsys).passed


def test_check_multi_head_attention_leaves_the_random_state_alone(capsys):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    verdict_of(check_multi_head_attention, A.MultiHeadAttention, capsys)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("mistake", MHA_MISTAKES)
def test_check_multi_head_attention_names_each_mistake(mistake, capsys):
    learner = functools.partial(LearnerMHA, mistake=mistake)
    verdict = verdict_of(check_multi_head_attention, learner, capsys)
    assert verdict.mistake == mistake, verdict.message


def test_check_multi_head_attention_explains_modules_it_cannot_use(capsys):
    def stub(d_model, n_heads):
        raise NotImplementedError

    def not_a_module(d_model, n_heads):
        return "attention"

    cases = [(stub, "not_implemented"), (not_a_module, "not_a_module"),
             (NoOutProj, "missing_attribute"), (HalfKeys, "wrong_parameter_shape"),
             (lambda d_model: None, "exception")]
    for learner, mistake in cases:
        verdict = verdict_of(check_multi_head_attention, learner, capsys)
        assert verdict.mistake == mistake, verdict.message
    missing = verdict_of(check_multi_head_attention, NoOutProj, capsys)
    assert "out_proj" in missing.message
