"""Reference code for vectors, dot products and matrix products (day 1).

Every function works on PyTorch tensors and follows one convention: vectors
live on the *last* axis, and any leading axes are batch axes that broadcast.
So ``dot(a, b)`` with ``a`` of shape ``(..., d)`` and ``b`` of shape
``(..., d)`` returns one number per pair, with shape ``(...)``.

The loop-based :func:`matmul_loops` is slow on purpose: it spells out the
``n * k * m`` multiply-adds that ``A @ B`` performs in compiled code.
"""

from __future__ import annotations

import math

import torch


def _check_last_axis(a: torch.Tensor, b: torch.Tensor, name: str) -> None:
    if a.shape[-1:] != b.shape[-1:]:
        raise ValueError(
            f"{name} needs vectors of the same length on the last axis, got "
            f"shapes {tuple(a.shape)} and {tuple(b.shape)}."
        )


def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Dot product over the last axis: ``sum_i a[..., i] * b[..., i]``.

    Inputs: ``a`` of shape ``(..., d)`` and ``b`` of shape ``(..., d)``; the
    leading axes broadcast. Returns shape ``(...)``. Introduced on day 1.
    """
    _check_last_axis(a, b, "dot")
    return (a * b).sum(dim=-1)


def norm(x: torch.Tensor) -> torch.Tensor:
    """Euclidean length over the last axis, ``sqrt(x . x)``.

    Input ``x`` of shape ``(..., d)``; returns shape ``(...)``. Introduced on
    day 1.
    """
    return dot(x, x).sqrt()


def cosine_similarity(a: torch.Tensor, b: torch.Tensor,
                      eps: float = 1e-8) -> torch.Tensor:
    """Cosine of the angle between vectors on the last axis.

    ``cos = a . b / (max(|a|, eps) * max(|b|, eps))``, the same convention as
    ``torch.nn.functional.cosine_similarity``, so a zero vector gives 0 rather
    than NaN. Inputs ``a`` and ``b`` of shape ``(..., d)`` (leading axes
    broadcast); returns shape ``(...)`` with values in ``[-1, 1]``.
    Introduced on day 1.
    """
    _check_last_axis(a, b, "cosine_similarity")
    return dot(a, b) / (norm(a).clamp_min(eps) * norm(b).clamp_min(eps))


def project(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Orthogonal projection of ``a`` onto the line through ``b``.

    ``proj = (a . b / b . b) * b``; what is left, ``a - proj``, is at a right
    angle to ``b``. Inputs ``a`` and ``b`` of shape ``(..., d)`` (leading axes
    broadcast); returns the broadcast shape ``(..., d)``. A zero ``b`` gives a
    zero projection. Introduced on day 1.
    """
    _check_last_axis(a, b, "project")
    coefficient = dot(a, b) / dot(b, b).clamp_min(eps)  # (...)
    return coefficient.unsqueeze(-1) * b  # (..., d)


