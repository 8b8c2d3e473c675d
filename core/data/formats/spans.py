"""Span formats: raw text plus ``(start, end, label)`` spans, one record per sentence/paragraph.

Record shapes read (one JSON object per JSON Lines line, or the elements of a JSON array):

=====================  ======================================================================================
doccano               ``{"text", "label"|"labels": [[start, end, "TYPE"], ...]}`` (doccano "JSONL (text,
                      label)" export; MultiLeg) or ``[{"start_offset", "end_offset", "label"}]``
Label Studio          a JSON array of tasks ``{"data": {"text"}, "annotations": [{"result": [{"value": {"start",
                      "end", "text", "labels": [...]}}]}]}``; the first annotation not ``was_cancelled`` is
                      read, ``predictions`` are ignored, a result with several labels keeps the first
spaCy                 ``{"text", "entities": [[start, end, "TYPE"]]}`` (spaCy v2 ``TRAIN_DATA`` style, also as a
                      ``[text, {"entities": ...}]`` pair) or displaCy ``{"text", "ents"|"spans": [{"start",
                      "end", "label"}]}``; and the spaCy v2 JSON training format (``[{"id", "paragraphs":
                      [{"sentences": [{"tokens": [{"orth", "ner"}]}]}]}]``), which is token level: its BILUO
                      tags are returned as written (scheme detection happens in the loader)
spans                 MasakhaNER-X ``{"text", "spans": [{"start_byte", "limit_byte", "label"}], "language"}``
                      (UTF-8 *byte* offsets, ``limit_byte`` exclusive: read as bytes automatically), and
                      Stockmark ``{"curid", "text", "entities": [{"name", "span": [start, end], "type"}]}``
=====================  ======================================================================================

**Offset units** (``options.offset_unit``), end exclusive: ``char`` (code points, Python's ``str`` indexing,
doccano and Stockmark), ``byte`` (UTF-8 bytes; also whenever the keys say so, ``start_byte``), ``utf16`` (UTF-16
code units, as JavaScript and so browser annotation tools count: an emoji is 2 units, 1 character), and
``auto`` (the default): the unit under which most of the file's spans match -- their stored text equals the
covered text, or, with no stored text, they fall on word boundaries -- counted only over spans whose reading
depends on the unit (ties: char, then utf16, then byte); W132 says so when it is not ``char``. A span that fails
names the units under which it would match, or says it matches under none (E108/E109/E110, with its text).
Text is split into words by :func:`core.data.formats.words.split_words` (rule in that module); spans are
mapped to words and written as IOB2 tags:

* out of range (not ``0 <= start <= end <= size``) -> E108, span dropped; an offset inside a character (half
  of a UTF-8 sequence or of a surrogate pair) -> E109, span dropped;
* empty or whitespace-only (``start == end``, a stray annotator click) -> W131, span dropped, no error;
* a stored surface (Label Studio ``text``, Stockmark ``name``) that differs from ``text[start:end]`` -> E110,
  span dropped (one of the two is wrong; the studio does not guess which);
* start/end not on word boundaries -> E109 with the span's text, span dropped, sentence kept;
* overlapping or nested spans -> the longest, then the earliest, is kept; one W103 per record with the count;
* a label that is not a valid tag type (empty, whitespace inside) -> E104, span dropped;
* a record with empty text -> W112, skipped (MultiLeg has paragraphs with ``"text": ""``).

``Sentence.text`` is the record's text and ``Sentence.offsets`` the words' character offsets.
"""

from __future__ import annotations

from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import Report
from core.data.formats.hf import rec_text
from core.data.formats.jsonio import iter_records
from core.data.formats.words import locate_span, resolve_overlaps, split_words, word_index
from core.data.schemes import is_valid_tag, spans_to_iob2

_LANG_KEYS = ("lang", "language")
_ID_KEYS = ("id", "sent_id", "example_id", "curid", "guid")
_DOC_KEYS = ("doc_id", "document_id")


