"""How big a Transformer is and how much work it does: parameters, FLOPs,
shapes and memory (day 15; reused on days 22 and 60).

Four groups of tools:

* **parameters per part** -- :func:`parameters_by_part` sorts the parameters
  of any module into embeddings, positions, attention, feed-forward, norms
  and output layer; the closed-form formulas (:func:`attention_params`,
  :func:`feed_forward_params`, :func:`seq2seq_params`, ...) give the same
  numbers from the sizes alone.
* **FLOPs per part** -- :func:`attention_flops`, :func:`feed_forward_flops`,
  :func:`seq2seq_flops`, ... as functions of the sequence lengths and widths,
  and :func:`count_flops`, which counts the matrix products of a real forward
  pass. Convention: one multiply-add is **2 FLOPs** (a multiply and an add);
  only matrix products are counted (biases, softmax, norms and activations
  cost O(T * d_model) each and are left out).
* **shapes** -- :func:`trace_shapes` runs a model once with forward hooks and
  records the input and output shapes of every submodule;
  :func:`shape_table` prints them.
* **memory** -- :func:`parameter_memory_bytes`.

:func:`draw_encoder_decoder` draws the encoder-decoder as boxes and arrows,
coloured by part with :data:`PART_COLORS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from helpers.attention import FusedMultiHeadAttention, MultiHeadAttention
from helpers.plotting import COURSE_COLORS
from helpers.transformer import FeedForward, LayerNorm, LearnedPositions

__all__ = [
    "BASE",
    "PARTS",
    "PART_COLORS",
    "PUBLISHED_BASE_PARAMS",
    "ShapeRow",
    "attention_flops",
    "attention_params",
    "count_flops",
    "count_parameters",
    "crossover_length",
    "decoder_block_params",
    "draw_encoder_decoder",
    "embedding_params",
    "encoder_block_params",
    "feed_forward_flops",
    "feed_forward_params",
    "layer_norm_params",
    "linear_flops",
    "linear_params",
    "matmul_flops",
    "output_flops",
    "parameter_memory_bytes",
    "part_of",
    "parameters_by_part",
    "seq2seq_flops",
    "seq2seq_params",
    "shape_table",
    "trace_shapes",
]

PARTS = ("embeddings", "positions", "attention", "feed-forward", "norms",
         "output layer", "other")
"""The parts :func:`parameters_by_part` and :func:`seq2seq_params` report."""

PART_COLORS = {
    "embeddings": COURSE_COLORS[0],
    "positions": COURSE_COLORS[5],
    "attention": COURSE_COLORS[1],
    "attention projections": COURSE_COLORS[1],
    "attention scores": COURSE_COLORS[3],
    "feed-forward": COURSE_COLORS[2],
    "norms": COURSE_COLORS[7],
    "output layer": COURSE_COLORS[4],
    "other": COURSE_COLORS[6],
}
"""One colour per part, used by the diagram and by the charts of day 15."""

BASE = dict(vocab=37000, d_model=512, n_heads=8, n_layers=6, d_ff=2048)
"""The "base" model of *Attention Is All You Need* (2017): a shared
source-target vocabulary of about 37000 byte-pair tokens, 6 encoder and 6
decoder layers."""

PUBLISHED_BASE_PARAMS = 65_000_000
"""The parameter count the paper gives for the base model (Table 3: 65M)."""


# --------------------------------------------------------------------------
# counting parameters in a module


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """The number of parameters of ``module``.

    A parameter shared by two submodules (tied embeddings) counts once, as
    in ``module.parameters()``. With ``trainable_only=True`` only those with
    ``requires_grad`` count.

    Introduced on day 15.
    """
    return sum(p.numel() for p in module.parameters()
               if p.requires_grad or not trainable_only)


_ATTENTION_TYPES = (MultiHeadAttention, FusedMultiHeadAttention,
                    nn.MultiheadAttention)
_NORM_TYPES = (LayerNorm, nn.LayerNorm, nn.RMSNorm)
_FF_NAMES = ("ff", "ffn", "mlp", "feed_forward", "feedforward", "linear1",
             "linear2", "fc1", "fc2")
_OUTPUT_NAMES = ("generator", "lm_head", "head", "output", "classifier",
                 "out_head")


def part_of(name: str, module: nn.Module) -> str | None:
    """The part of the model that ``module`` belongs to, or ``None`` when it
    is a container whose children decide.

    Inputs: ``name`` the dotted name from ``model.named_modules()`` (only the
    last component is read), ``module`` the module itself. The type decides
    first (learned positions, ``nn.Embedding``, the attention modules, the
    course's :class:`~helpers.transformer.FeedForward`, the norms); then the
    name, so that other codebases sort too: ``pos``/``wpe`` -> positions,
    ``embed``/``wte`` -> embeddings, ``attn``/``attention`` -> attention,
    ``ff``/``mlp``/``linear1``/``linear2`` -> feed-forward, ``norm``/``ln``
    -> norms, ``generator``/``lm_head``/``head`` -> output layer.

    Introduced on day 15.
    """
    last = name.rsplit(".", 1)[-1].lower()
    if isinstance(module, LearnedPositions) or last in ("wpe",) or (
            isinstance(module, nn.Embedding) and "pos" in last):
        return "positions"
    if isinstance(module, nn.Embedding) or "embed" in last or last == "wte":
        return "embeddings"
    if isinstance(module, _ATTENTION_TYPES) or "attn" in last or "attention" in last:
        return "attention"
    if isinstance(module, FeedForward) or last in _FF_NAMES:
        return "feed-forward"
    if isinstance(module, _NORM_TYPES) or "norm" in last or last.startswith("ln"):
        return "norms"
    if last in _OUTPUT_NAMES:
        return "output layer"
    return None


def parameters_by_part(model: nn.Module) -> dict[str, int]:
    """Count the parameters of ``model`` per part.

    Walks ``model.named_modules()`` from the top; the first module that
    :func:`part_of` places claims all its parameters, so a parameter shared
    by two modules (tied input and output embeddings) counts once, for the
    part met first. What no module claims is reported as ``"other"``.

    Returns a dict with every name of :data:`PARTS` as key, in that order;
    the values add up to :func:`count_parameters` of the model.

    Introduced on day 15.
    """
    counts = dict.fromkeys(PARTS, 0)
    claimed: set[int] = set()
    for name, module in model.named_modules():
        part = part_of(name, module) if name else None
        if part is None:
            continue
        for p in module.parameters():
            if id(p) not in claimed:
                claimed.add(id(p))
                counts[part] += p.numel()
    for p in model.parameters():
        if id(p) not in claimed:
            claimed.add(id(p))
            counts["other"] += p.numel()
    return counts


# --------------------------------------------------------------------------
# closed-form parameter counts


def linear_params(d_in: int, d_out: int, bias: bool = True) -> int:
    """Parameters of ``nn.Linear(d_in, d_out)``: ``d_in * d_out`` weights plus
    ``d_out`` biases.

    Introduced on day 15.
    """
    return d_in * d_out + (d_out if bias else 0)


def embedding_params(vocab: int, d_model: int) -> int:
    """Parameters of an embedding table, one row of ``d_model`` per token:
    ``vocab * d_model``.

    Introduced on day 15.
    """
    return vocab * d_model


def layer_norm_params(d_model: int, bias: bool = True) -> int:
    """Parameters of a LayerNorm: a scale ``gamma`` and (with ``bias``) a
    shift ``beta``, ``d_model`` each.

    Introduced on day 15.
    """
    return d_model * (2 if bias else 1)


def attention_params(d_model: int, n_heads: int = 1, bias: bool = True) -> int:
    """Parameters of multi-head attention with separate Q, K, V and output
    projections.

    Each of the four projections is a ``d_model x d_model`` matrix (plus
    ``d_model`` biases); the heads share them, each head using a slice of
    ``d_head = d_model / n_heads`` columns, so the count is
    ``4 * d_model**2 + 4 * d_model`` whatever ``n_heads`` is.
    Inputs: ``d_model``, ``n_heads`` (must divide ``d_model``), ``bias``.

    Introduced on day 15.
    """
    if n_heads < 1 or d_model % n_heads:
        raise ValueError(f"n_heads={n_heads} must be positive and divide "
                         f"d_model={d_model}.")
    return 4 * linear_params(d_model, d_model, bias)


def feed_forward_params(d_model: int, d_ff: int, bias: bool = True,
                        activation: str = "relu") -> int:
    """Parameters of the position-wise feed-forward network.

    ``d_model -> d_ff -> d_model``: ``2 * d_model * d_ff`` weights plus
    ``d_ff + d_model`` biases. ``activation="swiglu"`` adds a gate layer
    ``d_model -> d_ff`` (another ``d_model * d_ff + d_ff``).

    Introduced on day 15.
    """
    n = linear_params(d_model, d_ff, bias) + linear_params(d_ff, d_model, bias)
    if activation == "swiglu":
        n += linear_params(d_model, d_ff, bias)
    return n


def encoder_block_params(d_model: int, n_heads: int, d_ff: int,
                         activation: str = "relu") -> int:
    """Parameters of one encoder block: self-attention, feed-forward and two
    LayerNorms.

    Introduced on day 15.
    """
    return (attention_params(d_model, n_heads)
            + feed_forward_params(d_model, d_ff, activation=activation)
            + 2 * layer_norm_params(d_model))


def decoder_block_params(d_model: int, n_heads: int, d_ff: int,
                         activation: str = "relu") -> int:
    """Parameters of one decoder block: self-attention, cross-attention,
    feed-forward and three LayerNorms.

    Introduced on day 15.
    """
    return (2 * attention_params(d_model, n_heads)
            + feed_forward_params(d_model, d_ff, activation=activation)
            + 3 * layer_norm_params(d_model))


def seq2seq_params(src_vocab: int, tgt_vocab: int, d_model: int, n_heads: int,
                   n_encoder_layers: int, n_decoder_layers: int, d_ff: int, *,
                   activation: str = "relu", positions: str = "sinusoidal",
                   max_len: int = 512, share_embeddings: bool = False,
                   tie_output: bool = False, output_bias: bool = True,
                   final_norm: bool = True) -> dict[str, int]:
    """Closed-form parameter counts per part of an encoder-decoder.

    The defaults describe :class:`helpers.transformer.Seq2SeqTransformer`:
    separate source and target embeddings, sinusoidal positions (no
    parameters; ``positions="learned"`` adds ``max_len * d_model`` per side),
    a LayerNorm after each stack (``final_norm``) and an output layer
    ``d_model -> tgt_vocab`` with a bias. ``share_embeddings=True`` uses one
    table for both sides (needs ``src_vocab == tgt_vocab``);
    ``tie_output=True`` reuses the target embedding as the output weight, so
    only the output bias is left.

    Returns a dict keyed by :data:`PARTS`, comparable with
    :func:`parameters_by_part`.

    Introduced on day 15.
    """
    if share_embeddings and src_vocab != tgt_vocab:
        raise ValueError("shared embeddings need src_vocab == tgt_vocab, got "
                         f"{src_vocab} and {tgt_vocab}.")
    emb = (embedding_params(tgt_vocab, d_model) if share_embeddings else
           embedding_params(src_vocab, d_model) + embedding_params(tgt_vocab, d_model))
    out = linear_params(d_model, tgt_vocab, output_bias)
    if tie_output:
        out -= d_model * tgt_vocab
    n_norms = 2 * n_encoder_layers + 3 * n_decoder_layers + (2 if final_norm else 0)
    counts = dict.fromkeys(PARTS, 0)
    counts.update({
        "embeddings": emb,
        "positions": 2 * max_len * d_model if positions == "learned" else 0,
        "attention": (n_encoder_layers + 2 * n_decoder_layers)
        * attention_params(d_model, n_heads),
        "feed-forward": (n_encoder_layers + n_decoder_layers)
        * feed_forward_params(d_model, d_ff, activation=activation),
        "norms": n_norms * layer_norm_params(d_model),
        "output layer": out,
    })
    return counts


# --------------------------------------------------------------------------
# FLOPs (2 per multiply-add, matrix products only)


def matmul_flops(m: int, k: int, n: int) -> int:
    """FLOPs of an ``(m, k) @ (k, n)`` product: ``m * n`` dot products of
    length ``k``, i.e. ``m * k * n`` multiply-adds = ``2 * m * k * n`` FLOPs
   .

    Introduced on day 15.
    """
    return 2 * m * k * n


def linear_flops(T: int, d_in: int, d_out: int) -> int:
    """FLOPs of a linear layer ``d_in -> d_out`` applied to ``T`` positions:
    ``2 * T * d_in * d_out`` (the bias adds are not counted).

    Introduced on day 15.
    """
    return matmul_flops(T, d_in, d_out)


def _attention_parts(T: int, d_model: int, T_kv: int | None = None
                     ) -> tuple[int, int]:
    T_kv = T if T_kv is None else T_kv
    projections = 2 * linear_flops(T, d_model, d_model) \
        + 2 * linear_flops(T_kv, d_model, d_model)          # Q, O and K, V
    scores = 2 * matmul_flops(T, d_model, T_kv)             # QK^T and weights @ V
    return projections, scores


def attention_flops(T: int, d_model: int, T_kv: int | None = None) -> int:
    """FLOPs of one multi-head attention layer, 2 per multiply-add.

    Inputs: ``T`` query positions, ``d_model``, ``T_kv`` key/value positions
    (default ``T``: self-attention; the source length for cross-attention).
    Four projections cost ``2 * (2 T + 2 T_kv) * d_model**2``; the scores
    ``Q K^T`` and the weighted sum ``weights @ V`` cost
    ``2 * T * T_kv * d_model`` each (the heads split ``d_model``, so their
    count drops out). Self-attention: ``8 T d**2 + 4 T**2 d``. A causal mask
    does not save anything here: the masked scores are still computed.

    Introduced on day 15.
    """
    projections, scores = _attention_parts(T, d_model, T_kv)
    return projections + scores


def feed_forward_flops(T: int, d_model: int, d_ff: int,
                       activation: str = "relu") -> int:
    """FLOPs of the feed-forward network on ``T`` positions:
    ``4 * T * d_model * d_ff`` (``6 * ...`` for SwiGLU, which has a third
    matrix).

    Introduced on day 15.
    """
    n = 2 * linear_flops(T, d_model, d_ff)
    if activation == "swiglu":
        n += linear_flops(T, d_model, d_ff)
    return n


def output_flops(T: int, d_model: int, vocab: int) -> int:
    """FLOPs of the output layer, one score per vocabulary entry at each of
    ``T`` positions: ``2 * T * d_model * vocab``.

    Introduced on day 15.
    """
    return linear_flops(T, d_model, vocab)


def seq2seq_flops(src_len: int, tgt_len: int, d_model: int, d_ff: int,
                  tgt_vocab: int, n_encoder_layers: int, n_decoder_layers: int,
                  batch: int = 1, activation: str = "relu") -> dict[str, int]:
    """FLOPs of one forward pass of an encoder-decoder, per part.

    Inputs: ``src_len`` (S) and ``tgt_len`` (T) positions, the widths, the
    output vocabulary, the layer counts and ``batch`` (everything scales
    with it). Parts: ``"attention projections"`` (linear in the lengths),
    ``"attention scores"`` (``Q K^T`` and ``weights @ V``: quadratic),
    ``"feed-forward"`` and ``"output layer"``. Embedding lookups and
    sinusoidal positions do no multiplications. Matches :func:`count_flops`
    on :class:`~helpers.transformer.Seq2SeqTransformer`.

    Introduced on day 15.
    """
    S, T = src_len, tgt_len
    enc_p, enc_s = _attention_parts(S, d_model)
    self_p, self_s = _attention_parts(T, d_model)
    cross_p, cross_s = _attention_parts(T, d_model, S)
    parts = {
        "attention projections": n_encoder_layers * enc_p
        + n_decoder_layers * (self_p + cross_p),
        "attention scores": n_encoder_layers * enc_s
        + n_decoder_layers * (self_s + cross_s),
        "feed-forward": n_encoder_layers * feed_forward_flops(S, d_model, d_ff,
                                                              activation)
        + n_decoder_layers * feed_forward_flops(T, d_model, d_ff, activation),
        "output layer": output_flops(T, d_model, tgt_vocab),
    }
    return {k: batch * v for k, v in parts.items()}


def crossover_length(d_model: int, d_ff: int) -> int:
    """The sequence length at which the quadratic attention-score FLOPs of an
    encoder layer (``4 T**2 d``) equal its linear FLOPs (projections
    ``8 T d**2`` plus feed-forward ``4 T d d_ff``): ``T = 2 d_model + d_ff``,
    that is ``6 d_model`` when ``d_ff = 4 d_model``.

    Introduced on day 15.
    """
    return 2 * d_model + d_ff


def count_flops(model: nn.Module, *inputs, **kwargs) -> int:
    """Count the FLOPs of ``model(*inputs, **kwargs)`` by running it once
    under ``torch.utils.flop_counter.FlopCounterMode``.

    PyTorch counts matrix products (``mm``, ``addmm``, ``bmm``, attention
    kernels, convolutions) at 2 FLOPs per multiply-add, the convention of
    this module. Runs without gradients. Returns the total as an ``int``.

    Introduced on day 15.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs, **kwargs)
    return int(counter.get_total_flops())


