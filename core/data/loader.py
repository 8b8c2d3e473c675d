"""Load corpora: read files, convert every tagging scheme to IOB2, assign splits and languages, validate.

This is the one entry point the CLI, the trainer and the UI use to turn files into a :class:`Corpus`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from core.data.corpus import Corpus, ReadOptions, Sentence
from core.kernel.errors import CorpusError, Report
from core.data.langid import assign_languages
from core.data.schemes import SCHEMES, detect_scheme, is_valid_tag, to_iob2

_SPLIT_WORDS = {
    "train": "train", "training": "train", "trn": "train",
    "dev": "dev", "valid": "dev", "validation": "dev", "val": "dev", "testa": "dev", "development": "dev",
    "test": "test", "testb": "test", "tst": "test", "eval": "test",
}


def split_from_path(path: str) -> str | None:
    """Guess the split from a file name: ``train``/``training`` -> train; ``dev``/``valid``/``validation``/
    ``testa`` (CoNLL) -> dev; ``test``/``testb`` (CoNLL) -> test; None when the name says nothing."""
    parts = re.split(r"[._\-\s\d]+", Path(path).name.lower())
    for part in reversed(parts):
        if part in _SPLIT_WORDS:
            return _SPLIT_WORDS[part]
    return None


def normalize_tags(sentences: Sequence[Sentence], scheme: str | None, report: Report, file: str = "") -> str:
    """Convert the raw tags of one file's sentences to IOB2 in place and return the source scheme.

    Args:
        sentences: the sentences of one file (raw tags as read).
        scheme: the file's scheme when the user set it, else None to detect it (:func:`core.data.schemes.detect_scheme`).
        report: receives one W102 warning with the count of repaired entity starts (stray ``I-`` in IOB2, or an
            inside tag with no open entity in IOBES/BILOU/BMES) and E104 for tags that are not tags.
        file: file name used in problems.

    Raises:
        CorpusError: E104 when ``scheme`` is not one of :data:`core.data.schemes.SCHEMES`.
    """
    if scheme is not None and scheme.upper() not in SCHEMES and scheme.upper() != "BIOES":
        raise CorpusError("E104", f"unknown tagging scheme {scheme!r}", file=file,
                          fix=f"Use one of {', '.join(SCHEMES)}.")
    if scheme is not None:
        scheme = "IOBES" if scheme.upper() == "BIOES" else scheme.upper()
    for s in sentences:
        bad = [i for i, t in enumerate(s.ner_tags) if not is_valid_tag(t)]
        for i in bad:
            report.add("E104", f"invalid tag {s.ner_tags[i]!r} read as O", file=s.source or file,
                       line=s.line_start + i if s.text is None else s.line_start, text=s.ner_tags[i])
            s.ner_tags[i] = "O"
    src = scheme or detect_scheme(s.ner_tags for s in sentences)
    repairs = 0
    first: Sentence | None = None
    for s in sentences:
        new, n = to_iob2(s.ner_tags, src)
        if n and first is None:
            first = s
        repairs += n
        s.ner_tags = new
    if repairs and first is not None:
        report.add("W102", f"{repairs} entity start(s) had no begin tag in {src} data and were read as B- "
                   f"(first in the sentence at this line)", file=first.source or file, line=first.line_start,
                   text=" ".join(first.tokens[:12]))
    return src


def load_corpus(paths: Sequence[str] | str, options: ReadOptions | None = None,
                splits: dict[str, str] | None = None) -> Corpus:
    """Read files (or folders) into one IOB2 :class:`Corpus` with languages, splits and a report.

    Args:
        paths: files or folders (a folder reads every corpus file in it).
        options: reading options (format, columns, language, offset unit, scheme, ...).
        splits: optional file path -> split override; otherwise ``options.split`` or the file name decides.

    Returns:
        The corpus; unreadable files leave an error in ``corpus.report`` instead of raising, so the good files of
        a multi-file upload are kept.

    Raises:
        CorpusError: only when no path could be read at all (every path failed).
    """
    from core.data.formats import read_paths

    if isinstance(paths, (str, Path)):
        paths = [str(paths)]
    options = options or ReadOptions()
    corpus = Corpus()
    report = corpus.report
    results = []
    failures: list[CorpusError] = []
    for path in paths:
        try:
            results.extend(read_paths([str(path)], options, report))
        except CorpusError as exc:
            report.problems.append(exc.problem)
            failures.append(exc)
    if failures and not results:
        raise failures[0]
    for path, sentences, fmt in results:
        corpus.formats[path] = fmt
        corpus.schemes[path] = normalize_tags(sentences, options.scheme, report, path)
        split = (splits or {}).get(path) or options.split or split_from_path(path)
        for s in sentences:
            if s.split is None:
                s.split = split
        assign_languages(sentences, user_lang=options.lang, detect_missing=options.detect_lang, report=report)
        corpus.sentences.extend(sentences)
    if len(set(corpus.schemes.values())) > 1:
        report.add("W114", "files use different tagging schemes: "
                   + ", ".join(f"{Path(p).name}={s}" for p, s in corpus.schemes.items()))
    return corpus
