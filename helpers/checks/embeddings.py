"""Checks for day 5: embedding lookup, skip-gram pairs, nearest neighbours.

Each check runs the learner's function next to the reference in
:mod:`helpers.embeddings` and names the classic mistakes of the topic.
"""

from __future__ import annotations

import torch

from helpers import embeddings as ref
from helpers.checks._core import (
    FAIL,
    Case,
    Mistake,
    Verdict,
    check_function,
)

# --------------------------------------------------------------------------
# embedding_lookup


def _table(V: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(V, d, generator=g)


def _lookup_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    return [
        # ids avoid 0 and V-1 so that the off-by-one versions still run
        Case((_table(10, 4, 1), torch.tensor([3, 1, 5, 2, 6])),
             "5 ids into a (10, 4) table"),
        Case((_table(7, 5, 2), torch.tensor([[1, 4, 2], [5, 3, 3]])),
             "a batch of 2 sentences of 3 ids, shape (2, 3)"),
        Case((_table(6, 3, 3), torch.tensor([[2]])),
             "a batch of one sentence of one id, shape (1, 1)"),
        Case((_table(9, 6, 4), torch.tensor([0, 8, 0, 8, 4])),
             "the first and last ids of the table, repeated"),
        Case((_table(11, 2, 6), torch.randint(0, 11, (2, 3, 4), generator=g)),
             "a 3-D batch of ids, shape (2, 3, 4)"),
        Case((_table(1000, 8, 7) * 100, torch.tensor([999, 0, 512])),
             "a (1000, 8) table with large values"),
    ]


def _one_hot_matmul(W, ids):
    return (ref.one_hot(ids.reshape(-1), W.shape[0]) @ W).reshape(*ids.shape, -1)


_LOOKUP_MISTAKES = [
    Mistake("off_by_one",
            "your rows are shifted by one: you return W[ids - 1]; ids already "
            "count from 0, so use W[ids] directly",
            impl=lambda W, ids: W[ids - 1]),
    Mistake("off_by_one",
            "your rows are shifted by one: you return W[ids + 1]; ids already "
            "count from 0, so use W[ids] directly",
            impl=lambda W, ids: W[ids + 1]),
    Mistake("transposed",
            "your result is transposed: W.T @ one_hot.T gives (d, N); put the "
            "one-hot matrix on the left, one_hot(ids, V) @ W, to get (N, d)",
            impl=lambda W, ids: _transposed(W, ids)),
    Mistake("flattened",
            "you flattened away the batch shape: ids of shape (B, T) must give "
            "(B, T, d); reshape the result back with .reshape(*ids.shape, d)",
            impl=lambda W, ids: W[ids.reshape(-1)]),
]


def _transposed(W, ids):
    if ids.dim() != 1:
        raise ValueError("only a 1-D batch of ids has a plain transpose")
    return W.T @ ref.one_hot(ids, W.shape[0]).T  # (d, N)


def _lookup_probe(fn) -> Verdict | None:
    """Run the learner once on plain inputs and name the errors that a
    one-hot product typically raises; ``None`` when nothing was recognised."""
    W, ids = _table(10, 4, 1), torch.tensor([3, 1, 5, 2, 6])  # max id + 1 = 7
    try:
        fn(W.clone(), ids.clone())
    except Exception as exc:  # inspected, then reported by the full check
        text = str(exc)
        if "cannot be multiplied" in text and "x7 " in text.replace(")", " "):
            return Verdict(False, (
                f"{FAIL} embedding_lookup: your one-hot matrix has 7 columns, "
                "one per id up to the largest id in ids, but it needs one per "
                "row of W; pass the vocabulary size, one_hot(ids, W.shape[0]) "
                "or F.one_hot(ids, num_classes=W.shape[0])."), "one_hot_size")
        if "cannot be multiplied" in text:
            return Verdict(False, (
                f"{FAIL} embedding_lookup: the matrix product does not fit; the "
                "one-hot matrix has shape (N, V) and goes on the left, "
                "one_hot(ids, V) @ W with W of shape (V, d)."), "wrong_side")
        if "dtype" in text or "scalar type" in text:
            return Verdict(False, (
                f"{FAIL} embedding_lookup: F.one_hot returns integers, which "
                "cannot be multiplied with the float table W; convert with "
                ".to(W.dtype) before the product."), "one_hot_dtype")
    return None


def check_embedding_lookup(fn) -> Verdict:
    """Check ``embedding_lookup(W, ids)``: rows of ``W`` (V, d) for integer
    ``ids`` of any shape, returned with shape ``(*ids.shape, d)`` (day 5)."""
    verdict = _lookup_probe(fn) if callable(fn) else None
    if verdict is not None:
        print(verdict.message)
        return verdict
    return check_function("embedding_lookup", fn, _lookup_cases(),
                          ref.embedding_lookup, _LOOKUP_MISTAKES,
                          success="embedding_lookup is correct on all 6 cases, "
                          "from a single id to a (2, 3, 4) batch of ids and a "
                          "1000-row table.")


# --------------------------------------------------------------------------
# skipgram_pairs


def _sorted_pairs(t):
    """Rows of a (P, 2) tensor in a fixed order, so the check ignores the
    order in which the learner listed the pairs."""
    if not isinstance(t, torch.Tensor) or t.dim() != 2 or t.shape[1] != 2:
        return t
    if t.numel() == 0:
        return t
    key = t[:, 0].long() * (int(t.max()) + 1) + t[:, 1].long()
    return t[torch.argsort(key, stable=True)]


def _unordered(fn):
    def run(ids, window):
        return _sorted_pairs(fn(ids, window))
    return run


def _pairs_from(ids, window, keep):
    pairs = [(ids[i], ids[j]) for i in range(len(ids)) for j in range(len(ids))
             if keep(i, j, window)]
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)


