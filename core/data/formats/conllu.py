"""CoNLL-U (Universal Dependencies format, https://universaldependencies.org/format.html) with NER annotations.

Rules:

* Token lines have 10 TAB-separated fields ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``; the token
  is FORM. Multiword-token ranges (``1-2``) and empty nodes (``8.1``) are skipped, as the spec says they are not
  part of the basic token sequence.
* The NER tag comes from MISC, ``|``-separated ``key=value`` pairs split at the first ``=``: ``NE=`` (UD
  convention), ``name=`` (NorNE), ``NER=``; a token without one is ``O``. With ``options.tag_col`` set to a
  column index other than -1 (the default, meaning MISC) or 9, the tag is read from that column instead.
* Comments before a sentence: ``# sent_id = x`` -> ``sent_id`` (value stripped: NorNE writes
  ``# sent_id =  015697``), ``# newdoc id = d`` -> ``doc_id`` for this and the following sentences,
  ``# lang = xx`` -> ``lang`` (``lang_source = "comment"``); ``# text`` and others are ignored.
* A token line with another field count is reported (E115) and skipped; its sentence is kept.
"""

from __future__ import annotations

from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import Report
from core.data.schemes import is_valid_tag

_MISC_KEYS = ("NE", "name", "NER", "ne")


def _misc_tag(misc: str) -> str:
    if misc == "_" or "=" not in misc:
        return "O"
    for item in misc.split("|"):
        key, sep, val = item.partition("=")
        if sep and key in _MISC_KEYS:
            return val or "O"
    return "O"


def read(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]:
    """Read a CoNLL-U file (rules in the module docstring).

    Args:
        path: the file.
        text: its decoded content.
        options: ``tag_col`` (None/-1/9: MISC; another index: that column).
        report: receives E115 (bad token line) and E104 (invalid tag).

    Returns:
        Sentences with the raw tags.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    col = options.tag_col
    from_misc = col is None or col in (-1, 9)
    sentences: list[Sentence] = []
    toks: list[str] = []
    tags: list[str] = []
    start = 0
    sent_id: str | None = None
    doc_id: str | None = None
    lang: str | None = None
    valid: set[str] = set()

    def flush(last: int) -> None:
        nonlocal toks, tags, sent_id, lang
        if toks:
            sentences.append(Sentence(toks, tags, lang=lang or "und", lang_source="comment" if lang else "none",
                                      doc_id=doc_id, source=path, line_start=start, line_end=last,
                                      sent_id=sent_id))
        toks, tags = [], []
        sent_id = lang = None

    lines = text.split("\n")
    for i, line in enumerate(lines, 1):
        if not line or line.isspace():
            flush(i - 1)
            continue
        if line[0] == "#":
            if toks:
                report.add("E115", "comment line inside a sentence; ignored", file=path, line=i, text=line)
                continue
            key, sep, val = line[1:].partition("=")
            if sep:
                key, val = key.strip().lower(), val.strip()
                if key == "sent_id":
                    sent_id = val
                elif key in ("newdoc id", "newdoc"):
                    doc_id = val or None
                elif key in ("lang", "language"):
                    lang = val or None
            elif line[1:].strip().lower() == "newdoc":
                doc_id = None
            continue
        parts = line.split("\t")
        if len(parts) != 10:
            report.add("E115", f"{len(parts)} fields instead of 10; line skipped", file=path, line=i, text=line)
            continue
        tid = parts[0]
        if "-" in tid or "." in tid:
            continue
        if not toks:
            start = i
        try:
            tag = _misc_tag(parts[9]) if from_misc else parts[col].strip()
        except IndexError:
            report.add("E115", f"column {col} does not exist", file=path, line=i, text=line)
            tag = "O"
        if tag not in valid:
            if is_valid_tag(tag):
                valid.add(tag)
            else:
                report.add("E104", f"invalid tag {tag!r}; read as O", file=path, line=i, text=line)
                tag = "O"
        if parts[1] == "":
            report.add("W109", "empty token", file=path, line=i, text=line)
        toks.append(parts[1])
        tags.append(tag)
    flush(len(lines))
    return sentences
