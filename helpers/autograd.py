"""Gradients three ways: a scalar autograd engine, a hand-written MLP backward
pass, and finite differences (day 4).

* :class:`Value` is a number that remembers how it was computed. Every
  operation returns a new node holding its inputs and a small closure (its
  *backward rule*) that turns the node's gradient into gradients of its
  inputs. :meth:`Value.backward` visits the nodes in reverse topological
  order, so each rule runs only once its node's gradient is complete.
* :func:`mlp_forward_with_cache` / :func:`mlp_backward` do the same job for
  day 3's two-layer ReLU network on tensors, with the backward pass written
  out by hand.
* :func:`numerical_gradient` estimates any gradient from function values
  alone, which is how the other two are verified.

Everything here is reference code for the notebook and its checks; PyTorch
loads only when a tensor function is called.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

__all__ = [
    "Value", "as_value", "add", "mul", "power", "tanh", "relu", "exp", "log",
    "topological_order", "draw_graph",
    "init_mlp", "mlp_params", "mlp_forward_with_cache", "mlp_backward",
    "numerical_gradient", "relative_error", "finite_difference_errors",
]


def _leaf_backward() -> None:
    """The backward rule of a leaf: it has no inputs to pass gradient to."""


class Value:
    """A scalar node of a computational graph (day 4).

    ``data`` is the number, ``grad`` the derivative of the final output with
    respect to it (filled by :meth:`backward`), ``_parents`` the nodes it was
    computed from, ``_op`` a short name of the operation (for drawings) and
    ``_backward`` the rule that adds this node's contribution to the
    gradients of its parents. ``label`` is an optional name such as ``"a"``.

    Supports ``+ - * / **`` with other values or plain numbers, and the
    methods :meth:`tanh`, :meth:`relu`, :meth:`exp` and :meth:`log`.
    """

    def __init__(self, data: float, parents: Iterable["Value"] = (), op: str = "",
                 label: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._parents = tuple(parents)
        self._op = op
        self.label = label
        self._backward = _leaf_backward

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.4g}, grad={self.grad:.4g})"

    # arithmetic: every operator builds a node through a function below
    def __add__(self, other):
        return add(self, as_value(other))

    def __radd__(self, other):
        return add(as_value(other), self)

    def __mul__(self, other):
        return mul(self, as_value(other))

    def __rmul__(self, other):
        return mul(as_value(other), self)

    def __neg__(self):
        return mul(self, as_value(-1.0))

    def __sub__(self, other):
        return add(self, -as_value(other))

    def __rsub__(self, other):
        return add(as_value(other), -self)

    def __truediv__(self, other):
        return mul(self, power(as_value(other), -1.0))

    def __rtruediv__(self, other):
        return mul(as_value(other), power(self, -1.0))

    def __pow__(self, exponent: float):
        if isinstance(exponent, Value):
            raise TypeError("Value ** Value is not supported; the exponent must "
                            "be a plain number such as 2 or -1.")
        return power(self, exponent)

    def tanh(self):
        return tanh(self)

    def relu(self):
        return relu(self)

    def exp(self):
        return exp(self)

    def log(self):
        return log(self)

    def backward(self, grad: float = 1.0) -> None:
        """Fill ``.grad`` of every node this one depends on.

        ``grad`` is the gradient arriving from above (1 for a loss). Like
        PyTorch, leaves *accumulate* over calls (reset them with
        ``zero_grad``); inner nodes start from zero on every call, so calling
        ``backward`` twice adds the leaf gradients twice, no more.
        """
        order = topological_order(self)
        for node in order:
            if node._parents:
                node.grad = 0.0
        self.grad += grad
        for node in reversed(order):
            node._backward()

    def zero_grad(self) -> None:
        """Set ``.grad`` to zero on this node and everything it depends on."""
        for node in topological_order(self):
            node.grad = 0.0


def as_value(x) -> Value:
    """Wrap a plain number as a leaf :class:`Value`; leave a Value as it is."""
    if isinstance(x, Value):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return Value(x, label=f"{x:g}")
    raise TypeError(f"a Value can be combined with numbers or Values, not with "
                    f"a {type(x).__name__}.")


# --------------------------------------------------------------------------
# one function per operation: the forward value and its backward rule


def add(a: Value, b: Value) -> Value:
    """``a + b``. Both inputs receive the upstream gradient unchanged (day 4)."""
    out = Value(a.data + b.data, (a, b), "+")

    def backward_rule():
        a.grad += out.grad
        b.grad += out.grad

    out._backward = backward_rule
    return out


def mul(a: Value, b: Value) -> Value:
    """``a * b``. Each input receives the *other* input times the upstream
    gradient (day 4, exercise 1)."""
    out = Value(a.data * b.data, (a, b), "*")

    def backward_rule():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    out._backward = backward_rule
    return out


def power(a: Value, k: float) -> Value:
    """``a ** k`` for a constant exponent ``k``: local slope ``k a^(k-1)`` (day 4)."""
    k = float(k)
    out = Value(a.data ** k, (a,), f"**{k:g}")

    def backward_rule():
        a.grad += k * a.data ** (k - 1.0) * out.grad

    out._backward = backward_rule
    return out


def tanh(a: Value) -> Value:
    """``tanh(a)``: local slope ``1 - tanh(a)^2``, read from the output (day 4)."""
    t = math.tanh(a.data)
    out = Value(t, (a,), "tanh")

    def backward_rule():
        a.grad += (1.0 - t * t) * out.grad

    out._backward = backward_rule
    return out


def relu(a: Value) -> Value:
    """``max(a, 0)``: slope 1 where ``a > 0`` and 0 elsewhere, also at 0 (day 4)."""
    out = Value(max(a.data, 0.0), (a,), "relu")

    def backward_rule():
        a.grad += (1.0 if a.data > 0 else 0.0) * out.grad

    out._backward = backward_rule
    return out


def exp(a: Value) -> Value:
    """``exp(a)``: the slope equals the output itself (day 4)."""
    out = Value(math.exp(a.data), (a,), "exp")

    def backward_rule():
        a.grad += out.data * out.grad

    out._backward = backward_rule
    return out


def log(a: Value) -> Value:
    """Natural ``log(a)`` for ``a > 0``: local slope ``1 / a`` (day 4)."""
    if a.data <= 0:
        raise ValueError(f"log needs a positive input, got {a.data:g}.")
    out = Value(math.log(a.data), (a,), "log")

    def backward_rule():
        a.grad += out.grad / a.data

    out._backward = backward_rule
    return out


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each listed after all of its parents.

    An iterative depth-first search: a node is appended only when the
    search comes back to it, i.e. after all its parents were appended. No
    recursion, so a chain of 100 000 nodes works too. Introduced on day 4.
    """
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))  # comes back here once the parents are in
        for parent in node._parents:
            if id(parent) not in visited:
                stack.append((parent, False))
    return order


