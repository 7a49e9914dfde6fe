"""Checks for day 3: the MLP forward pass, accuracy and one training step.

Each check runs the learner's function next to the reference in
:mod:`helpers.mlp`, names the classic mistakes of the topic and prints one
verdict. Introduced on day 3.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from helpers import mlp as ref
from helpers.checks._core import (
    Case,
    Mistake,
    Verdict,
    call_learner,
    check_function,
    compare,
    diagnose,
    fail,
    run_check,
)

__all__ = ["check_mlp_forward", "check_accuracy", "check_train_step"]


def _randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g) * scale


def _params(g: torch.Generator, sizes) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(_randn(g, d_out, d_in), _randn(g, d_out))
            for d_in, d_out in zip(sizes[:-1], sizes[1:])]


# --------------------------------------------------------------------------
# Exercise: mlp_forward(X, params)


def _forward_with(X, params, act=ref.relu, last=None, transpose=True, bias=True):
    h = X
    for i, (W, b) in enumerate(params):
        h = h @ (W.T if transpose else W)
        if bias:
            h = h + b
        if i < len(params) - 1:
            h = act(h)
        elif last is not None:
            h = last(h)
    return h


_FORWARD_MISTAKES = [
    Mistake("no_activation",
            "there is no non-linearity between your layers, so the whole network "
            "collapses into one linear map; apply relu to every hidden layer",
            impl=lambda X, p: _forward_with(X, p, act=lambda h: h)),
    Mistake("relu_on_output",
            "your last layer also goes through ReLU, so no logit can be negative; "
            "return the last layer's output as it is",
            impl=lambda X, p: _forward_with(X, p, last=ref.relu)),
    Mistake("clamp_wrong",
            "your ReLU keeps the negative part and zeroes the positive one; use "
            "torch.clamp(h, min=0) (or torch.relu), not clamp(h, max=0)",
            impl=lambda X, p: _forward_with(X, p, act=lambda h: h.clamp(max=0))),
    Mistake("wrong_activation",
            "you used sigmoid instead of ReLU between the layers; use torch.relu",
            impl=lambda X, p: _forward_with(X, p, act=torch.sigmoid)),
    Mistake("wrong_activation",
            "you used tanh instead of ReLU between the layers; use torch.relu",
            impl=lambda X, p: _forward_with(X, p, act=torch.tanh)),
    Mistake("no_transpose",
            "you multiply by W instead of W.T; W has shape (d_out, d_in) like "
            "nn.Linear's weight, so a layer computes h @ W.T + b",
            impl=lambda X, p: _forward_with(X, p, transpose=False)),
    Mistake("no_bias",
            "the biases are missing; every layer adds its b after the matrix "
            "product",
            impl=lambda X, p: _forward_with(X, p, bias=False)),
]


def _forward_cases() -> list[Case]:
    g = torch.Generator().manual_seed(3)
    return [
        Case((_randn(g, 4, 3), _params(g, [3, 3, 3])),
             "4 points through two square layers 3 -> 3 -> 3"),
        Case((_randn(g, 6, 2), _params(g, [2, 5, 3])),
             "6 points through 2 -> 5 -> 3"),
        Case((_randn(g, 1, 4), _params(g, [4, 8, 8, 2])),
             "a batch of one through 4 -> 8 -> 8 -> 2"),
        Case((_randn(g, 5, 2), _params(g, [2, 3])),
             "a single layer 2 -> 3 (no hidden layer)"),
        Case((_randn(g, 3, 2, scale=100.0), _params(g, [2, 7, 3])),
             "inputs of size about 100"),
    ]


def check_mlp_forward(fn) -> Verdict:
    """Check ``mlp_forward(X, params)`` against :func:`helpers.mlp.mlp_forward`
    (day 3). ``params`` is a list of ``(W, b)`` pairs, ``W`` of shape
    ``(d_out, d_in)``; ReLU between layers, none after the last."""
    return check_function(
        "mlp_forward", fn, _forward_cases(), ref.mlp_forward, _FORWARD_MISTAKES,
        atol=1e-4, rtol=1e-4,
        success=("mlp_forward is correct: ReLU between the layers, raw logits at "
                 "the end, right for square, deep, single-layer networks, a batch "
                 "of one and large inputs."))


# --------------------------------------------------------------------------
# Exercise: accuracy(logits, y)


def _is_integer(x) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return True
    return isinstance(x, torch.Tensor) and not (x.is_floating_point()
                                                or x.is_complex())


def _correct(logits, y):
    return (logits.argmax(dim=-1) == y).sum()


_ACCURACY_MISTAKES = [
    Mistake("argmax_batch_axis",
            "you take argmax over the batch axis (dim=0), so you pick a row per "
            "class instead of a class per row; use logits.argmax(dim=-1)",
            impl=lambda logits, y: (logits.argmax(dim=0) == y).float().mean()),
    Mistake("count",
            "you return the number of correct rows, not the fraction; divide by "
            "the number of rows",
            impl=lambda logits, y: _correct(logits, y)),
    Mistake("percent",
            "you return a percentage; return a fraction between 0 and 1",
            impl=lambda logits, y: 100 * _correct(logits, y).float() / len(y)),
    Mistake("integer_division",
            "integer division (//) rounds your fraction down to 0 or 1; divide "
            "with / (or take .float().mean())",
            when=lambda case, got, expected: (
                _is_integer(got)
                and float(got) == math.floor(float(expected) + 1e-9))),
    Mistake("compared_scores",
            "you compare the largest score (or probability) with the labels; "
            "compare its position, logits.argmax(dim=-1), which is the class",
            impl=lambda logits, y: (logits.max(dim=-1).values == y).float().mean()),
]


def _accuracy_cases() -> list[Case]:
    g = torch.Generator().manual_seed(4)
    square = torch.tensor([[3.0, 2.0, 0.0],
                           [0.0, 1.2, 0.5],
                           [1.1, 0.0, 0.2]])                   # (3, 3)
    many = _randn(g, 8, 4)
    many_y = many.argmax(dim=-1)
    many_y[[1, 4, 6]] = (many_y[[1, 4, 6]] + 1) % 4            # 5 of 8 right
    big = _randn(g, 6, 5, scale=1e4)
    big_y = big.argmax(dim=-1)
    big_y[0] = (big_y[0] + 2) % 5                              # 5 of 6 right
    one = _randn(g, 1, 3)
    return [
        Case((square, torch.tensor([0, 1, 2])), "3 points and 3 classes"),
        Case((many, many_y), "8 points and 4 classes"),
        Case((one, one.argmax(dim=-1)), "a batch of one"),
        Case((big, big_y), "logits of size 10,000"),
    ]


def check_accuracy(fn) -> Verdict:
    """Check ``accuracy(logits, y)`` against :func:`helpers.mlp.accuracy`
    (day 3): argmax over the class axis, a fraction, a Python float."""
    name = "accuracy"

    def body() -> str:
        cases = _accuracy_cases()
        for case in cases:
            got = call_learner(name, fn, case.args, label=case.label)
            expected = ref.accuracy(*case.args)
            if got is None:
                fail(f"{name} returned None on {case.label}; did you forget the "
                     "`return` statement?", "returned_none")
            if _as_number(got) is None:
                fail(f"{name} returns a {type(got).__name__} on {case.label}; "
                     "return a Python float between 0 and 1.", "type")
            difference = compare(got, expected, atol=1e-6, rtol=1e-6)
            if difference is not None:
                diagnose(name, case, got, expected, _ACCURACY_MISTAKES,
                         difference, 1e-6, 1e-6)
            if isinstance(got, torch.Tensor):
                fail(f"{name} returns a tensor ({got!r} on {case.label}); return a "
                     "Python float with .item(), so it prints and stores cleanly.",
                     "returned_tensor")
            if not isinstance(got, float):
                fail(f"{name} returns a {type(got).__name__}; return a Python "
                     "float between 0 and 1.", "type")
        return (f"{name} is correct on all {len(cases)} cases (square logits, "
                "4 classes, a batch of one, logits of size 10,000) and returns a "
                "float.")

    return run_check(name, body)


# --------------------------------------------------------------------------
# Exercise: train_step(model, optimizer, X, y)


def _step_no_zero_grad(model, optimizer, X, y):
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_double_softmax(model, optimizer, X, y):
    loss = F.cross_entropy(model(X).softmax(dim=-1), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_nll_on_logits(model, optimizer, X, y):
    loss = F.nll_loss(model(X), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_sum(model, optimizer, X, y):
    loss = F.cross_entropy(model(X), y, reduction="sum")
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_backward_twice(model, optimizer, X, y):
    loss = F.cross_entropy(model(X), y)
    optimizer.zero_grad()
    loss.backward(retain_graph=True)
    loss.backward()
    optimizer.step()
    return loss.item()


_STEP_MISTAKES = [
    Mistake("no_zero_grad",
            "the second step goes wrong because the gradients of the first one are "
            "still there and add up; call optimizer.zero_grad() before "
            "loss.backward()", impl=_step_no_zero_grad),
    Mistake("double_softmax",
            "you apply softmax before F.cross_entropy, which applies log-softmax "
            "itself; pass the raw logits", impl=_step_double_softmax),
    Mistake("nll_on_logits",
            "F.nll_loss expects log-probabilities but gets raw logits; use "
            "F.cross_entropy(logits, y) (or nll_loss on log_softmax(logits))",
            impl=_step_nll_on_logits),
    Mistake("sum_loss",
            "your loss adds the examples up instead of averaging them, so the step "
            "grows with the batch; keep cross_entropy's default reduction='mean'",
            impl=_step_sum),
    Mistake("backward_twice",
            "you call backward twice, so every gradient is doubled; call "
            "loss.backward() once per step", impl=_step_backward_twice),
]

_KNOWN_ERRORS = [
    ("backward through the graph a second time", "backward_twice",
     "you call loss.backward() twice on the same graph; call it once per step"),
    ("does not require grad", "no_graph",
     "your loss has no computation graph, so backward() cannot reach the weights; "
     "do the forward pass outside torch.no_grad() and don't detach the logits"),
    ("'float' object has no attribute 'backward'", "item_before_backward",
     "you call .item() before backward(), which drops the graph; call "
     "loss.backward() on the tensor and return loss.item() at the end"),
]


def _step_cases():
    """(label, sizes, optimizer factory, X, y) for the train_step check."""
    g = torch.Generator().manual_seed(5)
    X1, y1 = _randn(g, 8, 2), torch.randint(0, 3, (8,), generator=g)
    X2, y2 = _randn(g, 1, 3), torch.randint(0, 2, (1,), generator=g)
    return [
        ("a 2 -> 6 -> 3 MLP with SGD on 8 points", (2, 6, 3),
         lambda m: torch.optim.SGD(m.parameters(), lr=0.5), X1, y1),
        ("a 3 -> 4 -> 4 -> 2 MLP with Adam on a batch of one", (3, 4, 4, 2),
         lambda m: torch.optim.Adam(m.parameters(), lr=0.05), X2, y2),
    ]


def _run_two_steps(step, model0, make_optimizer, X, y):
    model = copy.deepcopy(model0)
    optimizer = make_optimizer(model)
    losses = [step(model, optimizer, X.clone(), y.clone()) for _ in range(2)]
    return model, losses


def _call_step(name, fn, model, optimizer, X, y, label):
    try:
        return fn(model, optimizer, X.clone(), y.clone())
    except Exception as exc:
        error, text = exc, str(exc)
        for pattern, mistake, message in _KNOWN_ERRORS:
            if pattern in text:
                fail(f"{name}: {message} (seen on {label}).", mistake)

        def again():
            raise error

        call_learner(name, again, label=label)  # reports it in one sentence
        raise  # pragma: no cover - call_learner always raises here


def _same_params(a, b, atol=1e-6) -> bool:
    return all(torch.allclose(p, q, atol=atol, rtol=1e-5)
               for p, q in zip(a.parameters(), b.parameters()))


def _largest_gap(a, b) -> tuple[str, float]:
    gaps = {n: (p - q).abs().max().item()
            for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters())}
    worst = max(gaps, key=gaps.get)
    return worst, gaps[worst]


def _as_number(x):
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, torch.Tensor) and x.numel() == 1:
        return x.detach().double().item()
    return None


def check_train_step(fn) -> Verdict:
    """Check ``train_step(model, optimizer, X, y)`` against
    :func:`helpers.mlp.train_step` (day 3).

    Two calls on a seeded model must change its parameters exactly as the
    reference does (forward, cross-entropy, zero_grad, backward, step) and
    return the loss before each step as a Python float. The global random
    state is left as it was.
    """
    name = "train_step"

    def body() -> str:
        if not callable(fn):
            call_learner(name, fn)  # reports it in one sentence
        cases = _step_cases()
        for label, sizes, make_optimizer, X, y in cases:
            torch.manual_seed(sum(sizes))
            model0 = ref.MLP(sizes)
            expected_model, expected = _run_two_steps(
                ref.train_step, model0, make_optimizer, X, y)
            model = copy.deepcopy(model0)
            optimizer = make_optimizer(model)
            got = [_call_step(name, fn, model, optimizer, X, y, label)
                   for _ in range(2)]
            for value in got:
                if value is None:
                    fail(f"{name} returned None on {label}; return the loss as a "
                         "float with `return loss.item()`.", "returned_none")
                if _as_number(value) is None:
                    fail(f"{name} returned a {type(value).__name__} on {label}; "
                         "return the loss as a Python float with "
                         "`return loss.item()`.", "type")
            if _same_params(model, model0, atol=0.0):
                grads = [p.grad for p in model.parameters()]
                if all(gr is None or not gr.any() for gr in grads):
                    fail(f"{name}: your parameters never change because the "
                         "gradients are cleared before optimizer.step() uses "
                         "them; the order is zero_grad, backward, step (seen on "
                         f"{label}).", "zero_grad_after_backward")
                fail(f"{name}: your parameters never change; call "
                     "optimizer.step() after loss.backward() (seen on "
                     f"{label}).", "no_step")
            if not _same_params(model, expected_model):
                for mistake in _STEP_MISTAKES:
                    try:
                        wrong_model, _ = _run_two_steps(
                            mistake.impl, model0, make_optimizer, X, y)
                    except Exception:
                        continue
                    if _same_params(model, wrong_model):
                        fail(f"{name}: {mistake.message} (seen on {label}).",
                             mistake.name)
                where, gap = _largest_gap(model, expected_model)
                fail(f"{name} is wrong on {label}: after two calls `{where}` "
                     f"differs from the expected value by up to {gap:.3g}; do "
                     "exactly forward, cross-entropy, zero_grad, backward, step "
                     "with the optimizer you are given.", "values")
            for k, (value, want) in enumerate(zip(got, expected), start=1):
                if abs(_as_number(value) - want) > 1e-5 + 1e-4 * abs(want):
                    fail(f"{name} updates the weights correctly but returns "
                         f"{_as_number(value):.4g} instead of {want:.4g} on call "
                         f"{k} ({label}); return the loss computed before the "
                         "step.", "wrong_loss")
            if any(isinstance(value, torch.Tensor) for value in got):
                fail(f"{name} returns a tensor; return loss.item(), a Python "
                     "float, because a list of loss tensors keeps every "
                     "computation graph alive.", "returned_tensor")
        return (f"{name} is correct: on {cases[0][0]} and on {cases[1][0]}, two "
                "calls change the weights exactly as forward, loss, zero_grad, "
                "backward, step should, and return the loss as a float.")

    with torch.random.fork_rng(devices=[]):
        return run_check(name, body)
