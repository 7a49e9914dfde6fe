"""Sequence-to-sequence models with and without attention (days 10 and 11).

Everything days 10 and 11 need to stay short and fast:

* a toy task that needs the whole input: **reverse a sequence of digits**
  (:func:`make_reversal_batch`), with the special tokens ``<pad>``, ``<bos>``
  and ``<eos>`` (:data:`TOKENS`);
* a GRU :class:`Encoder`, a plain GRU :class:`Decoder` that sees the source
  only through one vector (day 10), and an :class:`AttentionDecoder` that
  looks back at every encoder state through additive attention (day 11);
* :class:`Seq2Seq`, which joins an encoder and a decoder, trains with teacher
  forcing (:func:`shift_right`) and decodes greedily (:func:`greedy_decode`);
* :func:`train_seq2seq` and :func:`accuracy_by_length`, which measure how
  accuracy falls as the input grows (the bottleneck) and how attention
  recovers it.

Masks follow the course convention of :mod:`helpers.attention`: boolean,
``True`` where a decoder step may attend to a source position.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from helpers.attention import AdditiveAttention, masked_softmax

__all__ = [
    "BOS", "EOS", "PAD", "DIGIT0", "TOKENS", "VOCAB_SIZE",
    "AttentionDecoder", "Decoder", "Encoder", "LengthScore", "Memory", "Seq2Seq",
    "accuracy_by_length", "additive_scores", "attention_context",
    "build_seq2seq", "decode_tokens", "encode_digits", "greedy_decode",
    "last_hidden", "make_reversal_batch", "shift_right", "source_mask",
    "teacher_forced_accuracy", "train_seq2seq",
]

# --------------------------------------------------------------------------
# the vocabulary

PAD, BOS, EOS = 0, 1, 2
DIGIT0 = 3                                    # token id of the digit "0"
TOKENS = ["<pad>", "<bos>", "<eos>"] + [str(d) for d in range(10)]
VOCAB_SIZE = len(TOKENS)                      # 13


def encode_digits(digits) -> list[int]:
    """Token ids of a string or list of digits, e.g. ``"307"`` -> ``[6, 3, 10]``.

    Introduced on day 10.
    """
    return [DIGIT0 + int(d) for d in digits]


def decode_tokens(ids, stop_at_eos: bool = True) -> str:
    """Readable text of token ids: digits as they are, specials by name.

    Inputs: ``ids``, a list or 1-D tensor. With ``stop_at_eos`` the text ends
    at the first ``<eos>`` (which is shown) and padding is dropped.
    Introduced on day 10.
    """
    words = []
    for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
        if stop_at_eos and i == PAD:
            continue
        words.append(TOKENS[i])
        if stop_at_eos and i == EOS:
            break
    return " ".join(words)


# --------------------------------------------------------------------------
# the task: reverse a sequence of digits


def make_reversal_batch(batch_size: int, min_len: int, max_len: int,
                        generator: torch.Generator | None = None):
    """A batch of the reversal task: read digits, write them backwards (day 10).

    Each example draws a length ``L`` uniformly from ``min_len..max_len`` and
    ``L`` random digits. Returns ``(src, src_lengths, tgt)``:

    * ``src`` ``(B, S)`` long, the digits, right-padded with ``PAD`` to the
      longest length ``S`` in the batch;
    * ``src_lengths`` ``(B,)`` long, each ``L``;
    * ``tgt`` ``(B, S + 1)`` long, the digits reversed and then ``EOS``,
      right-padded with ``PAD``.

    Every output token depends on one input position, and position ``i`` of
    the output needs input ``L - 1 - i``: the model must hold the whole
    input. Introduced on day 10.
    """
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}.")
    g = generator
    lengths = torch.randint(min_len, max_len + 1, (batch_size,), generator=g)
    S = int(lengths.max())
    digits = torch.randint(0, 10, (batch_size, S), generator=g)        # (B, S)
    real = torch.arange(S)[None, :] < lengths[:, None]                 # (B, S)
    src = torch.where(real, digits + DIGIT0, PAD)                      # (B, S)
    i = torch.arange(S + 1)[None, :]                                   # (1, S+1)
    back = (lengths[:, None] - 1 - i).clamp(min=0)                     # (B, S+1)
    reversed_src = src.gather(1, back.clamp(max=S - 1))                # (B, S+1)
    tgt = torch.where(i < lengths[:, None], reversed_src, PAD)         # (B, S+1)
    tgt = torch.where(i == lengths[:, None], EOS, tgt)                 # (B, S+1)
    return src, lengths, tgt


# --------------------------------------------------------------------------
# small pieces (the exercises of days 10 and 11)


def shift_right(targets: torch.Tensor, bos_id: int = BOS) -> torch.Tensor:
    """Decoder inputs for teacher forcing: ``<bos>`` then the targets, minus
    the last one (day 10).

    Inputs: ``targets`` ``(B, T)`` long; ``bos_id`` the start token. Returns
    ``(B, T)``: column 0 is ``bos_id`` and column ``t`` holds target
    ``t - 1``, so at step ``t`` the decoder reads the previous correct token
    and is asked for target ``t``. Introduced on day 10.
    """
    start = torch.full_like(targets[:, :1], bos_id)                    # (B, 1)
    return torch.cat([start, targets[:, :-1]], dim=1)                  # (B, T)


def last_hidden(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The encoder state after the last real token of each sequence (day 10).

    Inputs: ``outputs`` ``(B, S, H)``, the GRU state after every position of
    right-padded sequences; ``lengths`` ``(B,)`` long, the true lengths
    (at least 1). Returns ``(B, H)``: row ``b`` is ``outputs[b, lengths[b] - 1]``.
    Taking ``outputs[:, -1]`` instead would read a state that has also run
    over the padding. Introduced on day 10.
    """
    rows = torch.arange(outputs.shape[0], device=outputs.device)       # (B,)
    return outputs[rows, lengths.to(outputs.device) - 1]              # (B, H)


