"""Day 18: LayerNorm, RMSNorm, the pre-norm residual, the deep-stack
experiment helpers, and their checks.

Reference code is compared with PyTorch and with the properties that define
it; every check must pass a correct implementation, name each classic
mistake from a wrong implementation written here, and turn stubs,
exceptions, None, wrong shapes and NaN into one friendly line.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import deep_stacks as D
from helpers.checks import check_layer_norm, check_pre_norm_residual, check_rms_norm
from helpers.checks.normalization import (
    LAYER_NORM_MISTAKES,
    PRE_NORM_MISTAKES,
    RMS_NORM_MISTAKES,
)
from helpers.transformer import EncoderBlock, FeedForward, LayerNorm


def randn(*shape, seed=0, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return shift + scale * torch.randn(*shape, generator=g)


# --------------------------------------------------------------------------
# correct implementations, written independently of the checks


def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)                         # (..., 1)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)          # (..., 1)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def rms_norm(x, gamma, eps=1e-5):
    return gamma * x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + eps)


def pre_norm_residual(x, sublayer, norm):
    return x + sublayer(norm(x))


# --------------------------------------------------------------------------
# the reference code and the properties that define it


@pytest.mark.parametrize("shape", [(4, 6), (2, 5, 7), (1, 9), (3, 1, 16)])
def test_layer_norm_by_hand_matches_nn_layer_norm(shape):
    C = shape[-1]
    torch_ln = nn.LayerNorm(C)
    with torch.no_grad():
        torch_ln.weight.uniform_(0.5, 1.5)
        torch_ln.bias.normal_(0.0, 0.3)
    x = randn(*shape, seed=1, scale=3.0, shift=2.0)
    got = layer_norm(x, torch_ln.weight, torch_ln.bias)
    torch.testing.assert_close(got, torch_ln(x), atol=1e-5, rtol=1e-5)
    ours = LayerNorm(C)
    ours.load_state_dict(torch_ln.state_dict())
    torch.testing.assert_close(ours(x), torch_ln(x), atol=1e-5, rtol=1e-5)


def test_layer_norm_gives_each_position_mean_zero_and_variance_one():
    x = randn(3, 4, 32, seed=2, scale=5.0, shift=-7.0)          # (B, T, C)
    y = layer_norm(x, torch.ones(32), torch.zeros(32))
    torch.testing.assert_close(y.mean(-1), torch.zeros(3, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(3, 4),
                               atol=1e-3, rtol=0)


def test_layer_norm_does_not_mix_examples_but_batch_norm_does():
    x = randn(4, 8, seed=3)
    changed = x.clone()
    changed[0] = changed[0] * 10 + 3                            # only example 0
    ln = nn.LayerNorm(8, elementwise_affine=False)
    bn = nn.BatchNorm1d(8, affine=False).train()
    assert torch.allclose(ln(x)[1:], ln(changed)[1:], atol=1e-6)
    assert not torch.allclose(bn(x)[1:], bn(changed)[1:], atol=1e-2)


def test_rms_norm_by_hand_matches_torch():
    x = randn(2, 3, 10, seed=4, scale=2.0, shift=1.0)
    gamma = 0.5 + torch.rand(10, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(rms_norm(x, gamma),
                               F.rms_norm(x, (10,), gamma, 1e-5))


def test_pre_norm_residual_keeps_the_identity_path_when_the_sublayer_is_zero():
    x = randn(2, 3, 8, seed=6, scale=4.0, shift=2.0)
    zero = nn.Linear(8, 8)
    nn.init.zeros_(zero.weight)
    nn.init.zeros_(zero.bias)
    torch.testing.assert_close(pre_norm_residual(x, zero, LayerNorm(8)), x)


def test_the_residual_adds_an_identity_to_the_jacobian():
    torch.manual_seed(7)
    ff, norm = FeedForward(6, 24), LayerNorm(6)
    x = randn(6, seed=8)
    with_res = torch.autograd.functional.jacobian(
        lambda v: pre_norm_residual(v, ff, norm), x)            # (6, 6)
    without = torch.autograd.functional.jacobian(lambda v: ff(norm(v)), x)
    torch.testing.assert_close(with_res - without, torch.eye(6))


# --------------------------------------------------------------------------
# the deep-stack experiment helpers


def test_sorting_batch_targets_are_the_sorted_inputs():
    g = torch.Generator().manual_seed(0)
    ids, targets = D.sorting_batch(5, 7, 10, g)
    assert ids.shape == targets.shape == (5, 7)
    assert ids.dtype == torch.long and ids.min() >= 0 and ids.max() < 10
    assert (targets[:, 1:] >= targets[:, :-1]).all()
    assert torch.equal(targets, ids.sort(dim=1).values)
    again = D.sorting_batch(5, 7, 10, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], ids)


@pytest.mark.parametrize("norm_first", [False, True])
def test_deep_stack_uses_the_reference_blocks_in_the_asked_order(norm_first):
    torch.manual_seed(0)
    model = D.DeepStack(10, 16, 3, norm_first)
    assert len(model.blocks) == 3
    assert all(isinstance(b, EncoderBlock) and b.norm_first == norm_first
               for b in model.blocks)
    ids = torch.randint(0, 10, (2, 5))
    assert model(ids).shape == (2, 5, 10)


def test_deep_stack_init_options():
    torch.manual_seed(0)
    xavier = D.DeepStack(10, 16, 1, True)
    torch.manual_seed(0)
    default = D.DeepStack(10, 16, 1, True, init="default")
    w_x = xavier.blocks[0].ff.linear1.weight                    # (64, 16)
    w_d = default.blocks[0].ff.linear1.weight
    bound = (6 / (16 + 64)) ** 0.5
    assert w_x.abs().max() <= bound and w_x.abs().max() > 0.9 * bound
    assert w_d.abs().max() <= 16 ** -0.5
    with pytest.raises(ValueError, match="init"):
        D.DeepStack(10, 16, 1, True, init="normal")


def test_block_gradient_norms_match_autograd_and_leave_no_grad():
    torch.manual_seed(1)
    model = D.DeepStack(10, 16, 4, False)
    ids, targets = D.sorting_batch(8, 6, 10, torch.Generator().manual_seed(1))
    norms = D.block_gradient_norms(model, ids, targets)
    assert norms.shape == (4,) and (norms > 0).all()
    assert all(p.grad is None for p in model.parameters())
    loss = F.cross_entropy(model(ids).flatten(0, 1), targets.flatten())
    grads = torch.autograd.grad(loss, list(model.blocks[2].parameters()))
    by_hand = torch.sqrt(sum(g.pow(2).sum() for g in grads))
    torch.testing.assert_close(norms[2], by_hand)


def test_post_norm_gradients_grow_towards_the_output_and_pre_norm_ones_do_not():
    g = torch.Generator().manual_seed(3)
    ids, targets = D.sorting_batch(32, 8, 10, g)
    ratios = {}
    for norm_first in (False, True):
        norms = []
        for seed in range(3):
            torch.manual_seed(seed)
            model = D.DeepStack(10, 32, 12, norm_first)
            norms.append(D.block_gradient_norms(model, ids, targets))
        mean = torch.stack(norms).mean(0)                       # (12,)
        ratios[norm_first] = (mean[-3:].mean() / mean[:3].mean()).item()
    assert ratios[False] > 1.5, ratios
    assert ratios[True] < 1.0, ratios


def test_train_stack_lowers_the_loss_and_warmup_ramps_the_rate():
    torch.manual_seed(0)
    model = D.DeepStack(6, 16, 1, True)
    history = D.train_stack(model, 40, 3e-3, 6, 4, batch_size=16, warmup=10)
    losses = history["losses"]
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    assert 0.0 <= history["accuracy"] <= 1.0


def test_sorting_accuracy_of_a_perfect_model_is_one():
    class Sorter(nn.Module):
        def forward(self, ids):
            return F.one_hot(ids.sort(dim=1).values, 10).float()

    assert D.sorting_accuracy(Sorter(), 10, 6) == 1.0


# --------------------------------------------------------------------------
# wrong implementations, one per named mistake, written independently


def _hat(x, eps=1e-5):
    m = x.mean(-1, keepdim=True)
    return (x - m) / torch.sqrt(((x - m) ** 2).mean(-1, keepdim=True) + eps)


def _ln_batch(x, gamma, beta, eps=1e-5):
    m = x.mean(0, keepdim=True)
    v = ((x - m) ** 2).mean(0, keepdim=True)
    return gamma * (x - m) / torch.sqrt(v + eps) + beta


def _ln_whole(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + eps) + beta


def _ln_unbiased(x, gamma, beta, eps=1e-5):
    m = x.mean(-1, keepdim=True)
    return gamma * (x - m) / torch.sqrt(x.var(-1, keepdim=True) + eps) + beta


def _ln_eps_outside(x, gamma, beta, eps=1e-5):
    m = x.mean(-1, keepdim=True)
    s = ((x - m) ** 2).mean(-1, keepdim=True).sqrt()
    return gamma * (x - m) / (s + eps) + beta


def _ln_by_var(x, gamma, beta, eps=1e-5):
    m = x.mean(-1, keepdim=True)
    return gamma * (x - m) / (((x - m) ** 2).mean(-1, keepdim=True) + eps) + beta


def _ln_not_centred(x, gamma, beta, eps=1e-5):
    m = x.mean(-1, keepdim=True)
    return gamma * x / torch.sqrt(((x - m) ** 2).mean(-1, keepdim=True) + eps) + beta


def _ln_no_eps(x, gamma, beta, eps=1e-5):
    m = x.mean(-1, keepdim=True)
    return gamma * (x - m) / ((x - m) ** 2).mean(-1, keepdim=True).sqrt() + beta


def _ln_one_pass(x, gamma, beta, eps=1e-5):
    m = x.mean(-1, keepdim=True)
    v = (x * x).mean(-1, keepdim=True) - m * m
    return gamma * (x - m) / torch.sqrt(v + eps) + beta


LAYER_NORM_WRONG = {
    "batch_axis": _ln_batch,
    "whole_tensor": _ln_whole,
    "unbiased_variance": _ln_unbiased,
    "eps_outside_sqrt": _ln_eps_outside,
    "missing_eps": _ln_no_eps,
    "divided_by_variance": _ln_by_var,
    "not_centred": _ln_not_centred,
    "gain_bias_forgotten": lambda x, gamma, beta, eps=1e-5: _hat(x, eps),
    "gain_bias_swapped": lambda x, gamma, beta, eps=1e-5: beta * _hat(x, eps) + gamma,
    "bias_scaled": lambda x, gamma, beta, eps=1e-5: gamma * (_hat(x, eps) + beta),
    "eps_ignored": lambda x, gamma, beta, eps=1e-5: layer_norm(x, gamma, beta),
    "one_pass_variance": _ln_one_pass,
}


def _rms_centred(x, gamma, eps=1e-5):
    return rms_norm(x - x.mean(-1, keepdim=True), gamma, eps)


RMS_NORM_WRONG = {
    "mean_subtracted": _rms_centred,
    "batch_axis":
        lambda x, gamma, eps=1e-5: gamma * x / torch.sqrt((x * x).mean(0) + eps),
    "eps_outside_sqrt":
        lambda x, gamma, eps=1e-5:
            gamma * x / ((x * x).mean(-1, keepdim=True).sqrt() + eps),
    "no_square_root":
        lambda x, gamma, eps=1e-5: gamma * x / ((x * x).mean(-1, keepdim=True) + eps),
    "gain_forgotten": lambda x, gamma, eps=1e-5: rms_norm(x, torch.ones_like(gamma)),
    "std_not_rms":
        lambda x, gamma, eps=1e-5:
            gamma * x / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps),
}

PRE_NORM_WRONG = {
    "residual_from_normalised": lambda x, s, n: n(x) + s(n(x)),
    "post_norm": lambda x, s, n: n(x + s(x)),
    "norm_after_residual": lambda x, s, n: n(x + s(n(x))),
    "norm_on_sublayer_output": lambda x, s, n: x + n(s(x)),
    "missing_residual": lambda x, s, n: s(n(x)),
    "missing_norm": lambda x, s, n: x + s(x),
}

CHECKS = {
    "layer_norm": (check_layer_norm, layer_norm, LAYER_NORM_WRONG,
                   LAYER_NORM_MISTAKES),
    "rms_norm": (check_rms_norm, rms_norm, RMS_NORM_WRONG, RMS_NORM_MISTAKES),
    "pre_norm_residual": (check_pre_norm_residual, pre_norm_residual,
                          PRE_NORM_WRONG, PRE_NORM_MISTAKES),
}

MISTAKE_CASES = [(check, name) for check, (_, _, wrong, _) in CHECKS.items()
                 for name in wrong]


def _one_friendly_line(capsys):
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert "Traceback" not in out
    return out


@pytest.mark.parametrize("check", list(CHECKS))
def test_check_passes_a_correct_implementation(check, capsys):
    run, correct, _, _ = CHECKS[check]
    verdict = run(correct)
    assert verdict.passed, verdict.message
    assert verdict.mistake is None
    _one_friendly_line(capsys)


def test_layer_norm_check_passes_pytorch_and_the_course_module(capsys):
    assert check_layer_norm(lambda x, g, b, eps=1e-5:
                            F.layer_norm(x, x.shape[-1:], g, b, eps)).passed

    def with_module(x, gamma, beta, eps=1e-5):
        ln = LayerNorm(x.shape[-1], eps)
        with torch.no_grad():
            ln.weight.copy_(gamma)
            ln.bias.copy_(beta)
        return ln(x)

    assert check_layer_norm(with_module).passed
    assert check_pre_norm_residual(
        lambda x, s, n: torch.add(x, s(n(x)))).passed
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
    def broken(x, *args, **kwargs):
        return x @ torch.zeros(1, 1, 1, 1, 3)

    verdict = CHECKS[check][0](broken)
    assert verdict.mistake == "exception"
    assert "raised" in _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_none_wrong_shape_and_nan_are_friendly(check, capsys):
    run = CHECKS[check][0]
    assert run(lambda *a, **k: None).mistake == "returned_none"
    _one_friendly_line(capsys)
    assert run(lambda x, *a, **k: x[..., :1]).mistake == "shape"
    _one_friendly_line(capsys)
    assert run(lambda x, *a, **k: torch.full_like(x, float("nan"))).mistake == "nan"
    _one_friendly_line(capsys)
    assert run(lambda x, *a, **k: x.long()).mistake in ("dtype", "values")
    _one_friendly_line(capsys)