def _wrapped_pairs(ids, window):
    n = len(ids)
    pairs = [(ids[i], ids[(i + o) % n]) for i in range(n)
             for o in range(-window, window + 1) if o != 0]
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)


def _by_value_pairs(ids, window):
    pairs = []
    for word in ids:
        i = ids.index(word)  # the first position of the word, not its own
        for j in range(max(0, i - window), min(len(ids), i + window + 1)):
            if j != i:
                pairs.append((word, ids[j]))
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)


def _not_a_tensor(case, got, expected):
    return isinstance(got, (list, tuple))


def _empty_wrong_shape(case, got, expected):
    return (isinstance(got, torch.Tensor) and got.numel() == 0
            and tuple(got.shape) != (0, 2))


_PAIR_MISTAKES = [
    Mistake("includes_centre",
            "your pairs include each word as its own context, (ids[i], ids[i]); "
            "skip j == i",
            impl=_unordered(lambda ids, w: _pairs_from(
                ids, w, lambda i, j, w: abs(i - j) <= w))),
    Mistake("window_off_by_one",
            "your window is one too small: you pair only words less than window "
            "positions apart; pair every j with 1 <= |i - j| <= window",
            impl=_unordered(lambda ids, w: _pairs_from(
                ids, w, lambda i, j, w: 0 < abs(i - j) < w))),
    Mistake("window_off_by_one",
            "your window is one too small on the right only: range(i - window, "
            "i + window) leaves out i + window; use range(i - window, i + "
            "window + 1)",
            impl=_unordered(lambda ids, w: _pairs_from(
                ids, w, lambda i, j, w: j != i and -w <= j - i < w))),
    Mistake("window_off_by_one",
            "your window is one too large: words up to window + 1 positions away "
            "are paired; pair only |i - j| <= window",
            impl=_unordered(lambda ids, w: _pairs_from(
                ids, w, lambda i, j, w: 0 < abs(i - j) <= w + 1))),
    Mistake("one_side",
            "you only pair each word with the words after it; the window reaches "
            "window positions to the left as well",
            impl=_unordered(lambda ids, w: _pairs_from(
                ids, w, lambda i, j, w: 0 < j - i <= w))),
    Mistake("one_side",
            "you only pair each word with the words before it; the window reaches "
            "window positions to the right as well",
            impl=_unordered(lambda ids, w: _pairs_from(
                ids, w, lambda i, j, w: 0 < i - j <= w))),
    Mistake("wraps_around",
            "your window wraps around the sentence end (an index taken modulo "
            "the length); positions before 0 or after the last word do not "
            "exist, so clip the range instead",
            impl=_unordered(_wrapped_pairs)),
    Mistake("position_by_value",
            "you find a word's position with ids.index(word), which gives the "
            "first place a repeated word occurs; loop over positions i instead",
            impl=_unordered(_by_value_pairs)),
    Mistake("not_a_tensor",
            "you return a Python list; return a LongTensor of shape (P, 2), e.g. "
            "torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)",
            when=_not_a_tensor),
    Mistake("empty_shape",
            "with no pairs the result must still have shape (0, 2); "
            "torch.tensor(pairs).reshape(-1, 2) gives that",
            when=_empty_wrong_shape),
]


