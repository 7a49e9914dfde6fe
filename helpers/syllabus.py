"""The sixty days of the course: titles, weeks and notebook paths.

This table is the single source for day titles: :func:`helpers.setup_day`
prints them, the README's syllabus table is checked against them, and the
course command finds notebooks through them. Introduced on day 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

WEEKS = {
    1: ("week01_foundations", "Foundations refresher"),
    2: ("week02_sequence_models", "Sequence models and attention"),
    3: ("week03_transformer_architecture", "Transformer architecture"),
    4: ("week04_mini_transformer", "Coding a mini-transformer from scratch"),
    5: ("week05_training", "Training your transformer"),
    6: ("week06_bert_gpt", "BERT and GPT"),
    7: ("week07_vision_transformers", "Vision Transformers"),
    8: ("week08-09_projects", "Final projects"),
}

# day -> (file stem, title)
_DAYS = {
    1: ("day01_linear_algebra",
        "Linear algebra: vectors, dot product, matrix multiplication"),
    2: ("day02_softmax_cross_entropy",
        "Softmax, cross-entropy, logits vs probabilities"),
    3: ("day03_neural_nets_101", "Neural nets 101: FFNNs, ReLU, training loop"),
    4: ("day04_backpropagation", "Backpropagation and gradients"),
    5: ("day05_embeddings", "Embeddings: word vectors, lookup tables"),
    6: ("day06_positional_encoding", "Positional encoding: why and sin/cos"),
    7: ("day07_review_quiz", "Review, quiz, practice embeddings"),
    8: ("day08_rnns", "RNNs: architecture, limitations"),
    9: ("day09_lstm_gru", "LSTMs and GRUs"),
    10: ("day10_seq2seq", "Sequence-to-sequence"),
    11: ("day11_attention_motivation", "Attention: motivation"),
    12: ("day12_scaled_dot_product_attention",
         "Scaled dot-product attention step by step"),
    13: ("day13_multi_head_attention", "Multi-head attention"),
    14: ("day14_attention_in_pytorch", "Basic attention in PyTorch"),
    15: ("day15_architecture_overview", "Architecture overview"),
    16: ("day16_encoder_block", "Encoder block"),
    17: ("day17_decoder_block", "Decoder block"),
    18: ("day18_residuals_layernorm", "Residual connections and LayerNorm"),
    19: ("day19_feed_forward", "Position-wise feed-forward"),
    20: ("day20_positional_integration", "Positional encoding integration"),
    21: ("day21_full_forward_pass", "Full forward pass review"),
}


@dataclass(frozen=True)
class Day:
    """One day of the course: its number, title, week and notebook path."""

    number: int
    stem: str
    title: str

    @property
    def week(self) -> int:
        return min((self.number - 1) // 7 + 1, 8)

    @property
    def folder(self) -> str:
        return WEEKS[self.week][0]

    @property
    def path(self) -> Path:
        """Absolute path of the stored notebook (it may not exist yet)."""
        return NOTEBOOKS / self.folder / f"{self.stem}.ipynb"

    @property
    def relpath(self) -> str:
        return f"notebooks/{self.folder}/{self.stem}.ipynb"

    @property
    def heading(self) -> str:
        return f"Day {self.number} · {self.title}"


DAYS = {n: Day(n, stem, title) for n, (stem, title) in _DAYS.items()}


def day(number: int) -> Day:
    """Return the :class:`Day` for ``number`` (1-60), with a clear error otherwise."""
    if number not in DAYS:
        known = f"{min(DAYS)}-{max(DAYS)}"
        raise ValueError(
            f"Day {number!r} is not in the syllabus yet; days {known} exist."
        )
    return DAYS[number]
