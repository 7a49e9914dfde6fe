"""The parts of the Transformer and the whole encoder-decoder (days 16 to 21).

Reference modules for week 3: layer normalisation (day 18), the position-wise
feed-forward network (day 19), sinusoidal and learned positions (day 20), the
encoder block (day 16), the decoder block (day 17), and the encoder-decoder
:class:`Transformer` (day 21), plus :class:`Seq2SeqTransformer`, which adds
token embeddings, positions and an output layer around it.

Every block exists in both orders of normalisation: *post-norm* (the 2017
paper, ``norm_first=False``: ``x = norm(x + sublayer(x))``) and *pre-norm*
(``norm_first=True``: ``x = x + sublayer(norm(x))``). Masks follow the
course convention of :mod:`helpers.attention` (boolean, ``True`` = may
attend). Each module can copy its weights from the matching PyTorch module
(``load_from_torch``) and then gives the same outputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from helpers.attention import MultiHeadAttention, causal_mask, combine_masks
from helpers.positions import sinusoidal_encoding

__all__ = [
    "ACTIVATIONS",
    "DecoderBlock",
    "EncoderBlock",
    "FeedForward",
    "LayerNorm",
    "LearnedPositions",
    "Seq2SeqTransformer",
    "SinusoidalPositions",
    "Transformer",
]

ACTIVATIONS = ("relu", "gelu", "swiglu")


# --------------------------------------------------------------------------
# LayerNorm and the feed-forward network


class LayerNorm(nn.Module):
    r"""Layer normalisation, written out (day 18).

    Each position's feature vector is shifted to mean 0 and scaled to
    variance 1 (the biased variance, over the last axis only), then scaled
    and shifted by learned vectors:
    :math:`y = \gamma \odot (x - \mu)/\sqrt{\sigma^2 + \epsilon} + \beta`.

    Inputs to the constructor: ``d_model`` (size of the last axis), ``eps``
    (added to the variance), ``bias`` (whether to learn ``beta``).
    Parameters: ``weight`` (gamma, ones) and ``bias`` (beta, zeros), named as
    in ``nn.LayerNorm`` so that state dicts are interchangeable.
    Introduced on day 18.
    """

    def __init__(self, d_model: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        self.d_model, self.eps = d_model, eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` of shape ``(..., d_model)``; same shape out."""
        mean = x.mean(dim=-1, keepdim=True)                     # (..., 1)
        var = (x - mean).pow(2).mean(dim=-1, keepdim=True)      # (..., 1)
        x_hat = (x - mean) / torch.sqrt(var + self.eps)         # (..., d_model)
        y = x_hat * self.weight
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"{self.d_model}, eps={self.eps}"