# --------------------------------------------------------------------------
# memory


def parameter_memory_bytes(n_params: int, bytes_per_value: int = 4,
                           training: bool = False) -> int:
    """Bytes needed to hold ``n_params`` parameters.

    ``bytes_per_value`` is 4 for float32, 2 for float16/bfloat16. With
    ``training=True`` the count covers what Adam keeps per parameter: the
    weight, its gradient and two moment estimates (4 copies). Activations
    are not included: they grow with batch size and sequence length.

    Introduced on day 15; day 22 reuses it.
    """
    copies = 4 if training else 1
    return n_params * bytes_per_value * copies


# --------------------------------------------------------------------------
# shapes through a model


@dataclass
class ShapeRow:
    """One call of one submodule: its dotted ``name`` (``"model"`` for the
    top), the class name ``kind``, the shapes of its tensor ``inputs`` and of
    its tensor ``outputs`` (tuples of shapes, in order).

    Introduced on day 15.
    """

    name: str
    kind: str
    inputs: tuple
    outputs: tuple


def _shapes(value, keep_bool: bool) -> list[tuple]:
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool and not keep_bool:
            return []
        return [tuple(value.shape)]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in _shapes(v, keep_bool)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _shapes(v, keep_bool)]
    return []


def trace_shapes(model: nn.Module, *inputs, max_depth: int | None = None,
                 include=None, skip=(nn.Dropout, nn.Identity),
                 masks: bool = False, **kwargs) -> list[ShapeRow]:
    """Run ``model(*inputs, **kwargs)`` once and record the shapes that enter
    and leave every submodule, using forward hooks.

    Inputs: the model and its inputs; ``max_depth`` keeps modules whose
    dotted name has at most that many parts (``transformer.encoder_layers.0``
    has 3); ``include(name, module) -> bool`` for a finer choice; ``skip``
    module types that are never listed; ``masks=True`` lists boolean (mask)
    tensors as well. Runs in eval mode without gradients and restores the
    training flag. Every hook is removed afterwards, also when the forward
    pass fails.

    Returns one :class:`ShapeRow` per call, in the order the calls start, so
    an encoder block comes before its attention; the whole model is the
    first row, named ``"model"``.

    Introduced on day 15.
    """
    rows: list[ShapeRow] = []
    open_calls: dict[int, list[ShapeRow]] = {}          # module id -> calls
    handles = []

    def pre_hook(name):
        def hook(module, args, kw):
            shapes = _shapes(list(args) + list(kw.values()), masks)
            row = ShapeRow(name, type(module).__name__, tuple(shapes), ())
            rows.append(row)
            open_calls.setdefault(id(module), []).append(row)
        return hook

    def post_hook(module, args, kw, output):
        row = open_calls[id(module)].pop()
        row.outputs = tuple(_shapes(output, masks))

    for name, module in model.named_modules():
        depth = len(name.split(".")) if name else 0
        if isinstance(module, skip):
            continue
        if max_depth is not None and depth > max_depth:
            continue
        if include is not None and name and not include(name, module):
            continue
        handles.append(module.register_forward_pre_hook(
            pre_hook(name or "model"), with_kwargs=True))
        handles.append(module.register_forward_hook(post_hook, with_kwargs=True))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*inputs, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return rows