def draw_graph(root: Value, ax=None, title: str | None = None,
               show_grad: bool = True):
    """Draw the computational graph of ``root`` with matplotlib (day 4).

    Every node sits one column right of its deepest input (a leaf one column
    left of the first node that uses it), with a circle for the operation
    that made it. Each box shows the label, the value and (with
    ``show_grad``) the gradient. Returns the ``ax``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    from helpers.plotting import COURSE_COLORS

    order = topological_order(root)
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p in node._parents), default=-1)
    # a leaf sits just left of its earliest user, so few arrows cross boxes
    first_use: dict[int, int] = {}
    for node in order:
        for parent in node._parents:
            if not parent._parents:
                first_use[id(parent)] = min(first_use.get(id(parent), 10**9),
                                            depth[id(node)] - 1)
    depth.update(first_use)
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(depth[id(node)], []).append(node)
    spacing_x, spacing_y = 3.2, 1.6
    where: dict[int, tuple[float, float]] = {}
    for d, nodes in columns.items():
        for i, node in enumerate(nodes):
            y = (len(nodes) - 1) / 2 * spacing_y - i * spacing_y
            where[id(node)] = (d * spacing_x, y)

    if ax is None:
        n_cols = max(columns) + 1
        n_rows = max(len(v) for v in columns.values())
        _, ax = plt.subplots(figsize=(2.6 * n_cols + 1.5, 1.25 * n_rows + 1.8))
    box_w, box_h, op_r = 1.7, 0.95, 0.32
    for node in order:
        x, y = where[id(node)]
        if node._parents:
            ox = x - box_w / 2 - 0.6
            for parent in node._parents:
                px, py = where[id(parent)]
                ax.annotate("", xy=(ox - op_r, y), xytext=(px + box_w / 2, py),
                            arrowprops=dict(arrowstyle="->", color="#5f6b73",
                                            lw=1.4, shrinkA=0, shrinkB=2))
            ax.add_patch(plt.Circle((ox, y), op_r, color=COURSE_COLORS[1],
                                    zorder=3))
            ax.text(ox, y, node._op, ha="center", va="center", fontsize=10,
                    color="white", zorder=4, fontweight="bold")
            ax.annotate("", xy=(x - box_w / 2, y), xytext=(ox + op_r, y),
                        arrowprops=dict(arrowstyle="->", color="#5f6b73", lw=1.4,
                                        shrinkA=0, shrinkB=0))
        color = COURSE_COLORS[0] if node._parents else COURSE_COLORS[2]
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h,
                                    boxstyle="round,pad=0.05", facecolor="white",
                                    edgecolor=color, lw=2, zorder=2))
        lines = [f"{node.label or ''} = {node.data:.3g}".strip(" =")]
        if show_grad:
            lines.append(f"grad {node.grad:.3g}")
        ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=11,
                zorder=3)
    xs = [p[0] for p in where.values()]
    ys = [p[1] for p in where.values()]
    ax.set_xlim(min(xs) - box_w, max(xs) + box_w)
    ax.set_ylim(min(ys) - box_h, max(ys) + box_h)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------
# a two-layer MLP with its backward pass written by hand


def init_mlp(d_in: int, d_hidden: int, d_out: int, seed: int = 0, dtype=None):
    """Parameters of ``x -> ReLU(x W1^T + b1) W2^T + b2`` as a dict (day 4).

    Weights use the layout of :class:`torch.nn.Linear` (and of day 3's
    :class:`helpers.mlp.MLP`): ``W1`` has shape ``(d_hidden, d_in)``, ``b1``
    ``(d_hidden,)``, ``W2`` ``(d_out, d_hidden)`` and ``b2`` ``(d_out,)``.
    Weights are scaled by ``sqrt(2 / fan_in)``, biases start small. ``dtype``
    defaults to float64, the right choice for gradient checks.
    """
    import torch

    dtype = dtype or torch.float64
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    return {
        "W1": randn(d_hidden, d_in) * math.sqrt(2.0 / d_in),
        "b1": randn(d_hidden) * 0.1,
        "W2": randn(d_out, d_hidden) * math.sqrt(2.0 / d_hidden),
        "b2": randn(d_out) * 0.1,
    }


def mlp_params(model) -> dict:
    """Detached copies of the weights of a one-hidden-layer
    :class:`helpers.mlp.MLP` (or any module whose ``layers`` are two
    :class:`torch.nn.Linear`), as the dict :func:`mlp_backward` uses (day 4)."""
    first, second = model.layers
    return {"W1": first.weight.detach().clone(), "b1": first.bias.detach().clone(),
            "W2": second.weight.detach().clone(), "b2": second.bias.detach().clone()}


def mlp_forward_with_cache(params: dict, x, y):
    """Mean cross-entropy of the two-layer ReLU MLP, plus what backward needs.

    ``params`` holds ``W1 (H, D)``, ``b1 (H,)``, ``W2 (C, H)``, ``b2 (C,)``;
    ``x`` has shape ``(B, D)`` and ``y`` holds ``B`` class indices. Returns
    ``(loss, cache)`` where ``loss`` is a 0-d tensor and ``cache`` is a dict
    with ``x (B, D)``, ``y (B,)``, ``h (B, H)`` (before ReLU), ``a (B, H)``
    (after ReLU), ``logits (B, C)`` and ``probs (B, C)``. Introduced on day 4.
    """
    import torch

    h = x @ params["W1"].T + params["b1"]                   # (B, D) @ (D, H)
    a = torch.clamp(h, min=0.0)                             # (B, H)
    logits = a @ params["W2"].T + params["b2"]              # (B, H) @ (H, C)
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    loss = -log_probs[torch.arange(len(y)), y].mean()
    cache = {"x": x, "y": y, "h": h, "a": a, "logits": logits,
             "probs": log_probs.exp()}
    return loss, cache


def mlp_backward(params: dict, cache: dict) -> dict:
    """Gradients of the mean cross-entropy with respect to every parameter.

    ``cache`` comes from :func:`mlp_forward_with_cache`. Returns a dict with
    the same keys and shapes as ``params``: ``W1 (H, D)``, ``b1 (H,)``,
    ``W2 (C, H)``, ``b2 (C,)``. Written out by hand with the chain rule
    (day 4, exercise 2).
    """
    import torch

    x, y, h, a, probs = (cache[k] for k in ("x", "y", "h", "a", "probs"))
    B = x.shape[0]
    one_hot = torch.zeros_like(probs)
    one_hot[torch.arange(B), y] = 1.0
    d_logits = (probs - one_hot) / B                        # (B, C)
    d_W2 = d_logits.T @ a                                   # (C, B) @ (B, H)
    d_b2 = d_logits.sum(dim=0)                              # (C,)
    d_a = d_logits @ params["W2"]                           # (B, C) @ (C, H)
    d_h = d_a * (h > 0).to(d_a.dtype)                       # (B, H)
    d_W1 = d_h.T @ x                                        # (H, B) @ (B, D)
    d_b1 = d_h.sum(dim=0)                                   # (H,)
    return {"W1": d_W1, "b1": d_b1, "W2": d_W2, "b2": d_b2}


# --------------------------------------------------------------------------
# finite differences


def numerical_gradient(f: Callable, x, eps: float = 1e-6,
                       scheme: str = "central"):
    """Estimate the gradient of a scalar function ``f`` at ``x`` (day 4).

    ``x`` is a float tensor of any shape; ``f(x)`` returns a number or a
    0-d tensor. Each entry is nudged in place, ``f`` is evaluated, and the
    entry is put back exactly. ``scheme="central"`` uses
    ``(f(x + eps) - f(x - eps)) / (2 eps)``, error of order ``eps**2``;
    ``"forward"`` uses ``(f(x + eps) - f(x)) / eps``, error of order ``eps``.
    Returns a tensor shaped like ``x``. Costs two calls of ``f`` per entry.
    """
    import numpy as np
    import torch

    if scheme not in ("central", "forward"):
        raise ValueError(f"scheme must be 'central' or 'forward', not {scheme!r}.")
    grad = torch.zeros_like(x)
    with torch.no_grad():
        f_x = float(f(x)) if scheme == "forward" else None
        for idx in np.ndindex(*x.shape):
            old = x[idx].item()
            x[idx] = old + eps
            f_plus = float(f(x))
            if scheme == "central":
                x[idx] = old - eps
                f_minus = float(f(x))
                grad[idx] = (f_plus - f_minus) / (2 * eps)
            else:
                grad[idx] = (f_plus - f_x) / eps
            x[idx] = old
    return grad


def relative_error(a, b) -> float:
    """``|a - b| / (|a| + |b|)`` with Euclidean norms; 0 when both are zero.

    Scale-free, so one threshold (say 1e-6 in float64) works for gradients
    of any size. Introduced on day 4.
    """
    import torch

    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    scale = (a.norm() + b.norm()).item()
    return 0.0 if scale == 0.0 else (a - b).norm().item() / scale


def finite_difference_errors(f: Callable, dfdx: Callable, x0: float, eps_values,
                             scheme: str = "central", dtype=None) -> list[float]:
    """Relative error of a finite-difference slope of ``f`` at ``x0``, per eps.

    ``f`` maps a 0-d tensor to a 0-d tensor, ``dfdx`` gives the exact slope
    as a float. The point and the step are stored in ``dtype`` (float64 by
    default), so float32 shows its larger rounding error. Used for the
    error-versus-eps picture of day 4.
    """
    import torch

    dtype = dtype or torch.float64
    exact = dfdx(x0)
    errors = []
    for eps in eps_values:
        x = torch.tensor(x0, dtype=dtype)
        slope = numerical_gradient(f, x, float(eps), scheme=scheme).item()
        errors.append(abs(slope - exact) / abs(exact))
    return errors
