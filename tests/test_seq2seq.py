"""Days 10 and 11: sequence-to-sequence models, attention, and their checks.

The reference code is compared with PyTorch (packed GRU states, the course's
``AdditiveAttention`` module) and with the properties that define it: the
reversal task is a reversal, padding changes nothing, attention weights sum
to one and give padding zero, greedy decoding stops at ``<eos>``, and a short
training run reaches a stated accuracy. Every check must pass the reference,
name each classic mistake from a wrong implementation written here, and turn
stubs, exceptions, ``None`` and wrong shapes into one friendly line.
"""

import pytest
import torch
from torch import nn

from helpers import seq2seq as S
from helpers.attention import AdditiveAttention, padding_mask
from helpers.checks import (
    check_additive_scores,
    check_attention_context,
    check_greedy_decode,
    check_last_hidden,
    check_shift_right,
    check_source_mask,
)
from helpers.checks.seq2seq import (
    ADDITIVE_MISTAKES,
    CONTEXT_MISTAKES,
    GREEDY_MISTAKES,
    LAST_HIDDEN_MISTAKES,
    SHIFT_RIGHT_MISTAKES,
    SOURCE_MASK_MISTAKES,
    toy_step,
)


def _batch(B=5, lo=1, hi=7, seed=0):
    return S.make_reversal_batch(B, lo, hi, torch.Generator().manual_seed(seed))


def _small(attention, seed=0):
    return S.build_seq2seq(attention=attention, d_emb=8, d_hidden=12, d_attn=6,
                           seed=seed)


# --------------------------------------------------------------------------
# the task


def test_reversal_batch_is_the_reversed_input_then_eos_then_padding():
    src, lengths, tgt = _batch(B=40, lo=1, hi=9)
    S_ = src.shape[1]
    assert src.shape == (40, S_) and tgt.shape == (40, S_ + 1)
    assert src.dtype == tgt.dtype == lengths.dtype == torch.long
    assert lengths.min() >= 1 and lengths.max() == S_ <= 9
    for b, L in enumerate(lengths.tolist()):
        assert (src[b, :L] >= S.DIGIT0).all() and (src[b, L:] == S.PAD).all()
        assert tgt[b, :L].tolist() == src[b, :L].flip(0).tolist()
        assert tgt[b, L] == S.EOS and (tgt[b, L + 1:] == S.PAD).all()


def test_reversal_batch_repeats_with_the_same_seed():
    for a, b in zip(_batch(seed=3), _batch(seed=3)):
        assert torch.equal(a, b)
    assert not torch.equal(_batch(seed=3)[0], _batch(seed=4)[0])


def test_reversal_batch_rejects_impossible_lengths():
    with pytest.raises(ValueError, match="min_len"):
        S.make_reversal_batch(4, 0, 3)
    with pytest.raises(ValueError, match="min_len"):
        S.make_reversal_batch(4, 5, 3)


def test_tokens_round_trip():
    ids = S.encode_digits("3071")
    assert ids == [6, 3, 10, 4] and S.VOCAB_SIZE == len(S.TOKENS) == 13
    assert S.decode_tokens(ids + [S.EOS, S.PAD, S.PAD]) == "3 0 7 1 <eos>"
    assert S.decode_tokens(torch.tensor([S.BOS, 5, S.EOS, 7])) == "<bos> 2 <eos>"


# --------------------------------------------------------------------------
# the small pieces


def test_shift_right_puts_bos_first_and_drops_the_last_target():
    tgt = torch.tensor([[5, 6, 2, 0], [7, 2, 0, 0]])
    out = S.shift_right(tgt, S.BOS)
    assert out.tolist() == [[1, 5, 6, 2], [1, 7, 2, 0]]
    assert S.shift_right(tgt, 9)[:, 0].tolist() == [9, 9]


def test_last_hidden_matches_the_final_state_of_a_packed_gru():
    torch.manual_seed(0)
    enc = S.Encoder(S.VOCAB_SIZE, 6, 10)
    src, lengths, _ = _batch(B=6, lo=1, hi=8, seed=1)
    _, h_last = enc(src, lengths)                                   # (B, H)
    packed = nn.utils.rnn.pack_padded_sequence(
        enc.embedding(src), lengths, batch_first=True, enforce_sorted=False)
    _, h_n = enc.gru(packed)                                        # (1, B, H)
    torch.testing.assert_close(h_last, h_n[0])


