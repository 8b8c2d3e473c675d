"""The validation report: statistics and corpus-level warnings (spaCy ``debug data`` style: fail / warn / good).

Readers report line-level problems while reading; this module adds what needs the whole corpus: labels with
few examples, labels only in dev/test, sentences repeated across splits, sentences longer than the model window,
and the statistics tables (sentences, tokens, entities per type per language, length distribution).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Callable, Sequence

from core.data.corpus import Corpus, Sentence
from core.data.schemes import entities

MIN_EXAMPLES = 10


def estimate_subwords(tokens: Sequence[str]) -> int:
    """Rough subword count of a sentence without a tokenizer (units: subwords).

    One piece per 4 characters of a word (at least one), the ratio of XLM-R's SentencePiece on European text;
    a CJK character is one piece. Used only to warn; the trainer measures with the real tokenizer.
    """
    return sum(max(1, math.ceil(len(t) / 4)) for t in tokens)


def corpus_stats(sentences: Sequence[Sentence]) -> dict:
    """Statistics of a corpus.

    Returns:
        dict with ``n_sentences``, ``n_tokens``, ``n_entities`` (ints), ``entity_types`` (type -> count),
        ``languages`` (code -> sentences), ``per_language`` (code -> {sentences, tokens, entities, types:
        {type -> count}}), ``splits`` (split -> sentences), ``length`` ({min, p50, p90, p99, max, mean} in tokens).
    """
    types: Counter = Counter()
    langs: Counter = Counter()
    splits: Counter = Counter()
    per_lang: dict[str, dict] = defaultdict(lambda: {"sentences": 0, "tokens": 0, "entities": 0, "types": Counter()})
    lengths: list[int] = []
    n_tokens = 0
    n_entities = 0
    for s in sentences:
        ents = entities(s.ner_tags)
        n = len(s.tokens)
        n_tokens += n
        n_entities += len(ents)
        lengths.append(n)
        langs[s.lang] += 1
        splits[s.split or "unsplit"] += 1
        pl = per_lang[s.lang]
        pl["sentences"] += 1
        pl["tokens"] += n
        pl["entities"] += len(ents)
        for typ, _, _ in ents:
            types[typ] += 1
            pl["types"][typ] += 1
    lengths.sort()

    def pct(q: float) -> int:
        return lengths[min(len(lengths) - 1, int(q * len(lengths)))] if lengths else 0

    return {
        "n_sentences": len(sentences),
        "n_tokens": n_tokens,
        "n_entities": n_entities,
        "entity_types": dict(types.most_common()),
        "languages": dict(langs.most_common()),
        "per_language": {k: {**v, "types": dict(v["types"].most_common())}
                         for k, v in sorted(per_lang.items(), key=lambda kv: -kv[1]["sentences"])},
        "splits": dict(splits),
        "length": {"min": lengths[0] if lengths else 0, "p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99),
                   "max": lengths[-1] if lengths else 0,
                   "mean": round(n_tokens / len(lengths), 2) if lengths else 0.0},
    }


def validate(corpus: Corpus, max_seq_length: int = 512,
             count_subwords: Callable[[Sequence[str]], int] | None = None,
             min_examples: int = MIN_EXAMPLES) -> None:
    """Add corpus-level warnings to ``corpus.report`` in place.

    Args:
        corpus: a loaded corpus.
        max_seq_length: the model window in subwords, special tokens included.
        count_subwords: subword counter of a real tokenizer; :func:`estimate_subwords` when None.
        min_examples: a type with fewer training entities than this gets W105.
    """
    report = corpus.report
    count = count_subwords or estimate_subwords
    by_split: dict[str, Counter] = defaultdict(Counter)
    for s in corpus.sentences:
        for typ, _, _ in entities(s.ner_tags):
            by_split[s.split or "train"][typ] += 1
    train_types = by_split.get("train", Counter())
    for typ, n in sorted(train_types.items()):
        if n < min_examples:
            report.add("W105", f"entity type {typ!r} has only {n} example(s) in the training data", text=typ)
    for split in ("dev", "test"):
        for typ in sorted(set(by_split.get(split, {})) - set(train_types)):
            if "train" in by_split:
                report.add("W106", f"entity type {typ!r} occurs in {split} but not in train", text=typ)
    # sentences repeated across splits (a test score that leaks) and inside one split
    seen: dict[tuple[str, ...], Sentence] = {}
    dups_within = 0
    for s in corpus.sentences:
        key = tuple(s.tokens)
        if len(key) < 4:  # short sentences ("Reuters", "1996-08-22") legitimately repeat
            continue
        prev = seen.get(key)
        if prev is None:
            seen[key] = s
        elif prev.split != s.split:
            report.add("W107", f"sentence in {s.split or 'unsplit'} also in {prev.split or 'unsplit'} at "
                       f"{prev.where}", file=s.source, line=s.line_start, text=" ".join(s.tokens))
        else:
            dups_within += 1
    if dups_within:
        report.add("W113", f"{dups_within} sentence(s) of 4+ tokens occur more than once in the same split")
    budget = max_seq_length - 2
    for s in corpus.sentences:
        n = count(s.tokens)
        if n > budget:
            report.add("W108", f"sentence of {len(s.tokens)} tokens is about {n} subwords, more than the "
                       f"window of {max_seq_length}", file=s.source, line=s.line_start,
                       text=" ".join(s.tokens[:20]))
