"""Checks for day 4: a backward rule, a manual MLP backward pass and
finite differences.

* :func:`check_mul_backward` -- the product node of the scalar engine
* :func:`check_mlp_backward` -- hand-written gradients of the two-layer MLP
* :func:`check_numerical_gradient` -- central differences
"""

from __future__ import annotations

from typing import Callable

from helpers import autograd
from helpers.autograd import Value
from helpers.checks._core import (
    Case,
    Mistake,
    Verdict,
    _type_name,
    call_learner,
    check_function,
    compare,
    diagnose,
    fail,
    run_check,
)

# --------------------------------------------------------------------------
# exercise 1: the backward rule of a product node


def _expression(mul: Callable, name: str, values: dict) -> dict:
    """Build the expression ``name`` with ``mul`` for every product (the
    engine's own ``+`` and ``tanh`` elsewhere), run backward and return the
    gradient of every leaf by name."""
    leaves = {k: Value(v, label=k) for k, v in values.items()}
    a, b, c = leaves.get("a"), leaves.get("b"), leaves.get("c")
    if name == "a*b":
        out = mul(a, b)
    elif name == "(a*b)*c":
        out = mul(mul(a, b), c)
    elif name == "a*a":
        out = mul(a, a)
    elif name == "a*b + a*c":
        out = autograd.add(mul(a, b), mul(a, c))
    elif name == "tanh(a*b)*c":
        out = mul(autograd.tanh(mul(a, b)), c)
    else:  # pragma: no cover - a bug in the check
        raise KeyError(name)
    out.backward()
    return {k: leaf.grad for k, leaf in leaves.items()}


def _run_with(mul: Callable) -> Callable:
    def run(name, values):
        return _expression(mul, name, values)
    return run


def _mul_wrong_sign(a, b):
    out = Value(a.data * b.data, (a, b), "*")

    def rule():
        a.grad -= b.data * out.grad
        b.grad -= a.data * out.grad
    out._backward = rule
    return out


def _mul_no_upstream(a, b):
    out = Value(a.data * b.data, (a, b), "*")

    def rule():
        a.grad += b.data
        b.grad += a.data
    out._backward = rule
    return out


def _mul_overwrites(a, b):
    out = Value(a.data * b.data, (a, b), "*")

    def rule():
        a.grad = b.data * out.grad
        b.grad = a.data * out.grad
    out._backward = rule
    return out


def _mul_swapped(a, b):
    out = Value(a.data * b.data, (a, b), "*")

    def rule():
        a.grad += a.data * out.grad
        b.grad += b.data * out.grad
    out._backward = rule
    return out


_MUL_MISTAKES = [
    Mistake("wrong_sign", "your gradients have the wrong sign: the product "
            "rule adds `b.data * out.grad` to a.grad, it does not subtract it",
            impl=_run_with(_mul_wrong_sign)),
    Mistake("swapped_operands", "the two inputs' gradients are swapped: a "
            "receives `b.data * out.grad` (the other input's value), and b "
            "receives `a.data * out.grad`", impl=_run_with(_mul_swapped)),
    Mistake("no_upstream", "the chain rule is missing: multiply the local "
            "slope by `out.grad`, the gradient arriving from above",
            impl=_run_with(_mul_no_upstream)),
    Mistake("overwrites_grad", "a gradient is assigned with `=` instead of "
            "accumulated with `+=`, so a value used twice keeps only its last "
            "contribution; use `a.grad += ...`", impl=_run_with(_mul_overwrites)),
]

_MUL_CASES = [
    Case(("a*b", {"a": 2.0, "b": -3.0}), "L = a*b with a = 2, b = -3"),
    Case(("(a*b)*c", {"a": 2.0, "b": -3.0, "c": 4.0}),
         "L = (a*b)*c, where the gradient reaching a*b is c = 4"),
    Case(("a*a", {"a": 3.0}), "L = a*a (one value used twice, a = 3)"),
    Case(("a*b + a*c", {"a": 1.5, "b": 2.0, "c": -5.0}),
         "L = a*b + a*c (a feeds two products)"),
    Case(("tanh(a*b)*c", {"a": 0.5, "b": -0.8, "c": 2.5}),
         "L = tanh(a*b)*c (a product inside tanh)"),
    Case(("a*b", {"a": 1e3, "b": -2e-3}), "L = a*b with a = 1000, b = -0.002"),
]


