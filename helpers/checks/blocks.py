"""Checks for the Transformer blocks (days 16 and 17).

* :func:`check_encoder_block` -- self-attention + feed-forward, each with a
  residual connection and a LayerNorm (day 16)
* :func:`check_decoder_block` -- causal self-attention, cross-attention and
  feed-forward (day 17)

Each check builds the learner's class, copies the weights of the reference
block from :mod:`helpers.transformer` into it (the docstrings list the
attribute names it looks for), runs both on the same inputs and names the
classic mistake when the outputs differ. The global random state is left as
it was, so a check cell does not change what later cells draw.
"""

from __future__ import annotations

import torch
from torch import nn

from helpers.attention import combine_masks, padding_mask
from helpers.checks._core import (
    Case,
    Mistake,
    Verdict,
    call_learner,
    compare,
    diagnose,
    fail,
    run_check,
)
from helpers.checks.attention import (
    ATOL,
    RTOL,
    _build,
    _copy_attention,
    _copy_param,
    _first_output,
    _listed,
    _mha_variant,
    _part,
    _randn,
    _with_empty_rows,
)
from helpers.transformer import DecoderBlock, EncoderBlock, LayerNorm

__all__ = ["check_decoder_block", "check_encoder_block"]

_ATTN_HINT = ("MultiHeadAttention(d_model, n_heads) with q_proj, k_proj, v_proj "
              "and out_proj")
_FF_HINT = ("FeedForward(d_model, d_ff) or nn.Sequential(nn.Linear(d_model, d_ff), "
            "nn.ReLU(), nn.Linear(d_ff, d_model))")
_NORM_HINT = "LayerNorm(d_model)"


# --------------------------------------------------------------------------
# copying the reference weights into the learner's block


def _copy_ff(learner_ff: nn.Module, ref_ff, name: str) -> None:
    linears = [m for m in learner_ff.modules() if isinstance(m, nn.Linear)]
    if len(linears) != 2:
        fail(f"your {name}'s `ff` should hold exactly two nn.Linear layers "
             f"(d_model -> d_ff, then d_ff -> d_model), but it holds "
             f"{len(linears)}.", "wrong_feed_forward")
    pairs = zip(("first", "second"), linears, (ref_ff.linear1, ref_ff.linear2))
    for ordinal, ours, theirs in pairs:
        where = f"the {ordinal} nn.Linear in ff"
        _copy_param(ours.weight, theirs.weight, f"{where} (weight)", name)
        _copy_param(ours.bias, theirs.bias, f"{where} (bias)", name)


def _copy_norm(learner_norm: nn.Module, ref_norm, where: str, name: str) -> None:
    weight = getattr(learner_norm, "weight", None)
    bias = getattr(learner_norm, "bias", None)
    if not (isinstance(weight, torch.Tensor) and isinstance(bias, torch.Tensor)):
        params = list(learner_norm.parameters())
        if len(params) != 2:
            fail(f"your {name}'s `{where}` should be a LayerNorm(d_model) with a "
                 "learned scale and shift (two parameters), but it has "
                 f"{len(params)}.", "wrong_norm")
        weight, bias = params
    _copy_param(weight, ref_norm.weight, f"{where}.weight", name)
    _copy_param(bias, ref_norm.bias, f"{where}.bias", name)


def _copy_block(module: nn.Module, ref, name: str, attentions, norms) -> None:
    for attr in attentions:
        learner_attn = _part(module, attr, name, _ATTN_HINT)
        _copy_attention(learner_attn, getattr(ref, attr), attr, name)
    _copy_ff(_part(module, "ff", name, _FF_HINT), ref.ff, name)
    for attr in norms:
        _copy_norm(_part(module, attr, name, _NORM_HINT), getattr(ref, attr),
                   attr, name)


def _reference(kind, d_model, n_heads, d_ff, norm_first, seed):
    """A reference block with every weight random, LayerNorms included, so
    that mixing up two norms changes the output."""
    torch.manual_seed(seed)
    block = kind(d_model, n_heads, d_ff, norm_first=norm_first).eval()
    with torch.no_grad():
        for module in block.modules():
            if isinstance(module, LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.2)
    return block


# --------------------------------------------------------------------------
# the blocks, right or with one mistake