def source_mask(lengths: torch.Tensor, S: int) -> torch.Tensor:
    """Which source positions a decoder step may attend to (day 11).

    Inputs: ``lengths`` ``(B,)`` long; ``S`` the padded source length.
    Returns a boolean ``(B, S)`` mask, ``True`` at real tokens
    (``s < lengths[b]``) and ``False`` at padding, the course convention.
    Introduced on day 11.
    """
    positions = torch.arange(S, device=lengths.device)                # (S,)
    return positions[None, :] < lengths[:, None]                       # (B, S)


def additive_scores(query: torch.Tensor, keys: torch.Tensor, W_q: torch.Tensor,
                    W_k: torch.Tensor, b: torch.Tensor,
                    w: torch.Tensor) -> torch.Tensor:
    r"""Additive attention scores :math:`e_j = w^\top \tanh(W_q s + W_k h_j + b)`
    (day 11).

    Inputs: ``query`` ``(B, d_q)`` (the decoder state ``s``); ``keys``
    ``(B, S, d_k)`` (the encoder states ``h_j``); ``W_q`` ``(d_q, d_a)`` and
    ``W_k`` ``(d_k, d_a)`` (applied as ``x @ W``); ``b`` ``(d_a,)``; ``w``
    ``(d_a,)``. Returns the scores ``(B, S)``, one per source position.
    Matches :class:`helpers.attention.AdditiveAttention` with
    ``W_q = query_proj.weight.T``, ``W_k = key_proj.weight.T``,
    ``b = key_proj.bias`` and ``w = score.weight[0]``. Introduced on day 11.
    """
    q = (query @ W_q)[:, None, :]                                      # (B, 1, d_a)
    k = keys @ W_k + b                                                 # (B, S, d_a)
    return torch.tanh(q + k) @ w                                       # (B, S)


def attention_context(scores: torch.Tensor, encoder_outputs: torch.Tensor,
                      mask: torch.Tensor | None = None):
    """Turn scores into attention weights and a context vector (day 11).

    Inputs: ``scores`` ``(B, S)``; ``encoder_outputs`` ``(B, S, H)``;
    ``mask`` boolean ``(B, S)``, ``True`` at positions that may be attended
    (or ``None``). Returns ``(context, weights)``: the weights ``(B, S)``
    are a softmax over the source axis in which masked positions get exactly
    0 (a row with every position masked gets all zeros, the course
    convention), and ``context`` ``(B, H)`` is the weighted average of the
    encoder outputs. Introduced on day 11.
    """
    if mask is not None:
        mask = mask[:, None, :]                                        # (B, 1, S)
    weights = masked_softmax(scores[:, None, :], mask)[:, 0]           # (B, S)
    context = (weights[:, :, None] * encoder_outputs).sum(dim=1)       # (B, H)
    return context, weights


# --------------------------------------------------------------------------
# the models


