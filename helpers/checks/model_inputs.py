"""Checks for what goes into a Transformer besides the tokens: positions
(day 20) and the decoder's masks, inputs and labels (day 21).

Day 20:

* :func:`check_add_positions` -- ``x + table[offset:offset + T]``
* :func:`check_learned_positions_forward` -- a learned table that refuses
  positions it never trained
* :func:`check_position_similarity` -- cosine similarity of position vectors

Day 21:

* :func:`check_make_decoder_masks` -- causal and padding masks combined in the
  course convention (boolean, ``True`` = may attend)
* :func:`check_shift_targets` -- decoder input and labels cut from one sequence
* :func:`check_logits_to_next_token` -- the next token of greedy decoding

Each check names the classic mistakes of its topic; a learner's exception,
stub, wrong shape or ``None`` becomes one sentence.
"""

from __future__ import annotations

from typing import Callable

import torch

from helpers.attention import causal_mask
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
from helpers.position_experiments import (
    add_positions,
    learned_positions_forward,
    position_similarity,
)
from helpers.positions import sinusoidal_encoding

__all__ = [
    "check_add_positions",
    "check_learned_positions_forward",
    "check_logits_to_next_token",
    "check_make_decoder_masks",
    "check_position_similarity",
    "check_shift_targets",
]

ATOL, RTOL = 1e-5, 1e-4


def _randn(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g)


def _is_size_mismatch(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "must match the size" in text or "size of tensor" in text)


def _call(name: str, fn: Callable, case: Case, on_error=None):
    """Call the learner's ``fn`` on ``case`` without the machinery's copies
    (so that changes to the inputs stay visible); ``on_error(exc)`` may stop
    the check with a named mistake before the exception is reported."""
    if on_error is not None and callable(fn):
        try:
            return fn(*[_copy(a) for a in case.args],
                      **{k: _copy(v) for k, v in case.kwargs.items()})
        except NotImplementedError:
            pass  # reported below
        except Exception as exc:
            on_error(exc)
    return call_learner(name, fn, case.args, case.kwargs, case.label)


def _copy(value):
    return value.clone() if isinstance(value, torch.Tensor) else value


def _compare_case(name: str, case: Case, got, reference: Callable,
                  mistakes, atol: float = ATOL, rtol: float = RTOL):
    expected = reference(*[_copy(a) for a in case.args],
                         **{k: _copy(v) for k, v in case.kwargs.items()})
    if got is None:
        fail(f"{name} returned None on {case.label}; did you forget the "
             "`return` statement?", "returned_none")
    difference = compare(got, expected, atol, rtol)
    if difference is not None:
        diagnose(name, case, got, expected, mistakes, difference, atol, rtol)
    return expected


# --------------------------------------------------------------------------
# day 20: add_positions


def _positions_case(B: int, T: int, d: int, max_len: int, offset: int, seed: int,
                    label: str, sinusoidal: bool = False) -> Case:
    x = _randn(B, T, d, seed=seed)                              # (B, T, d)
    if sinusoidal:
        table = sinusoidal_encoding(max_len, d)                 # (max_len, d)
    else:
        table = _randn(max_len, d, seed=seed + 100)             # (max_len, d)
    kwargs = {"offset": offset} if offset else {}
    return Case((x, table), label, kwargs)


def _by_batch(x, table, offset=0):
    B = x.shape[0]
    return x + table[offset:offset + B][:, None, :]             # (B, 1, d) per row


ADD_POSITIONS_MISTAKES = [
    Mistake("batch_axis",
            "the positions follow the batch axis: sequence b gets row b for "
            "all its tokens; slice along the sequence axis, "
            "table[offset:offset + T] with T = x.shape[1]",
            impl=_by_batch),
    Mistake("offset_ignored",
            "you always add rows 0..T-1, so a token fed at step `offset` gets "
            "the vector of position 0; slice table[offset:offset + T]",
            impl=lambda x, table, offset=0: x + table[:x.shape[1]]),
    Mistake("slice_end_without_offset",
            "the slice table[offset:T] ends at T instead of offset + T, so it "
            "holds the wrong number of rows; use table[offset:offset + T]",
            impl=lambda x, table, offset=0: x + table[offset:x.shape[1]]),
    Mistake("sequence_reversed",
            "the positions run backwards along the sequence; the first token "
            "gets row `offset`, the next row `offset + 1`, and so on",
            impl=lambda x, table, offset=0: x + table[offset:offset + x.shape[1]]
            .flip(0)),
]


