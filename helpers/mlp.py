"""Feed-forward networks and the plain training loop (day 3 onwards).

Reference code for the multilayer perceptron (MLP): the ReLU, a forward pass
written with bare tensors, an :class:`MLP` module with any layer sizes, the
accuracy of a batch of logits, one optimisation step and a small training
loop that records a history. Later days reuse all of it: day 4 derives the
gradients of :class:`MLP` by hand, day 19 meets the same block again as the
position-wise feed-forward layer of a transformer.

Shapes follow PyTorch: a batch ``X`` has shape ``(N, d_in)``, a weight matrix
``W`` of a layer from ``d_in`` to ``d_out`` features has shape
``(d_out, d_in)`` as in :class:`torch.nn.Linear`, and logits have shape
``(N, n_classes)``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "relu", "mlp_forward", "MLP", "linear_params", "count_parameters",
    "mlp_param_count", "accuracy", "train_step", "evaluate", "fit",
    "class_predictor",
]


def relu(z: torch.Tensor) -> torch.Tensor:
    """The rectified linear unit, ``max(z, 0)`` elementwise (day 3).

    ``z`` may have any shape; the result has the same shape.
    """
    return torch.clamp(z, min=0.0)


def mlp_forward(X: torch.Tensor,
                params: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Forward pass of an MLP written with bare tensors (day 3).

    ``X`` has shape ``(N, d_0)``; ``params`` lists one ``(W, b)`` pair per
    layer, ``W`` of shape ``(d_out, d_in)`` and ``b`` of shape ``(d_out,)``
    (the layout of :class:`torch.nn.Linear`). Every layer computes
    ``h @ W.T + b``; a ReLU follows every layer except the last, whose output
    (the logits, shape ``(N, d_L)``) stays unbounded.
    """
    h = X
    for i, (W, b) in enumerate(params):
        h = h @ W.T + b                      # (N, d_in) -> (N, d_out)
        if i < len(params) - 1:
            h = relu(h)
    return h


class MLP(nn.Module):
    """A multilayer perceptron with the layer sizes you give it (day 3).

    ``sizes`` lists the width of every layer from input to output, e.g.
    ``(2, 32, 32, 3)``: 2 input features, two hidden layers of 32 units and
    3 output logits. ``(2, 3)`` has no hidden layer, which makes it a linear
    model. ``activation`` builds the non-linearity placed between layers
    (``nn.ReLU`` by default; day 19 tries ``nn.GELU``); none follows the
    last layer. Input ``(N, sizes[0])``, output ``(N, sizes[-1])``.
    """

    def __init__(self, sizes: Sequence[int],
                 activation: Callable[[], nn.Module] = nn.ReLU):
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, "
                             f"got sizes={sizes}.")
        if any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"Every size must be a positive integer, got "
                             f"sizes={sizes}.")
        self.sizes = tuple(sizes)
        self.layers = nn.ModuleList(
            nn.Linear(d_in, d_out) for d_in, d_out in zip(sizes[:-1], sizes[1:]))
        self.act = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = self.act(layer(x))           # (N, d_in) -> (N, d_hidden)
        return self.layers[-1](x)            # (N, d_out): logits, no ReLU


def linear_params(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The ``(W, b)`` pair of every :class:`torch.nn.Linear` in ``model``, in
    order, ready for :func:`mlp_forward` (day 3)."""
    return [(m.weight, m.bias) for m in model.modules() if isinstance(m, nn.Linear)]


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """The number of scalar parameters in ``model`` (day 3)."""
    return sum(p.numel() for p in model.parameters()
               if p.requires_grad or not trainable_only)


def mlp_param_count(sizes: Sequence[int]) -> int:
    """Parameters of an MLP with these layer sizes: each layer from ``d_in``
    to ``d_out`` holds ``d_in * d_out`` weights and ``d_out`` biases (day 3)."""
    return sum((d_in + 1) * d_out for d_in, d_out in zip(sizes[:-1], sizes[1:]))


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of rows whose largest logit sits at the true class (day 3).

    ``logits`` has shape ``(N, n_classes)``, ``y`` holds class indices of
    shape ``(N,)``. Returns a Python float between 0 and 1.
    """
    predictions = logits.argmax(dim=-1)      # (N,)
    return (predictions == y).float().mean().item()


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer,
               X: torch.Tensor, y: torch.Tensor,
               loss_fn: Callable = F.cross_entropy) -> float:
    """One optimisation step on the batch ``(X, y)``; returns the loss (day 3).

    ``X`` has shape ``(N, d_in)`` and ``y`` holds class indices ``(N,)``.
    Forward, loss, ``zero_grad``, ``backward``, ``step``, in that order. The
    loss is the one measured *before* the step, returned as a Python float
    so that a list of them holds no computation graph.
    """
    model.train()
    logits = model(X)                        # (N, n_classes)
    loss = loss_fn(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
             loss_fn: Callable = F.cross_entropy) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on ``(X, y)``, without gradients (day 3)."""
    was_training = model.training
    model.eval()
    logits = model(X)
    result = loss_fn(logits, y).item(), accuracy(logits, y)
    model.train(was_training)
    return result


def fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
        X_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None,
        epochs: int = 300, lr: float = 1e-2, batch_size: int | None = None,
        optimizer: torch.optim.Optimizer | None = None, seed: int = 0,
        loss_fn: Callable = F.cross_entropy) -> dict[str, list]:
    """Train ``model`` on ``(X, y)`` and return its history (day 3).

    ``X`` has shape ``(N, d_in)``, ``y`` shape ``(N,)``. Each epoch visits
    every training row once: in one full batch when ``batch_size`` is None,
    otherwise in shuffled mini-batches of ``batch_size`` rows (the order comes
    from a generator seeded with ``seed``, so runs repeat exactly). Adam with
    learning rate ``lr`` is used unless an ``optimizer`` is given.

    The history has one entry per epoch under ``"epoch"``, ``"step"`` (steps
    taken so far), ``"train_loss"`` and ``"train_acc"`` (measured on the whole
    training set after the epoch) and, when validation data is given,
    ``"val_loss"`` and ``"val_acc"``; ``"batch_loss"`` has one entry per step.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 or None, got {batch_size}.")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}; they must match.")
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    keys = ["epoch", "step", "train_loss", "train_acc", "batch_loss"]
    if X_val is not None:
        keys += ["val_loss", "val_acc"]
    history: dict[str, list] = {k: [] for k in keys}
    steps = 0
    for epoch in range(1, epochs + 1):
        if batch_size is None:
            batches = [torch.arange(len(y))]
        else:
            batches = torch.randperm(len(y), generator=generator).split(batch_size)
        for idx in batches:
            history["batch_loss"].append(
                train_step(model, optimizer, X[idx], y[idx], loss_fn))
            steps += 1
        train_loss, train_acc = evaluate(model, X, y, loss_fn)
        history["epoch"].append(epoch)
        history["step"].append(steps)
        history["train_loss"].append(train_loss)
        history["train_acc"].append(train_acc)
        if X_val is not None:
            val_loss, val_acc = evaluate(model, X_val, y_val, loss_fn)
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
    return history


def class_predictor(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function mapping points ``(N, d_in)`` to predicted classes ``(N,)``,
    as :func:`helpers.plotting.plot_decision_boundary` wants (day 3)."""

    @torch.no_grad()
    def predict(points: torch.Tensor) -> torch.Tensor:
        was_training = model.training
        model.eval()
        classes = model(points).argmax(dim=-1)
        model.train(was_training)
        return classes

    return predict
