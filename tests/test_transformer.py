"""Tests for days 16 to 21: LayerNorm, the feed-forward network, positions,
the encoder and decoder blocks, the whole Transformer, and the block checks."""

from __future__ import annotations

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import attention as A
from helpers import transformer as T
from helpers.checks import check_decoder_block, check_encoder_block

TOL = dict(atol=1e-5, rtol=1e-5)

pytestmark = pytest.mark.filterwarnings(
    "ignore:enable_nested_tensor is True:UserWarning")


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def randomise_norms(module):
    """Give every LayerNorm a non-trivial scale and shift, so a test notices
    when two norms are mixed up."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
    return module


# --------------------------------------------------------------------------
# LayerNorm and the feed-forward network


@pytest.mark.parametrize("shape", [(2, 3, 8), (5, 1), (1, 1, 7)])
def test_layer_norm_matches_pytorch(shape):
    d = shape[-1]
    torch_ln = randomise_norms(nn.LayerNorm(d))
    ours = T.LayerNorm(d)
    ours.load_state_dict(torch_ln.state_dict())
    x = randn(*shape) * 3 + 1
    torch.testing.assert_close(ours(x), torch_ln(x), **TOL)


def test_layer_norm_normalises_each_position_and_survives_large_inputs():
    x = randn(4, 6, 16) * 1000 + 50
    y = T.LayerNorm(16)(x)
    torch.testing.assert_close(y.mean(-1), torch.zeros(4, 6), atol=1e-4, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(4, 6),
                               atol=1e-3, rtol=0)
    no_bias = T.LayerNorm(16, bias=False)
    assert no_bias.bias is None and sum(p.numel() for p in no_bias.parameters()) == 16
    torch.testing.assert_close(no_bias(x), nn.LayerNorm(16, bias=False)(x), **TOL)


@pytest.mark.parametrize("activation, count", [
    ("relu", 2 * 8 * 32 + 32 + 8),
    ("gelu", 2 * 8 * 32 + 32 + 8),
    ("swiglu", 3 * 8 * 32 + 2 * 32 + 8),
])
def test_feed_forward_shapes_and_parameter_counts(activation, count):
    ff = T.FeedForward(8, 32, activation)
    assert sum(p.numel() for p in ff.parameters()) == count
    assert ff(randn(3, 5, 8)).shape == (3, 5, 8)
    assert ff(randn(8)).shape == (8,)


def test_feed_forward_formulas():
    torch.manual_seed(0)
    x = randn(2, 4, 6)
    relu, gelu, swiglu = (T.FeedForward(6, 10, a) for a in T.ACTIVATIONS)
    torch.testing.assert_close(
        relu(x), relu.linear2(torch.clamp(relu.linear1(x), min=0)), **TOL)
    h = gelu.linear1(x)
    exact = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))
    torch.testing.assert_close(gelu(x), gelu.linear2(exact), **TOL)
    g = swiglu.gate(x)
    want = swiglu.linear2(g * torch.sigmoid(g) * swiglu.linear1(x))
    torch.testing.assert_close(swiglu(x), want, **TOL)
    with pytest.raises(ValueError, match="activation"):
        T.FeedForward(6, 10, "tanh")


def test_feed_forward_works_on_each_position_separately():
    ff = T.FeedForward(6, 12, "gelu")
    x = randn(2, 5, 6)
    each = torch.stack([ff(x[:, t]) for t in range(5)], dim=1)
    torch.testing.assert_close(ff(x), each, **TOL)


# --------------------------------------------------------------------------
# positions


def sinusoid_written_out(n, d, base=10000.0):
    table = torch.zeros(n, d, dtype=torch.float64)
    for p in range(n):
        for col in range(d):
            angle = p / base ** (2 * (col // 2) / d)
            table[p, col] = math.sin(angle) if col % 2 == 0 else math.cos(angle)
    return table.float()


@pytest.mark.parametrize("d_model", [8, 7])
def test_sinusoidal_positions_agree_with_day6_and_the_formula(d_model):
    from helpers.positions import sinusoidal_encoding

    pos = T.SinusoidalPositions(d_model, max_len=20)
    torch.testing.assert_close(pos.table, sinusoidal_encoding(20, d_model), **TOL)
    torch.testing.assert_close(pos.table, sinusoid_written_out(20, d_model), **TOL)
    x = randn(2, 6, d_model)
    torch.testing.assert_close(pos(x), x + pos.table[:6], **TOL)
    assert "table" not in pos.state_dict()          # nothing to learn or store


def test_sinusoidal_positions_extend_beyond_max_len_and_take_an_offset():
    pos = T.SinusoidalPositions(6, max_len=4)
    torch.testing.assert_close(pos.encodings(9), sinusoid_written_out(9, 6), **TOL)
    torch.testing.assert_close(pos.encodings(3, offset=5),
                               sinusoid_written_out(8, 6)[5:], **TOL)


def test_learned_positions_add_one_vector_per_position_and_stop_at_max_len():
    pos = T.LearnedPositions(6, max_len=5)
    assert sum(p.numel() for p in pos.parameters()) == 5 * 6
    x = randn(2, 4, 6)
    torch.testing.assert_close(pos(x), x + pos.embedding.weight[:4], **TOL)
    torch.testing.assert_close(pos(x[:, :2], offset=3),
                               x[:, :2] + pos.embedding.weight[3:5], **TOL)
    with pytest.raises(ValueError, match="max_len"):
        pos(randn(1, 6, 6))


# --------------------------------------------------------------------------
# blocks against PyTorch


def torch_encoder_layer(norm_first, activation="relu", seed=0):
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation,
                                       batch_first=True, norm_first=norm_first)
    return randomise_norms(layer).eval()


def torch_decoder_layer(norm_first, seed=0):
    torch.manual_seed(seed)
    layer = nn.TransformerDecoderLayer(12, 3, 20, dropout=0.0, batch_first=True,
                                       norm_first=norm_first)
    return randomise_norms(layer).eval()


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_block_matches_pytorch(norm_first, activation):
    layer = torch_encoder_layer(norm_first, activation)
    block = T.EncoderBlock(8, 2, 16, norm_first=norm_first, activation=activation)
    block.load_from_torch(layer).eval()
    x = randn(3, 5, 8, seed=1)
    kpm = torch.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] + [True] * 4])
    mask = A.from_key_padding_mask(kpm)
    torch.testing.assert_close(block(x, mask), layer(x, src_key_padding_mask=kpm),
                               **TOL)
    with torch.no_grad():                             # PyTorch's fast path
        want = layer(x, src_key_padding_mask=kpm)
        real = ~kpm
        torch.testing.assert_close(block(x, mask)[real], want[real], **TOL)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_matches_pytorch_with_cross_lengths_and_padding(norm_first):
    layer = torch_decoder_layer(norm_first)
    block = T.DecoderBlock(12, 3, 20, norm_first=norm_first).load_from_torch(layer)
    block.eval()
    x, memory = randn(2, 4, 12, seed=1), randn(2, 7, 12, seed=2)
    tgt_kpm = torch.tensor([[False] * 4, [False] * 3 + [True]])
    mem_kpm = torch.tensor([[False] * 7, [False] * 5 + [True] * 2])
    future = torch.ones(4, 4, dtype=torch.bool).triu(1)     # PyTorch: True = blocked
    want = layer(x, memory, tgt_mask=future, tgt_key_padding_mask=tgt_kpm,
                 memory_key_padding_mask=mem_kpm)
    got = block(x, memory, tgt_mask=A.from_key_padding_mask(tgt_kpm),
                memory_mask=A.from_key_padding_mask(mem_kpm))
    torch.testing.assert_close(got, want, **TOL)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_matches_pytorch(norm_first):
    torch.manual_seed(3)
    model = nn.Transformer(8, 2, num_encoder_layers=2, num_decoder_layers=2,
                           dim_feedforward=16, dropout=0.0, batch_first=True,
                           norm_first=norm_first)
    model = randomise_norms(model).eval()
    ours = T.Transformer(8, 2, 2, 2, 16, dropout=0.0, norm_first=norm_first)
    ours.load_from_torch(model).eval()
    src, tgt = randn(2, 6, 8, seed=4), randn(2, 5, 8, seed=5)
    src_kpm = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    want = model(src, tgt, tgt_mask=model.generate_square_subsequent_mask(5),
                 src_key_padding_mask=src_kpm, memory_key_padding_mask=src_kpm)
    pad = A.from_key_padding_mask(src_kpm)
    got = ours(src, tgt, src_mask=pad, memory_mask=pad)
    torch.testing.assert_close(got, want, **TOL)


def test_load_from_torch_refuses_mismatches():
    with pytest.raises(ValueError, match="norm_first"):
        T.EncoderBlock(8, 2, 16, norm_first=False).load_from_torch(
            torch_encoder_layer(norm_first=True))
    with pytest.raises(ValueError, match="gelu"):
        T.EncoderBlock(8, 2, 16).load_from_torch(torch_encoder_layer(False, "gelu"))
    with pytest.raises(ValueError):
        T.EncoderBlock(8, 2, 32).load_from_torch(torch_encoder_layer(False))
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)
    with pytest.raises(ValueError, match="layers"):
        T.Transformer(8, 2, 2, 1, 16).load_from_torch(model)


# --------------------------------------------------------------------------
# defining properties: causality and padding


def assert_causal(run, x, dim=1):
    """Changing inputs after position t leaves every output at or before t
    unchanged, for every t."""
    base = run(x)
    for t in range(x.shape[dim] - 1):
        changed = x.clone()
        future = changed.narrow(dim, t + 1, x.shape[dim] - t - 1)
        if changed.is_floating_point():
            future.add_(randn(*future.shape, seed=t) * 5)
        else:
            future.copy_((future + 1 + t) % 11 + 1)
        out = run(changed)
        torch.testing.assert_close(out[:, :t + 1], base[:, :t + 1], **TOL)
        assert not torch.allclose(out[:, t + 1:], base[:, t + 1:])


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_never_looks_ahead(norm_first):
    torch.manual_seed(6)
    block = T.DecoderBlock(8, 2, 16, norm_first=norm_first).eval()
    memory = randn(2, 5, 8, seed=7)
    assert_causal(lambda x: block(x, memory), randn(2, 6, 8, seed=8))


def test_transformer_and_token_model_never_look_ahead():
    torch.manual_seed(9)
    core = T.Transformer(8, 2, 1, 2, 16, dropout=0.0, norm_first=True).eval()
    src = randn(2, 5, 8, seed=10)
    assert_causal(lambda tgt: core(src, tgt), randn(2, 6, 8, seed=11))
    model = T.Seq2SeqTransformer(12, 12, d_model=8, n_heads=2, n_encoder_layers=1,
                                 n_decoder_layers=1, d_ff=16, dropout=0.0).eval()
    src_ids = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]])
    tgt_ids = torch.tensor([[1, 5, 6, 7, 8], [1, 9, 10, 11, 2]])
    assert_causal(lambda ids: model(src_ids, ids), tgt_ids)


def test_encoder_outputs_at_real_tokens_ignore_the_padding():
    torch.manual_seed(12)
    block = T.EncoderBlock(8, 2, 16).eval()
    x = randn(1, 6, 8, seed=13)
    mask = A.padding_mask([4], 6)
    other = x.clone()
    other[:, 4:] = randn(1, 2, 8, seed=14) * 10
    torch.testing.assert_close(block(x, mask)[:, :4], block(other, mask)[:, :4], **TOL)
    torch.testing.assert_close(block(x, mask)[:, :4], block(x[:, :4]), **TOL)


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_seq2seq_model_shapes_padding_invariance_and_greedy_decoding(positions):
    torch.manual_seed(15)
    model = T.Seq2SeqTransformer(10, 9, d_model=8, n_heads=2, n_encoder_layers=1,
                                 n_decoder_layers=1, d_ff=16, dropout=0.0,
                                 positions=positions, max_len=16).eval()
    src = torch.tensor([[4, 5, 6, 0], [7, 8, 9, 3]])
    tgt = torch.tensor([[1, 4, 5], [1, 6, 2]])
    logits = model(src, tgt)
    assert logits.shape == (2, 3, 9)
    more_padding = torch.cat([src, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model(more_padding[:1], tgt[:1]), logits[:1], **TOL)
    out = model.greedy_decode(src, bos_id=1, eos_id=2, max_new_tokens=5)
    assert out.shape[0] == 2 and 2 <= out.shape[1] <= 6
    assert (out[:, 0] == 1).all()
    step = model(src, out[:, :-1]).argmax(-1)          # greedy = argmax, teacher-forced
    finished = torch.cumsum(out[:, 1:] == 2, dim=1) - (out[:, 1:] == 2).long() > 0
    assert torch.equal(step[~finished], out[:, 1:][~finished])


def test_transformer_has_the_parameter_count_of_pytorchs():
    ours = T.Transformer(16, 4, 2, 3, 32, dropout=0.0)
    model = nn.Transformer(16, 4, 2, 3, 32, dropout=0.0, batch_first=True)
    assert (sum(p.numel() for p in ours.parameters())
            == sum(p.numel() for p in model.parameters()))


def test_blocks_train_with_dropout_and_gradients_reach_every_weight():
    torch.manual_seed(16)
    block = T.DecoderBlock(8, 2, 16, dropout=0.1, norm_first=True).train()
    out = block(randn(2, 4, 8, seed=17), randn(2, 3, 8, seed=18))
    out.pow(2).mean().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


# --------------------------------------------------------------------------
# the block checks: each passes the reference and names each mistake


def verdict_of(check, learner, capsys, **kw):
    verdict = check(learner, **kw)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "Traceback" not in out, out
    assert out.strip() == verdict.message
    return verdict


class PlainAttention(A.MultiHeadAttention):
    """Multi-head attention with a plain -inf fill: a row with no visible
    key comes out NaN, as most first attempts do."""

    def forward(self, query, key=None, value=None, mask=None):
        key = query if key is None else key
        value = key if value is None else value
        q = A.split_heads(self.q_proj(query), self.n_heads)
        k = A.split_heads(self.k_proj(key), self.n_heads)
        v = A.split_heads(self.v_proj(value), self.n_heads)
        scores = q @ k.mT / math.sqrt(self.d_head)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return self.out_proj(A.merge_heads(torch.softmax(scores, -1) @ v))


class LearnerEncoder(nn.Module):
    """A learner's encoder block: right by default, one switch per mistake.
    Its feed-forward network is an nn.Sequential, as many learners write it."""

    def __init__(self, d_model, n_heads, d_ff, norm_first=False, mistake=None):
        super().__init__()
        self.norm_first, self.mistake = norm_first, mistake
        self.self_attn = PlainAttention(d_model, n_heads)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(),
                                nn.Linear(d_ff, d_model))
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, x, mask=None):
        m = self.mistake
        if m == "padding_attended":
            mask = None
        if m == "inverted_mask" and mask is not None:
            mask = ~mask

        def attend(h):
            return self.self_attn(h, mask=mask)

        def ff(h):
            if m == "ff_without_activation":
                return self.ff[2](self.ff[0](h))
            return self.ff(h)

        keep_attn = m != "missing_attention_residual"
        keep_ff = m != "missing_ff_residual"
        pre = self.norm_first != (m in ("pre_norm_instead", "post_norm_instead"))
        if pre and m == "residual_from_normalised":
            h = self.norm1(x)
            x = h + attend(h)
            h = self.norm2(x)
            return h + ff(h)
        if pre:
            x = x * keep_attn + attend(self.norm1(x))
            return x * keep_ff + ff(self.norm2(x))
        if m == "norm_inside_residual":
            x = x + self.norm1(attend(x))
            return x + self.norm2(ff(x))
        x = self.norm1(x * keep_attn + attend(x))
        return self.norm2(x * keep_ff + ff(x))


class LearnerDecoder(nn.Module):
    """A learner's decoder block: right by default, one switch per mistake."""

    def __init__(self, d_model, n_heads, d_ff, norm_first=False, mistake=None,
                 nan_rows=False):
        super().__init__()
        self.norm_first, self.mistake = norm_first, mistake
        make = PlainAttention if nan_rows else A.MultiHeadAttention
        self.self_attn = make(d_model, n_heads)
        self.cross_attn = make(d_model, n_heads)
        self.ff = T.FeedForward(d_model, d_ff)
        self.norm1 = T.LayerNorm(d_model)
        self.norm2 = T.LayerNorm(d_model)
        self.norm3 = T.LayerNorm(d_model)

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        m, n = self.mistake, x.size(1)
        diagonal = {"causal_excludes_diagonal": -1, "causal_sees_next": 1}.get(m, 0)
        causal = torch.ones(n, n, dtype=torch.bool).tril(diagonal)
        self_mask = None if m == "not_causal" else causal
        if m == "padding_attended":
            memory_mask = None
        if m == "inverted_mask" and memory_mask is not None:
            memory_mask = ~memory_mask
        pre = self.norm_first != (m in ("pre_norm_instead", "post_norm_instead"))

        def cross(h):
            kv = h if m == "cross_attends_self" else memory
            if m == "memory_normalised":
                kv = self.norm2(memory)
            return self.cross_attn(h, kv, kv, mask=memory_mask)

        steps = [(lambda h: self.self_attn(h, mask=self_mask), self.norm1),
                 (cross, self.norm2), (self.ff, self.norm3)]
        for sublayer, norm in steps:
            if pre and m == "residual_from_normalised":
                h = norm(x)
                x = h + sublayer(h)
            elif pre:
                x = x + sublayer(norm(x))
            else:
                x = norm(x + sublayer(x))
        return x


