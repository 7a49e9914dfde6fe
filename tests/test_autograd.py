"""Day 4: the scalar engine, the manual MLP backward pass, finite differences
and their checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import autograd
from helpers.autograd import Value
from helpers.checks import (
    check_mlp_backward,
    check_mul_backward,
    check_numerical_gradient,
)

# --------------------------------------------------------------------------
# the scalar engine against PyTorch autograd

# Each expression is written once and run on both engines: the leaves are
# either Values or 0-d float64 tensors, and only operators shared by both
# (+ - * / ** and the methods tanh, relu, exp, log) are used.
EXPRESSIONS = {
    "product and sum": lambda a, b, c: a * b + c,
    "a value used twice": lambda a, b, c: a * a + a * b,
    "a node used twice": lambda a, b, c: (lambda d: d * d + d.tanh())(a * b - c),
    "division and power": lambda a, b, c: (a / b) ** 3 - c / (a * a + 1.0),
    "numbers on the left": lambda a, b, c: 2.0 - a * 3.0 + 1.0 / (b * b) + 5.0 * c,
    "tanh and relu": lambda a, b, c: (a * b).tanh() * (c + b).relu() + (-c).relu(),
    "exp and log": lambda a, b, c: (a.exp() + b.exp()).log() - c.exp() * a,
    "deep reuse": lambda a, b, c: _deep_reuse(a, b, c),
}


def _deep_reuse(a, b, c):
    x = a
    for _ in range(6):
        x = (x * b + c).tanh() + x * 0.5  # x feeds two branches every step
    return x


def _torch_relu(t):
    return torch.clamp(t, min=0.0)


POINTS = [(0.7, -1.3, 0.4), (-2.0, 0.5, 1.5), (1.2, 2.2, -0.9)]


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
@pytest.mark.parametrize("point", POINTS)
def test_value_engine_matches_torch_autograd(name, point):
    expression = EXPRESSIONS[name]
    leaves = [Value(v) for v in point]
    out = expression(*leaves)
    out.backward()

    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True)
               for v in point]
    t_out = expression(*tensors)
    t_out.backward()

    assert out.data == pytest.approx(t_out.item(), rel=1e-12, abs=1e-12)
    for leaf, tensor in zip(leaves, tensors):
        expected = 0.0 if tensor.grad is None else tensor.grad.item()  # unused leaf
        assert leaf.grad == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_topological_order_puts_every_node_after_its_parents():
    a, b = Value(1.5), Value(-0.5)
    d = a * b
    out = (d + a) * (d - b) + d.tanh()
    order = autograd.topological_order(out)
    position = {id(n): i for i, n in enumerate(order)}
    assert order[-1] is out
    assert len(position) == len(order)  # no node twice
    for node in order:
        for parent in node._parents:
            assert position[id(parent)] < position[id(node)]


def test_a_long_chain_needs_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(20_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0)


def test_leaves_accumulate_and_inner_nodes_restart_on_a_second_backward():
    a, b = Value(2.0), Value(-3.0)
    out = (a * b + a) ** 2  # d out / d a = 2 (ab + a)(b + 1) = 16
    out.backward()
    assert a.grad == pytest.approx(16.0)
    out.backward()
    assert a.grad == pytest.approx(32.0)  # added once more, not compounded
    out.zero_grad()
    out.backward()
    assert a.grad == pytest.approx(16.0)


def test_relu_has_slope_zero_at_zero_like_torch():
    a = Value(0.0)
    a.relu().backward()
    t = torch.tensor(0.0, requires_grad=True)
    torch.relu(t).backward()
    assert a.grad == t.grad.item() == 0.0


def test_value_rejects_what_it_cannot_differentiate():
    with pytest.raises(TypeError):
        Value(1.0) * "2"
    with pytest.raises(TypeError):
        Value(2.0) ** Value(2.0)
    with pytest.raises(ValueError):
        Value(-1.0).log()


def test_draw_graph_places_every_node():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
    out = (a * b + c) ** 2
    out.backward()
    ax = autograd.draw_graph(out)
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("a = 2") for t in texts)
    assert any("grad -24" in t for t in texts)   # dL/da = 2 (ab + c) b
    assert {"*", "+", "**2"} <= set(texts)
    plt.close(ax.figure)


# --------------------------------------------------------------------------
# the manual MLP backward pass


def _autograd_gradients(params, x, y):
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    h = x @ leaves["W1"].T + leaves["b1"]
    logits = torch.relu(h) @ leaves["W2"].T + leaves["b2"]
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return loss.detach(), {k: v.grad for k, v in leaves.items()}


@pytest.mark.parametrize("batch, d_in, d_hidden, d_out", [
    (8, 3, 5, 4), (1, 2, 7, 3), (13, 6, 4, 2), (4, 1, 1, 5),
])
def test_mlp_backward_matches_autograd_in_float64(batch, d_in, d_hidden, d_out):
    params = autograd.init_mlp(d_in, d_hidden, d_out, seed=batch)
    g = torch.Generator().manual_seed(7)
    x = torch.randn(batch, d_in, generator=g, dtype=torch.float64)
    y = torch.randint(0, d_out, (batch,), generator=g)
    loss, cache = autograd.mlp_forward_with_cache(params, x, y)
    manual = autograd.mlp_backward(params, cache)
    torch_loss, reference = _autograd_gradients(params, x, y)
    assert loss.item() == pytest.approx(torch_loss.item(), rel=1e-12)
    for key in params:
        assert manual[key].shape == params[key].shape
        assert (manual[key] - reference[key]).abs().max().item() < 1e-6
        torch.testing.assert_close(manual[key], reference[key], rtol=1e-10,
                                   atol=1e-12)


def test_mlp_backward_matches_autograd_on_the_day3_module():
    from helpers.mlp import MLP

    torch.manual_seed(0)
    model = MLP((2, 6, 3)).double()
    x = torch.randn(9, 2, dtype=torch.float64)
    y = torch.randint(0, 3, (9,))
    params = autograd.mlp_params(model)
    loss, cache = autograd.mlp_forward_with_cache(params, x, y)
    torch.testing.assert_close(cache["logits"], model(x), rtol=1e-12, atol=1e-12)
    F.cross_entropy(model(x), y).backward()
    manual = autograd.mlp_backward(params, cache)
    first, second = model.layers
    for key, p in {"W1": first.weight, "b1": first.bias,
                   "W2": second.weight, "b2": second.bias}.items():
        assert (manual[key] - p.grad).abs().max().item() < 1e-6


def test_mlp_forward_cache_is_consistent():
    params = autograd.init_mlp(3, 4, 2)
    x = torch.randn(5, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0, 1])
    _, cache = autograd.mlp_forward_with_cache(params, x, y)
    assert torch.equal(cache["a"], torch.relu(cache["h"]))
    ones = torch.ones(5, dtype=torch.float64)
    torch.testing.assert_close(cache["probs"].sum(1), ones)
    torch.testing.assert_close(cache["probs"], torch.softmax(cache["logits"], 1))


# --------------------------------------------------------------------------
# finite differences


def test_numerical_gradient_matches_the_analytic_gradient():
    x = torch.tensor([[0.4, -1.1, 2.0], [0.3, 0.9, -0.2]], dtype=torch.float64)

    def f(t):
        return (t.sin() * t.sum()).sum()

    analytic = x.cos() * x.sum() + x.sin().sum()
    numeric = autograd.numerical_gradient(f, x.clone(), 1e-6)
    assert autograd.relative_error(numeric, analytic) < 1e-8


def test_numerical_gradient_confirms_the_mlp_backward_pass():
    params = autograd.init_mlp(3, 4, 3, seed=3)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, dtype=torch.float64, generator=g)
    y = torch.tensor([0, 2, 1, 1, 0, 2])
    _, cache = autograd.mlp_forward_with_cache(params, x, y)
    grads = autograd.mlp_backward(params, cache)
    for key in params:
        def loss_of(value, key=key):
            return autograd.mlp_forward_with_cache({**params, key: value}, x, y)[0]
        numeric = autograd.numerical_gradient(loss_of, params[key].clone(), 1e-6)
        assert autograd.relative_error(numeric, grads[key]) < 1e-6


def test_numerical_gradient_restores_x_and_handles_0d_input():
    x = torch.tensor([1.0, -2.0, 3.5], dtype=torch.float64)
    before = x.clone()
    autograd.numerical_gradient(lambda t: (t ** 2).sum(), x, 1e-4)
    assert torch.equal(x, before)
    scalar = torch.tensor(0.3, dtype=torch.float64)
    slope = autograd.numerical_gradient(torch.sin, scalar, 1e-6)
    assert slope.item() == pytest.approx(math.cos(0.3), rel=1e-9)


def test_central_error_shrinks_like_eps_squared_forward_like_eps():
    def f(t):
        return t.sin().exp()

    def dfdx(x0):
        return math.cos(x0) * math.exp(math.sin(x0))

    eps = [1e-2, 1e-3]
    central = autograd.finite_difference_errors(f, dfdx, 0.8, eps)
    forward = autograd.finite_difference_errors(f, dfdx, 0.8, eps, scheme="forward")
    # one decade of eps: about two decades of error for central, one for forward
    assert np.log10(central[0] / central[1]) == pytest.approx(2.0, abs=0.1)
    assert np.log10(forward[0] / forward[1]) == pytest.approx(1.0, abs=0.1)
    # far too small a step: rounding error dominates and grows again
    tiny = autograd.finite_difference_errors(f, dfdx, 0.8, [1e-13])
    best = autograd.finite_difference_errors(f, dfdx, 0.8, [1e-5])
    assert tiny[0] > 100 * best[0]
    # float32 hits its rounding floor far earlier
    f32 = autograd.finite_difference_errors(f, dfdx, 0.8, [1e-5], dtype=torch.float32)
    assert f32[0] > 100 * best[0]


def test_relative_error_is_scale_free():
    a = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert autograd.relative_error(a, a) == 0.0
    assert autograd.relative_error(a * 1e6, a * 1e6 * 1.001) == pytest.approx(
        autograd.relative_error(a, a * 1.001), rel=1e-6)
    assert autograd.relative_error(torch.zeros(3), torch.zeros(3)) == 0.0


# --------------------------------------------------------------------------
# the checks: each passes the reference and names each mistake


def _one_line(capsys, verdicts=1):
    out = capsys.readouterr().out
    assert "Traceback" not in out
    assert len(out.strip().splitlines()) == verdicts  # one line per verdict
    return out


def _mul_with(rule):
    """A product node whose backward rule is ``rule(a, b, out)``."""
    def mul(a, b):
        out = Value(a.data * b.data, (a, b), "*")
        out._backward = lambda: rule(a, b, out)
        return out
    return mul


def _rule_wrong_sign(a, b, out):
    a.grad -= b.data * out.grad
    b.grad -= a.data * out.grad


def _rule_no_upstream(a, b, out):
    a.grad += b.data
    b.grad += a.data


def _rule_overwrites(a, b, out):
    a.grad = b.data * out.grad
    b.grad = a.data * out.grad


def _rule_swapped(a, b, out):
    a.grad += a.data * out.grad
    b.grad += b.data * out.grad


def _rule_uses_nodes(a, b, out):
    a.grad += b * out.grad
    b.grad += a * out.grad


def _mul_without_rule(a, b):
    return Value(a.data * b.data, (a, b), "*")


def _mul_without_parents(a, b):
    out = Value(a.data * b.data)

    def rule():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad
    out._backward = rule
    return out


def _mul_returns_float(a, b):
    return a.data * b.data


def _stub(*args):
    raise NotImplementedError("Your turn")


def _crashes(*args):
    return 1 / 0


def test_check_mul_backward_passes_the_reference(capsys):
    verdict = check_mul_backward(autograd.mul)
    assert verdict.passed, verdict.message
    _one_line(capsys)


@pytest.mark.parametrize("wrong, mistake", [
    (_mul_with(_rule_wrong_sign), "wrong_sign"),
    (_mul_with(_rule_no_upstream), "no_upstream"),
    (_mul_with(_rule_overwrites), "overwrites_grad"),
    (_mul_with(_rule_swapped), "swapped_operands"),
    (_mul_with(_rule_uses_nodes), "grad_is_value"),
    (_mul_without_rule, "backward_not_attached"),
    (_mul_without_parents, "no_parents"),
    (_mul_returns_float, "type"),
    (_stub, "not_implemented"),
    (_crashes, "exception"),
])
def test_check_mul_backward_names_each_mistake(wrong, mistake, capsys):
    verdict = check_mul_backward(wrong)
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message
    _one_line(capsys)


def _mlp_grads(params, cache, sign=1.0, average=True, mask=True,
               transpose=False, bias="sum"):
    """A hand-written backward pass with the chosen mistakes built in."""
    x, y, h, a, probs = (cache[k] for k in ("x", "y", "h", "a", "probs"))
    B = len(y)
    d_logits = probs.clone()
    d_logits[torch.arange(B), y] -= 1.0
    d_logits = sign * d_logits / (B if average else 1)
    d_a = d_logits @ params["W2"]
    d_h = d_a * (h > 0) if mask else d_a
    d_W1 = x.T @ d_h if transpose else d_h.T @ x
    d_W2 = d_logits.T @ a
    if bias == "sum":
        d_b1, d_b2 = d_h.sum(0), d_logits.sum(0)
    elif bias == "mean":
        d_b1, d_b2 = d_h.mean(0), d_logits.mean(0)
    else:
        d_b1, d_b2 = d_h, d_logits
    return {"W1": d_W1, "b1": d_b1, "W2": d_W2, "b2": d_b2}


def test_check_mlp_backward_passes_the_reference(capsys):
    assert check_mlp_backward(autograd.mlp_backward).passed
    assert check_mlp_backward(_mlp_grads).passed
    _one_line(capsys, verdicts=2)


@pytest.mark.parametrize("options, mistake", [
    ({"sign": -1.0}, "wrong_sign"),
    ({"average": False}, "not_averaged"),
    ({"mask": False}, "no_relu_mask"),
    ({"transpose": True}, "transposed_weight_grad"),
    ({"bias": "per_example"}, "bias_not_summed"),
    ({"bias": "mean"}, "bias_averaged"),
])
def test_check_mlp_backward_names_each_mistake(options, mistake, capsys):
    verdict = check_mlp_backward(lambda p, c: _mlp_grads(p, c, **options))
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message
    _one_line(capsys)


def test_check_mlp_backward_reports_stub_crash_and_missing_key(capsys):
    assert check_mlp_backward(_stub).mistake == "not_implemented"
    assert check_mlp_backward(_crashes).mistake == "exception"

    def no_b2(params, cache):
        grads = autograd.mlp_backward(params, cache)
        del grads["b2"]
        return grads
    assert check_mlp_backward(no_b2).mistake == "keys"
    assert check_mlp_backward(lambda p, c: None).mistake == "returned_none"
    out = capsys.readouterr().out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 4


def _numgrad(f, x, eps, forward=False, divisor=2.0, restore=True):
    grad = torch.zeros_like(x)
    flat, out = x.view(-1), grad.view(-1)
    base = float(f(x))
    for i in range(flat.numel()):
        keep = flat[i].item()
        flat[i] = keep + eps
        up = float(f(x))
        if forward:
            out[i] = (up - base) / eps
        else:
            flat[i] = keep - eps
            out[i] = (up - float(f(x))) / (divisor * eps)
        if restore:
            flat[i] = keep
    return grad


def test_check_numerical_gradient_passes_the_reference(capsys):
    assert check_numerical_gradient(autograd.numerical_gradient).passed
    assert check_numerical_gradient(_numgrad).passed
    _one_line(capsys, verdicts=2)


@pytest.mark.parametrize("options, mistake", [
    ({"forward": True}, "forward_difference"),
    ({"divisor": 1.0}, "divided_by_eps"),
    ({"restore": False}, "x_not_restored"),
])
def test_check_numerical_gradient_names_each_mistake(options, mistake, capsys):
    verdict = check_numerical_gradient(lambda f, x, eps: _numgrad(f, x, eps, **options))
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message
    _one_line(capsys)


def test_check_numerical_gradient_reports_stub_crash_and_shape(capsys):
    assert check_numerical_gradient(_stub).mistake == "not_implemented"
    assert check_numerical_gradient(_crashes).mistake == "exception"
    flat = check_numerical_gradient(lambda f, x, eps: _numgrad(f, x, eps).reshape(-1))
    assert flat.mistake == "shape"
    out = capsys.readouterr().out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 3
