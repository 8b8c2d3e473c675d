"""The validation report: statistics and corpus-level warnings (spaCy ``debug data`` style: fail / warn / good).

Readers report line-level problems while reading; this module adds what needs the whole corpus: labels with
few examples, labels only in dev/test, sentences repeated across splits, sentences longer than the model window,
and the statistics tables (sentences, tokens, entities per type per language, length distribution).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Callable, Iterable, Sequence

from core.data.corpus import Corpus, Sentence
from core.data.schemes import entities
from core.kernel.errors import Report

MIN_EXAMPLES = 10


def estimate_subwords(tokens: Sequence[str]) -> int:
    """Rough subword count of a sentence without a tokenizer (units: subwords).

    One piece per 4 characters of a word (at least one), the ratio of XLM-R's SentencePiece on European text;
    a CJK character is one piece. Used only to warn; the trainer measures with the real tokenizer.
    """
    return sum(max(1, math.ceil(len(t) / 4)) for t in tokens)


class StatsAccumulator:
    """The statistics of :func:`corpus_stats`, accumulated one sentence at a time.

    Memory is bounded by the number of distinct languages, types, splits and sentence lengths, never by the
    number of sentences: lengths are kept as a length -> count table, from which the percentiles are read.
    """

    def __init__(self) -> None:
        self.types: Counter = Counter()
        self.langs: Counter = Counter()
        self.splits: Counter = Counter()
        self.per_lang: dict[str, dict] = defaultdict(
            lambda: {"sentences": 0, "tokens": 0, "entities": 0, "types": Counter()})
        self.lengths: Counter = Counter()
        self.n_sentences = 0
        self.n_tokens = 0
        self.n_entities = 0

    def add(self, s: Sentence) -> None:
        """Count one sentence (IOB2 tags)."""
        ents = entities(s.ner_tags)
        n = len(s.tokens)
        self.n_sentences += 1
        self.n_tokens += n
        self.n_entities += len(ents)
        self.lengths[n] += 1
        self.langs[s.lang] += 1
        self.splits[s.split or "unsplit"] += 1
        pl = self.per_lang[s.lang]
        pl["sentences"] += 1
        pl["tokens"] += n
        pl["entities"] += len(ents)
        for typ, _, _ in ents:
            self.types[typ] += 1
            pl["types"][typ] += 1

    def _pct(self, q: float) -> int:
        if not self.n_sentences:
            return 0
        idx = min(self.n_sentences - 1, int(q * self.n_sentences))
        seen = 0
        for length in sorted(self.lengths):
            seen += self.lengths[length]
            if seen > idx:
                return length
        return max(self.lengths)

    def result(self) -> dict:
        """The statistics dict (keys as :func:`corpus_stats`)."""
        n = self.n_sentences
        return {
            "n_sentences": n,
            "n_tokens": self.n_tokens,
            "n_entities": self.n_entities,
            "entity_types": dict(self.types.most_common()),
            "languages": dict(self.langs.most_common()),
            "per_language": {k: {**v, "types": dict(v["types"].most_common())}
                             for k, v in sorted(self.per_lang.items(), key=lambda kv: -kv[1]["sentences"])},
            "splits": dict(self.splits),
            "length": {"min": min(self.lengths) if n else 0, "p50": self._pct(0.5), "p90": self._pct(0.9),
                       "p99": self._pct(0.99), "max": max(self.lengths) if n else 0,
                       "mean": round(self.n_tokens / n, 2) if n else 0.0},
        }


def corpus_stats(sentences: Iterable[Sentence]) -> dict:
    """Statistics of a corpus.

    Returns:
        dict with ``n_sentences``, ``n_tokens``, ``n_entities`` (ints), ``entity_types`` (type -> count),
        ``languages`` (code -> sentences), ``per_language`` (code -> {sentences, tokens, entities, types:
        {type -> count}}), ``splits`` (split -> sentences), ``length`` ({min, p50, p90, p99, max, mean} in tokens).
    """
    acc = StatsAccumulator()
    for s in sentences:
        acc.add(s)
    return acc.result()


class CorpusChecker:
    """The corpus-level checks of :func:`validate`, fed one sentence at a time (for streamed corpora).

    Memory: entity counts per split and type, plus one integer pair per distinct sentence of 4+ tokens (its hash
    and where it was first seen) for the repeated-sentence checks; the problems are capped per code by
    :class:`core.kernel.errors.Report`.
    """

    def __init__(self, max_seq_length: int = 512, count_subwords: Callable[[Sequence[str]], int] | None = None,
                 min_examples: int = MIN_EXAMPLES) -> None:
        self.count = count_subwords or estimate_subwords
        self.budget = max_seq_length - 2
        self.max_seq_length = max_seq_length
        self.min_examples = min_examples
        self.by_split: dict[str, Counter] = defaultdict(Counter)
        self.seen: dict[int, tuple[int, int, str | None]] = {}  # sentence hash -> (file index, line, split)
        self.files: dict[str, int] = {}
        self.dups_within = 0
        self.repeated = Report()
        self.long = Report()

    def add(self, s: Sentence) -> None:
        """Check one sentence (IOB2 tags)."""
        for typ, _, _ in entities(s.ner_tags):
            self.by_split[s.split or "train"][typ] += 1
        if len(s.tokens) >= 4:  # short sentences ("Reuters", "1996-08-22") legitimately repeat
            key = hash(tuple(s.tokens))
            prev = self.seen.get(key)
            if prev is None:
                self.seen[key] = (self.files.setdefault(s.source, len(self.files)), s.line_start, s.split)
            elif prev[2] != s.split:
                src = next(f for f, i in self.files.items() if i == prev[0])
                self.repeated.add("W107", f"sentence in {s.split or 'unsplit'} also in {prev[2] or 'unsplit'} at "
                                  f"{src}:{prev[1]}", file=s.source, line=s.line_start, text=" ".join(s.tokens))
            else:
                self.dups_within += 1
        n = self.count(s.tokens)
        if n > self.budget:
            self.long.add("W108", f"sentence of {len(s.tokens)} tokens is about {n} subwords, more than the "
                          f"window of {self.max_seq_length}", file=s.source, line=s.line_start,
                          text=" ".join(s.tokens[:20]))

    def finish(self, report: Report) -> None:
        """Add the warnings to ``report``: W105, W106, W107, W113, W108 in that order."""
        train_types = self.by_split.get("train", Counter())
        for typ, n in sorted(train_types.items()):
            if n < self.min_examples:
                report.add("W105", f"entity type {typ!r} has only {n} example(s) in the training data", text=typ)
        for split in ("dev", "test"):
            for typ in sorted(set(self.by_split.get(split, {})) - set(train_types)):
                if "train" in self.by_split:
                    report.add("W106", f"entity type {typ!r} occurs in {split} but not in train", text=typ)
        report.extend(self.repeated)
        if self.dups_within:
            report.add("W113", f"{self.dups_within} sentence(s) of 4+ tokens occur more than once in the same split")
        report.extend(self.long)


def validate(corpus: Corpus, max_seq_length: int = 512,
             count_subwords: Callable[[Sequence[str]], int] | None = None,
             min_examples: int = MIN_EXAMPLES) -> None:
    """Add corpus-level warnings to ``corpus.report`` in place (:class:`CorpusChecker` over every sentence).

    Args:
        corpus: a loaded corpus.
        max_seq_length: the model window in subwords, special tokens included.
        count_subwords: subword counter of a real tokenizer; :func:`estimate_subwords` when None.
        min_examples: a type with fewer training entities than this gets W105.
    """
    checker = CorpusChecker(max_seq_length, count_subwords, min_examples)
    for s in corpus.sentences:
        checker.add(s)
    checker.finish(corpus.report)


def bad_sentences(sentences: Sequence[Sentence], report: Report) -> dict[int, tuple[int, str]]:
    """The sentences an error was found in: index in ``sentences`` -> ``(line, code)`` of its first error.

    An error belongs to a sentence when it names the sentence's file and a line in ``line_start..line_end``
    (a JSON record's line for span formats). File-level errors (line 0) belong to no sentence. Used to train on
    the good sentences of a dataset with errors (the bad ones are left out and listed).
    """
    from bisect import bisect_left

    by_file: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for file, line, code in report.error_locations:  # every error, also those beyond the per-code cap
        by_file[file].append((line, code))
    for v in by_file.values():
        v.sort()
    out: dict[int, tuple[int, str]] = {}
    for i, s in enumerate(sentences):
        errs = by_file.get(s.source)
        if not errs:
            continue
        j = bisect_left(errs, s.line_start, key=lambda lp: lp[0])
        if j < len(errs) and errs[j][0] <= max(s.line_end, s.line_start):
            out[i] = errs[j]
    return out