def _probe_mul(mul: Callable) -> None:
    """Check the node ``mul`` returns before looking at any gradient."""
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    out = call_learner("mul", mul, (a, b), label="a = 2, b = -3")
    if out is None:
        fail("mul returned None; end it with `return out`.", "returned_none")
    if not isinstance(out, Value):
        fail(f"mul should return the new Value node but returned a "
             f"{_type_name(out)}; build it with `Value(a.data * b.data, (a, b), "
             f"'*')` and return it.", "type")
    if abs(out.data - (-6.0)) > 1e-12:
        fail(f"mul(2, -3) holds data {out.data:.4g} instead of -6; the forward "
             f"value is `a.data * b.data`.", "values")
    parents = sorted(p.data for p in out._parents if isinstance(p, Value))
    if parents != [-3.0, 2.0]:
        fail("the node mul returns does not list a and b as its parents, so "
             "backward never reaches them; pass `(a, b)` to Value(...).",
             "no_parents")
    if out._backward is autograd._leaf_backward or not callable(out._backward):
        fail("mul never attaches its backward rule: define `_backward()` "
             "inside mul and set `out._backward = _backward` before returning.",
             "backward_not_attached")


def check_mul_backward(mul: Callable) -> Verdict:
    """Check ``mul(a, b)``, which builds the product node of the scalar engine
    and its backward rule (day 4, exercise 1).

    ``mul`` takes two :class:`~helpers.autograd.Value` nodes and returns a new
    one whose ``_backward`` adds ``b.data * out.grad`` to ``a.grad`` and
    ``a.data * out.grad`` to ``b.grad``. The check builds several
    expressions with it (a value used twice among them), runs the engine's
    backward pass and compares every leaf gradient with the reference.
    Names the mistakes wrong_sign, swapped_operands, no_upstream,
    overwrites_grad, no_parents and backward_not_attached.
    """
    name = "mul"
    reference = _run_with(autograd.mul)

    def body() -> str:
        _probe_mul(mul)
        learner = _run_with(mul)
        for case in _MUL_CASES:
            got = call_learner(name, learner, case.args, label=case.label)
            expected = reference(*case.args)
            if any(isinstance(g, Value) for g in got.values()):
                fail("a gradient became a Value node instead of a number: inside "
                     "the rule use the numbers `b.data` and `a.data`, not the "
                     "nodes a and b.", "grad_is_value")
            for leaf, value in expected.items():
                diff = compare(got[leaf], value, atol=1e-9, rtol=1e-7,
                               what=f"{leaf}.grad")
                if diff is not None:
                    diagnose(name, case, got, expected, _MUL_MISTAKES, diff,
                             atol=1e-9, rtol=1e-7)
        return (f"mul is correct on all {len(_MUL_CASES)} expressions, including "
                "a value used twice: its backward rule multiplies by the other "
                "input and by out.grad, and accumulates with +=.")

    return run_check(name, body)


# --------------------------------------------------------------------------
# exercise 2: the manual backward pass of the two-layer MLP


def _mlp_case(batch: int, d_in: int, d_hidden: int, d_out: int, seed: int,
              scale: float = 1.0) -> tuple:
    import torch

    params = autograd.init_mlp(d_in, d_hidden, d_out, seed=seed)
    g = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(batch, d_in, generator=g, dtype=torch.float64) * scale
    y = torch.randint(0, d_out, (batch,), generator=g)
    _, cache = autograd.mlp_forward_with_cache(params, x, y)
    return params, cache


def _mlp_variant(params, cache, sign=1.0, average=True, mask=True):
    """The reference backward pass with one classic mistake switched on."""
    import torch

    x, y, h, a, probs = (cache[k] for k in ("x", "y", "h", "a", "probs"))
    B = x.shape[0]
    one_hot = torch.zeros_like(probs)
    one_hot[torch.arange(B), y] = 1.0
    d_logits = sign * (probs - one_hot) / (B if average else 1)
    d_a = d_logits @ params["W2"]
    d_h = d_a * (h > 0).to(d_a.dtype) if mask else d_a
    return {"W1": d_h.T @ x, "b1": d_h.sum(0), "W2": d_logits.T @ a,
            "b2": d_logits.sum(0)}


