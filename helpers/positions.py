"""Position signals for sequences: the sinusoidal encoding and its offsets.

Attention and pooling treat a sequence as a set, so the model needs a vector
that says *where* each token sits. This module holds the fixed sinusoidal
encoding (sine at even columns, cosine at odd columns), the block-diagonal
rotation that moves it by a fixed offset, and the small pooling functions the
course uses to show why positions matter. Introduced on day 6.
"""

from __future__ import annotations

import math
import operator

import torch

__all__ = [
    "frequencies",
    "offset_rotation",
    "pool_with_positions",
    "relative_dot",
    "sinusoidal_encoding",
    "softmax_pool",
    "wavelengths",
]


def _positive_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise a one-sentence error."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a whole number, not a bool.")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be a whole number, got {type(value).__name__} {value!r}."
        ) from None
    if number < 1:
        raise ValueError(f"{name} must be at least 1, got {number}.")
    return number


def _check_base(base: float) -> float:
    base = float(base)
    if not math.isfinite(base) or base <= 0:
        raise ValueError(f"base must be a positive number, got {base}.")
    return base


def frequencies(d_model: int, base: float = 10000.0) -> torch.Tensor:
    r"""Angular frequency of each sine/cosine pair, shape ``(ceil(d_model / 2),)``.

    Pair ``i`` (columns ``2i`` and ``2i + 1``) turns at
    :math:`\omega_i = \text{base}^{-2i / d_\text{model}}` radians per position.
    For odd ``d_model`` the last pair has only its sine column. Float64, so
    that long positions keep their precision. Introduced on day 6.
    """
    d_model = _positive_int(d_model, "d_model")
    base = _check_base(base)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(d/2),)
    return base ** (-two_i / d_model)


def wavelengths(d_model: int, base: float = 10000.0) -> torch.Tensor:
    r"""Positions needed for pair ``i`` to complete one full turn,
    :math:`\lambda_i = 2\pi / \omega_i`, shape ``(ceil(d_model / 2),)``.

    They grow geometrically from :math:`2\pi` (pair 0) towards
    :math:`2\pi \cdot \text{base}`. Introduced on day 6.
    """
    return 2 * math.pi / frequencies(d_model, base)


def sinusoidal_encoding(n_positions: int, d_model: int,
                        base: float = 10000.0) -> torch.Tensor:
    r"""The fixed sinusoidal position table, shape ``(n_positions, d_model)``.

    Row ``p`` encodes position ``p`` (starting at 0) in the interleaved layout

    .. math::
        PE[p, 2i] = \sin(p\,\omega_i), \quad PE[p, 2i+1] = \cos(p\,\omega_i),
        \quad \omega_i = \text{base}^{-2i/d_\text{model}}.

    Inputs: ``n_positions`` (>= 1) rows, ``d_model`` (>= 1) columns; an odd
    ``d_model`` ends with a sine column whose cosine partner is dropped.
    ``base`` sets the longest wavelength (``2 * pi * base``). Returns float32.
    Raises ``ValueError`` for sizes below 1. Introduced on day 6.
    """
    n_positions = _positive_int(n_positions, "n_positions")
    omega = frequencies(d_model, base)                         # (ceil(d/2),)
    p = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (n, 1)
    angles = p * omega                                         # (n, ceil(d/2))
    pe = torch.empty(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])          # one fewer if odd
    return pe.to(torch.float32)


def offset_rotation(k: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    r"""The matrix that moves the sinusoidal encoding ``k`` positions ahead.

    Returns ``M_k`` of shape ``(d_model, d_model)`` with
    ``sinusoidal_encoding(n, d)[p + k] == sinusoidal_encoding(n, d)[p] @ M_k``
    for every ``p``. It is block-diagonal: pair ``i`` gets the 2x2 block
    ``[[cos(k w_i), -sin(k w_i)], [sin(k w_i), cos(k w_i)]]`` (row vectors
    multiply from the left), and it does not depend on ``p``. ``k`` may be
    negative. ``d_model`` must be even (an odd one leaves a sine column with
    no cosine partner to rotate with), else ``ValueError``. Float32.
    Introduced on day 6.
    """
    d_model = _positive_int(d_model, "d_model")
    if d_model % 2:
        raise ValueError(
            f"offset_rotation needs an even d_model, got {d_model}: the last "
            "sine column of an odd encoding has no cosine partner to rotate with."
        )
    k = operator.index(k)
    theta = k * frequencies(d_model, base)           # (d/2,)
    cos, sin = torch.cos(theta), torch.sin(theta)
    even = torch.arange(0, d_model, 2)               # sine columns
    odd = even + 1                                   # cosine columns
    m = torch.zeros(d_model, d_model, dtype=torch.float64)
    m[even, even], m[even, odd] = cos, -sin
    m[odd, even], m[odd, odd] = sin, cos
    return m.to(torch.float32)


def relative_dot(k: int, d_model: int, base: float = 10000.0) -> float:
    r"""``PE[p] . PE[p + k]`` for an even ``d_model``, which equals
    :math:`\sum_i \cos(k\,\omega_i)` whatever ``p`` is. Introduced on day 6."""
    d_model = _positive_int(d_model, "d_model")
    if d_model % 2:
        raise ValueError(f"relative_dot needs an even d_model, got {d_model}.")
    return float(torch.cos(operator.index(k) * frequencies(d_model, base)).sum())


def softmax_pool(x: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    r"""A weighted average of the rows of ``x`` with weights from a query.

    Inputs: ``x`` of shape ``(T, d)``, ``query`` of shape ``(d,)``. The weights
    are :math:`a = \operatorname{softmax}(x q)`, shape ``(T,)``, and the result
    :math:`\sum_t a_t x_t` has shape ``(d,)``. Reordering the rows of ``x``
    reorders the weights with them, so the result ignores order: this is the
    order-blind core of attention. Introduced on day 6.
    """
    weights = torch.softmax(x @ query, dim=-1)  # (T,)
    return weights @ x                          # (d,)


def pool_with_positions(token_ids: torch.Tensor, table: torch.Tensor,
                        pe: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Softmax-pool a sequence after adding positions, so order matters.

    Inputs: ``token_ids`` ``(T,)``, ``table`` ``(V, d)``, ``pe``
    ``(max_len, d)`` with ``max_len >= T``, ``query`` ``(d,)``. Computes
    ``x = table[token_ids] + pe[:T]`` of shape ``(T, d)``, where position
    ``t`` (the token's place, not its id) selects row ``t`` of ``pe``, and
    returns ``softmax_pool(x, query)`` of shape ``(d,)``. Raises
    ``ValueError`` when ``pe`` has fewer than ``T`` rows. Introduced on day 6.
    """
    T = token_ids.shape[-1]
    if T > pe.shape[0]:
        raise ValueError(f"a sequence of length {T} needs at least {T} rows of "
                         f"positions, but pe has {pe.shape[0]}.")
    x = table[token_ids] + pe[:T]  # (T, d)
    return softmax_pool(x, query)  # (d,)