def test_encoder_ignores_extra_padding():
    torch.manual_seed(0)
    enc = S.Encoder(S.VOCAB_SIZE, 6, 10)
    src, lengths, _ = _batch(seed=2)
    longer = torch.cat([src, torch.zeros(src.shape[0], 4, dtype=torch.long)], 1)
    out_a, h_a = enc(src, lengths)
    out_b, h_b = enc(longer, lengths)
    torch.testing.assert_close(h_a, h_b)
    mask = S.source_mask(lengths, src.shape[1])
    torch.testing.assert_close(out_a[mask], out_b[:, :src.shape[1]][mask])


def test_source_mask_matches_the_course_padding_mask():
    lengths = torch.tensor([3, 0, 5, 1])
    mask = S.source_mask(lengths, 5)
    assert mask.dtype == torch.bool and mask.shape == (4, 5)
    assert torch.equal(mask, padding_mask(lengths, 5)[:, 0, 0])


def test_additive_scores_give_the_weights_of_the_attention_module():
    torch.manual_seed(0)
    attn = AdditiveAttention(d_query=5, d_key=4, d_hidden=3)
    query, keys = torch.randn(2, 5), torch.randn(2, 6, 4)
    mask = S.source_mask(torch.tensor([6, 4]), 6)
    context, weights = attn(query, keys, mask=mask)
    scores = S.additive_scores(query, keys, attn.query_proj.weight.T,
                               attn.key_proj.weight.T, attn.key_proj.bias,
                               attn.score.weight[0])                 # (B, S)
    got_context, got_weights = S.attention_context(scores, keys, mask)
    torch.testing.assert_close(got_weights, weights)
    torch.testing.assert_close(got_context, context)


def test_attention_weights_sum_to_one_and_give_padding_zero():
    g = torch.Generator().manual_seed(0)
    scores = 50 * torch.randn(4, 6, generator=g)
    values = torch.randn(4, 6, 3, generator=g)
    mask = S.source_mask(torch.tensor([6, 3, 1, 0]), 6)
    context, weights = S.attention_context(scores, values, mask)
    assert torch.isfinite(weights).all() and torch.isfinite(context).all()
    torch.testing.assert_close(weights.sum(-1), torch.tensor([1.0, 1.0, 1.0, 0.0]))
    assert (weights[~mask] == 0).all()
    torch.testing.assert_close(context, (weights[:, None, :] @ values)[:, 0])
    torch.testing.assert_close(context[3], torch.zeros(3))
    torch.testing.assert_close(context[2], values[2, 0])


# --------------------------------------------------------------------------
# the models


@pytest.mark.parametrize("attention", [False, True])
def test_model_shapes(attention):
    model = _small(attention)
    src, lengths, tgt = _batch(B=3, lo=2, hi=6)
    B, T, S_ = tgt.shape[0], tgt.shape[1], src.shape[1]
    logits, weights = model(src, lengths, tgt)
    assert logits.shape == (B, T, S.VOCAB_SIZE)
    tokens, gen_weights = model.generate(src, lengths, max_len=9)
    assert tokens.shape == (B, 9) and tokens.dtype == torch.long
    if attention:
        assert weights.shape == (B, T, S_)
        assert gen_weights.shape == (B, 9, S_)
    else:
        assert weights is None and gen_weights is None


def test_attention_decoder_weights_sum_to_one_and_skip_padding():
    model = _small(True)
    src, lengths, tgt = _batch(B=6, lo=1, hi=8, seed=5)
    _, weights = model(src, lengths, tgt)                           # (B, T, S)
    torch.testing.assert_close(weights.sum(-1),
                               torch.ones(weights.shape[:2], dtype=weights.dtype))
    pad = ~S.source_mask(lengths, src.shape[1])                     # (B, S)
    assert (weights.permute(0, 2, 1)[pad] == 0).all()


