"""Checks for the attention exercises (days 12 and 13).

* :func:`check_attention` -- scaled dot-product attention with masks (day 12)
* :func:`check_causal_mask` -- the boolean causal mask (day 12)
* :func:`check_split_heads`, :func:`check_merge_heads` -- the head reshapes
  (day 13)
* :func:`check_multi_head_attention` -- a whole multi-head attention module,
  built by the check, given the reference weights and compared (day 13)

Masks follow :data:`helpers.attention.MASK_CONVENTION`: boolean, ``True``
where a query may attend to a key.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from helpers.attention import (
    MultiHeadAttention,
    causal_mask,
    masked_softmax,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    split_heads,
)
from helpers.checks._core import (
    Case,
    Mistake,
    Verdict,
    _Failure,
    call_learner,
    compare,
    diagnose,
    fail,
    run_check,
)

__all__ = [
    "check_attention",
    "check_causal_mask",
    "check_merge_heads",
    "check_multi_head_attention",
    "check_split_heads",
]

ATOL, RTOL = 1e-5, 1e-4


# --------------------------------------------------------------------------
# shared machinery for the checks of this module and of blocks.py


def _randn(*shape, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * scale


def _run_cases(name: str, fn: Callable, cases, reference: Callable, mistakes,
               inspect: Callable | None = None) -> None:
    """Compare ``fn`` with ``reference`` case by case; stop at the first
    disagreement with a verdict that names a known mistake when one fits."""
    for case in cases:
        got = call_learner(name, fn, case.args, case.kwargs, case.label)
        with torch.no_grad():
            expected = reference(*case.args, **case.kwargs)
        if got is None:
            fail(f"{name} returned None on {case.label}; did you forget the "
                 "`return` statement?", "returned_none")
        if inspect is not None:
            inspect(case, got)
        difference = compare(got, expected, ATOL, RTOL)
        if difference is not None:
            diagnose(name, case, got, expected, mistakes, difference, ATOL, RTOL)


def _listed(labels) -> str:
    labels = list(labels)
    return ", ".join(labels[:-1]) + (" and " if len(labels) > 1 else "") + labels[-1]


def _attention_variant(q, k, v, mask=None, *, scale="sqrt_d_k", softmax_dim=-1,
                       mask_mode="keep", empty="zero", weights_out="weights",
                       values="v"):
    """Scaled dot-product attention, right or with one classic mistake.

    ``scale``: ``sqrt_d_k`` (right), ``none``, ``d_k`` or a number to divide
    by; ``mask_mode``: ``keep`` (right), ``inverted``, ``ignored`` or
    ``after_softmax``; ``empty``: ``zero`` (right: rows with no visible key
    get zero weights), ``nan`` (a plain -inf fill) or ``uniform`` (a large
    finite fill, no zeroing); ``weights_out``: ``weights`` or ``scores``;
    ``values``: ``v`` or ``k``. Returns ``(output, weights)``.
    """
    d_k = q.size(-1)
    divisor = {"sqrt_d_k": math.sqrt(d_k), "none": 1.0, "d_k": float(d_k)}.get(
        scale, scale)
    scores = q @ k.transpose(-2, -1) / divisor           # (..., T_q, T_k)
    if mask is not None and mask_mode == "inverted":
        mask = ~mask
    if mask is None or mask_mode == "ignored":
        weights = torch.softmax(scores, dim=softmax_dim)
    elif mask_mode == "after_softmax":
        weights = torch.softmax(scores, dim=softmax_dim) * mask
    elif mask_mode == "zero_fill":
        weights = torch.softmax(scores.masked_fill(~mask, 0.0), dim=softmax_dim)
    elif empty == "nan" or softmax_dim != -1:
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")),
                                dim=softmax_dim)
    elif empty == "uniform":
        low = torch.finfo(scores.dtype).min
        weights = torch.softmax(scores.masked_fill(~mask, low), dim=-1)
    else:
        weights = masked_softmax(scores, mask)
    out = weights @ (v if values == "v" else k)          # (..., T_q, d_v)
    return out, (weights if weights_out == "weights" else scores)


def _mha_variant(attn, query, key, value, mask=None, *, scale="d_head",
                 split="ok", merge="ok", out_proj=True, same_input=False,
                 heads=True, **attention_options):
    """Multi-head attention with the weights of ``attn`` (q_proj, k_proj,
    v_proj, out_proj), right or with one classic mistake. ``scale`` is
    ``d_head`` (right), ``d_model`` or ``none``; ``split``/``merge`` are
    ``ok`` or ``no_transpose``; ``same_input`` attends over the query
    instead of key/value; ``heads=False`` runs one big head. Other options
    go to :func:`_attention_variant`. Returns ``(B, T_q, d_model)``."""
    if same_input:
        key = value = query
    B, T_q, d_model = query.shape
    h = attn.n_heads if heads else 1
    d_head = d_model // h

    def cut(x):                                          # (B, T, d) -> heads
        T = x.shape[1]
        if split == "no_transpose":
            return x.reshape(B, h, T, d_head)            # mixes time and features
        return x.reshape(B, T, h, d_head).transpose(1, 2)  # (B, h, T, d_head)

    q = cut(attn.q_proj(query))                          # (B, h, T_q, d_head)
    k = cut(attn.k_proj(key))                            # (B, h, T_k, d_head)
    v = cut(attn.v_proj(value))                          # (B, h, T_k, d_head)
    real_d_head = d_model // attn.n_heads
    divisor = {"d_head": math.sqrt(d_head), "d_model": math.sqrt(d_model),
               "none": 1.0, "d_head_no_sqrt": float(d_head),
               "real_d_head": math.sqrt(real_d_head)}[scale]
    if mask is not None and mask.dim() == 3:
        mask = mask[:, None]                             # (B, 1, T_q, T_k)
    out, _ = _attention_variant(q, k, v, mask, scale=divisor, **attention_options)
    if merge == "no_transpose":
        out = out.reshape(B, T_q, d_model)               # mixes heads and time
    else:
        out = out.transpose(1, 2).reshape(B, T_q, d_model)  # (B, T_q, d_model)
    return attn.out_proj(out) if out_proj else out


def _with_empty_rows(name: str, message: str, variant, **options):
    """The same mistake twice: once with rows that have no visible key
    giving zeros (a guarded softmax), once giving NaN (a plain -inf fill)."""
    return [Mistake(name, message, impl=variant(**options)),
            Mistake(name, message, impl=variant(empty="nan", **options))]


def _build(name: str, cls, args: tuple, kwargs: dict, label: str) -> nn.Module:
    """Build the learner's module; one friendly sentence if that fails."""
    module = call_learner(name, cls, args, kwargs, label)
    if not isinstance(module, nn.Module):
        shown = ", ".join([repr(a) for a in args]
                          + [f"{k}={v!r}" for k, v in kwargs.items()])
        fail(f"{name}({shown}) should build an nn.Module, but it gave a "
             f"{type(module).__name__}; pass the class itself and make sure "
             "its __init__ calls super().__init__().", "not_a_module")
    return module.eval()


