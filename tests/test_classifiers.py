"""Day 14: masked pooling, PyTorch's key_padding_mask, the bag-of-embeddings
and self-attention classifiers, their training loop, and the checks.

The models are tested against the properties that define them: the bag is
blind to order, attention without positions is too, attention with
positions is not; padding (its amount and its content) changes nothing;
nn.MultiheadAttention with PyTorch's mask equals the course's attention
with the course mask. Every check passes the reference and names each
classic mistake from a wrong implementation written here.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import attention as A
from helpers import classifiers as C
from helpers.checks import (
    check_classifier_forward,
    check_key_padding_from_lengths,
    check_masked_mean_pool,
)
from helpers.checks.classifiers import (
    FORWARD_MISTAKES,
    KEY_PADDING_MISTAKES,
    POOL_MISTAKES,
)
from helpers.toy_tasks import FIRST, SECOND, make_which_first, which_first_splits

TOL = dict(atol=1e-5, rtol=1e-5)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def batch(n=6, seed=0, **kw):
    kw.setdefault("max_len", 10)
    return make_which_first(n, seed=seed, **kw)


def models(vocab_size=9):
    torch.manual_seed(0)
    return {
        "bag": C.BagOfEmbeddings(vocab_size, 2, d_model=16, d_hidden=16),
        "attention, learned": C.SelfAttentionClassifier(vocab_size, 2, d_model=16),
        "attention, sinusoidal": C.SelfAttentionClassifier(
            vocab_size, 2, d_model=16, positions="sinusoidal"),
        "attention, no positions": C.SelfAttentionClassifier(
            vocab_size, 2, d_model=16, positions=None),
    }


def with_learned_positions_visible(model):
    """Learned positions start tiny (std 0.02); make them matter."""
    if isinstance(getattr(model, "positions", None), nn.Module) and hasattr(
            model.positions, "embedding"):
        nn.init.normal_(model.positions.embedding.weight, std=1.0)
    return model.eval()


def swap_markers(ids):
    out = ids.clone()
    out[ids == FIRST], out[ids == SECOND] = SECOND, FIRST
    return out


# --------------------------------------------------------------------------
# masked pooling and the key padding mask


def test_masked_mean_pool_matches_a_loop_over_real_tokens():
    x = randn(3, 6, 4)
    lengths = torch.tensor([6, 2, 4])
    keep = torch.arange(6)[None] < lengths[:, None]
    got = C.masked_mean_pool(x, keep)
    expected = torch.stack([x[b, :lengths[b]].mean(0) for b in range(3)])
    torch.testing.assert_close(got, expected)


def test_masked_mean_pool_gives_zeros_and_finite_gradients_for_an_empty_row():
    x = randn(2, 3, 4).requires_grad_(True)
    keep = torch.tensor([[True, True, False], [False, False, False]])
    out = C.masked_mean_pool(x, keep)
    assert torch.equal(out[1], torch.zeros(4))
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad[1] == 0).all()


def test_masked_mean_pool_ignores_what_padding_holds():
    x = randn(2, 5, 3)
    keep = torch.tensor([[True] * 5, [True, True, False, False, False]])
    noisy = x.clone()
    noisy[~keep] = 1e6
    torch.testing.assert_close(C.masked_mean_pool(noisy, keep),
                               C.masked_mean_pool(x, keep))


def test_masked_mean_pool_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        C.masked_mean_pool(randn(2, 5, 3), torch.ones(2, 4, dtype=torch.bool))


@pytest.mark.parametrize("lengths,T", [([3, 5], 5), ([4], 4), ([0, 2, 1], 6)])
def test_key_padding_from_lengths_is_the_inverted_course_mask(lengths, T):
    got = C.key_padding_from_lengths(torch.tensor(lengths), T)
    course = A.padding_mask(lengths, T)                          # (B, 1, 1, T)
    assert got.dtype == torch.bool and got.shape == (len(lengths), T)
    assert torch.equal(got, A.to_key_padding_mask(course))
    assert torch.equal(A.from_key_padding_mask(got), course)


def test_torch_attention_with_its_mask_equals_course_attention_with_ours():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    ours = A.MultiHeadAttention(8, 2).load_from_torch(mha).eval()
    x = randn(3, 5, 8)
    lengths = torch.tensor([5, 2, 4])
    out, w = mha(x, x, x, key_padding_mask=C.key_padding_from_lengths(lengths, 5),
                 average_attn_weights=False)
    out2, w2 = ours(x, mask=A.padding_mask(lengths, 5), return_weights=True)
    keep = torch.arange(5)[None] < lengths[:, None]
    torch.testing.assert_close(out[keep], out2[keep], **TOL)
    torch.testing.assert_close(w, w2, **TOL)
    assert (w.transpose(1, 3)[~keep] == 0).all()                 # padded keys


# --------------------------------------------------------------------------
# the models


@pytest.mark.parametrize("name", ["bag", "attention, learned",
                                  "attention, sinusoidal", "attention, no positions"])
def test_outputs_do_not_depend_on_padding(name):
    model = with_learned_positions_visible(models()[name])
    data = batch()
    T = data.ids.shape[1]
    with torch.no_grad():
        base = model(data.ids, data.lengths)
        wider = torch.cat([data.ids, torch.zeros(len(data), 4, dtype=torch.long)], 1)
        more_padding = model(wider, data.lengths)
        noisy = data.ids.clone()
        pad = torch.arange(T)[None] >= data.lengths[:, None]
        noisy[pad] = 5                                          # junk in padding
        junk_in_padding = model(noisy, data.lengths)
        alone = torch.cat([model(data.ids[i:i + 1], data.lengths[i:i + 1])
                           for i in range(len(data))])
    assert base.shape == (len(data), 2)
    torch.testing.assert_close(more_padding, base, **TOL)
    torch.testing.assert_close(junk_in_padding, base, **TOL)
    torch.testing.assert_close(alone, base, **TOL)


@pytest.mark.parametrize("name", ["bag", "attention, no positions"])
def test_models_without_positions_are_blind_to_order(name):
    model = models()[name].eval()
    data = batch(n=8, seed=1)
    with torch.no_grad():
        before = model(data.ids, data.lengths)
        after = model(swap_markers(data.ids), data.lengths)
        g = torch.Generator().manual_seed(0)
        shuffled = data.ids.clone()
        for i in range(len(data)):
            n = int(data.lengths[i])
            shuffled[i, :n] = data.ids[i, torch.randperm(n, generator=g)]
        reordered = model(shuffled, data.lengths)
    torch.testing.assert_close(after, before, **TOL)
    torch.testing.assert_close(reordered, before, **TOL)


@pytest.mark.parametrize("name", ["attention, learned", "attention, sinusoidal"])
def test_attention_with_positions_sees_order(name):
    model = with_learned_positions_visible(models()[name])
    data = batch(n=8, seed=1)
    with torch.no_grad():
        before = model(data.ids, data.lengths)
        after = model(swap_markers(data.ids), data.lengths)
    assert ((before - after).abs().amax(dim=1) > 1e-3).all()


def test_attention_weights_have_one_map_per_head_and_skip_padding():
    model = models()["attention, learned"].eval()
    data = batch()
    logits, w = model(data.ids, data.lengths, return_weights=True)
    B, T = data.ids.shape
    assert logits.shape == (B, 2) and w.shape == (B, 2, T, T)
    torch.testing.assert_close(w.sum(-1), torch.ones(B, 2, T))
    pad = torch.arange(T)[None] >= data.lengths[:, None]        # (B, T)
    assert (w.permute(0, 3, 1, 2)[pad] == 0).all()


def test_forward_is_the_documented_sequence_of_submodules():
    from helpers.checks.classifiers import _forward_variant

    model = with_learned_positions_visible(models()["attention, learned"])
    data = batch()
    with torch.no_grad():
        torch.testing.assert_close(_forward_variant(model, data.ids, data.lengths),
                                   model(data.ids, data.lengths), **TOL)


def test_pieces_are_the_pytorch_building_blocks():
    model = C.SelfAttentionClassifier(9, 3, d_model=12, n_heads=3)
    assert isinstance(model.embed, nn.Embedding) and model.embed.padding_idx == 0
    assert isinstance(model.attn, nn.MultiheadAttention) and model.attn.batch_first
    assert model.attn.num_heads == 3
    assert isinstance(model.head, nn.Linear) and model.head.out_features == 3
    assert isinstance(C.SelfAttentionClassifier(9, 2, positions=None).positions,
                      nn.Identity)
    with pytest.raises(ValueError, match="positions"):
        C.SelfAttentionClassifier(9, 2, positions="rotary")


# --------------------------------------------------------------------------
# training


@pytest.fixture(scope="module")
def splits():
    return which_first_splits(1000, 300, 10, seed=0)


def test_training_repeats_exactly_and_records_a_history(splits):
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = C.SelfAttentionClassifier(splits["train"].vocab_size, 2)
        runs.append(C.train_classifier(model, splits["train"], splits["val"],
                                       steps=30, eval_every=10))
    assert runs[0] == runs[1]
    assert runs[0]["step"] == [10, 20, 30]
    assert set(runs[0]) == {"step", "train_loss", "train_acc", "val_loss", "val_acc"}
    assert not model.training


def test_attention_learns_the_order_task_and_the_bag_stays_at_chance(splits):
    train, val = splits["train"], splits["val"]
    torch.manual_seed(0)
    bag = C.BagOfEmbeddings(train.vocab_size, 2)
    C.train_classifier(bag, train, steps=300)
    torch.manual_seed(0)
    attention = C.SelfAttentionClassifier(train.vocab_size, 2, positions="sinusoidal")
    C.train_classifier(attention, train, steps=300)
    bag_acc = C.evaluate_classifier(bag, val)[1]
    attention_acc = C.evaluate_classifier(attention, val)[1]
    assert 0.4 < bag_acc < 0.6
    assert attention_acc > 0.9


def test_evaluate_and_predict_restore_the_mode(splits):
    model = C.BagOfEmbeddings(splits["val"].vocab_size, 2).train()
    loss, acc = C.evaluate_classifier(model, splits["val"])
    assert model.training and 0 <= acc <= 1 and loss > 0
    assert C.predict(model, splits["val"]).shape == (300,)
    assert model.training


def test_train_classifier_rejects_zero_steps(splits):
    with pytest.raises(ValueError, match="steps"):
        C.train_classifier(C.BagOfEmbeddings(9, 2), splits["train"], steps=0)


# --------------------------------------------------------------------------
# wrong implementations, one per named mistake, written independently


def _positions(T):
    return torch.arange(T)[None, :]


KEY_PADDING_WRONG = {
    "course_mask": lambda L, T: (_positions(T) < L[:, None])[:, None, None, :],
    "inverted_convention": lambda L, T: _positions(T) < L[:, None],
    "extra_axes": lambda L, T: (_positions(T) >= L[:, None]).view(len(L), 1, 1, T),
    "off_by_one": lambda L, T: _positions(T) > L[:, None],
    "longest_not_T": lambda L, T: _positions(int(L.max())) >= L[:, None],
    "not_boolean": lambda L, T: (_positions(T) >= L[:, None]).float(),
}


def _keepf(mask):
    return mask.float()[..., None]                              # (B, T, 1)


POOL_WRONG = {
    "padding_included": lambda x, m: x.mean(1),
    "divided_by_T": lambda x, m: (x * _keepf(m)).sum(1) / m.shape[1],
    "not_divided": lambda x, m: (x * _keepf(m)).sum(1),
    "batch_axis": lambda x, m: (x * _keepf(m)).sum(0) / _keepf(m).sum(0).clamp(min=1),
    "inverted_mask": lambda x, m: (x * _keepf(~m)).sum(1)
    / _keepf(~m).sum(1).clamp(min=1),
    "nan_for_empty": lambda x, m: (x * _keepf(m)).sum(1) / m.sum(1, keepdim=True),
}


def _forward(model, ids, lengths, kpm="pad", pool="mask", pos=True, res=True,
             ff=True, probs=False):
    T = ids.shape[1]
    real = _positions(T) < lengths[:, None]                     # (B, T)
    h = model.embed(ids)
    if pos:
        h = model.positions(h)
    if pool == "first":
        h = (h * _keepf(real)).sum(1, keepdim=True) / real.sum(1)[:, None, None]
        a = model.attn(h, h, h)[0]
    else:
        mask = {"pad": ~real, "real": real, "none": None}[kpm]
        a = model.attn(h, h, h, key_padding_mask=mask)[0]
    h = model.norm1(h + a) if res else model.norm1(a)
    if ff:
        h = model.norm2(h + model.ff(h))
    if pool == "mask":
        v = (h * _keepf(real)).sum(1) / real.sum(1, keepdim=True)
    elif pool == "plain":
        v = h.mean(1)
    else:
        v = h[:, 0]
    out = model.head(v)
    return out.softmax(-1) if probs else out


FORWARD_WRONG = {
    "inverted_mask": lambda m, i, L: _forward(m, i, L, kpm="real"),
    "padding_attended": lambda m, i, L: _forward(m, i, L, kpm="none"),
    "pooling_before_attention": lambda m, i, L: _forward(m, i, L, pool="first"),
    "padding_in_pool": lambda m, i, L: _forward(m, i, L, pool="plain"),
    "no_positions": lambda m, i, L: _forward(m, i, L, pos=False),
    "no_residual": lambda m, i, L: _forward(m, i, L, res=False),
    "missing_feed_forward": lambda m, i, L: _forward(m, i, L, ff=False),
    "returned_probabilities": lambda m, i, L: _forward(m, i, L, probs=True),
}

CHECKS = {
    "key_padding": (check_key_padding_from_lengths, C.key_padding_from_lengths,
                    KEY_PADDING_WRONG, KEY_PADDING_MISTAKES),
    "pool": (check_masked_mean_pool, C.masked_mean_pool, POOL_WRONG, POOL_MISTAKES),
    "forward": (check_classifier_forward, _forward, FORWARD_WRONG,
                FORWARD_MISTAKES),
}

MISTAKE_CASES = [(check, name) for check, (_, _, wrong, _) in CHECKS.items()
                 for name in wrong]


def _one_friendly_line(capsys):
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert "Traceback" not in out
    return out


# --------------------------------------------------------------------------
# the checks


@pytest.mark.parametrize("check", list(CHECKS))
def test_check_passes_the_reference(check, capsys):
    run, reference, _, _ = CHECKS[check]
    verdict = run(reference)
    assert verdict.passed, verdict.message
    _one_friendly_line(capsys)


def test_check_passes_a_solution_built_from_the_course_converters(capsys):
    def forward(model, ids, lengths):
        mask = A.padding_mask(lengths, ids.shape[1])            # (B, 1, 1, T)
        x = model.positions(model.embed(ids))
        a, _ = model.attn(x, x, x, key_padding_mask=A.to_key_padding_mask(mask))
        x = model.norm1(x + a)
        x = model.norm2(x + model.ff(x))
        return model.head(C.masked_mean_pool(x, mask[:, 0, 0]))

    assert check_classifier_forward(forward).passed
    _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_every_named_mistake_has_a_wrong_implementation_here(check):
    _, _, wrong, mistakes = CHECKS[check]
    extra = {"not_boolean"} if check == "key_padding" else set()
    assert {m.name for m in mistakes} | extra == set(wrong)


@pytest.mark.parametrize("check,mistake", MISTAKE_CASES)
def test_check_names_the_mistake(check, mistake, capsys):
    run, _, wrong, _ = CHECKS[check]
    verdict = run(wrong[mistake])
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message
    _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_stub_is_not_implemented(check, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError("Your turn: replace this line with your code.")

    verdict = CHECKS[check][0](stub)
    assert verdict.mistake == "not_implemented"
    assert "not written yet" in _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_raising_is_reported_as_an_exception(check, capsys):
    def broken(*args):
        return torch.zeros(2, 3) @ torch.zeros(2, 3)

    verdict = CHECKS[check][0](broken)
    assert verdict.mistake == "exception"
    assert "raised RuntimeError" in _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_none_nan_and_wrong_shape_are_friendly(check, capsys):
    run = CHECKS[check][0]
    assert run(lambda *a: None).mistake == "returned_none"
    _one_friendly_line(capsys)
    assert run(lambda *a: torch.zeros(2, 2, 2, 2)).mistake == "shape"
    _one_friendly_line(capsys)
    if check != "key_padding":
        def nan(*args):
            expected = CHECKS[check][1](*args)
            return torch.full_like(expected, float("nan"))

        verdict = run(nan)
        assert verdict.mistake == "nan", verdict.message
        _one_friendly_line(capsys)


def test_key_padding_check_wants_a_tensor(capsys):
    verdict = check_key_padding_from_lengths(
        lambda L, T: C.key_padding_from_lengths(L, T).numpy())
    assert verdict.mistake == "type"
    _one_friendly_line(capsys)


def test_forward_check_leaves_the_fast_path_setting_as_it_was(capsys):
    before = torch.backends.mha.get_fastpath_enabled()
    check_classifier_forward(_forward)
    assert torch.backends.mha.get_fastpath_enabled() == before
    _one_friendly_line(capsys)
