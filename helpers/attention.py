"""Attention, from one query to many heads (days 11 to 14, and day 25).

Reference code for the attention days: additive attention (day 11), scaled
dot-product attention with masks (day 12), multi-head attention with its head
split and merge (day 13), and a fused-projection variant (day 25).

The mask convention
-------------------
One convention holds for every mask in the course, and :data:`MASK_CONVENTION`
says it in one sentence for a notebook to print:

* a mask is a **boolean** tensor;
* ``True`` means **"this query may attend to this key"** (keep), ``False``
  means the key is hidden from that query;
* it broadcasts to the attention scores, shape ``(B, n_heads, T_q, T_k)``:
  a causal mask is ``(T, T)``, a padding mask is ``(B, 1, 1, T_k)``, and masks
  combine with ``&``.

This is the rule that ``torch.nn.functional.scaled_dot_product_attention``
uses for a boolean ``attn_mask``. ``nn.MultiheadAttention`` and
``nn.Transformer`` use the opposite rule (``True`` means "blocked", and a
float mask is added to the scores, ``-inf`` meaning blocked);
:func:`from_key_padding_mask` and :func:`from_attn_mask` translate from them,
:func:`to_key_padding_mask` and :func:`to_attn_mask` translate back.

A masked key gets a weight of exactly zero. A query whose keys are *all*
masked (an empty sequence, say) has nothing to average; the course defines
its weights as all zero, so its output is the zero vector, and both the
output and the gradients stay finite instead of turning into NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "MASK_CONVENTION",
    "AdditiveAttention",
    "FusedMultiHeadAttention",
    "MultiHeadAttention",
    "causal_mask",
    "combine_masks",
    "from_attn_mask",
    "from_key_padding_mask",
    "masked_softmax",
    "merge_heads",
    "padding_mask",
    "scaled_dot_product_attention",
    "split_heads",
    "to_attn_mask",
    "to_key_padding_mask",
]

MASK_CONVENTION = (
    "Course masks are boolean: True means the query may attend to the key,\n"
    "False hides the key. They broadcast to the scores (B, n_heads, T_q, T_k):\n"
    "causal (T, T), padding (B, 1, 1, T_k); combine them with &.\n"
    "A query whose keys are all hidden gets zero weights and a zero output."
)


# --------------------------------------------------------------------------
# masks


def causal_mask(T: int, device=None) -> torch.Tensor:
    """The mask that lets position ``t`` see positions ``0..t`` only (day 12).

    Inputs: ``T`` the sequence length; ``device`` where to create it.
    Returns a boolean ``(T, T)`` tensor, ``True`` on and below the diagonal:
    row ``t`` (a query) may attend to columns ``0..t`` (keys), never to a
    later position. Introduced on day 12.
    """
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()  # (T, T)


def padding_mask(lengths, T: int | None = None) -> torch.Tensor:
    """A key mask that hides the padding at the end of each sequence (day 12).

    Inputs: ``lengths`` the true length of each sequence, a list or a
    ``(B,)`` integer tensor; ``T`` the padded length (default: the longest).
    Returns a boolean ``(B, 1, 1, T)`` tensor, ``True`` at real tokens
    (``t < lengths[b]``), ready to broadcast over heads and queries. For
    attention without a heads axis, use ``mask[:, 0]`` of shape ``(B, 1, T)``.
    Introduced on day 12.
    """
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.is_floating_point():
        raise ValueError("lengths must be a 1-D list or tensor of whole numbers, "
                         f"got shape {tuple(lengths.shape)} {lengths.dtype}.")
    T = int(lengths.max()) if T is None else int(T)
    if (lengths < 0).any() or (lengths > T).any():
        raise ValueError(f"every length must lie between 0 and T={T}, got "
                         f"{lengths.tolist()}.")
    positions = torch.arange(T, device=lengths.device)     # (T,)
    keep = positions[None, :] < lengths[:, None]            # (B, T)
    return keep[:, None, None, :]                           # (B, 1, 1, T)


def combine_masks(*masks) -> torch.Tensor | None:
    """Combine course masks with logical AND, skipping ``None`` (day 17).

    Inputs: any number of boolean masks (or ``None``) that broadcast to one
    another, e.g. a causal ``(T, T)`` and a padding ``(B, 1, 1, T)`` mask.
    Returns their broadcast AND, e.g. ``(B, 1, T, T)``, or ``None`` when every
    input is ``None``. Introduced on day 17.
    """
    result = None
    for mask in masks:
        if mask is None:
            continue
        _require_bool(mask)
        result = mask if result is None else result & mask.to(result.device)
    return result


def _keep_from_torch(mask: torch.Tensor, name: str) -> torch.Tensor:
    """PyTorch's "True or -inf means blocked" to the course's "True means keep"."""
    if mask.dtype == torch.bool:
        return ~mask
    if mask.is_floating_point():
        blocked = torch.isneginf(mask)
        if not ((mask == 0) | blocked).all():
            raise ValueError(
                f"a float {name} can become a boolean mask only when it holds 0 "
                "(keep) and -inf (blocked); other values are soft biases that "
                "a boolean mask cannot express."
            )
        return ~blocked
    raise TypeError(f"{name} must be a bool or float tensor, got {mask.dtype}.")


def from_key_padding_mask(key_padding_mask: torch.Tensor) -> torch.Tensor:
    """Translate PyTorch's ``key_padding_mask`` into a course mask (day 13).

    Inputs: ``key_padding_mask`` of shape ``(B, T_k)`` as ``nn.MultiheadAttention``
    takes it: boolean with ``True`` at padding (ignored keys), or float with
    ``-inf`` at padding and ``0`` elsewhere. Returns a boolean
    ``(B, 1, 1, T_k)`` mask, ``True`` at real keys. Introduced on day 13.
    """
    if key_padding_mask.dim() != 2:
        raise ValueError("key_padding_mask must have shape (B, T_k), got "
                         f"{tuple(key_padding_mask.shape)}.")
    keep = _keep_from_torch(key_padding_mask, "key_padding_mask")  # (B, T_k)
    return keep[:, None, None, :]                                   # (B, 1, 1, T_k)


def from_attn_mask(attn_mask: torch.Tensor, n_heads: int | None = None
                   ) -> torch.Tensor:
    """Translate PyTorch's ``attn_mask`` into a course mask (day 13).

    Inputs: ``attn_mask`` as ``nn.MultiheadAttention`` or ``nn.Transformer``
    take it: boolean with ``True`` where attention is *not* allowed, or float
    added to the scores (``-inf`` blocked, ``0`` allowed); shape
    ``(T_q, T_k)``, or ``(B * n_heads, T_q, T_k)`` in which case ``n_heads``
    must be given. Returns a boolean mask, ``True`` where attention is
    allowed: ``(T_q, T_k)``, or ``(B, n_heads, T_q, T_k)`` for a 3-D input.
    Introduced on day 13.
    """
    keep = _keep_from_torch(attn_mask, "attn_mask")
    if keep.dim() == 2:
        return keep                                        # (T_q, T_k)
    if keep.dim() == 3:
        if n_heads is None:
            raise ValueError("a 3-D attn_mask has shape (B * n_heads, T_q, T_k); "
                             "pass n_heads so that it can be split.")
        return keep.reshape(-1, n_heads, *keep.shape[-2:])  # (B, h, T_q, T_k)
    raise ValueError("attn_mask must have 2 or 3 dimensions, got "
                     f"{tuple(attn_mask.shape)}.")


def to_key_padding_mask(mask: torch.Tensor) -> torch.Tensor:
    """Translate a course padding mask into PyTorch's ``key_padding_mask``.

    Inputs: a boolean course mask of shape ``(B, 1, 1, T_k)`` or ``(B, T_k)``
    (``True`` at real keys). Returns a boolean ``(B, T_k)`` tensor with
    ``True`` at padding, as ``nn.MultiheadAttention`` expects.
    Introduced on day 13.
    """
    _require_bool(mask)
    if mask.dim() == 4:
        if mask.shape[1] != 1 or mask.shape[2] != 1:
            raise ValueError("only a padding mask of shape (B, 1, 1, T_k) can "
                             f"become a key_padding_mask, got {tuple(mask.shape)}.")
        mask = mask[:, 0, 0, :]                             # (B, T_k)
    return ~mask


def to_attn_mask(mask: torch.Tensor) -> torch.Tensor:
    """Translate a course ``(T_q, T_k)`` mask into PyTorch's boolean
    ``attn_mask`` (``True`` = not allowed). Introduced on day 13."""
    _require_bool(mask)
    return ~mask


def _require_bool(mask) -> None:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(
            "course masks are boolean tensors with True where a query may "
            f"attend to a key, got {got}; translate a PyTorch mask with "
            "from_attn_mask or from_key_padding_mask."
        )


def _fit_mask(mask: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Check that ``mask`` is boolean and broadcasts to ``scores`` unchanged."""
    _require_bool(mask)
    try:
        shape = torch.broadcast_shapes(mask.shape, scores.shape)
    except RuntimeError:
        shape = None
    if shape != scores.shape:
        raise ValueError(
            f"a mask of shape {tuple(mask.shape)} does not broadcast to the "
            f"scores of shape {tuple(scores.shape)} (..., T_q, T_k); a padding "
            "mask is (B, 1, 1, T_k) with a heads axis, (B, 1, T_k) without one."
        )
    return mask.to(scores.device)