class FeedForward(nn.Module):
    r"""The position-wise feed-forward network (day 19).

    The same two-layer network runs on every position separately:
    ``linear2(dropout(act(linear1(x))))`` for ``activation`` ``"relu"`` or
    ``"gelu"`` (exact, erf-based GELU, as PyTorch's ``"gelu"``). For
    ``"swiglu"`` a second input layer ``gate`` decides how much of each
    hidden unit passes: ``linear2(dropout(silu(gate(x)) * linear1(x)))``.

    Inputs to the constructor: ``d_model``, ``d_ff`` (hidden width, usually
    ``4 * d_model``; SwiGLU often uses about ``8/3 * d_model`` to keep the
    parameter count), ``activation``, ``dropout``, ``bias``.
    Parameters: ``linear1`` ``(d_model -> d_ff)``, ``linear2``
    ``(d_ff -> d_model)`` and, for SwiGLU only, ``gate`` ``(d_model -> d_ff)``.
    With biases that is ``2 * d_model * d_ff + d_ff + d_model`` parameters,
    or ``3 * d_model * d_ff + 2 * d_ff + d_model`` for SwiGLU.
    Introduced on day 19.
    """

    def __init__(self, d_model: int, d_ff: int, activation: str = "relu",
                 dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, "
                             f"got {activation!r}.")
        self.activation = activation
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias)
        if activation == "swiglu":
            self.gate = nn.Linear(d_model, d_ff, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs: ``x`` of shape ``(..., d_model)``. Returns the same shape."""
        hidden = self.linear1(x)                                # (..., d_ff)
        if self.activation == "relu":
            hidden = F.relu(hidden)
        elif self.activation == "gelu":
            hidden = F.gelu(hidden)
        else:
            hidden = F.silu(self.gate(x)) * hidden              # (..., d_ff)
        return self.linear2(self.dropout(hidden))               # (..., d_model)


# --------------------------------------------------------------------------
# positions


class SinusoidalPositions(nn.Module):
    """Add the fixed sinusoidal position encoding to embeddings (day 20).

    Uses :func:`helpers.positions.sinusoidal_encoding` (day 6): sine at even
    columns, cosine at odd ones. Nothing is learned, and positions beyond
    ``max_len`` are computed on the fly, so longer sequences than seen in
    training still get an encoding.

    Inputs to the constructor: ``d_model``, ``max_len`` (rows kept in the
    buffer ``table``), ``base`` (10000 in the paper), ``dropout`` (applied
    to the sum). Introduced on day 20.
    """

    def __init__(self, d_model: int, max_len: int = 512, base: float = 10000.0,
                 dropout: float = 0.0):
        super().__init__()
        self.d_model, self.max_len, self.base = d_model, max_len, base
        self.register_buffer("table", sinusoidal_encoding(max_len, d_model, base),
                             persistent=False)               # (max_len, d_model)
        self.dropout = nn.Dropout(dropout)

    def encodings(self, T: int, offset: int = 0) -> torch.Tensor:
        """The encodings of positions ``offset .. offset + T - 1``, ``(T, d_model)``."""
        end = offset + T
        if end <= self.max_len:
            return self.table[offset:end]
        longer = sinusoidal_encoding(end, self.d_model, self.base)
        return longer[offset:].to(self.table.device)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Inputs: ``x`` embeddings of shape ``(B, T, d_model)``; ``offset``
        the position of the first row (for step-by-step decoding).
        Returns ``x + PE[offset:offset + T]``, shape ``(B, T, d_model)``."""
        pe = self.encodings(x.size(-2), offset).to(x.dtype)    # (T, d_model)
        return self.dropout(x + pe)


class LearnedPositions(nn.Module):
    """Add a learned vector per position to embeddings (day 20).

    Inputs to the constructor: ``d_model``, ``max_len`` (how many positions
    have a vector; there is nothing to use beyond it), ``dropout``.
    Parameters: ``embedding``, an ``nn.Embedding(max_len, d_model)``
    initialised with standard deviation 0.02. Introduced on day 20.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.dropout = nn.Dropout(dropout)

    def encodings(self, T: int, offset: int = 0) -> torch.Tensor:
        """The vectors of positions ``offset .. offset + T - 1``, ``(T, d_model)``."""
        if offset + T > self.max_len:
            raise ValueError(
                f"learned positions exist for positions 0..{self.max_len - 1} "
                f"only, but this sequence needs position {offset + T - 1}; train "
                "with a larger max_len or use SinusoidalPositions."
            )
        positions = torch.arange(offset, offset + T,
                                 device=self.embedding.weight.device)  # (T,)
        return self.embedding(positions)                                # (T, d)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Inputs: ``x`` of shape ``(B, T, d_model)``. Returns ``x`` plus the
        vectors of positions ``offset .. offset + T - 1``, same shape."""
        return self.dropout(x + self.encodings(x.size(-2), offset))


# --------------------------------------------------------------------------
# copying from PyTorch


def _copy_linear(dst: nn.Linear, src: nn.Linear, what: str) -> None:
    if dst.weight.shape != src.weight.shape:
        raise ValueError(f"{what}: weight shape {tuple(dst.weight.shape)} here, "
                         f"{tuple(src.weight.shape)} in the PyTorch module.")
    if (dst.bias is None) != (src.bias is None):
        raise ValueError(f"{what}: one module has a bias and the other does not.")
    dst.weight.copy_(src.weight)
    if dst.bias is not None:
        dst.bias.copy_(src.bias)


def _copy_norm(dst: LayerNorm, src: nn.LayerNorm, what: str) -> None:
    if dst.weight.shape != src.weight.shape:
        raise ValueError(f"{what}: size {dst.weight.shape[0]} here, "
                         f"{src.weight.shape[0]} in the PyTorch module.")
    dst.weight.copy_(src.weight)
    if dst.bias is not None:
        if src.bias is None:
            raise ValueError(f"{what}: the PyTorch LayerNorm has no bias.")
        dst.bias.copy_(src.bias)
    dst.eps = src.eps


def _torch_activation(layer) -> str:
    act = layer.activation
    if act is F.relu or isinstance(act, nn.ReLU):
        return "relu"
    if act is F.gelu or (isinstance(act, nn.GELU) and act.approximate == "none"):
        return "gelu"
    raise ValueError("only PyTorch layers with activation 'relu' or 'gelu' "
                     "can be copied.")


def _check_torch_layer(block, layer, kind) -> None:
    if not isinstance(layer, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(layer).__name__}.")
    if layer.norm_first != block.norm_first:
        raise ValueError(f"the PyTorch layer has norm_first={layer.norm_first} "
                         f"but this block was built with "
                         f"norm_first={block.norm_first}.")
    if _torch_activation(layer) != block.ff.activation:
        raise ValueError(f"the PyTorch layer uses {_torch_activation(layer)} but "
                         f"this block uses {block.ff.activation}.")


# --------------------------------------------------------------------------
# blocks


class EncoderBlock(nn.Module):
    """One encoder block: self-attention then feed-forward, each wrapped in a
    residual connection and a LayerNorm (day 16).

    Post-norm (``norm_first=False``, the 2017 paper)::

        x = norm1(x + dropout(self_attn(x)))
        x = norm2(x + dropout(ff(x)))

    Pre-norm (``norm_first=True``; the residual path stays un-normalised)::

        x = x + dropout(self_attn(norm1(x)))
        x = x + dropout(ff(norm2(x)))

    Inputs to the constructor: ``d_model``, ``n_heads``, ``d_ff``,
    ``dropout``, ``norm_first``, ``activation`` (see :class:`FeedForward`),
    ``eps`` (LayerNorm). Submodules: ``self_attn``
    (:class:`~helpers.attention.MultiHeadAttention`), ``ff``
    (:class:`FeedForward`), ``norm1``, ``norm2`` (:class:`LayerNorm`),
    ``dropout1``, ``dropout2``. Introduced on day 16.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu",
                 eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.ff = FeedForward(d_model, d_ff, activation, dropout)
        self.norm1 = LayerNorm(d_model, eps)
        self.norm2 = LayerNorm(d_model, eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _attend(self, x, mask):
        out, weights = self.self_attn(x, mask=mask, return_weights=True)
        return self.dropout1(out), weights

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                return_weights: bool = False):
        """Inputs: ``x`` of shape ``(B, T, d_model)``; ``mask`` a course mask
        broadcasting to ``(B, n_heads, T, T)``, usually the source padding
        mask ``(B, 1, 1, T)``. Returns ``(B, T, d_model)``, and with
        ``return_weights=True`` also the attention weights
        ``(B, n_heads, T, T)``."""
        if self.norm_first:
            a, weights = self._attend(self.norm1(x), mask)
            x = x + a                                           # (B, T, d_model)
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:
            a, weights = self._attend(x, mask)
            x = self.norm1(x + a)                               # (B, T, d_model)
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return (x, weights) if return_weights else x

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerEncoderLayer) -> EncoderBlock:
        """Copy the weights of a ``torch.nn.TransformerEncoderLayer`` (day 16).

        Inputs: ``layer`` with the same sizes, ``norm_first`` and activation
        (``"relu"`` or ``"gelu"``). Returns ``self``; raises ``ValueError``
        when the two do not match.
        """
        _check_torch_layer(self, layer, nn.TransformerEncoderLayer)
        self.self_attn.load_from_torch(layer.self_attn)
        _copy_linear(self.ff.linear1, layer.linear1, "linear1")
        _copy_linear(self.ff.linear2, layer.linear2, "linear2")
        _copy_norm(self.norm1, layer.norm1, "norm1")
        _copy_norm(self.norm2, layer.norm2, "norm2")
        return self


class DecoderBlock(nn.Module):
    """One decoder block: causal self-attention, cross-attention to the
    encoder output, then feed-forward, each with a residual connection and
    a LayerNorm (day 17).

    Post-norm (``norm_first=False``)::

        x = norm1(x + dropout(self_attn(x, causal mask)))
        x = norm2(x + dropout(cross_attn(x, memory, memory)))
        x = norm3(x + dropout(ff(x)))

    Pre-norm (``norm_first=True``) applies ``norm1..3`` to the input of each
    sub-layer instead, ``x = x + dropout(sublayer(norm(x)))``; the memory is
    used as it comes.

    Inputs to the constructor: as :class:`EncoderBlock`. Submodules:
    ``self_attn``, ``cross_attn``, ``ff``, ``norm1``, ``norm2``, ``norm3``,
    ``dropout1..3``. Introduced on day 17.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False, activation: str = "relu",
                 eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.ff = FeedForward(d_model, d_ff, activation, dropout)
        self.norm1 = LayerNorm(d_model, eps)
        self.norm2 = LayerNorm(d_model, eps)
        self.norm3 = LayerNorm(d_model, eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor,
                tgt_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None, causal: bool = True,
                return_weights: bool = False):
        """Inputs: ``x`` the target so far, ``(B, T, d_model)``; ``memory``
        the encoder output, ``(B, S, d_model)``; ``tgt_mask`` an extra mask
        for self-attention (e.g. target padding ``(B, 1, 1, T)``), combined
        with the causal mask unless ``causal=False``; ``memory_mask`` for
        cross-attention, broadcasting to ``(B, n_heads, T, S)`` (e.g. source
        padding ``(B, 1, 1, S)``).

        Returns ``(B, T, d_model)``, and with ``return_weights=True`` also
        ``(self_weights, cross_weights)`` of shapes ``(B, n_heads, T, T)``
        and ``(B, n_heads, T, S)``.
        """
        T = x.size(-2)
        self_mask = combine_masks(causal_mask(T, x.device) if causal else None,
                                  tgt_mask)                     # (.., T, T)
        if self.norm_first:
            a, w_self = self.self_attn(self.norm1(x), mask=self_mask,
                                       return_weights=True)
            x = x + self.dropout1(a)                            # (B, T, d_model)
            c, w_cross = self.cross_attn(self.norm2(x), memory, memory,
                                         mask=memory_mask, return_weights=True)
            x = x + self.dropout2(c)
            x = x + self.dropout3(self.ff(self.norm3(x)))
        else:
            a, w_self = self.self_attn(x, mask=self_mask, return_weights=True)
            x = self.norm1(x + self.dropout1(a))                # (B, T, d_model)
            c, w_cross = self.cross_attn(x, memory, memory, mask=memory_mask,
                                         return_weights=True)
            x = self.norm2(x + self.dropout2(c))
            x = self.norm3(x + self.dropout3(self.ff(x)))
        return (x, (w_self, w_cross)) if return_weights else x

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerDecoderLayer) -> DecoderBlock:
        """Copy the weights of a ``torch.nn.TransformerDecoderLayer`` (day 17).

        PyTorch calls the cross-attention ``multihead_attn``. Returns ``self``;
        raises ``ValueError`` when sizes, ``norm_first`` or the activation
        differ.
        """
        _check_torch_layer(self, layer, nn.TransformerDecoderLayer)
        self.self_attn.load_from_torch(layer.self_attn)
        self.cross_attn.load_from_torch(layer.multihead_attn)
        _copy_linear(self.ff.linear1, layer.linear1, "linear1")
        _copy_linear(self.ff.linear2, layer.linear2, "linear2")
        _copy_norm(self.norm1, layer.norm1, "norm1")
        _copy_norm(self.norm2, layer.norm2, "norm2")
        _copy_norm(self.norm3, layer.norm3, "norm3")
        return self


