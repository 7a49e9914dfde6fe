"""Token embeddings plus positions, and mean pooling without padding (day 7)."""

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.checks import check_embed_with_positions, check_mean_pool
from helpers.inputs import embed_with_positions, mean_pool
from helpers.positions import sinusoidal_encoding


def make(B=3, T=5, V=11, d=8, max_len=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (B, T), generator=g)
    W = torch.randn(V, d, generator=g)
    return ids, W, sinusoidal_encoding(max_len, d)


def run(check, fn, capsys):
    verdict = check(fn)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert "Traceback" not in out
    assert out.strip() == verdict.message
    return verdict


# --------------------------------------------------------------------------
# the reference


def test_embed_with_positions_matches_a_loop_over_every_token():
    ids, W, pe = make()
    x = embed_with_positions(ids, W, pe)
    B, T = ids.shape
    d = W.shape[1]
    assert x.shape == (B, T, d)
    for b in range(B):
        for t in range(T):
            expected = W[ids[b, t]] * math.sqrt(d) + pe[t]
            assert torch.allclose(x[b, t], expected, atol=1e-6)


def test_embed_with_positions_matches_nn_embedding_with_copied_weights():
    ids, W, pe = make(B=2, T=7, V=13, d=6)
    emb = torch.nn.Embedding(13, 6)
    with torch.no_grad():
        emb.weight.copy_(W)
        expected = emb(ids) * math.sqrt(6) + pe[:7]
    assert torch.allclose(embed_with_positions(ids, W, pe), expected, atol=1e-6)


def test_same_token_at_two_positions_gets_two_vectors():
    W, pe = torch.randn(5, 8), sinusoidal_encoding(10, 8)
    x = embed_with_positions(torch.tensor([[3, 3, 3]]), W, pe)[0]  # (3, 8)
    assert not torch.allclose(x[0], x[1]) and not torch.allclose(x[1], x[2])
    assert torch.allclose(x - pe[:3], (W[3] * math.sqrt(8)).expand(3, 8))


def test_swapping_words_changes_the_inputs_only_with_positions():
    W, pe = torch.randn(6, 8), sinusoidal_encoding(10, 8)
    a, b = torch.tensor([[2, 3, 4]]), torch.tensor([[4, 3, 2]])
    xa, xb = embed_with_positions(a, W, pe)[0], embed_with_positions(b, W, pe)[0]
    assert torch.allclose(xa[1], xb[1])           # the middle word stays put
    assert not torch.allclose(xa[0], xb[2])       # "dog" first vs "dog" last
    no_pe = torch.zeros_like(pe)
    xa0 = embed_with_positions(a, W, no_pe)[0]
    xb0 = embed_with_positions(b, W, no_pe)[0]
    assert torch.allclose(xa0[0], xb0[2])         # without positions: same vector


def test_a_sequence_as_long_as_the_table_is_fine():
    ids, W, pe = make(T=16, max_len=16)
    assert embed_with_positions(ids, W, pe).shape == (3, 16, 8)


@pytest.mark.parametrize("args, error, words", [
    (make(T=17, max_len=16), ValueError, "17 positions"),
    ((torch.tensor([1, 2]), torch.randn(4, 8), torch.randn(8, 8)), ValueError,
     "(B, T)"),
    ((torch.tensor([[1, 2]]), torch.randn(4, 8), torch.randn(8, 6)), ValueError,
     "width"),
    ((torch.tensor([[1.0, 2.0]]), torch.randn(4, 8), torch.randn(8, 8)),
     TypeError, "integers"),
])
def test_clear_errors(args, error, words):
    with pytest.raises(error, match=None) as info:
        embed_with_positions(*args)
    assert words in str(info.value)


def test_too_long_error_names_both_lengths():
    with pytest.raises(ValueError) as info:
        embed_with_positions(*make(T=17, max_len=16))
    assert "17" in str(info.value) and "16" in str(info.value)