def _repaired(got, expected, repair) -> bool:
    """True when ``repair`` (applied to the entries it recognises) turns the
    learner's dict into the right answer."""
    import torch

    if not isinstance(got, dict) or set(expected) - set(got):
        return False
    fixed, changed = {}, False
    for key, value in expected.items():
        item = got[key]
        new = repair(key, item, value) if isinstance(item, torch.Tensor) else None
        if new is not None:
            fixed[key], changed = new, True
        else:
            fixed[key] = item
    return changed and compare(fixed, expected) is None


def _transposed(case, got, expected) -> bool:
    def untranspose(key, item, value):
        if key.startswith("W") and item.dim() == 2 and \
                tuple(item.shape) == tuple(value.T.shape) != tuple(value.shape):
            return item.T
        return None
    return _repaired(got, expected, untranspose)


def _bias_not_summed(case, got, expected) -> bool:
    def summed(key, item, value):
        if key.startswith("b") and item.dim() == 2 and \
                item.shape[-1] == value.shape[0]:
            return item.sum(0)
        return None
    return _repaired(got, expected, summed)


def _bias_averaged(case, got, expected) -> bool:
    B = case.args[1]["x"].shape[0]

    def rescaled(key, item, value):
        if key.startswith("b") and B > 1 and tuple(item.shape) == tuple(value.shape):
            return item * B
        return None
    return _repaired(got, expected, rescaled)


_MLP_MISTAKES = [
    Mistake("wrong_sign", "every gradient has the wrong sign: the gradient of "
            "the mean cross-entropy with respect to the logits is (probs - "
            "one_hot) / B, not (one_hot - probs) / B",
            impl=lambda p, c: _mlp_variant(p, c, sign=-1.0)),
    Mistake("not_averaged", "the gradients are B times too large: the loss "
            "is a mean over the batch, so divide d_logits by the batch size B",
            impl=lambda p, c: _mlp_variant(p, c, average=False)),
    Mistake("no_relu_mask", "the ReLU mask is missing: the gradient reaching "
            "h must be zero wherever h <= 0, so multiply d_a by (h > 0)",
            impl=lambda p, c: _mlp_variant(p, c, mask=False)),
    Mistake("transposed_weight_grad", "a weight gradient is transposed: it "
            "must have the weight's own shape, e.g. d_W1 = d_h.T @ x of shape "
            "(d_hidden, d_in), not x.T @ d_h", when=_transposed),
    Mistake("bias_not_summed", "a bias gradient still has one row per "
            "example: the bias is shared by the whole batch, so sum its "
            "gradient over the batch axis, d_b = d_out.sum(dim=0)",
            when=_bias_not_summed),
    Mistake("bias_averaged", "a bias gradient is B times too small: d_logits "
            "already carries the 1/B of the mean, so sum over the batch "
            "instead of averaging", when=_bias_averaged),
]


def check_mlp_backward(mlp_backward: Callable) -> Verdict:
    """Check ``mlp_backward(params, cache)``, the hand-written gradients of
    the two-layer ReLU MLP with mean cross-entropy (day 4, exercise 2).

    ``params`` holds ``W1 (d_hidden, d_in)``, ``b1``, ``W2 (d_out,
    d_hidden)``, ``b2`` (the :class:`torch.nn.Linear` layout); ``cache`` comes
    from :func:`helpers.autograd.mlp_forward_with_cache`. The function must
    return a dict of
    gradients shaped like ``params``. Cases use float64, non-square shapes, a
    batch of one and saturated logits. Names the mistakes wrong_sign,
    not_averaged, no_relu_mask, transposed_weight_grad, bias_not_summed and
    bias_averaged.
    """
    cases = [
        Case(_mlp_case(6, 3, 5, 4, seed=1),
             "a batch of 6 with 3 inputs, 5 hidden units and 4 classes"),
        Case(_mlp_case(1, 3, 5, 4, seed=2), "a batch of one example"),
        Case(_mlp_case(7, 2, 9, 3, seed=3),
             "odd sizes: 7 examples, 2 inputs, 9 hidden units, 3 classes"),
        Case(_mlp_case(5, 4, 6, 3, seed=4, scale=30.0),
             "large inputs whose softmax is saturated"),
    ]
    return check_function(
        "mlp_backward", mlp_backward, cases, reference=autograd.mlp_backward,
        mistakes=_MLP_MISTAKES, atol=1e-8, rtol=1e-6,
        success=(f"mlp_backward matches the reference on all {len(cases)} cases "
                 "(a batch of one, odd sizes and saturated logits among them): "
                 "signs, 1/B, ReLU mask, shapes and bias sums are all right."))


