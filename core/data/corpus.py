"""The one corpus model of the studio.

A corpus is a list of :class:`Sentence` objects: ``tokens`` and ``ner_tags`` (always IOB2 inside the studio,
whatever the file used), a language code, the document id, the source file with its 1-based line range, and the
split. Readers (``core.data.formats``) turn files into sentences with *raw* tags; :func:`core.data.loader.load_corpus`
then detects the scheme, converts to IOB2, repairs stray ``I-`` starts, and assigns languages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from core.kernel.errors import Report


@dataclass
class Sentence:
    """One annotated sentence.

    Attributes:
        tokens: words, as in the file (never normalised); ``len(tokens) == len(ner_tags)``.
        ner_tags: one tag per token; IOB2 after loading (raw scheme while a reader is building it).
        lang: ISO 639-1 code where one exists (``es``, ``zh``), ISO 639-3 otherwise (``pcm``); ``und`` when unknown.
        lang_source: where ``lang`` came from: ``field``, ``comment``, ``prefix``, ``filename``, ``user``,
            ``script``, ``detected``, ``prior`` (among the corpus's languages), ``document`` or ``none``.
        doc_id: document id (from ``-DOCSTART-``, ``# newdoc``, a document field, or the file), or None.
        source: path of the file the sentence was read from.
        line_start: 1-based first line of the sentence in ``source`` (for JSON Lines: the record's line).
        line_end: 1-based last line (inclusive).
        split: ``train``, ``dev``, ``test`` or None.
        sent_id: id given by the file (``# sent_id``, a JSON ``id``), or None.
        text: raw text for span formats (None for token formats).
        offsets: character (not byte) offsets ``(start, end)`` of each token in ``text``, or None.
        scheme: the tagging scheme the file used (set by the loader), None for sentences built in memory (IOB2).
        raw_tags: the tags as the file had them (after refused labels became ``O``), kept only where they differ
            from ``ner_tags`` (another scheme, or repaired ``I-`` starts); scores are computed on these
            (:func:`core.eval.metrics.source_tags`), never on the repaired IOB2 form.
    """

    tokens: list[str]
    ner_tags: list[str]
    lang: str = "und"
    lang_source: str = "none"
    doc_id: str | None = None
    source: str = ""
    line_start: int = 0
    line_end: int = 0
    split: str | None = None
    sent_id: str | None = None
    text: str | None = None
    offsets: list[tuple[int, int]] | None = None
    scheme: str | None = None
    raw_tags: list[str] | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def where(self) -> str:
        """``file:line`` of the sentence's first line."""
        return f"{self.source}:{self.line_start}"

    def to_record(self) -> dict:
        """JSON-ready dict: tokens, ner_tags, lang, and the provenance fields that are set."""
        rec: dict = {"tokens": list(self.tokens), "ner_tags": list(self.ner_tags), "lang": self.lang}
        for key in ("doc_id", "split", "sent_id"):
            val = getattr(self, key)
            if val is not None:
                rec[key] = val
        return rec


@dataclass
class ReadOptions:
    """How to read a file. Every field has a default that suits the common case.

    Attributes:
        format: force a format (see :data:`core.data.formats.FORMATS`); None auto-detects.
        token_col: 0-based token column for column formats (CoNLL, table); default first.
        tag_col: 0-based tag column for column formats; default last (-1). For CoNLL-U: None reads MISC
            ``NE=``/``name=``; an int reads that column.
        lang: language for every sentence (the user's choice); overrides detection but not explicit fields.
        detect_lang: run language detection where no language is given.
        offset_unit: span offsets unit for span formats: ``auto`` (default: the unit under which the spans'
            texts match, W132 when it is not ``char``), ``char`` (code points), ``byte`` (UTF-8 bytes) or
            ``utf16`` (UTF-16 code units, as JavaScript and browser annotation tools count).
        encoding: force an encoding; None tries UTF-8 (BOM stripped), then cp1252/Latin-1 with a warning.
        scheme: force the tagging scheme of the file (``IOB1``, ``IOB2``, ``IOBES``, ``BILOU``, ``BMES``, ``IO``);
            None detects it.
        split: split to give every sentence of the file; None guesses from the file name.
        text_field/tokens_field/tags_field/lang_field: field names for JSON/CSV layouts.
        label_list: names for integer ``ner_tags`` (index -> tag).
        special_as_o: read labels that are no entity tags (``[SEP]``, ``[PAD]``, ``<pad>``, ``X``, ``-100``,
            empty; :func:`core.data.schemes.non_entity_reason`) as ``O`` with one W120 warning per file, instead
            of an E104 error at each.
        max_bytes: the largest file read into memory, in bytes (E131 beyond it); None for no limit.
    """

    format: str | None = None
    token_col: int = 0
    tag_col: int | None = -1
    lang: str | None = None
    detect_lang: bool = True
    offset_unit: str = "auto"
    encoding: str | None = None
    scheme: str | None = None
    split: str | None = None
    text_field: str = "text"
    tokens_field: str = "tokens"
    tags_field: str = "ner_tags"
    lang_field: str = "lang"
    label_list: list[str] | None = None
    special_as_o: bool = False
    max_bytes: int | None = 1 << 30


@dataclass
class Corpus:
    """Sentences of one or more files plus the report of loading them.

    Attributes:
        sentences: all sentences, in file order.
        report: errors and warnings collected while reading.
        formats: file -> detected format name.
        schemes: file -> detected source tagging scheme (before conversion to IOB2).
    """

    sentences: list[Sentence] = field(default_factory=list)
    report: Report = field(default_factory=Report)
    formats: dict[str, str] = field(default_factory=dict)
    schemes: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sentences)

    def __iter__(self):
        return iter(self.sentences)

    def by_split(self, split: str) -> list[Sentence]:
        """Sentences whose split is ``split``."""
        return [s for s in self.sentences if s.split == split]

    @property
    def languages(self) -> dict[str, int]:
        """Language code -> number of sentences, most frequent first."""
        counts: dict[str, int] = {}
        for s in self.sentences:
            counts[s.lang] = counts.get(s.lang, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def label_list(self) -> list[str]:
        """Sorted IOB2 label list: ``O`` first, then ``B-``/``I-`` of every type in alphabetical order."""
        from core.data.schemes import entity_types

        types = sorted(entity_types(s.ner_tags for s in self.sentences))
        out = ["O"]
        for t in types:
            out += [f"B-{t}", f"I-{t}"]
        return out


def iter_tags(sentences: Iterable[Sentence]) -> Iterable[list[str]]:
    """The ``ner_tags`` list of each sentence."""
    for s in sentences:
        yield s.ner_tags
