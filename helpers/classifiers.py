"""Sequence classifiers built from PyTorch parts, and how to train them (day 14).

Two models read a padded batch of token ids with its lengths and return one
row of class logits per sequence:

* :class:`BagOfEmbeddings` averages the token embeddings and classifies the
  average. It sees which tokens occur, never where: any reordering of a
  sequence gives the same output.
* :class:`SelfAttentionClassifier` adds position vectors, lets every token
  attend to the others with ``nn.MultiheadAttention``, applies a small
  feed-forward network, then averages and classifies. Positions and
  attention together make it sensitive to order.

Both pool with :func:`masked_mean_pool`, which skips padding, so their
outputs do not depend on how much padding a batch carries.
:func:`key_padding_from_lengths` builds PyTorch's ``key_padding_mask``
(``True`` = padding, ignore this key), the opposite of the course mask
(``True`` = may attend, see :mod:`helpers.attention`).
:func:`train_classifier` and :func:`evaluate_classifier` are the training
loop with a validation split.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from helpers.attention import padding_mask
from helpers.transformer import LearnedPositions, SinusoidalPositions

__all__ = [
    "BagOfEmbeddings",
    "SelfAttentionClassifier",
    "evaluate_classifier",
    "key_padding_from_lengths",
    "masked_mean_pool",
    "predict",
    "train_classifier",
]


# --------------------------------------------------------------------------
# masks and pooling


def masked_mean_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average the vectors of the real tokens of each sequence (day 14).

    Inputs: ``x`` of shape ``(B, T, C)``; ``mask`` boolean ``(B, T)``,
    ``True`` at real tokens (the course's "keep" meaning), e.g.
    ``padding_mask(lengths, T)[:, 0, 0]``. Returns ``(B, C)``: row ``b`` is
    the mean of ``x[b, t]`` over the ``t`` with ``mask[b, t]``. A row with
    no real token gets the zero vector, not NaN. Introduced on day 14.
    """
    if x.dim() != 3 or tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(f"x must have shape (B, T, C) and mask (B, T); got "
                         f"{tuple(x.shape)} and {tuple(mask.shape)}.")
    keep = mask.to(x.dtype).unsqueeze(-1)              # (B, T, 1)
    total = (x * keep).sum(dim=1)                      # (B, C)
    count = keep.sum(dim=1).clamp_min(1.0)             # (B, 1)
    return total / count                               # (B, C)


def key_padding_from_lengths(lengths, T: int) -> torch.Tensor:
    """PyTorch's ``key_padding_mask`` for right-padded sequences (day 14).

    Inputs: ``lengths`` the true length of each sequence, a list or a
    ``(B,)`` integer tensor; ``T`` the padded length. Returns a boolean
    ``(B, T)`` tensor that is ``True`` at padding (``t >= lengths[b]``), as
    ``nn.MultiheadAttention`` and ``nn.TransformerEncoder`` expect: there
    ``True`` means "ignore this key". It equals
    ``to_key_padding_mask(padding_mask(lengths, T))``. Introduced on day 14.
    """
    lengths = torch.as_tensor(lengths)
    positions = torch.arange(int(T), device=lengths.device)   # (T,)
    return positions[None, :] >= lengths[:, None]             # (B, T)


def _keep_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    return padding_mask(lengths, T)[:, 0, 0, :]               # (B, T)


# --------------------------------------------------------------------------
# the two models


