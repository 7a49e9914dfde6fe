"""Checks for the transformer's input: tokens plus positions (day 7)."""

from __future__ import annotations

import math

import torch

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
from helpers.inputs import embed_with_positions, mean_pool

# --------------------------------------------------------------------------
# embed_with_positions


def _embed_case(B: int, T: int, V: int, d: int, max_len: int, seed: int,
                label: str, sinusoidal: bool = False) -> Case:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, V, (B, T), generator=g)        # (B, T), no specials
    W = torch.randn(V, d, generator=g) / math.sqrt(d)     # (V, d)
    if sinusoidal:
        from helpers.positions import sinusoidal_encoding

        pe = sinusoidal_encoding(max_len, d)              # (max_len, d)
    else:
        pe = torch.randn(max_len, d, generator=g)         # (max_len, d)
    return Case((ids, W, pe), label)


def _scaled_tokens(ids, W):
    return W[ids] * math.sqrt(W.shape[1])  # (B, T, d)


_EMBED_MISTAKES = [
    Mistake(
        "no_positions",
        "your output has no positions in it: add pe[:T], one row per "
        "position, to the scaled token vectors",
        impl=lambda ids, W, pe: _scaled_tokens(ids, W),
    ),
    Mistake(
        "no_scale",
        "the token vectors are not multiplied by sqrt(d_model): compute "
        "W[ids] * math.sqrt(d_model) before adding the positions",
        impl=lambda ids, W, pe: W[ids] + pe[: ids.shape[1]],
    ),
    Mistake(
        "scale_divides",
        "the token vectors are divided by sqrt(d_model): multiply by it "
        "instead, so the tokens are not drowned by the positions",
        impl=lambda ids, W, pe: W[ids] / math.sqrt(W.shape[1])
        + pe[: ids.shape[1]],
    ),
    Mistake(
        "scaled_positions",
        "the positions are multiplied by sqrt(d_model) too: scale only the "
        "token vectors, W[ids] * sqrt(d_model), then add pe[:T]",
        impl=lambda ids, W, pe: (W[ids] + pe[: ids.shape[1]])
        * math.sqrt(W.shape[1]),
    ),
    Mistake(
        "positions_by_token_id",
        "the positions are looked up by token id (pe[ids]): a token's "
        "position is its place in the sentence, so add pe[:T] (row t for "
        "position t) instead",
        impl=lambda ids, W, pe: _scaled_tokens(ids, W) + pe[ids],
    ),
    Mistake(
        "positions_wrong_axis",
        "the positions follow the batch axis (pe[:B]): every sentence in the "
        "batch gets one position vector for all its tokens; take "
        "pe[:ids.shape[1]], the sequence axis T",
        impl=lambda ids, W, pe: _scaled_tokens(ids, W)
        + pe[: ids.shape[0]][:, None, :],
    ),
]


def _embed_cases() -> list[Case]:
    return [
        _embed_case(1, 4, 10, 6, 12, 1, "a batch of one sentence of 4 tokens"),
        _embed_case(2, 5, 9, 5, 16, 2, "two sentences of 5 tokens, odd "
                                       "d_model = 5"),
        _embed_case(3, 7, 20, 16, 32, 3, "three sentences of 7 tokens with "
                                         "the sinusoidal table, d_model = 16",
                    sinusoidal=True),
        _embed_case(4, 1, 8, 4, 10, 4, "four one-token sentences"),
    ]


_FULL = dict(B=2, T=6, V=5, d=8, max_len=6, seed=5)
_TOO_LONG = dict(B=2, T=9, V=12, d=8, max_len=8, seed=6)


def check_embed_with_positions(fn) -> Verdict:
    """Check ``fn(ids, W, pe) -> W[ids] * sqrt(d_model) + pe[:T]`` (day 7).

    ``ids`` has shape ``(B, T)``, ``W`` ``(V, d_model)``, ``pe``
    ``(max_len, d_model)``; the result has shape ``(B, T, d_model)``, and a
    sequence longer than ``max_len`` must raise ``ValueError``. Names these
    mistakes: positions forgotten, the ``sqrt(d_model)`` scale forgotten,
    divided or applied to the positions too, positions looked up by token
    id, positions taken along the batch axis, no length check, and a length
    check that rejects a sequence exactly as long as the table.
    """
    name = "embed_with_positions"
    full = _embed_case(**_FULL, label="a sequence exactly as long as the "
                                      "table (T = max_len = 6)")
    too_long = _embed_case(**_TOO_LONG, label="a sequence of 9 tokens with a "
                                              "table of 8 positions")
    cases = _embed_cases() + [full]

    def body() -> str:
        for case in cases:
            if case is full and callable(fn):
                try:
                    fn(*[a.clone() for a in case.args])
                except ValueError:
                    fail(f"{name} raised ValueError on {case.label}, but such a "
                         "sequence fits: raise only when T > pe.shape[0], not "
                         "when T == pe.shape[0].", "length_off_by_one")
                except Exception:
                    pass  # call_learner below reports it in one sentence
            got = call_learner(name, fn, case.args, label=case.label)
            expected = embed_with_positions(*case.args)
            if got is None:
                fail(f"{name} returned None on {case.label}; did you forget "
                     "the `return` statement?", "returned_none")
            difference = compare(got, expected)
            if difference is not None:
                diagnose(name, case, got, expected, _EMBED_MISTAKES,
                         difference, 1e-5, 1e-4)
        _expect_length_error(name, fn, too_long)
        return (f"{name} is correct on all {len(cases) + 1} cases, including "
                "odd d_model, a full-length sequence and a sequence too long "
                "for the table.")

    return run_check(name, body)


