"""Tests for day 3: the MLP reference code, the training loop and its checks."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import mlp
from helpers.checks import check_accuracy, check_mlp_forward, check_train_step
from helpers.checks import mlp as checks
from helpers.data import make_spirals, train_val_split

# --------------------------------------------------------------------------
# reference code


def test_relu_matches_torch():
    z = torch.linspace(-3, 3, 13)
    assert torch.equal(mlp.relu(z), torch.relu(z))


@pytest.mark.parametrize("sizes", [(2, 3), (2, 32, 32, 3), (5, 1), (4, 7, 1, 9)])
def test_mlp_output_shape(sizes):
    model = mlp.MLP(sizes)
    for n in (1, 17):
        assert model(torch.randn(n, sizes[0])).shape == (n, sizes[-1])


@pytest.mark.parametrize("sizes,count", [((2, 3), 9), ((2, 32, 32, 3), 1251),
                                         ((4, 7, 1, 9), 61)])
def test_parameter_count_formula(sizes, count):
    model = mlp.MLP(sizes)
    assert mlp.mlp_param_count(sizes) == count
    assert mlp.count_parameters(model) == count
    assert count == sum(p.numel() for p in model.parameters())


def test_count_parameters_skips_frozen():
    model = mlp.MLP((2, 4, 3))
    model.layers[0].requires_grad_(False)
    assert mlp.count_parameters(model) == 15
    assert mlp.count_parameters(model, trainable_only=False) == 27


def test_mlp_matches_bare_tensor_forward_and_sequential():
    torch.manual_seed(0)
    model = mlp.MLP((3, 8, 5, 2))
    seq = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 5), nn.ReLU(),
                        nn.Linear(5, 2))
    with torch.no_grad():
        for a, b in zip(seq.parameters(), model.parameters()):
            a.copy_(b)
    X = torch.randn(6, 3)
    expected = seq(X)
    assert torch.allclose(model(X), expected, atol=1e-6)
    assert torch.allclose(mlp.mlp_forward(X, mlp.linear_params(model)), expected,
                          atol=1e-6)


def test_no_relu_after_last_layer():
    model = mlp.MLP((2, 16, 3))
    with torch.no_grad():
        out = model(torch.randn(200, 2) * 5)
    assert (out < 0).any(), "logits must be able to be negative"


def test_linear_layers_without_activation_collapse_to_one():
    torch.manual_seed(1)
    deep = mlp.MLP((2, 5, 4, 3), activation=nn.Identity)
    (W1, b1), (W2, b2), (W3, b3) = mlp.linear_params(deep)
    W = W3 @ W2 @ W1
    b = W3 @ (W2 @ b1 + b2) + b3
    X = torch.randn(7, 2)
    assert torch.allclose(deep(X), X @ W.T + b, atol=1e-5)


def test_relu_network_is_not_linear():
    torch.manual_seed(2)
    model = mlp.MLP((2, 16, 1))
    a, b = torch.randn(50, 2), torch.randn(50, 2)
    with torch.no_grad():
        gap = (model(a + b) - model(a) - model(b) + model(torch.zeros(50, 2)))
    assert gap.abs().max() > 1e-3


@pytest.mark.parametrize("sizes", [(3,), (), (2, 0, 3), (2, 2.5, 3)])
def test_mlp_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError):
        mlp.MLP(sizes)


def test_accuracy_values_and_type():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 5.0]])
    y = torch.tensor([0, 1, 1, 0])
    value = mlp.accuracy(logits, y)
    assert isinstance(value, float) and value == 0.5
    assert mlp.accuracy(logits, logits.argmax(-1)) == 1.0


def test_train_step_matches_manual_step_and_returns_float():
    torch.manual_seed(3)
    model = mlp.MLP((2, 4, 3))
    twin = copy.deepcopy(model)
    X, y = torch.randn(10, 2), torch.randint(0, 3, (10,))
    loss = mlp.train_step(model, torch.optim.SGD(model.parameters(), lr=0.1), X, y)
    expected = F.cross_entropy(twin(X), y)
    expected.backward()
    with torch.no_grad():
        for p in twin.parameters():
            p -= 0.1 * p.grad
    assert isinstance(loss, float)
    assert loss == pytest.approx(expected.item(), abs=1e-6)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_evaluate_leaves_no_gradients_and_keeps_mode():
    model = mlp.MLP((2, 4, 3)).train()
    loss, acc = mlp.evaluate(model, torch.randn(5, 2), torch.tensor([0, 1, 2, 0, 1]))
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert 0.0 <= acc <= 1.0 and loss > 0


def _spirals():
    X, y = make_spirals(n_per_class=150, turns=1.5, noise=0.3, seed=0)
    return train_val_split(X, y, val_fraction=0.25, seed=0)


def test_fit_mlp_solves_spirals_and_linear_model_cannot():
    X_tr, y_tr, X_val, y_val = _spirals()
    torch.manual_seed(0)
    deep = mlp.MLP((2, 32, 32, 3))
    hist = mlp.fit(deep, X_tr, y_tr, X_val, y_val, epochs=300, lr=0.01)
    torch.manual_seed(0)
    linear = mlp.MLP((2, 3))
    hist_lin = mlp.fit(linear, X_tr, y_tr, X_val, y_val, epochs=300, lr=0.05)
    assert hist["val_acc"][-1] > 0.9
    assert hist["train_loss"][-1] < 0.1
    assert hist_lin["val_acc"][-1] < 0.6
    assert hist_lin["train_loss"][-1] > 0.8


def test_fit_history_and_determinism():
    X_tr, y_tr, X_val, y_val = _spirals()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = mlp.MLP((2, 8, 3))
        runs.append(mlp.fit(model, X_tr, y_tr, X_val, y_val, epochs=3,
                            batch_size=100, seed=7))
    a, b = runs
    assert a == b
    steps_per_epoch = -(-len(y_tr) // 100)
    assert a["step"] == [steps_per_epoch * e for e in (1, 2, 3)]
    assert len(a["batch_loss"]) == 3 * steps_per_epoch
    assert set(a) == {"epoch", "step", "train_loss", "train_acc", "batch_loss",
                      "val_loss", "val_acc"}
    full = mlp.fit(mlp.MLP((2, 3)), X_tr, y_tr, epochs=2)
    assert full["step"] == [1, 2] and "val_loss" not in full


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"batch_size": 0}])
def test_fit_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        mlp.fit(mlp.MLP((2, 3)), torch.randn(4, 2), torch.zeros(4, dtype=torch.long),
                **kwargs)


def test_class_predictor_returns_classes():
    model = mlp.MLP((2, 5, 4))
    classes = mlp.class_predictor(model)(torch.randn(9, 2))
    assert classes.shape == (9,) and classes.dtype == torch.long
    assert int(classes.max()) < 4


# --------------------------------------------------------------------------
# checks: the reference passes, every mistake is named


def _printed_one_line(capsys):
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and "Traceback" not in out
    return out


def _stub(*args):
    raise NotImplementedError("Your turn")


def _raises(*args):
    return {}["missing"]


@pytest.mark.parametrize("check,reference", [
    (check_mlp_forward, mlp.mlp_forward),
    (check_accuracy, mlp.accuracy),
    (check_train_step, mlp.train_step),
])
def test_check_passes_reference_and_reports_stub_and_errors(check, reference,
                                                            capsys):
    verdict = check(reference)
    assert verdict.passed, verdict.message
    _printed_one_line(capsys)
    assert check(_stub).mistake == "not_implemented"
    assert "not written yet" in _printed_one_line(capsys)
    assert check(_raises).mistake == "exception"
    assert "KeyError" in _printed_one_line(capsys)
    assert check(lambda *args: None).mistake == "returned_none"
    _printed_one_line(capsys)
    assert check(42).mistake == "not_callable"


# mlp_forward


def _forward(act=torch.relu, last=None, transpose=True, bias=True):
    def forward(X, params):
        h = X
        for i, (W, b) in enumerate(params):
            h = h @ W.T if transpose else h @ W
            if bias:
                h = h + b
            if i < len(params) - 1:
                h = act(h)
            elif last is not None:
                h = last(h)
        return h
    return forward


@pytest.mark.parametrize("wrong,name", [
    (_forward(act=lambda h: h), "no_activation"),
    (_forward(last=torch.relu), "relu_on_output"),
    (_forward(act=lambda h: torch.clamp(h, max=0)), "clamp_wrong"),
    (_forward(act=torch.sigmoid), "wrong_activation"),
    (_forward(act=torch.tanh), "wrong_activation"),
    (_forward(transpose=False), "no_transpose"),
    (_forward(bias=False), "no_bias"),
])
def test_check_mlp_forward_names_mistake(wrong, name, capsys):
    verdict = check_mlp_forward(wrong)
    assert verdict.mistake == name, verdict.message
    _printed_one_line(capsys)


def test_check_mlp_forward_reports_shape_and_nan(capsys):
    assert check_mlp_forward(lambda X, p: _forward()(X, p).T).mistake == "shape"
    _printed_one_line(capsys)
    nan = check_mlp_forward(lambda X, p: _forward()(X, p) * float("nan"))
    assert nan.mistake == "nan"
    _printed_one_line(capsys)


def test_every_forward_mistake_is_tested():
    names = {m.name for m in checks._FORWARD_MISTAKES}
    assert names == {"no_activation", "relu_on_output", "clamp_wrong",
                     "wrong_activation", "no_transpose", "no_bias"}


# accuracy


def _acc_batch_axis(logits, y):
    return (logits.argmax(dim=0) == y).float().mean().item()


def _acc_count(logits, y):
    return (logits.argmax(dim=1) == y).sum().item()


def _acc_count_tensor(logits, y):
    return (logits.argmax(dim=1) == y).sum()


def _acc_percent(logits, y):
    return 100.0 * (logits.argmax(dim=1) == y).float().mean().item()


def _acc_integer_division(logits, y):
    return (logits.argmax(dim=1) == y).sum().item() // len(y)


def _acc_scores(logits, y):
    return (logits.max(dim=1).values == y).float().mean().item()


def _acc_probabilities(logits, y):
    return (logits.softmax(dim=1).max(dim=1).values == y).float().mean().item()


def _acc_tensor(logits, y):
    return (logits.argmax(dim=1) == y).float().mean()


def _acc_numpy_string(logits, y):
    return f"{mlp.accuracy(logits, y):.2f}"


@pytest.mark.parametrize("wrong,name", [
    (_acc_batch_axis, "argmax_batch_axis"),
    (_acc_count, "count"),
    (_acc_count_tensor, "count"),
    (_acc_percent, "percent"),
    (_acc_integer_division, "integer_division"),
    (_acc_scores, "compared_scores"),
    (_acc_probabilities, "compared_scores"),
    (_acc_tensor, "returned_tensor"),
])
def test_check_accuracy_names_mistake(wrong, name, capsys):
    verdict = check_accuracy(wrong)
    assert verdict.mistake == name, verdict.message
    _printed_one_line(capsys)


def test_check_accuracy_reports_wrong_type(capsys):
    assert check_accuracy(_acc_numpy_string).mistake == "type"
    _printed_one_line(capsys)


def test_accuracy_square_case_tells_mistakes_apart():
    logits, y = checks._accuracy_cases()[0].args
    values = {mlp.accuracy(logits, y), _acc_batch_axis(logits, y),
              _acc_count(logits, y), _acc_percent(logits, y),
              _acc_scores(logits, y)}
    assert len(values) == 5
    # integer division also gives 0 here; the check tells it by its int type
    assert _acc_integer_division(logits, y) == 0
    assert isinstance(_acc_integer_division(logits, y), int)


# train_step


def _make_step(zero_grad=True, step=True, loss="ce", backward=1,
               zero_after=False, as_tensor=False, item_first=False,
               no_grad=False, step_first=False):
    def train_step(model, optimizer, X, y):
        if no_grad:
            with torch.no_grad():
                logits = model(X)
        else:
            logits = model(X)
        if loss == "ce":
            value = F.cross_entropy(logits, y)
        elif loss == "softmax":
            value = F.cross_entropy(torch.softmax(logits, dim=1), y)
        elif loss == "nll":
            value = F.nll_loss(logits, y)
        elif loss == "sum":
            value = F.cross_entropy(logits, y, reduction="sum")
        if item_first:
            value = value.item()
        if zero_grad and not zero_after:
            optimizer.zero_grad()
        if step_first:
            optimizer.step()
        for _ in range(backward):
            value.backward()
        if zero_after:
            optimizer.zero_grad()
        if step and not step_first:
            optimizer.step()
        return value if as_tensor else value.item()
    return train_step


def _step_retain_graph(model, optimizer, X, y):
    loss = F.cross_entropy(model(X), y)
    optimizer.zero_grad()
    loss.backward(retain_graph=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_zero_grad_last(model, optimizer, X, y):
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def _step_loss_after(model, optimizer, X, y):
    mlp.train_step(model, optimizer, X, y)
    with torch.no_grad():
        return F.cross_entropy(model(X), y).item()


def _step_own_optimizer(model, optimizer, X, y):
    own = torch.optim.SGD(model.parameters(), lr=0.01)
    return mlp.train_step(model, own, X, y)


@pytest.mark.parametrize("wrong,name", [
    (_make_step(zero_grad=False), "no_zero_grad"),
    (_make_step(step=False), "no_step"),
    (_make_step(step_first=True), "no_step"),
    (_make_step(zero_after=True), "zero_grad_after_backward"),
    (_make_step(loss="softmax"), "double_softmax"),
    (_make_step(loss="nll"), "nll_on_logits"),
    (_make_step(loss="sum"), "sum_loss"),
    (_make_step(backward=2), "backward_twice"),
    (_step_retain_graph, "backward_twice"),
    (_make_step(as_tensor=True), "returned_tensor"),
    (_make_step(item_first=True), "item_before_backward"),
    (_make_step(no_grad=True), "no_graph"),
    (_step_loss_after, "wrong_loss"),
    (_step_own_optimizer, "values"),
])
def test_check_train_step_names_mistake(wrong, name, capsys):
    verdict = check_train_step(wrong)
    assert verdict.mistake == name, verdict.message
    _printed_one_line(capsys)


def test_check_train_step_accepts_zero_grad_at_the_end(capsys):
    assert check_train_step(_step_zero_grad_last).passed
    _printed_one_line(capsys)


def test_check_train_step_leaves_global_random_state_alone(capsys):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_train_step(mlp.train_step)
    check_train_step(_make_step(zero_grad=False))
    assert torch.equal(torch.rand(3), expected)
    capsys.readouterr()