class BagOfEmbeddings(nn.Module):
    """The order-blind baseline: mean of token embeddings, then an MLP (day 14).

    ``h = mean_{t < L} E[x_t]``, ``logits = W_2 relu(W_1 h + b_1) + b_2``.
    Inputs to the constructor: ``vocab_size``, ``n_classes``, ``d_model``
    (embedding size), ``d_hidden`` (hidden units of the MLP), ``pad_id``
    (whose embedding is kept at zero). Submodules: ``embed``
    (``nn.Embedding``), ``hidden`` and ``head`` (``nn.Linear``).
    Introduced on day 14.
    """

    def __init__(self, vocab_size: int, n_classes: int, d_model: int = 32,
                 d_hidden: int = 64, pad_id: int = 0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.hidden = nn.Linear(d_model, d_hidden)
        self.head = nn.Linear(d_hidden, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Inputs: ``ids`` ``(B, T)`` token ids, ``lengths`` ``(B,)``.
        Returns logits ``(B, n_classes)``."""
        x = self.embed(ids)                                    # (B, T, d_model)
        h = masked_mean_pool(x, _keep_mask(lengths, ids.shape[1]))  # (B, d_model)
        return self.head(torch.relu(self.hidden(h)))           # (B, n_classes)


class SelfAttentionClassifier(nn.Module):
    """Embeddings, positions, one self-attention block, mean pool, linear
    head (day 14).

    The forward pass, with the course mask ``keep`` (``True`` at real
    tokens) and PyTorch's ``key_padding_mask`` (``True`` at padding)::

        x = positions(embed(ids))                      # (B, T, d_model)
        a = attn(x, x, x, key_padding_mask=~keep)      # (B, T, d_model)
        x = norm1(x + a)
        x = norm2(x + ff(x))
        logits = head(masked_mean_pool(x, keep))       # (B, n_classes)

    Inputs to the constructor: ``vocab_size``, ``n_classes``, ``d_model``,
    ``n_heads`` (dividing ``d_model``), ``d_ff`` (hidden size of the
    feed-forward network), ``max_len`` (longest sequence for learned
    positions), ``positions`` (``"learned"``, ``"sinusoidal"`` or ``None``
    for none at all), ``pad_id``, ``dropout``. Submodules: ``embed``
    (``nn.Embedding``), ``positions`` (:class:`~helpers.transformer.
    LearnedPositions`, :class:`~helpers.transformer.SinusoidalPositions` or
    ``nn.Identity``), ``attn`` (``nn.MultiheadAttention`` with
    ``batch_first=True``), ``norm1``, ``norm2`` (``nn.LayerNorm``), ``ff``
    (``nn.Sequential`` of Linear, ReLU, Linear) and ``head``
    (``nn.Linear``). Introduced on day 14.
    """

    def __init__(self, vocab_size: int, n_classes: int, d_model: int = 32,
                 n_heads: int = 2, d_ff: int = 64, max_len: int = 64,
                 positions: str | None = "learned", pad_id: int = 0,
                 dropout: float = 0.0):
        super().__init__()
        if positions not in ("learned", "sinusoidal", None):
            raise ValueError("positions must be 'learned', 'sinusoidal' or None, "
                             f"got {positions!r}.")
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        if positions == "learned":
            self.positions = LearnedPositions(d_model, max_len)
        elif positions == "sinusoidal":
            self.positions = SinusoidalPositions(d_model, max_len)
        else:
            self.positions = nn.Identity()
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout,
                                          batch_first=True)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(),
                                nn.Linear(d_ff, d_model))
        self.norm2 = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor,
                return_weights: bool = False):
        """Inputs: ``ids`` ``(B, T)`` token ids, ``lengths`` ``(B,)``.

        Returns logits ``(B, n_classes)``, and with ``return_weights=True``
        also the attention weights of every head, ``(B, n_heads, T, T)``:
        row ``i`` of a head holds how much query position ``i`` takes from
        each key; padded keys get exactly 0.
        """
        keep = _keep_mask(lengths, ids.shape[1])               # (B, T) True = real
        x = self.positions(self.embed(ids))                    # (B, T, d_model)
        a, weights = self.attn(x, x, x, key_padding_mask=~keep,
                               need_weights=return_weights,
                               average_attn_weights=False)     # (B, T, d_model)
        x = self.norm1(x + a)
        x = self.norm2(x + self.ff(x))                         # (B, T, d_model)
        logits = self.head(masked_mean_pool(x, keep))          # (B, n_classes)
        return (logits, weights) if return_weights else logits


# --------------------------------------------------------------------------
# training and evaluation


@contextmanager
def _one_thread():
    """Small models run faster, and repeat exactly, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def evaluate_classifier(model: nn.Module, data) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``data`` (day 14).

    Inputs: ``model`` called as ``model(ids, lengths)``; ``data`` a
    :class:`~helpers.toy_tasks.SequenceTask` (``ids``, ``lengths``,
    ``labels``). Runs in eval mode without gradients and restores the
    model's mode. Returns ``(loss, accuracy)`` as Python floats.
    """
    was_training = model.training
    model.eval()
    with _one_thread():
        logits = model(data.ids, data.lengths)                 # (N, n_classes)
    model.train(was_training)
    loss = F.cross_entropy(logits, data.labels).item()
    acc = (logits.argmax(dim=-1) == data.labels).float().mean().item()
    return loss, acc


@torch.no_grad()
def predict(model: nn.Module, data) -> torch.Tensor:
    """The predicted class of every sequence of ``data``, ``(N,)`` (day 14)."""
    was_training = model.training
    model.eval()
    with _one_thread():
        classes = model(data.ids, data.lengths).argmax(dim=-1)
    model.train(was_training)
    return classes


def train_classifier(model: nn.Module, train, val=None, steps: int = 600,
                     batch_size: int = 64, lr: float = 3e-3,
                     weight_decay: float = 0.0, eval_every: int = 50,
                     seed: int = 0) -> dict[str, list]:
    """Train a sequence classifier with AdamW and watch a validation set
    (day 14).

    Inputs: ``model`` called as ``model(ids, lengths)`` returning logits;
    ``train`` and ``val`` :class:`~helpers.toy_tasks.SequenceTask` sets
    (``val`` optional); ``steps`` optimisation steps on shuffled
    mini-batches of ``batch_size`` (reshuffled by a generator seeded with
    ``seed`` every time the set is used up), each trimmed to its longest
    sequence; ``lr`` and ``weight_decay`` for AdamW; every ``eval_every``
    steps (and after the last) the history records a point.

    Returns the history: ``"step"``, ``"train_loss"`` (mean loss of the
    batches since the previous point), ``"train_acc"`` (accuracy on those
    batches) and, with ``val``, ``"val_loss"`` and ``"val_acc"`` (the whole
    validation set). The model ends in eval mode. Runs on one thread, which
    is faster for models this small and repeats exactly.
    """
    if steps < 1 or eval_every < 1:
        raise ValueError(f"steps and eval_every must be at least 1, got "
                         f"{steps} and {eval_every}.")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr,
                                  weight_decay=weight_decay)
    keys = ["step", "train_loss", "train_acc"] + (["val_loss", "val_acc"]
                                                  if val is not None else [])
    history: dict[str, list] = {k: [] for k in keys}
    batches = iter(())
    losses, hits, seen = [], 0, 0
    model.train()
    with _one_thread():
        for step in range(1, steps + 1):
            batch = next(batches, None)
            if batch is None:
                batches = train.batches(batch_size, generator)
                batch = next(batches)
            logits = model(batch.ids, batch.lengths)           # (B, n_classes)
            loss = F.cross_entropy(logits, batch.labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            hits += (logits.argmax(-1) == batch.labels).sum().item()
            seen += len(batch)
            if step % eval_every == 0 or step == steps:
                history["step"].append(step)
                history["train_loss"].append(sum(losses) / len(losses))
                history["train_acc"].append(hits / seen)
                losses, hits, seen = [], 0, 0
                if val is not None:
                    val_loss, val_acc = evaluate_classifier(model, val)
                    history["val_loss"].append(val_loss)
                    history["val_acc"].append(val_acc)
                    model.train()
    model.eval()
    return history
