"""Load corpora: read files, convert every tagging scheme to IOB2, assign splits and languages, validate.

This is the one entry point the CLI, the trainer and the UI use to turn files into a :class:`Corpus`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from core.data.corpus import Corpus, ReadOptions, Sentence
from core.kernel.errors import CorpusError, Report
from core.data.langid import UndTally, assign_languages
from core.data.schemes import (SCHEMES, canonical_scheme, detect_scheme, is_valid_tag, non_entity_reason,
                               tag_problem, to_iob2)

STREAM_CHUNK = 5000  # sentences per chunk of a streamed file (language detection runs per chunk)

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


def normalize_tags(sentences: Sequence[Sentence], scheme: str | None, report: Report, file: str = "",
                   special_as_o: bool = False) -> str:
    """Convert the raw tags of one file's sentences to IOB2 in place and return the source scheme.

    Each sentence keeps its scheme (``Sentence.scheme``) and, where they differ from the IOB2 form, its tags as
    read (``Sentence.raw_tags``): scores are computed on those, not on the repaired IOB2 tags.

    Args:
        sentences: the sentences of one file (raw tags as read).
        scheme: the file's scheme when the user set it (``BIOES`` accepted), else None to detect it
            (:func:`core.data.schemes.detect_scheme`).
        report: receives E104 for each label that is no entity tag of the scheme
            (:func:`core.data.schemes.tag_problem`: ``[SEP]``, ``-100``, an ``E-`` in IOB2...), read as ``O``;
            with ``special_as_o`` the non-entity labels give one W120 count instead; one W102 warning with the
            count of repaired entity starts (stray ``I-`` in IOB2, or an inside tag with no open entity in
            IOBES/BILOU/BMES).
        file: file name used in problems.
        special_as_o: read non-entity labels as ``O`` with a warning (:attr:`ReadOptions.special_as_o`).

    Raises:
        CorpusError: E104 when ``scheme`` is not one of :data:`core.data.schemes.SCHEMES`.
    """
    if scheme is not None:
        try:
            scheme = canonical_scheme(scheme)
        except ValueError:
            raise CorpusError("E104", f"unknown tagging scheme {scheme!r}", file=file,
                              fix=f"Use one of {', '.join(SCHEMES)} (or BIOES).") from None

    def line_of(s: Sentence, i: int) -> int:
        return s.line_start + i if s.text is None else s.line_start

    specials = 0
    first_special: tuple[Sentence, int] | None = None
    # the checks depend on the tag alone: one look per distinct tag (a file has few), not per token
    seen: dict[str, str | None] = {}
    for s in sentences:
        for i, t in enumerate(s.ner_tags):
            if t in seen:
                reason = seen[t]
            else:
                reason = seen[t] = (non_entity_reason(t) if is_valid_tag(t) or not t.strip()
                                    else "not printable, or holds a space")
            if reason is None:
                continue
            if special_as_o and non_entity_reason(t) is not None:
                specials += 1
                first_special = first_special or (s, i)
            else:
                report.add("E104", f"label {t!r} is no entity tag ({reason}); read as O", file=s.source or file,
                           line=line_of(s, i), text=t,
                           fix="Remove it, or read such labels as O (--special-as-o, or the Data page option).")
            s.ner_tags[i] = "O"
    if specials and first_special is not None:
        s, i = first_special
        report.add("W120", f"{specials} label(s) that are no entity tags were read as O (first at this line)",
                   file=s.source or file, line=line_of(s, i), text=" ".join(s.tokens[:12]))
    src = scheme or detect_scheme(s.ner_tags for s in sentences)
    repairs = 0
    first: Sentence | None = None
    problems: dict[str, str | None] = {}
    for s in sentences:
        for i, t in enumerate(s.ner_tags):
            if t in problems:
                reason = problems[t]
            else:
                reason = problems[t] = tag_problem(t, src)
            if reason is not None:
                report.add("E104", f"tag {t!r} is not a {src} tag: {reason}; read as O", file=s.source or file,
                           line=line_of(s, i), text=t, fix="Declare the file's scheme (--scheme), or fix the tag.")
                s.ner_tags[i] = "O"
        new, n = to_iob2(s.ner_tags, src)
        if n and first is None:
            first = s
        repairs += n
        s.scheme = src
        s.raw_tags = list(s.ner_tags) if new != s.ner_tags else None
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
        corpus.schemes[path] = normalize_tags(sentences, options.scheme, report, path,
                                              special_as_o=options.special_as_o)
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


@dataclass
class CorpusStream:
    """Sentences of files read one chunk at a time, for statistics over corpora larger than memory.

    Iterating yields lists of at most :data:`STREAM_CHUNK` sentences, IOB2 tags, languages and splits assigned,
    exactly as :func:`load_corpus` would give them except that language detection sees one chunk at a time.
    CoNLL files are streamed from disk in two passes (the first detects the tagging scheme, which needs every
    tag of the file); other formats are read whole, one file at a time. Memory is bounded by the largest
    chunk (the largest sentence times :data:`STREAM_CHUNK`), the dialect sample and the largest non-CoNLL file.

    Attributes:
        paths: files or folders.
        options: reading options.
        splits: file -> split override, as :func:`load_corpus`.
        report: every problem found, filled while iterating (capped per code; no per-error locations kept).
        formats: file -> format, filled while iterating.
        schemes: file -> source scheme, filled while iterating.
    """

    paths: Sequence[str]
    options: ReadOptions = field(default_factory=ReadOptions)
    splits: dict[str, str] | None = None
    report: Report = field(default_factory=lambda: Report(keep_locations=False))
    formats: dict[str, str] = field(default_factory=dict)
    schemes: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[list[Sentence]]:
        from core.data.formats import _add_problem, corpus_files, detect_format, read_file
        from core.data.formats.conll import iter_sentences
        from core.data.formats.textio import HEAD_BYTES, check_text, iter_lines

        opts, report = self.options, self.report
        files: list[Path] = []
        for item in self.paths:
            p = Path(item)
            files.extend(corpus_files(p) if p.is_dir() else [p])
        read_any = False
        first: CorpusError | None = None
        und = UndTally()  # one W110 per file, as load_corpus gives, though languages are assigned per chunk
        for f in files:
            path = str(f)
            try:
                fmt = opts.format
                if fmt is None and f.is_file() and f.suffix.lower() not in (".parquet", ".conllu", ".ann"):
                    with f.open("rb") as fh:
                        head = fh.read(HEAD_BYTES * 4)
                    check_text(path, head[:HEAD_BYTES])
                    if head.strip():
                        fmt = detect_format(f, head.decode("utf-8", errors="replace").lstrip("\ufeff"))
                if fmt == "conll" and f.is_file():
                    scheme = opts.scheme
                    if scheme is None:
                        scheme = detect_scheme(s.ner_tags for s in iter_sentences(path, iter_lines(f, Report(),
                                               opts.encoding), opts, Report()))
                    chunks = self._conll_chunks(path, iter_sentences(path, iter_lines(f, report, opts.encoding),
                                                                     opts, report), scheme)
                else:
                    sentences, fmt = read_file(f, opts, report)
                    scheme = normalize_tags(sentences, opts.scheme, report, path)
                    chunks = iter([sentences[i:i + STREAM_CHUNK] for i in range(0, len(sentences), STREAM_CHUNK)])
                self.formats[path], self.schemes[path] = fmt, scheme.upper() if scheme else scheme
                split = (self.splits or {}).get(path) or opts.split or split_from_path(path)
                for chunk in chunks:
                    read_any = True
                    for s in chunk:
                        if s.split is None:
                            s.split = split
                    assign_languages(chunk, user_lang=opts.lang, detect_missing=opts.detect_lang)
                    und.add(chunk)
                    yield chunk
            except CorpusError as exc:
                if first is None:
                    first = exc
                _add_problem(report, exc)
            except Exception as exc:  # noqa: BLE001 - a reader bug on one file must not lose the other files
                err = CorpusError("E133", f"the reader failed on this file ({type(exc).__name__}: {str(exc)[:120]}); "
                                  "the other files were read", file=path)
                first = first or err
                _add_problem(report, err)
        und.emit(report)
        if first is not None and not read_any:
            raise first
        if len(set(self.schemes.values())) > 1:
            report.add("W114", "files use different tagging schemes: "
                       + ", ".join(f"{Path(p).name}={s}" for p, s in self.schemes.items()))

    def _conll_chunks(self, path: str, sentences: Iterator[Sentence], scheme: str) -> Iterator[list[Sentence]]:
        """IOB2 chunks of a streamed CoNLL file (the file's scheme known)."""
        src = "IOBES" if scheme.upper() == "BIOES" else scheme.upper()
        if src not in SCHEMES:
            raise CorpusError("E104", f"unknown tagging scheme {scheme!r}", file=path,
                              fix=f"Use one of {', '.join(SCHEMES)}.")
        repairs = 0
        first: Sentence | None = None
        chunk: list[Sentence] = []
        n_sent = 0
        for s in sentences:
            n_sent += 1
            s.ner_tags, n = to_iob2(s.ner_tags, src)
            if n and first is None:
                first = s
            repairs += n
            chunk.append(s)
            if len(chunk) >= STREAM_CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        if not n_sent:
            raise CorpusError("E113", "no sentence could be read from this conll file"
                              + (f" ({len(self.report.errors)} errors reported)" if self.report.errors else ""),
                              file=path)
        if repairs and first is not None:
            self.report.add("W102", f"{repairs} entity start(s) had no begin tag in {src} data and were read as B- "
                            f"(first in the sentence at this line)", file=path, line=first.line_start,
                            text=" ".join(first.tokens[:12]))