# --------------------------------------------------------------------------
# scaled dot-product attention


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None,
                   dim: int = -1) -> torch.Tensor:
    """Softmax over the keys that the mask keeps (day 12).

    Inputs: ``scores`` of shape ``(..., T_q, T_k)``; ``mask`` a course mask
    (boolean, ``True`` = keep) that broadcasts to ``scores``, or ``None``;
    ``dim`` the key axis. Returns weights of the shape of ``scores``: hidden
    keys get exactly 0, the rest sum to 1 along ``dim``. A row whose keys
    are all hidden gets all-zero weights, with finite gradients: its scores
    are replaced by a constant before the softmax (which would otherwise
    compute 0/0 = NaN) and its weights are zeroed after. Introduced on day 12.
    """
    if mask is None:
        return torch.softmax(scores, dim=dim)
    mask = _fit_mask(mask, scores)
    any_key = mask.any(dim=dim, keepdim=True)                 # (..., T_q, 1)
    scores = scores.masked_fill(~mask, float("-inf"))         # hidden: exp -> 0
    scores = scores.masked_fill(~any_key, 0.0)                # no NaN for empty rows
    weights = torch.softmax(scores, dim=dim)
    return weights.masked_fill(~mask, 0.0)                    # empty rows -> 0


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor,
                                 v: torch.Tensor,
                                 mask: torch.Tensor | None = None,
                                 return_weights: bool = False,
                                 dropout_p: float = 0.0):
    r"""Attention as one formula, :math:`\mathrm{softmax}(QK^\top/\sqrt{d_k})V`
    (day 12).

    Inputs: ``q`` of shape ``(..., T_q, d_k)``, ``k`` of shape
    ``(..., T_k, d_k)``, ``v`` of shape ``(..., T_k, d_v)`` (the leading axes
    are usually ``(B,)`` or ``(B, n_heads)`` and must broadcast);
    ``mask`` a course mask (boolean, ``True`` = may attend) that broadcasts
    to ``(..., T_q, T_k)``; ``dropout_p`` the probability of dropping a
    weight (training only; 0 by default). ``d_k`` is the size of one query
    vector, which in multi-head attention is the head size, not ``d_model``.

    Returns the output of shape ``(..., T_q, d_v)``, and with
    ``return_weights=True`` also the weights ``(..., T_q, T_k)``: they are
    >= 0, each row sums to 1, and hidden keys get exactly 0. A query whose
    keys are all hidden gets zero weights and a zero output (see
    :func:`masked_softmax`). Matches ``F.scaled_dot_product_attention``.
    Introduced on day 12.
    """
    d_k = q.size(-1)
    if k.size(-1) != d_k:
        raise ValueError(f"q and k must have the same last size d_k, got {d_k} "
                         f"and {k.size(-1)}.")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"k and v must hold the same number of keys, got "
                         f"{k.size(-2)} and {v.size(-2)}.")
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)   # (..., T_q, T_k)
    weights = masked_softmax(scores, mask)              # (..., T_q, T_k)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    out = weights @ v                                   # (..., T_q, d_v)
    return (out, weights) if return_weights else out