# --------------------------------------------------------------------------
# the whole model


class Transformer(nn.Module):
    """The encoder-decoder Transformer on embedded inputs (day 21).

    A stack of :class:`EncoderBlock` turns the source into a memory, a stack
    of :class:`DecoderBlock` reads the target with causal self-attention and
    attends to that memory. Like ``torch.nn.Transformer`` (whose defaults
    these are), it takes and returns vectors, not token ids; see
    :class:`Seq2SeqTransformer` for the model with embeddings.

    Inputs to the constructor: ``d_model``, ``n_heads``,
    ``n_encoder_layers``, ``n_decoder_layers``, ``d_ff``, ``dropout``,
    ``norm_first``, ``activation``, ``eps``, and ``final_norm``: a LayerNorm
    after each stack (``encoder_norm``, ``decoder_norm``). A pre-norm stack
    needs it, because its residual stream is never normalised; PyTorch adds
    it for post-norm stacks too, so it is on by default to match.
    Submodules: ``encoder_layers``, ``decoder_layers`` (``nn.ModuleList``),
    ``encoder_norm``, ``decoder_norm``. Introduced on day 21.
    """

    def __init__(self, d_model: int = 512, n_heads: int = 8,
                 n_encoder_layers: int = 6, n_decoder_layers: int = 6,
                 d_ff: int = 2048, dropout: float = 0.1, norm_first: bool = False,
                 activation: str = "relu", eps: float = 1e-5,
                 final_norm: bool = True):
        super().__init__()
        self.d_model, self.n_heads, self.norm_first = d_model, n_heads, norm_first
        self.encoder_layers = nn.ModuleList(
            EncoderBlock(d_model, n_heads, d_ff, dropout, norm_first, activation, eps)
            for _ in range(n_encoder_layers))
        self.decoder_layers = nn.ModuleList(
            DecoderBlock(d_model, n_heads, d_ff, dropout, norm_first, activation, eps)
            for _ in range(n_decoder_layers))
        self.encoder_norm = LayerNorm(d_model, eps) if final_norm else nn.Identity()
        self.decoder_norm = LayerNorm(d_model, eps) if final_norm else nn.Identity()

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None
               ) -> torch.Tensor:
        """Inputs: ``src`` ``(B, S, d_model)``; ``src_mask`` e.g. the source
        padding mask ``(B, 1, 1, S)``. Returns the memory ``(B, S, d_model)``."""
        x = src
        for block in self.encoder_layers:
            x = block(x, src_mask)                              # (B, S, d_model)
        return self.encoder_norm(x)

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor,
               tgt_mask: torch.Tensor | None = None,
               memory_mask: torch.Tensor | None = None,
               causal: bool = True) -> torch.Tensor:
        """Inputs: ``tgt`` ``(B, T, d_model)``; ``memory`` ``(B, S, d_model)``;
        masks as in :meth:`DecoderBlock.forward`. Returns ``(B, T, d_model)``."""
        x = tgt
        for block in self.decoder_layers:
            x = block(x, memory, tgt_mask, memory_mask, causal)  # (B, T, d_model)
        return self.decoder_norm(x)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor,
                src_mask: torch.Tensor | None = None,
                tgt_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None,
                causal: bool = True) -> torch.Tensor:
        """Run the encoder on ``src`` and the decoder on ``tgt`` (day 21).

        Inputs: ``src`` ``(B, S, d_model)`` and ``tgt`` ``(B, T, d_model)``,
        already embedded; ``src_mask`` for encoder self-attention,
        ``tgt_mask`` added to the decoder's causal mask, ``memory_mask`` for
        cross-attention. With padded sources pass the same padding mask
        ``(B, 1, 1, S)`` as ``src_mask`` and ``memory_mask``.
        Returns ``(B, T, d_model)``.
        """
        memory = self.encode(src, src_mask)                     # (B, S, d_model)
        return self.decode(tgt, memory, tgt_mask, memory_mask, causal)

    @torch.no_grad()
    def load_from_torch(self, model: nn.Transformer) -> Transformer:
        """Copy every weight of a ``torch.nn.Transformer`` (day 21).

        Inputs: ``model`` with the same sizes, layer counts, ``norm_first``
        and activation. Returns ``self``; raises ``ValueError`` on a mismatch.
        """
        if not isinstance(model, nn.Transformer):
            raise TypeError(f"expected nn.Transformer, got {type(model).__name__}.")
        pairs = ((self.encoder_layers, model.encoder.layers, "encoder"),
                 (self.decoder_layers, model.decoder.layers, "decoder"))
        for ours, theirs, what in pairs:
            if len(ours) != len(theirs):
                raise ValueError(f"{len(ours)} {what} layers here, {len(theirs)} "
                                 "in the PyTorch model.")
            for block, layer in zip(ours, theirs):
                block.load_from_torch(layer)
        for ours, theirs, what in ((self.encoder_norm, model.encoder.norm, "encoder"),
                                   (self.decoder_norm, model.decoder.norm, "decoder")):
            if isinstance(ours, LayerNorm) != (theirs is not None):
                raise ValueError(f"the {what} final norm is present in only one "
                                 "of the two models.")
            if theirs is not None:
                _copy_norm(ours, theirs, f"{what} norm")
        return self