def _pair_cases() -> list[Case]:
    return [
        Case(([4, 9, 2, 7, 5, 3], 2), "a sentence of 6 ids with window 2"),
        Case(([6, 2, 6, 8, 6], 2), "a sentence in which id 6 appears 3 times"),
        Case(([3, 8, 1, 5], 1), "window 1"),
        Case(([10, 11, 12, 13, 14, 15, 16, 17], 3), "8 ids with window 3"),
        Case(([5, 6, 7], 5), "a window longer than the sentence"),
        Case(([42, 7], 1), "a sentence of two ids"),
        Case(([9], 2), "a sentence of one id (no pairs)"),
    ]


def check_skipgram_pairs(fn) -> Verdict:
    """Check ``skipgram_pairs(ids, window)``: every (centre, context) pair of
    one sentence as a LongTensor ``(P, 2)``; the order of the rows does not
    matter (day 5)."""
    learner = _unordered(fn) if callable(fn) else fn
    return check_function("skipgram_pairs", learner, _pair_cases(),
                          _unordered(ref.skipgram_pairs), _PAIR_MISTAKES,
                          success="skipgram_pairs is correct on all 7 cases, "
                          "including repeated ids, a window longer than the "
                          "sentence and a sentence of one word.")


# --------------------------------------------------------------------------
# nearest_neighbours

_NN_WORDS = ["cat", "dog", "fox", "cow", "king", "queen", "red", "blue", "bread",
             "soup", "river"]


class _Words:
    """A small stand-in for a Vocabulary: ``stoi``, ``itos``, ``len``."""

    def __init__(self, words):
        self.itos = list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def __contains__(self, word):
        return word in self.stoi

    def __repr__(self):
        return f"vocabulary of {len(self)} words"


def _nn_vocab(n_words: int) -> _Words:
    return _Words(_NN_WORDS[:n_words])


