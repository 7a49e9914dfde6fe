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
    22: ("day22_configuration", "Configuration"),
    23: ("day23_token_positional_embedding", "Token + positional embedding"),
    24: ("day24_attention_head", "Attention head"),
    25: ("day25_multi_head_attention", "Multi-head attention"),
    26: ("day26_encoder_block", "Encoder block"),
    27: ("day27_stacking_encoder_blocks", "Stacking encoder blocks"),
    28: ("day28_minimal_encoder_model", "Minimal transformer encoder model"),
    29: ("day29_toy_dataset", "Toy dataset"),
    30: ("day30_batches_padding_masks", "Batches and padding masks"),
    31: ("day31_loss", "Loss"),
    32: ("day32_adam_adamw", "Adam vs AdamW"),
    33: ("day33_learning_rate_schedule", "Learning-rate schedule"),
    34: ("day34_training_loop", "Training loop"),
    35: ("day35_train_and_validate", "Train and validate"),
    36: ("day36_bert", "BERT: encoder-only, pretraining tasks"),
    37: ("day37_masked_lm", "Masked LM"),
    38: ("day38_gpt", "GPT: decoder-only, causal masking"),
    39: ("day39_text_generation", "Text generation"),
    40: ("day40_bert_vs_gpt", "BERT vs GPT"),
    41: ("day41_hugging_face", "Hugging Face BERT/GPT"),
    42: ("day42_inference_fine_tuning", "Inference and fine-tuning"),
    43: ("day43_cnn_vs_transformer", "CNN vs Transformer for images"),
    44: ("day44_patch_embeddings", "Patch embeddings and the block"),
    45: ("day45_vit_positions", "Positional encoding in ViT"),
    46: ("day46_train_vit", "Train a ViT on a small image set"),
    47: ("day47_pretrained_vit", "Pretrained ViT from timm / Hugging Face"),
    48: ("day48_fine_tune_vit", "Fine-tune on a custom classification task"),
    49: ("day49_analyse_interpret", "Analyse and interpret"),
    50: ("day50_text_data_baseline",
         "Project 1 · text classification: data and a bag-of-words baseline"),
    51: ("day51_text_model", "Project 1 · text classification: model"),
    52: ("day52_text_training",
         "Project 1 · text classification: training and tuning"),
    53: ("day53_text_evaluation",
         "Project 1 · text classification: evaluation and error analysis"),
    54: ("day54_translation_data",
         "Project 2 · translation: parallel data and tokenization"),
    55: ("day55_translation_model", "Project 2 · translation: a seq2seq Transformer"),
    56: ("day56_translation_decoding",
         "Project 2 · translation: greedy and beam decoding, BLEU, attention"),
    57: ("day57_vit_dataset", "Project 3 · ViT on custom data: building the dataset"),
    58: ("day58_vit_fine_tuning", "Project 3 · ViT on custom data: fine-tuning"),
    59: ("day59_vit_evaluation",
         "Project 3 · ViT on custom data: evaluation and an inference function"),
    60: ("day60_recap", "Recap and what's next"),
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
        raise ValueError(f"Day {number!r} is not in the syllabus; days run from 1 "
                         "to 60.")
    return DAYS[number]


def written_days() -> list[Day]:
    """The days whose notebook exists, in order."""
    return [d for d in DAYS.values() if d.path.exists()]
