"""Checks for day 18: layer normalisation, RMSNorm and the pre-norm residual.

* :func:`check_layer_norm` -- ``layer_norm(x, gamma, beta, eps)``
* :func:`check_rms_norm` -- ``rms_norm(x, gamma, eps)``
* :func:`check_pre_norm_residual` -- ``pre_norm_residual(x, sublayer, norm)``

The references are PyTorch's own ``F.layer_norm`` and ``F.rms_norm`` and the
course's :class:`helpers.transformer.LayerNorm`. The cases include inputs
that expose the classic mistakes: rows of nearly equal values (where the
place of ``eps`` matters), a constant row (where a missing ``eps`` divides
0 by 0), features far from zero (where a one-pass variance loses every
digit), a batch of one and odd sizes, and a learned gain and bias that are
not ones and zeros, so forgetting or swapping them shows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from helpers.checks._core import Case, Mistake, Verdict, check_function
from helpers.transformer import FeedForward, LayerNorm

__all__ = ["check_layer_norm", "check_pre_norm_residual", "check_rms_norm"]

# float32 LayerNorm on features near 1000 differs between two correct
# implementations by about 1e-4, so the checks allow a little more than the
# default tolerance; every mistake below moves the output by far more.
ATOL, RTOL = 2e-4, 1e-3


def _randn(*shape: int, seed: int, scale: float = 1.0, shift: float = 0.0
           ) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return shift + scale * torch.randn(*shape, generator=g)


def _gain_bias(C: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    gamma = 0.5 + torch.rand(C, generator=g)                # (C,) in [0.5, 1.5)
    beta = 0.3 * torch.randn(C, generator=g)                # (C,)
    return gamma, beta


# --------------------------------------------------------------------------
# layer_norm


def _reference_layer_norm(x, gamma, beta, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)


def _ln_from(mean, var, x, gamma, beta, eps):
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta


def _ln_batch_axis(x, gamma, beta, eps=1e-5):
    # BatchNorm's statistics: one mean per feature, taken over the batch.
    mean = x.mean(dim=0, keepdim=True)
    var = x.var(dim=0, unbiased=False, keepdim=True)
    return _ln_from(mean, var, x, gamma, beta, eps)


def _ln_all_but_features(x, gamma, beta, eps=1e-5):
    # BatchNorm on (B, T, C): statistics over every axis except the features.
    dims = tuple(range(x.dim() - 1))
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=False, keepdim=True)
    return _ln_from(mean, var, x, gamma, beta, eps)


def _ln_whole_tensor(x, gamma, beta, eps=1e-5):
    return _ln_from(x.mean(), x.var(unbiased=False), x, gamma, beta, eps)


def _ln_unbiased(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=True, keepdim=True)
    return _ln_from(mean, var, x, gamma, beta, eps)


def _x_hat(x, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def _ln_eps_outside(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    std = x.std(dim=-1, unbiased=False, keepdim=True)
    return (x - mean) / (std + eps) * gamma + beta


def _ln_no_eps(x, gamma, beta, eps=1e-5):
    return _x_hat(x, 0.0) * gamma + beta


def _ln_divided_by_variance(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    return (x - mean) / (var + eps) * gamma + beta


def _ln_not_centred(x, gamma, beta, eps=1e-5):
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    return x / torch.sqrt(var + eps) * gamma + beta


def _ln_rms(x, gamma, beta, eps=1e-5):
    ms = x.pow(2).mean(dim=-1, keepdim=True)
    return x / torch.sqrt(ms + eps) * gamma + beta


def _exposes_cancellation(case: Case) -> bool:
    # Rows whose spread is tiny next to their mean: mean(x**2) - mean(x)**2
    # subtracts two nearly equal numbers there and keeps almost no digits.
    return "far from zero" in case.label or "nearly equal" in case.label


LAYER_NORM_MISTAKES = [
    Mistake("batch_axis",
            "you normalise each feature over the batch, which is BatchNorm; "
            "LayerNorm takes the mean and variance of each position's own "
            "feature vector, over the last axis: `x.mean(dim=-1, keepdim=True)`",
            impl=_ln_batch_axis),
    Mistake("batch_axis",
            "you normalise each feature over the batch (and time) axes, which "
            "is BatchNorm; LayerNorm takes the statistics over the last axis "
            "only: `x.mean(dim=-1, keepdim=True)`",
            impl=_ln_all_but_features),
    Mistake("whole_tensor",
            "you take one mean and one variance for the whole tensor; every "
            "position needs its own, over the last axis, with `keepdim=True`",
            impl=_ln_whole_tensor),
    Mistake("unbiased_variance",
            "you divide the variance by C - 1 (`x.var()` does by default); "
            "LayerNorm uses the biased variance, `x.var(dim=-1, "
            "unbiased=False)` or `((x - mean) ** 2).mean(dim=-1)`",
            impl=_ln_unbiased),
    Mistake("eps_outside_sqrt",
            "you add eps to the standard deviation; it belongs inside the "
            "square root, `(x - mean) / torch.sqrt(var + eps)`, which matters "
            "for rows of nearly equal values",
            impl=_ln_eps_outside),
    Mistake("eps_ignored",
            "you ignore the `eps` argument (the result only differs when eps "
            "is not 1e-5); use the eps you are given inside the square root",
            impl=lambda x, gamma, beta, eps=1e-5:
                _reference_layer_norm(x, gamma, beta, 1e-5)),
    Mistake("missing_eps",
            "you divide by the standard deviation without eps, which gives "
            "0/0 = NaN on a constant row and too large values on nearly "
            "constant ones; use `torch.sqrt(var + eps)`",
            impl=_ln_no_eps),
    Mistake("divided_by_variance",
            "you divide by the variance; divide by its square root, "
            "`torch.sqrt(var + eps)`, so that the output has variance 1",
            impl=_ln_divided_by_variance),
    Mistake("not_centred",
            "you never subtract the mean; LayerNorm centres each row first, "
            "`x - x.mean(dim=-1, keepdim=True)`",
            impl=_ln_not_centred),
    Mistake("not_centred",
            "you divide by the root mean square without subtracting the mean, "
            "which is RMSNorm; LayerNorm centres each row first, "
            "`x - x.mean(dim=-1, keepdim=True)`",
            impl=_ln_rms),
    Mistake("gain_bias_forgotten",
            "you return the normalised x without the learned gain and bias; "
            "finish with `x_hat * gamma + beta`",
            impl=lambda x, gamma, beta, eps=1e-5: _x_hat(x, eps)),
    Mistake("gain_bias_forgotten",
            "you apply the gain but forget the bias; finish with "
            "`x_hat * gamma + beta`",
            impl=lambda x, gamma, beta, eps=1e-5: _x_hat(x, eps) * gamma),
    Mistake("gain_bias_forgotten",
            "you add the bias but forget the gain; finish with "
            "`x_hat * gamma + beta`",
            impl=lambda x, gamma, beta, eps=1e-5: _x_hat(x, eps) + beta),
    Mistake("gain_bias_swapped",
            "gain and bias are swapped: multiply by gamma and add beta, "
            "`x_hat * gamma + beta`",
            impl=lambda x, gamma, beta, eps=1e-5: _x_hat(x, eps) * beta + gamma),
    Mistake("bias_scaled",
            "you add beta before multiplying by gamma, so the bias gets "
            "scaled too; compute `x_hat * gamma + beta`",
            impl=lambda x, gamma, beta, eps=1e-5: (_x_hat(x, eps) + beta) * gamma),
    Mistake("one_pass_variance",
            "your result loses precision where a row's spread is tiny next to "
            "its mean: mean(x**2) - mean(x)**2 cancels almost every digit in "
            "float32; compute the variance as `((x - mean) ** 2).mean(dim=-1)`",
            when=lambda case, got, expected: _exposes_cancellation(case)),
]


def _layer_norm_cases() -> list[Case]:
    nearly_equal = torch.tensor([[1.0, 1.001, 0.999, 1.0005, 0.9995, 1.0],
                                 [-2.0, -2.002, -1.998, -2.0, -2.001, -1.999]])
    constant = torch.tensor([[3.0] * 5, [0.5, -1.0, 2.0, 0.0, 4.0]])  # (2, 5)
    return [
        Case((_randn(4, 6, seed=1, scale=2.0, shift=0.5), *_gain_bias(6, 2)),
             "a (4, 6) batch with a learned gain and bias"),
        Case((_randn(2, 5, 7, seed=3, scale=3.0, shift=-1.0), *_gain_bias(7, 4)),
             "a (B, T, C) = (2, 5, 7) tensor"),
        Case((_randn(1, 9, seed=5, scale=2.0), *_gain_bias(9, 6)),
             "a batch of one (1, 9)"),
        Case((nearly_equal, *_gain_bias(6, 7)),
             "rows of nearly equal values (spread 0.001)"),
        Case((constant, *_gain_bias(5, 8)), "a constant row"),
        Case((_randn(3, 6, seed=9, scale=2.0), *_gain_bias(6, 10)),
             "eps = 0.5", {"eps": 0.5}),
        Case((_randn(3, 8, seed=11, shift=1000.0), *_gain_bias(8, 12)),
             "features far from zero (mean 1000, std 1)"),
    ]


def check_layer_norm(fn) -> Verdict:
    r"""Check ``fn(x, gamma, beta, eps=1e-5)`` against ``F.layer_norm`` (day 18).

    Inputs: ``x`` of shape ``(..., C)``, ``gamma`` and ``beta`` of shape
    ``(C,)``. The answer is
    :math:`\gamma \odot (x - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta` with
    the mean and the biased variance over the last axis. Cases: a (4, 6)
    batch, a (2, 5, 7) tensor, a batch of one, rows of nearly equal values,
    a constant row, ``eps=0.5``, and features near 1000. Names
    ``batch_axis``, ``whole_tensor``, ``unbiased_variance``,
    ``eps_outside_sqrt``, ``missing_eps``, ``divided_by_variance``, ``not_centred``,
    ``gain_bias_forgotten``, ``gain_bias_swapped``, ``bias_scaled``,
    ``eps_ignored`` and ``one_pass_variance``.
    """
    return check_function(
        "layer_norm", fn, _layer_norm_cases(), _reference_layer_norm,
        LAYER_NORM_MISTAKES, atol=ATOL, rtol=RTOL,
        success="layer_norm is correct: it matches F.layer_norm over the last "
                "axis, with the biased variance, eps inside the square root, "
                "the gain and bias, and it survives constant rows and "
                "features near 1000.")


# --------------------------------------------------------------------------
# rms_norm


def _reference_rms_norm(x, gamma, eps=1e-5):
    return F.rms_norm(x, x.shape[-1:], gamma, eps)


def _rms(x, eps, centre=False, eps_outside=False, squared=False):
    if centre:
        x = x - x.mean(dim=-1, keepdim=True)
    ms = x.pow(2).mean(dim=-1, keepdim=True)
    if squared:
        return x / (ms + eps)
    if eps_outside:
        return x / (torch.sqrt(ms) + eps)
    return x / torch.sqrt(ms + eps)


RMS_NORM_MISTAKES = [
    Mistake("mean_subtracted",
            "you subtract the mean, which turns RMSNorm back into LayerNorm; "
            "RMSNorm only divides by the root mean square, "
            "`x / torch.sqrt((x ** 2).mean(dim=-1, keepdim=True) + eps)`",
            impl=lambda x, gamma, eps=1e-5: _rms(x, eps, centre=True) * gamma),
    Mistake("batch_axis",
            "you average the squares over the batch axis; every position needs "
            "its own root mean square, over the last axis",
            impl=lambda x, gamma, eps=1e-5:
                x / torch.sqrt(x.pow(2).mean(dim=0, keepdim=True) + eps) * gamma),
    Mistake("eps_outside_sqrt",
            "you add eps after the square root; it belongs inside, "
            "`torch.sqrt(mean_square + eps)`",
            impl=lambda x, gamma, eps=1e-5: _rms(x, eps, eps_outside=True) * gamma),
    Mistake("no_square_root",
            "you divide by the mean square itself; divide by its square root, "
            "`torch.sqrt(mean_square + eps)`",
            impl=lambda x, gamma, eps=1e-5: _rms(x, eps, squared=True) * gamma),
    Mistake("gain_forgotten",
            "you forget the learned gain; multiply the result by `gamma`",
            impl=lambda x, gamma, eps=1e-5: _rms(x, eps)),
    Mistake("std_not_rms",
            "you divide by the standard deviation (which subtracts the mean "
            "inside) instead of the root mean square of x itself",
            impl=lambda x, gamma, eps=1e-5:
                x / torch.sqrt(x.var(dim=-1, unbiased=False, keepdim=True) + eps)
                * gamma),
]


def _rms_norm_cases() -> list[Case]:
    g = _gain_bias
    return [
        Case((_randn(4, 6, seed=21, scale=2.0, shift=1.0), g(6, 22)[0]),
             "a (4, 6) batch with a learned gain"),
        Case((_randn(2, 3, 5, seed=23, shift=-0.5), g(5, 24)[0]),
             "a (B, T, C) = (2, 3, 5) tensor"),
        Case((_randn(1, 7, seed=25, scale=3.0), g(7, 26)[0]),
             "a batch of one (1, 7)"),
        Case((torch.tensor([[0.0] * 4, [0.01, -0.02, 0.0, 0.01]]), g(4, 27)[0]),
             "a zero row and a row of tiny values"),
        Case((_randn(3, 5, seed=28, scale=2.0), g(5, 29)[0]),
             "eps = 0.5", {"eps": 0.5}),
    ]


def check_rms_norm(fn) -> Verdict:
    r"""Check ``fn(x, gamma, eps=1e-5)`` against ``F.rms_norm`` (day 18).

    Inputs: ``x`` of shape ``(..., C)`` and ``gamma`` of shape ``(C,)``. The
    answer is :math:`\gamma \odot x / \sqrt{\mathrm{mean}(x^2) + \epsilon}`
    over the last axis, with no mean subtracted and no bias. Cases: a (4, 6)
    batch, a (2, 3, 5) tensor, a batch of one, a zero row next to a row of
    tiny values, and ``eps=0.5``. Names ``mean_subtracted``, ``batch_axis``,
    ``eps_outside_sqrt``, ``no_square_root``, ``gain_forgotten`` and
    ``std_not_rms``.
    """
    return check_function(
        "rms_norm", fn, _rms_norm_cases(), _reference_rms_norm,
        RMS_NORM_MISTAKES, atol=ATOL, rtol=RTOL,
        success="rms_norm is correct: it divides each position by its own "
                "root mean square (eps inside the root) and applies the gain, "
                "with no centring, as F.rms_norm does.")


# --------------------------------------------------------------------------
# the pre-norm residual sub-layer


def _reference_pre_norm_residual(x, sublayer, norm):
    return x + sublayer(norm(x))


PRE_NORM_MISTAKES = [
    Mistake("residual_from_normalised",
            "you add the sub-layer's output to the normalised input; the "
            "residual must carry the raw x past the norm: "
            "`x + sublayer(norm(x))`",
            impl=lambda x, sublayer, norm: norm(x) + sublayer(norm(x))),
    Mistake("post_norm",
            "you normalise after the residual sum, `norm(x + sublayer(x))`, "
            "which is post-norm; pre-norm normalises only the sub-layer's "
            "input: `x + sublayer(norm(x))`",
            impl=lambda x, sublayer, norm: norm(x + sublayer(x))),
    Mistake("norm_after_residual",
            "you normalise the sum again after the residual; in pre-norm "
            "the residual stream is never normalised: return "
            "`x + sublayer(norm(x))`",
            impl=lambda x, sublayer, norm: norm(x + sublayer(norm(x)))),
    Mistake("norm_on_sublayer_output",
            "you normalise the sub-layer's output instead of its input; "
            "compute `x + sublayer(norm(x))`",
            impl=lambda x, sublayer, norm: x + norm(sublayer(x))),
    Mistake("missing_residual",
            "the residual connection is missing: add x back, "
            "`x + sublayer(norm(x))`",
            impl=lambda x, sublayer, norm: sublayer(norm(x))),
    Mistake("missing_norm",
            "the norm is missing: the sub-layer must read `norm(x)`, "
            "`x + sublayer(norm(x))`",
            impl=lambda x, sublayer, norm: x + sublayer(x)),
]


def _sublayers(d_model: int, seed: int):
    torch.manual_seed(seed)  # the caller restores the global generator
    ff = FeedForward(d_model, 4 * d_model)
    linear = nn.Linear(d_model, d_model)
    norm = LayerNorm(d_model)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_(0.0, 0.3)
    return ff, linear, norm


def _pre_norm_cases() -> list[Case]:
    state = torch.random.get_rng_state()
    try:
        ff8, linear8, norm8 = _sublayers(8, 31)
        ff5, _, norm5 = _sublayers(5, 32)
        ff7, _, norm7 = _sublayers(7, 33)
    finally:
        torch.random.set_rng_state(state)
    return [
        Case((_randn(2, 4, 8, seed=34, scale=2.0, shift=1.0), ff8, norm8),
             "a (2, 4, 8) batch with a feed-forward sub-layer"),
        Case((_randn(2, 4, 8, seed=35, scale=3.0, shift=-2.0), linear8, norm8),
             "a (2, 4, 8) batch with a linear sub-layer"),
        Case((_randn(1, 1, 5, seed=36, scale=2.0, shift=0.5), ff5, norm5),
             "a batch of one (1, 1, 5)"),
        Case((_randn(3, 7, seed=37, scale=4.0, shift=3.0), ff7, norm7),
             "odd sizes (3, 7)"),
    ]


def check_pre_norm_residual(fn) -> Verdict:
    """Check ``fn(x, sublayer, norm)`` against ``x + sublayer(norm(x))``
    (day 18).

    Inputs: ``x`` of shape ``(..., d_model)``; ``sublayer`` and ``norm``
    modules (or functions) that map ``(..., d_model)`` to the same shape.
    Cases use a feed-forward and a linear sub-layer, a LayerNorm with a
    non-trivial gain and bias, inputs whose mean and spread are far from 0
    and 1, a batch of one and odd sizes. Names ``residual_from_normalised``,
    ``post_norm``, ``norm_after_residual``, ``norm_on_sublayer_output``,
    ``missing_residual`` and ``missing_norm``.
    """
    return check_function(
        "pre_norm_residual", fn, _pre_norm_cases(), _reference_pre_norm_residual,
        PRE_NORM_MISTAKES, atol=ATOL, rtol=RTOL,
        success="pre_norm_residual is correct: the sub-layer reads norm(x) "
                "and its output is added to the raw x, so the residual "
                "stream itself is never normalised.")
