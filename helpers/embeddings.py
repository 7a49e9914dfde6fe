"""Embedding tables and small word vectors (day 5 onwards).

* :func:`one_hot`, :func:`embedding_lookup` -- a lookup table and why it is
  the same as multiplying a one-hot matrix by the table
* :func:`skipgram_pairs`, :class:`SkipGram`, :func:`sgns_loss`,
  :func:`train_word_vectors` -- skip-gram with negative sampling, small enough
  to train in seconds on the course corpus
* :func:`cosine_similarity_matrix`, :func:`nearest_neighbours`,
  :func:`pca_2d` -- looking at what the vectors learned
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------
# lookup tables


def _check_ids(ids: torch.Tensor, vocab_size: int, who: str) -> None:
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{who} needs ids as an integer tensor, got a "
                        f"{type(ids).__name__}; wrap them in torch.tensor(...).")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"{who} needs integer ids, got dtype {ids.dtype}; use "
                        "ids.long().")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise IndexError(f"{who}: ids must lie in 0..{vocab_size - 1}, got "
                         f"values from {int(ids.min())} to {int(ids.max())}.")


def one_hot(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """One-hot rows for integer ``ids`` (day 5).

    ``ids``: integer tensor of any shape ``(*S)`` with values in
    ``0..vocab_size-1``. Returns a float32 tensor of shape ``(*S, vocab_size)``
    with a single 1 in each row, at the column given by the id.
    """
    _check_ids(ids, vocab_size, "one_hot")
    out = torch.zeros(*ids.shape, vocab_size)
    out.scatter_(-1, ids.long().unsqueeze(-1), 1.0)
    return out


def embedding_lookup(W: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Rows of the embedding table ``W`` for integer ``ids`` (day 5).

    ``W``: ``(V, d)``, one row per token. ``ids``: integer tensor of any shape
    ``(*S)``. Returns ``(*S, d)``: ``out[..., :] = W[ids[...], :]``, which
    equals ``one_hot(ids, V) @ W`` and ``F.embedding(ids, W)``.
    """
    if not isinstance(W, torch.Tensor) or W.dim() != 2:
        raise ValueError("embedding_lookup needs W as a 2-D tensor (V, d).")
    _check_ids(ids, W.shape[0], "embedding_lookup")
    return W[ids.long()]  # (*S, d)


# --------------------------------------------------------------------------
# skip-gram with negative sampling


