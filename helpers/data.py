"""Toy data sets for experiments that finish in seconds (day 3 onwards).

All generators are seeded and return float32 features and int64 labels as
PyTorch tensors, so a notebook gets the same points on every run.
"""

from __future__ import annotations

import math


def _generator(seed: int):
    import torch

    return torch.Generator().manual_seed(seed)


def make_spirals(n_per_class: int = 150, n_classes: int = 3, noise: float = 0.2,
                 turns: float = 1.0, seed: int = 0):
    """Interleaved 2-D spirals, one arm per class (day 3).

    Returns ``X`` of shape ``(n_per_class * n_classes, 2)`` and ``y`` of
    shape ``(n_per_class * n_classes,)``. No straight line separates the arms,
    which is why a linear model fails and a small MLP succeeds.
    """
    import torch

    if n_per_class < 1 or n_classes < 2:
        raise ValueError("make_spirals needs n_per_class >= 1 and n_classes >= 2.")
    g = _generator(seed)
    xs, ys = [], []
    for c in range(n_classes):
        r = torch.linspace(0.15, 1.0, n_per_class)
        angle = (r * turns * 2 * math.pi + c * 2 * math.pi / n_classes
                 + noise * torch.randn(n_per_class, generator=g))
        pts = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)
        xs.append(pts * 2.0)
        ys.append(torch.full((n_per_class,), c, dtype=torch.long))
    X, y = torch.cat(xs), torch.cat(ys)
    order = torch.randperm(len(y), generator=g)
    return X[order].float(), y[order]


def make_moons(n: int = 300, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles with labels 0 and 1 (day 3).

    Returns ``X`` of shape ``(n, 2)`` and ``y`` of shape ``(n,)``.
    """
    import torch

    if n < 2:
        raise ValueError("make_moons needs at least 2 points.")
    g = _generator(seed)
    n0 = n // 2
    n1 = n - n0
    t0 = torch.rand(n0, generator=g) * math.pi
    t1 = torch.rand(n1, generator=g) * math.pi
    upper = torch.stack([torch.cos(t0), torch.sin(t0)], dim=1)
    lower = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], dim=1)
    X = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n1, dtype=torch.long)])
    order = torch.randperm(n, generator=g)
    return X[order].float(), y[order]


def train_val_split(X, y, val_fraction: float = 0.25, seed: int = 0):
    """Split tensors into train and validation parts, deterministically (day 3)."""
    import torch

    if not 0 < val_fraction < 1:
        raise ValueError("val_fraction must lie strictly between 0 and 1.")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}; they must match.")
    order = torch.randperm(len(y), generator=_generator(seed))
    n_val = max(1, int(round(len(y) * val_fraction)))
    val, train = order[:n_val], order[n_val:]
    return X[train], y[train], X[val], y[val]