def _sublayers(x, steps, norm_first, from_norm=False, norm_inside=False):
    """Run ``steps`` = [(sublayer, norm, keep_residual), ...] on ``x``."""
    for sublayer, norm, residual in steps:
        if norm_first:
            h = norm(x)
            base = h if from_norm else x
            x = sublayer(h) + (base if residual else 0.0)
        elif norm_inside:
            x = norm(sublayer(x)) + (x if residual else 0.0)
        else:
            x = norm(sublayer(x) + (x if residual else 0.0))
    return x


def _feed_forward(ff, h, activation=True):
    hidden = ff.linear1(h)                                # (B, T, d_ff)
    return ff.linear2(torch.relu(hidden) if activation else hidden)


def _encoder_variant(ref, x, mask=None, *, norm_first, from_norm=False,
                     norm_inside=False, attn_residual=True, ff_residual=True,
                     activation=True, mask_mode="keep", empty="zero"):
    def attend(h):
        return _mha_variant(ref.self_attn, h, h, h, mask, mask_mode=mask_mode,
                            empty=empty)

    steps = [(attend, ref.norm1, attn_residual),
             (lambda h: _feed_forward(ref.ff, h, activation), ref.norm2, ff_residual)]
    return _sublayers(x, steps, norm_first, from_norm, norm_inside)


def _decoder_variant(ref, x, memory, tgt_mask=None, memory_mask=None, *,
                     norm_first, diagonal=0, empty="zero", cross_self=False,
                     memory_mode="keep", memory_normalised=False, from_norm=False):
    T = x.size(1)
    causal = None if diagonal is None else \
        torch.ones(T, T, dtype=torch.bool).tril(diagonal)  # (T, T)
    self_mask = combine_masks(causal, tgt_mask)

    def attend(h):
        return _mha_variant(ref.self_attn, h, h, h, self_mask, empty=empty)

    def cross(h):
        kv = h if cross_self else (ref.norm2(memory) if memory_normalised else memory)
        return _mha_variant(ref.cross_attn, h, kv, kv, memory_mask,
                            mask_mode=memory_mode, empty=empty)

    steps = [(attend, ref.norm1, True), (cross, ref.norm2, True),
             (lambda h: _feed_forward(ref.ff, h), ref.norm3, True)]
    return _sublayers(x, steps, norm_first, from_norm)


def _order_mistake(norm_first: bool, variant) -> Mistake:
    if norm_first:
        return Mistake("post_norm_instead", "your block normalises after each "
                       "residual sum (post-norm), but this is the pre-norm block: "
                       "x = x + sublayer(norm(x))", impl=variant(norm_first=False))
    return Mistake("pre_norm_instead", "your block normalises the input of each "
                   "sub-layer (pre-norm), but this is the post-norm block: "
                   "x = norm(x + sublayer(x))", impl=variant(norm_first=True))


_FROM_NORM = ("your residual adds the sub-layer's output to the normalised input; "
              "in a pre-norm block the skip path carries the raw x: "
              "x = x + sublayer(norm(x)), not h = norm(x); x = h + sublayer(h)")


def _encoder_mistakes(ref, norm_first: bool):
    def variant(**options):
        options.setdefault("norm_first", norm_first)
        return lambda x, mask=None: _encoder_variant(ref, x, mask, **options)

    return [
        _order_mistake(norm_first, variant),
        Mistake("residual_from_normalised", _FROM_NORM, impl=variant(from_norm=True)),
        Mistake("norm_inside_residual", "you normalise only the sub-layer's output "
                "and add it to x; the post-norm block normalises the sum: "
                "x = norm(x + sublayer(x))", impl=variant(norm_inside=True)),
        Mistake("missing_attention_residual", "the attention sub-layer has no "
                "residual connection; add its input back: x + self_attn(...)",
                impl=variant(attn_residual=False)),
        Mistake("missing_ff_residual", "the feed-forward sub-layer has no residual "
                "connection; add its input back: x + ff(...)",
                impl=variant(ff_residual=False)),
        Mistake("ff_without_activation", "your feed-forward network has no ReLU "
                "between its two linear layers, so it is just one linear map",
                impl=variant(activation=False)),
        Mistake("padding_attended", "padding positions still receive attention: "
                "pass the mask on to self_attn", impl=variant(mask_mode="ignored")),
        *_with_empty_rows("inverted_mask", "your mask is inverted: True means "
                          "the query may attend to that key", variant,
                          mask_mode="inverted"),
    ]