class _Skip(Exception):
    """A record that cannot be read: code, message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _first(rec: dict, keys: tuple[str, ...]):
    for k in keys:
        if k in rec and rec[k] is not None:
            return rec[k]
    return None


def _span_item(item: object) -> tuple[object, object, object, str | None, bool]:
    """``(start, end, label, surface, is_byte)`` of one span item in any supported shape."""
    if isinstance(item, (list, tuple)):
        if len(item) < 3:
            raise ValueError(f"a span list needs [start, end, label], got {item!r}")
        return item[0], item[1], item[2], None, False
    if not isinstance(item, dict):
        raise ValueError(f"a span must be a list or an object, got {item!r}")
    if "start_byte" in item:
        end = item.get("limit_byte", item.get("end_byte"))
        return item["start_byte"], end, _label_of(item), _surface_of(item), True
    if "span" in item and isinstance(item["span"], (list, tuple)) and len(item["span"]) == 2:
        s, e = item["span"]
    elif "start_offset" in item:
        s, e = item["start_offset"], item.get("end_offset")
    elif "start" in item:
        s, e = item["start"], item.get("end")
    elif "begin" in item:
        s, e = item["begin"], item.get("end")
    else:
        raise ValueError(f"no start/end in span {item!r}")
    return s, e, _label_of(item), _surface_of(item), False


def _label_of(item: dict) -> object:
    for k in ("label", "type", "labels", "entity", "tag", "entity_type"):
        if k in item:
            val = item[k]
            if isinstance(val, list):
                return val[0] if val else None
            return val
    return None


def _surface_of(item: dict) -> str | None:
    for k in ("text", "name", "surface"):
        if isinstance(item.get(k), str):
            return item[k]
    return None


def _labelstudio(rec: dict, options: ReadOptions) -> tuple[str, list, dict]:
    data = rec.get("data") or {}
    if not isinstance(data, dict):
        raise _Skip("E106", "'data' is not an object")
    text = data.get(options.text_field)
    if not isinstance(text, str):
        text = next((v for v in data.values() if isinstance(v, str)), None)
    if text is None:
        raise _Skip("E106", f"no text in 'data' (keys: {', '.join(map(str, data))})")
    anns = rec.get("annotations") or rec.get("completions") or []
    chosen = next((a for a in anns if isinstance(a, dict) and not a.get("was_cancelled")), None)
    items = []
    for res in (chosen or {}).get("result", []) or []:
        if not isinstance(res, dict):
            continue
        val = res.get("value") or {}
        if isinstance(val, dict) and "start" in val and ("labels" in val or "label" in val):
            items.append(val)
    return text, items, data


def _record_parts(rec: object, options: ReadOptions) -> tuple[str, list, dict]:
    """``(text, span_items, fields)`` of a span record; fields hold lang/id/doc keys."""
    if isinstance(rec, list) and len(rec) == 2 and isinstance(rec[0], str) and isinstance(rec[1], dict):
        return rec[0], list(rec[1].get("entities") or []), {}
    if not isinstance(rec, dict):
        raise _Skip("E106", "the record is not a JSON object")
    if "annotations" in rec or "completions" in rec or ("data" in rec and isinstance(rec.get("data"), dict)):
        text, items, data = _labelstudio(rec, options)
        fields = dict(data)
        fields.update({k: rec[k] for k in ("id",) if k in rec})
        return text, items, fields
    text = rec.get(options.text_field, rec.get("text"))
    if not isinstance(text, str):
        raise _Skip("E106", f"missing field {options.text_field!r} (the record has: {', '.join(map(str, rec))})")
    for key in ("label", "labels", "entities", "spans", "ents"):
        if key in rec:
            items = rec[key]
            if items is None:
                items = []
            if not isinstance(items, list):
                raise _Skip("E106", f"field {key!r} is not a list")
            return text, items, rec
    raise _Skip("E106", "no span field (label, labels, entities, spans or ents)")


UNITS = ("char", "byte", "utf16")
_UNIT_NAMES = {"char": "characters", "byte": "UTF-8 bytes", "utf16": "UTF-16 code units"}


class _Units:
    """Offset conversion of one text: ``char`` (code points, Python's ``str`` indexing), ``byte`` (UTF-8, as
    MasakhaNER-X and Go/Rust tools count) and ``utf16`` (UTF-16 code units, as JavaScript and so every browser
    annotation tool counts: an emoji or a CJK extension-B character is 2 units, 1 code point)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._enc: dict[str, bytes] = {}

    def size(self, unit: str) -> int:
        if unit == "char":
            return len(self.text)
        return len(self._encoded(unit)) // (2 if unit == "utf16" else 1)

    def _encoded(self, unit: str) -> bytes:
        if unit not in self._enc:
            self._enc[unit] = self.text.encode("utf-16-le" if unit == "utf16" else "utf-8", errors="surrogatepass")
        return self._enc[unit]

    def same_as_char(self, unit: str) -> bool:
        return unit == "char" or self.size(unit) == len(self.text)

    def to_char(self, off: int, unit: str) -> int | None:
        """Character offset of ``off`` in ``unit``; None when it falls inside a character."""
        if self.same_as_char(unit):
            return off
        codec, width = ("utf-16-le", 2) if unit == "utf16" else ("utf-8", 1)
        try:
            return len(self._encoded(unit)[:off * width].decode(codec))
        except UnicodeDecodeError:
            return None

    def span(self, s: int, e: int, unit: str) -> tuple[int, int] | str:
        """``(start, end)`` in characters, or why not: ``"outside"``, ``"inside"`` (cuts a character)."""
        if not 0 <= s <= e <= self.size(unit):
            return "outside"
        cs, ce = self.to_char(s, unit), self.to_char(e, unit)
        if cs is None or ce is None:
            return "inside"
        return cs, ce