@pytest.mark.parametrize("attention", [False, True])
def test_model_output_does_not_change_with_extra_padding(attention):
    model = _small(attention)
    src, lengths, tgt = _batch(B=4, seed=6)
    longer = torch.cat([src, torch.zeros(4, 3, dtype=torch.long)], 1)
    torch.testing.assert_close(model(src, lengths, tgt)[0],
                               model(longer, lengths, tgt)[0])


@pytest.mark.parametrize("attention", [False, True])
def test_step_by_step_decoding_matches_the_teacher_forced_pass(attention):
    model = _small(attention)
    src, lengths, tgt = _batch(B=3, seed=7)
    logits, _ = model(src, lengths, tgt)                            # (B, T, V)
    memory, state = model.encode(src, lengths)
    dec_in = S.shift_right(tgt, S.BOS)
    for t in range(tgt.shape[1]):
        step_logits, state, _ = model.decoder.step(dec_in[:, t], state, memory)
        torch.testing.assert_close(step_logits, logits[:, t])


def test_models_are_seeded_and_float64():
    a, b = _small(True, seed=3), _small(True, seed=3)
    for p, q in zip(a.parameters(), b.parameters()):
        assert p.dtype == torch.float64 and torch.equal(p, q)


# --------------------------------------------------------------------------
# greedy decoding


def test_greedy_decoding_stops_at_eos_pads_after_it_and_stops_early():
    step, state = toy_step([4, 7, 1], [1, 3, 2], [3, 5, 1])
    calls = []

    def counted(tokens, state):
        calls.append(tokens.clone())
        return step(tokens, state)

    out = S.greedy_decode(counted, state, 3, 10)
    assert out.shape == (3, 10)
    assert S.decode_tokens(out[0]) == "4 5 6 <eos>"
    assert S.decode_tokens(out[1]) == "7 0 3 6 9 <eos>"
    assert S.decode_tokens(out[2]) == "1 <eos>"
    assert (out[2, 2:] == S.PAD).all() and (out[0, 4:] == S.PAD).all()
    assert len(calls) == 6                      # stopped once every row was done
    assert calls[0].tolist() == [S.BOS] * 3
    assert calls[1].tolist() == out[:, 0].tolist()          # predictions fed back


def test_greedy_decoding_of_a_model_pads_after_the_first_eos():
    model = _small(False)
    src, lengths, _ = _batch(B=8, seed=8)
    tokens, _ = model.generate(src, lengths, max_len=12)
    for row in tokens.tolist():
        if S.EOS in row:
            assert all(t == S.PAD for t in row[row.index(S.EOS) + 1:])


# --------------------------------------------------------------------------
# training


@pytest.fixture(scope="module")
def trained_plain():
    model = S.build_seq2seq(attention=False, d_hidden=32)
    history = []
    S.train_seq2seq(model, steps=200, batch_size=32, min_len=1, max_len=3,
                    lr=2e-2, seed=0, history=history)
    return model, history


def test_plain_model_learns_to_reverse_short_sequences(trained_plain):
    model, history = trained_plain
    assert len(history) == 200 and history[-1] < history[0] / 5
    scores = S.accuracy_by_length(model, [1, 2, 3], n=100)
    for L, score in scores.items():
        assert score.exact >= 0.95, (L, score)
        assert len(score.per_position) == L + 1


def test_teacher_forcing_is_at_least_as_accurate_as_greedy(trained_plain):
    model, _ = trained_plain
    greedy = S.accuracy_by_length(model, [6], n=100)[6].per_token
    assert S.teacher_forced_accuracy(model, 6, n=100) >= greedy


def test_attention_model_learns_short_sequences_quickly():
    model = S.build_seq2seq(attention=True, d_hidden=32, d_attn=16)
    S.train_seq2seq(model, steps=150, batch_size=32, min_len=1, max_len=4,
                    lr=1e-2, seed=0)
    for L, score in S.accuracy_by_length(model, [2, 4], n=100).items():
        assert score.exact >= 0.95, (L, score)


def test_training_repeats_exactly_with_a_fixed_seed():
    runs = []
    for _ in range(2):
        history = []
        S.train_seq2seq(_small(True), steps=5, batch_size=8, max_len=5,
                        history=history)
        runs.append(history)
    assert runs[0] == runs[1]