def _fmt_shapes(shapes: tuple) -> str:
    return ", ".join("(" + ", ".join(str(n) for n in s) + ")" for s in shapes)


def shape_table(rows: list[ShapeRow], strip: str = "", kinds: bool = True) -> str:
    """Format :func:`trace_shapes` rows as a text table, one call per line:
    name, module type (unless ``kinds=False``), input shapes and output
    shapes. ``strip`` is a prefix removed from the names (e.g.
    ``"transformer."``) to keep lines short.

    Introduced on day 15.
    """
    names = [r.name[len(strip):] if strip and r.name.startswith(strip) else r.name
             for r in rows]
    cols = [names]
    heads = ["module"]
    if kinds:
        cols.append([r.kind for r in rows])
        heads.append("type")
    cols.append([_fmt_shapes(r.inputs) for r in rows])
    heads.append("input shapes")
    widths = [max(len(h), *(len(v) for v in col)) for h, col in zip(heads, cols)]
    outputs = [_fmt_shapes(r.outputs) for r in rows]

    def line(values, last):
        return "  ".join(f"{v:<{w}}" for v, w in zip(values, widths)) + "  " + last

    lines = [line(heads, "output shapes")]
    lines += [line([col[i] for col in cols], outputs[i]) for i in range(len(rows))]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# the picture


