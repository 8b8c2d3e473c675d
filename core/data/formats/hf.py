"""Hugging Face ``datasets`` layout: one sentence per record with ``tokens`` and ``ner_tags`` (conll2003, wikiann,
xtreme on the Hub), as JSON Lines / JSON, CSV/TSV columns, or Parquet.

Rules:

* Field names: ``options.tokens_field`` (default ``tokens``; ``words`` also accepted) and ``options.tags_field``
  (default ``ner_tags``; ``tags``, ``ner``, ``ner_labels``, ``labels`` also accepted). A record without them is
  reported (E106) with the keys it has.
* Tags are strings (kept raw), or integers (``ClassLabel`` ids) mapped through a label list: ``options.label_list``,
  else one found in the file (a top-level ``label_list``/``labels``/``label_names``/``names`` list or an
  ``id2label`` mapping; a JSON Lines line holding only such a key; the ``huggingface`` schema metadata of a
  Parquet file written by ``datasets``), else a label file next to the data (``label_list.txt``,
  ``labels.txt``, ``labels_list.txt``: one label a line). An id outside the list, or an id with no list, is
  E112 and the record is skipped.
* ``len(tokens) != len(ner_tags)`` is E107 (record skipped). A JSON line that does not parse is E105; the other
  lines are read.
* ``lang``/``language`` (or ``options.lang_field``) gives ``lang`` with ``lang_source = "field"``; ``id``/
  ``sent_id``/``example_id``/``guid`` gives ``sent_id``; ``doc_id``/``document_id`` gives ``doc_id``.
* CSV/TSV cells hold a JSON list (``["EU", "rejects"]``), a Python list literal as written by
  ``pandas.DataFrame.to_csv`` (``['EU', 'rejects']``), or a space-joined string. Line numbers are those of the
  CSV row; for Parquet, ``line_start`` is the 1-based row number.
"""

from __future__ import annotations

import ast
import csv
import io
import json
from pathlib import Path

from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import CorpusError, Report
from core.data.formats.jsonio import LABEL_LIST_KEYS, iter_csv_rows, iter_records, label_list_from
from core.data.schemes import is_valid_tag

_TOKEN_KEYS = ("tokens", "words")
_TAG_KEYS = ("ner_tags", "tags", "ner", "ner_labels", "labels")
_LANG_KEYS = ("lang", "language")
_ID_KEYS = ("id", "sent_id", "example_id", "guid")
_DOC_KEYS = ("doc_id", "document_id")
_LABEL_FILES = ("label_list.txt", "labels.txt", "labels_list.txt", "label_names.txt")


def _pick(rec: dict, first: str, others: tuple[str, ...]) -> str | None:
    if first in rec:
        return first
    for k in others:
        if k in rec:
            return k
    return None


