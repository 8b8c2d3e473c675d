"""BRAT standoff (https://brat.nlplab.org/standoff.html): ``NAME.txt`` raw text + ``NAME.ann`` annotations.

Rules:

* Only text-bound annotations (``T`` lines: ``T1<TAB>TYPE START END<TAB>surface``) are read. Relations (``R``),
  events (``E``), attributes (``A``/``M``), normalisations (``N``, NEREL's Wikidata links), equivalences (``*``)
  and notes (``#``, AnnotatorNotes) are ignored without a problem: they are not NER spans.
* The all-TAB variant of NER-UK 2.0 (``T1<TAB>ORG<TAB>0<TAB>17<TAB>surface``) is read as well, and so are its
  surfaces that continue over several lines (a line that is not an annotation, directly after a ``T`` line,
  continues that line's surface). Any other unparsable line is E114.
* Offsets are character offsets into the ``.txt`` as stored (BRAT counts every character, ``\\r`` included;
  NBSP counts as one character). A surface that differs from the text slice (whitespace runs compared as one
  space) is E110 and the span is dropped; out-of-range offsets are E108.
* Discontinuous spans (``10 15;20 27``) keep their first fragment (W104).
* Sentences: one sentence per line of the ``.txt`` (empty lines skipped), except that lines are joined where an
  entity runs over a line break (NER-UK has such entities), so no span is lost to a sentence break. Words
  come from :func:`core.data.formats.words.split_words`; a span that cuts a word is E109 and is dropped.
* Nested or overlapping spans (NEREL) keep the longest, then the earliest; one W103 per document gives the
  number dropped.

``doc_id`` is the document's file stem; ``source`` is the ``.txt`` path and lines are ``.txt`` lines.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from pathlib import Path

from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import CorpusError, Report
from core.data.formats.words import locate_span, resolve_overlaps, split_words, word_index
from core.data.schemes import is_valid_tag, spans_to_iob2

_T_LINE = re.compile(r"T\d+\t")
_OTHER_LINE = re.compile(r"([RENAM]\d+|#\d*|\*)\t")
_ID_LIKE = re.compile(r"([TRENAM]\d+|#\d*|\*)\s")  # looks like an annotation line, so never a continuation


def parse_ann(path: str, text: str, report: Report) -> list[dict]:
    """Text-bound annotations of a ``.ann`` file.

    Returns:
        One dict per ``T`` line: ``id``, ``label``, ``fragments`` (list of ``(start, end)``), ``surface``,
        ``line`` (1-based line in the ``.ann``).
    """
    out: list[dict] = []
    last: dict | None = None
    for ln, raw in enumerate(text.split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        if line[0] == "T" and _T_LINE.match(line):
            last = None
            parts = line.split("\t")
            if len(parts) >= 3 and " " in parts[1].strip():
                label, _, offs = parts[1].strip().partition(" ")
                surface = "\t".join(parts[2:])
            elif len(parts) >= 4 and parts[2].strip().isdigit():
                label, offs, surface = parts[1].strip(), f"{parts[2].strip()} {parts[3].strip()}", "\t".join(parts[4:])
            else:
                report.add("E114", "a T line needs 'T<n><TAB>TYPE START END<TAB>text'", file=path, line=ln,
                           text=line)
                continue
            frags: list[tuple[int, int]] = []
            try:
                for frag in offs.split(";"):
                    a, b = frag.split()
                    frags.append((int(a), int(b)))
            except ValueError:
                report.add("E114", f"offsets {offs!r} are not 'START END' integers (fragments separated by ';')",
                           file=path, line=ln, text=line)
                continue
            last = {"id": parts[0], "label": label, "fragments": frags, "surface": surface, "line": ln}
            out.append(last)
        elif _OTHER_LINE.match(line):
            last = None
        elif last is not None and not _ID_LIKE.match(line):
            last["surface"] += "\n" + line  # NER-UK: a surface running over several lines
        else:
            report.add("E114", "not a BRAT annotation line", file=path, line=ln, text=line)
    return out


def line_units(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Sentence units of a text: its lines, joined where a span crosses a line break; blank units left out.

    Args:
        text: the document text.
        spans: ``(start, end)`` character spans (end exclusive) that must not be cut.

    Returns:
        ``(char_start, char_end, first_line, last_line)`` per unit; lines are 1-based, ``char_end`` excludes the
        newline and a CR before it.
    """
    bounds: list[tuple[int, int]] = []
    pos = 0
    for raw in text.split("\n"):
        end = pos + len(raw)
        bounds.append((pos, end - 1 if raw.endswith("\r") else end))
        pos = end + 1
    starts = [b[0] for b in bounds]
    joined = [False] * len(bounds)
    for s, e in spans:
        a, b = bisect_right(starts, s) - 1, bisect_right(starts, max(s, e - 1)) - 1
        for k in range(a, b):
            joined[k] = True
    units: list[tuple[int, int, int, int]] = []
    k = 0
    while k < len(bounds):
        first = k
        while joined[k] and k + 1 < len(bounds):
            k += 1
        us, ue = bounds[first][0], bounds[k][1]
        if text[us:ue].strip():
            units.append((us, ue, first + 1, k + 1))
        k += 1
    return units


