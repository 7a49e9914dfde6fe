"""Embedding lookup, skip-gram word vectors and the day 5 checks."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers import embeddings as E
from helpers.checks import (
    check_embedding_lookup,
    check_nearest_neighbours,
    check_skipgram_pairs,
)
from helpers.corpus import GROUPS, Vocabulary, load_corpus

# ---------------------------------------------------------------- lookup

ID_SHAPES = [(5,), (2, 3), (1, 1), (2, 3, 4), ()]


@pytest.mark.parametrize("shape", ID_SHAPES)
def test_lookup_equals_one_hot_times_matrix(shape):
    g = torch.Generator().manual_seed(0)
    W = torch.randn(11, 6, generator=g)
    ids = torch.randint(0, 11, shape, generator=g)
    out = E.embedding_lookup(W, ids)
    assert out.shape == (*shape, 6)
    torch.testing.assert_close(out, E.one_hot(ids, 11) @ W)


@pytest.mark.parametrize("shape", ID_SHAPES)
def test_lookup_matches_pytorch_embedding(shape):
    g = torch.Generator().manual_seed(1)
    W = torch.randn(9, 4, generator=g)
    ids = torch.randint(0, 9, shape, generator=g)
    layer = nn.Embedding(9, 4)
    with torch.no_grad():
        layer.weight.copy_(W)
    torch.testing.assert_close(E.embedding_lookup(W, ids), F.embedding(ids, W))
    torch.testing.assert_close(E.embedding_lookup(W, ids),
                               layer(ids).detach())


def test_one_hot_matches_pytorch_and_has_one_one_per_row():
    ids = torch.tensor([[0, 4, 2], [4, 4, 1]])
    oh = E.one_hot(ids, 5)
    assert oh.shape == (2, 3, 5) and oh.dtype == torch.float32
    torch.testing.assert_close(oh, F.one_hot(ids, 5).float())
    assert torch.equal(oh.sum(-1), torch.ones(2, 3))
    assert torch.equal(oh.argmax(-1), ids)


def test_lookup_gradient_touches_only_the_rows_used():
    W = torch.randn(8, 3, requires_grad=True)
    E.embedding_lookup(W, torch.tensor([2, 5, 2])).sum().backward()
    used = W.grad.abs().sum(-1) > 0
    assert used.tolist() == [i in (2, 5) for i in range(8)]
    assert torch.equal(W.grad[2], torch.full((3,), 2.0))  # id 2 appears twice


def test_lookup_and_one_hot_reject_bad_ids():
    W = torch.randn(4, 2)
    with pytest.raises(IndexError, match="0..3"):
        E.embedding_lookup(W, torch.tensor([1, 4]))
    with pytest.raises(TypeError, match="integer"):
        E.embedding_lookup(W, torch.tensor([1.0]))
    with pytest.raises(TypeError):
        E.one_hot([1, 2], 4)
    with pytest.raises(ValueError):
        E.embedding_lookup(torch.randn(4), torch.tensor([1]))


# ---------------------------------------------------------------- skip-gram


def test_skipgram_pairs_by_hand():
    pairs = E.skipgram_pairs([7, 8, 9], window=1)
    assert pairs.tolist() == [[7, 8], [8, 7], [8, 9], [9, 8]]
    assert pairs.dtype == torch.long


@pytest.mark.parametrize("n,window", [(1, 2), (2, 1), (6, 2), (8, 3), (3, 5)])
def test_skipgram_pair_count_and_symmetry(n, window):
    ids = list(range(100, 100 + n))
    pairs = E.skipgram_pairs(ids, window)
    expected = sum(min(n - 1, i + window) - max(0, i - window) for i in range(n))
    assert pairs.shape == (expected, 2)
    as_set = {tuple(p) for p in pairs.tolist()}
    assert all((b, a) in as_set for a, b in as_set)  # the window is symmetric
    assert all(a != b for a, b in as_set)  # never a word with itself
    assert all(abs(a - b) <= window for a, b in as_set)


def test_skipgram_pairs_accepts_tensors_and_rejects_window_zero():
    assert torch.equal(E.skipgram_pairs(torch.tensor([1, 2, 3]), 2),
                       E.skipgram_pairs([1, 2, 3], 2))
    with pytest.raises(ValueError):
        E.skipgram_pairs([1, 2], 0)


def test_sgns_loss_equals_binary_cross_entropy_with_logits():
    g = torch.Generator().manual_seed(2)
    v, u_pos = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    u_neg = torch.randn(6, 3, 4, generator=g)
    logits = torch.cat([(v * u_pos).sum(-1, keepdim=True),
                        (u_neg @ v.unsqueeze(-1)).squeeze(-1)], dim=1)  # (6, 4)
    labels = torch.zeros(6, 4)
    labels[:, 0] = 1.0
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    torch.testing.assert_close(E.sgns_loss(v, u_pos, u_neg), bce.sum(1).mean())


def test_noise_distribution_is_a_distribution_that_skips_unseen_ids():
    p = E.noise_distribution(torch.tensor([0, 0, 16, 1, 81]))
    torch.testing.assert_close(p.sum(), torch.tensor(1.0, dtype=p.dtype))
    assert p[0] == 0 and p[1] == 0
    torch.testing.assert_close(p[2:] / p[3], torch.tensor([8.0, 1.0, 27.0],
                                                          dtype=p.dtype))


@pytest.fixture(scope="module")
def trained():
    sentences = load_corpus()
    vocab = Vocabulary.build(sentences)
    history = []
    W = E.train_word_vectors(sentences, vocab, seed=0, history=history)
    return W, vocab, history


def test_training_is_repeatable_and_returns_the_table(trained):
    W, vocab, _ = trained
    assert W.shape == (len(vocab), 16) and W.dtype == torch.float32
    assert torch.equal(W[0], torch.zeros(16)) and torch.equal(W[1], torch.zeros(16))
    small = load_corpus()[:300]
    a = E.train_word_vectors(small, vocab, dim=8, epochs=1, seed=3)
    b = E.train_word_vectors(small, vocab, dim=8, epochs=1, seed=3)
    c = E.train_word_vectors(small, vocab, dim=8, epochs=1, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_training_lowers_the_loss(trained):
    _, _, history = trained
    start = sum(history[:10]) / 10
    end = sum(history[-10:]) / 10
    assert end < 0.7 * start


def test_trained_neighbours_come_from_the_same_group(trained):
    W, vocab, _ = trained
    cat = [w for w, _ in E.nearest_neighbours(W, vocab, "cat", k=5)]
    assert sum(w in GROUPS["animals"] for w in cat) >= 4, cat
    king = [w for w, _ in E.nearest_neighbours(W, vocab, "king", k=3)]
    assert all(w in GROUPS["royals"] for w in king), king
    assert E.neighbour_purity(W, vocab, GROUPS) >= 0.9
    g = torch.Generator().manual_seed(0)
    random = torch.randn(len(vocab), 16, generator=g)
    assert E.neighbour_purity(random, vocab, GROUPS) < 0.3


def test_training_rejects_bad_settings():
    vocab = Vocabulary.build([["a", "b"]])
    with pytest.raises(ValueError):
        E.train_word_vectors([["a", "b"]], vocab, dim=0)
    with pytest.raises(ValueError, match="pairs"):
        E.train_word_vectors([["a"], ["b"]], vocab)


# ---------------------------------------------------------------- similarity


def test_cosine_matrix_matches_pytorch():
    g = torch.Generator().manual_seed(3)
    A, B = torch.randn(5, 7, generator=g), torch.randn(3, 7, generator=g)
    expected = F.cosine_similarity(A.unsqueeze(1), B.unsqueeze(0), dim=-1)
    torch.testing.assert_close(E.cosine_similarity_matrix(A, B), expected)
    torch.testing.assert_close(E.cosine_similarity_matrix(A).diagonal(),
                               torch.ones(5))
    assert E.cosine_similarity_matrix(torch.zeros(1, 7), B).abs().max() == 0


def test_nearest_neighbours_properties():
    vocab = Vocabulary(["<pad>", "<unk>", "a", "b", "c", "d"])
    W = torch.tensor([[0.0, 0.0], [-1.0, -1.0], [1.0, 0.0], [10.0, 10.0],
                      [0.5, 0.1], [-1.0, 0.2]])
    found = E.nearest_neighbours(W, vocab, "a", k=3)
    assert [w for w, _ in found] == ["c", "b", "<pad>"]  # b is long but 45° away
    assert found[0][1] == pytest.approx(0.5 / (0.26 ** 0.5), abs=1e-6)
    assert all(isinstance(s, float) for _, s in found)
    ties = Vocabulary(["<pad>", "<unk>", "a", "b", "c"])
    same = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0],
                         [3.0, 0.0]])
    assert [w for w, _ in E.nearest_neighbours(same, ties, "a", k=4)] == [
        "<pad>", "<unk>", "b", "c"]  # equal cosines keep the vocabulary order
    assert len(E.nearest_neighbours(W, vocab, "a", k=50)) == 5
    with pytest.raises(KeyError, match="zebra"):
        E.nearest_neighbours(W, vocab, "zebra")


def test_pca_2d_matches_the_covariance_eigenvectors():
    g = torch.Generator().manual_seed(4)
    X = torch.randn(30, 5, generator=g) * torch.tensor([5.0, 3.0, 1.0, 0.5, 0.1])
    coords, share = E.pca_2d(X)
    assert coords.shape == (30, 2) and share.shape == (2,)
    Xc = X.double() - X.double().mean(0)
    values, vectors = torch.linalg.eigh(Xc.T @ Xc)  # ascending eigenvalues
    top = vectors[:, [-1, -2]]  # (5, 2)
    expected = Xc @ top
    for j in range(2):  # equal up to the sign of each direction
        a, b = coords[:, j].double(), expected[:, j]
        assert min((a - b).abs().max(), (a + b).abs().max()) < 1e-4
    torch.testing.assert_close(share.double(), values[[-1, -2]] / values.sum(),
                               atol=1e-6, rtol=1e-5)
    assert share[0] >= share[1]


# ---------------------------------------------------------------- checks


def _stub(*args, **kwargs):
    raise NotImplementedError("Your turn: replace this line with your code.")


def _broken(*args, **kwargs):
    return [][1]


def _run(check, fn, capsys):
    verdict = check(fn)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "Traceback" not in out, out
    return verdict


# lookup: learners' versions, right and wrong

def lookup_index(W, ids):
    return W[ids]


def lookup_one_hot(W, ids):
    return F.one_hot(ids, W.shape[0]).to(W.dtype) @ W


def lookup_minus_one(W, ids):
    return W[ids - 1]


def lookup_plus_one(W, ids):
    return W[ids + 1]


def lookup_transposed(W, ids):
    return W.T @ F.one_hot(ids, W.shape[0]).float().T


def lookup_flattened(W, ids):
    return W[ids.flatten()]


def lookup_one_hot_too_narrow(W, ids):
    return F.one_hot(ids).float() @ W


def lookup_one_hot_on_the_right(W, ids):
    return W @ F.one_hot(ids, W.shape[0]).float()


def lookup_integer_one_hot(W, ids):
    return F.one_hot(ids, W.shape[0]) @ W


@pytest.mark.parametrize("fn", [lookup_index, lookup_one_hot, E.embedding_lookup,
                                lambda W, ids: F.embedding(ids, W)])
def test_lookup_check_passes_right_versions(fn, capsys):
    assert _run(check_embedding_lookup, fn, capsys).passed


@pytest.mark.parametrize("fn,name", [
    (lookup_minus_one, "off_by_one"),
    (lookup_plus_one, "off_by_one"),
    (lookup_transposed, "transposed"),
    (lookup_flattened, "flattened"),
    (lookup_one_hot_too_narrow, "one_hot_size"),
    (lookup_one_hot_on_the_right, "wrong_side"),
    (lookup_integer_one_hot, "one_hot_dtype"),
    (lambda W, ids: None, "returned_none"),
    (_stub, "not_implemented"),
    (_broken, "exception"),
    (lookup_index(torch.eye(3), torch.tensor([0])), "not_callable"),
])
def test_lookup_check_names_each_mistake(fn, name, capsys):
    verdict = _run(check_embedding_lookup, fn, capsys)
    assert not verdict.passed and verdict.mistake == name, verdict.message


# skip-gram pairs: learners' versions, right and wrong

def _pairs(ids, window, keep, clip=True):
    out = []
    n = len(ids)
    for i in range(n):
        for j in range(i - window - 1, i + window + 2):
            if clip and not 0 <= j < n:
                continue
            if keep(i, j):
                out.append((ids[i], ids[j % n]))
    return torch.tensor(out, dtype=torch.long).reshape(-1, 2)


def pairs_right(ids, window):
    return _pairs(ids, window, lambda i, j: 0 < abs(i - j) <= window)


def pairs_context_first(ids, window):
    return pairs_right(ids, window)[:, [1, 0]].flip(0)


def pairs_with_centre(ids, window):
    return _pairs(ids, window, lambda i, j: abs(i - j) <= window)


def pairs_window_too_small(ids, window):
    return _pairs(ids, window, lambda i, j: 0 < abs(i - j) < window)


def pairs_right_end_short(ids, window):
    out = []
    for i in range(len(ids)):
        for j in range(max(0, i - window), min(len(ids), i + window)):
            if j != i:
                out.append((ids[i], ids[j]))
    return torch.tensor(out, dtype=torch.long).reshape(-1, 2)


def pairs_window_too_large(ids, window):
    return _pairs(ids, window, lambda i, j: 0 < abs(i - j) <= window + 1)


def pairs_right_only(ids, window):
    return _pairs(ids, window, lambda i, j: 0 < j - i <= window)


def pairs_left_only(ids, window):
    return _pairs(ids, window, lambda i, j: 0 < i - j <= window)


def pairs_wrapping(ids, window):
    return _pairs(ids, window, lambda i, j: 0 < abs(i - j) <= window, clip=False)


def pairs_by_value(ids, window):
    out = []
    for word in ids:
        i = ids.index(word)
        for j in range(len(ids)):
            if 0 < abs(i - j) <= window:
                out.append((word, ids[j]))
    return torch.tensor(out, dtype=torch.long).reshape(-1, 2)


def pairs_as_list(ids, window):
    return [tuple(p) for p in pairs_right(ids, window).tolist()]


def pairs_no_reshape(ids, window):
    return torch.tensor(pairs_right(ids, window).tolist(), dtype=torch.long)


@pytest.mark.parametrize("fn", [pairs_right, pairs_context_first, E.skipgram_pairs])
def test_pairs_check_passes_right_versions(fn, capsys):
    assert _run(check_skipgram_pairs, fn, capsys).passed


@pytest.mark.parametrize("fn,name", [
    (pairs_with_centre, "includes_centre"),
    (pairs_window_too_small, "window_off_by_one"),
    (pairs_right_end_short, "window_off_by_one"),
    (pairs_window_too_large, "window_off_by_one"),
    (pairs_right_only, "one_side"),
    (pairs_left_only, "one_side"),
    (pairs_wrapping, "wraps_around"),
    (pairs_by_value, "position_by_value"),
    (pairs_as_list, "not_a_tensor"),
    (pairs_no_reshape, "empty_shape"),
    (lambda ids, window: None, "returned_none"),
    (_stub, "not_implemented"),
    (_broken, "exception"),
])
def test_pairs_check_names_each_mistake(fn, name, capsys):
    verdict = _run(check_skipgram_pairs, fn, capsys)
    assert not verdict.passed and verdict.mistake == name, verdict.message


# nearest neighbours: learners' versions, right and wrong

def _scored(W, vocab, word, k, score, exclude=True, descending=True):
    i = vocab.stoi[word]
    s = score(W, i)
    order = sorted(range(len(s)), key=lambda j: float(s[j]), reverse=descending)
    if exclude:
        order = [j for j in order if j != i]
    cos = F.cosine_similarity(W, W[i].unsqueeze(0), dim=-1)
    return [(vocab.itos[j], float(cos[j])) for j in order[:k]]


def _cosine(W, i):
    return F.cosine_similarity(W, W[i].unsqueeze(0), dim=-1)


def nn_right(W, vocab, word, k=5):
    return _scored(W, vocab, word, k, _cosine)


def nn_with_query(W, vocab, word, k=5):
    return _scored(W, vocab, word, k, _cosine, exclude=False)


def nn_drop_after_topk(W, vocab, word, k=5):
    return [(w, s) for w, s in nn_with_query(W, vocab, word, k) if w != word]


def nn_least_similar(W, vocab, word, k=5):
    return _scored(W, vocab, word, k, _cosine, descending=False)


def nn_least_similar_inf(W, vocab, word, k=5):
    i = vocab.stoi[word]
    sims = _cosine(W, i)
    sims[i] = float("-inf")
    values, idx = torch.topk(sims, k, largest=False)
    return [(vocab.itos[j], float(v)) for v, j in zip(values, idx.tolist())]


def nn_reversed(W, vocab, word, k=5):
    return nn_right(W, vocab, word, k)[::-1]


def nn_dot_ranked(W, vocab, word, k=5):
    return _scored(W, vocab, word, k, lambda W, i: W @ W[i])


def nn_dot_scored(W, vocab, word, k=5):
    i = vocab.stoi[word]
    return [(w, float(W[vocab.stoi[w]] @ W[i]))
            for w, _ in nn_right(W, vocab, word, k)]


def nn_euclidean(W, vocab, word, k=5):
    return _scored(W, vocab, word, k, lambda W, i: -(W - W[i]).norm(dim=-1))


@pytest.mark.parametrize("fn", [nn_right, E.nearest_neighbours])
def test_neighbour_check_passes_right_versions(fn, capsys):
    assert _run(check_nearest_neighbours, fn, capsys).passed


@pytest.mark.parametrize("fn,name", [
    (nn_with_query, "includes_query"),
    (nn_drop_after_topk, "drops_after_topk"),
    (nn_least_similar, "least_similar"),
    (nn_least_similar_inf, "least_similar"),
    (nn_reversed, "reversed_order"),
    (nn_dot_ranked, "dot_product"),
    (nn_dot_scored, "dot_product"),
    (nn_euclidean, "euclidean"),
    (lambda W, vocab, word, k=5: None, "returned_none"),
    (_stub, "not_implemented"),
    (_broken, "exception"),
])
def test_neighbour_check_names_each_mistake(fn, name, capsys):
    verdict = _run(check_nearest_neighbours, fn, capsys)
    assert not verdict.passed and verdict.mistake == name, verdict.message


def test_neighbour_check_wants_a_key_error_for_unknown_words(capsys):
    def silent(W, vocab, word, k=5):
        if word not in vocab.stoi:
            return []
        return nn_right(W, vocab, word, k)

    verdict = _run(check_nearest_neighbours, silent, capsys)
    assert verdict.mistake == "no_error"