def _add_positions_cases() -> list[Case]:
    return [
        _positions_case(2, 5, 8, 16, 0, 1, "two sequences of 5 tokens (B=2, T=5)"),
        _positions_case(1, 3, 6, 10, 0, 2, "a batch of one sequence of 3 tokens"),
        _positions_case(3, 6, 5, 6, 0, 3, "three sequences exactly as long as "
                                          "the table, odd d_model = 5"),
        _positions_case(4, 1, 8, 12, 4, 4, "one new token at decoding step 4 "
                                           "(offset=4)"),
        _positions_case(2, 4, 16, 32, 9, 5, "the sinusoidal table, T=4 from "
                                            "offset=9", sinusoidal=True),
        _positions_case(5, 2, 4, 8, 3, 6, "five sequences of 2 tokens from "
                                          "offset=3"),
    ]


def check_add_positions(fn: Callable) -> Verdict:
    """Check ``fn(x, table, offset=0) -> x + table[offset:offset + T]`` (day 20).

    ``x`` is ``(B, T, d_model)`` and ``table`` ``(max_len, d_model)``; the
    result has the shape of ``x``, and ``x`` itself must not change. Cases:
    two sequences, a batch of one, a table exactly as long as the sequence,
    one decoding step at ``offset=4``, the sinusoidal table, five short
    sequences. Names the mistakes ``not_sliced`` (the whole table added),
    ``batch_axis``, ``offset_ignored``, ``slice_end_without_offset``,
    ``sequence_reversed`` and ``in_place`` (``x`` modified).
    """
    name = "add_positions"
    cases = _add_positions_cases()

    def body() -> str:
        if not callable(fn):
            call_learner(name, fn)  # reports what was passed instead
        for case in cases:
            x, table = case.args
            T, offset = x.shape[1], case.kwargs.get("offset", 0)

            def on_error(exc, T=T, offset=offset, table=table, case=case):
                if _is_size_mismatch(exc) and offset == 0 and table.shape[0] != T:
                    fail(f"{name}: the whole table of {table.shape[0]} rows is "
                         f"added to a sequence of {T} tokens (seen on "
                         f"{case.label}); slice it to the sequence length first, "
                         "table[offset:offset + T].", "not_sliced")
                if _is_size_mismatch(exc) and offset > 0:
                    fail(f"{name}: the slice of the table has the wrong number "
                         f"of rows at offset={offset} (seen on {case.label}); "
                         "it must run from offset to offset + T, "
                         "table[offset:offset + T].", "slice_end_without_offset")

            mine = x.clone()
            got = _call(name, lambda: fn(mine, table.clone(), **case.kwargs),
                        Case((), case.label), on_error)
            if not torch.equal(mine, x):
                fail(f"{name} changed its input x in place (`x += ...` or "
                     f"`x.add_(...)`, seen on {case.label}); return a new "
                     "tensor, `x + table[...]`, so the caller's embeddings "
                     "(and autograd) stay intact.", "in_place")
            _compare_case(name, case, got, add_positions, ADD_POSITIONS_MISTAKES)
        return (f"{name} is correct on all {len(cases)} cases: one row per "
                "position, the same rows for every sequence of the batch, "
                "offsets respected and x left unchanged.")

    return run_check(name, body)


# --------------------------------------------------------------------------
# day 20: learned_positions_forward


def _wrapped(x, weight):
    T = x.shape[1]
    return x + weight[torch.arange(T) % weight.shape[0]]


def _clamped(x, weight):
    T = x.shape[1]
    return x + weight[torch.arange(T).clamp(max=weight.shape[0] - 1)]


def _zero_padded(x, weight):
    T, max_len = x.shape[1], weight.shape[0]
    extra = torch.zeros(max(T - max_len, 0), weight.shape[1], dtype=weight.dtype)
    return x + torch.cat([weight, extra])[:T]


LEARNED_MISTAKES = [
    Mistake("batch_axis",
            "the positions follow the batch axis: sequence b gets row b for "
            "all its tokens; add weight[:T] with T = x.shape[1]",
            impl=lambda x, w: x + w[:x.shape[0]][:, None, :]),
]