def _part(module: nn.Module, path: str, name: str, hint: str) -> nn.Module:
    """``module.<path>`` or a friendly failure that says what to create."""
    obj = module
    for attr in path.split("."):
        obj = getattr(obj, attr, None)
        if obj is None:
            fail(f"your {name} has no attribute `{path}`; the check copies the "
                 f"reference weights into it, so create it in __init__ as "
                 f"{hint}.", "missing_attribute")
    return obj


def _copy_param(dst, src: torch.Tensor, where: str, name: str) -> None:
    shown = where if " " in where else f"`{where}`"
    if not isinstance(dst, torch.Tensor):
        fail(f"your {name} has no parameter {shown}; build that layer with "
             "its default bias=True.", "missing_parameter")
    if tuple(dst.shape) != tuple(src.shape):
        fail(f"{shown} in your {name} has shape {tuple(dst.shape)} instead of "
             f"{tuple(src.shape)}; check the sizes given to that layer.",
             "wrong_parameter_shape")
    with torch.no_grad():
        dst.copy_(src)


def _copy_linear(dst, src: nn.Linear, where: str, name: str) -> None:
    _copy_param(getattr(dst, "weight", None), src.weight, f"{where}.weight", name)
    _copy_param(getattr(dst, "bias", None), src.bias, f"{where}.bias", name)


