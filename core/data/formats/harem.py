"""HAREM golden collections (Linguateca; Santos et al. 2006, Freitas et al. 2010): inline entity markup.

Two dialects, read by one tolerant tag scanner (a regular expression over ``<...>`` tags, not an XML parser:
First HAREM is not XML, it has no root, unescaped ``&`` and ``|`` inside element names):

* **Second HAREM** (XML): ``<DOC DOCID="..."><p> text <EM ID=".." CATEG="PESSOA" TIPO="..">Lisboa</EM> ...</p>``.
  Each ``<p>`` is one sentence (its pretty-printing newlines are plain whitespace); the type is ``CATEG``.
* **First HAREM** (SGML): ``<DOC><DOCID>id</DOCID>...<TEXTO> text <PESSOA TIPO=".." MORF="..">x</PESSOA>
  </TEXTO></DOC>``; the element name is the type. The ``TEXTO`` is split into sentences at line breaks, except
  where an entity runs over one (lines are then joined, as for BRAT).

Ambiguity is encoded in HAREM, not resolved; the studio keeps one reading and reports the rest (W115, one
problem per kind and document, with the count): in ``<ALT>a | b</ALT>`` the first alternative's text and
entities are kept and the entities of the other alternatives are dropped; a multi-valued category
(``CATEG="LOCAL|ORGANIZACAO"``, ``<PESSOA|ORGANIZACAO>``) keeps its first value; an ``EM`` without ``CATEG`` is
dropped. ``<OMITIDO>`` (text excluded from HAREM's evaluation) is read like any other text. XML character
references (``&amp;``, ``&#233;``) are decoded; any other ``&`` is text. Words, boundary checks (E109) and
nesting (W103) follow :mod:`core.data.formats.spans`. ``doc_id`` is the ``DOCID``.
"""

from __future__ import annotations

import html
import re

from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import Report
from core.data.formats.brat import line_units
from core.data.formats.spans import spans_to_sentence

_TAG = re.compile(r"<(/?)([A-Za-z][\w|]*)((?:\s[^<>]*)?)/?>")
_CHARREF = re.compile(r"&(?:amp|lt|gt|quot|apos|#\d+|#[xX][0-9A-Fa-f]+);")
_ATTR = re.compile(r'([\w:-]+)\s*=\s*"([^"]*)"')
_STRUCT = {"DOC", "DOCID", "GENERO", "ORIGEM", "TEXTO", "P", "COLHAREM", "ALT", "OMITIDO"}


def _unescape(s: str) -> str:
    return _CHARREF.sub(lambda m: html.unescape(m.group(0)), s) if "&" in s else s


class _Doc:
    """Text and entities of one document being scanned."""

    def __init__(self) -> None:
        self.doc_id: str | None = None
        self.units: list[tuple[str, list[tuple[int, int, str]], int]] = []  # (text, spans, first line)
        self.alt_dropped = 0
        self.untyped = 0
        self.ambiguous = 0
        self.empty = 0