class Seq2SeqTransformer(nn.Module):
    """A complete translation-style model: token ids in, next-token logits
    out (day 21).

    Source and target tokens are embedded (scaled by ``sqrt(d_model)``, as in
    the paper), positions are added, a :class:`Transformer` runs, and a
    linear layer ``generator`` gives a score for every target token.

    Inputs to the constructor: ``src_vocab``, ``tgt_vocab``, ``d_model``,
    ``n_heads``, ``n_encoder_layers``, ``n_decoder_layers``, ``d_ff``,
    ``dropout``, ``norm_first``, ``activation``, ``max_len``, ``positions``
    (``"sinusoidal"`` or ``"learned"``) and ``pad_id`` (token id of padding:
    hidden from attention; ``None`` for no padding). Unlike
    :class:`Transformer` it is pre-norm by default, which trains more
    reliably for small models and short schedules (day 18). Submodules:
    ``src_embed``, ``tgt_embed``, ``src_positions``, ``tgt_positions``,
    ``transformer``, ``generator``. Introduced on day 21.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64,
                 n_heads: int = 4, n_encoder_layers: int = 2,
                 n_decoder_layers: int = 2, d_ff: int = 256, dropout: float = 0.1,
                 norm_first: bool = True, activation: str = "relu",
                 max_len: int = 512, positions: str = "sinusoidal",
                 pad_id: int | None = 0):
        super().__init__()
        if positions not in ("sinusoidal", "learned"):
            raise ValueError("positions must be 'sinusoidal' or 'learned', got "
                             f"{positions!r}.")
        self.d_model, self.pad_id = d_model, pad_id
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        make = SinusoidalPositions if positions == "sinusoidal" else LearnedPositions
        self.src_positions = make(d_model, max_len=max_len, dropout=dropout)
        self.tgt_positions = make(d_model, max_len=max_len, dropout=dropout)
        self.transformer = Transformer(d_model, n_heads, n_encoder_layers,
                                       n_decoder_layers, d_ff, dropout, norm_first,
                                       activation)
        self.generator = nn.Linear(d_model, tgt_vocab)

    def _pad_mask(self, ids: torch.Tensor) -> torch.Tensor | None:
        if self.pad_id is None:
            return None
        return (ids != self.pad_id)[:, None, None, :]           # (B, 1, 1, T)

    def _embed(self, ids, embed, positions, offset=0):
        x = embed(ids) * math.sqrt(self.d_model)                # (B, T, d_model)
        return positions(x, offset)

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        """Inputs: ``src_ids`` ``(B, S)``. Returns the memory ``(B, S, d_model)``."""
        x = self._embed(src_ids, self.src_embed, self.src_positions)
        return self.transformer.encode(x, self._pad_mask(src_ids))

    def decode(self, tgt_ids: torch.Tensor, memory: torch.Tensor,
               src_ids: torch.Tensor) -> torch.Tensor:
        """Inputs: ``tgt_ids`` ``(B, T)``, ``memory`` ``(B, S, d_model)``,
        ``src_ids`` ``(B, S)`` (for the padding mask). Returns logits
        ``(B, T, tgt_vocab)``; row ``t`` scores the token after ``tgt_ids[:, t]``."""
        y = self._embed(tgt_ids, self.tgt_embed, self.tgt_positions)
        h = self.transformer.decode(y, memory, self._pad_mask(tgt_ids),
                                    self._pad_mask(src_ids))    # (B, T, d_model)
        return self.generator(h)                                # (B, T, V_tgt)

    def forward(self, src_ids: torch.Tensor, tgt_ids: torch.Tensor) -> torch.Tensor:
        """Inputs: ``src_ids`` ``(B, S)`` and ``tgt_ids`` ``(B, T)`` (integer
        token ids). Returns logits ``(B, T, tgt_vocab)``."""
        return self.decode(tgt_ids, self.encode(src_ids), src_ids)

    @torch.no_grad()
    def greedy_decode(self, src_ids: torch.Tensor, bos_id: int, eos_id: int,
                      max_new_tokens: int = 50) -> torch.Tensor:
        """Translate by picking the most likely next token each step (day 21).

        Inputs: ``src_ids`` ``(B, S)``; ``bos_id`` the start token;
        ``eos_id`` the end token; ``max_new_tokens`` a limit. Returns
        ``(B, 1 + n)`` ids starting with ``bos_id``; a sequence that has
        produced ``eos_id`` continues with ``pad_id`` (or ``eos_id``).
        The whole prefix is re-run every step: simple, not fast.
        """
        memory = self.encode(src_ids)                           # (B, S, d_model)
        out = torch.full((src_ids.size(0), 1), bos_id, dtype=torch.long,
                         device=src_ids.device)                 # (B, 1)
        done = torch.zeros(src_ids.size(0), dtype=torch.bool, device=src_ids.device)
        filler = eos_id if self.pad_id is None else self.pad_id
        for _ in range(max_new_tokens):
            logits = self.decode(out, memory, src_ids)[:, -1]   # (B, V_tgt)
            nxt = logits.argmax(dim=-1)                         # (B,)
            nxt = torch.where(done, torch.full_like(nxt, filler), nxt)
            out = torch.cat([out, nxt[:, None]], dim=1)         # (B, t + 1)
            done |= nxt == eos_id
            if done.all():
                break
        return out