def sibling_label_list(path: str) -> list[str] | None:
    """Labels from a ``label_list.txt``-like file next to ``path`` (one label a line), or None."""
    folder = Path(path).parent
    for name in _LABEL_FILES:
        f = folder / name
        if f.is_file():
            try:
                labels = [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
            except (OSError, UnicodeDecodeError):
                continue
            if labels:
                return labels
    return None


class _Labels:
    """Lazily resolved label list for integer tags (options, file metadata, then a sibling file)."""

    def __init__(self, path: str, options: ReadOptions, found: list[str] | None) -> None:
        self.path = path
        self.labels = options.label_list or found
        self._looked = self.labels is not None

    def get(self) -> list[str] | None:
        if not self._looked:
            self.labels = sibling_label_list(self.path)
            self._looked = True
        return self.labels


def _as_list(value: object) -> list | None:
    """A list from a JSON list, numpy array, list literal string or space-joined string; None otherwise."""
    if isinstance(value, list):
        return value
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        out = value.tolist()
        return out if isinstance(out, list) else None
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("[") and s.endswith("]"):
            try:
                out = json.loads(s)
            except RecursionError:  # nested deeper than the parser allows: not a token list
                out = None
            except ValueError:
                try:
                    out = ast.literal_eval(s)
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    out = None
            if isinstance(out, (list, tuple)):
                return list(out)
        return [x for x in s.split(" ") if x]
    return None


def rec_text(rec: object) -> str:
    """A record as short JSON text for a problem's ``text``."""
    return json.dumps(rec, ensure_ascii=False, default=str)[:200]


def record_to_sentence(rec: object, line: int, labels: _Labels, options: ReadOptions, path: str,
                       report: Report, where: str = "") -> Sentence | None:
    """One HF-layout record -> Sentence, or None (problem reported).

    Args:
        rec: the decoded record.
        line: 1-based line (row for Parquet; 0 when unknown).
        labels: label list for integer tags.
        options: field names.
        path: file, for problems.
        report: receives E106, E107, E112, E104, W112.
        where: extra location text (``record 12``) when ``line`` is 0.
    """
    if not isinstance(rec, dict):
        report.add("E106", f"{where}the record is not a JSON object", file=path, line=line, text=rec_text(rec))
        return None
    tk = _pick(rec, options.tokens_field, _TOKEN_KEYS)
    gk = _pick(rec, options.tags_field, _TAG_KEYS)
    if tk is None or gk is None:
        missing = options.tokens_field if tk is None else options.tags_field
        report.add("E106", f"{where}missing field {missing!r} (the record has: {', '.join(map(str, rec))})",
                   file=path, line=line, text=rec_text(rec))
        return None
    tokens = _as_list(rec[tk])
    raw_tags = _as_list(rec[gk])
    if tokens is None or raw_tags is None:
        bad = tk if tokens is None else gk
        report.add("E106", f"{where}field {bad!r} is not a list", file=path, line=line, text=rec_text(rec))
        return None
    if len(tokens) != len(raw_tags):
        report.add("E107", f"{where}{len(tokens)} tokens but {len(raw_tags)} tags; record skipped", file=path,
                   line=line, text=rec_text(rec))
        return None
    if not tokens:
        report.add("W112", f"{where}record with no tokens skipped", file=path, line=line, text=rec_text(rec))
        return None
    tags: list[str] = []
    for t in raw_tags:
        if isinstance(t, bool) or not isinstance(t, (int, str)):
            report.add("E104", f"{where}tag {t!r} is neither a string nor an integer; record skipped", file=path,
                       line=line, text=rec_text(rec))
            return None
        if isinstance(t, str) and not (t.isdigit() and t.isascii() and labels.get() is not None):
            if not is_valid_tag(t):
                report.add("E104", f"{where}invalid tag {t!r}; read as O", file=path, line=line, text=rec_text(rec))
                t = "O"
            tags.append(t)
            continue
        names = labels.get()
        idx = int(t)
        if names is None or not 0 <= idx < len(names):
            why = ("no label list was given or found" if names is None
                   else f"the label list has {len(names)} labels")
            report.add("E112", f"{where}label id {idx} cannot be mapped: {why}; record skipped", file=path,
                       line=line, text=rec_text(rec))
            return None
        tags.append(names[idx])
    toks = [t if isinstance(t, str) else str(t) for t in tokens]
    for t in toks:
        if not t:
            report.add("W109", f"{where}empty token", file=path, line=line, text=rec_text(rec))
            break
    lk = _pick(rec, options.lang_field, _LANG_KEYS)
    lang = rec.get(lk) if lk else None
    ik = _pick(rec, "id", _ID_KEYS)
    dk = _pick(rec, "doc_id", _DOC_KEYS)
    has_lang = isinstance(lang, str) and bool(lang.strip())
    return Sentence(toks, tags, lang=lang.strip() if has_lang else "und", lang_source="field" if has_lang else "none",
                    doc_id=None if dk is None or rec[dk] is None else str(rec[dk]), source=path, line_start=line,
                    line_end=line, sent_id=None if ik is None or rec[ik] is None else str(rec[ik]))


def read_json(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]:
    """Read HF-layout JSON Lines, a JSON array of records, or a container object (see :mod:`core.data.formats.jsonio`).

    Args:
        path: the file.
        text: its decoded content.
        options: field names (``tokens_field``, ``tags_field``, ``lang_field``) and ``label_list``.
        report: receives E105 (malformed JSON line), E106, E107, E112, E104, W109, W112.

    Returns:
        One Sentence per record, tags as written (integer ids mapped to label names); ``line_start`` is the
        record's line (0 inside a container object, whose messages name the record number instead).
    """
    records, meta = iter_records(path, text, report)
    found = label_list_from(meta)
    # a JSON Lines record holding only a label list is metadata, not a sentence
    if records and isinstance(records[0][1], dict) and set(records[0][1]) <= set(LABEL_LIST_KEYS):
        found = found or label_list_from(records[0][1])
        records = records[1:]
    labels = _Labels(path, options, found)
    out: list[Sentence] = []
    for n, (line, rec) in enumerate(records, 1):
        where = "" if line else f"record {n}: "
        try:
            s = record_to_sentence(rec, line, labels, options, path, report, where)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            report.add("E106", f"{where}record could not be read ({type(exc).__name__}: {exc})", file=path,
                       line=line, text=str(rec)[:200])
            continue
        if s is not None:
            out.append(s)
    return out


def read_csv(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]:
    """Read a CSV/TSV file with a header and one sentence per row (``tokens``/``ner_tags`` columns).

    The delimiter is TAB when the header has one, else ``,`` (``;`` when the header has no comma). Standard CSV
    quoting applies (list cells contain commas and are quoted by every CSV writer).

    Args:
        path: the file.
        text: its decoded content.
        options: field names and ``label_list`` (digit-string tags are label ids when a label list exists).
        report: receives E103 (cell count), E106, E107, E112, E104.

    Returns:
        One Sentence per row; ``line_start`` is the row's first line in the file.

    Raises:
        CorpusError: E106 when the file has no header row.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    head = text.split("\n", 1)[0]
    delim = "\t" if "\t" in head else ("," if "," in head or ";" not in head else ";")
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise CorpusError("E106", f"no header row ({exc})", file=path, line=1) from exc
    names = [h.strip().lower() for h in header]
    labels = _Labels(path, options, None)
    out: list[Sentence] = []
    for line, row in iter_csv_rows(reader, path, report):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(names):
            report.add("E103", f"{len(row)} cells where the header has {len(names)}; row skipped", file=path,
                       line=line, text=delim.join(row))
            continue
        rec = dict(zip(names, row))
        s = record_to_sentence(rec, line, labels, options, path, report)
        if s is not None:
            out.append(s)
    return out


def _parquet_labels(path: str, tags_field: str) -> list[str] | None:
    """ClassLabel names stored by ``datasets`` in the Parquet schema metadata (key ``huggingface``)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"huggingface")
    if not raw:
        return None
    try:
        feats = json.loads(raw).get("info", {}).get("features", {})
    except ValueError:
        return None
    for key in (tags_field, *_TAG_KEYS):
        feat = feats.get(key)
        if feat is None:
            continue
        if isinstance(feat, dict):
            inner = feat.get("feature")
        else:  # datasets >= 4 writes a list feature as [ClassLabel]
            inner = feat[0] if isinstance(feat, list) and feat else None
        if isinstance(inner, dict) and isinstance(inner.get("names"), list):
            return [str(x) for x in inner["names"]]
    return None


