"""Checks for day 15: counting parameters and FLOPs from the sizes alone.

* :func:`check_attention_params` -- ``attention_params(d_model, n_heads,
  bias=True)``, the parameters of one multi-head attention layer
* :func:`check_feed_forward_params` -- ``feed_forward_params(d_model, d_ff,
  bias=True)``, the parameters of the position-wise feed-forward network
* :func:`check_attention_flops` -- ``attention_flops(T, d_model)``, the FLOPs
  of one self-attention layer (2 FLOPs per multiply-add)

Each answer is a whole number, compared exactly with the reference in
:mod:`helpers.model_stats` on sizes that separate the classic mistakes:
counting the shared projections once per head, forgetting biases or the
output projection, using ``d_model`` where ``d_ff`` belongs, dropping the
quadratic score term, or counting one FLOP per multiply-add.
"""

from __future__ import annotations

import math
from numbers import Number
from typing import Callable, Sequence

from helpers import model_stats as ref
from helpers.checks._core import (
    Case,
    Difference,
    Mistake,
    Verdict,
    call_learner,
    compare,
    diagnose,
    fail,
    run_check,
)

__all__ = ["check_attention_flops", "check_attention_params",
           "check_feed_forward_params"]


# --------------------------------------------------------------------------
# the shared machinery: whole-number answers


