"""A tiny English corpus, a tokenizer and a vocabulary (day 5 onwards).

The course ships ``data/tiny_corpus.txt``: a few thousand short sentences about
animals, foods, colours, places, royals and workers, written by
:func:`make_corpus` from templates. Words of one group fill the same slots in
the templates, so a model that learns from co-occurrence (day 5's word
vectors, later days' language models) can discover the groups on its own.

* :func:`make_corpus`  -- the seeded generator behind the shipped file
* :func:`load_corpus`  -- the shipped file as tokenised sentences
* :func:`tokenize`     -- lower-case words and punctuation marks
* :class:`Vocabulary`  -- words <-> integer ids, with ``<pad>`` = 0 and
  ``<unk>`` = 1

Nothing here needs PyTorch: ids are plain Python lists.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Iterable, Sequence

CORPUS_FILE = "tiny_corpus.txt"
DEFAULT_SENTENCES = 4000
PAD, UNK = "<pad>", "<unk>"

# The semantic groups. Every word of a group can fill the same template slots.
GROUPS: dict[str, list[str]] = {
    "animals": ["cat", "dog", "horse", "cow", "sheep", "goat", "fox", "rabbit"],
    "foods": ["bread", "cheese", "apple", "soup", "rice", "cake", "honey",
              "butter"],
    "colours": ["red", "blue", "green", "yellow", "white", "black", "brown",
                "grey"],
    "places": ["forest", "river", "village", "market", "garden", "city", "lake",
               "valley"],
    "royals": ["king", "queen", "prince", "princess", "duke", "duchess",
               "emperor", "empress"],
    "workers": ["farmer", "baker", "teacher", "doctor", "sailor", "builder",
                "painter", "tailor"],
}

# Words that fit one kind of slot but are not part of the plotted groups.
_SLOTS: dict[str, list[str]] = {
    "moves": ["runs", "sleeps", "hides", "jumps", "rests", "plays"],
    "handles": ["eats", "cooks", "buys", "sells", "shares", "tastes"],
    "leads": ["rules", "commands", "protects", "greets"],
    "realm": ["kingdom", "army", "people", "land"],
    "thing": ["house", "door", "boat", "wall", "cart", "fence"],
    "garment": ["hat", "coat", "dress", "cloak", "scarf"],
    "size": ["little", "big", "old", "young"],
    "time": ["every day", "in the morning", "at night", "all day"],
    # finer slots inside the groups, so that each group has some structure
    "pets": ["cat", "dog"],
    "herd": ["horse", "cow", "sheep", "goat"],
    "wild": ["fox", "rabbit"],
    "sweet": ["apple", "cake", "honey"],
    "savoury": ["bread", "cheese", "soup", "rice", "butter"],
    "sky": ["blue", "grey", "white", "black"],
    "leaf": ["green", "yellow", "brown", "red"],
    "water": ["river", "lake"],
    "town": ["village", "market", "city"],
    "wilds": ["forest", "garden", "valley"],
    "lords": ["king", "prince", "duke", "emperor"],
    "ladies": ["queen", "princess", "duchess", "empress"],
    "makers": ["baker", "builder", "painter", "tailor"],
    "helpers": ["farmer", "teacher", "doctor", "sailor"],
}

# Each template names its slots in braces; the same slot name twice draws two
# independent words. "person" draws from royals and workers together.
_TEMPLATES: list[str] = [
    # animals
    "the {animals} {moves} in the {places}",
    "a {colours} {animals} {moves} near the {places}",
    "the {size} {animals} {moves} {time}",
    "the {animals} chases the {animals}",
    "a {animals} drinks water from the {places}",
    "the {workers} feeds the {animals}",
    # foods
    "the {person} {handles} the {foods}",
    "she {handles} fresh {foods} and {foods}",
    "{foods} with {foods} tastes good",
    "a plate of {foods} is on the table",
    "the {workers} {handles} {foods} at the market",
    "he bought some {foods} for dinner",
    # colours
    "the {thing} is painted {colours}",
    "she wears a {colours} {garment}",
    "the {person} has a {colours} {garment}",
    "the {colours} {thing} stands by the {places}",
    "a mix of {colours} and {colours}",
    # places
    "they walked to the {places}",
    "the road to the {places} is long",
    "we met near the {places} {time}",
    "the {person} lives near the {places}",
    # royals
    "the {royals} {leads} the {realm}",
    "the {royals} wears a golden crown",
    "the {royals} sits on the throne",
    "long live the {royals}",
    "the {royals} lives in the castle",
    # workers
    "the {workers} works hard {time}",
    "the {workers} goes to work {time}",
    "our {workers} earns a fair wage",
    "the {workers} helps the {royals}",
    # finer structure inside the groups
    "the {pets} sleeps by the fire",
    "the {herd} grazes in the field",
    "the {wild} runs into the {wilds}",
    "the {sweet} is very sweet",
    "the {savoury} needs a little salt",
    "the sky turned {sky} {time}",
    "in autumn the leaves turn {leaf}",
    "the boat sails on the {water}",
    "many people live in the {town}",
    "tall trees grow in the {wilds}",
    "the {lords} and his wife",
    "the {ladies} and her husband",
    "the {makers} makes things by hand",
    "the {helpers} takes care of others",
]

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")
_SLOT = re.compile(r"\{(\w+)\}")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case tokens (day 5).

    Words (letters and digits, with an optional ``'s`` style ending) are
    tokens, and every other visible character (``.``, ``,``, ``!``) is a
    token of its own; white space only separates tokens.
    """
    return _TOKEN.findall(text.lower())