def _matches(units: _Units, s: int, e: int, surface: str | None, starts: dict, ends: dict, unit: str) -> bool:
    """Whether a span reads sensibly in ``unit``: its stored text equals the covered text, or (no stored text)
    it covers non-blank text on word boundaries."""
    sp = units.span(s, e, unit)
    if isinstance(sp, str) or sp[0] >= sp[1]:
        return False
    covered = units.text[sp[0]:sp[1]]
    if surface is not None:
        return covered == surface or covered.strip() == surface.strip()
    return locate_span(units.text, sp[0], sp[1], starts, ends) is not None


def choose_unit(records: list[tuple[str, list]]) -> tuple[str, dict[str, int], int]:
    """The offset unit under which most spans of a file match (rule of :func:`_matches`).

    Args:
        records: ``(text, span items)`` of every record of the file.

    Returns:
        ``(unit, matches per unit, spans where the units differ)``; ties go to ``char``, then ``utf16``, then
        ``byte``. Spans on ASCII text (where the units agree) count for every unit alike.
    """
    score = dict.fromkeys(UNITS, 0)
    differ = 0
    for text, items in records:
        units = _Units(text)
        if all(units.same_as_char(u) for u in UNITS):
            continue
        words = split_words(text)
        starts, ends = word_index(words)
        for item in items:
            try:
                s, e, _label, surface, is_byte = _span_item(item)
            except ValueError:
                continue
            if is_byte or not isinstance(s, int) or not isinstance(e, int) or isinstance(s, bool):
                continue
            ok = {u: _matches(units, s, e, surface, starts, ends, u) for u in UNITS}
            if len(set(ok.values())) > 1:
                differ += 1
                for u, v in ok.items():
                    score[u] += v
    best = max(UNITS, key=lambda u: (score[u], -UNITS.index(u) if u != "utf16" else -0.5))
    return best, score, differ


def _other_units(units: _Units, s: int, e: int, surface: str | None, starts: dict, ends: dict,
                 used: str) -> str:
    """Message tail naming the units under which a failing span would match, or saying there is none."""
    other = [u for u in UNITS if u != used and _matches(units, s, e, surface, starts, ends, u)]
    if other:
        return f" (it matches as {' or '.join(_UNIT_NAMES[u] for u in other)}: check the offset unit)"
    return " (it matches under no offset unit: characters, UTF-8 bytes, UTF-16 code units)"


