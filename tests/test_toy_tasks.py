"""Day 14: the which-comes-first task. Seeded, correctly labelled, padded
right, balanced, and order-sensitive by construction."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from helpers import toy_tasks as tt


def _task(**kw):
    options = dict(n=400, min_len=4, max_len=12, n_fillers=5, seed=3)
    options.update(kw)
    return tt.make_which_first(**options)


def test_same_seed_gives_the_same_tensors_and_another_seed_does_not():
    a, b, c = _task(), _task(), _task(seed=4)
    for field in ("ids", "lengths", "labels"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.ids, c.ids)


def test_fixed_seed_gives_these_first_sequences():
    # Pins the generator itself: a change in how sequences are drawn changes
    # every stored notebook output that uses the task.
    task = tt.make_which_first(3, seed=0)
    assert ["".join(task.tokens(i)) for i in range(3)] == [
        "fddBAhe", "BheehA", "ABgef"]
    assert task.labels.tolist() == [0, 0, 1]


def test_shapes_dtypes_and_vocabulary():
    task = _task()
    assert task.ids.shape == (400, 12) and task.ids.dtype == torch.int64
    assert task.lengths.shape == (400,) and task.lengths.dtype == torch.int64
    assert task.labels.shape == (400,) and task.labels.dtype == torch.int64
    assert task.vocab == ("<pad>", "A", "B", "c", "d", "e", "f", "g")
    assert task.vocab_size == 8 and task.n_classes == 2 and len(task) == 400
    assert task.class_names == ("B first", "A first")


def test_lengths_cover_the_range_and_padding_sits_exactly_after_each_end():
    task = _task()
    assert set(task.lengths.tolist()) == set(range(4, 13))
    T = task.ids.shape[1]
    real = torch.arange(T)[None, :] < task.lengths[:, None]         # (N, T)
    assert (task.ids[~real] == tt.PAD).all()
    assert (task.ids[real] != tt.PAD).all()


def test_every_sequence_holds_one_a_one_b_and_fillers_elsewhere():
    task = _task()
    for i in range(len(task)):
        row = task.ids[i, :task.lengths[i]].tolist()
        counts = Counter(row)
        assert counts[tt.FIRST] == 1 and counts[tt.SECOND] == 1
        assert all(3 <= t < task.vocab_size for t in row
                   if t not in (tt.FIRST, tt.SECOND))


def test_labels_say_whether_a_comes_before_b():
    task = _task()
    for i in range(len(task)):
        row = task.ids[i].tolist()
        assert task.labels[i].item() == int(row.index(tt.FIRST) < row.index(tt.SECOND))
    assert torch.equal(tt.which_first_labels(task.ids), task.labels)


def test_labels_are_exactly_balanced_and_shuffled():
    task = _task(n=401)
    assert task.labels.sum().item() == 200
    assert 0 < task.labels[:20].sum().item() < 20


def test_both_markers_fill_every_position_over_many_draws():
    task = _task(n=2000, min_len=6, max_len=6)
    for marker in (tt.FIRST, tt.SECOND):
        where = (task.ids == marker).float().argmax(dim=1)
        assert set(where.tolist()) == set(range(6))


def test_swapping_the_markers_keeps_the_tokens_and_flips_the_label():
    task = _task()
    swapped = task.ids.clone()
    swapped[task.ids == tt.FIRST] = tt.SECOND
    swapped[task.ids == tt.SECOND] = tt.FIRST
    assert torch.equal(tt.which_first_labels(swapped), 1 - task.labels)
    for i in range(20):
        assert sorted(swapped[i].tolist()) == sorted(task.ids[i].tolist())


def test_shortest_possible_sequences_work():
    task = tt.make_which_first(10, min_len=2, max_len=2, seed=1)
    assert set(map(tuple, task.ids.tolist())) <= {(1, 2), (2, 1)}
    assert torch.equal(task.labels, (task.ids[:, 0] == tt.FIRST).long())


def test_splits_are_fixed_by_the_seed_and_independent_of_each_other():
    a = tt.which_first_splits(100, 40, 30, seed=0)
    b = tt.which_first_splits(100, 80, 30, seed=0, n_fillers=6)
    assert [len(a[k]) for k in ("train", "val", "test")] == [100, 40, 30]
    assert torch.equal(a["train"].ids, b["train"].ids)
    assert torch.equal(a["test"].ids, b["test"].ids)
    assert not torch.equal(a["train"].ids[:30], a["test"].ids)
    c = tt.which_first_splits(100, 40, 30, seed=1)
    assert not torch.equal(a["train"].ids, c["train"].ids)


def test_subset_trims_padding_to_the_longest_chosen_sequence():
    task = _task()
    short = torch.nonzero(task.lengths <= 6).flatten()[:5]
    sub = task.subset(short)
    assert sub.ids.shape == (5, int(task.lengths[short].max()))
    assert torch.equal(sub.labels, task.labels[short])
    assert sub.tokens(0) == task.tokens(int(short[0]))


def test_batches_visit_every_row_once_in_a_seeded_order():
    task = _task(n=50)
    seen = torch.cat([b.labels for b in task.batches(16)])
    assert torch.equal(seen, task.labels)
    sizes = [len(b) for b in task.batches(16, torch.Generator().manual_seed(0))]
    assert sizes == [16, 16, 16, 2]
    one = [b.ids.tolist() for b in task.batches(16, torch.Generator().manual_seed(0))]
    two = [b.ids.tolist() for b in task.batches(16, torch.Generator().manual_seed(0))]
    assert one == two


def test_tokens_reads_a_sequence_without_its_padding():
    task = _task()
    i = int(torch.argmin(task.lengths))
    words = task.tokens(i)
    assert len(words) == task.lengths[i] and "<pad>" not in words
    assert words.count("A") == 1 and words.count("B") == 1


@pytest.mark.parametrize("kw,match", [
    (dict(n=0), "n must be"),
    (dict(min_len=1), "min_len"),
    (dict(min_len=8, max_len=5), "min_len"),
    (dict(n_fillers=0), "n_fillers"),
    (dict(n_fillers=30), "n_fillers"),
])
def test_impossible_settings_raise_one_clear_error(kw, match):
    with pytest.raises(ValueError, match=match):
        _task(**kw)


def test_batches_need_a_positive_size():
    with pytest.raises(ValueError, match="batch_size"):
        next(_task().batches(0))