def _as_number(value):
    """The learner's answer as a Python number, or ``None`` when it is not a
    single number (a 0-d tensor or a NumPy scalar is fine)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Number):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return None


def _fmt_count(x) -> str:
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    return f"{x:,}" if isinstance(x, int) else f"{x:,.4g}"


def _check_count(name: str, fn: Callable, cases: Sequence[Case],
                 reference: Callable, mistakes: Sequence[Mistake],
                 success: str) -> Verdict:
    """Like :func:`~helpers.checks._core.check_function`, for answers that
    are one whole number: the type is checked first and the comparison is
    exact."""

    def body() -> str:
        for case in cases:
            got = call_learner(name, fn, case.args, case.kwargs, case.label)
            expected = reference(*case.args, **case.kwargs)
            if got is None:
                fail(f"{name} returned None on {case.label}; did you forget the "
                     "`return` statement?", "returned_none")
            number = _as_number(got)
            if number is None:
                fail(f"{name} returned a {type(got).__name__} on {case.label}; "
                     "return one whole number (an int).",
                     "type")
            if isinstance(number, float) and not math.isfinite(number):
                fail(f"{name} returned {number} on {case.label}, where the right "
                     f"count is {expected:,}; look for a division by zero.", "nan")
            if compare(number, expected, atol=0.5, rtol=0.0) is not None:
                difference = Difference(
                    "values", f"the count is {_fmt_count(number)} but should be "
                              f"{_fmt_count(expected)}")
                diagnose(name, case, number, expected, mistakes, difference,
                         atol=0.5, rtol=0.0)
        return success

    return run_check(name, body)


# --------------------------------------------------------------------------
# attention parameters


def _proj(d, bias):
    return d * d + (d if bias else 0)


ATTENTION_PARAMS_MISTAKES = [
    Mistake("heads_multiplied",
            "you count the projections once per head; the heads share the four "
            "d_model x d_model matrices (each head reads a d_head-wide slice), "
            "so the count does not depend on n_heads: 4 * d_model**2 + "
            "4 * d_model with biases",
            impl=lambda d, h, bias=True: h * 4 * _proj(d, bias)),
    Mistake("heads_multiplied",
            "you give every head its own full d_model x d_model query, key and "
            "value matrices; the heads share them (each reads a d_head-wide "
            "slice), so the count is 4 * d_model**2 + 4 * d_model whatever "
            "n_heads is",
            impl=lambda d, h, bias=True: 3 * h * _proj(d, bias) + _proj(d, bias)),
    Mistake("one_head_only",
            "you count a single head's d_model x d_head slice of each "
            "projection; the matrices are d_model x d_model, all heads "
            "together, so the count is 4 * d_model**2 + 4 * d_model",
            impl=lambda d, h, bias=True: 4 * (d * (d // h)
                                              + ((d // h) if bias else 0))),
    Mistake("no_output_projection",
            "you count the query, key and value projections but not the output "
            "projection W_O, a fourth d_model x d_model matrix with d_model "
            "biases",
            impl=lambda d, h, bias=True: 3 * _proj(d, bias)),
    Mistake("no_bias",
            "you left out the biases: with bias=True each of the four "
            "projections has d_model of them, so add 4 * d_model",
            impl=lambda d, h, bias=True: 4 * d * d),
    Mistake("bias_flag_ignored",
            "you count biases even when bias=False; add the 4 * d_model biases "
            "only when `bias` is True",
            impl=lambda d, h, bias=True: 4 * _proj(d, True)),
]


def check_attention_params(fn: Callable) -> Verdict:
    """Check ``fn(d_model, n_heads, bias=True)`` against
    :func:`helpers.model_stats.attention_params` (day 15).

    Cases: (64, 4), the base model's (512, 8), odd sizes (6, 3), a single
    head (10, 1), ``bias=False`` on (48, 6) and a wide (4096, 32). Names
    ``heads_multiplied``, ``one_head_only``, ``no_output_projection``,
    ``no_bias`` and ``bias_flag_ignored``.
    """
    cases = [
        Case((64, 4), "d_model=64, n_heads=4"),
        Case((512, 8), "the base model's d_model=512, n_heads=8"),
        Case((6, 3), "odd sizes d_model=6, n_heads=3"),
        Case((10, 1), "a single head, d_model=10"),
        Case((48, 6), "d_model=48, n_heads=6 with bias=False", {"bias": False}),
        Case((4096, 32), "a wide layer, d_model=4096, n_heads=32"),
    ]
    return _check_count(
        "attention_params", fn, cases, ref.attention_params,
        ATTENTION_PARAMS_MISTAKES,
        success="attention_params is right: 4 * d_model**2 + 4 * d_model with "
                "biases, the same for 1 head or 32, and 4 * d_model**2 without.")


# --------------------------------------------------------------------------
# feed-forward parameters


FEED_FORWARD_PARAMS_MISTAKES = [
    Mistake("d_model_for_d_ff",
            "you use d_model as the hidden width; the first layer maps d_model "
            "to d_ff units and the second maps d_ff back to d_model",
            impl=lambda d, f, bias=True: 2 * _proj(d, bias)),
    Mistake("one_layer",
            "you count only one of the two layers; the network is d_model -> "
            "d_ff -> d_model, two weight matrices of d_model * d_ff each",
            impl=lambda d, f, bias=True: d * f + (f if bias else 0)),
    Mistake("one_layer",
            "you count only one of the two layers; the network is d_model -> "
            "d_ff -> d_model, two weight matrices of d_model * d_ff each",
            impl=lambda d, f, bias=True: d * f + (d if bias else 0)),
    Mistake("bias_sizes",
            "your biases have the wrong sizes: the first layer has one per "
            "hidden unit (d_ff) and the second one per output (d_model), "
            "d_ff + d_model in all",
            impl=lambda d, f, bias=True: 2 * d * f + (2 * f if bias else 0)),
    Mistake("bias_sizes",
            "your biases have the wrong sizes: the first layer has one per "
            "hidden unit (d_ff) and the second one per output (d_model), "
            "d_ff + d_model in all",
            impl=lambda d, f, bias=True: 2 * d * f + (2 * d if bias else 0)),
    Mistake("no_bias",
            "you left out the biases: with bias=True the two layers add d_ff + "
            "d_model of them",
            impl=lambda d, f, bias=True: 2 * d * f),
    Mistake("bias_flag_ignored",
            "you count biases even when bias=False; add d_ff + d_model only "
            "when `bias` is True",
            impl=lambda d, f, bias=True: 2 * d * f + f + d),
]


def check_feed_forward_params(fn: Callable) -> Verdict:
    """Check ``fn(d_model, d_ff, bias=True)`` against
    :func:`helpers.model_stats.feed_forward_params` (day 15).

    Cases: (8, 32), the base model's (512, 2048), odd sizes (5, 7), a
    narrow hidden layer (12, 3), ``bias=False`` on (12, 40) and a wide
    (4096, 16384). Names ``d_model_for_d_ff``, ``one_layer``,
    ``bias_sizes``, ``no_bias`` and ``bias_flag_ignored``.
    """
    cases = [
        Case((8, 32), "d_model=8, d_ff=32"),
        Case((512, 2048), "the base model's d_model=512, d_ff=2048"),
        Case((5, 7), "odd sizes d_model=5, d_ff=7"),
        Case((12, 3), "a hidden layer narrower than the input, (12, 3)"),
        Case((12, 40), "d_model=12, d_ff=40 with bias=False", {"bias": False}),
        Case((4096, 16384), "a wide layer, d_model=4096, d_ff=16384"),
    ]
    return _check_count(
        "feed_forward_params", fn, cases, ref.feed_forward_params,
        FEED_FORWARD_PARAMS_MISTAKES,
        success="feed_forward_params is right: 2 * d_model * d_ff weights plus "
                "d_ff + d_model biases, and no biases when bias=False.")


# --------------------------------------------------------------------------
# attention FLOPs


ATTENTION_FLOPS_MISTAKES = [
    Mistake("macs_not_flops",
            "your count is half the right one: you count one FLOP per "
            "multiply-add, but this course counts 2 (a multiply and an add), "
            "so an (m, k) @ (k, n) product costs 2 * m * k * n",
            impl=lambda T, d: ref.attention_flops(T, d) // 2),
    Mistake("no_t_squared",
            "you count the four projections but not the attention itself: the "
            "scores Q K^T and the weighted sum weights @ V cost 2 * T * T * "
            "d_model each, the term that grows with T**2",
            impl=lambda T, d: 8 * T * d * d),
    Mistake("no_weighted_sum",
            "you count the scores Q K^T but not the weighted sum weights @ V, "
            "a (T, T) @ (T, d_model) product per batch element, another "
            "2 * T**2 * d_model",
            impl=lambda T, d: 8 * T * d * d + 2 * T * T * d),
    Mistake("no_projections",
            "you count only the T**2 terms; the four projections (Q, K, V and "
            "the output) add 4 * 2 * T * d_model**2",
            impl=lambda T, d: 4 * T * T * d),
    Mistake("no_output_projection",
            "you forgot the output projection W_O, a fourth (T, d_model) @ "
            "(d_model, d_model) product worth 2 * T * d_model**2",
            impl=lambda T, d: 6 * T * d * d + 4 * T * T * d),
]


def check_attention_flops(fn: Callable) -> Verdict:
    """Check ``fn(T, d_model)`` against
    :func:`helpers.model_stats.attention_flops` for self-attention (day 15).

    Cases: T=10 with d_model=64, a single position, odd sizes (7, 12), a long
    sequence (4096, 512) and a wide layer (512, 4096). Names
    ``macs_not_flops``, ``no_t_squared``, ``no_weighted_sum``,
    ``no_projections`` and ``no_output_projection``.
    """
    cases = [
        Case((10, 64), "T=10, d_model=64"),
        Case((1, 16), "a single position, T=1, d_model=16"),
        Case((7, 12), "odd sizes T=7, d_model=12"),
        Case((4096, 512), "a long sequence, T=4096, d_model=512"),
        Case((512, 4096), "a wide layer, T=512, d_model=4096"),
    ]
    return _check_count(
        "attention_flops", fn, cases, ref.attention_flops,
        ATTENTION_FLOPS_MISTAKES,
        success="attention_flops is right: 8 * T * d_model**2 for the four "
                "projections plus 4 * T**2 * d_model for scores and weighted "
                "sum, at 2 FLOPs per multiply-add.")