# --------------------------------------------------------------------------
# wrong implementations, one per named mistake, written independently


def _bos_col(y, bos):
    return torch.full((y.shape[0], 1), bos, dtype=y.dtype)


SHIFT_WRONG = {
    "not_shifted": lambda y, bos: y.clone(),
    "shifted_left": lambda y, bos: torch.cat([y[:, 1:], _bos_col(y, bos)], 1),
    "dropped_first": lambda y, bos: torch.cat([_bos_col(y, bos), y[:, 1:]], 1),
    "kept_last": lambda y, bos: torch.cat([_bos_col(y, bos), y], 1),
    "wrong_start_token": lambda y, bos: torch.cat([_bos_col(y, 1), y[:, :-1]], 1),
}


def _batch_rows(x):
    return torch.arange(len(x))


LAST_HIDDEN_WRONG = {
    "took_last_column": lambda out, n: out[:, out.shape[1] - 1, :],
    "off_by_one": lambda out, n: out[_batch_rows(out), n],
    "took_first_column": lambda out, n: out[:, 0, :].clone(),
    "grid_indexing": lambda out, n: out[:, n - 1],
}


def _loop(step, state, B, max_len, feed_back=True, pad_after=True,
          stop="all", keep_eos=True, keep_bos=False, trim=False):
    tokens = torch.ones(B, dtype=torch.long) * S.BOS
    columns, done = [], torch.zeros(B, dtype=torch.bool)
    for _ in range(max_len):
        logits, state = step(tokens, state)
        choice = logits.argmax(dim=1)
        col = choice.clone()
        if pad_after:
            col[done] = S.PAD
        if not keep_eos:
            col[col == S.EOS] = S.PAD
        columns.append(col)
        done = done | (choice == S.EOS)
        if feed_back:
            tokens = choice
        if (stop == "all" and done.all()) or (stop == "any" and done.any()):
            break
    out = torch.stack(columns, 1)
    if not trim and out.shape[1] < max_len:
        rest = torch.zeros(B, max_len - out.shape[1], dtype=torch.long)
        out = torch.cat([out, rest], 1)
    if keep_bos:
        out = torch.cat([torch.ones(B, 1, dtype=torch.long), out], 1)
    return out


GREEDY_WRONG = {
    "not_fed_back": lambda *a: _loop(*a, feed_back=False),
    "no_padding_after_eos": lambda *a: _loop(*a, pad_after=False, stop="never"),
    "dropped_eos": lambda *a: _loop(*a, keep_eos=False),
    "stopped_at_first_eos": lambda *a: _loop(*a, pad_after=False, stop="any"),
    "kept_bos": lambda *a: _loop(*a, keep_bos=True),
    "trimmed": lambda *a: _loop(*a, trim=True),
}


def _positions(n, S_):
    return torch.arange(S_).unsqueeze(0).expand(len(n), S_)


SOURCE_MASK_WRONG = {
    "not_boolean": lambda n, S_: (_positions(n, S_) < n[:, None]).float(),
    "inverted": lambda n, S_: _positions(n, S_) >= n[:, None],
    "off_by_one": lambda n, S_: _positions(n, S_) < (n[:, None] + 1),
    "transposed": lambda n, S_: torch.arange(S_)[:, None] < n[None, :],
}


def _tanh_features(q, k, W_q, W_k, b):
    return torch.tanh(torch.einsum("bd,da->ba", q, W_q)[:, None]
                      + torch.einsum("bsd,da->bsa", k, W_k) + b)


ADDITIVE_WRONG = {
    "no_tanh": lambda q, k, W_q, W_k, b, w:
        torch.einsum("bsa,a->bs", (q @ W_q).unsqueeze(1) + k @ W_k + b, w),
    "tanh_outside": lambda q, k, W_q, W_k, b, w:
        torch.tanh(((q @ W_q).unsqueeze(1) + k @ W_k + b) @ w),
    "summed_instead_of_w": lambda q, k, W_q, W_k, b, w:
        _tanh_features(q, k, W_q, W_k, b).sum(dim=2),
    "query_broadcast": lambda q, k, W_q, W_k, b, w:
        torch.tanh(q @ W_q + k @ W_k + b) @ w,
    "no_bias": lambda q, k, W_q, W_k, b, w:
        _tanh_features(q, k, W_q, W_k, torch.zeros_like(b)) @ w,
    "dot_product": lambda q, k, W_q, W_k, b, w: torch.einsum("bsd,bd->bs", k, q),
}


