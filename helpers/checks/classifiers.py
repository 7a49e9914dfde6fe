"""Checks for day 14: padding masks for PyTorch, masked pooling and the
forward pass of a self-attention classifier.

* :func:`check_key_padding_from_lengths` -- PyTorch's ``key_padding_mask``
  built from sequence lengths (``True`` at padding)
* :func:`check_masked_mean_pool` -- the mean over real tokens only
* :func:`check_classifier_forward` -- the forward pass of
  :class:`~helpers.classifiers.SelfAttentionClassifier`, written with its
  submodules

Each check names the classic mistakes of the topic: the course mask handed
to ``nn.MultiheadAttention`` (whose convention is the opposite), padding
averaged into the pool, division by ``T``, pooling over the batch axis, NaN
for an empty sequence, pooling before attention, and more.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch
from torch import nn

from helpers import classifiers as ref
from helpers.attention import padding_mask
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
    "check_classifier_forward",
    "check_key_padding_from_lengths",
    "check_masked_mean_pool",
]

ATOL, RTOL = 1e-5, 1e-4


def _randn(*shape, seed: int, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * scale


def _keep(lengths: torch.Tensor, T: int) -> torch.Tensor:
    return torch.arange(T)[None, :] < lengths[:, None]          # (B, T)


# --------------------------------------------------------------------------
# key_padding_mask from lengths


def _key_padding_cases() -> list[Case]:
    return [
        Case((torch.tensor([3, 5]), 5), "lengths 3 and 5 with T = 5"),
        Case((torch.tensor([4]), 4), "a batch of one without padding"),
        Case((torch.tensor([1, 6, 3]), 7),
             "odd sizes, every row padded: lengths 1, 6 and 3 with T = 7"),
        Case((torch.tensor([2, 0]), 3), "an empty sequence (lengths 2 and 0, T = 3)"),
    ]


KEY_PADDING_MISTAKES = [
    Mistake("course_mask",
            "you returned the course mask, (B, 1, 1, T) and True at real tokens; "
            "nn.MultiheadAttention wants key_padding_mask of shape (B, T) with "
            "True at padding, the keys to ignore: `positions >= lengths[:, None]`",
            impl=lambda lengths, T: padding_mask(lengths, T)),
    Mistake("inverted_convention",
            "your mask is True at real tokens, the course convention; PyTorch's "
            "key_padding_mask is True at padding (True = ignore this key), so "
            "compare with `>=` instead of `<`",
            impl=lambda lengths, T: _keep(lengths, T)),
    Mistake("extra_axes",
            "your mask has shape (B, 1, 1, T); key_padding_mask has one row per "
            "sequence and one column per position, shape (B, T)",
            impl=lambda lengths, T: ~padding_mask(lengths, T)),
    Mistake("off_by_one",
            "your mask is off by one: position t is padding when t >= length "
            "(positions count from 0, so a sequence of length 3 fills 0, 1, 2)",
            impl=lambda lengths, T: torch.arange(T)[None, :] > lengths[:, None]),
    Mistake("off_by_one",
            "your mask is off by one: position t is padding when t >= length "
            "(positions count from 0, so a sequence of length 3 fills 0, 1, 2)",
            impl=lambda lengths, T: torch.arange(T)[None, :] >= lengths[:, None] - 1),
    Mistake("longest_not_T",
            "your mask has as many columns as the longest sequence, but the "
            "batch is padded to T columns; build it with torch.arange(T)",
            impl=lambda lengths, T: ~_keep(lengths, int(lengths.max()))),
]


def check_key_padding_from_lengths(fn: Callable) -> Verdict:
    """Check ``fn(lengths, T)``: PyTorch's ``key_padding_mask`` (day 14).

    ``lengths`` is a ``(B,)`` int64 tensor, ``T`` the padded length; the
    answer is a boolean ``(B, T)`` tensor, ``True`` at padding. Cases: two
    lengths, a batch of one without padding, odd sizes with every row
    padded, an empty sequence. Names ``course_mask``,
    ``inverted_convention``, ``extra_axes``, ``off_by_one``,
    ``longest_not_T`` and ``not_boolean`` (0/1 numbers instead of booleans,
    which ``nn.MultiheadAttention`` would add to the scores).
    """
    name = "key_padding_from_lengths"
    cases = _key_padding_cases()

    def body() -> str:
        for case in cases:
            got = call_learner(name, fn, case.args, label=case.label)
            expected = ref.key_padding_from_lengths(*case.args)
            if got is None:
                fail(f"{name} returned None on {case.label}; did you forget the "
                     "`return` statement?", "returned_none")
            difference = compare(got, expected, ATOL, RTOL)
            if difference is not None:
                diagnose(name, case, got, expected, KEY_PADDING_MISTAKES,
                         difference, ATOL, RTOL)
            if not isinstance(got, torch.Tensor):
                fail(f"{name} returns a {type(got).__name__}; return a torch "
                     "tensor, which is what nn.MultiheadAttention accepts.", "type")
            if got.dtype != torch.bool:
                fail(f"{name} returns {got.dtype} numbers, not booleans (seen on "
                     f"{case.label}); nn.MultiheadAttention adds a float "
                     "key_padding_mask to the scores (1.0 is a nudge, not a "
                     "block) and rejects integers, so return the comparison "
                     "itself, a bool tensor.", "not_boolean")
        return (f"{name} is correct on all {len(cases)} cases: True exactly at "
                "the padding, shape (B, T), dtype bool, ready for "
                "nn.MultiheadAttention.")

    return run_check(name, body)


# --------------------------------------------------------------------------
# masked mean pooling

_EMPTY = "a row that is all padding (lengths 3 and 0)"


def _padded(B: int, T: int, C: int, lengths, seed: int) -> tuple:
    """Inputs whose padded positions hold large values, so that padding
    that leaks into the mean is obvious."""
    lengths = torch.tensor(lengths)
    keep = _keep(lengths, T)                                    # (B, T)
    x = _randn(B, T, C, seed=seed)
    x = torch.where(keep[..., None], x, torch.full_like(x, 50.0))
    return x, keep


def _pool_cases() -> list[Case]:
    return [
        Case(_padded(2, 5, 3, [5, 2], seed=1),
             "a (2, 5, 3) batch with lengths 5 and 2"),
        Case(_padded(1, 4, 2, [4], seed=2), "a batch of one without padding"),
        Case(_padded(3, 7, 5, [7, 1, 4], seed=3),
             "odd sizes (3, 7, 5) with lengths 7, 1 and 4"),
        Case(_padded(4, 4, 3, [4, 2, 3, 1], seed=4),
             "a square batch (B = T = 4) with lengths 4, 2, 3 and 1"),
        Case(_padded(2, 3, 4, [3, 0], seed=5), _EMPTY),
    ]


def _m(mask, x):
    return mask.to(x.dtype).unsqueeze(-1)                       # (B, T, 1)


_PADDING_IN = ("padding enters your mean: multiply x by the mask (unsqueezed to "
               "(B, T, 1)) before summing over time, and divide by the number of "
               "real tokens")
_BATCH_AXIS = ("you pooled over the batch axis (dim=0); each sequence is averaged "
               "over its own time steps, dim=1, giving (B, C)")

POOL_MISTAKES = [
    Mistake("padding_included", _PADDING_IN, impl=lambda x, mask: x.mean(dim=1)),
    Mistake("padding_included", _PADDING_IN,
            impl=lambda x, mask: x.sum(dim=1) / _m(mask, x).sum(dim=1).clamp_min(1)),
    Mistake("divided_by_T",
            "you divide the sum of the real tokens by T, the padded length; "
            "divide by each sequence's own number of real tokens, "
            "mask.sum(dim=1, keepdim=True)",
            impl=lambda x, mask: (x * _m(mask, x)).sum(dim=1) / x.shape[1]),
    Mistake("not_divided",
            "you return the sum of the real tokens; divide it by their number to "
            "get the mean",
            impl=lambda x, mask: (x * _m(mask, x)).sum(dim=1)),
    Mistake("batch_axis", _BATCH_AXIS,
            impl=lambda x, mask: (x * _m(mask, x)).sum(0)
            / _m(mask, x).sum(0).clamp_min(1)),
    Mistake("batch_axis", _BATCH_AXIS,
            impl=lambda x, mask: (x * _m(mask, x)).sum(0) / _m(mask, x).sum(0)),
    Mistake("batch_axis", _BATCH_AXIS, impl=lambda x, mask: x.mean(dim=0)),
    Mistake("inverted_mask",
            "you average the padding instead of the real tokens; the mask is "
            "True at real tokens, so keep the positions where it is True",
            impl=lambda x, mask: (x * _m(~mask, x)).sum(1)
            / _m(~mask, x).sum(1).clamp_min(1)),
    Mistake("nan_for_empty",
            "a sequence with no real token gives NaN (0 / 0); divide by "
            "count.clamp_min(1) so that such a row pools to the zero vector",
            impl=lambda x, mask: (x * _m(mask, x)).sum(1) / _m(mask, x).sum(1)),
]


def check_masked_mean_pool(fn: Callable) -> Verdict:
    """Check ``fn(x, mask)``: the mean of the real tokens (day 14).

    ``x`` has shape ``(B, T, C)`` (padded positions hold 50, so leaks show),
    ``mask`` is boolean ``(B, T)``, ``True`` at real tokens; the answer is
    ``(B, C)``, zeros for a row without real tokens. Cases: lengths 5 and 2,
    a batch of one, odd sizes, a square batch (B = T), an all-padding row.
    Names ``padding_included``, ``divided_by_T``, ``not_divided``,
    ``batch_axis``, ``inverted_mask`` and ``nan_for_empty``.
    """
    return check_function(
        "masked_mean_pool", fn, _pool_cases(), ref.masked_mean_pool, POOL_MISTAKES,
        success="masked_mean_pool is correct: it averages the real tokens of "
                "each sequence, ignores padding, and pools an empty sequence "
                "to zeros instead of NaN.")


# --------------------------------------------------------------------------
# the forward pass of the classifier


@contextmanager
def _slow_attention():
    """Send nn.MultiheadAttention down its reference path, so that the
    learner's call (with gradients) and the reference (without) compute the
    same way, NaN included."""
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def _model(seed: int, d_model: int = 8, n_heads: int = 2, n_classes: int = 2,
           positions: str = "learned") -> ref.SelfAttentionClassifier:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ref.SelfAttentionClassifier(9, n_classes, d_model=d_model,
                                            n_heads=n_heads, d_ff=16, max_len=16,
                                            positions=positions)
        if positions == "learned":  # large enough to matter in every case
            nn.init.normal_(model.positions.embedding.weight, std=0.5)
    return model.eval()


def _ids(lengths, T: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor(lengths)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 9, (len(lengths), T), generator=g)     # (B, T)
    ids[~_keep(lengths, T)] = 0
    return ids, lengths


def _forward_cases() -> list[Case]:
    return [
        Case((_model(1), *_ids([5, 2, 4], 5, seed=11)),
             "a batch of 3 with lengths 5, 2 and 4"),
        Case((_model(2), *_ids([6], 6, seed=12)), "a batch of one without padding"),
        Case((_model(3), *_ids([3, 1], 6, seed=13)),
             "every row padded (lengths 3 and 1, T = 6)"),
        Case((_model(4, d_model=12, n_heads=3, n_classes=3, positions="sinusoidal"),
              *_ids([7, 4, 2], 7, seed=14)),
             "sinusoidal positions, 3 heads and 3 classes"),
    ]


def _forward_variant(model, ids, lengths, *, mask="keep", pool="masked",
                     positions=True, residual=True, ff=True, probabilities=False):
    """The classifier's forward pass, right or with one classic mistake."""
    keep = _keep(lengths, ids.shape[1])                        # (B, T)
    x = model.embed(ids)                                       # (B, T, d_model)
    if positions:
        x = model.positions(x)
    if pool == "before":
        x = ref.masked_mean_pool(x, keep)[:, None]             # (B, 1, d_model)
        key_padding = None
    else:
        key_padding = {"keep": ~keep, "inverted": keep, "none": None}[mask]
    a, _ = model.attn(x, x, x, key_padding_mask=key_padding)   # (B, T, d_model)
    x = model.norm1(x + a if residual else a)
    if ff:
        x = model.norm2(x + model.ff(x))
    if pool == "before":
        pooled = x[:, 0]
    elif pool == "plain":
        pooled = x.mean(dim=1)
    else:
        pooled = ref.masked_mean_pool(x, keep)                 # (B, d_model)
    logits = model.head(pooled)                                # (B, n_classes)
    return torch.softmax(logits, dim=-1) if probabilities else logits