# --------------------------------------------------------------------------
# additive attention


class AdditiveAttention(nn.Module):
    r"""Additive (Bahdanau-style) attention (day 11).

    A small network scores each key against the query,
    :math:`e_j = w^\top \tanh(W_q s + W_k h_j)`, a softmax turns the scores
    into weights, and the output is the weighted average of the values.

    Inputs to the constructor: ``d_query`` (size of a decoder state),
    ``d_key`` (size of an encoder state), ``d_hidden`` (size of the scoring
    layer). Parameters: ``query_proj`` (``W_q``, no bias), ``key_proj``
    (``W_k`` with the one bias), ``score`` (``w``, no bias).
    Introduced on day 11.
    """

    def __init__(self, d_query: int, d_key: int, d_hidden: int):
        super().__init__()
        self.query_proj = nn.Linear(d_query, d_hidden, bias=False)
        self.key_proj = nn.Linear(d_key, d_hidden)
        self.score = nn.Linear(d_hidden, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor,
                values: torch.Tensor | None = None,
                mask: torch.Tensor | None = None):
        """Attend from ``query`` over ``keys`` (day 11).

        Inputs: ``query`` of shape ``(B, d_query)`` (one decoder step) or
        ``(B, T_q, d_query)``; ``keys`` of shape ``(B, T_k, d_key)``;
        ``values`` of shape ``(B, T_k, d_v)`` (default: the keys); ``mask``
        boolean, ``True`` at keys that may be attended: ``(B, T_k)``, a
        padding mask ``(B, 1, 1, T_k)``, or anything broadcasting to
        ``(B, T_q, T_k)``.

        Returns ``(context, weights)``: ``(B, d_v)`` and ``(B, T_k)`` for a
        single query, ``(B, T_q, d_v)`` and ``(B, T_q, T_k)`` otherwise.
        """
        values = keys if values is None else values
        single = query.dim() == 2
        if single:
            query = query[:, None, :]                        # (B, 1, d_query)
        if mask is not None:
            if mask.dim() == 2:
                mask = mask[:, None, :]                      # (B, 1, T_k)
            elif mask.dim() == 4 and mask.shape[1] == 1:
                mask = mask[:, 0]                            # (B, T_q or 1, T_k)
        q = self.query_proj(query)[:, :, None, :]            # (B, T_q, 1, H)
        k = self.key_proj(keys)[:, None, :, :]               # (B, 1, T_k, H)
        scores = self.score(torch.tanh(q + k)).squeeze(-1)   # (B, T_q, T_k)
        weights = masked_softmax(scores, mask)               # (B, T_q, T_k)
        context = weights @ values                           # (B, T_q, d_v)
        if single:
            return context[:, 0], weights[:, 0]              # (B, d_v), (B, T_k)
        return context, weights