def _weights(scores, mask, fill=float("-inf"), dim=1):
    if mask is not None:
        scores = scores.masked_fill(~mask, fill)
    return scores.softmax(dim)


def _average(weights, values):
    return torch.einsum("bs,bsh->bh", weights, values)


def _ok_weights(scores, mask):
    return torch.nan_to_num(_weights(scores, mask))


CONTEXT_WRONG = {
    "swapped_outputs": lambda s, v, m=None:
        (_ok_weights(s, m), _average(_ok_weights(s, m), v)),
    "softmax_over_batch": lambda s, v, m=None:
        (_average(_weights(s, m, dim=0), v), _weights(s, m, dim=0)),
    "padding_attended": lambda s, v, m=None:
        (_average(s.softmax(1), v), s.softmax(1)),
    "mask_inverted": lambda s, v, m=None:
        (_average(_weights(s, ~m), v), _weights(s, ~m)),
    "unnormalised_scores": lambda s, v, m=None:
        (_average(s, v), _ok_weights(s, m)),
    "zeroed_after_softmax": lambda s, v, m=None:
        (_average(s.softmax(1) * m, v), s.softmax(1) * m),
    "masked_with_zero": lambda s, v, m=None:
        (_average(_weights(s, m, fill=0.0), v), _weights(s, m, fill=0.0)),
    "nan_on_empty_row": lambda s, v, m=None:
        (_average(_weights(s, m), v), _weights(s, m)),
}

CHECKS = {
    "shift_right": (check_shift_right, S.shift_right, SHIFT_WRONG,
                    SHIFT_RIGHT_MISTAKES),
    "last_hidden": (check_last_hidden, S.last_hidden, LAST_HIDDEN_WRONG,
                    LAST_HIDDEN_MISTAKES),
    "greedy_decode": (check_greedy_decode, S.greedy_decode, GREEDY_WRONG,
                      GREEDY_MISTAKES),
    "source_mask": (check_source_mask, S.source_mask, SOURCE_MASK_WRONG,
                    SOURCE_MASK_MISTAKES),
    "additive_scores": (check_additive_scores, S.additive_scores, ADDITIVE_WRONG,
                        ADDITIVE_MISTAKES),
    "attention_context": (check_attention_context, S.attention_context,
                          CONTEXT_WRONG, CONTEXT_MISTAKES),
}

# Mistakes a check names outside its Mistake list (from its own code).
EXTRA_NAMES = {"source_mask": {"not_boolean"}}

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
    assert verdict.mistake is None
    _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_every_named_mistake_has_a_wrong_implementation_here(check):
    _, _, wrong, mistakes = CHECKS[check]
    named = {m.name for m in mistakes} | EXTRA_NAMES.get(check, set())
    assert named == set(wrong)


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
    def broken(*args, **kwargs):
        return torch.zeros(2, 3) @ torch.zeros(4, 5)

    verdict = CHECKS[check][0](broken)
    assert verdict.mistake == "exception"
    assert "raised" in _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_none_and_wrong_shape_are_friendly(check, capsys):
    run = CHECKS[check][0]
    assert run(lambda *a, **k: None).mistake == "returned_none"
    _one_friendly_line(capsys)
    verdict = run(lambda *a, **k: torch.zeros(2, 2, 2, 2))
    assert verdict.mistake in {"shape", "type"}, verdict.message
    _one_friendly_line(capsys)


def test_greedy_check_reports_tokens_of_the_wrong_shape(capsys):
    def column_tokens(step, state, B, max_len):
        tokens = torch.full((B, 1), S.BOS)
        return step(tokens, state)

    verdict = check_greedy_decode(column_tokens)
    assert verdict.mistake == "exception"
    assert "shape" in _one_friendly_line(capsys)
