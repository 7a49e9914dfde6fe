"""Small synthetic sequence tasks whose answer depends on word order (day 14).

A bag-of-words model sees which tokens a sequence holds but not where, so a
task is *order-sensitive* when two sequences made of the same tokens can
have different labels. :func:`make_which_first` builds the simplest such task:
every sequence holds exactly one ``A`` and one ``B`` among filler tokens, and
the label says whether ``A`` comes first. Swapping the two markers keeps the
tokens and flips the label, so any model that ignores order is at chance.

Sequences have different lengths. They are stored right-padded with the
``<pad>`` token (id :data:`PAD`) in one ``(N, T)`` tensor, with their true
lengths beside them, in a :class:`SequenceTask`. Everything is seeded: the
same arguments give the same tensors on every run, and
:func:`which_first_splits` cuts train, validation and test sets that never
depend on anything but the seed. Later weeks reuse these tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "FIRST",
    "PAD",
    "SECOND",
    "SequenceTask",
    "make_which_first",
    "which_first_labels",
    "which_first_splits",
    "which_first_vocab",
]

PAD, FIRST, SECOND = 0, 1, 2
"""Token ids: ``<pad>`` is 0, the marker ``A`` is 1, the marker ``B`` is 2;
filler tokens follow from id 3."""

_FILLER_NAMES = "cdefghijklmnopqrstuvwxyz"


def which_first_vocab(n_fillers: int = 6) -> tuple[str, ...]:
    """The vocabulary of the which-comes-first task, id by id (day 14).

    Input: ``n_fillers`` (1 to 24), the number of filler tokens. Returns
    ``("<pad>", "A", "B", "c", "d", ...)`` of length ``3 + n_fillers``: the
    markers are upper case, fillers lower case.
    """
    if not 1 <= n_fillers <= len(_FILLER_NAMES):
        raise ValueError(f"n_fillers must lie between 1 and {len(_FILLER_NAMES)}, "
                         f"got {n_fillers}.")
    return ("<pad>", "A", "B", *_FILLER_NAMES[:n_fillers])


@dataclass
class SequenceTask:
    """A labelled set of right-padded token sequences (day 14).

    Fields: ``ids`` of shape ``(N, T)`` (int64, ``PAD`` after each sequence's
    end), ``lengths`` of shape ``(N,)`` (int64, every length >= 1),
    ``labels`` of shape ``(N,)`` (int64 class indices), ``vocab`` the token
    names by id, and ``class_names`` the label names by index.
    """

    ids: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    vocab: tuple[str, ...]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_classes(self) -> int:
        """The number of classes."""
        return len(self.class_names)

    @property
    def vocab_size(self) -> int:
        """The number of token ids, ``<pad>`` included."""
        return len(self.vocab)

    def subset(self, index) -> SequenceTask:
        """The rows ``index`` (a list, slice or integer tensor) as a new task,
        its padding trimmed to the longest sequence among them."""
        lengths = self.lengths[index]
        T = int(lengths.max()) if len(lengths) else 0
        return SequenceTask(self.ids[index][:, :T], lengths, self.labels[index],
                            self.vocab, self.class_names)

    def tokens(self, i: int) -> list[str]:
        """The tokens of sequence ``i`` as names, without padding."""
        n = int(self.lengths[i])
        return [self.vocab[t] for t in self.ids[i, :n].tolist()]

    def batches(self, batch_size: int, generator: torch.Generator | None = None):
        """Yield the whole set once as ``SequenceTask`` mini-batches of
        ``batch_size`` rows, each trimmed to its own longest sequence.
        With a ``generator`` the rows are shuffled by it, otherwise kept in
        order."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if generator is None:
            order = torch.arange(len(self))
        else:
            order = torch.randperm(len(self), generator=generator)
        for idx in order.split(batch_size):
            yield self.subset(idx)


def which_first_labels(ids: torch.Tensor) -> torch.Tensor:
    """The label of each sequence of the which-comes-first task (day 14).

    Input: ``ids`` of shape ``(N, T)`` holding one ``A`` (id 1) and one ``B``
    (id 2) per row. Returns ``(N,)`` int64: 1 where ``A`` stands before ``B``,
    0 where it stands after.
    """
    t = torch.arange(ids.shape[1])                        # (T,)
    where_a = ((ids == FIRST) * t).sum(dim=1)             # (N,)
    where_b = ((ids == SECOND) * t).sum(dim=1)            # (N,)
    return (where_a < where_b).long()


def make_which_first(n: int, min_len: int = 4, max_len: int = 16,
                     n_fillers: int = 6, seed: int = 0) -> SequenceTask:
    """The which-comes-first task: does ``A`` stand before ``B``? (day 14)

    Inputs: ``n`` sequences; each has a length drawn uniformly from
    ``min_len..max_len`` (``min_len >= 2``), holds one ``A`` and one ``B`` at
    two distinct random positions, and filler tokens (ids ``3 ..
    2 + n_fillers``, drawn uniformly) everywhere else; ``seed`` fixes
    everything. Labels are exactly balanced (``n // 2`` of class 0), in a
    shuffled order: 1 (``"A first"``) when ``A`` comes first, 0 (``"B
    first"``) otherwise.

    Returns a :class:`SequenceTask` whose ``ids`` have shape ``(n, max_len)``.
    Swapping ``A`` and ``B`` in a sequence gives a sequence that is exactly as
    likely and has the other label, which is why a model that sees only
    which tokens occur (a bag of words) cannot beat 50%.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    if not 2 <= min_len <= max_len:
        raise ValueError("the lengths must satisfy 2 <= min_len <= max_len, got "
                         f"min_len={min_len}, max_len={max_len}.")
    vocab = which_first_vocab(n_fillers)
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)       # (n,)
    labels = (torch.arange(n) % 2)[torch.randperm(n, generator=g)]         # (n,)
    ids = torch.randint(3, 3 + n_fillers, (n, max_len), generator=g)       # (n, T)
    # two distinct positions below each length: draw p in [0, L) and q in
    # [0, L - 1), then move q up by one when it is not below p.
    p = (torch.rand(n, generator=g) * lengths).long()                      # (n,)
    q = (torch.rand(n, generator=g) * (lengths - 1)).long()                # (n,)
    q = q + (q >= p).long()
    early, late = torch.minimum(p, q), torch.maximum(p, q)                 # (n,)
    a_pos = torch.where(labels == 1, early, late)
    b_pos = torch.where(labels == 1, late, early)
    rows = torch.arange(n)
    ids[rows, a_pos] = FIRST
    ids[rows, b_pos] = SECOND
    ids[torch.arange(max_len)[None, :] >= lengths[:, None]] = PAD          # (n, T)
    return SequenceTask(ids, lengths, labels, vocab, ("B first", "A first"))


def which_first_splits(n_train: int = 2000, n_val: int = 500, n_test: int = 500,
                       seed: int = 0, **options) -> dict[str, SequenceTask]:
    """Train, validation and test sets of the which-comes-first task (day 14).

    Inputs: the three sizes, a ``seed``, and any option of
    :func:`make_which_first` (``min_len``, ``max_len``, ``n_fillers``).
    Each split is drawn with its own seed derived from ``seed``
    (``seed * 3``, ``+ 1``, ``+ 2``), so the splits are fixed by ``seed``
    alone and changing the size of one leaves the others as they were.
    Returns ``{"train": ..., "val": ..., "test": ...}``, each a
    :class:`SequenceTask` with balanced labels.
    """
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    return {name: make_which_first(size, seed=3 * seed + k, **options)
            for k, (name, size) in enumerate(sizes.items())}