_TOO_LONG_MISTAKES = [
    ("wrap_around", _wrapped,
     "position max_len silently wraps around to row 0 (a modulo), so a "
     "position the model never trained borrows another one's vector"),
    ("clamped", _clamped,
     "every position past the table silently reuses the last row (a clamp), "
     "so the model cannot tell those positions apart"),
    ("zero_padded", _zero_padded,
     "positions past the table silently get a zero vector, i.e. no position "
     "at all"),
]


def check_learned_positions_forward(fn: Callable) -> Verdict:
    """Check ``fn(x, weight) -> x + weight[:T]``, with a ``ValueError`` when
    ``T > max_len`` (day 20).

    ``x`` is ``(B, T, d_model)``, ``weight`` ``(max_len, d_model)``. Cases:
    two sequences, a batch of one with odd ``d_model``, a sequence exactly as
    long as the table (must not raise), then sequences 1 and 7 positions too
    long (must raise ``ValueError``). Names ``batch_axis``, ``not_sliced``,
    ``full_length_rejected``, and for a too-long input ``wrap_around``,
    ``clamped``, ``zero_padded``, ``no_error`` and ``unclear_error`` (an
    ``IndexError`` or size mismatch instead of a ``ValueError``).
    """
    name = "learned_positions_forward"
    cases = [
        Case((_randn(2, 5, 8, seed=11), _randn(12, 8, seed=12)),
             "two sequences of 5 tokens, a table of 12 positions"),
        Case((_randn(1, 4, 7, seed=13), _randn(9, 7, seed=14)),
             "a batch of one, odd d_model = 7"),
        Case((_randn(3, 6, 4, seed=15), _randn(6, 4, seed=16)),
             "a sequence exactly as long as the table (T = max_len = 6)"),
    ]
    too_long = [
        Case((_randn(2, 7, 4, seed=17), _randn(6, 4, seed=18)),
             "a sequence of 7 tokens with a table of 6 positions"),
        Case((_randn(1, 13, 4, seed=19), _randn(6, 4, seed=20)),
             "a sequence of 13 tokens with a table of 6 positions"),
    ]

    def body() -> str:
        for case in cases:
            T, max_len = case.args[0].shape[1], case.args[1].shape[0]

            def on_error(exc, T=T, max_len=max_len, case=case):
                if isinstance(exc, ValueError) and T == max_len:
                    fail(f"{name} raised ValueError on {case.label}, but such a "
                         "sequence fits: raise only when T > max_len, not when "
                         "T == max_len.", "full_length_rejected")
                if _is_size_mismatch(exc) and T != max_len:
                    fail(f"{name}: the whole table of {max_len} rows is added "
                         f"to a sequence of {T} tokens (seen on {case.label}); "
                         "slice it first, weight[:T] with T = x.shape[1].",
                         "not_sliced")

            got = _call(name, fn, case, on_error)
            _compare_case(name, case, got, learned_positions_forward,
                          LEARNED_MISTAKES)
        for case in too_long:
            _expect_too_long(name, fn, case)
        return (f"{name} is correct: it adds weight[:T] and stops with a clear "
                "ValueError when the sequence is longer than the table.")

    return run_check(name, body)


def _expect_too_long(name: str, fn: Callable, case: Case) -> None:
    x, weight = case.args
    sizes = f"T = {x.shape[1]} > max_len = {weight.shape[0]}"
    try:
        got = fn(x.clone(), weight.clone())
    except NotImplementedError:
        call_learner(name, fn, case.args, label=case.label)  # reports it
        return
    except ValueError:
        return
    except Exception as exc:
        fail(f"{name} stopped on {case.label} ({sizes}) only with a "
             f"{type(exc).__name__} from inside PyTorch; compare T with "
             "max_len first and raise a ValueError that names both, so the "
             "user learns what to change.", "unclear_error")
    for mistake, impl, text in _TOO_LONG_MISTAKES:
        if compare(got, impl(x, weight)) is None:
            fail(f"{name}: {text} (seen on {case.label}, {sizes}); raise a "
                 "ValueError instead.", mistake)
    fail(f"{name} returned a result on {case.label} ({sizes}); those "
         "positions have no trained vector, so raise a ValueError that names "
         "T and max_len.", "no_error")


# --------------------------------------------------------------------------
# day 20: position_similarity


def _unit_columns(w):
    return w / w.norm(dim=0, keepdim=True)


