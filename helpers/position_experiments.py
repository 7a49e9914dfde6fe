"""Positions inside a model: a task that needs them and a model to try them on
(day 20).

Day 6 showed that attention without positions cannot tell orders apart.
This module makes that measurable:

* :func:`make_order_batch` builds the **marker-order task**: a sequence of
  filler tokens holds the two markers ``A`` and ``B`` once each, and the
  label says whether ``A`` comes first. The two orders of the same tokens
  carry opposite labels, so a model that ignores positions cannot beat a
  coin toss.
* :class:`OrderClassifier` is a small encoder classifier (token embedding,
  optional positions, pre-norm :class:`~helpers.transformer.EncoderBlock` s,
  mean pooling, a linear head) whose positions can be switched between
  none, learned and sinusoidal.
* :func:`train_order_classifier` and :func:`order_accuracy` train and
  measure it, on any sequence length and at any position offset;
* :func:`extend_learned_positions` is the usual stop-gap for learned
  positions that run out: copy the table into a longer one and fill the new
  rows with the last trained vector;
* :func:`add_positions`, :func:`learned_positions_forward` and
  :func:`position_similarity` are the small functions of the day's
  exercises, written out as plain tensor code.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from helpers.transformer import (
    EncoderBlock,
    LayerNorm,
    LearnedPositions,
    SinusoidalPositions,
)

__all__ = [
    "MARK_A",
    "MARK_B",
    "ORDER_TOKENS",
    "ORDER_VOCAB",
    "OrderClassifier",
    "TrainResult",
    "add_positions",
    "extend_learned_positions",
    "learned_positions_forward",
    "make_order_batch",
    "order_accuracy",
    "position_similarity",
    "train_order_classifier",
]

MARK_A, MARK_B = 0, 1
ORDER_TOKENS = ["A", "B"] + list("cdefghij")     # 2 markers, 8 filler letters
ORDER_VOCAB = len(ORDER_TOKENS)                  # 10

POSITION_KINDS = (None, "learned", "sinusoidal")


# --------------------------------------------------------------------------
# positions as plain tensor code (the exercises)


def add_positions(x: torch.Tensor, table: torch.Tensor,
                  offset: int = 0) -> torch.Tensor:
    """Add the rows of a position table to a batch of embeddings (day 20).

    Inputs: ``x`` ``(B, T, d_model)``; ``table`` ``(max_len, d_model)``, row
    ``p`` the vector of position ``p``; ``offset`` the position of the first
    token (0 for a whole sequence, ``t`` when a decoder feeds one new token
    at step ``t``). Returns a new tensor ``x + table[offset:offset + T]`` of
    shape ``(B, T, d_model)``: every sequence of the batch gets the same
    position vectors, and ``x`` itself is not changed. Raises ``ValueError``
    when the table has fewer than ``offset + T`` rows.
    Introduced on day 20.
    """
    T = x.shape[-2]
    if offset + T > table.shape[0]:
        raise ValueError(f"positions {offset}..{offset + T - 1} are needed but "
                         f"the table has {table.shape[0]} rows.")
    return x + table[offset:offset + T]                         # (B, T, d_model)


def learned_positions_forward(x: torch.Tensor, weight: torch.Tensor
                              ) -> torch.Tensor:
    """What :class:`~helpers.transformer.LearnedPositions` computes, in plain
    tensor code (day 20).

    Inputs: ``x`` ``(B, T, d_model)``; ``weight`` the learned table
    ``(max_len, d_model)``. Returns ``x + weight[:T]``, shape
    ``(B, T, d_model)``. A sequence longer than the table has positions
    that were never trained, so ``T > max_len`` raises a ``ValueError`` that
    names both numbers instead of wrapping around or repeating rows.
    Introduced on day 20.
    """
    T, max_len = x.shape[-2], weight.shape[0]
    if T > max_len:
        raise ValueError(f"learned positions exist for 0..{max_len - 1} only, "
                         f"but this sequence has T = {T} positions.")
    positions = torch.arange(T, device=weight.device)           # (T,)
    return x + weight[positions]                                # (B, T, d_model)


def position_similarity(weight: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between every pair of position vectors (day 20).

    Inputs: ``weight`` ``(max_len, d_model)``, one row per position.
    Returns ``(max_len, max_len)``: entry ``[i, j]`` is
    ``w_i . w_j / (|w_i| |w_j|)``, 1 on the diagonal, symmetric. A zero row
    gives zeros instead of NaN. Introduced on day 20.
    """
    norms = weight.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (max_len, 1)
    unit = weight / norms                                       # (max_len, d)
    return unit @ unit.T                                        # (max_len, max_len)