# --------------------------------------------------------------------------
# exercise 3: central differences


def _sum_of_cubes(x):
    return (x ** 3).sum()


def _coupled(x):
    # every entry's slope depends on all the others: sum(x)^2 * exp(x[0]/4)
    flat = x.reshape(-1)
    return flat.sum() ** 2 * (flat[0] / 4).exp()


def _softplus_mean(x):
    import torch

    return torch.nn.functional.softplus(3 * x).mean()


def _as_float(x):
    return float((x ** 2).sum() + x.sum())


def _forward_difference(f, x, eps):
    return autograd.numerical_gradient(f, x, eps, scheme="forward")


def _over_eps(f, x, eps):
    return 2 * autograd.numerical_gradient(f, x, eps)


def _not_restored(f, x, eps):
    import numpy as np
    import torch

    grad = torch.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        old = x[idx].item()
        x[idx] = old + eps
        f_plus = float(f(x))
        x[idx] = old - eps
        f_minus = float(f(x))
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def check_numerical_gradient(numerical_gradient: Callable) -> Verdict:
    """Check ``numerical_gradient(f, x, eps)``, the central-difference
    estimate of the gradient of a scalar function (day 4, exercise 3).

    ``x`` is a float64 tensor of any shape and ``f(x)`` returns a number or a
    0-d tensor; the result must be shaped like ``x``. A function with strong
    curvature exposes a forward difference, a coupled function exposes an
    ``x`` that is not restored after each nudge. Names the mistakes
    forward_difference, divided_by_eps and x_not_restored.
    """
    import torch

    def tensor(values):
        return torch.tensor(values, dtype=torch.float64)

    cases = [
        Case((_sum_of_cubes, tensor([1.5, -0.5, 2.0]), 1e-3),
             "f(x) = sum(x**3), strongly curved, with eps = 1e-3"),
        Case((_coupled, tensor([[0.3, -1.2, 0.8], [0.5, 0.1, -0.4]]), 1e-4),
             "a (2, 3) input to f(x) = sum(x)**2 * exp(x[0]/4), where every "
             "slope depends on every entry"),
        Case((_softplus_mean, tensor([0.7]), 1e-5),
             "a single entry, x of shape (1,)"),
        Case((_as_float, tensor([[2.0, -1.0], [0.5, 3.0]]), 1e-5),
             "an f that returns a plain Python float"),
    ]
    not_restored = Mistake(
        "x_not_restored", "x is not put back after each nudge, so later entries "
        "are measured at a shifted point and the caller's x ends up changed; "
        "restore x[i] = old before moving on", impl=_not_restored)
    mistakes = [
        Mistake("forward_difference", "this is a forward difference, "
                "(f(x + eps) - f(x)) / eps, whose error shrinks only like eps; "
                "use the central difference (f(x + eps) - f(x - eps)) / (2 eps)",
                impl=_forward_difference),
        Mistake("divided_by_eps", "your estimate is twice too large: the two "
                "points x + eps and x - eps are 2 eps apart, so divide by "
                "2 * eps", impl=_over_eps),
        not_restored,
    ]
    return check_function(
        "numerical_gradient", numerical_gradient, cases,
        reference=autograd.numerical_gradient, mistakes=mistakes,
        atol=1e-7, rtol=1e-6, input_changed=not_restored,
        success=(f"numerical_gradient is correct on all {len(cases)} cases: "
                 "central differences over 2 eps, every entry restored, any "
                 "shape of x."))