def _expect_length_error(name, fn, case: Case) -> None:
    ids, _, pe = case.args
    sizes = f"T = {ids.shape[1]} > max_len = {pe.shape[0]}"
    try:
        fn(*[a.clone() for a in case.args])
    except NotImplementedError:
        call_learner(name, fn, case.args, label=case.label)  # reports it
    except ValueError:
        return
    except Exception as exc:
        fail(f"{name} raised {type(exc).__name__} on {case.label} ({sizes}) "
             "only because the shapes stopped matching: compare T with "
             "pe.shape[0] first and raise a ValueError that names both "
             "lengths.", "no_length_check")
    else:
        fail(f"{name} returned a result on {case.label} ({sizes}): compare T "
             "with pe.shape[0] and raise a ValueError, so a too-long input "
             "never passes silently.", "no_length_check")


# --------------------------------------------------------------------------
# mean_pool


def _pool_case(B: int, T: int, d: int, lengths: list, seed: int,
               label: str, scale: float = 1.0) -> Case:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, d, generator=g) * scale       # (B, T, d)
    ids = torch.randint(2, 30, (B, T), generator=g)     # (B, T)
    for b, n in enumerate(lengths):
        ids[b, n:] = 0                                  # padding at the end
    return Case((x, ids), label)


def _non_finite(case, got, expected) -> bool:
    return (isinstance(got, torch.Tensor) and got.is_floating_point()
            and not torch.isfinite(got).all())


def _keep(ids, x):
    return (ids != 0).to(x.dtype).unsqueeze(-1)  # (B, T, 1)


_POOL_MISTAKES = [
    Mistake(
        "nan_on_all_padding",
        "a sentence made only of padding gives NaN (0 / 0): clamp the count "
        "of real tokens with .clamp_min(1) so such a sentence pools to zeros",
        when=_non_finite,
    ),
    Mistake(
        "padding_included",
        "the padding vectors are averaged in: multiply x by the mask "
        "(ids != 0) before summing and divide by the number of real tokens",
        impl=lambda x, ids: x.mean(dim=1),
    ),
    Mistake(
        "divides_by_T",
        "the padding is left out of the sum but you still divide by T: "
        "divide by the number of real tokens, mask.sum(dim=1)",
        impl=lambda x, ids: (x * _keep(ids, x)).sum(dim=1) / x.shape[1],
    ),
    Mistake(
        "sum_not_mean",
        "you return the sum of the real tokens' vectors: divide it by the "
        "number of real tokens to get their mean",
        impl=lambda x, ids: (x * _keep(ids, x)).sum(dim=1),
    ),
    Mistake(
        "pooled_over_batch",
        "you average over the batch axis (dim=0): pool over the tokens of "
        "each sentence, dim=1, to get one vector per sentence",
        impl=lambda x, ids: (x * _keep(ids, x)).sum(dim=0)
        / _keep(ids, x).sum(dim=0).clamp_min(1.0),
    ),
]


def check_mean_pool(fn) -> Verdict:
    """Check ``fn(x, ids) -> (B, d)``, the mean of the real tokens (day 7).

    ``x`` has shape ``(B, T, d)`` and ``ids`` ``(B, T)`` with 0 for
    ``<pad>``; sentence ``b`` pools to the mean of ``x[b, t]`` over its
    non-padding positions, and an all-padding sentence to zeros. Names these
    mistakes: padding averaged in, division by T, a sum instead of a mean,
    pooling over the batch axis, and NaN for an all-padding sentence.
    """
    cases = [
        _pool_case(2, 5, 4, [5, 3], 21, "two sentences, the second padded"),
        _pool_case(1, 6, 3, [6], 22, "a batch of one sentence without "
                                     "padding"),
        _pool_case(3, 7, 5, [2, 7, 4], 23, "three sentences of odd lengths, "
                                           "d = 5"),
        _pool_case(2, 4, 6, [4, 1], 24, "vectors with values near 1000",
                   scale=1000.0),
        _pool_case(3, 4, 2, [3, 0, 2], 25, "a sentence made only of padding"),
    ]
    return check_function("mean_pool", fn, cases, mean_pool, _POOL_MISTAKES)