# --------------------------------------------------------------------------
# multi-head attention


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Cut the feature axis into heads and move heads before time (day 13).

    Inputs: ``x`` of shape ``(B, T, d_model)``; ``n_heads`` which divides
    ``d_model``. Returns ``(B, n_heads, T, d_head)`` with
    ``d_head = d_model // n_heads``: head ``h`` holds features
    ``h * d_head`` to ``(h + 1) * d_head - 1`` of every position.
    Introduced on day 13.
    """
    B, T, d_model = x.shape
    if d_model % n_heads:
        raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}.")
    x = x.reshape(B, T, n_heads, d_model // n_heads)    # (B, T, h, d_head)
    return x.transpose(1, 2)                             # (B, h, T, d_head)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """Undo :func:`split_heads`: put the heads side by side again (day 13).

    Inputs: ``x`` of shape ``(B, n_heads, T, d_head)``. Returns
    ``(B, T, n_heads * d_head)``. The transpose must come first, so that
    each position's heads end up next to each other; ``reshape`` (not
    ``view``) copies the now non-contiguous memory. Introduced on day 13.
    """
    B, h, T, d_head = x.shape
    x = x.transpose(1, 2)                                # (B, T, h, d_head)
    return x.reshape(B, T, h * d_head)                   # (B, T, d_model)


def _heads_mask(mask: torch.Tensor | None) -> torch.Tensor | None:
    """A 3-D mask means ``(B, T_q, T_k)``: give it a heads axis."""
    if mask is not None and mask.dim() == 3:
        return mask[:, None]                             # (B, 1, T_q, T_k)
    return mask


def _check_heads(d_model: int, n_heads: int) -> None:
    if d_model < 1 or n_heads < 1 or d_model % n_heads:
        raise ValueError(f"n_heads={n_heads} must be positive and divide "
                         f"d_model={d_model}.")


def _check_torch_mha(mha: nn.MultiheadAttention, d_model: int, n_heads: int,
                     bias: bool) -> None:
    if not isinstance(mha, nn.MultiheadAttention):
        raise TypeError(f"expected nn.MultiheadAttention, got {type(mha).__name__}.")
    if mha.embed_dim != d_model or mha.num_heads != n_heads:
        raise ValueError(
            f"the PyTorch module has embed_dim={mha.embed_dim}, "
            f"num_heads={mha.num_heads}; this one has d_model={d_model}, "
            f"n_heads={n_heads}."
        )
    if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
        raise ValueError("only nn.MultiheadAttention without kdim/vdim, "
                         "add_bias_kv or add_zero_attn can be copied.")
    if (mha.in_proj_bias is not None) != bias:
        raise ValueError(f"bias differs: the PyTorch module has "
                         f"bias={mha.in_proj_bias is not None}, this one {bias}.")


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate query, key, value and output
    projections (day 13).

    Inputs to the constructor: ``d_model`` (model width), ``n_heads`` (which
    must divide ``d_model``; each head works in ``d_head = d_model // n_heads``
    dimensions), ``bias`` (whether the projections have biases), ``dropout``
    (on the attention weights, in training only).

    Parameters: ``q_proj``, ``k_proj``, ``v_proj`` and ``out_proj``, each an
    ``nn.Linear(d_model, d_model)``. Scores are scaled by
    ``1 / sqrt(d_head)``. Introduced on day 13.
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        _check_heads(d_model, n_heads)
        self.d_model, self.n_heads = d_model, n_heads
        self.d_head = d_model // n_heads
        self.bias = bias
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, return_weights: bool = False):
        """Attend from ``query`` to ``key``/``value`` (day 13).

        Inputs: ``query`` of shape ``(B, T_q, d_model)``; ``key`` and
        ``value`` of shape ``(B, T_k, d_model)`` (default: ``key = query``,
        ``value = key``, i.e. self-attention; pass the encoder output for
        cross-attention, where ``T_k`` may differ from ``T_q``); ``mask`` a
        course mask broadcasting to ``(B, n_heads, T_q, T_k)`` (a 3-D mask is
        read as ``(B, T_q, T_k)``). Unbatched ``(T, d_model)`` inputs work too.

        Returns the output ``(B, T_q, d_model)``, and with
        ``return_weights=True`` also the per-head weights
        ``(B, n_heads, T_q, T_k)`` (``.mean(1)`` gives PyTorch's default
        head-averaged weights).
        """
        key = query if key is None else key
        value = key if value is None else value
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query[None], key[None], value[None]
        h = self.n_heads
        q = split_heads(self.q_proj(query), h)           # (B, h, T_q, d_head)
        k = split_heads(self.k_proj(key), h)             # (B, h, T_k, d_head)
        v = split_heads(self.v_proj(value), h)           # (B, h, T_k, d_head)
        p = self.dropout if self.training else 0.0
        out, weights = scaled_dot_product_attention(
            q, k, v, _heads_mask(mask), return_weights=True, dropout_p=p)
        out = self.out_proj(merge_heads(out))            # (B, T_q, d_model)
        if unbatched:
            out, weights = out[0], weights[0]
        return (out, weights) if return_weights else out

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a ``torch.nn.MultiheadAttention`` (day 13).

        Inputs: ``mha`` built with the same ``embed_dim``/``num_heads`` and
        bias setting (``batch_first`` does not matter for the weights).
        PyTorch stacks the three input projections in ``in_proj_weight``
        ``(3 * d_model, d_model)`` in the order query, key, value. Returns
        ``self``. Raises ``ValueError`` when the sizes differ.
        """
        _check_torch_mha(mha, self.d_model, self.n_heads, self.bias)
        w_q, w_k, w_v = mha.in_proj_weight.chunk(3, dim=0)  # 3 x (d, d)
        for proj, w in zip((self.q_proj, self.k_proj, self.v_proj), (w_q, w_k, w_v)):
            proj.weight.copy_(w)
        if self.bias:
            b_q, b_k, b_v = mha.in_proj_bias.chunk(3)
            for proj, b in zip((self.q_proj, self.k_proj, self.v_proj),
                               (b_q, b_k, b_v)):
                proj.bias.copy_(b)
            self.out_proj.bias.copy_(mha.out_proj.bias)
        self.out_proj.weight.copy_(mha.out_proj.weight)
        self.dropout = mha.dropout
        return self