def _copy_attention(learner_attn, ref: MultiHeadAttention, where: str,
                    name: str) -> None:
    """Copy ``ref`` into the learner's attention: four projections named
    ``q_proj, k_proj, v_proj, out_proj``, a fused ``qkv_proj``, or a
    ``torch.nn.MultiheadAttention``."""
    if isinstance(learner_attn, nn.MultiheadAttention):
        weight = torch.cat([ref.q_proj.weight, ref.k_proj.weight, ref.v_proj.weight])
        bias = torch.cat([ref.q_proj.bias, ref.k_proj.bias, ref.v_proj.bias])
        _copy_param(learner_attn.in_proj_weight, weight,
                    _join(where, "in_proj_weight"), name)
        _copy_param(learner_attn.in_proj_bias, bias, _join(where, "in_proj_bias"),
                    name)
        _copy_linear(learner_attn.out_proj, ref.out_proj, _join(where, "out_proj"),
                     name)
        return
    hint = "nn.Linear(d_model, d_model)"
    owner = f"{name}'s {where}" if where else name
    if hasattr(learner_attn, "qkv_proj"):
        fused = nn.Linear(ref.d_model, 3 * ref.d_model)
        with torch.no_grad():
            fused.weight.copy_(torch.cat([ref.q_proj.weight, ref.k_proj.weight,
                                          ref.v_proj.weight]))
            fused.bias.copy_(torch.cat([ref.q_proj.bias, ref.k_proj.bias,
                                        ref.v_proj.bias]))
        _copy_linear(learner_attn.qkv_proj, fused, _join(where, "qkv_proj"), name)
    else:
        for proj in ("q_proj", "k_proj", "v_proj"):
            target = _part(learner_attn, proj, owner, hint)
            _copy_linear(target, getattr(ref, proj), _join(where, proj), name)
    target = _part(learner_attn, "out_proj", owner, hint)
    _copy_linear(target, ref.out_proj, _join(where, "out_proj"), name)


def _join(where: str, attr: str) -> str:
    return f"{where}.{attr}" if where else attr


def _first_output(got):
    """A module may return ``output`` or ``(output, weights)``."""
    if isinstance(got, (tuple, list)) and got:
        return got[0]
    return got


# --------------------------------------------------------------------------
# day 12: scaled dot-product attention


_EMPTY_ROW = "a mask that hides every key from query 0"
_LARGE = "large scores (q and k times 10)"


def _attention_cases():
    q2, k2, v2 = (_randn(2, 4, 8, seed=s) for s in (1, 2, 3))
    qc, kc = _randn(1, 3, 4, seed=4), _randn(1, 5, 4, seed=5)
    vc = _randn(1, 5, 6, seed=6)
    qh, kh, vh = (_randn(2, 3, 5, 4, seed=s) for s in (7, 8, 9))
    qp, kp, vp = (_randn(2, 5, 8, seed=s) for s in (10, 11, 12))
    pad = padding_mask([5, 3], 5)[:, 0]                  # (2, 1, 5)
    qm, km, vm = (_randn(2, 6, 8, seed=s) for s in (13, 14, 15))
    ql, kl, vl = (_randn(2, 4, 8, seed=s, scale=10.0) for s in (16, 17, 18))
    qe, ke, ve = (_randn(1, 3, 4, seed=s) for s in (19, 20, 21))
    empty = torch.ones(3, 3, dtype=torch.bool).tril(-1)  # row 0 sees nothing
    return [
        Case((q2, k2, v2), "a batch of 2 (T=4, d_k=8)"),
        Case((qc, kc, vc), "cross-attention in a batch of one (T_q=3, T_k=5, d_v=6)"),
        Case((qh, kh, vh), "inputs with a heads axis (B=2, h=3, T=5, d_k=4)"),
        Case((qp, kp, vp, pad), "a padding mask (lengths 5 and 3)"),
        Case((qm, km, vm, causal_mask(6)), "a causal mask (T=6)"),
        Case((ql, kl, vl), _LARGE),
        Case((qe, ke, ve, empty), _EMPTY_ROW),
    ]