class Encoder(nn.Module):
    """Embedding and a one-layer GRU that reads the source (day 10).

    Inputs to the constructor: ``vocab_size``, ``d_emb`` (embedding size),
    ``d_hidden`` (GRU state size). Introduced on day 10.
    """

    def __init__(self, vocab_size: int, d_emb: int, d_hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_emb, padding_idx=PAD)
        self.gru = nn.GRU(d_emb, d_hidden, batch_first=True)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor):
        """Read ``src`` ``(B, S)`` with true ``lengths`` ``(B,)``.

        Returns ``(outputs, h_last)``: the state after every position
        ``(B, S, H)`` (states at padding are not used) and the state after
        the last real token ``(B, H)``, the summary a plain decoder starts
        from.
        """
        x = self.embedding(src)                                        # (B, S, E)
        outputs, _ = self.gru(x)                                       # (B, S, H)
        return outputs, last_hidden(outputs, lengths)                  # (B, H)


@dataclass
class Memory:
    """What the decoder may look at: the encoder states ``outputs``
    ``(B, S, H)`` and the boolean source ``mask`` ``(B, S)``, ``True`` at
    real tokens. Introduced on day 10 (the attention decoder of day 11 is
    the first to read it)."""

    outputs: torch.Tensor
    mask: torch.Tensor


class Decoder(nn.Module):
    """A GRU decoder that sees the source only through its first state
    (day 10).

    The encoder's summary ``h_last`` becomes the decoder's initial state;
    after that the decoder reads only its own previous tokens. Inputs to the
    constructor: ``vocab_size``, ``d_emb``, ``d_hidden`` (equal to the
    encoder's). Introduced on day 10.
    """

    def __init__(self, vocab_size: int, d_emb: int, d_hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_emb, padding_idx=PAD)
        self.gru = nn.GRU(d_emb, d_hidden, batch_first=True)
        self.out = nn.Linear(d_hidden, vocab_size)

    def forward(self, dec_in: torch.Tensor, state: torch.Tensor,
                memory: Memory | None = None):
        """Teacher-forced pass over the whole target at once.

        Inputs: ``dec_in`` ``(B, T)`` (the shifted targets); ``state``
        ``(B, H)``; ``memory`` unused. Returns ``(logits, None)`` with logits
        ``(B, T, V)``: every input is known in advance, so one GRU call runs
        all ``T`` steps.
        """
        x = self.embedding(dec_in)                                     # (B, T, E)
        outputs, _ = self.gru(x, state[None])                          # (B, T, H)
        return self.out(outputs), None                                 # (B, T, V)

    def step(self, token: torch.Tensor, state: torch.Tensor,
             memory: Memory | None = None):
        """One decoding step: ``token`` ``(B,)``, ``state`` ``(B, H)``.

        Returns ``(logits (B, V), new state (B, H), None)``.
        """
        x = self.embedding(token)[:, None, :]                          # (B, 1, E)
        output, _ = self.gru(x, state[None])                           # (B, 1, H)
        state = output[:, 0]                                           # (B, H)
        return self.out(state), state, None


class AttentionDecoder(nn.Module):
    """A GRU decoder that attends over every encoder state (day 11).

    At step ``t`` the previous state :math:`s_{t-1}` scores each encoder
    state with :class:`helpers.attention.AdditiveAttention`, the weights
    average the encoder states into a context :math:`c_t`, the GRU reads
    ``[embedding; c_t]``, and the output layer reads ``[s_t; c_t]``.
    Inputs to the constructor: ``vocab_size``, ``d_emb``, ``d_hidden``,
    ``d_attn`` (size of the scoring layer). Introduced on day 11.
    """

    def __init__(self, vocab_size: int, d_emb: int, d_hidden: int, d_attn: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_emb, padding_idx=PAD)
        self.attention = AdditiveAttention(d_hidden, d_hidden, d_attn)
        self.cell = nn.GRUCell(d_emb + d_hidden, d_hidden)
        self.out = nn.Linear(2 * d_hidden, vocab_size)

    def step(self, token: torch.Tensor, state: torch.Tensor, memory: Memory):
        """One decoding step: ``token`` ``(B,)``, ``state`` ``(B, H)``,
        ``memory`` the encoder states and mask.

        Returns ``(logits (B, V), new state (B, H), weights (B, S))``.
        """
        context, weights = self.attention(state, memory.outputs,
                                          mask=memory.mask)            # (B, H), (B, S)
        x = torch.cat([self.embedding(token), context], dim=-1)        # (B, E + H)
        state = self.cell(x, state)                                    # (B, H)
        logits = self.out(torch.cat([state, context], dim=-1))         # (B, V)
        return logits, state, weights

    def forward(self, dec_in: torch.Tensor, state: torch.Tensor, memory: Memory):
        """Teacher-forced pass: ``dec_in`` ``(B, T)``, ``state`` ``(B, H)``.

        Returns ``(logits (B, T, V), weights (B, T, S))``. It must loop over
        the steps, because the context of step ``t`` depends on the state
        of step ``t - 1``.
        """
        all_logits, all_weights = [], []
        for t in range(dec_in.shape[1]):
            logits, state, weights = self.step(dec_in[:, t], state, memory)
            all_logits.append(logits)
            all_weights.append(weights)
        return torch.stack(all_logits, 1), torch.stack(all_weights, 1)


