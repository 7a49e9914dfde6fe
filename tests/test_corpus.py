"""The bundled corpus, the tokenizer and the vocabulary (day 5)."""

import pytest

from helpers import corpus
from helpers.corpus import (
    GROUPS,
    Vocabulary,
    corpus_text,
    load_corpus,
    make_corpus,
    tokenize,
)
from helpers.sources import data_path

# ---------------------------------------------------------------- the corpus


def test_shipped_file_is_exactly_what_the_generator_writes():
    shipped = data_path(corpus.CORPUS_FILE).read_text(encoding="utf-8")
    assert shipped == corpus_text()
    assert shipped.splitlines() == make_corpus()


def test_shipped_file_is_small_and_has_a_few_thousand_sentences():
    path = data_path(corpus.CORPUS_FILE)
    assert path.stat().st_size < 1_000_000
    lines = path.read_text(encoding="utf-8").splitlines()
    assert 2000 <= len(lines) <= 10000
    assert all(line and line == line.strip() for line in lines)


def test_generator_repeats_for_a_seed_and_changes_with_it():
    assert make_corpus(300, seed=3) == make_corpus(300, seed=3)
    assert make_corpus(300, seed=3) != make_corpus(300, seed=4)
    assert len(make_corpus(17)) == 17
    assert make_corpus(0) == []
    # the first sentences do not depend on how many are asked for
    assert make_corpus(50)[:20] == make_corpus(20)


def test_generator_rejects_a_negative_count():
    with pytest.raises(ValueError):
        make_corpus(-1)


def test_every_group_word_occurs_often():
    tokens = [t for s in load_corpus() for t in s]
    for name, words in GROUPS.items():
        for word in words:
            assert tokens.count(word) >= 50, (name, word)


def test_groups_are_disjoint_and_finer_slots_split_them():
    words = [w for ws in GROUPS.values() for w in ws]
    assert len(words) == len(set(words))
    finer = {"animals": ["pets", "herd", "wild"], "foods": ["sweet", "savoury"],
             "colours": ["sky", "leaf"], "places": ["water", "town", "wilds"],
             "royals": ["lords", "ladies"], "workers": ["makers", "helpers"]}
    for group, slots in finer.items():
        parts = [w for slot in slots for w in corpus._SLOTS[slot]]
        assert sorted(parts) == sorted(GROUPS[group]), group


def test_load_corpus_gives_lower_case_token_lists():
    sentences = load_corpus()
    assert len(sentences) == len(make_corpus())
    assert sentences[0] == tokenize(make_corpus()[0])
    assert all(isinstance(s, list) and s for s in sentences)
    assert all(t == t.lower() and " " not in t for s in sentences for t in s)


def test_load_corpus_names_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="tiny_corpus.txt"):
        load_corpus()


# ---------------------------------------------------------------- tokenize


def test_tokenize_lowers_and_splits_punctuation():
    assert tokenize("The King's dog RUNS, fast!") == [
        "the", "king's", "dog", "runs", ",", "fast", "!"]
    assert tokenize("  two   spaces\tand\nlines ") == ["two", "spaces", "and",
                                                        "lines"]
    assert tokenize("") == []


# ---------------------------------------------------------------- vocabulary


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary.build(load_corpus())


def test_special_tokens_come_first(vocab):
    assert vocab.itos[:2] == ["<pad>", "<unk>"]
    assert vocab.stoi["<pad>"] == 0 and vocab.stoi["<unk>"] == 1
    assert vocab.pad_id == 0 and vocab.unk_id == 1


def test_stoi_and_itos_are_inverse(vocab):
    assert len(vocab) == len(vocab.itos) == len(vocab.stoi)
    assert all(vocab.stoi[t] == i for i, t in enumerate(vocab.itos))


def test_round_trip_over_the_whole_corpus(vocab):
    for sentence in load_corpus():
        assert vocab.decode(vocab.encode(sentence)) == sentence


def test_unknown_words_map_to_one(vocab):
    assert vocab.encode(["the", "zebra", "qwerty"])[1:] == [1, 1]
    assert vocab.decode(vocab.encode(["zebra"])) == ["<unk>"]
    assert "zebra" not in vocab and "king" in vocab


def test_most_frequent_first_ties_alphabetical():
    v = Vocabulary.build([["b", "a", "c", "a"], ["c", "d"]])
    assert v.itos == ["<pad>", "<unk>", "a", "c", "b", "d"]
    assert v.counts["a"] == 2


def test_min_count_drops_rare_tokens():
    v = Vocabulary.build([["a", "a", "b"], ["a", "c", "c"]], min_count=2)
    assert v.itos == ["<pad>", "<unk>", "a", "c"]
    assert v.encode(["b"]) == [1]


def test_decode_accepts_tensors_and_rejects_bad_ids(vocab):
    import torch

    ids = torch.tensor(vocab.encode(["the", "king"]))
    assert vocab.decode(ids) == ["the", "king"]
    with pytest.raises(IndexError):
        vocab.decode([len(vocab)])
    with pytest.raises(IndexError):
        vocab.decode([-1])


def test_clear_errors_for_untokenised_input():
    with pytest.raises(TypeError, match="tokenize"):
        Vocabulary.build(["the cat sleeps"])
    with pytest.raises(TypeError):
        Vocabulary.build("the cat sleeps")
    with pytest.raises(TypeError, match="tokenize"):
        Vocabulary.build([["a"]]).encode("a b")
    with pytest.raises(ValueError):
        Vocabulary.build([["a"]], min_count=0)
    with pytest.raises(ValueError):
        Vocabulary(["a", "<pad>", "<unk>"])
