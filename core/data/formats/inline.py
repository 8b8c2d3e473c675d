"""Inline markup: entities marked inside running text, one sentence or paragraph a line.

Markup read (the forms LLM pre-annotation, crowdsourcing exports and older corpora use)::

    [PERSON]Ada Lovelace[/PERSON] visited [LOC]London[/]      square brackets, the close may omit the type
    <PER>Ada Lovelace</PER> visited <LOC>London</>             angle brackets, the same
    <ENAMEX TYPE="PERSON">Ada Lovelace</ENAMEX>                MUC-6/7 style: the type is the TYPE attribute

Rules:

* A type is a letter followed by letters, digits, ``_``, ``.`` or ``-`` (``B-``-style prefixes are not part of
  it). A close tag closes the innermost open tag of the same type (or any type for ``[/]``, ``</>``; the element
  name for MUC ``</ENAMEX>``).
* **Markup or text.** A bracket that never forms a pair anywhere in the file stays text (``[sic]``, ``<3``, a
  citation ``[12]``). A tag of a type the file does use elsewhere but that is not closed on its line, or a close
  without an open, is E134 (the tag is removed, the line's other entities and text kept).
* Nested pairs keep the outer entity (the flat-NER rule of :func:`core.data.formats.words.resolve_overlaps`,
  W103).
* The text without its tags is split into words by the studio's one word rule
  (:func:`core.data.formats.words.split_words`: whitespace and punctuation separate words, each character of a
  script written without spaces -- Chinese, Japanese, Thai -- is a word), so ``我爱[LOC]北京[/LOC]`` gives the
  words ``我 爱 北 京`` and tags ``O O B-LOC I-LOC``, exactly as the character-level Chinese corpora (MSRA,
  Resume, Weibo) are written. An entity that cuts a word (``un[LOC]Paris[/LOC]ian``) is E109, dropped.
* A byte order mark (``U+FEFF``) at the start of any line and CRLF line ends are tolerated; blank lines are
  skipped; a line without markup is a sentence without entities.

Detection (:func:`sniff`): at least one line holds a well-formed pair and fewer than half of the lines look like
token lines of a column file (a TAB, or 2-10 fields one of which is a tag such as ``O`` or ``B-PER``), so a
CoNLL file with a ``<PER>`` token, or one bad line, stays CoNLL.
"""

from __future__ import annotations

import re

from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import Report

_TAG = re.compile(
    r"\[(?P<bc>/)?(?P<bt>[^\W\d_][\w.\-]*)?\]"
    r"|<(?P<ac>/)?(?P<at>[^\W\d_][\w.\-]*)?(?:\s+TYPE\s*=\s*\"(?P<attr>[^\"]+)\"[^>]*)?\s*>")
_TAG_FIELD = re.compile(r"O|[BIESLMU]-\S+")


def _column_like(line: str) -> bool:
    """A token line of a column file: it holds a TAB, or 2-10 fields one of which is a tag (``O``, ``B-PER``)."""
    if "\t" in line:
        return True
    fields = [f for f in line.split(" ") if f]
    return 2 <= len(fields) <= 10 and any(_TAG_FIELD.fullmatch(f) for f in fields)


def _tags(line: str) -> list[tuple[int, int, bool, str | None, str | None]]:
    """``(start, end, is_close, type, element)`` of every tag-looking token of a line."""
    out = []
    for m in _TAG.finditer(line):
        if m.group(0).startswith("["):
            close, name, attr = bool(m.group("bc")), m.group("bt"), None
        else:
            close, name, attr = bool(m.group("ac")), m.group("at"), m.group("attr")
        if not close and not name:
            continue  # "[]" / "<>" are text
        typ = attr or name
        out.append((m.start(), m.end(), close, typ, name if attr else None))
    return out


def _pairs(line: str, known: set[str] | None) -> tuple[list[tuple[int, int, int, int, str]], list[tuple[int, int]],
                                                       list[tuple[int, int]]]:
    """Match the tags of a line.

    Returns:
        ``(pairs, markup, orphans)``: pairs ``(open_start, open_end, close_start, close_end, type)``; ``markup``
        the character ranges that are tags (removed from the text); ``orphans`` unmatched tags of a known type
        (E134; also in ``markup``). With ``known`` None only the pairs are wanted (detection, first pass).
    """
    stack: list[tuple[int, int, str, str | None]] = []
    pairs, orphans = [], []
    for s, e, close, typ, element in _tags(line):
        if not close:
            stack.append((s, e, typ, element))
            continue
        j = len(stack) - 1
        while j >= 0 and typ is not None and stack[j][2] != typ and stack[j][3] != typ:
            j -= 1
        if j < 0:
            if known is not None and (typ is None or typ in known):
                orphans.append((s, e))
            continue
        os_, oe, otyp, _el = stack[j]
        for k in range(j + 1, len(stack)):  # opens inside that never closed
            if known is not None and stack[k][2] in known:
                orphans.append((stack[k][0], stack[k][1]))
        del stack[j:]
        pairs.append((os_, oe, s, e, otyp))
    if known is not None:
        orphans += [(s, e) for s, e, typ, _ in stack if typ in known]
    markup = sorted([(p[0], p[1]) for p in pairs] + [(p[2], p[3]) for p in pairs] + orphans)
    return pairs, markup, orphans


def _lines(text: str) -> list[str]:
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return [ln.lstrip("\ufeff") for ln in text.split("\n")]


def sniff(text: str) -> bool:
    """Whether a decoded file is inline markup (rule in the module docstring); reads the first 400 lines."""
    lines = [ln for ln in _lines(text[:200_000])[:400] if ln.strip()]
    if not lines:
        return False
    with_pairs = sum(1 for ln in lines if ("[" in ln or "<" in ln) and _pairs(ln, None)[0])
    conll_like = sum(1 for ln in lines if _column_like(ln))
    return with_pairs > 0 and 2 * conll_like < len(lines)


def read(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]:
    """Read an inline-markup file (rules in the module docstring).

    Args:
        path: the file.
        text: decoded content.
        options: read options (field options are not used).
        report: receives E134 (unmatched tag), E109 (entity cutting a word), W103 (nested entities).

    Returns:
        One Sentence a non-blank line, IOB2 tags, with ``text`` (the line without its tags) and ``offsets``.
    """
    from core.data.formats.spans import spans_to_sentence

    lines = _lines(text)
    known: set[str] = set()
    for ln in lines:
        if "[" in ln or "<" in ln:
            known.update(p[4] for p in _pairs(ln, None)[0])
    out: list[Sentence] = []
    for i, ln in enumerate(lines, 1):
        if not ln.strip():
            continue
        pairs, markup, orphans = _pairs(ln, known) if ("[" in ln or "<" in ln) else ([], [], [])
        for s, e in orphans:
            report.add("E134", f"tag {ln[s:e]!r} is not closed (or not opened) on this line; the tag was removed, "
                       "the line's other entities kept", file=path, line=i, text=ln)
        # the text without the markup, and where each original position lands in it
        plain: list[str] = []
        new_pos: dict[int, int] = {}
        prev = 0
        length = 0
        for s, e in markup:
            plain.append(ln[prev:s])
            length += s - prev
            new_pos[s] = length
            new_pos[e] = length
            prev = e
        plain.append(ln[prev:])
        sentence_text = "".join(plain)
        items = [[new_pos[oe], new_pos[cs], typ] for _os, oe, cs, _ce, typ in pairs]
        if not sentence_text.strip():
            continue
        sent = spans_to_sentence(sentence_text, items, {}, i, options, path, report, unit="char")
        if sent is not None:
            out.append(sent)
    return out