def spans_to_sentence(text: str, items: list, fields: dict, line: int, options: ReadOptions, path: str,
                      report: Report, where: str = "", unit: str | None = None) -> Sentence | None:
    """Build one Sentence from raw text and span items (rules in the module docstring).

    Args:
        text: the record's text.
        items: span items (lists ``[start, end, label]`` or objects).
        fields: the record's other fields (``lang``/``language``, ``id``, ``doc_id``...).
        line: 1-based line of the record (0 when unknown).
        options: ``offset_unit`` and field names.
        path: file, for problems.
        report: receives E104, E108, E109, E110, W103, W112, W131.
        where: location prefix for messages when ``line`` is 0 (``record 7: ``).
        unit: the offset unit (``char``, ``byte``, ``utf16``); None for ``options.offset_unit`` (``auto`` there
            reads characters: :func:`read` decides ``auto`` for a whole file). Byte-keyed spans
            (``start_byte``) are bytes whatever the unit.
    """
    if not text.strip():
        report.add("W112", f"{where}record with empty text skipped", file=path, line=line)
        return None
    words = split_words(text)
    starts, ends = word_index(words)
    units = _Units(text)
    base = unit or options.offset_unit
    if base not in UNITS:
        base = "char"
    n = len(text)
    found: list[tuple[int, int, str, str]] = []
    for item in items:
        try:
            s, e, label, surface, is_byte = _span_item(item)
        except ValueError as exc:
            report.add("E106", f"{where}{exc}", file=path, line=line, text=str(item)[:200])
            continue
        if not isinstance(label, str) or not is_valid_tag(label) or label == "O":
            report.add("E104", f"{where}span label {label!r} is not a valid entity type; span dropped",
                       file=path, line=line, text=str(item)[:200])
            continue
        if isinstance(s, bool) or isinstance(e, bool) or not isinstance(s, int) or not isinstance(e, int):
            report.add("E108", f"{where}span offsets must be integers, got {s!r}, {e!r}; span dropped", file=path,
                       line=line, text=str(item)[:200])
            continue
        u = "byte" if is_byte else base
        sp = units.span(s, e, u)
        if sp == "outside" or (not isinstance(sp, str) and s > e):
            report.add("E108", f"{where}span {s}-{e} {label} is outside the text (0-{units.size(u)} "
                       f"{_UNIT_NAMES[u]}){_other_units(units, s, e, surface, starts, ends, u)}; span dropped",
                       file=path, line=line, text=surface if surface is not None else str(item)[:200])
            continue
        if sp == "inside":
            report.add("E109", f"{where}offset {s}-{e} of span {label} falls inside a character when read as "
                       f"{_UNIT_NAMES[u]}{_other_units(units, s, e, surface, starts, ends, u)}; span dropped",
                       file=path, line=line,
                       text=surface if surface is not None else text[max(0, min(s, n) - 5):min(n, e + 5)])
            continue
        cs, ce = sp
        if not text[cs:ce].strip():
            report.add("W131", f"{where}span {s}-{e} {label} covers "
                       f"{'nothing' if cs == ce else 'only whitespace'}; span dropped", file=path, line=line,
                       text=repr(text[cs:ce]))
            continue
        if surface is not None and surface != text[cs:ce] and surface.strip() != text[cs:ce].strip():
            report.add("E110", f"{where}span {s}-{e} {label} ({_UNIT_NAMES[u]}) covers {text[cs:ce]!r} but the "
                       f"record says {surface!r}{_other_units(units, s, e, surface, starts, ends, u)}; span dropped",
                       file=path, line=line, text=surface)
            continue
        found.append((cs, ce, label, text[cs:ce]))
    token_spans: list[tuple[int, int, str, str]] = []
    for s, e, label, surf in found:
        loc = locate_span(text, s, e, starts, ends)
        if loc is None:
            ctx = text[max(0, s - 15):min(n, e + 15)]
            report.add("E109", f"{where}span {s}-{e} {label} ({surf!r}) cuts a word (context {ctx!r}); span "
                       "dropped", file=path, line=line, text=surf)
            continue
        token_spans.append((loc[0], loc[1], label, surf))
    kept, dropped = resolve_overlaps(token_spans)
    if dropped:
        report.add("W103", f"{len(dropped)} overlapping or nested span(s) dropped (kept the longest, then the "
                   "earliest)", file=path, line=line, text=" | ".join(f"{d[3]} ({d[2]})" for d in dropped))
    tags = spans_to_iob2(len(words), [(lab, a, b) for a, b, lab, _ in kept])
    lang = _first(fields, (options.lang_field, *_LANG_KEYS))
    sid = _first(fields, _ID_KEYS)
    did = _first(fields, _DOC_KEYS)
    has_lang = isinstance(lang, str) and bool(lang.strip())
    return Sentence([text[a:b] for a, b in words], tags, lang=lang.strip() if has_lang else "und",
                    lang_source="field" if has_lang else "none", doc_id=None if did is None else str(did),
                    source=path, line_start=line, line_end=line, sent_id=None if sid is None else str(sid),
                    text=text, offsets=list(words))