# --------------------------------------------------------------------------
# the task


def make_order_batch(batch_size: int, T: int,
                     generator: torch.Generator | None = None):
    """A batch of the marker-order task (day 20).

    Every sequence has ``T`` tokens: the markers ``A`` and ``B`` at two
    different random places and filler letters everywhere else. The label
    is 1 when ``A`` comes before ``B`` and 0 otherwise, so both classes are
    equally likely and the two orders of the same tokens have opposite
    labels.

    Inputs: ``batch_size``, ``T`` (at least 2), an optional ``generator``.
    Returns ``(ids, labels)``: ``ids`` ``(batch_size, T)`` long with values
    in ``0 .. ORDER_VOCAB - 1`` and ``labels`` ``(batch_size,)`` long.
    Introduced on day 20.
    """
    if T < 2:
        raise ValueError(f"the task needs T >= 2 to place two markers, got {T}.")
    g = generator
    ids = torch.randint(2, ORDER_VOCAB, (batch_size, T), generator=g)  # (B, T)
    places = torch.rand(batch_size, T, generator=g).argsort(dim=1)[:, :2]  # (B, 2)
    rows = torch.arange(batch_size)
    ids[rows, places[:, 0]] = MARK_A
    ids[rows, places[:, 1]] = MARK_B
    labels = (places[:, 0] < places[:, 1]).long()                      # (B,)
    return ids, labels


# --------------------------------------------------------------------------
# the model


class OrderClassifier(nn.Module):
    """A small encoder that classifies a whole sequence (day 20).

    ``ids -> embedding (+ positions) -> n_layers pre-norm encoder blocks ->
    LayerNorm -> mean over positions -> linear head``.

    Inputs to the constructor: ``vocab_size``, ``n_classes``, ``d_model``,
    ``n_heads``, ``n_layers``, ``d_ff``, ``positions`` (``None``,
    ``"learned"`` or ``"sinusoidal"``) and ``max_len`` (rows of the position
    table). Submodules: ``embed``, ``positions`` (or ``None``), ``blocks``,
    ``norm``, ``head``. With ``positions=None`` every part is blind to order
    and the mean is too, so the logits do not change when the tokens are
    shuffled. Introduced on day 20.
    """

    def __init__(self, vocab_size: int = ORDER_VOCAB, n_classes: int = 2,
                 d_model: int = 32, n_heads: int = 4, n_layers: int = 2,
                 d_ff: int = 64, positions: str | None = "sinusoidal",
                 max_len: int = 16):
        super().__init__()
        if positions not in POSITION_KINDS:
            raise ValueError(f"positions must be one of {POSITION_KINDS}, got "
                             f"{positions!r}.")
        self.kind = positions
        self.embed = nn.Embedding(vocab_size, d_model)
        if positions == "learned":
            self.positions = LearnedPositions(d_model, max_len)
        elif positions == "sinusoidal":
            self.positions = SinusoidalPositions(d_model, max_len)
        else:
            self.positions = None
        self.blocks = nn.ModuleList(
            EncoderBlock(d_model, n_heads, d_ff, dropout=0.0, norm_first=True)
            for _ in range(n_layers))
        self.norm = LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Inputs: ``ids`` ``(B, T)`` long; ``offset`` the position given to
        the first token (0 normally). Returns logits ``(B, n_classes)``."""
        x = self.embed(ids)                                     # (B, T, d_model)
        if self.positions is not None:
            x = self.positions(x, offset)                       # (B, T, d_model)
        for block in self.blocks:
            x = block(x)                                        # (B, T, d_model)
        pooled = self.norm(x).mean(dim=1)                       # (B, d_model)
        return self.head(pooled)                                # (B, n_classes)


# --------------------------------------------------------------------------
# training and measuring


@contextmanager
def _one_thread():
    """Tiny models run faster on one thread, and give the same numbers on
    every machine whatever its number of cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class TrainResult:
    """What :func:`train_order_classifier` returns: the loss and accuracy of
    every step (on the training batch), and the number of steps."""

    losses: list = field(default_factory=list)
    accuracies: list = field(default_factory=list)
    steps: int = 0