def test_mean_pool_matches_a_loop_over_real_tokens():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, 4, generator=g)                   # (B, T, d)
    ids = torch.tensor([[5, 2, 9, 0, 0, 0], [3, 3, 3, 3, 3, 3], [7, 0, 0, 0, 0, 0]])
    pooled = mean_pool(x, ids)
    assert pooled.shape == (3, 4)
    for b in range(3):
        real = [t for t in range(6) if ids[b, t] != 0]
        expected = torch.stack([x[b, t] for t in real]).mean(0)
        assert torch.allclose(pooled[b], expected, atol=1e-6)


def test_mean_pool_ignores_the_amount_of_padding():
    x, ids = torch.randn(1, 3, 5), torch.tensor([[4, 6, 8]])
    padded_x = torch.cat([x, torch.randn(1, 4, 5) * 100], dim=1)  # (1, 7, 5)
    padded_ids = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    assert torch.allclose(mean_pool(x, ids), mean_pool(padded_x, padded_ids),
                          atol=1e-5)


def test_mean_pool_all_padding_gives_zeros():
    pooled = mean_pool(torch.randn(2, 3, 4), torch.tensor([[0, 0, 0], [1, 0, 0]]))
    assert torch.equal(pooled[0], torch.zeros(4))
    assert torch.isfinite(pooled).all()


def test_mean_pool_forgets_word_order_even_with_positions():
    W, pe = torch.randn(6, 8), sinusoidal_encoding(10, 8)
    ids = torch.tensor([[2, 3, 4], [4, 3, 2]])          # two word orders
    x = embed_with_positions(ids, W, pe)                # (2, 3, 8)
    assert not torch.allclose(x[0], x[1])
    pooled = mean_pool(x, ids)                          # (2, 8)
    assert torch.allclose(pooled[0], pooled[1], atol=1e-5)


def test_mean_pool_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        mean_pool(torch.randn(2, 3, 4), torch.ones(2, 4, dtype=torch.long))


# --------------------------------------------------------------------------
# check_embed_with_positions


def scaled(ids, W):
    return W[ids] * math.sqrt(W.shape[1])


def no_positions(ids, W, pe):
    return scaled(ids, W)


def no_scale(ids, W, pe):
    return W[ids] + pe[: ids.shape[1]]


def divides(ids, W, pe):
    return W[ids] / math.sqrt(W.shape[1]) + pe[: ids.shape[1]]


def scales_positions_too(ids, W, pe):
    return (W[ids] + pe[: ids.shape[1]]) * math.sqrt(W.shape[1])


def positions_by_id(ids, W, pe):
    return scaled(ids, W) + pe[ids]


def positions_by_batch(ids, W, pe):
    return scaled(ids, W) + pe[: ids.shape[0]]  # broadcasts only when B == 1


def positions_by_batch_unsqueezed(ids, W, pe):
    return scaled(ids, W) + pe[: ids.shape[0]].unsqueeze(1)


def no_length_check(ids, W, pe):
    return scaled(ids, W) + pe[: ids.shape[1]]  # RuntimeError when too long


def crops_silently(ids, W, pe):
    T = min(ids.shape[1], pe.shape[0])
    return scaled(ids[:, :T], W) + pe[:T]


def pads_silently(ids, W, pe):
    T = ids.shape[1]
    if T > pe.shape[0]:
        pe = torch.cat([pe, torch.zeros(T - pe.shape[0], pe.shape[1])])
    return scaled(ids, W) + pe[:T]


def off_by_one(ids, W, pe):
    if ids.shape[1] >= pe.shape[0]:
        raise ValueError("too long")
    return embed_with_positions(ids, W, pe)


def test_check_embed_passes_the_reference(capsys):
    verdict = run(check_embed_with_positions, embed_with_positions, capsys)
    assert verdict.passed and verdict.mistake is None


