"""From logits to probabilities and losses (day 2 onwards).

Reference implementations of the functions every classifier and language
model in the course ends with: softmax (stable, and the naive version that
overflows, kept for demonstrations), softmax with a temperature, log-softmax
through the log-sum-exp trick, entropy and cross-entropy with class indices.
Each works on tensors of any shape and reduces over ``dim`` (the last axis by
default), like its PyTorch counterpart.
"""

from __future__ import annotations

import torch

__all__ = [
    "softmax_naive", "softmax", "softmax_with_temperature", "logsumexp",
    "log_softmax", "cross_entropy", "entropy",
]


def softmax_naive(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax straight from the formula, ``exp(z) / sum(exp(z))`` (day 2).

    Kept to show what goes wrong: ``exp`` overflows to ``inf`` for logits above
    about 88 in float32 (and underflows to 0 below about -104), so rows such as
    ``[1000, 999]`` or ``[-1000, -999]`` come out as NaN. Use :func:`softmax`.

    Inputs: ``z`` logits of any shape ``(..., C)``; ``dim`` the class axis.
    Returns a tensor of the same shape. Introduced on day 2.
    """
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)


def softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Numerically stable softmax along ``dim`` (day 2).

    Subtracts each row's maximum before ``exp``. The result is unchanged
    (softmax ignores a constant added to a whole row), but now the largest
    exponent is ``exp(0) = 1``: nothing overflows, and the sum is at least 1.

    Inputs: ``z`` logits of any shape ``(..., C)``; ``dim`` the class axis.
    Returns probabilities of the same shape; they are >= 0 and sum to 1
    along ``dim``. Matches ``torch.softmax(z, dim)``. Introduced on day 2.
    """
    m = z.amax(dim=dim, keepdim=True)          # (..., 1) one maximum per row
    e = torch.exp(z - m)                       # (..., C) every entry in (0, 1]
    return e / e.sum(dim=dim, keepdim=True)


def softmax_with_temperature(z: torch.Tensor, temperature: float,
                             dim: int = -1) -> torch.Tensor:
    """Softmax of ``z / temperature`` (day 2; sampling on day 39).

    A temperature below 1 sharpens the distribution towards the largest
    logit, above 1 flattens it towards uniform; 1 leaves it unchanged.

    Inputs: ``z`` logits of shape ``(..., C)``; ``temperature`` a positive
    number; ``dim`` the class axis. Returns probabilities of the same shape.
    Raises ``ValueError`` when the temperature is not positive (0 would mean
    "always pick the largest logit", a limit rather than a value).
    Introduced on day 2.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}; "
                         "use argmax for the temperature-0 limit.")
    return softmax(z / temperature, dim=dim)


def logsumexp(z: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    """``log(sum(exp(z)))`` along ``dim`` without overflow (day 2).

    Uses ``m + log(sum(exp(z - m)))`` with ``m`` the maximum along ``dim``.
    Inputs: ``z`` of shape ``(..., C)``. Returns shape ``(...)``, or
    ``(..., 1)`` with ``keepdim=True``. Matches ``torch.logsumexp``.
    Introduced on day 2.
    """
    m = z.amax(dim=dim, keepdim=True)                               # (..., 1)
    out = m + torch.log(torch.exp(z - m).sum(dim=dim, keepdim=True))  # (..., 1)
    return out if keepdim else out.squeeze(dim)


def log_softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Log-probabilities ``z - logsumexp(z)`` along ``dim``, computed stably (day 2).

    Never goes through the probabilities themselves, so a class whose
    probability underflows to 0 still gets a finite log-probability
    (``log(softmax(z))`` would give ``-inf`` there).

    Inputs: ``z`` logits of shape ``(..., C)``; ``dim`` the class axis.
    Returns a tensor of the same shape, every entry <= 0. Matches
    ``torch.log_softmax(z, dim)``. Introduced on day 2.
    """
    shifted = z - z.amax(dim=dim, keepdim=True)                         # (..., C)
    # Subtracting the maximum first keeps the small differences exact; adding
    # it back into logsumexp and subtracting later would round them away.
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor,
                  reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy between logits and class indices (day 2; used from day 3).

    For each row ``i`` the loss is ``-log_softmax(logits[i])[targets[i]]``,
    the surprise of the model at the correct class.

    Inputs: ``logits`` of shape ``(N, C)`` (raw scores, not probabilities);
    ``targets`` of shape ``(N,)`` holding integer class indices in
    ``[0, C)``; ``reduction`` ``"mean"`` (default), ``"sum"`` or ``"none"``.
    Returns a scalar, or shape ``(N,)`` for ``"none"``. Matches
    ``F.cross_entropy(logits, targets)``. Introduced on day 2.
    """
    if logits.dim() != 2:
        raise ValueError("cross_entropy expects logits of shape (N, C), got "
                         f"{tuple(logits.shape)}.")
    if targets.shape != logits.shape[:1]:
        raise ValueError(f"targets should have shape ({logits.shape[0]},), one "
                         f"class index per row, got {tuple(targets.shape)}.")
    log_p = log_softmax(logits, dim=-1)                          # (N, C)
    rows = torch.arange(logits.shape[0])                         # (N,)
    losses = -log_p[rows, targets]                               # (N,)
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}.")


def entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy ``-sum(p * log p)`` in nats along ``dim`` (day 2).

    Zero for a one-hot distribution, ``log(C)`` for a uniform one over ``C``
    classes; entries with ``p == 0`` contribute 0. Inputs: ``p`` of shape
    ``(..., C)``. Returns shape ``(...)``. Introduced on day 2.
    """
    return -torch.xlogy(p, p).sum(dim=dim)   # xlogy gives 0 where p == 0