def read(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]:
    """Read a HAREM collection (rules in the module docstring).

    Args:
        path: the file.
        text: decoded content (both HAREM files are Latin-1: :func:`core.data.formats.decode_file` falls back to it).
        options: unused beyond the defaults (offsets are the reader's own character offsets).
        report: receives W115 (ambiguity kept as one reading), W103, E109.

    Returns:
        One Sentence per ``<p>`` (Second HAREM) or per line of ``<TEXTO>`` (First HAREM), IOB2 tags.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    xml = "<colHAREM" in text[:2000] or "<EM " in text[:200_000]
    docs: list[_Doc] = []
    doc: _Doc | None = None
    buf: list[str] = []
    length = 0
    in_unit = False
    unit_line = 0
    in_docid = False
    docid_buf: list[str] = []
    stack: list[tuple[int, str] | None] = []  # open entities; None = an entity of a dropped alternative
    spans: list[tuple[int, int, str]] = []
    alt: int | None = None  # index of the current <ALT> alternative, None outside <ALT>
    pos = 0
    counted_to, counted_lines = 0, 1  # incremental line counting up to a text position

    def add_text(piece: str) -> None:
        nonlocal length, alt
        if not piece:
            return
        if alt is not None:
            if alt > 0:
                return
            if "|" in piece and not any(x is not None for x in stack):
                piece = piece.split("|", 1)[0]
                alt = 1
        piece = _unescape(piece)
        buf.append(piece)
        length += len(piece)

    def close_unit() -> None:
        nonlocal buf, length, spans, in_unit
        if doc is not None and in_unit:
            doc.units.append(("".join(buf), spans, unit_line))
        buf, length, spans, in_unit = [], 0, [], False

    for m in _TAG.finditer(text):
        between = text[pos:m.start()]
        pos = m.end()
        if in_docid:
            docid_buf.append(between)
        elif in_unit:
            add_text(between)
        closing, name, attrs = m.group(1) == "/", m.group(2), m.group(3)
        uname = name.upper()
        if uname == "DOC":
            if closing:
                close_unit()
                doc = None
            else:
                doc = _Doc()
                docs.append(doc)
                a = dict(_ATTR.findall(attrs))
                doc.doc_id = a.get("DOCID")
            continue
        if doc is None:
            continue
        if uname == "DOCID":
            if closing:
                doc.doc_id = _unescape("".join(docid_buf)).strip() or doc.doc_id
                in_docid = False
            else:
                in_docid, docid_buf = True, []
            continue
        if (xml and uname == "P") or (not xml and uname == "TEXTO"):
            close_unit()
            if not closing:
                in_unit = True
                counted_lines += text.count("\n", counted_to, m.end())
                counted_to = m.end()
                unit_line = counted_lines
            continue
        if not in_unit:
            continue
        if uname == "ALT":
            alt = None if closing else 0
            continue
        if uname in _STRUCT:
            continue  # OMITIDO and stray structure tags: keep the text, ignore the tag
        if xml and uname != "EM":
            continue
        if closing:
            if stack:
                opened = stack.pop()
                if opened is not None:
                    if length > opened[0]:
                        spans.append((opened[0], length, opened[1]))
                    else:
                        doc.empty += 1
            continue
        if alt is not None and alt > 0:
            doc.alt_dropped += 1
            stack.append(None)
            continue
        categ = dict(_ATTR.findall(attrs)).get("CATEG") if xml else name
        if not categ:
            doc.untyped += 1
            stack.append(None)
            continue
        if "|" in categ:
            doc.ambiguous += 1
            categ = categ.split("|", 1)[0]
        stack.append((length, categ))
    close_unit()

    out: list[Sentence] = []
    plain = ReadOptions()
    for d in docs:
        where = f"document {d.doc_id}: "
        if d.alt_dropped:
            report.add("W115", f"{where}{d.alt_dropped} entities of other <ALT> alternatives dropped (the first "
                       "alternative is kept)", file=path)
        if d.untyped:
            report.add("W115", f"{where}{d.untyped} entities without a category dropped", file=path)
        if d.empty:
            report.add("W115", f"{where}{d.empty} entities without text dropped", file=path)
        if d.ambiguous:
            report.add("W115", f"{where}{d.ambiguous} ambiguous categories 'A|B' read as their first value",
                       file=path)
        for utext, uspans, uline in d.units:
            if xml:
                pieces = [(0, len(utext), 1, 1 + utext.count("\n"))] if utext.strip() else []
            else:
                pieces = line_units(utext, [(s, e) for s, e, _ in uspans])
            placed = 0
            for us, ue, l1, l2 in pieces:
                items = [[s - us, e - us, lab] for s, e, lab in uspans if us <= s and e <= ue]
                placed += len(items)
                sent = spans_to_sentence(utext[us:ue], items, {"doc_id": d.doc_id}, uline + l1 - 1, plain, path,
                                         report)
                if sent is not None:
                    sent.line_end = uline + l2 - 1
                    out.append(sent)
            if placed < len(uspans):
                report.add("W131", f"{where}{len(uspans) - placed} entities cover only whitespace; dropped",
                           file=path, line=uline)
    return out