def read_parquet(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]:
    """Read a Parquet file with one sentence per row (``tokens``/``ner_tags`` columns), via pandas/pyarrow.

    ClassLabel names come from the file's ``huggingface`` metadata when ``options.label_list`` is not given.

    Args:
        path: the file.
        text: ignored (Parquet is binary; :func:`core.data.formats.read_file` passes '').
        options: field names and ``label_list``.
        report: receives the record problems of :func:`record_to_sentence` (``line`` = 1-based row).

    Returns:
        One Sentence per row.

    Raises:
        CorpusError: E101 when the file is not readable Parquet.
    """
    try:
        import pandas as pd
        import pyarrow  # noqa: F401  (pandas' Parquet engine)
    except ImportError as exc:
        raise CorpusError("E101", f"reading Parquet needs pandas and pyarrow ({exc})", file=path) from exc
    try:
        df = pd.read_parquet(path)
        found = _parquet_labels(path, options.tags_field)
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise CorpusError("E101", f"not a readable Parquet file: {exc}", file=path,
                          fix="Write the file with pandas.DataFrame.to_parquet or datasets.Dataset.to_parquet.") from exc
    labels = _Labels(path, options, found)
    out: list[Sentence] = []
    for n, rec in enumerate(df.to_dict("records"), 1):
        s = record_to_sentence(rec, n, labels, options, path, report, f"row {n}: ")
        if s is not None:
            out.append(s)
    return out