ENCODER_MISTAKES = [
    (False, "pre_norm_instead"), (True, "post_norm_instead"),
    (True, "residual_from_normalised"), (False, "norm_inside_residual"),
    (False, "missing_attention_residual"), (True, "missing_ff_residual"),
    (False, "ff_without_activation"), (False, "padding_attended"),
    (True, "inverted_mask"),
]

DECODER_MISTAKES = [
    (False, "pre_norm_instead", False), (True, "post_norm_instead", False),
    (False, "not_causal", False), (True, "causal_excludes_diagonal", False),
    (False, "causal_excludes_diagonal", True), (False, "causal_sees_next", False),
    (True, "cross_attends_self", False), (True, "memory_normalised", False),
    (True, "residual_from_normalised", False), (False, "padding_attended", False),
    (False, "inverted_mask", True),
]


@pytest.mark.parametrize("norm_first", [False, True])
def test_block_checks_pass_the_reference_and_other_right_layouts(norm_first, capsys):
    for check, cls in [(check_encoder_block, T.EncoderBlock),
                       (check_encoder_block, LearnerEncoder),
                       (check_decoder_block, T.DecoderBlock),
                       (check_decoder_block, LearnerDecoder)]:
        verdict = verdict_of(check, cls, capsys, norm_first=norm_first)
        assert verdict.passed, verdict.message