class Seq2Seq(nn.Module):
    """An encoder and a decoder, trained with teacher forcing (days 10, 11).

    Works with either decoder: :class:`Decoder` (one summary vector) or
    :class:`AttentionDecoder` (every encoder state). Introduced on day 10.
    """

    def __init__(self, encoder: Encoder, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor):
        """Returns ``(memory, state)``: the encoder states with the source
        mask, and the decoder's initial state ``(B, H)``."""
        outputs, h_last = self.encoder(src, src_lengths)               # (B, S, H)
        mask = source_mask(src_lengths, src.shape[1])                  # (B, S)
        return Memory(outputs, mask), h_last

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor,
                tgt: torch.Tensor):
        """Teacher-forced logits for the targets.

        Inputs: ``src`` ``(B, S)``, ``src_lengths`` ``(B,)``, ``tgt``
        ``(B, T)`` (the decoder reads ``shift_right(tgt)``). Returns
        ``(logits (B, T, V), weights)``; ``weights`` is ``(B, T, S)`` for
        the attention decoder and ``None`` for the plain one.
        """
        memory, state = self.encode(src, src_lengths)
        return self.decoder(shift_right(tgt, BOS), state, memory)

    @torch.no_grad()
    def generate(self, src: torch.Tensor, src_lengths: torch.Tensor,
                 max_len: int | None = None):
        """Greedy decoding with no targets in sight.

        Inputs: ``src`` ``(B, S)``, ``src_lengths`` ``(B,)``, ``max_len``
        (default ``S + 1``). Returns ``(tokens (B, max_len), weights)``;
        tokens end with ``EOS`` and are ``PAD`` after it; ``weights``
        ``(B, max_len, S)`` for the attention decoder, else ``None``.
        """
        max_len = src.shape[1] + 1 if max_len is None else max_len
        memory, state = self.encode(src, src_lengths)
        seen = []

        def step(token, state):
            logits, state, weights = self.decoder.step(token, state, memory)
            seen.append(weights)
            return logits, state

        tokens = greedy_decode(step, state, src.shape[0], max_len)
        if not seen or seen[0] is None:
            return tokens, None
        weights = torch.stack(seen, 1)                                 # (B, steps, S)
        if weights.shape[1] < max_len:                                 # stopped early
            pad = weights.new_zeros(weights.shape[0], max_len - weights.shape[1],
                                    weights.shape[2])
            weights = torch.cat([weights, pad], 1)
        return tokens, weights


def build_seq2seq(attention: bool = False, d_emb: int = 16, d_hidden: int = 64,
                  d_attn: int = 32, seed: int = 0,
                  dtype: torch.dtype = torch.float64) -> Seq2Seq:
    """A seeded seq2seq model for the reversal task (days 10 and 11).

    ``attention=False`` gives day 10's model (a plain :class:`Decoder`),
    ``attention=True`` day 11's (an :class:`AttentionDecoder`); the encoder
    is the same. The model is in float64 by default so that training repeats
    to the last printed digit on any machine. Introduced on day 10.
    """
    torch.manual_seed(seed)
    encoder = Encoder(VOCAB_SIZE, d_emb, d_hidden)
    if attention:
        decoder = AttentionDecoder(VOCAB_SIZE, d_emb, d_hidden, d_attn)
    else:
        decoder = Decoder(VOCAB_SIZE, d_emb, d_hidden)
    return Seq2Seq(encoder, decoder).to(dtype)


# --------------------------------------------------------------------------
# greedy decoding


