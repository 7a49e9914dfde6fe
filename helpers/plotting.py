"""Plots in one consistent style, readable on a projector (day 1 onwards).

Every function draws on a given matplotlib ``ax`` (or a new figure) and
returns the ``ax``, so notebooks can combine them in subplots.
"""

from __future__ import annotations

COURSE_COLORS = ["#1f5fbf", "#e0761b", "#2a9d55", "#c23b3b", "#7b4fb3",
                 "#8c6d31", "#d45aa5", "#5f6b73"]


def use_course_style() -> None:
    """Large fonts, thick lines, light grid: readable at projector size (day 1)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({
        "figure.figsize": (9.0, 5.0),
        "figure.dpi": 90,
        "savefig.dpi": 90,
        "figure.autolayout": True,
        "font.size": 14,
        "axes.titlesize": 16,
        "axes.labelsize": 15,
        "xtick.labelsize": 13,
        "ytick.labelsize": 13,
        "legend.fontsize": 13,
        "lines.linewidth": 2.5,
        "lines.markersize": 8,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": cycler(color=COURSE_COLORS),
        "image.cmap": "viridis",
    })


def _axes(ax, figsize=None):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _numpy(x):
    import numpy as np

    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def heatmap(matrix, ax=None, row_labels=None, col_labels=None, title=None,
            xlabel=None, ylabel=None, cmap="viridis", annotate=False, fmt=".2f",
            vmin=None, vmax=None, colorbar=True):
    """Draw a 2-D array as a labelled heatmap (day 1; attention maps later).

    ``matrix`` may be a NumPy array or a tensor of shape ``(rows, cols)``.
    With ``annotate=True`` each cell shows its value, which suits small
    matrices such as a 6x6 attention map.
    """
    m = _numpy(matrix)
    if m.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D matrix, got shape {m.shape}.")
    ax = _axes(ax)
    image = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.grid(False)
    if row_labels is not None:
        ax.set_yticks(range(len(row_labels)), labels=list(row_labels))
    if col_labels is not None:
        ax.set_xticks(range(len(col_labels)), labels=list(col_labels))
    if annotate:
        lo, hi = float(m.min()), float(m.max())
        mid = (lo + hi) / 2
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                color = "white" if m[i, j] < mid else "black"
                ax.text(j, i, format(m[i, j], fmt), ha="center", va="center",
                        color=color, fontsize=11)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    return ax


def plot_curves(curves, ax=None, xlabel="step", ylabel=None, title=None,
                logy=False, xs=None):
    """Plot named curves, e.g. ``{"train loss": [...], "val loss": [...]}`` (day 3)."""
    ax = _axes(ax)
    for name, values in curves.items():
        values = _numpy(values)
        x = range(len(values)) if xs is None else _numpy(xs)
        ax.plot(x, values, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    return ax


def plot_decision_boundary(predict, X, y, ax=None, title=None, resolution=200,
                           margin=0.5):
    """Shade the class each point of the plane gets, and scatter the data (day 3).

    ``predict`` maps a float tensor of shape ``(N, 2)`` to class indices of
    shape ``(N,)``; ``X`` has shape ``(N, 2)`` and ``y`` holds class indices.
    """
    import numpy as np
    import torch
    from matplotlib.colors import ListedColormap

    X, y = _numpy(X), _numpy(y)
    ax = _axes(ax, figsize=(6.5, 6))
    x0 = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    x1 = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    g0, g1 = np.meshgrid(x0, x1)
    grid = torch.tensor(np.stack([g0.ravel(), g1.ravel()], axis=1),
                        dtype=torch.float32)
    with torch.no_grad():
        z = _numpy(predict(grid)).reshape(g0.shape)
    n_classes = int(max(y.max(), z.max())) + 1
    colors = COURSE_COLORS[:n_classes]
    ax.contourf(g0, g1, z, levels=np.arange(n_classes + 1) - 0.5,
                cmap=ListedColormap(colors), alpha=0.25)
    for c in range(n_classes):
        pts = X[y == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=18, color=colors[c],
                   label=f"class {c}", edgecolors="white", linewidths=0.3)
    ax.set_aspect("equal")
    ax.legend(loc="upper right")
    if title:
        ax.set_title(title)
    return ax


def scatter_labeled(points, labels, ax=None, title=None, groups=None):
    """Scatter 2-D points and write a label next to each (day 5).

    ``groups`` (optional) gives each point a group name; points of one group
    share a colour and the legend lists the groups.
    """
    points = _numpy(points)
    ax = _axes(ax, figsize=(9, 7))
    if groups is None:
        groups = ["" for _ in labels]
    names = list(dict.fromkeys(groups))
    for k, name in enumerate(names):
        idx = [i for i, g in enumerate(groups) if g == name]
        ax.scatter(points[idx, 0], points[idx, 1], s=60,
                   color=COURSE_COLORS[k % len(COURSE_COLORS)],
                   label=name or None)
    for (px, py), text in zip(points, labels):
        ax.annotate(text, (px, py), textcoords="offset points", xytext=(5, 4),
                    fontsize=12)
    if any(names):
        ax.legend(loc="best")
    if title:
        ax.set_title(title)
    return ax
