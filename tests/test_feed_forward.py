"""Day 19: the position-wise feed-forward network, its gated variant, its
parameter count, and their checks.

The reference is compared with PyTorch and with the properties that define
it (the same network on every position, equal to a 1x1 convolution); every
check must pass a correct implementation, name each classic mistake from a
wrong implementation written here, and turn stubs, exceptions, None, wrong
shapes and NaN into one friendly line.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.checks import check_feed_forward, check_ffn_param_count, check_swiglu
from helpers.checks.feed_forward import (
    FEED_FORWARD_MISTAKES,
    FFN_COUNT_MISTAKES,
    SWIGLU_MISTAKES,
)
from helpers.transformer import EncoderBlock, FeedForward


def randn(*shape, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g)


# --------------------------------------------------------------------------
# correct implementations, written independently of the checks


def feed_forward(x, W1, b1, W2, b2):
    hidden = torch.clamp(torch.einsum("...c,cf->...f", x, W1) + b1, min=0)
    return torch.einsum("...f,fc->...c", hidden, W2) + b2


def swiglu(x, W, V, W2):
    a = x @ W
    return (a * torch.sigmoid(a) * (x @ V)) @ W2


def ffn_param_count(d_model, d_ff, activation="relu", bias=True):
    inputs = 2 if activation == "swiglu" else 1
    weights = (inputs + 1) * d_model * d_ff
    return weights + (inputs * d_ff + d_model if bias else 0)


# --------------------------------------------------------------------------
# the reference module and the properties that define it


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_feed_forward_matches_the_pytorch_encoder_layer(activation):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 32, dropout=0.0,
                                       activation=activation, batch_first=True)
    ff = FeedForward(8, 32, activation)
    with torch.no_grad():
        ff.linear1.load_state_dict(layer.linear1.state_dict())
        ff.linear2.load_state_dict(layer.linear2.state_dict())
    x = randn(2, 5, 8, seed=1)
    act = F.relu if activation == "relu" else F.gelu
    expected = layer.linear2(act(layer.linear1(x)))
    torch.testing.assert_close(ff(x), expected)


def test_feed_forward_by_hand_equals_the_module():
    torch.manual_seed(1)
    ff = FeedForward(6, 24)
    x = randn(3, 4, 6, seed=2)
    got = feed_forward(x, ff.linear1.weight.T, ff.linear1.bias,
                       ff.linear2.weight.T, ff.linear2.bias)
    torch.testing.assert_close(got, ff(x))


def test_swiglu_by_hand_equals_the_module():
    torch.manual_seed(2)
    ff = FeedForward(6, 16, "swiglu", bias=False)
    x = randn(3, 4, 6, seed=3)
    got = swiglu(x, ff.gate.weight.T, ff.linear1.weight.T, ff.linear2.weight.T)
    torch.testing.assert_close(got, ff(x))


@pytest.mark.parametrize("activation", ["relu", "gelu", "swiglu"])
def test_the_network_acts_on_each_position_separately(activation):
    torch.manual_seed(3)
    ff = FeedForward(8, 32, activation)
    x = randn(2, 5, 8, seed=4)                                  # (B, T, C)
    whole = ff(x)
    one_by_one = torch.stack([ff(x[:, t]) for t in range(5)], dim=1)
    torch.testing.assert_close(whole, one_by_one)
    changed = x.clone()
    changed[:, 3] += 1.0                                        # one position only
    diff = (ff(changed) - whole).abs().amax(dim=(0, 2))         # (T,)
    assert diff[3] > 0 and torch.all(diff[[0, 1, 2, 4]] == 0)


def test_the_network_is_two_one_by_one_convolutions():
    torch.manual_seed(4)
    ff = FeedForward(8, 32)
    conv1 = nn.Conv1d(8, 32, kernel_size=1)
    conv2 = nn.Conv1d(32, 8, kernel_size=1)
    with torch.no_grad():
        conv1.weight.copy_(ff.linear1.weight[:, :, None])       # (32, 8, 1)
        conv1.bias.copy_(ff.linear1.bias)
        conv2.weight.copy_(ff.linear2.weight[:, :, None])       # (8, 32, 1)
        conv2.bias.copy_(ff.linear2.bias)
    x = randn(2, 5, 8, seed=5)                                  # (B, T, C)
    y = conv2(F.relu(conv1(x.transpose(1, 2)))).transpose(1, 2) # (B, T, C)
    torch.testing.assert_close(y, ff(x))


@pytest.mark.parametrize("activation,bias", [("relu", True), ("gelu", False),
                                             ("swiglu", True), ("swiglu", False)])
def test_parameter_count_formula(activation, bias):
    ff = FeedForward(24, 40, activation, bias=bias)
    assert sum(p.numel() for p in ff.parameters()) == ffn_param_count(
        24, 40, activation, bias)


def test_the_two_thirds_rule_keeps_swiglu_the_size_of_the_relu_network():
    d = 96
    relu = ffn_param_count(d, 4 * d, "relu", False)
    gated = ffn_param_count(d, 8 * d // 3, "swiglu", False)
    assert relu == gated


def test_the_feed_forward_holds_about_two_thirds_of_an_encoder_block():
    block = EncoderBlock(64, 4, 256)
    ff = sum(p.numel() for p in block.ff.parameters())
    total = sum(p.numel() for p in block.parameters())
    assert 0.6 < ff / total < 0.7


# --------------------------------------------------------------------------
# wrong implementations, one per named mistake, written independently


def _ff_no_act(x, W1, b1, W2, b2):
    return (x @ W1 + b1) @ W2 + b2


def _ff_act_last(x, W1, b1, W2, b2):
    return torch.relu((x @ W1 + b1) @ W2 + b2)


def _ff_transposed(x, W1, b1, W2, b2):
    return torch.relu(x @ W1.mT + b1) @ W2.mT + b2


def _ff_bias_after(x, W1, b1, W2, b2):
    return (torch.relu(x @ W1) + b1) @ W2 + b2


def _ff_no_bias(x, W1, b1, W2, b2):
    return torch.relu(x @ W1 + b1) @ W2


def _ff_gelu(x, W1, b1, W2, b2):
    return F.gelu(x @ W1 + b1) @ W2 + b2


FEED_FORWARD_WRONG = {
    "missing_activation": _ff_no_act,
    "activation_after_second_layer": _ff_act_last,
    "weights_transposed": _ff_transposed,
    "bias_after_activation": _ff_bias_after,
    "missing_bias": _ff_no_bias,
    "wrong_activation": _ff_gelu,
}

SWIGLU_WRONG = {
    "gate_value_swapped": lambda x, W, V, W2: swiglu(x, V, W, W2),
    "sigmoid_not_silu":
        lambda x, W, V, W2: (torch.sigmoid(x @ W) * (x @ V)) @ W2,
    "wrong_gate_activation":
        lambda x, W, V, W2: (torch.relu(x @ W) * (x @ V)) @ W2,
    "silu_on_both": lambda x, W, V, W2: (F.silu(x @ W) * F.silu(x @ V)) @ W2,
    "added_not_multiplied": lambda x, W, V, W2: (F.silu(x @ W) + x @ V) @ W2,
    "value_ignored": lambda x, W, V, W2: F.silu(x @ W) @ W2,
    "output_projection_missing": lambda x, W, V, W2: F.silu(x @ W) * (x @ V),
}


def _count_matrices_only(d_model, d_ff, activation="relu", bias=True):
    return ffn_param_count(d_model, d_ff, activation, False)


def _count_always_biases(d_model, d_ff, activation="relu", bias=True):
    return ffn_param_count(d_model, d_ff, activation, True)


def _count_no_gate(d_model, d_ff, activation="relu", bias=True):
    return ffn_param_count(d_model, d_ff, "relu", bias)


def _count_no_gate_bias(d_model, d_ff, activation="relu", bias=True):
    n = ffn_param_count(d_model, d_ff, activation, bias)
    return n - d_ff if activation == "swiglu" and bias else n


def _count_one_bias(d_model, d_ff, activation="relu", bias=True):
    n = ffn_param_count(d_model, d_ff, activation, bias)
    return n - d_model if bias else n


def _count_square(d_model, d_ff, activation="relu", bias=True):
    return ffn_param_count(d_model, d_model, activation, bias)


FFN_COUNT_WRONG = {
    "missing_biases": _count_matrices_only,
    "biases_when_disabled": _count_always_biases,
    "missing_gate": _count_no_gate,
    "missing_gate_bias": _count_no_gate_bias,
    "one_bias_only": _count_one_bias,
    "square_layers": _count_square,
}

CHECKS = {
    "feed_forward": (check_feed_forward, feed_forward, FEED_FORWARD_WRONG,
                     FEED_FORWARD_MISTAKES),
    "swiglu": (check_swiglu, swiglu, SWIGLU_WRONG, SWIGLU_MISTAKES),
    "ffn_param_count": (check_ffn_param_count, ffn_param_count, FFN_COUNT_WRONG,
                        FFN_COUNT_MISTAKES),
}

TENSOR_CHECKS = ["feed_forward", "swiglu"]

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


def test_feed_forward_check_passes_the_module_route(capsys):
    def with_module(x, W1, b1, W2, b2):
        ff = FeedForward(W1.shape[0], W1.shape[1])
        with torch.no_grad():
            ff.linear1.weight.copy_(W1.T)
            ff.linear1.bias.copy_(b1)
            ff.linear2.weight.copy_(W2.T)
            ff.linear2.bias.copy_(b2)
        return ff(x)

    assert check_feed_forward(with_module).passed
    _one_friendly_line(capsys)


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
    def broken(*args, **kwargs):
        return {}["missing key"]

    verdict = CHECKS[check][0](broken)
    assert verdict.mistake == "exception"
    assert "raised KeyError" in _one_friendly_line(capsys)


@pytest.mark.parametrize("check", TENSOR_CHECKS)
def test_none_wrong_shape_and_nan_are_friendly(check, capsys):
    run = CHECKS[check][0]
    assert run(lambda *a, **k: None).mistake == "returned_none"
    _one_friendly_line(capsys)
    assert run(lambda x, *a, **k: x[..., :1]).mistake == "shape"
    _one_friendly_line(capsys)
    assert run(lambda x, *a, **k: torch.full_like(x, float("nan"))).mistake == "nan"
    _one_friendly_line(capsys)


def test_param_count_check_is_friendly_about_none_and_strings(capsys):
    assert check_ffn_param_count(lambda *a, **k: None).mistake == "returned_none"
    _one_friendly_line(capsys)
    verdict = check_ffn_param_count(lambda *a, **k: "many")
    assert not verdict.passed and verdict.mistake == "type", verdict.message
    _one_friendly_line(capsys)
    verdict = check_ffn_param_count(lambda d, f, a="relu", bias=True: 2 * d * f + 1)
    assert verdict.mistake == "values", verdict.message
    _one_friendly_line(capsys)