def train_order_classifier(model: OrderClassifier, steps: int = 300,
                           batch_size: int = 64, lengths=(12,),
                           lr: float = 3e-3, seed: int = 0) -> TrainResult:
    """Train ``model`` on fresh batches of the marker-order task (day 20).

    Inputs: ``steps`` optimiser steps of AdamW with learning rate ``lr``
    (linear warm-up over the first 10% of steps, then constant);
    ``batch_size``; ``lengths``, the sequence lengths to draw from (one per
    batch, so no padding is needed); ``seed`` for the batches. Runs on one
    thread (faster for tiny models, and the same numbers on every machine).
    Returns a :class:`TrainResult`. The model is left in eval mode.
    Introduced on day 20.
    """
    g = torch.Generator().manual_seed(seed)
    lengths = list(lengths)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup))
    result = TrainResult()
    model.train()
    with _one_thread():
        for _ in range(steps):
            T = lengths[int(torch.randint(len(lengths), (1,), generator=g))]
            ids, labels = make_order_batch(batch_size, T, g)    # (B, T), (B,)
            logits = model(ids)                                 # (B, 2)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            result.losses.append(loss.item())
            hits = (logits.argmax(-1) == labels).float().mean().item()
            result.accuracies.append(hits)
    result.steps = steps
    model.eval()
    return result


@torch.no_grad()
def order_accuracy(model: nn.Module, T: int, n: int = 1000, offset: int = 0,
                   seed: int = 1234) -> float:
    """Accuracy of ``model`` on ``n`` fresh sequences of length ``T`` (day 20).

    ``offset`` shifts every position, so the same kind of sequence is read
    at positions ``offset .. offset + T - 1``. The sequences depend only on
    ``seed``, ``n`` and ``T``, so two models are measured on the same data.
    Returns a float in ``[0, 1]``. Introduced on day 20.
    """
    g = torch.Generator().manual_seed(seed)
    ids, labels = make_order_batch(n, T, g)
    model.eval()
    with _one_thread():
        logits = model(ids, offset) if offset else model(ids)   # (n, 2)
    return (logits.argmax(-1) == labels).float().mean().item()


@torch.no_grad()
def extend_learned_positions(positions: LearnedPositions,
                             new_max_len: int) -> LearnedPositions:
    """A longer copy of a learned position table, padded with its last row
    (day 20).

    Rows ``0 .. max_len - 1`` are the trained vectors; every new row is a
    copy of the last trained one, so positions past the end all look like
    the final trained position. This runs without an error, which is the
    danger: the model cannot tell the new positions apart.

    Inputs: ``positions`` a :class:`~helpers.transformer.LearnedPositions`;
    ``new_max_len`` at least its ``max_len``. Returns a new module.
    Introduced on day 20.
    """
    old = positions.embedding.weight                           # (max_len, d)
    if new_max_len < old.shape[0]:
        raise ValueError(f"new_max_len={new_max_len} is shorter than the trained "
                         f"table of {old.shape[0]} rows.")
    longer = LearnedPositions(old.shape[1], new_max_len)
    fill = old[-1:].expand(new_max_len - old.shape[0], -1)     # (extra, d)
    longer.embedding.weight.copy_(torch.cat([old, fill], dim=0))
    return longer.to(old.device)
