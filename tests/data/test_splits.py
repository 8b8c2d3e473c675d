"""Tests of core.data.splits: file-name splits, and the seeded language-stratified split that keeps documents whole."""

from __future__ import annotations

from collections import Counter

import pytest

from core.data.corpus import Sentence
from core.data.splits import apply_splits, document_groups, random_split, split_by_file, split_counts


def corpus(n_docs_per_lang: dict[str, int], sents_per_doc: int = 5) -> list[Sentence]:
    out = []
    for lang, n_docs in n_docs_per_lang.items():
        for d in range(n_docs):
            for k in range(sents_per_doc):
                out.append(Sentence([f"{lang}{d}_{k}"], ["O"], lang=lang, doc_id=f"{lang}-{d}", source="f.conll"))
    return out


def test_split_by_file():
    assert split_by_file(["a/train.conll", "a/es_dev.txt", "x/testb.iob", "x/misc.conll"]) == {
        "a/train.conll": "train", "a/es_dev.txt": "dev", "x/testb.iob": "test", "x/misc.conll": "train"}
    assert split_by_file(["misc.conll"], default="test") == {"misc.conll": "test"}
    with pytest.raises(ValueError, match="default split"):
        split_by_file([], default="valid")


def test_document_groups():
    sents = corpus({"en": 2}, 2) + [Sentence(["a"], ["O"]), Sentence(["b"], ["O"])]
    assert document_groups(sents) == [[0, 1], [2, 3], [4], [5]]


def test_random_split_is_seeded_stratified_and_keeps_documents():
    sents = corpus({"en": 40, "de": 20, "zh": 10})
    splits = random_split(sents, dev=0.1, test=0.2, seed=7)
    assert splits == random_split(sents, dev=0.1, test=0.2, seed=7)
    assert splits != random_split(sents, dev=0.1, test=0.2, seed=8)
    # every document is in one split
    for group in document_groups(sents):
        assert len({splits[i] for i in group}) == 1
    # each language keeps about the requested shares (within one document of 5 sentences)
    for lang, n in {"en": 200, "de": 100, "zh": 50}.items():
        c = Counter(sp for s, sp in zip(sents, splits) if s.lang == lang)
        assert abs(c["test"] - 0.2 * n) <= 5 and abs(c["dev"] - 0.1 * n) <= 5 and c["train"] >= 0.6 * n


def test_random_split_never_empties_train_of_a_language():
    sents = corpus({"en": 10, "sw": 1})  # Swahili is a single document: it stays in train
    splits = random_split(sents, dev=0.3, test=0.3, seed=1)
    assert {sp for s, sp in zip(sents, splits) if s.lang == "sw"} == {"train"}


def test_sentences_without_doc_id_are_split_individually():
    sents = [Sentence([str(i)], ["O"], lang="en") for i in range(100)]
    c = Counter(random_split(sents, dev=0.1, test=0.1, seed=3))
    assert c == {"train": 80, "dev": 10, "test": 10}


@pytest.mark.parametrize("dev,test", [(-0.1, 0.1), (0.5, 0.5), (1.0, 0.0)])
def test_random_split_rejects_bad_shares(dev, test):
    with pytest.raises(ValueError, match="shares"):
        random_split([], dev=dev, test=test)


def test_apply_and_count():
    sents = corpus({"en": 1, "de": 1}, 2)
    apply_splits(sents, ["train", "dev", "test", "train"])
    assert split_counts(sents) == {"de": {"train": 1, "dev": 0, "test": 1}, "en": {"train": 1, "dev": 1, "test": 0}}
    with pytest.raises(ValueError, match="unknown split"):
        apply_splits(sents, ["train", "x", "dev", "dev"])
    with pytest.raises(ValueError, match="3 splits for 4"):
        apply_splits(sents, ["train"] * 3)