def _attention_reference(q, k, v, mask=None):
    return scaled_dot_product_attention(q, k, v, mask, return_weights=True)


def _not_finite(got) -> bool:
    return any(isinstance(t, torch.Tensor) and not torch.isfinite(t).all()
               for t in (got if isinstance(got, (tuple, list)) else (got,)))


def _attention_mistakes():
    def variant(**options):
        return lambda q, k, v, mask=None: _attention_variant(q, k, v, mask, **options)

    return [
        Mistake("no_scaling", "your scores are not divided by sqrt(d_k): divide "
                "q @ k.transpose(-2, -1) by math.sqrt(d_k), d_k = q.size(-1)",
                impl=variant(scale="none")),
        Mistake("scaled_by_d_k", "your scores are divided by d_k instead of "
                "sqrt(d_k): use math.sqrt(q.size(-1))", impl=variant(scale="d_k")),
        Mistake("softmax_query_axis", "the softmax runs over the query axis "
                "(dim=-2), so columns sum to 1; use dim=-1 so each query's "
                "weights over the keys sum to 1", impl=variant(softmax_dim=-2)),
        Mistake("returned_scores", "the second value you return holds the scores "
                "before the softmax; return the weights (after the softmax)",
                impl=variant(weights_out="scores")),
        Mistake("weights_times_keys", "your output multiplies the weights by k; "
                "the output is the weighted average of the values v",
                impl=variant(values="k")),
        *_with_empty_rows(
            "inverted_mask", "your mask is inverted: in this course True means "
            "the query may attend, so hide the scores where the mask is False "
            "(masked_fill(~mask, ...) or masked_fill(mask == 0, ...))",
            variant, mask_mode="inverted"),
        Mistake("padding_attended", "masked keys (padding or future positions) "
                "still receive attention: fill the scores where the mask is False "
                "with -inf before the softmax", impl=variant(mask_mode="ignored")),
        Mistake("masked_with_zero", "you set hidden scores to 0, but a score of 0 "
                "still gets weight exp(0) in the softmax: fill them with a very "
                "negative number such as torch.finfo(scores.dtype).min instead",
                impl=variant(mask_mode="zero_fill")),
        Mistake("mask_after_softmax", "you zero the masked weights after the "
                "softmax, so the rows no longer sum to 1: mask the scores before "
                "the softmax instead", impl=variant(mask_mode="after_softmax")),
        Mistake("overflow", "exp overflows on large scores: use torch.softmax, or "
                "subtract each row's maximum before exp",
                when=lambda case, got, exp: case.label == _LARGE and _not_finite(got)),
        Mistake("fully_masked_nan", "a query whose keys are all masked gives NaN "
                "(a softmax over a row of -inf computes 0/0): fill hidden scores "
                "with torch.finfo(scores.dtype).min instead of -inf, then set the "
                "weights of hidden keys to 0 with masked_fill(~mask, 0.0)",
                when=lambda case, got, exp: case.label == _EMPTY_ROW
                and _not_finite(got)),
        Mistake("fully_masked_uniform", "a query whose keys are all masked gets "
                "equal weights on hidden keys; the course gives such a row zero "
                "weights (and a zero output): after the softmax, set the weights "
                "of hidden keys to 0 with masked_fill(~mask, 0.0)",
                impl=variant(empty="uniform")),
    ]


