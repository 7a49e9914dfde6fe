"""Checks for the sequence-to-sequence exercises (days 10 and 11).

* :func:`check_shift_right` -- decoder inputs for teacher forcing (day 10)
* :func:`check_last_hidden` -- the encoder state after the last real token
  (day 10)
* :func:`check_greedy_decode` -- the greedy decoding loop, run on a small
  rule-based decoder whose choices are known in advance (day 10)
* :func:`check_source_mask` -- the boolean mask over source positions (day 11)
* :func:`check_additive_scores` -- Bahdanau's scores
  ``w . tanh(s W_q + h_j W_k + b)`` (day 11)
* :func:`check_attention_context` -- masked softmax over the source axis and
  the context vector (day 11)

Masks follow the course convention of :mod:`helpers.attention`: boolean,
``True`` where a decoder step may attend to a source position.
"""

from __future__ import annotations

from typing import Callable

import torch

from helpers import seq2seq as ref
from helpers.checks._core import (
    Case,
    Mistake,
    Verdict,
    call_learner,
    check_function,
    compare,
    diagnose,
    fail,
    run_check,
)

__all__ = [
    "check_additive_scores",
    "check_attention_context",
    "check_greedy_decode",
    "check_last_hidden",
    "check_shift_right",
    "check_source_mask",
    "toy_step",
]


def _randn(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g)


def _randint(low: int, high: int, *shape: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, shape, generator=g)


# --------------------------------------------------------------------------
# day 10: shift_right


def _targets(lengths, T: int, seed: int) -> torch.Tensor:
    """Digit targets ending in <eos>, padded: ``(B, T)``."""
    rows = []
    for k, L in enumerate(lengths):
        digits = _randint(ref.DIGIT0, ref.VOCAB_SIZE, L, seed=seed + k).tolist()
        row = digits + [ref.EOS] + [ref.PAD] * (T - L - 1)
        rows.append(row[:T])
    return torch.tensor(rows, dtype=torch.long)