POSITION_SIMILARITY_MISTAKES = [
    Mistake("not_normalised",
            "you return raw dot products w_i . w_j; divide each row by its "
            "length first, so the diagonal is 1 and long vectors do not "
            "dominate",
            impl=lambda w: w @ w.T),
    Mistake("one_norm",
            "you divide by only one of the two lengths; cosine similarity "
            "divides w_i . w_j by |w_i| |w_j|",
            impl=lambda w: (w @ w.T) / w.norm(dim=-1, keepdim=True)),
    Mistake("one_norm",
            "you divide by only one of the two lengths; cosine similarity "
            "divides w_i . w_j by |w_i| |w_j|",
            impl=lambda w: (w @ w.T) / w.norm(dim=-1)),
    Mistake("normalised_columns",
            "you normalise the columns (dim=0) instead of the rows; each "
            "position is a row, so take w.norm(dim=-1, keepdim=True)",
            impl=lambda w: _unit_columns(w) @ _unit_columns(w).T),
    Mistake("features_gram",
            "your matrix compares feature columns with each other "
            "(d_model x d_model, w.T @ w); compare positions, the rows: "
            "unit @ unit.T",
            when=lambda case, got, expected: isinstance(got, torch.Tensor)
            and tuple(got.shape) == (case.args[0].shape[1],) * 2),
    Mistake("nan_on_zero_row",
            "a position vector of all zeros gives 0 / 0 = NaN; clamp the "
            "lengths with .clamp_min(1e-12) (or use F.normalize) so that row "
            "becomes zeros",
            when=lambda case, got, expected: isinstance(got, torch.Tensor)
            and got.is_floating_point() and bool(torch.isnan(got).any())),
]


def check_position_similarity(fn: Callable) -> Verdict:
    """Check ``fn(weight) -> (max_len, max_len)`` cosine similarities of the
    rows of ``weight`` ``(max_len, d_model)`` (day 20).

    Cases: random tables of several shapes, a table with entries near 1000,
    a table of two positions, and one with an all-zero row (its similarities
    must be 0, not NaN). Names ``not_normalised``, ``one_norm``,
    ``normalised_columns``, ``features_gram`` and ``nan_on_zero_row``.
    """
    zero_row = _randn(5, 3, seed=25)
    zero_row[2] = 0.0
    shifted = _randn(4, 6, seed=24) + 2.0
    cases = [
        Case((_randn(6, 8, seed=21),), "a table of 6 positions, d_model = 8"),
        Case((_randn(9, 5, seed=22, scale=1000.0),), "entries near 1000"),
        Case((_randn(2, 7, seed=23),), "a table of two positions"),
        Case((shifted,), "a table whose columns do not have mean 0"),
        Case((zero_row,), "a table with an all-zero row"),
    ]
    return check_function(
        "position_similarity", fn, cases, position_similarity,
        POSITION_SIMILARITY_MISTAKES,
        success="position_similarity is correct: cosine similarities between "
                "rows, 1 on the diagonal, finite even for an all-zero row.")


# --------------------------------------------------------------------------
# day 21: make_decoder_masks


def _keys(ids, pad_id):
    return (ids != pad_id)[:, None, None, :]                    # (B, 1, 1, T)