def skipgram_pairs(ids: Sequence[int], window: int) -> torch.Tensor:
    """(centre, context) id pairs of one sentence (day 5).

    ``ids``: the token ids of one sentence (a list of ints or a 1-D tensor).
    For every position ``i`` and every other position ``j`` with
    ``1 <= |i - j| <= window`` there is one row ``(ids[i], ids[j])``.
    Returns a LongTensor of shape ``(P, 2)``, ordered by ``i`` then ``j``;
    ``(0, 2)`` when the sentence has fewer than two tokens.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}.")
    ids = [int(i) for i in ids]
    pairs = [(ids[i], ids[j])
             for i in range(len(ids))
             for j in range(max(0, i - window), min(len(ids), i + window + 1))
             if j != i]
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)  # (P, 2)


def sgns_loss(v: torch.Tensor, u_pos: torch.Tensor,
              u_neg: torch.Tensor) -> torch.Tensor:
    """Mean skip-gram negative-sampling loss of a batch (day 5).

    ``v``: centre vectors ``(B, d)``; ``u_pos``: vectors of the true context
    words ``(B, d)``; ``u_neg``: vectors of ``K`` sampled noise words per row
    ``(B, K, d)``. Per row the loss is
    ``-log sigmoid(u_pos . v) - sum_k log sigmoid(-u_neg_k . v)``.
    """
    pos = (v * u_pos).sum(-1)                              # (B,)
    neg = torch.einsum("bkd,bd->bk", u_neg, v)             # (B, K)
    return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()


class SkipGram(nn.Module):
    """Two embedding tables, one for centre words and one for context words
    (day 5). ``forward(centre, context, noise)`` returns the mean loss of
    :func:`sgns_loss` for ids of shapes ``(B,)``, ``(B,)`` and ``(B, K)``."""

    def __init__(self, vocab_size: int, dim: int,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.centre = nn.Embedding(vocab_size, dim)   # the word vectors we keep
        self.context = nn.Embedding(vocab_size, dim)  # used only in training
        with torch.no_grad():  # small random centres, zero contexts
            start = torch.rand(vocab_size, dim, generator=generator)
            self.centre.weight.copy_((start - 0.5) / dim)
            self.context.weight.zero_()

    def forward(self, centre: torch.Tensor, context: torch.Tensor,
                noise: torch.Tensor) -> torch.Tensor:
        v = self.centre(centre)        # (B, d)
        u_pos = self.context(context)  # (B, d)
        u_neg = self.context(noise)    # (B, K, d)
        return sgns_loss(v, u_pos, u_neg)


def noise_distribution(counts: torch.Tensor, power: float = 0.75) -> torch.Tensor:
    """Sampling probabilities proportional to ``counts ** power`` (day 5).

    The power 3/4 samples rare words more often than their frequency alone
    would; ids with count 0 (``<pad>``, ``<unk>``) are never drawn.
    """
    weights = counts.double().clamp_min(0) ** power
    return weights / weights.sum()


def train_word_vectors(sentences: Sequence[Sequence[str]], vocab, dim: int = 16,
                       window: int = 2, epochs: int = 4, seed: int = 0, *,
                       negatives: int = 5, batch_size: int = 1024,
                       lr: float = 0.02, history: list | None = None
                       ) -> torch.Tensor:
    """Train word vectors with skip-gram and negative sampling (day 5).

    ``sentences``: tokenised sentences (lists of strings); ``vocab``: a
    :class:`helpers.corpus.Vocabulary`. Every (centre, context) pair within
    ``window`` becomes one training example, with ``negatives`` noise words
    drawn from the unigram distribution to the power 3/4. Trains with Adam
    for ``epochs`` passes over the pairs, in float64 so that the result
    repeats across machines, and returns the centre table as a float32 tensor
    ``(V, dim)``. Rows of ids that never occur (``<pad>``, ``<unk>``) are
    zero. If ``history`` is a list, the loss of every step is appended to it.
    Training runs on one CPU thread, which is fastest for tensors this small.
    """
    if dim < 1 or epochs < 0 or negatives < 1 or batch_size < 1:
        raise ValueError("dim, negatives and batch_size must be positive and "
                         "epochs must not be negative.")
    g = torch.Generator().manual_seed(seed)
    encoded = [vocab.encode(s) for s in sentences]
    pairs = torch.cat([skipgram_pairs(ids, window) for ids in encoded]
                      + [torch.empty(0, 2, dtype=torch.long)])  # (P, 2)
    if len(pairs) == 0:
        raise ValueError("The sentences give no (centre, context) pairs; give "
                         "sentences of at least two tokens.")
    flat = torch.tensor([i for ids in encoded for i in ids], dtype=torch.long)
    counts = torch.bincount(flat, minlength=len(vocab))  # (V,)
    counts[:2] = 0  # never sample <pad> or <unk> as noise
    noise = noise_distribution(counts)  # (V,)

    model = SkipGram(len(vocab), dim, generator=g).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small gain nothing from more
    try:
        _train(model, optimizer, pairs, noise, epochs, negatives, batch_size,
               g, history)
    finally:
        torch.set_num_threads(threads)
    W = model.centre.weight.detach().float().clone()  # (V, dim)
    seen = torch.bincount(pairs[:, 0], minlength=len(vocab)) > 0
    W[~seen] = 0.0
    return W


def _train(model, optimizer, pairs, noise, epochs, negatives, batch_size, g,
           history):
    for _ in range(epochs):
        order = torch.randperm(len(pairs), generator=g)
        for start in range(0, len(pairs), batch_size):
            batch = pairs[order[start:start + batch_size]]  # (B, 2)
            drawn = torch.multinomial(noise, len(batch) * negatives,
                                      replacement=True, generator=g)
            loss = model(batch[:, 0], batch[:, 1],
                         drawn.view(len(batch), negatives))  # (B,) (B,) (B, K)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if history is not None:
                history.append(loss.item())


# --------------------------------------------------------------------------
# looking at the vectors


def cosine_similarity_matrix(A: torch.Tensor, B: torch.Tensor | None = None,
                             eps: float = 1e-8) -> torch.Tensor:
    """Cosine similarity of every row of ``A`` (n, d) with every row of ``B``
    (m, d; ``A`` when omitted): an ``(n, m)`` matrix in [-1, 1] (day 5).
    A zero row has similarity 0 with everything."""
    B = A if B is None else B
    A_hat = A / A.norm(dim=-1, keepdim=True).clamp_min(eps)  # (n, d)
    B_hat = B / B.norm(dim=-1, keepdim=True).clamp_min(eps)  # (m, d)
    return A_hat @ B_hat.T  # (n, m)


def nearest_neighbours(W: torch.Tensor, vocab, word: str,
                       k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words whose rows of ``W`` have the highest cosine similarity
    with the row of ``word`` (day 5).

    ``W``: ``(V, d)``; ``vocab``: a :class:`helpers.corpus.Vocabulary` (or
    anything with ``stoi`` and ``itos``). The word itself is left out.
    Returns ``[(word, cosine), ...]``, most similar first, cosines as Python
    floats. A word outside the vocabulary raises ``KeyError``.
    """
    if word not in vocab.stoi:
        raise KeyError(f"{word!r} is not in the vocabulary.")
    i = vocab.stoi[word]
    sims = cosine_similarity_matrix(W[i:i + 1], W)[0]  # (V,)
    sims[i] = float("-inf")  # never the word itself
    order = torch.argsort(sims, descending=True, stable=True)  # ties: lower id
    idx = order[:min(k, len(sims) - 1)].tolist()
    return [(vocab.itos[j], float(sims[j])) for j in idx]


def pca_2d(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Project the rows of ``X`` (n, d) on their two main directions (day 5).

    Centres the rows, takes the SVD ``X_c = U S V^T`` and returns the
    coordinates ``X_c @ V[:, :2]`` of shape ``(n, 2)`` and the share of the
    variance each of the two directions explains, shape ``(2,)``. Signs are
    fixed so that the largest coordinate of each direction is positive.
    """
    X = X.double()
    Xc = X - X.mean(dim=0, keepdim=True)  # (n, d)
    U, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    coords = Xc @ Vh[:2].T  # (n, 2)
    flip = torch.sign(coords.gather(0, coords.abs().argmax(0, keepdim=True)))
    coords = coords * flip
    share = S[:2] ** 2 / (S ** 2).sum()
    return coords.float(), share.float()


def neighbour_purity(W: torch.Tensor, vocab, groups: dict, k: int = 5) -> float:
    """Share of the ``k`` nearest neighbours of each group word that belong to
    the same group, averaged over all words of ``groups`` (day 5)."""
    hits, total = 0, 0
    for name, words in groups.items():
        for word in words:
            found = [w for w, _ in nearest_neighbours(W, vocab, word, k)]
            hits += sum(w in words for w in found)
            total += len(found)
    return hits / total