def _variant(**options):
    return lambda model, ids, lengths: _forward_variant(model, ids, lengths,
                                                        **options)


FORWARD_MISTAKES = [
    Mistake("inverted_mask",
            "you passed a mask that is True at real tokens as key_padding_mask; "
            "nn.MultiheadAttention reads True as 'ignore this key', so pass "
            "~keep (True at padding), e.g. to_key_padding_mask(padding_mask(...))",
            impl=_variant(mask="inverted")),
    Mistake("padding_attended",
            "padding keys still receive attention: pass key_padding_mask (True "
            "at padding) to model.attn",
            impl=_variant(mask="none")),
    Mistake("pooling_before_attention",
            "you pool before attention, so attention sees one averaged vector "
            "per sequence and word order is gone; run attention and the "
            "feed-forward block on all T positions, then pool",
            impl=_variant(pool="before")),
    Mistake("padding_in_pool",
            "your pool averages the padded positions too; pool with the mask, "
            "masked_mean_pool(x, keep)",
            impl=_variant(pool="plain")),
    Mistake("no_positions",
            "you never add the position vectors; call model.positions on the "
            "embeddings, or the model cannot tell A-then-B from B-then-A",
            impl=_variant(positions=False)),
    Mistake("no_residual",
            "the attention output replaces x instead of being added to it; the "
            "residual connection is norm1(x + a)",
            impl=_variant(residual=False)),
    Mistake("missing_feed_forward",
            "the feed-forward block is missing: after norm1, compute "
            "x = model.norm2(x + model.ff(x))",
            impl=_variant(ff=False)),
    Mistake("returned_probabilities",
            "you return probabilities; return the logits from model.head, "
            "F.cross_entropy applies the softmax itself",
            impl=_variant(probabilities=True)),
]


def check_classifier_forward(fn: Callable) -> Verdict:
    """Check ``fn(model, ids, lengths)``: the forward pass of a
    :class:`~helpers.classifiers.SelfAttentionClassifier` (day 14).

    ``fn`` must use the model's submodules (``embed``, ``positions``,
    ``attn``, ``norm1``, ``ff``, ``norm2``, ``head``) and return logits
    ``(B, n_classes)`` equal to ``model(ids, lengths)``. Cases: a batch of 3
    with mixed lengths, a batch of one without padding, a batch where every
    row is padded, sinusoidal positions with 3 heads. Names
    ``inverted_mask``, ``padding_attended``, ``pooling_before_attention``,
    ``padding_in_pool``, ``no_positions``, ``no_residual``,
    ``missing_feed_forward`` and ``returned_probabilities``.
    """
    with _slow_attention():
        return check_function(
            "classifier_forward", fn, _forward_cases(),
            lambda model, ids, lengths: model(ids, lengths), FORWARD_MISTAKES,
            success="classifier_forward matches the model on all 4 cases: "
                    "positions added, padding hidden from nn.MultiheadAttention "
                    "(True = ignore), residuals and feed-forward in place, and "
                    "a masked mean pool after attention.")