def check_attention(fn: Callable) -> Verdict:
    """Check scaled dot-product attention with masks (day 12).

    ``fn(q, k, v, mask=None)`` takes ``q`` ``(..., T_q, d_k)``, ``k``
    ``(..., T_k, d_k)``, ``v`` ``(..., T_k, d_v)`` and an optional boolean
    mask (``True`` = may attend) broadcasting to ``(..., T_q, T_k)``, and
    returns ``(output, weights)`` of shapes ``(..., T_q, d_v)`` and
    ``(..., T_q, T_k)``. The mask is passed as the fourth positional argument.

    Cases: a batch, cross-attention in a batch of one, a heads axis, a
    padding mask, a causal mask, large scores, and a query with every key
    hidden (its weights and output must be zero, with finite gradients).
    Named mistakes: ``no_scaling``, ``scaled_by_d_k``,
    ``softmax_query_axis``, ``returned_scores``, ``weights_times_keys``,
    ``inverted_mask``, ``padding_attended``, ``masked_with_zero``,
    ``mask_after_softmax``,
    ``overflow``, ``fully_masked_nan``, ``fully_masked_uniform``,
    ``fully_masked_nan_grad``, plus ``missing_weights`` and ``no_gradient``.
    Introduced on day 12.
    """
    name = "attention"
    cases = _attention_cases()

    def inspect(case, got):
        if isinstance(got, torch.Tensor):
            fail(f"{name} returned one tensor on {case.label}; return both the "
                 "output and the weights: `return out, weights`.", "missing_weights")

    def body() -> str:
        _run_cases(name, fn, cases, _attention_reference, _attention_mistakes(),
                   inspect)
        _check_empty_row_gradients(name, fn, cases[-1])
        return (f"{name} is correct on all {len(cases)} cases: "
                f"{_listed(c.label for c in cases)}; gradients stay finite.")

    return run_check(name, body)


def _check_empty_row_gradients(name: str, fn: Callable, case: Case) -> None:
    q, k, v, mask = (t.clone() for t in case.args)
    for t in (q, k, v):
        t.requires_grad_(True)
    got = call_learner(name, lambda: fn(q, k, v, mask), label=case.label)
    out = _first_output(got)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        fail(f"no gradient flows through {name} on {case.label}; avoid "
             ".detach(), .item(), numpy and torch.no_grad() inside it.",
             "no_gradient")
    weight = _randn(*out.shape, seed=99)
    grads = torch.autograd.grad((out * weight).sum(), (q, k, v), allow_unused=True)
    missing = [n for n, g in zip("qkv", grads) if g is None]
    if missing:
        fail(f"no gradient reaches {' and '.join(missing)} through {name} on "
             f"{case.label}, so those projections could never learn; remove the "
             ".detach() (or .data) from the path that uses them.", "no_gradient")
    if any(g is not None and not torch.isfinite(g).all() for g in grads):
        fail(f"{name} gives the right values on {case.label}, but its gradients "
             "are NaN: a softmax over a row of -inf is NaN, and zeroing it "
             "afterwards does not fix the backward pass; fill hidden scores with "
             "torch.finfo(scores.dtype).min instead of -inf, then zero the hidden "
             "weights.", "fully_masked_nan_grad")


# --------------------------------------------------------------------------
# day 12: the causal mask


def _causal_mistakes():
    def ones(T):
        return torch.ones(T, T, dtype=torch.bool)

    def is_float_mask(case, got, expected):
        return (isinstance(got, torch.Tensor) and got.is_floating_point()
                and torch.isneginf(got).any())

    return [
        Mistake("pytorch_float_mask", "your mask is PyTorch's additive float mask "
                "(0 and -inf); the course's masks are boolean, True where a query "
                "may attend: torch.ones(T, T, dtype=torch.bool).tril()",
                when=is_float_mask),
        Mistake("causal_excludes_diagonal", "your causal mask hides each position "
                "from itself (the diagonal is False); position t must see 0..t, so "
                "use tril() with diagonal=0", impl=lambda T: ones(T).tril(-1)),
        Mistake("causal_sees_next", "your causal mask lets position t see position "
                "t+1 (e.g. position 2 sees position 3); use tril() with diagonal=0",
                impl=lambda T: ones(T).tril(1)),
        Mistake("inverted_mask", "your mask is True where attention is blocked "
                "(the convention of nn.MultiheadAttention); in this course True "
                "means the query may attend, so keep the lower triangle: tril()",
                impl=lambda T: ones(T).triu(1)),
        Mistake("sees_future", "your mask is transposed: row t (the query) must "
                "allow columns 0..t, the lower triangle (tril), not the upper one",
                impl=lambda T: ones(T).triu()),
        Mistake("no_mask", "your mask hides nothing; keep only the lower triangle "
                "with tril()", impl=ones),
    ]