def _reference_decoder_masks(tgt_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """The decoder self-attention mask ``(B, 1, T, T)``: causal AND real keys."""
    T = tgt_ids.shape[1]
    return causal_mask(T) & _keys(tgt_ids, pad_id)              # (B, 1, T, T)


def _with_causal(ids, pad_id, diagonal):
    T = ids.shape[1]
    tri = torch.ones(T, T, dtype=torch.bool).tril(diagonal)     # (T, T)
    return tri & _keys(ids, pad_id)


def _queries(ids, pad_id):
    return (ids != pad_id)[:, None, :, None]                    # (B, 1, T, 1)


def _broadcast_equal(got, candidate, expected) -> bool:
    if not isinstance(got, torch.Tensor):
        return False
    try:
        full = torch.broadcast_to(got, expected.shape)
    except RuntimeError:
        return False
    return torch.equal(full.bool(), candidate.expand(expected.shape))


def _is_additive(case, got, expected) -> bool:
    return (isinstance(got, torch.Tensor) and got.is_floating_point()
            and tuple(got.shape) == tuple(expected.shape)
            and bool(((got == 0) | torch.isneginf(got) | (got < -1e8)).all())
            and torch.equal(got == 0, expected))


DECODER_MASK_MISTAKES = [
    Mistake("inverted",
            "your mask is inverted: in the course convention True means "
            "\"this query may attend to this key\", so real, earlier keys are "
            "True and padding and future keys are False",
            impl=lambda ids, pad_id: ~_reference_decoder_masks(ids, pad_id)),
    Mistake("additive_float_mask",
            "you return a float mask of 0 and -inf (PyTorch's additive form); "
            "the course mask is boolean with True = may attend, e.g. "
            "causal & keep",
            when=_is_additive),
    Mistake("causal_excludes_diagonal",
            "your causal mask is shifted by one: a position cannot see itself; "
            "keep the diagonal with .tril() (diagonal=0), not .tril(-1)",
            impl=lambda ids, pad_id: _with_causal(ids, pad_id, -1)),
    Mistake("causal_sees_next",
            "your causal mask is shifted by one: position t may see position "
            "t + 1, the token it must predict; use .tril() (diagonal=0)",
            impl=lambda ids, pad_id: _with_causal(ids, pad_id, 1)),
    Mistake("anti_causal",
            "your mask lets each position see the future and hides the past "
            "(.triu instead of .tril); row t must be True at columns 0..t",
            impl=lambda ids, pad_id: torch.ones(ids.shape[1], ids.shape[1],
                                                dtype=torch.bool).triu()
            & _keys(ids, pad_id)),
    Mistake("padding_on_queries",
            "the padding is applied on the query axis (rows) instead of the "
            "key axis (columns), so real tokens still attend to padding; "
            "index it as (ids != pad_id)[:, None, None, :]",
            impl=lambda ids, pad_id: causal_mask(ids.shape[1])
            & _queries(ids, pad_id)),
    Mistake("padding_on_both_axes",
            "you hide padding on both axes, so padded rows see no key at all; "
            "the course hides padded keys only ((ids != pad_id)[:, None, None, "
            ":]) and lets the loss ignore the padded rows",
            impl=lambda ids, pad_id: _reference_decoder_masks(ids, pad_id)
            & _queries(ids, pad_id)),
    Mistake("pad_id_ignored",
            "you compare with 0 instead of pad_id; use ids != pad_id so that "
            "any padding token works",
            impl=lambda ids, pad_id: _reference_decoder_masks(ids, 0)),
    Mistake("no_padding",
            "your mask is only causal: padded keys are still visible; AND it "
            "with the key padding mask (ids != pad_id)[:, None, None, :]",
            when=lambda case, got, expected: _broadcast_equal(
                got, causal_mask(case.args[0].shape[1]), expected)),
    Mistake("no_causal",
            "your mask only hides padding: every position can see the future; "
            "AND it with the causal mask torch.ones(T, T).tril().bool()",
            when=lambda case, got, expected: _broadcast_equal(
                got, _keys(*case.args), expected)),
    Mistake("no_heads_axis",
            "the values are right but the mask is (B, T, T); return "
            "(B, 1, T, T) so that it broadcasts over the heads",
            when=lambda case, got, expected: isinstance(got, torch.Tensor)
            and got.dim() == 3 and torch.equal(got.bool(), expected[:, 0])),
]


def _mask_case(rows, pad_id, label) -> Case:
    return Case((torch.tensor(rows), pad_id), label)


def check_make_decoder_masks(fn: Callable) -> Verdict:
    """Check ``fn(tgt_ids, pad_id) -> (B, 1, T, T)`` boolean mask (day 21).

    ``tgt_ids`` is ``(B, T)`` long; entry ``[b, 0, i, j]`` must be True
    exactly when ``j <= i`` and ``tgt_ids[b, j] != pad_id``. Cases: three
    targets with no padding, padding at the end and padding at the front
    (as batched generation uses), a batch of one without padding, targets
    of one token, three targets of 7 with different amounts of padding, and
    a padding id of 12. Names ``inverted``, ``additive_float_mask``,
    ``causal_excludes_diagonal``, ``causal_sees_next``, ``anti_causal``,
    ``padding_on_queries``, ``padding_on_both_axes``, ``pad_id_ignored``,
    ``no_padding``, ``no_causal``, ``no_heads_axis`` and ``not_boolean``.
    """
    name = "make_decoder_masks"
    cases = [
        _mask_case([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0], [0, 0, 1, 8, 2]], 0,
                   "three targets of 5 tokens: no pads, 2 pads at the end, 2 "
                   "pads at the front"),
        _mask_case([[1, 4, 9, 3]], 0, "a batch of one without padding"),
        _mask_case([[1], [1]], 0, "two targets of a single token"),
        _mask_case([[1, 3, 4, 5, 6, 7, 2], [1, 3, 2, 0, 0, 0, 0],
                    [1, 9, 9, 9, 2, 0, 0]], 0,
                   "three targets of 7 tokens with 0, 4 and 2 pads"),
        _mask_case([[1, 5, 2, 12, 12], [1, 5, 6, 7, 2]], 12,
                   "padding id 12 instead of 0"),
    ]

    def body() -> str:
        for case in cases:
            got = call_learner(name, fn, case.args, label=case.label)
            _compare_case(name, case, got, _reference_decoder_masks,
                          DECODER_MASK_MISTAKES)
            if not isinstance(got, torch.Tensor) or got.dtype != torch.bool:
                fail(f"{name} returns a {got.dtype} mask with the right values "
                     f"(seen on {case.label}); course masks are boolean, so "
                     "build it from comparisons and & (or call .bool()).",
                     "not_boolean")
        return (f"{name} is correct on all {len(cases)} cases: causal with the "
                "diagonal, padded keys hidden, boolean (B, 1, T, T).")

    return run_check(name, body)


