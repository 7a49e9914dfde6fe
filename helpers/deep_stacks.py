"""Deep stacks of encoder blocks, for the pre-norm vs post-norm experiments
(day 18).

A :class:`DeepStack` is a small token-in, token-out encoder: embeddings,
sinusoidal positions, ``n_layers`` :class:`helpers.transformer.EncoderBlock`
in either order of normalisation, a final LayerNorm and a linear read-out.
The toy task is sorting (:func:`sorting_batch`): every output position must
name the token that belongs there once the input is sorted, which needs
attention across the whole sequence and the positions.

:func:`block_gradient_norms` measures how much gradient reaches each block
at initialisation; :func:`train_stack` trains with Adam at a constant
learning rate (optionally after a linear warmup) and reports the loss curve
and the accuracy on a fixed held-out batch.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from helpers.transformer import EncoderBlock, LayerNorm, SinusoidalPositions

__all__ = ["DeepStack", "block_gradient_norms", "residual_stream_scales",
           "sorting_accuracy", "sorting_batch", "train_stack"]


@contextmanager
def _one_thread():
    # Tensors this small gain nothing from a second thread, and on a busy
    # machine the threads only wait for each other.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def sorting_batch(batch_size: int, seq_len: int, vocab_size: int,
                  generator: torch.Generator | None = None):
    """A batch of the sorting task (day 18).

    Inputs: ``batch_size``, ``seq_len``, ``vocab_size`` and an optional
    ``generator`` for repeatable draws. Returns ``(ids, targets)``, both
    ``(batch_size, seq_len)`` integer tensors: random tokens and the same
    tokens in ascending order.
    """
    ids = torch.randint(0, vocab_size, (batch_size, seq_len),
                        generator=generator)                    # (B, T)
    return ids, ids.sort(dim=1).values                          # (B, T), (B, T)


class DeepStack(nn.Module):
    """Token ids in, one score per vocabulary entry and position out (day 18).

    Inputs to the constructor: ``vocab_size``, ``d_model``, ``n_layers``,
    ``norm_first`` (pre-norm when true, post-norm when false), ``n_heads``,
    ``d_ff`` (default ``4 * d_model``), ``max_len`` and ``init``:
    ``"xavier"`` (Xavier-uniform weight matrices in every block, as
    ``nn.Transformer`` initialises them) or ``"default"`` (PyTorch's own
    ``nn.Linear`` initialisation, which starts every sub-layer smaller).
    Submodules: ``embed``, ``positions``, ``blocks`` (an ``nn.ModuleList``
    of :class:`~helpers.transformer.EncoderBlock`), ``norm`` (the final
    LayerNorm, which a pre-norm stack needs) and ``head``.
    """

    def __init__(self, vocab_size: int, d_model: int, n_layers: int,
                 norm_first: bool, n_heads: int = 2, d_ff: int | None = None,
                 max_len: int = 64, init: str = "xavier"):
        super().__init__()
        if init not in ("xavier", "default"):
            raise ValueError(f"init must be 'xavier' or 'default', got {init!r}.")
        self.norm_first = norm_first
        self.embed = nn.Embedding(vocab_size, d_model)
        self.positions = SinusoidalPositions(d_model, max_len)
        self.blocks = nn.ModuleList(
            EncoderBlock(d_model, n_heads, d_ff or 4 * d_model,
                         norm_first=norm_first)
            for _ in range(n_layers))
        self.norm = LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        if init == "xavier":
            for p in self.blocks.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Inputs: ``ids`` ``(B, T)``. Returns logits ``(B, T, vocab_size)``."""
        x = self.positions(self.embed(ids))                     # (B, T, d_model)
        for block in self.blocks:
            x = block(x)                                        # (B, T, d_model)
        return self.head(self.norm(x))                          # (B, T, V)


def _loss(model: nn.Module, ids: torch.Tensor, targets: torch.Tensor):
    logits = model(ids)                                         # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def block_gradient_norms(model: DeepStack, ids: torch.Tensor,
                         targets: torch.Tensor) -> torch.Tensor:
    """The gradient norm of each block's parameters for one batch (day 18).

    Inputs: a :class:`DeepStack` (or any model with ``blocks``), ``ids`` and
    ``targets`` of shape ``(B, T)``. Runs one forward and backward pass of
    the cross-entropy and returns ``(n_layers,)``: for block ``l`` the L2
    norm of the gradient of all its parameters together. The model's
    ``.grad`` fields are cleared again afterwards.
    """
    model.zero_grad(set_to_none=True)
    with _one_thread():
        _loss(model, ids, targets).backward()
    norms = []
    for block in model.blocks:
        squares = [p.grad.pow(2).sum() for p in block.parameters()
                   if p.grad is not None]
        norms.append(torch.stack(squares).sum().sqrt())
    model.zero_grad(set_to_none=True)
    return torch.stack(norms).detach()                          # (n_layers,)


@torch.no_grad()
def residual_stream_scales(model: DeepStack, ids: torch.Tensor) -> torch.Tensor:
    """The standard deviation of the hidden states after every block (day 18).

    Inputs: a :class:`DeepStack` and ``ids`` ``(B, T)``. Returns
    ``(n_layers,)``: entry ``l`` is the standard deviation over all entries
    of the ``(B, T, d_model)`` tensor that block ``l`` passes on. In a
    pre-norm stack it grows with depth; in a post-norm stack every block
    ends with a LayerNorm, so it stays near 1.
    """
    scales = []
    with _one_thread():
        x = model.positions(model.embed(ids))                   # (B, T, d_model)
        for block in model.blocks:
            x = block(x)                                        # (B, T, d_model)
            scales.append(x.std())
    return torch.stack(scales)                                  # (n_layers,)


@torch.no_grad()
def sorting_accuracy(model: nn.Module, vocab_size: int, seq_len: int,
                     n: int = 512, seed: int = 12345) -> float:
    """Share of positions sorted correctly on ``n`` fixed held-out sequences
    (day 18). Inputs: the model, the task's ``vocab_size`` and ``seq_len``;
    ``seed`` fixes the held-out batch. Returns a float in [0, 1]."""
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    ids, targets = sorting_batch(n, seq_len, vocab_size, g)     # (n, T)
    with _one_thread():
        predicted = model(ids).argmax(dim=-1)                   # (n, T)
    accuracy = (predicted == targets).float().mean().item()
    model.train(was_training)
    return accuracy


def train_stack(model: nn.Module, steps: int, lr: float, vocab_size: int,
                seq_len: int, batch_size: int = 32, warmup: int = 0,
                seed: int = 0) -> dict:
    """Train ``model`` on the sorting task with Adam (day 18).

    Inputs: ``steps`` updates at learning rate ``lr`` (constant, or rising
    linearly from ``lr / warmup`` over the first ``warmup`` steps),
    ``vocab_size`` and ``seq_len`` of the task, ``batch_size``, and ``seed``
    for the stream of training batches (the same for every model given the
    same seed). Returns a dict with ``losses`` (one float per step) and
    ``accuracy`` (from :func:`sorting_accuracy` after training).
    """
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    with _one_thread():
        for step in range(steps):
            if warmup:
                for group in optimizer.param_groups:
                    group["lr"] = lr * min(1.0, (step + 1) / warmup)
            ids, targets = sorting_batch(batch_size, seq_len, vocab_size, g)
            loss = _loss(model, ids, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        accuracy = sorting_accuracy(model, vocab_size, seq_len)
    return {"losses": losses, "accuracy": accuracy}