def matmul_loops(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Matrix product with three Python loops: ``C[i, j] = sum_p A[i, p] B[p, j]``.

    Inputs: ``A`` of shape ``(n, k)`` and ``B`` of shape ``(k, m)``; returns
    ``C`` of shape ``(n, m)``. Raises ``ValueError`` when the inner sizes
    differ or an input is not 2-D. Slow on purpose: it shows the ``n * k * m``
    multiply-adds that ``A @ B`` does in compiled code. Introduced on day 1.
    """
    if A.dim() != 2 or B.dim() != 2:
        raise ValueError(f"matmul_loops needs two 2-D tensors, got shapes "
                         f"{tuple(A.shape)} and {tuple(B.shape)}.")
    n, k = A.shape
    k_b, m = B.shape
    if k != k_b:
        raise ValueError(f"cannot multiply ({n}, {k}) by ({k_b}, {m}): the "
                         f"inner sizes {k} and {k_b} differ.")
    C = torch.zeros(n, m, dtype=torch.promote_types(A.dtype, B.dtype))
    for i in range(n):  # row of A
        for j in range(m):  # column of B
            total = 0.0
            for p in range(k):  # walk along both at once
                total += A[i, p] * B[p, j]
            C[i, j] = total
    return C


def matmul_multiply_adds(a_shape, b_shape) -> int:
    """Number of multiply-adds in ``A @ B`` for the given shapes.

    ``a_shape`` is ``(..., n, k)`` and ``b_shape`` is ``(..., k, m)``; the
    batch axes broadcast. The count is ``batch * n * k * m``. Introduced on
    day 1; day 15 uses it to count the work in a transformer.
    """
    a_shape, b_shape = tuple(a_shape), tuple(b_shape)
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise ValueError("matmul_multiply_adds needs shapes with at least two "
                         "axes, such as (n, k) and (k, m).")
    (n, k), (k_b, m) = a_shape[-2:], b_shape[-2:]
    if k != k_b:
        raise ValueError(f"inner sizes {k} and {k_b} differ, so {a_shape} and "
                         f"{b_shape} cannot be multiplied.")
    batch = torch.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    return math.prod(batch) * n * k * m


def batched_scores(Q: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Dot product of every query with every key, batch by batch.

    ``scores[b, t, s] = Q[b, t] . K[b, s]``, i.e. ``Q @ K^T`` per batch
    element. Inputs: ``Q`` of shape ``(B, T, d)`` and ``K`` of shape
    ``(B, S, d)``; returns shape ``(B, T, S)``. Day 12 scales these scores
    and turns them into attention weights. Introduced on day 1.
    """
    _check_last_axis(Q, K, "batched_scores")
    return Q @ K.transpose(-2, -1)  # (B, T, d) @ (B, d, S) -> (B, T, S)


# --------------------------------------------------------------------------
# pictures


def plot_projection(a, b, ax=None, title=None):
    """Draw 2-D vectors ``a`` and ``b``, the projection of ``a`` onto ``b``,
    the dashed residual and the right angle between them (day 1).

    ``a`` and ``b`` are tensors or sequences of two numbers. Returns the ax.
    """
    import matplotlib.pyplot as plt

    from helpers.plotting import COURSE_COLORS

    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    p = project(a, b)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5.5))

    def arrow(vec, color, label, start=(0.0, 0.0)):
        ax.annotate("", xy=(start[0] + vec[0], start[1] + vec[1]), xytext=start,
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=2.5,
                                    mutation_scale=20))
        ax.plot([], [], color=color, label=label)

    arrow(b.tolist(), COURSE_COLORS[1], "b")
    arrow(a.tolist(), COURSE_COLORS[0], "a")
    arrow(p.tolist(), COURSE_COLORS[2], "projection of a onto b")
    ax.plot([p[0], a[0]], [p[1], a[1]], ls="--", color=COURSE_COLORS[7],
            label="a - projection")
    # the right-angle marker: a small square at the foot of the residual
    size = 0.08 * float(max(norm(a), norm(b)))
    u = b / norm(b)
    r = a - p
    w = r / norm(r) if float(norm(r)) > 1e-9 else torch.zeros_like(r)
    corner = [p - size * u, p - size * u + size * w, p + size * w]
    xs = [float(c[0]) for c in corner]
    ys = [float(c[1]) for c in corner]
    ax.plot(xs, ys, color="black", lw=1.2)
    span = torch.stack([a, b, p, torch.zeros(2, dtype=a.dtype)])
    lo = float(span.min()) - 0.5
    hi = float(span.max()) + 0.5
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.legend(loc="upper right")
    ax.set_xlabel("first coordinate")
    ax.set_ylabel("second coordinate")
    if title:
        ax.set_title(title)
    return ax


def plot_matmul_shapes(n: int, k: int, m: int, i: int = 0, j: int = 0, ax=None,
                       title=None):
    """Draw ``A (n, k) @ B (k, m) = C (n, m)`` as grids of cells (day 1).

    Row ``i`` of A and column ``j`` of B are shaded, and so is the single cell
    ``C[i, j]`` that their dot product fills. Returns the ax.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from helpers.plotting import COURSE_COLORS

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.2))
    row_color, col_color, cell_color = (COURSE_COLORS[0], COURSE_COLORS[1],
                                        COURSE_COLORS[2])

    def grid(x0, rows, cols, shade, name):
        top = max(n, k)
        for r in range(rows):
            for c in range(cols):
                face = shade(r, c) or "white"
                ax.add_patch(Rectangle((x0 + c, top - r - 1), 1, 1,
                                       facecolor=face, edgecolor="#444444",
                                       lw=1, alpha=0.85 if face != "white" else 1))
        ax.text(x0 + cols / 2, top + 0.4, f"{name}  ({rows}, {cols})",
                ha="center", va="bottom", fontsize=14)
        return x0 + cols

    x = 0
    x = grid(x, n, k, lambda r, c: row_color if r == i else None, "A")
    ax.text(x + 0.75, max(n, k) / 2, "@", ha="center", va="center", fontsize=22)
    x = grid(x + 1.5, k, m, lambda r, c: col_color if c == j else None, "B")
    ax.text(x + 0.75, max(n, k) / 2, "=", ha="center", va="center", fontsize=22)
    x = grid(x + 1.5, n, m,
             lambda r, c: cell_color if (r, c) == (i, j) else None, "C")
    ax.set_xlim(-0.5, x + 0.5)
    ax.set_ylim(-0.5, max(n, k) + 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax
