"""The input of a transformer: token embeddings plus positions (day 7).

Day 5 turned token ids into vectors by a table lookup and day 6 built a
table of sinusoidal position vectors. A transformer's first layer receives
their sum, with the token part scaled by ``sqrt(d_model)``:

    x[b, t] = W[ids[b, t]] * sqrt(d_model) + pe[t]

Day 23 wraps the same computation in an ``nn.Module``. :func:`mean_pool`
turns such a sequence of vectors into one vector per sentence, skipping the
padding.
"""

from __future__ import annotations

import math

import torch


def embed_with_positions(ids: torch.Tensor, W: torch.Tensor,
                         pe: torch.Tensor) -> torch.Tensor:
    """Token vectors scaled by ``sqrt(d_model)`` plus position vectors.

    Inputs:
        ids: LongTensor of token ids, shape ``(B, T)``.
        W:   embedding table, shape ``(V, d_model)``.
        pe:  position table, shape ``(max_len, d_model)``, e.g. from
             :func:`helpers.positions.sinusoidal_encoding`.

    Returns a tensor of shape ``(B, T, d_model)``: ``W[ids] * sqrt(d_model)
    + pe[:T]``. Position ``t`` gets row ``t`` of ``pe`` in every sentence of
    the batch. Raises ``ValueError`` when ``T > max_len`` or the widths of
    ``W`` and ``pe`` differ. Introduced on day 7.
    """
    if ids.dim() != 2:
        raise ValueError(f"ids must have shape (B, T), got {tuple(ids.shape)}; "
                         "use ids.unsqueeze(0) for a single sentence.")
    if ids.is_floating_point() or ids.is_complex():
        raise TypeError(f"ids must hold integers (torch.long), not {ids.dtype}.")
    if W.dim() != 2 or pe.dim() != 2:
        raise ValueError("W must have shape (V, d_model) and pe (max_len, "
                         f"d_model); got {tuple(W.shape)} and {tuple(pe.shape)}.")
    d_model = W.shape[1]
    if pe.shape[1] != d_model:
        raise ValueError(f"W has width {d_model} but pe has width {pe.shape[1]}; "
                         "both must be d_model.")
    T, max_len = ids.shape[1], pe.shape[0]
    if T > max_len:
        raise ValueError(f"the sequence has {T} positions but the position "
                         f"table only has {max_len}; build a longer table or "
                         "crop the sequence.")
    tokens = W[ids] * math.sqrt(d_model)  # (B, T, d_model)
    return tokens + pe[:T]                # (T, d_model) broadcasts over B


def mean_pool(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Average the vectors of the real tokens of each sentence, skipping
    ``<pad>`` (id 0).

    Inputs:
        x:   vectors, shape ``(B, T, d)``, e.g. from :func:`embed_with_positions`.
        ids: the token ids behind them, shape ``(B, T)``; 0 marks padding.

    Returns shape ``(B, d)``: for sentence ``b`` the mean of ``x[b, t]`` over
    the positions ``t`` with ``ids[b, t] != 0``. A sentence made only of
    padding gets a zero vector, not NaN. Introduced on day 7.
    """
    if x.dim() != 3 or tuple(ids.shape) != tuple(x.shape[:2]):
        raise ValueError(f"x must have shape (B, T, d) and ids (B, T); got "
                         f"{tuple(x.shape)} and {tuple(ids.shape)}.")
    keep = (ids != 0).to(x.dtype).unsqueeze(-1)    # (B, T, 1)
    total = (x * keep).sum(dim=1)                  # (B, d)
    count = keep.sum(dim=1).clamp_min(1.0)         # (B, 1)
    return total / count                           # (B, d)
