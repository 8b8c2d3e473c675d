"""JSON record iteration shared by the JSON-based readers (Hugging Face layout, doccano, Label Studio, spaCy, spans).

Three layouts are accepted, told apart by the first non-blank character and by what follows the first value:

* **JSON Lines** (one object per line; RFC 7464-style line-delimited JSON): a line that is not valid JSON is
  reported (E105, with its line number) and the other lines are still read. Blank lines are skipped.
* **JSON array** of records (Stockmark ``ner.json``, Label Studio exports, spaCy v2 training files): records are
  decoded one by one, so each gets the line it starts on; a syntax error stops the array there (E105, line and
  column of the error) and the records before it are kept.
* **One JSON object**: a container whose ``data``/``examples``/``records``/``sentences``/``rows`` key holds the
  records (other top-level keys, such as ``label_list``, are returned as metadata), or a single record.

**Nesting depth.** A value nested deeper than :data:`MAX_JSON_DEPTH` arrays/objects is E132: the JSON Lines line
is skipped, an array stops at that record (the records before it kept). NER records nest a handful of levels
(Label Studio about 6); Python's parser itself raises ``RecursionError`` near 1,000 levels, which never
escapes a reader.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

from core.kernel.errors import CorpusError, Report

_WS = re.compile(r"[ \t\n\r]*")
CONTAINER_KEYS = ("data", "examples", "records", "sentences", "rows")
LABEL_LIST_KEYS = ("label_list", "labels", "label_names", "names", "id2label")
MAX_JSON_DEPTH = 64
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTA = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}]')


def too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> int | None:
    """Offset in ``text`` of the first bracket nested deeper than ``limit``, or None.

    Brackets inside JSON strings do not count. Linear time: strings and other characters are removed with C-speed
    regular expressions and the depth is a running sum; only a text that is too deep is scanned again in Python
    to find the offset.
    """
    if text.count("[") + text.count("{") <= limit:
        return None
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets or max(accumulate(map(_DELTA.__getitem__, map(ord, brackets)))) <= limit:
        return None
    depth = 0
    for m in _SCAN.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > limit:
                return m.start()
        elif ch in "]}":
            depth -= 1
    return None


def label_list_from(meta: dict) -> list[str] | None:
    """A label list found in top-level metadata: a list of strings, or an ``id2label`` mapping."""
    for key in LABEL_LIST_KEYS:
        val = meta.get(key)
        if isinstance(val, list) and val and all(isinstance(x, str) for x in val):
            return list(val)
        if isinstance(val, dict) and val:
            try:
                pairs = sorted((int(k), v) for k, v in val.items())
            except (TypeError, ValueError):
                continue
            if [k for k, _ in pairs] == list(range(len(pairs))) and all(isinstance(v, str) for _, v in pairs):
                return [v for _, v in pairs]
    return None


def iter_records(path: str, text: str, report: Report) -> tuple[list[tuple[int, object]], dict]:
    """Decode the records of a JSON / JSON Lines file.

    Args:
        path: the file (for problems).
        text: decoded content.
        report: receives E105 for malformed JSON.

    Returns:
        ``(records, meta)``: ``records`` is a list of ``(line, value)`` with the 1-based line where each record
        starts (0 inside a container object, where lines are not tracked); ``meta`` holds the top-level keys of
        a container object other than the records (e.g. ``label_list``), or a JSON Lines first line holding
        only a label list.

    Raises:
        CorpusError: E105 when the file is a single JSON document that does not parse at all.
    """
    dec = json.JSONDecoder()
    m = _WS.match(text)
    pos = m.end() if m else 0
    if pos >= len(text):
        return [], {}
    deep = too_deep(text)
    if text[pos] == "[":
        return _iter_array(path, text, pos, dec, report, deep), {}
    if text[pos] == "{":
        try:
            first, end = dec.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            first, end = None, -1
            err = exc
        except RecursionError:
            first, end, err = None, -1, None
        if end != -1 and deep is not None and deep < end:
            rest = _WS.match(text, end)
            if rest is not None and rest.end() >= len(text):
                raise CorpusError("E132", f"the JSON document is nested deeper than {MAX_JSON_DEPTH} levels",
                                  file=path, line=text.count("\n", 0, deep) + 1, text=_line_at(text, deep)[:80])
        if end != -1:
            rest = _WS.match(text, end)
            if rest is not None and rest.end() >= len(text):  # one JSON object
                if isinstance(first, dict):
                    for key in CONTAINER_KEYS:
                        val = first.get(key)
                        if isinstance(val, list) and (not val or isinstance(val[0], dict)):
                            meta = {k: v for k, v in first.items() if k != key}
                            return [(0, r) for r in val], meta
                line = text.count("\n", 0, pos) + 1
                return [(line, first)], {}
        elif "\n" not in text.strip():
            if err is None or deep is not None:
                raise CorpusError("E132", f"the JSON document is nested deeper than {MAX_JSON_DEPTH} levels",
                                  file=path, line=1, text=text.strip()[:80])
            raise CorpusError("E105", f"malformed JSON: {err.msg}", file=path, line=err.lineno,
                              text=text.strip()[:200])
    return _iter_lines(path, text, report), {}


def _iter_array(path: str, text: str, pos: int, dec: json.JSONDecoder,
                report: Report, deep: int | None = None) -> list[tuple[int, object]]:
    records: list[tuple[int, object]] = []
    pos += 1
    line = text.count("\n", 0, pos) + 1
    last = pos
    n = len(text)
    while True:
        pos = _WS.match(text, pos).end()
        if pos >= n:
            report.add("E105", "the JSON array is not closed (missing ']')", file=path,
                       line=text.count("\n") + 1, text=text[-80:])
            break
        if text[pos] == "]":
            break
        line += text.count("\n", last, pos)
        last = pos
        try:
            obj, end = dec.raw_decode(text, pos) if deep is None or deep >= pos else (None, -1)
            if deep is not None and pos <= deep and (end == -1 or deep < end):
                raise RecursionError
        except RecursionError:
            if deep is None:
                deep = pos
            report.add("E132", f"record nested deeper than {MAX_JSON_DEPTH} levels; the records after it were not "
                       f"read ({len(records)} read before it)", file=path, line=line, text=_line_at(text, pos)[:80])
            break
        except json.JSONDecodeError as exc:
            if not records:
                raise CorpusError("E105", f"malformed JSON: {exc.msg} (column {exc.colno})", file=path,
                                  line=exc.lineno, text=_line_at(text, exc.pos)) from exc
            report.add("E105", f"malformed JSON: {exc.msg} (column {exc.colno}); the records after it were not "
                       f"read ({len(records)} read before it)", file=path, line=exc.lineno,
                       text=_line_at(text, exc.pos))
            break
        records.append((line, obj))
        pos = _WS.match(text, end).end()
        if pos < n and text[pos] == ",":
            pos += 1
        elif pos < n and text[pos] == "]":
            break
        else:
            lineno = text.count("\n", 0, pos) + 1
            report.add("E105", "expected ',' or ']' after a record; the records after it were not read",
                       file=path, line=lineno, text=_line_at(text, pos))
            break
    return records


def _line_at(text: str, pos: int) -> str:
    a = text.rfind("\n", 0, pos) + 1
    b = text.find("\n", pos)
    return text[a:b if b != -1 else len(text)].strip()


def _iter_lines(path: str, text: str, report: Report) -> list[tuple[int, object]]:
    records: list[tuple[int, object]] = []
    loads = json.loads
    for i, line in enumerate(text.split("\n"), 1):
        if not line or line.isspace():
            continue
        if too_deep(line) is not None:
            report.add("E132", f"record nested deeper than {MAX_JSON_DEPTH} levels; line skipped", file=path,
                       line=i, text=line.strip()[:80])
            continue
        try:
            records.append((i, loads(line)))
        except json.JSONDecodeError as exc:
            report.add("E105", f"malformed JSON: {exc.msg} (column {exc.colno}); line skipped", file=path, line=i,
                       text=line.strip())
        except RecursionError:
            report.add("E132", "JSON nested too deeply for the parser; line skipped", file=path, line=i,
                       text=line.strip()[:80])
    return records


def iter_csv_rows(reader, path: str, report):
    """``(line, row)`` for each row of a ``csv.reader`` after its header, ``line`` the row's 1-based first line.

    A row the csv module cannot parse (an unterminated quote) ends the reading with E106 at that line: the rows
    before it are kept. Shared by the HF-layout CSV reader and the sentence-id table reader.
    """
    import csv

    prev = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.add("E106", f"CSV row could not be parsed ({exc}); the rows after it were not read", file=path,
                       line=reader.line_num)
            return
        line = prev + 1
        prev = reader.line_num
        yield line, row