def _column_zero_is_not_bos(case, got, expected) -> bool:
    """Right apart from column 0, which is not ``bos_id``."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return False
    return (compare(got[:, 1:], expected[:, 1:]) is None
            and bool((got[:, 0] != expected[:, 0]).all()))


def _start(targets, bos_id):
    return torch.full_like(targets[:, :1], bos_id)                     # (B, 1)


SHIFT_RIGHT_MISTAKES = [
    Mistake("not_shifted",
            "you return the targets unchanged, so at step t the decoder reads "
            "the very token it must predict; put `bos_id` first and drop the "
            "last target",
            impl=lambda y, bos: y),
    Mistake("shifted_left",
            "you shifted the wrong way: the decoder would read the *next* "
            "target; prepend `bos_id` and drop the last column, "
            "`torch.cat([bos, targets[:, :-1]], dim=1)`",
            impl=lambda y, bos: torch.cat([y[:, 1:], _start(y, bos)], 1)),
    Mistake("shifted_left",
            "you shifted the wrong way: the decoder would read the *next* "
            "target; prepend `bos_id` and drop the last column, "
            "`torch.cat([bos, targets[:, :-1]], dim=1)`",
            impl=lambda y, bos: torch.cat([y[:, 1:], torch.zeros_like(y[:, :1])],
                                          1)),
    Mistake("dropped_first",
            "you overwrote the first target with `bos_id`, dropping the wrong "
            "token; keep targets 0..T-2 and drop the last one, "
            "`targets[:, :-1]`",
            impl=lambda y, bos: torch.cat([_start(y, bos), y[:, 1:]], 1)),
    Mistake("kept_last",
            "your decoder inputs are one token longer than the targets; after "
            "putting `bos_id` in front, drop the last target, `targets[:, :-1]`",
            impl=lambda y, bos: torch.cat([_start(y, bos), y], 1)),
    Mistake("wrong_start_token",
            "column 0 must hold `bos_id` (the value passed in), not a fixed "
            "number or another special token",
            when=_column_zero_is_not_bos),
]


def _shift_right_cases() -> list[Case]:
    return [
        Case((_targets([4, 2, 6], 7, seed=1), ref.BOS),
             "a (3, 7) batch of padded targets"),
        Case((_targets([3], 4, seed=2), ref.BOS), "a batch of one (1, 4)"),
        Case((_targets([5, 1, 3, 2, 4], 9, seed=3), 11),
             "odd sizes (5, 9) with bos_id = 11"),
        Case((torch.tensor([[ref.EOS], [ref.EOS]]), ref.BOS),
             "targets of length 1, only <eos>"),
    ]


def check_shift_right(fn: Callable) -> Verdict:
    """Check ``fn(targets, bos_id)`` against :func:`helpers.seq2seq.shift_right`
    (day 10).

    ``targets`` is ``(B, T)``; the answer is ``(B, T)`` with ``bos_id`` in
    column 0 and targets ``0..T-2`` after it. Names ``not_shifted``,
    ``shifted_left``, ``dropped_first``, ``kept_last`` and
    ``wrong_start_token``.
    """
    return check_function(
        "shift_right", fn, _shift_right_cases(), ref.shift_right,
        SHIFT_RIGHT_MISTAKES, atol=0, rtol=0,
        success="shift_right is correct: <bos> first, every target one step "
                "later, the last target dropped, for any bos_id.")


# --------------------------------------------------------------------------
# day 10: last_hidden


def _rows(x):
    return torch.arange(x.shape[0])


LAST_HIDDEN_MISTAKES = [
    Mistake("took_last_column",
            "you take `outputs[:, -1]`, the state after the padding as well; "
            "pick each row's own last real position, "
            "`outputs[torch.arange(B), lengths - 1]`",
            impl=lambda out, lengths: out[:, -1]),
    Mistake("off_by_one",
            "you take position `lengths[b]`, one step after the last real "
            "token; positions count from 0, so use `lengths - 1`",
            impl=lambda out, lengths: out[_rows(out), lengths]),
    Mistake("took_first_column",
            "you take the state after the first token; the summary of a "
            "sequence is the state after its last real token, "
            "`outputs[torch.arange(B), lengths - 1]`",
            impl=lambda out, lengths: out[:, 0]),
    Mistake("grid_indexing",
            "`outputs[:, lengths - 1]` picks every length for every row "
            "(a B x B grid); pair each row with its own length, "
            "`outputs[torch.arange(B), lengths - 1]`",
            impl=lambda out, lengths: out[:, lengths - 1]),
]


def _last_hidden_cases() -> list[Case]:
    return [
        Case((_randn(3, 6, 4, seed=4), torch.tensor([4, 2, 5])),
             "3 sequences of lengths 4, 2, 5 padded to 6"),
        Case((_randn(1, 5, 3, seed=5), torch.tensor([5])),
             "a batch of one without padding"),
        Case((_randn(4, 7, 5, seed=6), torch.tensor([1, 7, 3, 1])),
             "odd sizes (4, 7, 5) with rows of length 1"),
        Case((_randn(2, 3, 6, seed=7, scale=100.0), torch.tensor([3, 2])),
             "large values (2, 3, 6)"),
    ]


def check_last_hidden(fn: Callable) -> Verdict:
    """Check ``fn(outputs, lengths)`` against
    :func:`helpers.seq2seq.last_hidden` (day 10).

    ``outputs`` is ``(B, S, H)``, ``lengths`` ``(B,)``; the answer is the
    ``(B, H)`` state after each row's last real token. Names
    ``took_last_column``, ``off_by_one``, ``took_first_column`` and
    ``grid_indexing``.
    """
    return check_function(
        "last_hidden", fn, _last_hidden_cases(), ref.last_hidden,
        LAST_HIDDEN_MISTAKES,
        success="last_hidden is correct: every row gives the state after its "
                "own last real token, never a state that has read padding.")


# --------------------------------------------------------------------------
# day 10: greedy decoding


def toy_step(start, stride, stop, vocab_size: int = ref.VOCAB_SIZE):
    """A small rule-based decoder for checking decoding loops (day 10).

    Inputs: per-row lists ``start`` (the digit written after ``<bos>``),
    ``stride`` (added to the digit it reads) and ``stop`` (the step at which
    the row writes ``<eos>``). Returns ``(step, state)``: ``step(tokens,
    state) -> (logits, state)`` takes ``tokens`` ``(B,)`` long and returns
    logits ``(B, vocab_size)`` that favour, at step ``t`` of row ``b``,
    ``<eos>`` if ``t == stop[b]``, else ``start[b]`` after ``<bos>``, else
    the digit read plus ``stride[b]`` (mod 10; digit 0 after ``<eos>`` or
    ``<pad>``). ``state`` counts the steps. Its choices depend on the token
    it is fed, so a loop that does not feed its predictions back gives other
    tokens.
    """
    start = torch.as_tensor(start)
    stride = torch.as_tensor(stride)
    stop = torch.as_tensor(stop)
    B = len(start)
    noise = 0.3 * torch.rand(64, vocab_size, generator=torch.Generator()
                             .manual_seed(B))                          # (64, V)

    def step(tokens, t):
        if not isinstance(tokens, torch.Tensor) or tokens.shape != (B,):
            got = (tuple(tokens.shape) if isinstance(tokens, torch.Tensor)
                   else type(tokens).__name__)
            raise ValueError(f"step expects tokens of shape ({B},), one per "
                             f"row, got {got}")
        if tokens.dtype != torch.long:
            raise ValueError(f"step expects long token ids, got {tokens.dtype}")
        after_digit = (tokens - ref.DIGIT0 + stride) % 10              # (B,)
        nxt = torch.where(tokens >= ref.DIGIT0, after_digit, 0)        # (B,)
        nxt = torch.where(tokens == ref.BOS, start, nxt) + ref.DIGIT0  # (B,)
        nxt = torch.where(t == stop, ref.EOS, nxt)                     # (B,)
        logits = noise[t.clamp(max=63)].clone()                        # (B, V)
        logits[torch.arange(B), nxt] += 3.0
        return logits, t + 1

    return step, torch.zeros(B, dtype=torch.long)


def _decode_bos_every_step(step, state, B, max_len, bos_id=ref.BOS,
                           eos_id=ref.EOS, pad_id=ref.PAD):
    bos = torch.full((B,), bos_id, dtype=torch.long)
    out = torch.full((B, max_len), pad_id, dtype=torch.long)
    done = torch.zeros(B, dtype=torch.bool)
    for t in range(max_len):
        logits, state = step(bos, state)
        tokens = logits.argmax(-1)
        out[:, t] = torch.where(done, pad_id, tokens)
        done |= tokens == eos_id
        if done.all():
            break
    return out


def _decode_no_padding(step, state, B, max_len, bos_id=ref.BOS,
                       eos_id=ref.EOS, pad_id=ref.PAD):
    tokens = torch.full((B,), bos_id, dtype=torch.long)
    out = torch.full((B, max_len), pad_id, dtype=torch.long)
    for t in range(max_len):
        logits, state = step(tokens, state)
        tokens = logits.argmax(-1)
        out[:, t] = tokens
    return out


def _decode_no_padding_early_stop(step, state, B, max_len, bos_id=ref.BOS,
                                  eos_id=ref.EOS, pad_id=ref.PAD):
    tokens = torch.full((B,), bos_id, dtype=torch.long)
    out = torch.full((B, max_len), pad_id, dtype=torch.long)
    done = torch.zeros(B, dtype=torch.bool)
    for t in range(max_len):
        logits, state = step(tokens, state)
        tokens = logits.argmax(-1)
        out[:, t] = tokens
        done |= tokens == eos_id
        if done.all():
            break
    return out


def _decode_drop_eos(*args, **kwargs):
    out = ref.greedy_decode(*args, **kwargs)
    return torch.where(out == ref.EOS, ref.PAD, out)


def _decode_stop_at_first_eos(step, state, B, max_len, bos_id=ref.BOS,
                              eos_id=ref.EOS, pad_id=ref.PAD):
    tokens = torch.full((B,), bos_id, dtype=torch.long)
    out = torch.full((B, max_len), pad_id, dtype=torch.long)
    for t in range(max_len):
        logits, state = step(tokens, state)
        tokens = logits.argmax(-1)
        out[:, t] = tokens
        if (tokens == eos_id).any():
            break
    return out


def _decode_kept_bos(step, state, B, max_len, bos_id=ref.BOS, eos_id=ref.EOS,
                     pad_id=ref.PAD):
    out = ref.greedy_decode(step, state, B, max_len, bos_id, eos_id, pad_id)
    start = torch.full((B, 1), bos_id, dtype=torch.long)
    return torch.cat([start, out], 1)


def _decode_kept_bos_cut(*args, **kwargs):
    return _decode_kept_bos(*args, **kwargs)[:, :-1]


def _decode_trimmed(step, state, B, max_len, bos_id=ref.BOS, eos_id=ref.EOS,
                    pad_id=ref.PAD):
    out = ref.greedy_decode(step, state, B, max_len, bos_id, eos_id, pad_id)
    written = int((out != pad_id).sum(1).max())
    return out[:, :written]


GREEDY_MISTAKES = [
    Mistake("not_fed_back",
            "every step reads <bos> instead of the token chosen at the step "
            "before; keep `tokens = logits.argmax(-1)` and pass it to the next "
            "call of `step` (at inference there are no targets to read)",
            impl=_decode_bos_every_step),
    Mistake("no_padding_after_eos",
            "a row keeps writing tokens after its <eos>; remember which rows "
            "are done and write `pad_id` in them from then on",
            impl=_decode_no_padding),
    Mistake("no_padding_after_eos",
            "a row keeps writing tokens after its <eos>; remember which rows "
            "are done and write `pad_id` in them from then on",
            impl=_decode_no_padding_early_stop),
    Mistake("dropped_eos",
            "the <eos> itself is missing; keep it in the output and pad only "
            "the positions after it",
            impl=_decode_drop_eos),
    Mistake("stopped_at_first_eos",
            "you stop the whole batch when the first row writes <eos>, cutting "
            "off the rows that are still writing; stop only when every row is "
            "done (`done.all()`)",
            impl=_decode_stop_at_first_eos),
    Mistake("kept_bos",
            "your output starts with <bos>; return only the tokens the loop wrote, "
            "shape (B, max_len), starting with the first prediction",
            impl=_decode_kept_bos),
    Mistake("kept_bos",
            "your output starts with <bos>; return only the tokens the loop wrote, "
            "shape (B, max_len), starting with the first prediction",
            impl=_decode_kept_bos_cut),
    Mistake("trimmed",
            "after stopping early you return fewer than `max_len` columns; "
            "start from `torch.full((B, max_len), pad_id)` so the result "
            "always has shape (B, max_len)",
            impl=_decode_trimmed),
]


def _greedy_cases() -> list[tuple[str, list, list, list, int]]:
    """(label, start, stride, stop, max_len)."""
    return [
        ("3 rows that write <eos> at steps 3, 5 and 1",
         [4, 7, 1], [1, 3, 2], [3, 5, 1], 8),
        ("a batch of one", [9], [1], [4], 7),
        ("a row with no <eos> before max_len", [2, 5], [4, 1], [2, 20], 6),
        ("a row that writes <eos> first", [6, 3, 8], [1, 1, 5], [0, 2, 4], 6),
        ("max_len = 1", [1, 2], [1, 1], [3, 0], 1),
    ]


def check_greedy_decode(fn: Callable) -> Verdict:
    """Check ``fn(step, state, batch_size, max_len)`` against
    :func:`helpers.seq2seq.greedy_decode` (day 10).

    The check supplies :func:`toy_step`, a rule-based decoder whose tokens
    depend on what it is fed. Cases: rows that stop at different steps, a
    batch of one, a row with no ``<eos>`` before ``max_len``, a row that
    writes ``<eos>`` first, ``max_len = 1``. Names ``not_fed_back``,
    ``no_padding_after_eos``, ``dropped_eos``, ``stopped_at_first_eos``,
    ``kept_bos`` and ``trimmed``.
    """
    cases = []
    for label, start, stride, stop, max_len in _greedy_cases():
        step, state = toy_step(start, stride, stop)
        cases.append(Case((step, state, len(start), max_len), label))
    return check_function(
        "greedy_decode", fn, cases, ref.greedy_decode, GREEDY_MISTAKES,
        atol=0, rtol=0,
        success="greedy_decode is correct: it feeds each prediction back, "
                "keeps <eos>, pads after it and stops only when every row is "
                "done.")


# --------------------------------------------------------------------------
# day 11: source_mask


def _not_boolean(case, got, expected) -> bool:
    return isinstance(got, torch.Tensor) and got.dtype != torch.bool


SOURCE_MASK_MISTAKES = [
    Mistake("inverted",
            "your mask is True at the padding and False at real tokens; the "
            "course convention is True = may attend, `positions < lengths`",
            impl=lambda lengths, S: ~ref.source_mask(lengths, S)),
    Mistake("off_by_one",
            "your mask also lets the first padding position through; "
            "positions 0..L-1 are real, so compare with `<`, not `<=`",
            impl=lambda lengths, S: torch.arange(S)[None] <= lengths[:, None]),
    Mistake("transposed",
            "your mask has shape (S, B); put the batch first, "
            "`positions[None, :] < lengths[:, None]`",
            impl=lambda lengths, S: ref.source_mask(lengths, S).T),
]


def _source_mask_cases() -> list[Case]:
    return [
        Case((torch.tensor([5, 2, 4]), 5), "lengths 5, 2, 4 padded to 5"),
        Case((torch.tensor([3]), 3), "a batch of one without padding"),
        Case((torch.tensor([1, 7, 3, 1, 6]), 7), "odd sizes: 5 rows padded to 7"),
        Case((torch.tensor([2, 0]), 4), "a row of length 0 (all padding)"),
        Case((torch.tensor([2, 3, 1, 4]), 4), "4 rows padded to 4"),
    ]


def check_source_mask(fn: Callable) -> Verdict:
    """Check ``fn(lengths, S)`` against :func:`helpers.seq2seq.source_mask`
    (day 11).

    The answer is a boolean ``(B, S)`` mask, ``True`` at real tokens. Names
    ``not_boolean``, ``inverted``, ``off_by_one`` and ``transposed``.
    """
    name = "source_mask"

    def body() -> str:
        cases = _source_mask_cases()
        for case in cases:
            got = call_learner(name, fn, case.args, label=case.label)
            expected = ref.source_mask(*case.args)
            if got is None:
                fail(f"{name} returned None on {case.label}; did you forget "
                     "the `return` statement?", "returned_none")
            difference = compare(got, expected, atol=0, rtol=0)
            if difference is not None:
                diagnose(name, case, got, expected, SOURCE_MASK_MISTAKES,
                         difference, 0, 0)
            if _not_boolean(case, got, expected):
                fail(f"{name} gives the right pattern but as {got.dtype} (seen "
                     f"on {case.label}); course masks are boolean: return the "
                     "comparison itself, without `.float()` or `.long()`.",
                     "not_boolean")
        return (f"{name} is correct on all {len(cases)} cases: a boolean "
                "(B, S) mask, True at real tokens, including a row of "
                "length 0.")

    return run_check(name, body)


# --------------------------------------------------------------------------
# day 11: additive scores


def _scores_no_tanh(q, k, W_q, W_k, b, w):
    return ((q @ W_q)[:, None, :] + k @ W_k + b) @ w


def _scores_tanh_outside(q, k, W_q, W_k, b, w):
    return torch.tanh(_scores_no_tanh(q, k, W_q, W_k, b, w))


def _scores_summed(q, k, W_q, W_k, b, w):
    return torch.tanh((q @ W_q)[:, None, :] + k @ W_k + b).sum(-1)


def _scores_query_broadcast(q, k, W_q, W_k, b, w):
    return torch.tanh((q @ W_q)[None, :, :] + k @ W_k + b) @ w


def _scores_no_bias(q, k, W_q, W_k, b, w):
    return torch.tanh((q @ W_q)[:, None, :] + k @ W_k) @ w


def _scores_dot(q, k, W_q, W_k, b, w):
    return (k @ q[:, :, None])[..., 0]


ADDITIVE_MISTAKES = [
    Mistake("no_tanh",
            "there is no tanh: without it the query adds the same number to "
            "every position's score and cannot change the weights; apply "
            "`torch.tanh` to `q + k + b` before the dot product with w",
            impl=_scores_no_tanh),
    Mistake("tanh_outside",
            "you apply tanh after the dot product with w; it belongs inside, "
            "`torch.tanh(q + k + b) @ w`",
            impl=_scores_tanh_outside),
    Mistake("summed_instead_of_w",
            "you sum the tanh features instead of weighting them with w; use "
            "`torch.tanh(...) @ w`",
            impl=_scores_summed),
    Mistake("query_broadcast",
            "the query is added along the wrong axis: (B, d_a) broadcasts "
            "against (B, S, d_a) as if it were (1, B, d_a); give it a source "
            "axis first, `(query @ W_q)[:, None, :]`",
            impl=_scores_query_broadcast),
    Mistake("no_bias",
            "the bias b is missing; add it to the projected keys, "
            "`keys @ W_k + b`",
            impl=_scores_no_bias),
    Mistake("dot_product",
            "you compute dot-product scores `keys @ query`; additive attention "
            "scores with a small network, `tanh(q W_q + h W_k + b) @ w`",
            impl=_scores_dot),
]


def _additive_case(B, S, d_q, d_k, d_a, seed, scale=1.0):
    return (_randn(B, d_q, seed=seed, scale=scale),
            _randn(B, S, d_k, seed=seed + 1, scale=scale),
            _randn(d_q, d_a, seed=seed + 2) * 0.5,
            _randn(d_k, d_a, seed=seed + 3) * 0.5,
            _randn(d_a, seed=seed + 4),
            _randn(d_a, seed=seed + 5))


def _additive_cases() -> list[Case]:
    return [
        Case(_additive_case(3, 3, 4, 4, 5, seed=10),
             "3 sequences of 3 positions, d_q = d_k = 4, d_a = 5"),
        Case(_additive_case(2, 6, 5, 3, 4, seed=20),
             "a (2, 6) batch with d_q = 5, d_k = 3, d_a = 4"),
        Case(_additive_case(1, 1, 3, 2, 2, seed=30), "a batch of one, S = 1"),
        Case(_additive_case(4, 7, 6, 5, 3, seed=40, scale=50.0),
             "large states where tanh saturates"),
    ]


def check_additive_scores(fn: Callable) -> Verdict:
    """Check ``fn(query, keys, W_q, W_k, b, w)`` against
    :func:`helpers.seq2seq.additive_scores` (day 11).

    ``query`` ``(B, d_q)``, ``keys`` ``(B, S, d_k)``, ``W_q`` ``(d_q, d_a)``,
    ``W_k`` ``(d_k, d_a)``, ``b`` and ``w`` ``(d_a,)``; the answer is
    ``(B, S)``. Names ``no_tanh``, ``tanh_outside``, ``summed_instead_of_w``,
    ``query_broadcast``, ``no_bias`` and ``dot_product``.
    """
    return check_function(
        "additive_scores", fn, _additive_cases(), ref.additive_scores,
        ADDITIVE_MISTAKES,
        success="additive_scores is correct: w . tanh(s W_q + h_j W_k + b) "
                "for every source position, also when B = S and when tanh "
                "saturates.")


# --------------------------------------------------------------------------
# day 11: attention weights and context


def _fill(scores, mask, value):
    return scores if mask is None else scores.masked_fill(~mask, value)


def _ctx(weights, values):
    return (weights[:, :, None] * values).sum(1)                       # (B, H)


def _context_over_batch(scores, values, mask=None):
    w = torch.softmax(_fill(scores, mask, float("-inf")), dim=0)
    w = torch.nan_to_num(w, nan=0.0)
    return _ctx(w, values), w


def _context_no_mask(scores, values, mask=None):
    w = torch.softmax(scores, dim=-1)
    return _ctx(w, values), w


def _context_inverted(scores, values, mask=None):
    w = torch.softmax(_fill(scores, None if mask is None else ~mask,
                            float("-inf")), dim=-1)
    return _ctx(w, values), w


def _context_unnormalised(scores, values, mask=None):
    _, w = ref.attention_context(scores, values, mask)
    return _ctx(_fill(scores, mask, 0.0), values), w


def _context_raw_scores(scores, values, mask=None):
    _, w = ref.attention_context(scores, values, mask)
    return _ctx(scores, values), w


def _context_zeroed_after(scores, values, mask=None):
    w = torch.softmax(scores, dim=-1)
    w = _fill(w, mask, 0.0)
    return _ctx(w, values), w


def _context_filled_zero(scores, values, mask=None):
    w = torch.softmax(_fill(scores, mask, 0.0), dim=-1)
    return _ctx(w, values), w


def _context_swapped(scores, values, mask=None):
    context, weights = ref.attention_context(scores, values, mask)
    return weights, context


def _nan_only_in_empty_rows(case, got, expected) -> bool:
    """Right everywhere except NaN in the rows with no real position."""
    mask = case.args[2]
    if mask is None or not isinstance(got, (tuple, list)) or len(got) != 2:
        return False
    empty = ~mask.any(-1)                                              # (B,)
    if not empty.any():
        return False
    for g, e in zip(got, expected):
        if not isinstance(g, torch.Tensor) or g.shape != e.shape:
            return False
        if not torch.isnan(g[empty]).any():
            return False
        if compare(g[~empty], e[~empty]) is not None:
            return False
    return True


CONTEXT_MISTAKES = [
    Mistake("swapped_outputs",
            "you return (weights, context); return `(context, weights)`",
            impl=_context_swapped),
    Mistake("softmax_over_batch",
            "the softmax runs over the batch axis (dim=0); the weights of one "
            "decoder step are a distribution over the source positions, "
            "`dim=-1`",
            impl=_context_over_batch),
    Mistake("padding_attended",
            "padding positions receive attention: fill the scores where the "
            "mask is False with -inf before the softmax, "
            "`scores.masked_fill(~mask, float('-inf'))`",
            impl=_context_no_mask),
    Mistake("mask_inverted",
            "you hide the real tokens and keep the padding; in the course "
            "convention True means 'may attend', so fill where `~mask`",
            impl=_context_inverted),
    Mistake("unnormalised_scores",
            "the context is built from the raw scores, not the softmax "
            "weights; average the encoder outputs with the weights, "
            "`(weights[:, :, None] * encoder_outputs).sum(1)`",
            impl=_context_unnormalised),
    Mistake("unnormalised_scores",
            "the context is built from the raw scores, not the softmax "
            "weights; average the encoder outputs with the weights, "
            "`(weights[:, :, None] * encoder_outputs).sum(1)`",
            impl=_context_raw_scores),
    Mistake("zeroed_after_softmax",
            "you zero the padding after the softmax, so the weights no longer "
            "sum to 1; mask the scores with -inf *before* the softmax",
            impl=_context_zeroed_after),
    Mistake("masked_with_zero",
            "you fill masked scores with 0, and exp(0) = 1 still gives the "
            "padding weight; fill them with -inf (or a very large negative "
            "number)",
            impl=_context_filled_zero),
    Mistake("nan_on_empty_row",
            "a row whose positions are all padding gets NaN (a softmax of "
            "only -inf); the course gives such a row zero weights, e.g. with "
            "`helpers.attention.masked_softmax` or `torch.nan_to_num`",
            when=_nan_only_in_empty_rows),
]


def _context_cases() -> list[Case]:
    lengths = torch.tensor([5, 3, 1])
    return [
        Case((_randn(3, 5, seed=50), _randn(3, 5, 4, seed=51),
              ref.source_mask(lengths, 5)),
             "3 rows of lengths 5, 3, 1 with S = 5, H = 4"),
        Case((_randn(2, 4, seed=52), _randn(2, 4, 3, seed=53), None),
             "mask=None"),
        Case((_randn(1, 6, seed=54), _randn(1, 6, 5, seed=55),
              ref.source_mask(torch.tensor([4]), 6)),
             "a batch of one with 2 padding positions"),
        Case((_randn(4, 7, seed=56, scale=1000.0), _randn(4, 7, 2, seed=57),
              ref.source_mask(torch.tensor([7, 2, 5, 3]), 7)),
             "scores of ±1000 with odd sizes 4, 7, 2"),
        Case((_randn(2, 3, seed=58), _randn(2, 3, 4, seed=59),
              ref.source_mask(torch.tensor([2, 0]), 3)),
             "a row whose positions are all padding"),
    ]


def check_attention_context(fn: Callable) -> Verdict:
    """Check ``fn(scores, encoder_outputs, mask)`` against
    :func:`helpers.seq2seq.attention_context` (day 11).

    ``scores`` ``(B, S)``, ``encoder_outputs`` ``(B, S, H)``, ``mask``
    boolean ``(B, S)`` or ``None``; the answer is ``(context (B, H),
    weights (B, S))``. Names ``swapped_outputs``, ``softmax_over_batch``,
    ``padding_attended``, ``mask_inverted``, ``unnormalised_scores``,
    ``zeroed_after_softmax``, ``masked_with_zero`` and ``nan_on_empty_row``.
    """
    return check_function(
        "attention_context", fn, _context_cases(), ref.attention_context,
        CONTEXT_MISTAKES,
        success="attention_context is correct: a softmax over the source "
                "positions only, exactly 0 on padding, a context averaged "
                "with those weights, and zeros for an all-padding row.")
