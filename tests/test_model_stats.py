"""Day 15: parameter counts, FLOP counts and shapes of the Transformer, and
the checks for the counting exercises.

The closed-form formulas are compared with the parameters of real modules
(the course's and PyTorch's) and with the matrix products that PyTorch's
FLOP counter sees in a real forward pass; every check must pass the
reference, name each classic mistake from a wrong formula written here, and
turn stubs, exceptions, None, wrong types and NaN into one friendly line.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from helpers import model_stats as M
from helpers.attention import FusedMultiHeadAttention, MultiHeadAttention
from helpers.checks import (
    check_attention_flops,
    check_attention_params,
    check_feed_forward_params,
)
from helpers.checks.model_stats import (
    ATTENTION_FLOPS_MISTAKES,
    ATTENTION_PARAMS_MISTAKES,
    FEED_FORWARD_PARAMS_MISTAKES,
)
from helpers.transformer import (
    DecoderBlock,
    EncoderBlock,
    FeedForward,
    LayerNorm,
    Seq2SeqTransformer,
    Transformer,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:enable_nested_tensor is True:UserWarning")

SIZES = [  # d_model, n_heads, d_ff, encoder layers, decoder layers
    (32, 4, 64, 2, 2),
    (24, 3, 40, 1, 3),
    (16, 1, 16, 3, 1),
    (60, 6, 100, 2, 0),
]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def ids(vocab, *shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, vocab, shape, generator=g)


# --------------------------------------------------------------------------
# closed-form parameter counts against real modules


@pytest.mark.parametrize("d,h", [(8, 1), (12, 3), (64, 8), (30, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_attention_formula_matches_modules(d, h, bias):
    expected = M.attention_params(d, h, bias)
    assert n_params(MultiHeadAttention(d, h, bias=bias)) == expected
    assert n_params(FusedMultiHeadAttention(d, h, bias=bias)) == expected
    torch_mha = nn.MultiheadAttention(d, h, bias=bias, batch_first=True)
    assert n_params(torch_mha) == expected


def test_attention_params_do_not_depend_on_the_number_of_heads():
    counts = {M.attention_params(96, h) for h in (1, 2, 3, 4, 6, 8, 12, 96)}
    assert counts == {4 * 96 * 96 + 4 * 96}
    with pytest.raises(ValueError, match="divide"):
        M.attention_params(10, 3)


@pytest.mark.parametrize("d,f", [(8, 32), (5, 7), (12, 3)])
@pytest.mark.parametrize("activation", ["relu", "gelu", "swiglu"])
@pytest.mark.parametrize("bias", [True, False])
def test_feed_forward_formula_matches_module(d, f, activation, bias):
    module = FeedForward(d, f, activation, bias=bias)
    assert n_params(module) == M.feed_forward_params(d, f, bias, activation)


@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_and_linear_formulas(bias):
    assert n_params(LayerNorm(13, bias=bias)) == M.layer_norm_params(13, bias)
    assert n_params(nn.Linear(7, 11, bias=bias)) == M.linear_params(7, 11, bias)
    assert n_params(nn.Embedding(19, 6)) == M.embedding_params(19, 6)


@pytest.mark.parametrize("d,h,f,n_enc,n_dec", SIZES)
def test_block_formulas_match_modules(d, h, f, n_enc, n_dec):
    assert n_params(EncoderBlock(d, h, f)) == M.encoder_block_params(d, h, f)
    assert n_params(DecoderBlock(d, h, f)) == M.decoder_block_params(d, h, f)
    assert (n_params(EncoderBlock(d, h, f, activation="swiglu"))
            == M.encoder_block_params(d, h, f, activation="swiglu"))


@pytest.mark.parametrize("d,h,f,n_enc,n_dec", SIZES)
@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_parts_of_a_seq2seq_model_match_the_formulas(d, h, f, n_enc, n_dec,
                                                     positions):
    model = Seq2SeqTransformer(17, 23, d, h, n_enc, n_dec, f, positions=positions,
                               max_len=40)
    counted = M.parameters_by_part(model)
    formula = M.seq2seq_params(17, 23, d, h, n_enc, n_dec, f, positions=positions,
                               max_len=40)
    assert counted == formula
    assert list(counted) == list(M.PARTS)
    assert counted["other"] == 0
    assert sum(counted.values()) == n_params(model) == M.count_parameters(model)


def test_shared_and_tied_embeddings_count_once():
    model = Seq2SeqTransformer(29, 29, 16, 2, 1, 1, 32)
    model.tgt_embed = model.src_embed
    model.generator.weight = model.src_embed.weight
    counted = M.parameters_by_part(model)
    formula = M.seq2seq_params(29, 29, 16, 2, 1, 1, 32, share_embeddings=True,
                               tie_output=True)
    assert counted == formula
    assert counted["output layer"] == 29                  # only the bias is left
    assert sum(counted.values()) == n_params(model)
    with pytest.raises(ValueError, match="src_vocab == tgt_vocab"):
        M.seq2seq_params(10, 12, 8, 2, 1, 1, 16, share_embeddings=True)


@pytest.mark.parametrize("norm_first", [False, True])
def test_parts_of_pytorch_transformer_match_the_formulas(norm_first):
    torch_model = nn.Transformer(32, 4, 2, 3, 48, batch_first=True,
                                 norm_first=norm_first)
    counted = M.parameters_by_part(torch_model)
    formula = M.seq2seq_params(1, 1, 32, 4, 2, 3, 48)
    for part in ("attention", "feed-forward", "norms"):
        assert counted[part] == formula[part], part
    assert counted["embeddings"] == counted["other"] == 0
    assert n_params(torch_model) == n_params(Transformer(32, 4, 2, 3, 48))


def test_parts_by_name_for_a_gpt_style_model():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(8)
            self.attn = nn.Linear(8, 24)
            self.mlp = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 8))

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(50, 8)
            self.wpe = nn.Embedding(16, 8)
            self.h = nn.ModuleList([Block(), Block()])
            self.lm_head = nn.Linear(8, 50, bias=False)
            self.lm_head.weight = self.wte.weight
            self.scale = nn.Parameter(torch.ones(3))

    counted = M.parameters_by_part(Tiny())
    assert counted["embeddings"] == 400 and counted["positions"] == 128
    assert counted["attention"] == 2 * (8 * 24 + 24)
    assert counted["feed-forward"] == 2 * (8 * 32 + 32 + 32 * 8 + 8)
    assert counted["norms"] == 2 * 16
    assert counted["output layer"] == 0                   # tied to wte
    assert counted["other"] == 3


# --------------------------------------------------------------------------
# the base model of the 2017 paper


@pytest.fixture(scope="module")
def base_model():
    b = M.BASE
    model = Seq2SeqTransformer(b["vocab"], b["vocab"], b["d_model"], b["n_heads"],
                               b["n_layers"], b["n_layers"], b["d_ff"],
                               norm_first=False)
    model.tgt_embed = model.src_embed
    model.generator.weight = model.src_embed.weight
    return model


def test_base_transformer_has_about_63_million_parameters(base_model):
    b = M.BASE
    formula = M.seq2seq_params(b["vocab"], b["vocab"], b["d_model"], b["n_heads"],
                               b["n_layers"], b["n_layers"], b["d_ff"],
                               share_embeddings=True, tie_output=True)
    assert M.parameters_by_part(base_model) == formula
    total = sum(formula.values())
    assert total == n_params(base_model) == 63_121_544
    assert formula["embeddings"] == 37000 * 512
    assert formula["attention"] == 18 * (4 * 512 * 512 + 4 * 512)
    assert formula["feed-forward"] == 12 * (2 * 512 * 2048 + 2048 + 512)
    assert abs(total - M.PUBLISHED_BASE_PARAMS) / M.PUBLISHED_BASE_PARAMS < 0.03


def test_parameter_memory():
    assert M.parameter_memory_bytes(1000) == 4000
    assert M.parameter_memory_bytes(1000, bytes_per_value=2) == 2000
    assert M.parameter_memory_bytes(1000, training=True) == 16000


# --------------------------------------------------------------------------
# FLOP formulas against the matrix products PyTorch counts


@pytest.mark.parametrize("T,d_in,d_out", [(1, 3, 5), (7, 16, 9), (12, 8, 8)])
def test_linear_flops_match_the_counter(T, d_in, d_out):
    layer = nn.Linear(d_in, d_out)
    assert M.count_flops(layer, torch.randn(T, d_in)) == M.linear_flops(T, d_in,
                                                                        d_out)
    assert M.matmul_flops(T, d_in, d_out) == 2 * T * d_in * d_out


@pytest.mark.parametrize("T,T_kv,d,h", [(5, 5, 16, 4), (1, 1, 8, 2), (6, 9, 12, 3),
                                        (20, 3, 32, 8)])
def test_attention_flops_match_the_counter(T, T_kv, d, h):
    mha = MultiHeadAttention(d, h)
    B = 3
    q, kv = torch.randn(B, T, d), torch.randn(B, T_kv, d)
    counted = M.count_flops(mha, q, kv, kv)
    assert counted == B * M.attention_flops(T, d, T_kv)
    if T == T_kv:
        assert M.attention_flops(T, d) == 8 * T * d * d + 4 * T * T * d
        assert M.count_flops(mha, q) == B * M.attention_flops(T, d)


@pytest.mark.parametrize("activation", ["relu", "swiglu"])
def test_feed_forward_flops_match_the_counter(activation):
    ff = FeedForward(12, 40, activation)
    counted = M.count_flops(ff, torch.randn(2, 7, 12))
    assert counted == 2 * M.feed_forward_flops(7, 12, 40, activation)


@pytest.mark.parametrize("d,h,f,n_enc,n_dec", SIZES)
@pytest.mark.parametrize("B,S,T", [(2, 7, 5), (1, 1, 1), (3, 4, 11)])
def test_seq2seq_flops_match_the_counter(d, h, f, n_enc, n_dec, B, S, T):
    model = Seq2SeqTransformer(17, 23, d, h, n_enc, n_dec, f).eval()
    counted = M.count_flops(model, ids(17, B, S), ids(23, B, T, seed=1))
    parts = M.seq2seq_flops(S, T, d, f, 23, n_enc, n_dec, batch=B)
    assert sum(parts.values()) == counted
    assert parts["output layer"] == B * M.output_flops(T, d, 23)


def test_linear_flops_are_about_two_per_parameter_per_token():
    d, f, n = 512, 2048, 6
    T = 128
    parts = M.seq2seq_flops(T, T, d, f, 37000, n, n)
    weights = (3 * n) * 4 * d * d + 2 * n * 2 * d * f + d * 37000
    linear = parts["attention projections"] + parts["feed-forward"] \
        + parts["output layer"]
    assert linear == 2 * weights * T


def test_attention_scores_take_over_at_the_crossover_length():
    d, f = 64, 256
    t_star = M.crossover_length(d, f)
    assert t_star == 6 * d

    def split(T):
        p = M.seq2seq_flops(T, T, d, f, 1, 1, 0)
        return p["attention scores"], p["attention projections"] + p["feed-forward"]

    quad, lin = split(t_star)
    assert quad == lin
    quad, lin = split(t_star - 1)
    assert quad < lin
    quad, lin = split(t_star + 1)
    assert quad > lin


# --------------------------------------------------------------------------
# shapes through the model


def test_trace_shapes_follows_the_data():
    model = Seq2SeqTransformer(11, 13, 32, 4, 2, 2, 64)
    model.train()
    rows = M.trace_shapes(model, ids(11, 2, 7), ids(13, 2, 5), max_depth=3)
    by_name = {r.name: r for r in rows}
    assert rows[0].name == "model" and rows[0].outputs == ((2, 5, 13),)
    assert by_name["src_embed"].inputs == ((2, 7),)
    assert by_name["src_embed"].outputs == ((2, 7, 32),)
    assert by_name["transformer.encoder_layers.1"].outputs == ((2, 7, 32),)
    assert by_name["transformer.decoder_layers.0"].inputs == ((2, 5, 32),
                                                             (2, 7, 32))
    assert by_name["generator"].outputs == ((2, 5, 13),)
    names = [r.name for r in rows]
    assert names.index("src_embed") < names.index("tgt_embed")
    assert not any("dropout" in n for n in names)
    assert all(n.count(".") <= 2 for n in names)
    assert model.training                                  # flag restored
    table = M.shape_table(rows, strip="transformer.")
    assert "encoder_layers.0" in table and "transformer." not in table
    assert "(2, 5, 13)" in table.splitlines()[1]


def test_trace_shapes_shows_attention_weights_and_masks_on_request():
    model = Seq2SeqTransformer(11, 13, 16, 2, 1, 1, 32)
    rows = M.trace_shapes(model, ids(11, 2, 6), ids(13, 2, 4),
                          include=lambda name, m: name.endswith("cross_attn"))
    cross = [r for r in rows if r.name.endswith("cross_attn")]
    assert cross[0].inputs == ((2, 4, 16), (2, 6, 16), (2, 6, 16))
    assert cross[0].outputs == ((2, 4, 16), (2, 2, 4, 6))
    with_masks = M.trace_shapes(model, ids(11, 2, 6), ids(13, 2, 4), masks=True,
                                include=lambda name, m: name.endswith("cross_attn"))
    assert (2, 1, 1, 6) in with_masks[1].inputs


def test_trace_shapes_removes_its_hooks_even_when_the_model_fails():
    model = Seq2SeqTransformer(11, 13, 16, 2, 1, 1, 32)
    with pytest.raises(Exception):
        M.trace_shapes(model, ids(11, 2, 6), torch.zeros(2, 4, 3))
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_diagram_draws_every_part():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = M.draw_encoder_decoder()
    texts = " ".join(t.get_text() for t in ax.texts)
    for word in ("masked multi-head", "cross-attention", "feed-forward",
                 "add & norm", "softmax", "positional encoding", "(B, S, d)",
                 "(B, T, V)"):
        assert word in texts, word
    colors = {p.get_facecolor()[:3] for p in ax.patches}
    assert len(colors) >= 6
    plt.close(ax.figure)


# --------------------------------------------------------------------------
# the checks: wrong formulas written independently, one per named mistake


def _q(d, b):
    return d * d + d * b


ATTENTION_PARAMS_WRONG = {
    "heads_multiplied": lambda d, h, bias=True: h * (4 * d * d + 4 * d * bias),
    "one_head_only":
        lambda d, h, bias=True: 4 * (d * (d // h)) + 4 * (d // h) * bias,
    "no_output_projection": lambda d, h, bias=True: 3 * _q(d, bias),
    "no_bias": lambda d, h, bias=True: 4 * d ** 2,
    "bias_flag_ignored": lambda d, h, bias=True: 4 * d ** 2 + 4 * d,
}

FEED_FORWARD_PARAMS_WRONG = {
    "d_model_for_d_ff": lambda d, f, bias=True: 2 * _q(d, bias),
    "one_layer": lambda d, f, bias=True: d * f + f * bias,
    "bias_sizes": lambda d, f, bias=True: 2 * d * f + 2 * f * bias,
    "no_bias": lambda d, f, bias=True: 2 * d * f,
    "bias_flag_ignored": lambda d, f, bias=True: 2 * d * f + d + f,
}

ATTENTION_FLOPS_WRONG = {
    "macs_not_flops": lambda T, d: 4 * T * d * d + 2 * T * T * d,
    "no_t_squared": lambda T, d: 4 * 2 * T * d * d,
    "no_weighted_sum": lambda T, d: 8 * T * d * d + 2 * T * T * d,
    "no_projections": lambda T, d: 2 * 2 * T * T * d,
    "no_output_projection": lambda T, d: 3 * 2 * T * d * d + 4 * T * T * d,
}

CHECKS = {
    "attention_params": (check_attention_params, M.attention_params,
                         ATTENTION_PARAMS_WRONG, ATTENTION_PARAMS_MISTAKES),
    "feed_forward_params": (check_feed_forward_params, M.feed_forward_params,
                            FEED_FORWARD_PARAMS_WRONG, FEED_FORWARD_PARAMS_MISTAKES),
    "attention_flops": (check_attention_flops, M.attention_flops,
                        ATTENTION_FLOPS_WRONG, ATTENTION_FLOPS_MISTAKES),
}

MISTAKE_CASES = [(check, name) for check, (_, _, wrong, _) in CHECKS.items()
                 for name in wrong]


def _one_friendly_line(capsys):
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert "Traceback" not in out
    return out


@pytest.mark.parametrize("check", list(CHECKS))
def test_check_passes_the_reference(check, capsys):
    run, reference, _, _ = CHECKS[check]
    verdict = run(reference)
    assert verdict.passed, verdict.message
    assert verdict.mistake is None
    _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_check_accepts_floats_and_zero_dimensional_tensors(check, capsys):
    run, reference, _, _ = CHECKS[check]
    assert run(lambda *a, **k: float(reference(*a, **k))).passed
    assert run(lambda *a, **k: torch.tensor(reference(*a, **k),
                                            dtype=torch.float64)).passed
    capsys.readouterr()


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
    def broken(a, b, **kwargs):
        return a / (b - b)

    verdict = CHECKS[check][0](broken)
    assert verdict.mistake == "exception"
    assert "ZeroDivisionError" in _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_none_wrong_type_and_nan_are_friendly(check, capsys):
    run = CHECKS[check][0]
    assert run(lambda *a, **k: None).mistake == "returned_none"
    _one_friendly_line(capsys)
    assert run(lambda *a, **k: "4 * d**2").mistake == "type"
    _one_friendly_line(capsys)
    assert run(lambda *a, **k: torch.tensor([1.0, 2.0])).mistake == "type"
    _one_friendly_line(capsys)
    assert run(lambda *a, **k: math.nan).mistake == "nan"
    _one_friendly_line(capsys)


def test_a_wrong_count_without_a_known_mistake_shows_both_numbers(capsys):
    verdict = check_attention_params(lambda d, h, bias=True: 5 * d * d)
    assert verdict.mistake == "values"
    out = _one_friendly_line(capsys)
    assert "20,480" in out and "16,640" in out