# --------------------------------------------------------------------------
# day 21: shift_targets


def _reference_shift(seq: torch.Tensor):
    """Decoder input and labels from ``<bos> y_1 .. y_n <eos>``: cut once at
    each end."""
    return seq[:, :-1], seq[:, 1:]                              # (B, T-1) each


SHIFT_MISTAKES = [
    Mistake("not_shifted",
            "input and labels are the same sequence, so the model is asked to "
            "copy the token it already sees; the input drops the last token "
            "(seq[:, :-1]) and the labels drop the first (seq[:, 1:])",
            impl=lambda s: (s, s)),
    Mistake("swapped",
            "input and labels are swapped: the decoder reads seq[:, :-1] "
            "(starting with <bos>) and predicts seq[:, 1:]",
            impl=lambda s: (s[:, 1:], s[:, :-1])),
    Mistake("batch_axis",
            "you cut along the batch axis (seq[:-1]); the time axis is 1, so "
            "cut seq[:, :-1] and seq[:, 1:]",
            impl=lambda s: (s[:-1], s[1:])),
    Mistake("labels_not_shifted",
            "your labels are the input itself (seq[:, :-1]): row t would be "
            "asked for the token it reads; the labels are seq[:, 1:]",
            impl=lambda s: (s[:, :-1], s[:, :-1])),
    Mistake("input_shifted_too",
            "your input is seq[:, 1:], the labels themselves, so the decoder "
            "sees each answer; the input is seq[:, :-1]",
            impl=lambda s: (s[:, 1:], s[:, 1:])),
    Mistake("bos_twice",
            "you prepend <bos> to a sequence that already starts with it (day "
            "10's shift_right applied to the full sequence); here only cut: "
            "input seq[:, :-1], labels seq[:, 1:]",
            impl=lambda s: (torch.cat([s[:, :1], s[:, :-1]], dim=1), s)),
]


def check_shift_targets(fn: Callable) -> Verdict:
    """Check ``fn(seq) -> (decoder_input, labels)`` (day 21).

    ``seq`` ``(B, T)`` holds ``<bos> y_1 .. y_n <eos>`` (then padding); the
    answer is ``(seq[:, :-1], seq[:, 1:])``, both ``(B, T - 1)``. Cases: two
    padded targets, a batch of one, three targets of odd length, and
    ``<bos> <eos>`` alone. Names ``not_shifted``, ``swapped``,
    ``batch_axis``, ``labels_not_shifted``, ``input_shifted_too`` and
    ``bos_twice``.
    """
    cases = [
        Case((torch.tensor([[1, 7, 8, 9, 2], [1, 5, 2, 0, 0]]),),
             "two targets of 5 tokens, one padded"),
        Case((torch.tensor([[1, 4, 6, 2]]),), "a batch of one"),
        Case((torch.tensor([[1, 3, 4, 5, 6, 7, 2], [1, 3, 2, 0, 0, 0, 0],
                            [1, 9, 8, 7, 6, 2, 0]]),),
             "three targets of 7 tokens"),
        Case((torch.tensor([[1, 2], [1, 2]]),), "targets of just <bos> <eos>"),
    ]
    return check_function(
        "shift_targets", fn, cases, _reference_shift, SHIFT_MISTAKES,
        success="shift_targets is correct: the decoder reads seq[:, :-1] and "
                "row t is graded on the next token, seq[:, t + 1].")