def _nn_table(V: int, d: int, seed: int) -> torch.Tensor:
    """Random rows with very different lengths, so that ranking by the raw dot
    product or by distance differs from ranking by cosine."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(V, d, generator=g)
    lengths = torch.exp(2 * torch.rand(V, 1, generator=g) - 1) ** 2  # 0.14 .. 7.4
    return W * lengths


def _ranking(W, vocab, word, score):
    i = vocab.stoi[word]
    s = score(W, i).clone()
    s[i] = float("-inf")
    order = torch.argsort(s, descending=True, stable=True).tolist()
    return [vocab.itos[j] for j in order if j != i]


def _cos(W, i):
    return ref.cosine_similarity_matrix(W[i:i + 1], W)[0]


def _dot(W, i):
    return W @ W[i]


def _neg_dist(W, i):
    return -(W - W[i]).norm(dim=-1)


def _words(got):
    return [str(item[0]) for item in got]


def _scores(got):
    return [float(item[1]) for item in got]


def _with_self(W, vocab, word, k=5):
    i = vocab.stoi[word]
    sims = _cos(W, i)
    values, idx = torch.topk(sims, min(k, len(sims)))
    return [(vocab.itos[j], float(s)) for s, j in zip(values.tolist(),
                                                      idx.tolist())]


def _dropped_after_topk(W, vocab, word, k=5):
    return [(w, s) for w, s in _with_self(W, vocab, word, k) if w != word]


def _is_dot_product(case, got, expected):
    W, vocab, word = case.args[:3]
    k = case.kwargs.get("k", case.args[3] if len(case.args) > 3 else 5)
    words = _words(got)
    by_dot = _ranking(W, vocab, word, _dot)[:k]
    by_cos = _ranking(W, vocab, word, _cos)[:k]
    if words == by_dot != by_cos:
        return True
    i = vocab.stoi[word]
    dots = [float(W[vocab.stoi[w]] @ W[i]) for w in words]
    close = all(abs(a - b) < 1e-4 * max(1.0, abs(b))
                for a, b in zip(_scores(got), dots))
    return words in (by_dot, by_cos) and close


def _is_least_similar(case, got, expected):
    W, vocab, word = case.args[:3]
    k = case.kwargs.get("k", case.args[3] if len(case.args) > 3 else 5)
    ranked = _ranking(W, vocab, word, _cos)
    if set(ranked[::-1][:k]) == set(ranked[:k]):
        return False
    words = [w for w in _words(got) if w != word]  # with or without the query
    if len(words) < max(1, k - 1):
        return False
    bottom = ranked[::-1][:len(words)]
    return words in (bottom, bottom[::-1])


def _is_reversed(case, got, expected):
    words = _words(got)
    right = _words(expected)
    return len(words) > 1 and words == right[::-1] and words != right


def _is_euclidean(case, got, expected):
    W, vocab, word = case.args[:3]
    k = case.kwargs.get("k", case.args[3] if len(case.args) > 3 else 5)
    by_distance = _ranking(W, vocab, word, _neg_dist)[:k]
    return _words(got) == by_distance != _words(expected)


_NN_MISTAKES = [
    Mistake("includes_query",
            "your list starts with the query word itself (cosine 1.0); leave it "
            "out, e.g. set its similarity to -inf before taking the top k",
            impl=_with_self),
    Mistake("drops_after_topk",
            "you take the top k including the query word and then remove it, "
            "which leaves only k - 1 words; exclude the word before taking the "
            "top k",
            impl=_dropped_after_topk),
    Mistake("least_similar",
            "you return the least similar words: sort in descending order "
            "(torch.topk or argsort(descending=True)) so the most similar come "
            "first",
            when=_is_least_similar),
    Mistake("reversed_order",
            "you found the right words but listed them from least to most "
            "similar; sort in descending order",
            when=_is_reversed),
    Mistake("dot_product",
            "you rank (or score) by the raw dot product, so long vectors win "
            "just by being long; divide by both vector lengths to get the "
            "cosine",
            when=_is_dot_product),
    Mistake("euclidean",
            "you rank by Euclidean distance, which mixes in the vector lengths; "
            "rank by cosine similarity, the dot product of unit-length rows",
            when=_is_euclidean),
]


def _nn_cases() -> list[Case]:
    v11, v8, v5 = _nn_vocab(11), _nn_vocab(8), _nn_vocab(5)
    return [
        Case((_nn_table(11, 4, 8), v11, "cat", 3),
             "the 3 neighbours of 'cat' among 11 words"),
        Case((_nn_table(11, 6, 12), v11, "river", 5),
             "the 5 neighbours of 'river', the last word"),
        Case((_nn_table(8, 3, 13), v8, "king", 1),
             "k = 1"),
        Case((_nn_table(5, 5, 14), v5, "dog", 4),
             "k = 4, every other word of a 5-word vocabulary"),
        Case((_nn_table(11, 8, 15) * 1e3, v11, "queen", 4),
             "rows with lengths in the thousands"),
        Case((_nn_table(11, 4, 8), v11, "zebra", 3),
             "a word that is not in the vocabulary", raises=KeyError),
    ]


def check_nearest_neighbours(fn) -> Verdict:
    """Check ``nearest_neighbours(W, vocab, word, k)``: the ``k`` most similar
    words by cosine, most similar first, without the word itself, as a list
    of ``(word, cosine)`` pairs (day 5)."""
    return check_function("nearest_neighbours", fn, _nn_cases(),
                          ref.nearest_neighbours, _NN_MISTAKES,
                          success="nearest_neighbours is correct on all 6 cases, "
                          "from k = 1 to every other word, with rows of very "
                          "different lengths and an unknown word.")