def check_causal_mask(fn: Callable) -> Verdict:
    """Check a causal mask builder (day 12).

    ``fn(T)`` returns a boolean ``(T, T)`` tensor, ``True`` where query ``t``
    (row) may attend to key ``s`` (column), i.e. for ``s <= t``.
    Named mistakes: ``causal_excludes_diagonal``, ``causal_sees_next``,
    ``inverted_mask``, ``sees_future``, ``no_mask``, ``pytorch_float_mask``
    and, when the values are right but the dtype is not bool, ``not_bool``.
    Introduced on day 12.
    """
    name = "causal_mask"
    cases = [Case((4,), "T=4"), Case((1,), "a single position (T=1)"),
             Case((7,), "T=7"), Case((12,), "a longer sequence (T=12)")]

    def inspect(case, got):
        if not isinstance(got, torch.Tensor):
            fail(f"{name} returned a {type(got).__name__} on {case.label}; return "
                 "a boolean torch tensor, e.g. torch.ones(T, T, dtype=torch.bool)"
                 ".tril().", "not_tensor")

    def body() -> str:
        _run_cases(name, fn, cases, causal_mask, _causal_mistakes(), inspect)
        got = call_learner(name, fn, (5,), label="T=5")
        if isinstance(got, torch.Tensor) and got.dtype != torch.bool:
            fail(f"{name} has the right pattern but dtype {got.dtype}; course "
                 "masks are boolean (True = may attend): build it with "
                 "dtype=torch.bool or add .bool().", "not_bool")
        return (f"{name} is correct on {_listed(c.label for c in cases)}: each "
                "position sees itself and the past, never the future.")

    return run_check(name, body)


# --------------------------------------------------------------------------
# day 13: splitting and merging heads


def _arange(*shape) -> torch.Tensor:
    return torch.arange(math.prod(shape), dtype=torch.float32).reshape(shape)