def _box(ax, x, y, text, part, width=3.6, height=0.75, fontsize=11):
    from matplotlib.patches import FancyBboxPatch

    color = PART_COLORS.get(part, "white")
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.02,rounding_size=0.15",
                                facecolor=color, edgecolor="black", alpha=0.85,
                                linewidth=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize,
            color="white" if part != "input" else "black")


def _arrow(ax, start, end, label=None, side="right", color="black"):
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="-|>", color=color, linewidth=1.5,
                                shrinkA=0, shrinkB=0))
    if label:
        x = (start[0] + end[0]) / 2
        y = (start[1] + end[1]) / 2
        dx, ha = (0.15, "left") if side == "right" else (-0.15, "right")
        ax.text(x + dx, y, label, ha=ha, va="center", fontsize=10,
                color="#333333", family="monospace")


def _residual(ax, x, y_from, y_to, side):
    """A residual connection: from below a sub-layer, around it, into the
    add & norm box above it."""
    edge = x + side * 1.8                                # the box's side
    outer = x + side * 2.1
    ax.plot([x, outer, outer], [y_from, y_from, y_to], color="#555555",
            linewidth=1.2)
    ax.annotate("", xy=(edge, y_to), xytext=(outer, y_to),
                arrowprops=dict(arrowstyle="-|>", color="#555555",
                                linewidth=1.2, shrinkA=0, shrinkB=0))


