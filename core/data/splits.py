"""Assign sentences to train / dev / test: by file name, or a seeded random split stratified by language.

The random split keeps whole documents together: every sentence of one document (same source file and
``doc_id``) lands in the same split, so parallel translations or consecutive sentences of one article never
leak from train into test (the multileg pitfall in ``docs/DATA.md``). Sentences without a ``doc_id`` are their
own group. Stratification: each language's groups are split separately, so every language keeps about the
requested dev / test share.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from typing import Sequence

from core.data.corpus import Sentence
from core.data.loader import split_from_path

SPLITS = ("train", "dev", "test")


def split_by_file(paths: Sequence[str], default: str = "train") -> dict[str, str]:
    """Split of each file from its name (``train``/``dev``/``valid``/``test``/``testa``...), else ``default``.

    Raises:
        ValueError: when ``default`` is not train, dev or test.
    """
    if default not in SPLITS:
        raise ValueError(f"default split must be one of {', '.join(SPLITS)}, got {default!r}")
    return {p: split_from_path(p) or default for p in paths}


def document_groups(sentences: Sequence[Sentence]) -> list[list[int]]:
    """Indices of sentences grouped by document, in first-seen order.

    A group is every sentence with the same ``(source, doc_id)``; a sentence without ``doc_id`` is a group of
    its own.
    """
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(sentences):
        key = ("doc", s.source, s.doc_id) if s.doc_id is not None else ("sent", i)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def random_split(sentences: Sequence[Sentence], dev: float = 0.1, test: float = 0.1, seed: int = 42) -> list[str]:
    """A seeded random split, stratified by language, that keeps documents together.

    For each language (a document's language is the most frequent among its sentences), the documents are
    shuffled with ``random.Random(seed)`` and walked in order: a document whose first sentence falls in the
    first ``round(test * n)`` sentences of the language goes to test, the next ``round(dev * n)`` to dev, the
    rest to train. A language's last document always goes to train, so no language disappears from training.
    Shares are therefore approximate (off by at most one document per language and split).

    Args:
        sentences: the corpus.
        dev: share of each language's sentences for dev, in [0, 1).
        test: share for test, in [0, 1); ``dev + test`` must be below 1.
        seed: random seed; the same corpus, shares and seed give the same split.

    Returns:
        The split of each sentence (``train``/``dev``/``test``), in the order of ``sentences``.

    Raises:
        ValueError: shares out of range.
    """
    if not (0 <= dev < 1 and 0 <= test < 1 and dev + test < 1):
        raise ValueError(f"dev ({dev}) and test ({test}) shares must be in [0, 1) and sum to less than 1")
    rng = random.Random(seed)
    by_lang: dict[str, list[list[int]]] = defaultdict(list)
    for group in document_groups(sentences):
        lang = Counter(sentences[i].lang for i in group).most_common(1)[0][0]
        by_lang[lang].append(group)
    out = ["train"] * len(sentences)
    for lang in sorted(by_lang):
        groups = by_lang[lang]
        rng.shuffle(groups)
        n = sum(len(g) for g in groups)
        n_test, n_dev = round(test * n), round(dev * n)
        seen = 0
        for k, group in enumerate(groups):
            if k == len(groups) - 1:
                split = "train"
            elif seen < n_test:
                split = "test"
            elif seen < n_test + n_dev:
                split = "dev"
            else:
                split = "train"
            for i in group:
                out[i] = split
            seen += len(group)
    return out


def hold_out_dev(sentences: Sequence[Sentence], fraction: float, seed: int) -> tuple[list[Sentence], list[Sentence]]:
    """Train and dev parts of ``sentences`` by :func:`random_split` (``dev=fraction``, no test): stratified by
    language, whole documents kept together, every language kept in train. Dev sentences get ``split = "dev"``.

    Raises:
        ValueError: ``fraction`` outside [0, 1).
    """
    splits = random_split(sentences, dev=fraction, test=0.0, seed=seed)
    train = [s for s, sp in zip(sentences, splits) if sp == "train"]
    dev = [s for s, sp in zip(sentences, splits) if sp == "dev"]
    for s in dev:
        s.split = "dev"
    return train, dev


def apply_splits(sentences: Sequence[Sentence], splits: Sequence[str]) -> None:
    """Set ``sentence.split`` from a list made by :func:`random_split` (same order), in place.

    Raises:
        ValueError: when the lengths differ or a split name is unknown.
    """
    if len(splits) != len(sentences):
        raise ValueError(f"{len(splits)} splits for {len(sentences)} sentences")
    for s, split in zip(sentences, splits):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        s.split = split


def split_counts(sentences: Sequence[Sentence]) -> dict[str, dict[str, int]]:
    """Language -> split -> number of sentences (splits in train/dev/test order, missing ones 0)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for s in sentences:
        counts[s.lang][s.split or "train"] += 1
    return {lang: {sp: counts[lang].get(sp, 0) for sp in SPLITS} for lang in sorted(counts)}