def _split_mistakes():
    def no_transpose(x, h):
        B, T, d = x.shape
        return x.reshape(B, h, T, d // h)

    def heads_not_moved(x, h):
        B, T, d = x.shape
        return x.reshape(B, T, h, d // h)

    def interleaved(x, h):
        B, T, d = x.shape
        return x.reshape(B, T, d // h, h).permute(0, 3, 1, 2)

    return [
        Mistake("split_without_transpose", "you reshaped straight to (B, n_heads, "
                "T, d_head), which mixes positions with features; reshape to "
                "(B, T, n_heads, d_head) first, then transpose(1, 2)",
                impl=no_transpose),
        Mistake("heads_not_moved", "your result is (B, T, n_heads, d_head); "
                "transpose(1, 2) to bring the heads axis before time",
                impl=heads_not_moved),
        Mistake("interleaved_heads", "each of your heads takes every n_heads-th "
                "feature instead of a block of d_head neighbours; reshape to "
                "(B, T, n_heads, d_head), not (B, T, d_head, n_heads)",
                impl=interleaved),
    ]


def check_split_heads(fn: Callable) -> Verdict:
    """Check the head split (day 13).

    ``fn(x, n_heads)`` takes ``x`` ``(B, T, d_model)`` and returns
    ``(B, n_heads, T, d_head)``, head ``h`` holding features
    ``h * d_head .. (h + 1) * d_head - 1``. Named mistakes:
    ``split_without_transpose``, ``heads_not_moved``, ``interleaved_heads``.
    Introduced on day 13.
    """
    name = "split_heads"
    cases = [Case((_arange(2, 5, 12), 3), "B=2, T=5, d_model=12, 3 heads"),
             Case((_arange(1, 1, 8), 2), "a batch of one with one position"),
             Case((_arange(2, 3, 6), 6), "six heads of size 1"),
             Case((_arange(3, 4, 8), 1), "a single head")]

    def body() -> str:
        _run_cases(name, fn, cases, split_heads, _split_mistakes())
        return f"{name} is correct on {_listed(c.label for c in cases)}."

    return run_check(name, body)


def _merge_mistakes():
    def no_transpose(x):
        B, h, T, d_head = x.shape
        return x.reshape(B, T, h * d_head)

    def interleaved(x):
        B, h, T, d_head = x.shape
        return x.permute(0, 2, 3, 1).reshape(B, T, h * d_head)

    def not_reshaped(x):
        return x.transpose(1, 2)

    return [
        Mistake("merged_without_transpose", "you merged the heads with a reshape "
                "but no transpose, which mixes positions; transpose(1, 2) to "
                "(B, T, n_heads, d_head) before reshaping to (B, T, d_model)",
                impl=no_transpose),
        Mistake("interleaved_heads", "your merge interleaves the heads' features; "
                "after transpose(1, 2) the shape is (B, T, n_heads, d_head), so a "
                "plain reshape puts each head's block side by side",
                impl=interleaved),
        Mistake("not_reshaped", "your result still has a heads axis; reshape "
                "(B, T, n_heads, d_head) to (B, T, n_heads * d_head)",
                impl=not_reshaped),
    ]


def check_merge_heads(fn: Callable) -> Verdict:
    """Check the head merge (day 13).

    ``fn(x)`` takes ``x`` ``(B, n_heads, T, d_head)`` and returns
    ``(B, T, n_heads * d_head)``, undoing the split. Named mistakes:
    ``merged_without_transpose``, ``interleaved_heads``, ``not_reshaped``,
    and ``view_after_transpose`` when ``.view`` meets non-contiguous memory.
    Introduced on day 13.
    """
    name = "merge_heads"
    cases = [Case((_arange(2, 3, 5, 4),), "B=2, 3 heads, T=5, d_head=4"),
             Case((_arange(1, 2, 1, 4),), "a batch of one with one position"),
             Case((_arange(2, 6, 3, 1),), "six heads of size 1"),
             Case((_arange(3, 1, 4, 8),), "a single head")]

    def body() -> str:
        try:
            _run_cases(name, fn, cases, merge_heads, _merge_mistakes())
        except _Failure as failure:
            verdict = failure.verdict
            if verdict.mistake == "exception" and "view size" in verdict.message:
                fail(f"{name} calls .view on a transposed tensor, whose memory is "
                     "no longer contiguous; use .reshape(...) or call "
                     ".contiguous() before .view(...).", "view_after_transpose")
            raise
        return f"{name} is correct on {_listed(c.label for c in cases)}."

    return run_check(name, body)


# --------------------------------------------------------------------------
# day 13: the multi-head attention module


def _reference_mha(d_model: int, n_heads: int, seed: int) -> MultiHeadAttention:
    torch.manual_seed(seed)
    return MultiHeadAttention(d_model, n_heads).eval()


def _mha_cases():
    """(label, d_model, n_heads, query, key, value, mask)."""
    x = _randn(2, 5, 8, seed=30)
    q1, kv1 = _randn(1, 3, 12, seed=31), _randn(1, 6, 12, seed=32)
    xp = _randn(2, 5, 8, seed=33)
    xc = _randn(2, 6, 8, seed=34)
    x1 = _randn(2, 3, 6, seed=35)
    return [
        ("self-attention (B=2, T=5, d_model=8, 2 heads)", 8, 2, x, x, x, None),
        ("cross-attention in a batch of one (T_q=3, T_k=6, 3 heads)", 12, 3,
         q1, kv1, kv1, None),
        ("a padding mask (lengths 5 and 2)", 8, 2, xp, xp, xp,
         padding_mask([5, 2], 5)),
        ("a causal mask with 4 heads", 8, 4, xc, xc, xc, causal_mask(6)),
        ("a single head (d_model=6)", 6, 1, x1, x1, x1, None),
    ]


def _mha_mistakes(ref: MultiHeadAttention):
    def variant(**options):
        return lambda query, key, value, mask=None: _mha_variant(
            ref, query, key, value, mask, **options)

    return [
        Mistake("scaled_by_d_model", "your scores are divided by sqrt(d_model); "
                "each head's dot product has d_head = d_model // n_heads terms, so "
                "divide by sqrt(d_head)", impl=variant(scale="d_model")),
        Mistake("no_scaling", "your scores are not divided by sqrt(d_head)",
                impl=variant(scale="none")),
        Mistake("scaled_by_d_head", "your scores are divided by d_head instead "
                "of sqrt(d_head): use math.sqrt(d_model // n_heads)",
                impl=variant(scale="d_head_no_sqrt")),
        Mistake("heads_not_split", "your module runs one attention over all "
                "d_model features; split q, k and v into n_heads heads of size "
                "d_head before computing the scores",
                impl=variant(heads=False, scale="d_model")),
        Mistake("heads_not_split", "your module runs one attention over all "
                "d_model features; split q, k and v into n_heads heads of size "
                "d_head before computing the scores",
                impl=variant(heads=False, scale="real_d_head")),
        Mistake("split_without_transpose", "you split the heads with a reshape "
                "straight to (B, n_heads, T, d_head), which mixes positions; "
                "reshape to (B, T, n_heads, d_head), then transpose(1, 2)",
                impl=variant(split="no_transpose")),
        Mistake("merged_without_transpose", "you merged the heads without a "
                "transpose, which mixes positions; transpose(1, 2) back to "
                "(B, T, n_heads, d_head) before reshaping to (B, T, d_model)",
                impl=variant(merge="no_transpose")),
        Mistake("softmax_query_axis", "the softmax runs over the query axis; use "
                "dim=-1 so each query's weights over the keys sum to 1",
                impl=variant(softmax_dim=-2)),
        Mistake("missing_output_projection", "the merged heads are returned "
                "without out_proj; finish with self.out_proj(merged)",
                impl=variant(out_proj=False)),
        Mistake("ignores_key_value", "your forward attends over the query and "
                "ignores the key and value arguments; project key with k_proj and "
                "value with v_proj (they differ in cross-attention)",
                impl=variant(same_input=True)),
        *_with_empty_rows(
            "inverted_mask", "your mask is inverted: True means the query may "
            "attend, so hide the scores where the mask is False",
            variant, mask_mode="inverted"),
        Mistake("padding_attended", "masked keys (padding or future positions) "
                "still receive attention: pass the mask on to the attention "
                "and fill hidden scores with -inf", impl=variant(mask_mode="ignored")),
    ]


def check_multi_head_attention(cls) -> Verdict:
    """Check a multi-head attention module (day 13).

    The check builds ``cls(d_model, n_heads)``, copies the reference weights
    into four ``nn.Linear(d_model, d_model)`` layers (with biases) named
    ``q_proj``, ``k_proj``, ``v_proj`` and ``out_proj``, switches it to eval
    mode and calls ``module(query, key, value)`` or
    ``module(query, key, value, mask)`` with ``query`` ``(B, T_q, d_model)``,
    ``key``/``value`` ``(B, T_k, d_model)`` and a boolean mask broadcasting
    to ``(B, n_heads, T_q, T_k)``. The output ``(B, T_q, d_model)`` (or the
    first item of a returned tuple) must match, scaled by
    ``1 / sqrt(d_head)``. Named mistakes: ``scaled_by_d_model``,
    ``no_scaling``, ``scaled_by_d_head``, ``heads_not_split``,
    ``split_without_transpose``, ``merged_without_transpose``, ``softmax_query_axis``,
    ``missing_output_projection``, ``ignores_key_value``, ``inverted_mask``,
    ``padding_attended``; ``missing_attribute`` and ``wrong_parameter_shape``
    when the weights cannot be copied. Introduced on day 13.
    """
    name = "MultiHeadAttention"
    cases = _mha_cases()

    def body() -> str:
        with torch.random.fork_rng(devices=[]):
            _run_mha_cases(name, cls, cases)
        return (f"{name} matches the reference on all {len(cases)} cases: "
                f"{_listed(c[0] for c in cases)}.")

    return run_check(name, body)


def _run_mha_cases(name: str, cls, cases) -> None:
    for i, (label, d_model, n_heads, query, key, value, mask) in enumerate(cases):
        ref = _reference_mha(d_model, n_heads, seed=40 + i)
        module = _build(name, cls, (d_model, n_heads), {}, label)
        _copy_attention(module, ref, "", name)
        args = (query, key, value) + (() if mask is None else (mask,))
        got = _first_output(call_learner(name, module, args, label=label))
        with torch.no_grad():
            expected = ref(query, key, value, mask=mask)
        if got is None:
            fail(f"{name}.forward returned None on {label}; did you forget "
                 "the `return` statement?", "returned_none")
        difference = compare(got, expected, ATOL, RTOL)
        if difference is not None:
            case = Case((query, key, value, mask), label)
            diagnose(name, case, got, expected, _mha_mistakes(ref), difference,
                     ATOL, RTOL)
