"""Toy data sets: shapes, labels, determinism and clear errors."""

import pytest
import torch

from helpers.data import make_moons, make_spirals, train_val_split


def test_spirals_shapes_labels_and_determinism():
    X, y = make_spirals(n_per_class=50, n_classes=3, seed=1)
    assert X.shape == (150, 2) and X.dtype == torch.float32
    assert y.dtype == torch.int64 and torch.bincount(y).tolist() == [50, 50, 50]
    X2, y2 = make_spirals(n_per_class=50, n_classes=3, seed=1)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    X3, _ = make_spirals(n_per_class=50, n_classes=3, seed=2)
    assert not torch.equal(X, X3)


def test_moons_have_two_balanced_classes():
    X, y = make_moons(n=101, seed=0)
    assert X.shape == (101, 2)
    assert torch.bincount(y).tolist() == [50, 51]


def test_split_is_a_partition():
    X, y = make_moons(n=100)
    Xtr, ytr, Xva, yva = train_val_split(X, y, val_fraction=0.2, seed=0)
    assert len(Xtr) == 80 and len(Xva) == 20
    rows = {tuple(r.tolist()) for r in torch.cat([Xtr, Xva])}
    assert rows == {tuple(r.tolist()) for r in X}


@pytest.mark.parametrize("call", [
    lambda: make_spirals(n_classes=1),
    lambda: make_moons(n=1),
    lambda: train_val_split(torch.zeros(3, 2), torch.zeros(3), val_fraction=1.5),
    lambda: train_val_split(torch.zeros(3, 2), torch.zeros(4)),
])
def test_impossible_requests_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