@pytest.mark.parametrize("norm_first, mistake", ENCODER_MISTAKES)
def test_check_encoder_block_names_each_mistake(norm_first, mistake, capsys):
    learner = functools.partial(LearnerEncoder, mistake=mistake)
    verdict = verdict_of(check_encoder_block, learner, capsys, norm_first=norm_first)
    assert verdict.mistake == mistake, verdict.message


@pytest.mark.parametrize("norm_first, mistake, nan_rows", DECODER_MISTAKES)
def test_check_decoder_block_names_each_mistake(norm_first, mistake, nan_rows,
                                                capsys):
    learner = functools.partial(LearnerDecoder, mistake=mistake, nan_rows=nan_rows)
    verdict = verdict_of(check_decoder_block, learner, capsys, norm_first=norm_first)
    assert verdict.mistake == mistake, verdict.message


class ThreeLinears(LearnerEncoder):
    def __init__(self, d_model, n_heads, d_ff):
        super().__init__(d_model, n_heads, d_ff)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(),
                                nn.Linear(d_ff, d_ff), nn.Linear(d_ff, d_model))


class FixedNorm(LearnerEncoder):
    def __init__(self, d_model, n_heads, d_ff):
        super().__init__(d_model, n_heads, d_ff)
        self.norm2 = nn.LayerNorm(d_model, elementwise_affine=False)


