"""Checks for day 19: the position-wise feed-forward network.

* :func:`check_feed_forward` -- ``feed_forward(x, W1, b1, W2, b2)``, the
  ReLU network of the 2017 paper
* :func:`check_swiglu` -- ``swiglu(x, W, V, W2)``, the gated variant
* :func:`check_ffn_param_count` -- ``ffn_param_count(d_model, d_ff,
  activation, bias)``

Weights follow the math of the day: ``x @ W1`` with ``W1`` of shape
``(d_model, d_ff)``, the transpose of ``nn.Linear.weight``. The references
are the course's :class:`helpers.transformer.FeedForward` with the weights
copied in. Cases include a square layer (``d_ff == d_model``, where a
transposed weight still runs and gives wrong numbers), ``(B, T, C)`` and
``(T, C)`` inputs, a batch of one and odd sizes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from helpers.checks._core import Case, Mistake, Verdict, check_function
from helpers.transformer import FeedForward

__all__ = ["check_feed_forward", "check_ffn_param_count", "check_swiglu"]

ATOL, RTOL = 1e-5, 1e-4


def _randn(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g)


def _module(W1, b1, W2, b2, activation="relu", gate=None) -> FeedForward:
    d_model, d_ff = W1.shape
    ff = FeedForward(d_model, d_ff, activation, bias=b1 is not None)
    with torch.no_grad():
        ff.linear1.weight.copy_(W1.T)                           # (d_ff, d_model)
        ff.linear2.weight.copy_(W2.T)                           # (d_model, d_ff)
        if b1 is not None:
            ff.linear1.bias.copy_(b1)
            ff.linear2.bias.copy_(b2)
        if gate is not None:
            ff.gate.weight.copy_(gate.T)                        # (d_ff, d_model)
    return ff


# --------------------------------------------------------------------------
# feed_forward


def _reference_feed_forward(x, W1, b1, W2, b2):
    return _module(W1, b1, W2, b2)(x)


def _ffn(x, W1, b1, W2, b2, act=F.relu, last=None):
    h = act(x @ W1 + b1)                                        # (..., d_ff)
    y = h @ W2 + b2                                             # (..., d_model)
    return y if last is None else last(y)


FEED_FORWARD_MISTAKES = [
    Mistake("missing_activation",
            "your network has no ReLU between the two layers, so it collapses "
            "into one linear map; compute `relu(x @ W1 + b1) @ W2 + b2`",
            impl=lambda x, W1, b1, W2, b2: _ffn(x, W1, b1, W2, b2,
                                                act=lambda h: h)),
    Mistake("activation_after_second_layer",
            "the ReLU sits after the second layer; it belongs between the "
            "two: `relu(x @ W1 + b1) @ W2 + b2`, with nothing after W2",
            impl=lambda x, W1, b1, W2, b2: _ffn(x, W1, b1, W2, b2,
                                                act=lambda h: h, last=F.relu)),
    Mistake("activation_after_second_layer",
            "you apply a ReLU after the second layer as well; the output "
            "`h @ W2 + b2` must stay unclipped so it can be negative",
            impl=lambda x, W1, b1, W2, b2: _ffn(x, W1, b1, W2, b2, last=F.relu)),
    Mistake("weights_transposed",
            "your weights are used transposed; with W1 of shape (d_model, "
            "d_ff) compute `x @ W1` (not `x @ W1.T`), and likewise `h @ W2`",
            impl=lambda x, W1, b1, W2, b2: F.relu(x @ W1.T + b1) @ W2.T + b2),
    Mistake("weights_transposed",
            "the first weight is used transposed; with W1 of shape (d_model, "
            "d_ff) compute `x @ W1`",
            impl=lambda x, W1, b1, W2, b2: F.relu(x @ W1.T + b1) @ W2 + b2),
    Mistake("weights_transposed",
            "the second weight is used transposed; with W2 of shape (d_ff, "
            "d_model) compute `h @ W2`",
            impl=lambda x, W1, b1, W2, b2: F.relu(x @ W1 + b1) @ W2.T + b2),
    Mistake("bias_after_activation",
            "you add b1 after the ReLU; it belongs inside, "
            "`relu(x @ W1 + b1)`",
            impl=lambda x, W1, b1, W2, b2: (F.relu(x @ W1) + b1) @ W2 + b2),
    Mistake("missing_bias",
            "a bias is missing; compute `relu(x @ W1 + b1) @ W2 + b2`",
            impl=lambda x, W1, b1, W2, b2: F.relu(x @ W1) @ W2 + b2),
    Mistake("missing_bias",
            "the output bias b2 is missing; compute "
            "`relu(x @ W1 + b1) @ W2 + b2`",
            impl=lambda x, W1, b1, W2, b2: F.relu(x @ W1 + b1) @ W2),
    Mistake("wrong_activation",
            "you use GELU; the network of this exercise (the 2017 paper's) "
            "uses ReLU, `torch.relu(x @ W1 + b1)`",
            impl=lambda x, W1, b1, W2, b2: _ffn(x, W1, b1, W2, b2, act=F.gelu)),
    Mistake("wrong_activation",
            "you use a sigmoid or tanh; the network of this exercise uses "
            "ReLU, `torch.relu(x @ W1 + b1)`",
            impl=lambda x, W1, b1, W2, b2: _ffn(x, W1, b1, W2, b2,
                                                act=torch.sigmoid)),
    Mistake("wrong_activation",
            "you use a sigmoid or tanh; the network of this exercise uses "
            "ReLU, `torch.relu(x @ W1 + b1)`",
            impl=lambda x, W1, b1, W2, b2: _ffn(x, W1, b1, W2, b2,
                                                act=torch.tanh)),
]


def _weights(d_model: int, d_ff: int, seed: int):
    W1 = _randn(d_model, d_ff, seed=seed, scale=d_model ** -0.5)
    b1 = _randn(d_ff, seed=seed + 1, scale=0.3)
    W2 = _randn(d_ff, d_model, seed=seed + 2, scale=d_ff ** -0.5)
    b2 = _randn(d_model, seed=seed + 3, scale=0.3)
    return W1, b1, W2, b2


def _feed_forward_cases() -> list[Case]:
    return [
        Case((_randn(2, 3, 6, seed=1), *_weights(6, 6, 2)),
             "a square layer, d_model = d_ff = 6"),
        Case((_randn(2, 5, 4, seed=10), *_weights(4, 16, 11)),
             "a (B, T, C) = (2, 5, 4) batch with d_ff = 4 * d_model"),
        Case((_randn(1, 1, 8, seed=20), *_weights(8, 32, 21)),
             "a batch of one (1, 1, 8)"),
        Case((_randn(7, 3, seed=30), *_weights(3, 5, 31)),
             "odd sizes: a (T, C) = (7, 3) input with d_ff = 5"),
        Case((_randn(2, 4, 6, seed=40, scale=100.0), *_weights(6, 24, 41)),
             "large inputs (std 100)"),
    ]


def check_feed_forward(fn) -> Verdict:
    r"""Check ``fn(x, W1, b1, W2, b2)`` against the ReLU feed-forward network
    (day 19).

    Inputs: ``x`` of shape ``(..., d_model)``, ``W1`` ``(d_model, d_ff)``,
    ``b1`` ``(d_ff,)``, ``W2`` ``(d_ff, d_model)``, ``b2`` ``(d_model,)``.
    The answer is :math:`\max(0, xW_1 + b_1)W_2 + b_2`, the reference
    :class:`~helpers.transformer.FeedForward` with these weights. Cases: a
    square layer, a (2, 5, 4) batch with ``d_ff = 16``, a batch of one, a
    (7, 3) input, and inputs with standard deviation 100. Names
    ``missing_activation``, ``activation_after_second_layer``,
    ``weights_transposed``, ``bias_after_activation``, ``missing_bias`` and
    ``wrong_activation``.
    """
    return check_function(
        "feed_forward", fn, _feed_forward_cases(), _reference_feed_forward,
        FEED_FORWARD_MISTAKES, atol=ATOL, rtol=RTOL,
        success="feed_forward is correct: relu(x @ W1 + b1) @ W2 + b2 on every "
                "position, for (B, T, C) and (T, C) inputs alike.")


# --------------------------------------------------------------------------
# swiglu


def _reference_swiglu(x, W, V, W2):
    return _module(V, None, W2, None, "swiglu", gate=W)(x)


def _glu(x, W, V, W2, gate_act=F.silu, value_act=None, combine=torch.mul):
    gate = gate_act(x @ W)                                      # (..., d_ff)
    value = x @ V if value_act is None else value_act(x @ V)    # (..., d_ff)
    return combine(gate, value) @ W2                            # (..., d_model)


SWIGLU_MISTAKES = [
    Mistake("gate_value_swapped",
            "gate and value are swapped: the SiLU goes on `x @ W` (the gate), "
            "and multiplies the plain `x @ V`",
            impl=lambda x, W, V, W2: _glu(x, V, W, W2)),
    Mistake("sigmoid_not_silu",
            "you gate with a sigmoid, which is the original GLU; SwiGLU uses "
            "SiLU (Swish), `F.silu(x @ W) = (x @ W) * sigmoid(x @ W)`",
            impl=lambda x, W, V, W2: _glu(x, W, V, W2, gate_act=torch.sigmoid)),
    Mistake("wrong_gate_activation",
            "you gate with ReLU (ReGLU) or GELU (GEGLU); SwiGLU uses SiLU, "
            "`F.silu(x @ W)`",
            impl=lambda x, W, V, W2: _glu(x, W, V, W2, gate_act=F.relu)),
    Mistake("wrong_gate_activation",
            "you gate with ReLU (ReGLU) or GELU (GEGLU); SwiGLU uses SiLU, "
            "`F.silu(x @ W)`",
            impl=lambda x, W, V, W2: _glu(x, W, V, W2, gate_act=F.gelu)),
    Mistake("silu_on_both",
            "you apply SiLU to the value as well; only the gate `x @ W` goes "
            "through SiLU, the value `x @ V` stays linear",
            impl=lambda x, W, V, W2: _glu(x, W, V, W2, value_act=F.silu)),
    Mistake("added_not_multiplied",
            "you add gate and value; a gated unit multiplies them element by "
            "element, `F.silu(x @ W) * (x @ V)`",
            impl=lambda x, W, V, W2: _glu(x, W, V, W2, combine=torch.add)),
    Mistake("value_ignored",
            "the value branch `x @ V` is missing: SwiGLU multiplies "
            "`F.silu(x @ W)` by `x @ V` before the output projection",
            impl=lambda x, W, V, W2: F.silu(x @ W) @ W2),
    Mistake("output_projection_missing",
            "the output projection is missing; finish with `@ W2` to go from "
            "d_ff back to d_model",
            impl=lambda x, W, V, W2: F.silu(x @ W) * (x @ V)),
]


def _swiglu_weights(d_model: int, d_ff: int, seed: int):
    W = _randn(d_model, d_ff, seed=seed, scale=2 * d_model ** -0.5)
    V = _randn(d_model, d_ff, seed=seed + 1, scale=d_model ** -0.5)
    W2 = _randn(d_ff, d_model, seed=seed + 2, scale=d_ff ** -0.5)
    return W, V, W2


def _swiglu_cases() -> list[Case]:
    return [
        Case((_randn(2, 3, 6, seed=50), *_swiglu_weights(6, 6, 51)),
             "a square layer, d_model = d_ff = 6"),
        Case((_randn(2, 5, 6, seed=55), *_swiglu_weights(6, 16, 56)),
             "a (B, T, C) = (2, 5, 6) batch with d_ff = 16 (the 8/3 rule)"),
        Case((_randn(1, 1, 9, seed=60), *_swiglu_weights(9, 24, 61)),
             "a batch of one (1, 1, 9)"),
        Case((_randn(7, 5, seed=65, scale=3.0), *_swiglu_weights(5, 11, 66)),
             "odd sizes: a (T, C) = (7, 5) input with d_ff = 11"),
    ]


def check_swiglu(fn) -> Verdict:
    r"""Check ``fn(x, W, V, W2)`` against the SwiGLU feed-forward network
    (day 19).

    Inputs: ``x`` of shape ``(..., d_model)``; ``W`` (gate) and ``V``
    (value), each ``(d_model, d_ff)``; ``W2`` ``(d_ff, d_model)``; no biases.
    The answer is :math:`(\mathrm{SiLU}(xW) \odot xV)\,W_2`, the reference
    :class:`~helpers.transformer.FeedForward` with ``activation="swiglu"``
    (its ``gate`` holds ``W``, its ``linear1`` holds ``V``). Cases: a square
    layer, a (2, 5, 6) batch with ``d_ff = 16``, a batch of one and a (7, 5)
    input. Names ``gate_value_swapped``, ``sigmoid_not_silu``,
    ``wrong_gate_activation``, ``silu_on_both``, ``added_not_multiplied``,
    ``value_ignored`` and ``output_projection_missing``.
    """
    return check_function(
        "swiglu", fn, _swiglu_cases(), _reference_swiglu, SWIGLU_MISTAKES,
        atol=ATOL, rtol=RTOL,
        success="swiglu is correct: (silu(x @ W) * (x @ V)) @ W2, the gate "
                "through SiLU and the value left linear.")


# --------------------------------------------------------------------------
# ffn_param_count


def _reference_param_count(d_model, d_ff, activation="relu", bias=True):
    with torch.device("meta"):  # shapes only: no memory for a 7B-model layer
        ff = FeedForward(d_model, d_ff, activation, bias=bias)
    return sum(p.numel() for p in ff.parameters())


def _count(d_model, d_ff, activation, matrices=None, biases=True, gate_bias=True):
    gated = activation == "swiglu"
    n = (matrices or (3 if gated else 2)) * d_model * d_ff
    if biases:
        n += d_ff + d_model + (d_ff if gated and gate_bias else 0)
    return n


FFN_COUNT_MISTAKES = [
    Mistake("missing_biases",
            "you count the weight matrices only; with `bias=True` add a bias "
            "of d_ff for each input layer and one of d_model for the output",
            when=lambda case, got, expected:
                _kw(case)["bias"] and got == _count(*_args(case), biases=False)),
    Mistake("biases_when_disabled",
            "you count biases although `bias=False`; then only the weight "
            "matrices remain",
            when=lambda case, got, expected:
                not _kw(case)["bias"] and got == _count(*_args(case))),
    Mistake("missing_gate",
            "for SwiGLU you count two weight matrices; it has three: gate W, "
            "value V and output W2, each with d_model * d_ff entries",
            when=lambda case, got, expected: _gated(case) and got in (
                _count(*_args(case), matrices=2, biases=_kw(case)["bias"],
                       gate_bias=False),
                _count(*_args(case), matrices=2, biases=_kw(case)["bias"]))),
    Mistake("missing_gate_bias",
            "for SwiGLU with biases, the gate layer has its own bias of d_ff",
            when=lambda case, got, expected: _gated(case) and _kw(case)["bias"]
                and got == _count(*_args(case), gate_bias=False)),
    Mistake("one_bias_only",
            "you count only one of the two biases: the first layer has d_ff "
            "of them and the output layer d_model",
            when=lambda case, got, expected: _kw(case)["bias"] and got in (
                expected - _kw(case)["d_model"],
                expected - _kw(case)["d_ff"])),
    Mistake("square_layers",
            "you count d_model * d_model per matrix; each one connects "
            "d_model inputs to d_ff hidden units, so it has d_model * d_ff",
            when=lambda case, got, expected: got == _reference_param_count(
                _kw(case)["d_model"], _kw(case)["d_model"],
                _kw(case)["activation"], _kw(case)["bias"])),
]


def _kw(case: Case) -> dict:
    names = ("d_model", "d_ff", "activation", "bias")
    values = dict(zip(names, case.args))
    values.setdefault("activation", "relu")
    values.setdefault("bias", True)
    values.update(case.kwargs)
    return values


def _args(case: Case) -> tuple:
    kw = _kw(case)
    return kw["d_model"], kw["d_ff"], kw["activation"]


def _gated(case: Case) -> bool:
    return _kw(case)["activation"] == "swiglu"


def _param_count_cases() -> list[Case]:
    return [
        Case((512, 2048, "relu", True), "the 2017 base model (512, 2048, relu)"),
        Case((64, 256, "gelu", False), "GELU without biases (64, 256)"),
        Case((96, 256, "swiglu", True), "SwiGLU with biases (96, 256)"),
        Case((4096, 11008, "swiglu", False),
             "a LLaMA-7B layer (4096, 11008, swiglu, no biases)"),
        Case((7, 13, "relu", True), "odd sizes (7, 13)"),
    ]


def check_ffn_param_count(fn) -> Verdict:
    """Check ``fn(d_model, d_ff, activation, bias)`` against the parameters
    of :class:`helpers.transformer.FeedForward` (day 19).

    Inputs: integers ``d_model`` and ``d_ff``, ``activation`` one of
    ``"relu"``, ``"gelu"``, ``"swiglu"``, and ``bias`` (bool). The answer is
    an int. Cases: the 2017 base model, GELU without biases, SwiGLU with
    biases, a LLaMA-7B layer and odd sizes. Names ``missing_biases``,
    ``biases_when_disabled``, ``missing_gate``, ``missing_gate_bias``,
    ``one_bias_only`` and ``square_layers``.
    """
    return check_function(
        "ffn_param_count", fn, _param_count_cases(), _reference_param_count,
        FFN_COUNT_MISTAKES, atol=0.0, rtol=0.0,
        success="ffn_param_count is correct: it agrees with the modules for "
                "ReLU, GELU and SwiGLU, with and without biases.")