def read(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]:
    """Read one BRAT document (rules in the module docstring).

    Args:
        path: the ``.txt`` file; its ``.ann`` sibling holds the annotations.
        text: the decoded ``.txt``.
        options: decoding options for the ``.ann``.
        report: receives E104, E108, E109, E110, E114, W103, W104.

    Returns:
        Sentences with IOB2 tags, ``text`` and ``offsets`` set.

    Raises:
        CorpusError: E101 when the ``.ann`` file is missing.
    """
    from core.data.formats import decode_file

    ann_path = Path(path).with_suffix(".ann")
    if not ann_path.exists():
        raise CorpusError("E101", "the BRAT document has no .ann file", file=str(ann_path),
                          fix="Put NAME.ann next to NAME.txt (an empty .ann for a document without entities).")
    ann = str(ann_path)
    entities = parse_ann(ann, decode_file(ann_path, options, report), report)
    n = len(text)
    spans: list[tuple[int, int, str, str, int]] = []
    for ent in entities:
        s, e = ent["fragments"][0]
        label, ln = ent["label"], ent["line"]
        if len(ent["fragments"]) > 1:
            report.add("W104", f"discontinuous span {ent['id']} {label} "
                       f"{';'.join(f'{a} {b}' for a, b in ent['fragments'])}: only the first fragment {s}-{e} is "
                       "kept", file=ann, line=ln, text=ent["surface"])
        if not is_valid_tag(label) or label == "O":
            report.add("E104", f"entity type {label!r} is not a valid tag type; span dropped", file=ann, line=ln,
                       text=ent["surface"])
            continue
        if not 0 <= s < e <= n:
            report.add("E108", f"span {s}-{e} {label} is outside the text (0-{n} characters); span dropped",
                       file=ann, line=ln, text=ent["surface"])
            continue
        if len(ent["fragments"]) == 1 and " ".join(text[s:e].split()) != " ".join(ent["surface"].split()):
            report.add("E110", f"span {s}-{e} {label} covers {text[s:e]!r} in the .txt but the .ann says "
                       f"{ent['surface']!r}; span dropped", file=ann, line=ln, text=ent["surface"])
            continue
        spans.append((s, e, label, text[s:e], ln))
    units = line_units(text, [(sp[0], sp[1]) for sp in spans])
    unit_starts = [u[0] for u in units]
    unit_words = []
    for us, ue, _, _ in units:
        words = split_words(text[us:ue])
        unit_words.append((words, *word_index(words)))
    located: list[tuple[int, int, int, int, int, str, str]] = []
    for s, e, label, surf, ln in spans:
        u = bisect_right(unit_starts, s) - 1
        loc = None
        if u >= 0 and e <= units[u][1]:
            us = units[u][0]
            loc = locate_span(text[us:units[u][1]], s - us, e - us, unit_words[u][1], unit_words[u][2])
        if loc is None:
            ctx = text[max(0, s - 15):min(n, e + 15)]
            report.add("E109", f"span {s}-{e} {label} ({surf!r}) cuts a word (context {ctx!r}); span dropped",
                       file=ann, line=ln, text=surf)
            continue
        located.append((s, e, u, loc[0], loc[1], label, surf))
    kept, dropped = resolve_overlaps(located)
    if dropped:
        report.add("W103", f"{len(dropped)} overlapping or nested span(s) dropped (kept the longest, then the "
                   "earliest)", file=ann, text=" | ".join(f"{d[6]} ({d[5]})" for d in dropped))
    per_unit: dict[int, list[tuple[str, int, int]]] = {}
    for _, _, u, a, b, label, _ in kept:
        per_unit.setdefault(u, []).append((label, a, b))
    doc_id = Path(path).stem
    out: list[Sentence] = []
    for u, (us, ue, l1, l2) in enumerate(units):
        words = unit_words[u][0]
        utext = text[us:ue]
        out.append(Sentence([utext[a:b] for a, b in words], spans_to_iob2(len(words), per_unit.get(u, [])),
                            doc_id=doc_id, source=path, line_start=l1, line_end=l2, text=utext,
                            offsets=list(words)))
    return out