class WideFF(LearnerEncoder):
    def __init__(self, d_model, n_heads, d_ff):
        super().__init__(d_model, n_heads, d_ff + 1)


class TwoNorms(LearnerDecoder):
    def __init__(self, d_model, n_heads, d_ff):
        super().__init__(d_model, n_heads, d_ff)
        del self.norm3


def test_block_checks_explain_modules_they_cannot_use(capsys):
    def stub(d_model, n_heads, d_ff):
        raise NotImplementedError

    cases = [(check_encoder_block, stub, "not_implemented"),
             (check_encoder_block, lambda *a: [a], "not_a_module"),
             (check_encoder_block, ThreeLinears, "wrong_feed_forward"),
             (check_encoder_block, FixedNorm, "wrong_norm"),
             (check_encoder_block, WideFF, "wrong_parameter_shape"),
             (check_decoder_block, TwoNorms, "missing_attribute"),
             (check_decoder_block, lambda d_model: None, "exception")]
    for check, learner, mistake in cases:
        verdict = verdict_of(check, learner, capsys)
        assert verdict.mistake == mistake, verdict.message
    missing = verdict_of(check_decoder_block, TwoNorms, capsys)
    assert "norm3" in missing.message


def test_block_checks_accept_pytorch_attention_inside_a_learner_block(capsys):
    class TorchAttentionEncoder(nn.Module):
        def __init__(self, d_model, n_heads, d_ff):
            super().__init__()
            self.self_attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
            self.ff = T.FeedForward(d_model, d_ff)
            self.norm1, self.norm2 = T.LayerNorm(d_model), T.LayerNorm(d_model)

        def forward(self, x, mask=None):
            kpm = None if mask is None else A.to_key_padding_mask(mask)
            a, _ = self.self_attn(x, x, x, key_padding_mask=kpm, need_weights=False)
            x = self.norm1(x + a)
            return self.norm2(x + self.ff(F.dropout(x, 0.0)))

    assert verdict_of(check_encoder_block, TorchAttentionEncoder, capsys).passed