class FusedMultiHeadAttention(nn.Module):
    """Multi-head self-attention with one fused query/key/value projection
    (day 25).

    Inputs to the constructor: as :class:`MultiHeadAttention`. Parameters:
    ``qkv_proj`` an ``nn.Linear(d_model, 3 * d_model)`` whose output holds
    the queries, keys and values side by side (one matrix multiplication
    instead of three), and ``out_proj``. Self-attention only.
    Introduced on day 25.
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        _check_heads(d_model, n_heads)
        self.d_model, self.n_heads = d_model, n_heads
        self.d_head = d_model // n_heads
        self.bias = bias
        self.dropout = dropout
        self.qkv_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                return_weights: bool = False):
        """Self-attention over ``x`` of shape ``(B, T, d_model)`` (day 25).

        ``mask`` broadcasts to ``(B, n_heads, T, T)`` (a 3-D mask is read as
        ``(B, T, T)``). Returns ``(B, T, d_model)``, and with
        ``return_weights=True`` also the weights ``(B, n_heads, T, T)``.
        """
        q, k, v = self.qkv_proj(x).chunk(3, dim=-1)     # 3 x (B, T, d_model)
        h = self.n_heads
        q, k, v = (split_heads(t, h) for t in (q, k, v))  # 3 x (B, h, T, d_head)
        p = self.dropout if self.training else 0.0
        out, weights = scaled_dot_product_attention(
            q, k, v, _heads_mask(mask), return_weights=True, dropout_p=p)
        out = self.out_proj(merge_heads(out))           # (B, T, d_model)
        return (out, weights) if return_weights else out

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> FusedMultiHeadAttention:
        """Copy a ``torch.nn.MultiheadAttention``: its ``in_proj_weight`` is
        already the fused ``(3 * d_model, d_model)`` matrix. Returns ``self``.
        Introduced on day 25."""
        _check_torch_mha(mha, self.d_model, self.n_heads, self.bias)
        self.qkv_proj.weight.copy_(mha.in_proj_weight)
        self.out_proj.weight.copy_(mha.out_proj.weight)
        if self.bias:
            self.qkv_proj.bias.copy_(mha.in_proj_bias)
            self.out_proj.bias.copy_(mha.out_proj.bias)
        self.dropout = mha.dropout
        return self