def _decoder_mistakes(ref, norm_first: bool):
    def variant(**options):
        options.setdefault("norm_first", norm_first)
        return lambda x, memory, tgt_mask=None, memory_mask=None: _decoder_variant(
            ref, x, memory, tgt_mask, memory_mask, **options)

    no_diagonal = ("your causal mask hides each position from itself; position t "
                   "must see positions 0..t: use tril() with diagonal=0")
    return [
        _order_mistake(norm_first, variant),
        Mistake("not_causal", "the self-attention can see future positions: build "
                "causal_mask(T) inside forward and pass it to self_attn",
                impl=variant(diagonal=None)),
        *_with_empty_rows("causal_excludes_diagonal", no_diagonal, variant,
                          diagonal=-1),
        Mistake("causal_sees_next", "your causal mask lets position t see position "
                "t+1 (e.g. position 2 sees position 3); use tril() with diagonal=0",
                impl=variant(diagonal=1)),
        Mistake("cross_attends_self", "your cross-attention takes its keys and "
                "values from the decoder itself; they must come from memory: "
                "cross_attn(x, memory, memory)", impl=variant(cross_self=True)),
        Mistake("memory_normalised", "you normalise the memory before the "
                "cross-attention; only the decoder side goes through norm2, the "
                "memory is used as it is", impl=variant(memory_normalised=True)),
        Mistake("residual_from_normalised", _FROM_NORM, impl=variant(from_norm=True)),
        Mistake("padding_attended", "padding positions of the source still receive "
                "attention: pass memory_mask on to cross_attn",
                impl=variant(memory_mode="ignored")),
        *_with_empty_rows("inverted_mask", "your memory mask is inverted: True "
                          "means the query may attend to that key", variant,
                          memory_mode="inverted"),
    ]


# --------------------------------------------------------------------------
# the checks


def _run_block_cases(name, cls, cases, norm_first, kind, attentions, norms,
                     mistakes) -> None:
    """cases: (label, d_model, n_heads, d_ff, inputs)."""
    kwargs = {"norm_first": True} if norm_first else {}
    for i, (label, d_model, n_heads, d_ff, inputs) in enumerate(cases):
        ref = _reference(kind, d_model, n_heads, d_ff, norm_first, seed=50 + i)
        module = _build(name, cls, (d_model, n_heads, d_ff), kwargs, label)
        _copy_block(module, ref, name, attentions, norms)
        args = tuple(inputs)
        while args and args[-1] is None:                  # pass masks only if set
            args = args[:-1]
        got = _first_output(call_learner(name, module, args, label=label))
        with torch.no_grad():
            expected = ref(*inputs)
        if got is None:
            fail(f"{name}.forward returned None on {label}; did you forget the "
                 "`return` statement?", "returned_none")
        difference = compare(got, expected, ATOL, RTOL)
        if difference is not None:
            diagnose(name, Case(tuple(inputs), label), got, expected,
                     mistakes(ref, norm_first), difference, ATOL, RTOL)


def _norm_word(norm_first: bool) -> str:
    return "pre-norm" if norm_first else "post-norm"


