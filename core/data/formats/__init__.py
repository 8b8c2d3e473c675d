"""Readers from every common NER file format into :class:`core.data.corpus.Sentence` lists.

Contract of a reader (one module per format family)::

    def read(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]

``text`` is the whole file already decoded by :func:`decode_file` (BOM stripped, CRLF kept as-is for the reader
to handle). A reader returns sentences with *raw* tags of the file's own scheme (token formats) or IOB2 tags
(span formats), sets ``source``/``line_start``/``line_end``/``doc_id``/``sent_id`` and, where the file says so,
``lang`` with ``lang_source``. It never raises on bad content: it records a coded problem in ``report`` (file,
1-based line, offending text) and goes on with the next line/record. It raises
:class:`core.kernel.errors.CorpusError` only when nothing of the file can be read.

:func:`read_file` picks the reader (``options.format`` or :func:`detect_format`) and returns the sentences and
the format name. Scheme conversion and language assignment happen afterwards in :mod:`core.data.loader`.

Modules and the formats they read:

=============  ==================================================================================================
``conll``      ``conll``: token-per-line column files (CoNLL-2002/2003, GermEval, UNER .iob2, KLUE, WNUT, ...)
``conllu``     ``conllu``: CoNLL-U with NER in MISC (``NE=``/``name=``) or in a chosen column
``hf``         ``jsonl``/``json``: Hugging Face layout ``{"tokens", "ner_tags"}`` (string or integer tags);
               ``csv``/``tsv``/``parquet``: the same as table columns
``spans``      ``doccano``, ``labelstudio``, ``spacy`` (``{"text","entities"}`` / displaCy ``ents`` and the spaCy
               v2 JSON training format), ``spans`` (``start_byte``/``limit_byte`` byte spans, Stockmark
               ``{"name","span","type"}``)
``table``      ``table``: one token per row with a sentence-id column (Kaggle ``Sentence #,Word,Tag``, ATISNER)
``brat``       ``brat``: ``.txt`` + ``.ann`` standoff pairs (also the all-TAB NER-UK variant)
``harem``      ``harem``: HAREM inline markup (Second HAREM XML, First HAREM SGML)
``inline``     ``inline``: ``[TYPE]text[/TYPE]``, ``<TYPE>text</TYPE>``, MUC ``<ENAMEX TYPE=..>``, a sentence a line
``textio``     bytes to text: binary files refused, encoding per line, size limits, streamed lines
``words``      the word-splitting rule shared by the span formats
=============  ==================================================================================================
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Iterable

from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import CorpusError, Report
from core.data.formats.jsonio import too_deep
from core.data.formats.textio import read_text

# Format names accepted by --format / ReadOptions.format.
FORMATS = ("conll", "conllu", "jsonl", "json", "csv", "tsv", "parquet", "doccano", "labelstudio", "spacy",
           "brat", "table", "spans", "harem", "inline")

# format -> (module, function) of its reader (imported on first use).
_READERS = {
    "conll": ("conll", "read"),
    "conllu": ("conllu", "read"),
    "jsonl": ("hf", "read_json"),
    "json": ("hf", "read_json"),
    "csv": ("hf", "read_csv"),
    "tsv": ("hf", "read_csv"),
    "parquet": ("hf", "read_parquet"),
    "doccano": ("spans", "read"),
    "labelstudio": ("spans", "read"),
    "spacy": ("spans", "read"),
    "spans": ("spans", "read"),
    "table": ("table", "read"),
    "brat": ("brat", "read"),
    "harem": ("harem", "read"),
    "inline": ("inline", "read"),
}


def decode_file(path: str | Path, options: ReadOptions | None, report: Report) -> str:
    """Read a file and decode it to text by the rules of :mod:`core.data.formats.textio`.

    Binary files are refused (E130), the encoding is decided per line (invalid UTF-8 bytes replaced and
    reported per line, W130; cp1252 only for a file mostly not UTF-8, W101), a leading BOM is removed, and the
    file may hold at most ``options.max_bytes`` (E131). ``options.encoding`` forces an encoding (no fallback).
    Line endings are not touched.

    Args:
        path: the file.
        options: read options (``encoding``, ``max_bytes``); None for defaults.
        report: receives W101/W130.

    Returns:
        The decoded text.

    Raises:
        CorpusError: E101 (unreadable, or not valid in a forced encoding), E130 (binary), E131 (too large).
    """
    options = options or ReadOptions()
    return read_text(path, report, options.encoding, options.max_bytes)


# ---------------------------------------------------------------------------------------------- detection

_SENT_ID_COLS = {"sentence #", "sentence#", "sentence_id", "sentence id", "sentence", "sent_id", "sent id",
                 "sentence_idx", "sentence_no", "sentence no", "sent", "sentence_num", "sentence number",
                 "sentenceid", "sent_no"}
_WORD_COLS = {"word", "token", "form", "tok", "tokens"}


def _first_json_value(text: str) -> object:
    """The first JSON value of ``text`` (a JSON Lines record or the first element of a JSON array).

    Raises:
        ValueError: the text does not start with JSON.
    """
    dec = json.JSONDecoder()
    s = text.lstrip()
    if s.startswith("["):
        i = 1
        while i < len(s) and s[i].isspace():
            i += 1
        if i < len(s) and s[i] == "]":
            return []
        return dec.raw_decode(s, i)[0]
    return dec.raw_decode(s)[0]


def _classify(rec: object) -> tuple[str | None, bool]:
    """``(family, decisive)`` of one JSON record; a record with an empty span list is not decisive (byte spans
    and character spans look alike until a span is seen)."""
    if isinstance(rec, list) and len(rec) == 2 and isinstance(rec[0], str) and isinstance(rec[1], dict) \
            and "entities" in rec[1]:
        return "spacy", True  # spaCy v2 TRAIN_DATA pair [text, {"entities": [...]}]
    if not isinstance(rec, dict):
        return None, False
    keys = set(rec)
    if "paragraphs" in keys:
        return "spacy", True
    if "annotations" in keys or "completions" in keys or ("data" in keys and "predictions" in keys):
        return "labelstudio", True
    if "tokens" in keys or "words" in keys:
        return "jsonl", True
    for key in ("spans", "entities"):
        if key in keys and isinstance(rec[key], list):
            first = rec[key][0] if rec[key] else None
            if isinstance(first, dict) and ("start_byte" in first or "limit_byte" in first or "span" in first):
                return "spans", True
            return "spacy", first is not None
    if "ents" in keys:
        return "spacy", True
    if "text" in keys and ("label" in keys or "labels" in keys):
        return "doccano", True
    return None, False


def _sniff_json(path: Path, text: str) -> str | None:
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        first = _first_json_value(stripped)
    except (ValueError, RecursionError):  # RecursionError: nested too deep (E132 in the reader)
        return None
    if stripped[0] == "[":
        if first == []:
            return "json"
        fam, decisive = _classify(first)
        if not decisive:
            return None  # decided on more records below
        if fam == "jsonl":
            return "json"
        return fam
    # a JSON object: a container {"data": [...], "label_list": [...]} or the first JSON Lines record
    if isinstance(first, dict):
        for key in ("data", "examples", "records", "sentences", "rows"):
            val = first.get(key)
            if isinstance(val, list) and val and isinstance(val[0], dict):
                fam = _classify(val[0])[0]
                return "json" if fam == "jsonl" else fam
        fam, decisive = _classify(first)
        if decisive:
            return fam
        # JSON Lines: the first record did not settle it (empty span list, or a label-list line)
        for line in stripped.split("\n", 200)[1:200]:
            try:
                f2, d2 = _classify(json.loads(line))
            except (ValueError, RecursionError):  # RecursionError: nested too deep (E132 in the reader)
                continue
            fam = fam or f2
            if d2:
                return f2
        return fam
    return None


def _sniff_header(text: str) -> str | None:
    """``table`` / ``csv`` / ``tsv`` from a header row, or None."""
    head = text.lstrip("\n").split("\n", 1)[0].rstrip("\r")
    for delim in ("\t", ",", ";"):
        if delim not in head:
            continue
        cols = [c.strip().strip('"').lower() for c in head.split(delim)]
        has_tokens = any(c in ("tokens", "words") for c in cols)
        has_tags = any(c in ("ner_tags", "tags", "ner_labels", "labels") for c in cols)
        if has_tokens and has_tags:
            return "tsv" if delim == "\t" else "csv"
        if any(c in _SENT_ID_COLS for c in cols) and any(c in _WORD_COLS for c in cols):
            return "table"
    return None


def detect_format(path: str | Path, text: str) -> str:
    """Guess the format of a file from its name and content.

    Order (first match wins): ``.parquet`` -> parquet; ``.conllu`` -> conllu; ``.ann``, or ``.txt`` with a
    ``.ann`` sibling, or a folder holding ``.ann`` files -> brat; JSON content -> by the keys of the first
    record (``paragraphs`` -> spacy v2,
    ``annotations``/``completions`` -> labelstudio, ``tokens`` -> jsonl (json for an array), ``spans`` with
    ``start_byte`` or ``entities`` with ``span`` -> spans, ``entities``/``ents``/``spans`` -> spacy,
    ``text`` + ``label``/``labels`` -> doccano); HAREM markup (``<colHAREM``/``<DOC>``) -> harem; a header row
    with a sentence-id column -> table, with ``tokens``/``ner_tags`` columns -> csv/tsv; inline markup
    (``[PER]...[/PER]``, ``<PER>...</PER>`` pairs on lines that are not token/tag columns) -> inline; 10 TAB-separated
    fields with a numeric ID -> conllu; otherwise token-per-line columns (two or more) -> conll.

    Args:
        path: file (or BRAT folder) path; the extension is a hint only.
        text: the decoded content ('' for binary formats).

    Returns:
        A name from :data:`FORMATS`.

    Raises:
        CorpusError: E113 for an empty file, E102 when no format fits.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix == ".conllu":
        return "conllu"
    if p.is_dir():
        if any(p.glob("*.ann")):
            return "brat"
        raise CorpusError("E102", "a folder is not a corpus file (only BRAT folders of .txt + .ann are)",
                          file=str(p))
    if suffix == ".ann" or (suffix == ".txt" and p.with_suffix(".ann").exists()):
        return "brat"
    if not text.strip():
        raise CorpusError("E113", "the file is empty", file=str(p))
    fam = _sniff_json(p, text)
    if fam is not None:
        return fam
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        # JSON that the first record did not settle (e.g. a span array whose first record lacks the key)
        try:
            whole = json.loads(stripped)
        except (ValueError, RecursionError):  # RecursionError: nested too deep (E132 in the reader)
            whole = None
        if isinstance(whole, list):
            fallback = None
            for rec in whole[:500]:
                fam, decisive = _classify(rec)
                fallback = fallback or fam
                if decisive:
                    return "json" if fam == "jsonl" else fam
            if fallback is not None:
                return fallback
        if too_deep(stripped) is not None:  # the JSON reader reports E132 and keeps the records before it
            return "json" if stripped[0] == "[" else "jsonl"
    if stripped.startswith("<"):
        if "<colHAREM" in stripped[:2000] or stripped.startswith("<DOC>") or "<DOCID>" in stripped[:500]:
            return "harem"
    fam = _sniff_header(text)
    if fam is not None:
        return fam
    from core.data.formats import inline

    if inline.sniff(text):
        return "inline"
    sample = [ln.rstrip("\r") for ln in text[:200_000].split("\n")[:400]]
    data = [ln for ln in sample if ln.strip() and not ln.startswith("#")]
    if data and all(len(ln.split("\t")) == 10 for ln in data[:50]) and data[0].split("\t")[0].isdigit():
        return "conllu"
    if data:
        multi = sum(1 for ln in data if len([x for x in re.split(r"[ \t]", ln) if x]) >= 2
                    or ln.startswith(" \t"))
        if multi >= max(1, len(data) // 2):
            return "conll"
    raise CorpusError("E102", "cannot tell the format: no JSON, header row or token/tag columns found",
                      file=str(p), text=(data[0] if data else stripped[:80]))


# ---------------------------------------------------------------------------------------------- reading

def _reader(fmt: str):
    mod_name, func = _READERS[fmt]
    mod = importlib.import_module(f"core.data.formats.{mod_name}")
    return getattr(mod, func)


def read_file(path: str | Path, options: ReadOptions | None = None,
              report: Report | None = None) -> tuple[list[Sentence], str]:
    """Read one corpus file (or one BRAT document: its ``.txt`` or ``.ann``).

    Args:
        path: the file.
        options: read options; None for defaults (auto-detected format).
        report: receives every problem found; None to discard them.

    Returns:
        ``(sentences, format_name)``; tags are the file's raw tags (token formats) or IOB2 (span formats).
        When ``options.split`` is set it is given to every sentence.

    Raises:
        CorpusError: E101 (missing/unreadable file), E102 (unknown or undetectable format), E113 (empty file,
            or no sentence could be read: the report then holds the reasons).
    """
    options = options or ReadOptions()
    report = report if report is not None else Report()
    p = Path(path)
    if not p.exists():
        raise CorpusError("E101", "no such file", file=str(p))
    if p.is_dir():
        raise CorpusError("E101", "this is a folder; read folders with read_paths", file=str(p))
    fmt = options.format
    if fmt is not None and fmt not in FORMATS:
        raise CorpusError("E102", f"unknown format {fmt!r}", file=str(p))
    if p.suffix.lower() == ".ann" and (fmt in (None, "brat")):
        p, fmt = p.with_suffix(".txt"), "brat"
        if not p.exists():
            raise CorpusError("E101", "the .ann file has no .txt file next to it", file=str(p.with_suffix(".ann")),
                              fix="BRAT documents are pairs NAME.txt + NAME.ann in one folder.")
    if fmt is None and p.suffix.lower() == ".parquet":
        fmt = "parquet"
    text = "" if fmt == "parquet" else decode_file(p, options, report)
    if fmt is None:
        fmt = detect_format(p, text)
    elif fmt != "parquet" and fmt != "brat" and not text.strip():
        raise CorpusError("E113", "the file is empty", file=str(p))
    sentences = _reader(fmt)(str(p), text, options, report)
    if not sentences:
        raise CorpusError("E113", f"no sentence could be read from this {fmt} file"
                          + (f" ({len(report.errors)} errors reported)" if report.errors else ""), file=str(p))
    if options.split is not None:
        for s in sentences:
            s.split = options.split
    return sentences, fmt


# Files in a corpus folder that are not corpus files (documentation, configuration, label lists, statistics).
_AUX_NAME = re.compile(r"^(readme|license|licence|copying|notice|changelog|citation|authors)([._-]|$)"
                       r"|(^|[_.-])(labels?|labels?_list|label_names|stats|split)\.(txt|json)$", re.IGNORECASE)
_AUX_SUFFIX = {".md", ".rst", ".conf", ".cfg", ".ini", ".yaml", ".yml", ".py", ".sh", ".pdf", ".zip", ".gz",
               ".bz2", ".xz", ".tar", ".7z", ".pkl", ".pt", ".bin", ".png", ".jpg", ".html", ".log", ".ann"}


def corpus_files(folder: str | Path) -> list[Path]:
    """Corpus files under ``folder``, recursively, in sorted order.

    Skipped: hidden files, documentation/licence/config files (``SOURCE.md``, ``README``, ``LICENSE``,
    ``*.conf``, ...), label lists (``labels_list.txt``), statistics and split lists (``*_stats.txt``,
    ``dev-test-split.txt``). A BRAT document (``NAME.txt`` with ``NAME.ann``) is one entry, its ``.txt``.
    """
    out: list[Path] = []
    for f in sorted(Path(folder).rglob("*")):
        if not f.is_file() or any(part.startswith(".") for part in f.relative_to(folder).parts):
            continue
        if f.suffix.lower() in _AUX_SUFFIX or _AUX_NAME.search(f.name):
            continue
        out.append(f)
    return out


def read_paths(paths: str | Path | Iterable[str | Path], options: ReadOptions | None,
               report: Report) -> list[tuple[str, list[Sentence], str]]:
    """Read files and folders; a file that cannot be read is reported and skipped.

    Args:
        paths: files and/or folders (folders are expanded with :func:`corpus_files`); a ``.ann`` file given
            directly reads its BRAT document.
        options: read options shared by every file (``options.format`` forces one format for all).
        report: receives every problem, including the CorpusError of each file that could not be read.

    Returns:
        ``(path, sentences, format_name)`` for every file read, in order.

    Raises:
        CorpusError: only when nothing at all could be read: the first file's error (not also added to
            ``report``; the other files' errors are), or E113 for a folder without corpus files.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    options = options or ReadOptions()
    out: list[tuple[str, list[Sentence], str]] = []
    first: CorpusError | None = None
    first_at = 0  # where the first failure belongs in report.problems (kept in the order found)
    for item in paths:
        p = Path(item)
        files = corpus_files(p) if p.is_dir() else [p]
        if not files and first is None:
            first, first_at = CorpusError("E113", "the folder holds no corpus file", file=str(p)), \
                len(report.problems)
        for f in files:
            failure: CorpusError | None = None
            try:
                sentences, fmt = read_file(f, options, report)
            except CorpusError as exc:
                failure = exc
            except Exception as exc:  # noqa: BLE001 - a reader bug on one file must not lose the other files
                failure = CorpusError("E133", f"the {options.format or 'detected'} reader failed on this file "
                                      f"({type(exc).__name__}: {str(exc)[:120]}); the other files were read",
                                      file=str(f))
            if failure is None:
                out.append((str(f), sentences, fmt))
            elif first is None:
                first, first_at = failure, len(report.problems)
            else:
                _add_problem(report, failure)
    if first is not None:
        if not out:
            raise first
        before = len(report.problems)
        _add_problem(report, first)
        if len(report.problems) > before:
            report.problems.insert(first_at, report.problems.pop())
    return out


def _add_problem(report: Report, exc: CorpusError) -> None:
    pr = exc.problem
    report.add(pr.code, pr.message, file=pr.file, line=pr.line, text=pr.text, fix=pr.fix)