# --------------------------------------------------------------------------
# day 21: logits_to_next_token


def _reference_next_token(logits: torch.Tensor) -> torch.Tensor:
    """Greedy choice from the last row: ``(B, T, V) -> (B,)`` token ids."""
    return logits[:, -1].argmax(dim=-1)                         # (B,)


NEXT_TOKEN_MISTAKES = [
    Mistake("second_to_last",
            "you read row T - 2; row t already scores the token *after* "
            "position t, so the next token comes from the last row, "
            "logits[:, -1]",
            impl=lambda z: z[:, -2].argmax(dim=-1)),
    Mistake("first_position",
            "you read row 0, which predicts the token after <bos>; the next "
            "token comes from the last row, logits[:, -1]",
            impl=lambda z: z[:, 0].argmax(dim=-1)),
    Mistake("all_positions",
            "you return a token for every position (B, T); keep only the "
            "last row, logits[:, -1].argmax(-1), shape (B,)",
            impl=lambda z: z.argmax(dim=-1)),
    Mistake("argmax_over_time",
            "the argmax runs over the time axis (dim=1); take the last row "
            "first and the argmax over the vocabulary, dim=-1",
            impl=lambda z: z.argmax(dim=1)),
    Mistake("argmax_over_time",
            "the argmax runs over the time axis; take the last row first and "
            "the argmax over the vocabulary, logits[:, -1].argmax(-1)",
            impl=lambda z: z[..., -1].argmax(dim=-1)),
    Mistake("returned_scores",
            "you return the best score instead of its index; argmax gives the "
            "token id, max().values the logit",
            impl=lambda z: z[:, -1].max(dim=-1).values),
    Mistake("returned_probabilities",
            "you return probabilities over the vocabulary; greedy decoding "
            "needs the index of the largest one, .argmax(dim=-1)",
            impl=lambda z: torch.softmax(z[:, -1], dim=-1)),
]


def _logits_case(B, T, V, seed, label, scale=3.0) -> Case:
    return Case((_randn(B, T, V, seed=seed, scale=scale),), label)


def check_logits_to_next_token(fn: Callable) -> Verdict:
    """Check ``fn(logits) -> (B,)`` token ids, the greedy next token (day 21).

    ``logits`` ``(B, T, V)`` come from a decoder run on a prefix of ``T``
    tokens; the answer is ``logits[:, -1].argmax(-1)``. Cases: a (2, 5, 7)
    batch, a batch of one, a prefix of one token, logits near ±1000 and odd
    sizes. Names ``second_to_last``, ``first_position``, ``all_positions``,
    ``argmax_over_time``, ``returned_scores`` and ``returned_probabilities``.
    """
    cases = [
        _logits_case(2, 5, 7, 31, "two prefixes of 5 tokens over 7 words"),
        _logits_case(1, 4, 11, 32, "a batch of one"),
        _logits_case(3, 1, 6, 33, "prefixes of a single token (<bos> only)"),
        _logits_case(2, 3, 5, 34, "logits near ±1000", scale=1000.0),
        _logits_case(5, 6, 13, 35, "odd sizes (5, 6, 13)"),
    ]

    def body() -> str:
        for case in cases:
            got = call_learner("logits_to_next_token", fn, case.args,
                               label=case.label)
            _compare_case("logits_to_next_token", case, got, _reference_next_token,
                          NEXT_TOKEN_MISTAKES)
            if not isinstance(got, torch.Tensor) or got.is_floating_point():
                fail("logits_to_next_token returns floats with the right values "
                     f"(seen on {case.label}); token ids are integers, so "
                     "return the argmax as it comes (torch.long).", "not_integer")
        return (f"logits_to_next_token is correct on all {len(cases)} cases: "
                "the argmax of the last row, one token id per sequence.")

    return run_check("logits_to_next_token", body)