def draw_encoder_decoder(ax=None, n_layers: str = "N", shapes: bool = True):
    """Draw the encoder-decoder Transformer as boxes and arrows.

    Boxes are coloured by part (:data:`PART_COLORS`): embeddings, positions,
    attention, feed-forward, norms and the output layer; thin grey lines are
    the residual connections. With ``shapes`` the arrows carry the tensor
    shapes, with ``B`` the batch, ``S`` the source length, ``T`` the target
    length, ``d`` = ``d_model`` and ``V`` the target vocabulary.
    ``n_layers`` labels the repeated blocks. Drawn in the post-norm order of
    the 2017 paper. Returns the ``ax``.

    Introduced on day 15.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(12, 10.5))
    ax.set_xlim(-0.5, 14.5)
    ax.set_ylim(-0.4, 16.1)
    ax.axis("off")
    ex, dx = 3.6, 10.4                                   # column centres
    label = (lambda s: s) if shapes else (lambda s: None)

    for x, y0, y1 in ((ex, 3.75, 8.75), (dx, 3.75, 11.0)):
        ax.add_patch(FancyBboxPatch((x - 2.4, y0), 4.8, y1 - y0,
                                    boxstyle="round,pad=0.05,rounding_size=0.3",
                                    facecolor="#f3f3f3", edgecolor="#777777",
                                    linewidth=1.5))
    ax.text(ex - 2.6, 6.25, f"{n_layers} x", ha="right", va="center",
            fontsize=15, fontweight="bold")
    ax.text(dx + 2.6, 7.4, f"x {n_layers}", ha="left", va="center",
            fontsize=15, fontweight="bold")
    ax.text(ex - 2.4, 8.95, "encoder", ha="left", fontsize=13, fontweight="bold")
    ax.text(dx + 2.4, 11.2, "decoder", ha="right", fontsize=13,
            fontweight="bold")

    def column(x, length, ids_text, blocks, side):
        ax.text(x, 0.0, ids_text, ha="center", va="center", fontsize=12)
        _box(ax, x, 1.3, "token embedding x sqrt(d)", "embeddings")
        _box(ax, x, 2.7, "+ positional encoding", "positions")
        _arrow(ax, (x, 0.25), (x, 0.92), label(f"(B, {length})"))
        _arrow(ax, (x, 1.68), (x, 2.32), label(f"(B, {length}, d)"))
        _arrow(ax, (x, 3.08), (x, blocks[0][0] - 0.38), label(f"(B, {length}, d)"))
        for y, text, part in blocks:
            _box(ax, x, y, text, part)
        for (y_a, *_), (y_b, *_) in zip(blocks, blocks[1:]):
            _arrow(ax, (x, y_a + 0.38), (x, y_b - 0.38))
        for (y_sub, _, part), (y_norm, *_) in zip(blocks[::2], blocks[1::2]):
            _residual(ax, x, y_sub - 0.6, y_norm, side)

    column(ex, "S", "source token ids",
           [(4.6, "multi-head self-attention", "attention"),
            (5.7, "add & norm", "norms"),
            (6.9, "feed-forward", "feed-forward"),
            (8.0, "add & norm", "norms")], side=-1)
    column(dx, "T", "target token ids (shifted right)",
           [(4.6, "masked multi-head\nself-attention", "attention"),
            (5.7, "add & norm", "norms"),
            (6.9, "cross-attention\n(queries from the decoder)", "attention"),
            (8.0, "add & norm", "norms"),
            (9.1, "feed-forward", "feed-forward"),
            (10.2, "add & norm", "norms")], side=1)

    # the encoder output (memory) feeds every decoder block's cross-attention
    mid = (ex + dx) / 2
    orange = COURSE_COLORS[1]
    ax.plot([ex, ex, mid, mid], [8.38, 9.5, 9.5, 6.9], color=orange,
            linewidth=2.5)
    ax.annotate("", xy=(dx - 1.8, 6.9), xytext=(mid, 6.9),
                arrowprops=dict(arrowstyle="-|>", color=orange, linewidth=2.5,
                                shrinkA=0, shrinkB=0))
    ax.text(mid, 9.75, "memory: keys and values", ha="center", fontsize=11,
            color=orange)
    if shapes:
        ax.text(mid + 0.12, 8.2, "(B, S, d)", ha="left", fontsize=10,
                family="monospace", color="#333333")

    # output
    _box(ax, dx, 12.4, "linear: output projection", "output layer")
    _box(ax, dx, 13.8, "softmax", "output layer")
    _arrow(ax, (dx, 10.58), (dx, 12.02), label("(B, T, d)"), side="left")
    _arrow(ax, (dx, 12.78), (dx, 13.42), label("(B, T, V) logits"))
    _arrow(ax, (dx, 14.18), (dx, 15.0), label("(B, T, V)"))
    ax.text(dx, 15.35, "next-token probabilities", ha="center", fontsize=12)
    return ax