def check_encoder_block(cls, norm_first: bool = False) -> Verdict:
    """Check an encoder block (day 16).

    The check builds ``cls(d_model, n_heads, d_ff)`` (adding
    ``norm_first=True`` when checking the pre-norm block), copies reference
    weights into ``self_attn`` (``q_proj``, ``k_proj``, ``v_proj``,
    ``out_proj``; a fused ``qkv_proj`` or an ``nn.MultiheadAttention`` also
    work), ``ff`` (any module holding exactly two ``nn.Linear`` layers,
    ``d_model -> d_ff`` then ``d_ff -> d_model``, with ReLU between) and
    ``norm1``, ``norm2`` (scale and shift), switches it to eval mode, and
    compares ``block(x)`` or ``block(x, mask)`` for ``x`` ``(B, T, d_model)``
    and a padding mask ``(B, 1, 1, T)`` (``True`` = real token). The output
    ``(B, T, d_model)`` (or the first item of a tuple) must match.

    Named mistakes: ``pre_norm_instead`` / ``post_norm_instead``,
    ``residual_from_normalised``, ``norm_inside_residual``,
    ``missing_attention_residual``, ``missing_ff_residual``,
    ``ff_without_activation``, ``padding_attended``, ``inverted_mask``;
    ``missing_attribute``, ``wrong_feed_forward``, ``wrong_norm`` and
    ``wrong_parameter_shape`` when the weights cannot be copied.
    Introduced on day 16.
    """
    name = "EncoderBlock"
    cases = [
        ("a batch of 2 (T=5, d_model=8, 2 heads, d_ff=16)", 8, 2, 16,
         (_randn(2, 5, 8, seed=60), None)),
        ("a batch of one with one position", 8, 2, 16,
         (_randn(1, 1, 8, seed=61), None)),
        ("a padding mask (lengths 6 and 3, 3 heads)", 12, 3, 20,
         (_randn(2, 6, 12, seed=62), padding_mask([6, 3], 6))),
        ("odd sizes (B=3, T=7, d_model=6, d_ff=10)", 6, 3, 10,
         (_randn(3, 7, 6, seed=63), None)),
    ]

    def body() -> str:
        with torch.random.fork_rng(devices=[]):
            _run_block_cases(name, cls, cases, norm_first, EncoderBlock,
                             ("self_attn",), ("norm1", "norm2"), _encoder_mistakes)
        return (f"{name} ({_norm_word(norm_first)}) matches the reference on all "
                f"{len(cases)} cases: {_listed(c[0] for c in cases)}.")

    return run_check(name, body)


def check_decoder_block(cls, norm_first: bool = False) -> Verdict:
    """Check a decoder block (day 17).

    The check builds ``cls(d_model, n_heads, d_ff)`` (adding
    ``norm_first=True`` for the pre-norm block), copies reference weights
    into ``self_attn`` and ``cross_attn`` (each with ``q_proj``, ``k_proj``,
    ``v_proj``, ``out_proj``), ``ff`` (two ``nn.Linear`` layers with ReLU
    between) and ``norm1``, ``norm2``, ``norm3``, switches it to eval mode
    and compares ``block(x, memory)`` or ``block(x, memory, None,
    memory_mask)``: ``x`` ``(B, T, d_model)`` is the target, ``memory``
    ``(B, S, d_model)`` the encoder output, ``memory_mask`` a source padding
    mask ``(B, 1, 1, S)``. The block builds its causal mask itself. The
    output ``(B, T, d_model)`` (or the first item of a tuple) must match.

    Named mistakes: ``pre_norm_instead`` / ``post_norm_instead``,
    ``not_causal``, ``causal_excludes_diagonal``, ``causal_sees_next``,
    ``cross_attends_self``, ``memory_normalised``,
    ``residual_from_normalised``, ``padding_attended``, ``inverted_mask``;
    ``missing_attribute``, ``wrong_feed_forward``, ``wrong_norm`` and
    ``wrong_parameter_shape`` when the weights cannot be copied.
    Introduced on day 17.
    """
    name = "DecoderBlock"
    cases = [
        ("a batch of 2 (T=5, S=7, d_model=8, 2 heads, d_ff=16)", 8, 2, 16,
         (_randn(2, 5, 8, seed=70), _randn(2, 7, 8, seed=71), None, None)),
        ("a batch of one (T=1, S=3)", 8, 2, 16,
         (_randn(1, 1, 8, seed=72), _randn(1, 3, 8, seed=73), None, None)),
        ("a source padding mask (lengths 7 and 4, 3 heads)", 12, 3, 20,
         (_randn(2, 4, 12, seed=74), _randn(2, 7, 12, seed=75), None,
          padding_mask([7, 4], 7))),
        ("odd sizes (B=3, T=6, S=4, d_model=6, d_ff=10)", 6, 3, 10,
         (_randn(3, 6, 6, seed=76), _randn(3, 4, 6, seed=77), None, None)),
    ]

    def body() -> str:
        with torch.random.fork_rng(devices=[]):
            _run_block_cases(name, cls, cases, norm_first, DecoderBlock,
                             ("self_attn", "cross_attn"), ("norm1", "norm2", "norm3"),
                             _decoder_mistakes)
        return (f"{name} ({_norm_word(norm_first)}) matches the reference on all "
                f"{len(cases)} cases: {_listed(c[0] for c in cases)}; no position "
                "sees the future.")

    return run_check(name, body)