def _fill(template: str, rng: random.Random) -> str:
    def draw(match: re.Match) -> str:
        slot = match.group(1)
        if slot == "person":
            choices = GROUPS["royals"] + GROUPS["workers"]
        else:
            choices = GROUPS.get(slot) or _SLOTS[slot]
        return choices[rng.randrange(len(choices))]

    return _SLOT.sub(draw, template)


def make_corpus(n_sentences: int = DEFAULT_SENTENCES, seed: int = 0) -> list[str]:
    """Write ``n_sentences`` templated English sentences, the same for a seed (day 5).

    Each sentence picks a template at random and fills its slots with words
    of the matching group (animals, foods, colours, places, royals, workers,
    and a few verb and object slots). With the defaults the result is exactly
    the text of ``data/tiny_corpus.txt``, one sentence per line.
    """
    if n_sentences < 0:
        raise ValueError(f"n_sentences must be 0 or more, got {n_sentences}.")
    rng = random.Random(seed)
    return [_fill(_TEMPLATES[rng.randrange(len(_TEMPLATES))], rng)
            for _ in range(n_sentences)]


def corpus_text(n_sentences: int = DEFAULT_SENTENCES, seed: int = 0) -> str:
    """The corpus as one string, one sentence per line, ending in a newline."""
    return "".join(line + "\n" for line in make_corpus(n_sentences, seed))


def load_corpus() -> list[list[str]]:
    """The shipped ``data/tiny_corpus.txt`` as tokenised sentences (day 5).

    Returns one list of lower-case tokens per non-empty line.
    """
    from helpers.sources import data_path

    text = data_path(CORPUS_FILE).read_text(encoding="utf-8")
    return [tokenize(line) for line in text.splitlines() if line.strip()]


def group_of(word: str) -> str | None:
    """The name of the group in :data:`GROUPS` that ``word`` belongs to, or
    ``None`` (day 5)."""
    for name, words in GROUPS.items():
        if word in words:
            return name
    return None


class Vocabulary:
    """A two-way map between tokens and integer ids (day 5).

    Id 0 is ``"<pad>"`` (filler for short sequences, day 30) and id 1 is
    ``"<unk>"`` (any token the vocabulary does not know). ``stoi`` maps a
    token to its id, ``itos`` lists the tokens in id order.
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tokens[:2] != [PAD, UNK]:
            raise ValueError(f"A vocabulary starts with {PAD!r} and {UNK!r}; got "
                             f"{tokens[:2]!r}.")
        if len(set(tokens)) != len(tokens):
            raise ValueError("A vocabulary lists each token only once.")
        self.itos: list[str] = tokens
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.counts: Counter = Counter()

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]],
              min_count: int = 1) -> "Vocabulary":
        """Count the tokens of tokenised ``sentences`` and keep those seen at
        least ``min_count`` times, most frequent first (ties alphabetical)."""
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}.")
        if isinstance(sentences, str):
            raise TypeError("Vocabulary.build needs tokenised sentences (a list "
                            "of lists of tokens), not one string.")
        counts: Counter = Counter()
        for sentence in sentences:
            if isinstance(sentence, str):
                raise TypeError("Each sentence must be a list of tokens; call "
                                "tokenize() on the text first.")
            counts.update(sentence)
        for special in (PAD, UNK):
            counts.pop(special, None)
        kept = sorted((t for t, c in counts.items() if c >= min_count),
                      key=lambda t: (-counts[t], t))
        vocab = cls([PAD, UNK] + kept)
        vocab.counts = counts
        return vocab

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        shown = ", ".join(self.itos[:6])
        return f"Vocabulary({len(self)} tokens: {shown}, ...)"

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens``; a token the vocabulary does not know becomes 1."""
        if isinstance(tokens, str):
            raise TypeError("encode needs a list of tokens; call tokenize() on "
                            "the text first.")
        return [self.stoi.get(t, 1) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids`` (a list or a 1-D tensor of integers)."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise IndexError(f"id {i} is outside the vocabulary (0 to "
                                 f"{len(self.itos) - 1}).")
            out.append(self.itos[i])
        return out