def test_check_embed_passes_another_correct_solution(capsys):
    def learner(ids, W, pe):
        B, T = ids.shape
        if T > pe.shape[0]:
            raise ValueError(f"T={T} is longer than the table ({pe.shape[0]})")
        d_model = W.shape[-1]
        one_hot = F.one_hot(ids, W.shape[0]).to(W.dtype)   # (B, T, V)
        return one_hot @ W * d_model ** 0.5 + pe[:T][None]  # (B, T, d)

    assert run(check_embed_with_positions, learner, capsys).passed


@pytest.mark.parametrize("fn, mistake", [
    (no_positions, "no_positions"),
    (no_scale, "no_scale"),
    (divides, "scale_divides"),
    (scales_positions_too, "scaled_positions"),
    (positions_by_id, "positions_by_token_id"),
    (positions_by_batch, "positions_wrong_axis"),
    (positions_by_batch_unsqueezed, "positions_wrong_axis"),
    (no_length_check, "no_length_check"),
    (crops_silently, "no_length_check"),
    (pads_silently, "no_length_check"),
    (off_by_one, "length_off_by_one"),
])
def test_check_embed_names_each_mistake(fn, mistake, capsys):
    verdict = run(check_embed_with_positions, fn, capsys)
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message


def test_check_embed_stub_raising_none_and_shape(capsys):
    def stub(ids, W, pe):
        raise NotImplementedError("Your turn: replace this line with your code.")

    def raising(ids, W, pe):
        return W[ids] @ pe  # (B, T, d) @ (max_len, d) does not fit

    def forgot_return(ids, W, pe):
        scaled(ids, W) + pe[: ids.shape[1]]

    def flat(ids, W, pe):
        return embed_with_positions(ids, W, pe).reshape(-1, W.shape[1])

    assert run(check_embed_with_positions, stub, capsys).mistake == "not_implemented"
    verdict = run(check_embed_with_positions, raising, capsys)
    assert verdict.mistake == "exception" and "RuntimeError" in verdict.message
    assert run(check_embed_with_positions, forgot_return,
               capsys).mistake == "returned_none"
    assert run(check_embed_with_positions, flat, capsys).mistake == "shape"


# --------------------------------------------------------------------------
# check_mean_pool


def keep(x, ids):
    return (ids != 0).to(x.dtype).unsqueeze(-1)  # (B, T, 1)


def test_check_pool_passes_the_reference_and_another_solution(capsys):
    assert run(check_mean_pool, mean_pool, capsys).passed

    def learner(x, ids):
        out = torch.zeros(x.shape[0], x.shape[2])
        for b in range(x.shape[0]):
            real = x[b][ids[b] != 0]                 # (n_real, d)
            if len(real):
                out[b] = real.mean(dim=0)
        return out

    assert run(check_mean_pool, learner, capsys).passed


@pytest.mark.parametrize("fn, mistake", [
    (lambda x, ids: (x * keep(x, ids)).sum(1) / keep(x, ids).sum(1),
     "nan_on_all_padding"),
    (lambda x, ids: x.mean(dim=1), "padding_included"),
    (lambda x, ids: (x * keep(x, ids)).sum(1) / x.shape[1], "divides_by_T"),
    (lambda x, ids: (x * keep(x, ids)).sum(1), "sum_not_mean"),
    (lambda x, ids: (x * keep(x, ids)).sum(0) / keep(x, ids).sum(0).clamp_min(1),
     "pooled_over_batch"),
])
def test_check_pool_names_each_mistake(fn, mistake, capsys):
    verdict = run(check_mean_pool, fn, capsys)
    assert verdict.mistake == mistake, verdict.message


def test_check_pool_stub_exception_and_none(capsys):
    def stub(x, ids):
        raise NotImplementedError

    def raising(x, ids):
        return x * (ids != 0)  # (B, T, d) * (B, T) does not broadcast

    def forgot_return(x, ids):
        x.mean(dim=1)

    assert run(check_mean_pool, stub, capsys).mistake == "not_implemented"
    assert run(check_mean_pool, raising, capsys).mistake == "exception"
    assert run(check_mean_pool, forgot_return, capsys).mistake == "returned_none"