def _spacy_v2(doc: dict, line: int, path: str, report: Report, where: str) -> list[Sentence]:
    """Sentences of one spaCy v2 JSON training document; tags are the raw ``ner`` values (BILUO)."""
    out: list[Sentence] = []
    doc_id = doc.get("id")
    for para in doc.get("paragraphs") or []:
        for sent in (para.get("sentences") or []) if isinstance(para, dict) else []:
            toks = sent.get("tokens") if isinstance(sent, dict) else None
            if not toks:
                continue
            words = [t.get("orth") for t in toks]
            tags = [t.get("ner") or "O" for t in toks]
            if not all(isinstance(w, str) for w in words) or not all(isinstance(t, str) for t in tags):
                report.add("E106", f"{where}a token without a string 'orth' or 'ner'; sentence skipped", file=path,
                           line=line, text=str(toks[:3])[:200])
                continue
            for j, t in enumerate(tags):
                if not is_valid_tag(t):
                    report.add("E104", f"{where}invalid tag {t!r}; read as O", file=path, line=line, text=words[j])
                    tags[j] = "O"
            out.append(Sentence(words, tags, doc_id=None if doc_id is None else str(doc_id), source=path,
                                line_start=line, line_end=line))
    return out


def read(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]:
    """Read any span record file (doccano, Label Studio, spaCy, MasakhaNER-X, Stockmark) or a spaCy v2 JSON file.

    Args:
        path: the file.
        text: decoded content (JSON Lines, JSON array, or a container object).
        options: ``offset_unit`` (``auto``/``char``/``byte``/``utf16``) and ``text_field``/``lang_field``.
        report: receives the problems listed in the module docstring, and E105 for malformed JSON.

    Returns:
        One Sentence per record (spaCy v2: per sentence), IOB2 tags (spaCy v2: raw BILUO).
    """
    records, _meta = iter_records(path, text, report)
    unit = options.offset_unit if options.offset_unit in UNITS else "char"
    if options.offset_unit == "auto":
        parts = []
        for _line, rec in records:
            try:
                if not (isinstance(rec, dict) and "paragraphs" in rec):
                    txt, items, _fields = _record_parts(rec, options)
                    if isinstance(txt, str) and isinstance(items, list):
                        parts.append((txt, items))
            except (_Skip, ValueError, TypeError, KeyError, AttributeError, IndexError):
                continue  # reported by the reading pass below
        unit, score, differ = choose_unit(parts)
        if differ and unit != "char":
            report.add("W132", f"span offsets read as {_UNIT_NAMES[unit]} (offset unit auto): of the {differ} spans "
                       "whose reading depends on the unit, " + ", ".join(f"{score[u]} match as {_UNIT_NAMES[u]}"
                                                                      for u in UNITS), file=path)
    out: list[Sentence] = []
    for n, (line, rec) in enumerate(records, 1):
        where = "" if line else f"record {n}: "
        try:
            if isinstance(rec, dict) and "paragraphs" in rec:
                out.extend(_spacy_v2(rec, line, path, report, where))
                continue
            txt, items, fields = _record_parts(rec, options)
            s = spans_to_sentence(txt, items, fields, line, options, path, report, where, unit=unit)
        except _Skip as exc:
            report.add(exc.code, f"{where}{exc}; record skipped", file=path, line=line, text=rec_text(rec))
            continue
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            report.add("E106", f"{where}record could not be read ({type(exc).__name__}: {exc}); record skipped",
                       file=path, line=line, text=rec_text(rec))
            continue
        if s is not None:
            out.append(s)
    return out