def greedy_decode(step, state, batch_size: int, max_len: int, bos_id: int = BOS,
                  eos_id: int = EOS, pad_id: int = PAD) -> torch.Tensor:
    """Decode greedily: feed each step's most likely token into the next
    (day 10).

    Inputs: ``step(tokens, state) -> (logits, state)``, where ``tokens`` is
    ``(B,)`` long and ``logits`` ``(B, V)``; the decoder's initial
    ``state``; ``batch_size`` ``B``; ``max_len`` the most tokens to write.
    Step 1 reads ``bos_id``; every later step reads the token chosen at the
    step before (never a target). Returns ``(B, max_len)`` long: each row is
    its tokens up to and including its first ``eos_id``, then ``pad_id``.
    The loop stops early once every row has written ``eos_id``.
    Introduced on day 10.
    """
    tokens = torch.full((batch_size,), bos_id, dtype=torch.long)       # (B,)
    out = torch.full((batch_size, max_len), pad_id, dtype=torch.long)  # (B, max_len)
    done = torch.zeros(batch_size, dtype=torch.bool)                   # (B,)
    for t in range(max_len):
        logits, state = step(tokens, state)                            # (B, V)
        tokens = logits.argmax(dim=-1)                                 # (B,)
        out[:, t] = torch.where(done, pad_id, tokens)
        done = done | (tokens == eos_id)
        if done.all():
            break
    return out


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


def train_seq2seq(model: Seq2Seq, steps: int = 300, batch_size: int = 32,
                  min_len: int = 1, max_len: int = 12, lr: float = 1e-2,
                  seed: int = 0, history: list | None = None) -> Seq2Seq:
    """Train ``model`` on the reversal task with teacher forcing (day 10).

    Each of the ``steps`` draws a fresh batch of ``batch_size`` sequences of
    lengths ``min_len..max_len`` (seeded by ``seed``), runs the decoder on
    the shifted targets, and takes an Adam step on the cross-entropy over
    real target tokens (``PAD`` ignored). The learning rate falls linearly
    from ``lr`` to 0 over the run (day 33 studies schedules) and gradients
    are clipped to norm 1 (day 8). Appends each step's loss to ``history`` if
    given. Returns the model in eval mode. Introduced on day 10.
    """
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    with _one_thread():
        for i in range(steps):
            for group in optimizer.param_groups:          # linear decay to 0
                group["lr"] = lr * (1 - i / steps)
            src, lengths, tgt = make_reversal_batch(batch_size, min_len, max_len, g)
            logits, _ = model(src, lengths, tgt)                       # (B, T, V)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                   tgt.reshape(-1), ignore_index=PAD)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            if history is not None:
                history.append(loss.item())
    return model.eval()


@dataclass
class LengthScore:
    """Greedy-decoding accuracy at one source length: ``exact`` is the share
    of sequences reproduced perfectly (``<eos>`` included), ``per_token``
    the share of target tokens right, and ``per_position`` the accuracy at
    each output position ``(L + 1,)``. Introduced on day 10."""

    length: int
    exact: float
    per_token: float
    per_position: list


@torch.no_grad()
def accuracy_by_length(model: Seq2Seq, lengths, n: int = 200,
                       seed: int = 1) -> dict:
    """Greedy-decoding accuracy of ``model`` for each source length (day 10).

    Inputs: ``lengths`` an iterable of ints; ``n`` test sequences per length
    (drawn with ``seed``, so every model sees the same ones). Returns
    ``{length: LengthScore}``. Decoding never sees the targets.
    Introduced on day 10.
    """
    model.eval()
    scores = {}
    with _one_thread():
        for L in lengths:
            g = torch.Generator().manual_seed(seed * 1000 + L)
            src, src_lengths, tgt = make_reversal_batch(n, L, L, g)    # (n, L)
            tokens, _ = model.generate(src, src_lengths, max_len=L + 1)
            right = tokens == tgt                                      # (n, L + 1)
            scores[L] = LengthScore(L, right.all(1).double().mean().item(),
                                    right.double().mean().item(),
                                    right.double().mean(0).tolist())
    return scores


@torch.no_grad()
def teacher_forced_accuracy(model: Seq2Seq, length: int, n: int = 200,
                            seed: int = 1) -> float:
    """Per-token accuracy when the decoder reads the *correct* previous
    tokens (teacher forcing) instead of its own predictions (day 10).

    Same test sequences as :func:`accuracy_by_length`. It is an upper bound
    for what greedy decoding reaches: at inference no one supplies the
    correct previous token. Introduced on day 10.
    """
    model.eval()
    with _one_thread():
        g = torch.Generator().manual_seed(seed * 1000 + length)
        src, src_lengths, tgt = make_reversal_batch(n, length, length, g)
        logits, _ = model(src, src_lengths, tgt)                       # (n, L+1, V)
        return (logits.argmax(-1) == tgt).double().mean().item()
