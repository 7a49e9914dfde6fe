"""Days 20 and 21: positions inside a model, the decoder's masks, inputs and
labels, and their checks.

The reference code is compared with the PyTorch modules and with the
properties that define it; every check must pass the reference, name each
classic mistake from a wrong implementation written here, and turn stubs and
exceptions into one friendly line.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import position_experiments as P
from helpers.attention import causal_mask, combine_masks, padding_mask
from helpers.checks import (
    check_add_positions,
    check_learned_positions_forward,
    check_logits_to_next_token,
    check_make_decoder_masks,
    check_position_similarity,
    check_shift_targets,
)
from helpers.checks import model_inputs as M
from helpers.positions import sinusoidal_encoding
from helpers.seq2seq import shift_right
from helpers.transformer import (
    LearnedPositions,
    Seq2SeqTransformer,
    SinusoidalPositions,
)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def run(check, fn, capsys):
    verdict = check(fn)
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert "Traceback" not in out
    assert out.strip() == verdict.message
    return verdict


def stub(*args, **kwargs):
    raise NotImplementedError


def crashes(*args, **kwargs):
    return {}["missing key"]


# --------------------------------------------------------------------------
# day 20 references


@pytest.mark.parametrize("offset", [0, 3])
def test_add_positions_matches_sinusoidal_positions_module(offset):
    x = randn(2, 5, 8, seed=1)
    module = SinusoidalPositions(8, max_len=32)
    got = P.add_positions(x, sinusoidal_encoding(32, 8), offset=offset)
    torch.testing.assert_close(got, module(x, offset))


def test_add_positions_gives_every_sequence_the_same_rows_and_keeps_x():
    x, table = randn(3, 4, 6, seed=2), randn(10, 6, seed=3)
    before = x.clone()
    out = P.add_positions(x, table, offset=2)
    assert torch.equal(x, before)
    for b in range(3):
        for t in range(4):
            torch.testing.assert_close(out[b, t], x[b, t] + table[2 + t])
    with pytest.raises(ValueError, match="rows"):
        P.add_positions(x, table, offset=7)


def test_learned_positions_forward_matches_the_module_and_stops_at_max_len():
    module = LearnedPositions(6, max_len=9)
    x = randn(2, 9, 6, seed=4)
    weight = module.embedding.weight.detach()
    torch.testing.assert_close(P.learned_positions_forward(x, weight), module(x))
    with pytest.raises(ValueError, match="T = 10"):
        P.learned_positions_forward(randn(1, 10, 6), weight)
    with pytest.raises(ValueError):
        module(randn(1, 10, 6))


def test_position_similarity_is_cosine_similarity_and_survives_a_zero_row():
    w = randn(7, 5, seed=5)
    expected = F.cosine_similarity(w[:, None, :], w[None, :, :], dim=-1)
    sim = P.position_similarity(w)
    torch.testing.assert_close(sim, expected)
    torch.testing.assert_close(sim, sim.T)
    torch.testing.assert_close(sim.diagonal(), torch.ones(7))
    w[3] = 0.0
    sim = P.position_similarity(w)
    assert torch.isfinite(sim).all() and (sim[3] == 0).all()


def test_sinusoidal_similarity_depends_only_on_the_distance():
    sim = P.position_similarity(sinusoidal_encoding(20, 16))
    for k in range(1, 5):
        diagonal = sim.diagonal(k)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal),
                                   atol=1e-5, rtol=0)


# --------------------------------------------------------------------------
# day 20 experiments: the task, the model and the fallback


def test_order_batch_has_one_of_each_marker_and_the_right_labels():
    ids, labels = P.make_order_batch(500, 9, torch.Generator().manual_seed(0))
    assert ids.shape == (500, 9) and labels.shape == (500,)
    assert ((ids == P.MARK_A).sum(1) == 1).all()
    assert ((ids == P.MARK_B).sum(1) == 1).all()
    a_first = (ids == P.MARK_A).float().argmax(1) < (ids == P.MARK_B).float().argmax(1)
    assert torch.equal(labels, a_first.long())
    assert 0.4 < labels.float().mean() < 0.6
    with pytest.raises(ValueError):
        P.make_order_batch(4, 1)


def test_classifier_without_positions_cannot_see_order():
    torch.manual_seed(0)
    blind = P.OrderClassifier(positions=None).eval()
    ids, _ = P.make_order_batch(8, 10, torch.Generator().manual_seed(1))
    shuffled = ids[:, torch.randperm(10, generator=torch.Generator().manual_seed(2))]
    with torch.no_grad():
        torch.testing.assert_close(blind(ids), blind(shuffled), atol=1e-5, rtol=1e-5)
    for kind in ("learned", "sinusoidal"):
        torch.manual_seed(0)
        model = P.OrderClassifier(positions=kind).eval()
        if kind == "learned":
            with torch.no_grad():
                model.positions.embedding.weight.normal_()
        with torch.no_grad():
            assert not torch.allclose(model(ids), model(shuffled), atol=1e-4)


def test_a_short_training_run_learns_the_task_only_with_positions():
    torch.manual_seed(0)
    model = P.OrderClassifier(positions="sinusoidal", d_model=16, n_heads=2,
                              n_layers=1, d_ff=32)
    result = P.train_order_classifier(model, steps=120, batch_size=32,
                                      lengths=(6, 8))
    assert result.steps == 120 and len(result.losses) == 120
    assert sum(result.losses[-20:]) / 20 < sum(result.losses[:20]) / 20
    assert P.order_accuracy(model, 8, n=400) > 0.7
    assert not model.training


def test_extended_learned_table_copies_rows_and_repeats_the_last():
    short = LearnedPositions(4, max_len=5)
    longer = P.extend_learned_positions(short, 8)
    w, w2 = short.embedding.weight, longer.embedding.weight
    assert w2.shape == (8, 4)
    torch.testing.assert_close(w2[:5], w)
    torch.testing.assert_close(w2[5:], w[-1:].expand(3, 4))
    with pytest.raises(ValueError):
        P.extend_learned_positions(short, 3)


def test_order_accuracy_uses_the_offset():
    class Spy(torch.nn.Module):
        def forward(self, ids, offset=0):
            self.offset = offset
            return torch.zeros(ids.shape[0], 2)

    spy = Spy()
    P.order_accuracy(spy, 6, n=10, offset=4)
    assert spy.offset == 4


# --------------------------------------------------------------------------
# day 21 references


def test_decoder_mask_is_causal_and_padding_combined():
    ids = torch.tensor([[1, 5, 6, 2, 0], [1, 7, 2, 0, 0]])
    mask = M._reference_decoder_masks(ids, 0)
    assert mask.shape == (2, 1, 5, 5) and mask.dtype == torch.bool
    expected = combine_masks(causal_mask(5), padding_mask([4, 3], 5))
    assert torch.equal(mask, expected)
    for b in range(2):
        for i in range(5):
            for j in range(5):
                assert bool(mask[b, 0, i, j]) == (j <= i and int(ids[b, j]) != 0)


def test_shift_targets_agrees_with_day10_shift_right():
    seq = torch.tensor([[1, 7, 8, 9, 2], [1, 5, 2, 0, 0]])
    decoder_input, labels = M._reference_shift(seq)
    assert torch.equal(decoder_input, shift_right(labels, bos_id=1))
    assert torch.equal(torch.cat([decoder_input[:, :1], labels], 1), seq)


def test_next_token_is_the_first_step_of_greedy_decoding():
    torch.manual_seed(0)
    model = Seq2SeqTransformer(12, 12, d_model=8, n_heads=2, n_encoder_layers=1,
                               n_decoder_layers=1, d_ff=16, dropout=0.0).eval()
    src = torch.tensor([[4, 5, 6], [7, 8, 9]])
    prefix = torch.tensor([[1], [1]])
    with torch.no_grad():
        step = M._reference_next_token(model(src, prefix))
    out = model.greedy_decode(src, bos_id=1, eos_id=2, max_new_tokens=1)
    assert torch.equal(step, out[:, 1])


# --------------------------------------------------------------------------
# every check passes the reference and reports stubs and crashes in a line

CHECKS = {
    "add_positions": (check_add_positions, P.add_positions),
    "learned_positions_forward": (check_learned_positions_forward,
                                  P.learned_positions_forward),
    "position_similarity": (check_position_similarity, P.position_similarity),
    "make_decoder_masks": (check_make_decoder_masks, M._reference_decoder_masks),
    "shift_targets": (check_shift_targets, M._reference_shift),
    "logits_to_next_token": (check_logits_to_next_token, M._reference_next_token),
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_passes_the_reference(name, capsys):
    check, reference = CHECKS[name]
    verdict = run(check, reference, capsys)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_reports_a_stub_and_a_crash_in_one_line(name, capsys):
    check, _ = CHECKS[name]
    verdict = run(check, stub, capsys)
    assert not verdict.passed and verdict.mistake == "not_implemented"
    assert "not written yet" in verdict.message
    verdict = run(check, crashes, capsys)
    assert not verdict.passed and verdict.mistake == "exception"
    assert "KeyError" in verdict.message


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_explains_a_missing_return_and_a_non_function(name, capsys):
    check, _ = CHECKS[name]
    verdict = run(check, lambda *a, **k: None, capsys)
    assert not verdict.passed and verdict.mistake == "returned_none"
    verdict = run(check, torch.zeros(3), capsys)
    assert not verdict.passed and verdict.mistake == "not_callable"


def test_other_right_answers_pass(capsys):
    assert run(check_add_positions, lambda x, table, offset=0:
               x + table.narrow(0, offset, x.shape[1]), capsys).passed
    assert run(check_position_similarity, lambda w: F.cosine_similarity(
        w[:, None], w[None], dim=-1), capsys).passed
    assert run(check_make_decoder_masks, lambda ids, pad: torch.ones(
        ids.shape[1], ids.shape[1]).tril().bool() & (ids != pad)[:, None, None],
        capsys).passed


# --------------------------------------------------------------------------
# each named mistake is recognised


def _add_in_place(x, table, offset=0):
    x += table[offset:offset + x.shape[1]]
    return x


ADD_WRONG = {
    "not_sliced": lambda x, table, offset=0: x + table,
    "batch_axis": lambda x, table, offset=0:
        x + table[offset:offset + x.shape[0]].unsqueeze(1),
    "offset_ignored": lambda x, table, offset=0: x + table[:x.shape[1]],
    "slice_end_without_offset": lambda x, table, offset=0:
        x + table[offset:x.shape[1]],
    "sequence_reversed": lambda x, table, offset=0:
        x + table[offset:offset + x.shape[1]].flip(0),
    "in_place": _add_in_place,
}


@pytest.mark.parametrize("mistake", list(ADD_WRONG))
def test_check_add_positions_names_each_mistake(mistake, capsys):
    verdict = run(check_add_positions, ADD_WRONG[mistake], capsys)
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message


def _learned_no_check(x, w):
    return x + w[: x.shape[1]]


def _learned_embedding(x, w):
    return x + F.embedding(torch.arange(x.shape[1]), w)


def _learned_strict(x, w):
    if x.shape[1] >= w.shape[0]:
        raise ValueError("too long")
    return x + w[: x.shape[1]]


def _learned_checked(extra):
    def fn(x, w):
        T = x.shape[1]
        if T > w.shape[0]:
            return extra(x, w)
        return x + w[:T]
    return fn


LEARNED_WRONG = {
    "batch_axis": lambda x, w: x + w[: x.shape[0]][:, None],
    "not_sliced": lambda x, w: x + w,
    "full_length_rejected": _learned_strict,
    "wrap_around": lambda x, w: x + w[torch.arange(x.shape[1]) % w.shape[0]],
    "clamped": lambda x, w: x + w[torch.arange(x.shape[1]).clamp(max=w.shape[0] - 1)],
    "zero_padded": lambda x, w: x + torch.cat(
        [w, torch.zeros(max(x.shape[1] - w.shape[0], 0), w.shape[1])])[: x.shape[1]],
    "unclear_error": _learned_no_check,
    "no_error": _learned_checked(lambda x, w: x),
}


@pytest.mark.parametrize("mistake", list(LEARNED_WRONG))
def test_check_learned_positions_forward_names_each_mistake(mistake, capsys):
    verdict = run(check_learned_positions_forward, LEARNED_WRONG[mistake], capsys)
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message


def test_check_learned_positions_forward_names_an_index_error(capsys):
    verdict = run(check_learned_positions_forward, _learned_embedding, capsys)
    assert verdict.mistake == "unclear_error" and "IndexError" in verdict.message


def _unit(w, dim):
    return w / w.norm(dim=dim, keepdim=True)


SIMILARITY_WRONG = {
    "not_normalised": lambda w: w @ w.T,
    "one_norm": lambda w: (w @ w.T) / w.norm(dim=1, keepdim=True),
    "normalised_columns": lambda w: _unit(w, 0) @ _unit(w, 0).T,
    "features_gram": lambda w: _unit(w, 1).T @ _unit(w, 1),
    "nan_on_zero_row": lambda w: _unit(w, 1) @ _unit(w, 1).T,
}


@pytest.mark.parametrize("mistake", list(SIMILARITY_WRONG))
def test_check_position_similarity_names_each_mistake(mistake, capsys):
    verdict = run(check_position_similarity, SIMILARITY_WRONG[mistake], capsys)
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message


def _tri(T, diagonal=0):
    return torch.ones(T, T, dtype=torch.bool).tril(diagonal)


def _keep(ids, pad):
    return (ids != pad)[:, None, None, :]


MASK_WRONG = {
    "inverted": lambda ids, pad: ~(_tri(ids.shape[1]) & _keep(ids, pad)),
    "additive_float_mask": lambda ids, pad: torch.zeros(
        ids.shape[0], 1, ids.shape[1], ids.shape[1]).masked_fill(
        ~(_tri(ids.shape[1]) & _keep(ids, pad)), float("-inf")),
    "causal_excludes_diagonal": lambda ids, pad: _tri(ids.shape[1], -1)
        & _keep(ids, pad),
    "causal_sees_next": lambda ids, pad: _tri(ids.shape[1], 1) & _keep(ids, pad),
    "anti_causal": lambda ids, pad: _tri(ids.shape[1]).T & _keep(ids, pad),
    "padding_on_queries": lambda ids, pad: _tri(ids.shape[1])
        & (ids != pad)[:, None, :, None],
    "padding_on_both_axes": lambda ids, pad: _tri(ids.shape[1]) & _keep(ids, pad)
        & (ids != pad)[:, None, :, None],
    "pad_id_ignored": lambda ids, pad: _tri(ids.shape[1]) & _keep(ids, 0),
    "no_padding": lambda ids, pad: _tri(ids.shape[1]),
    "no_causal": lambda ids, pad: _keep(ids, pad),
    "no_heads_axis": lambda ids, pad: _tri(ids.shape[1]) & (ids != pad)[:, None, :],
    "not_boolean": lambda ids, pad: (_tri(ids.shape[1]) & _keep(ids, pad)).float(),
}


@pytest.mark.parametrize("mistake", list(MASK_WRONG))
def test_check_make_decoder_masks_names_each_mistake(mistake, capsys):
    verdict = run(check_make_decoder_masks, MASK_WRONG[mistake], capsys)
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message


SHIFT_WRONG = {
    "not_shifted": lambda s: (s, s),
    "swapped": lambda s: (s[:, 1:], s[:, :-1]),
    "batch_axis": lambda s: (s[:-1], s[1:]),
    "labels_not_shifted": lambda s: (s[:, :-1], s[:, :-1]),
    "input_shifted_too": lambda s: (s[:, 1:], s[:, 1:]),
    "bos_twice": lambda s: (shift_right(s, bos_id=1), s),
}


@pytest.mark.parametrize("mistake", list(SHIFT_WRONG))
def test_check_shift_targets_names_each_mistake(mistake, capsys):
    verdict = run(check_shift_targets, SHIFT_WRONG[mistake], capsys)
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message


NEXT_WRONG = {
    "second_to_last": lambda z: z[:, -2].argmax(-1),
    "first_position": lambda z: z[:, 0].argmax(-1),
    "all_positions": lambda z: z.argmax(-1),
    "argmax_over_time": lambda z: z.argmax(1),
    "returned_scores": lambda z: z[:, -1].amax(-1),
    "returned_probabilities": lambda z: F.softmax(z[:, -1], -1),
    "not_integer": lambda z: z[:, -1].argmax(-1).float(),
}


@pytest.mark.parametrize("mistake", list(NEXT_WRONG))
def test_check_logits_to_next_token_names_each_mistake(mistake, capsys):
    verdict = run(check_logits_to_next_token, NEXT_WRONG[mistake], capsys)
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message
