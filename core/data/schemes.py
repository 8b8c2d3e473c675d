"""Tagging schemes: detect, convert to IOB2 and back, extract entities.

Schemes (Ramshaw & Marcus 1995; Tjong Kim Sang & Veenstra 1999; Ratinov & Roth 2009):

==========  =====================================================================================
IOB1        ``I-X`` inside; ``B-X`` only where an entity directly follows one of the same type (CoNLL-2003)
IOB2        every entity starts with ``B-X``, continues with ``I-X`` (CoNLL-2002; the studio's internal form)
IOBES       ``B-`` begin, ``I-`` inside, ``E-`` end, ``S-`` single-token (also called BIOES)
BILOU       ``B-`` begin, ``I-`` inside, ``L-`` last, ``U-`` unit (spaCy v2)
BMES        ``B-`` begin, ``M-`` middle, ``E-`` end, ``S-`` single (Chinese corpora)
IO          bare types (``PER``) or ``I-`` only; adjacent entities of one type cannot be told apart
==========  =====================================================================================

A tag is split into prefix and type at the *first* ``-`` only, because types contain ``_``, ``.`` and ``-``
(``B-GPE_LOC``, ``B-PER.NAM``, ``B-creative-work``). A tag whose part before the first ``-`` is not a known
prefix is a bare type (``GPE-LOC`` is the type ``GPE-LOC``).

What makes a tag an entity tag (:func:`tag_problem`): ``O``, or a prefix the scheme has (:data:`SCHEME_PREFIXES`)
followed by a type name, or a bare type name (read as an inside tag). A type name holds at least one letter and
is not a marker of another tool: tokenizer special tokens (``[SEP]``, ``[CLS]``, ``[PAD]``, ``<pad>``, ``</s>``:
anything wrapped in ``[]``, ``<>`` or ``{}``), numbers (``-100``, PyTorch's ignore index, or a label id), the
``X`` label that BERT's CoNLL-2003 recipe gives non-first subwords (Devlin et al. 2019), or an empty label.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

SCHEMES = ("IOB1", "IOB2", "IOBES", "BILOU", "BMES", "IO")
#: Other names of a scheme (seqeval has no ``BIOES`` name: it is its ``IOBES``).
SCHEME_ALIASES = {"BIOES": "IOBES", "BILUO": "BILOU", "IOB": "IOB2", "BIO": "IOB2"}
#: The prefixes each scheme has; a bare type (no prefix) is accepted everywhere and read as an inside tag.
SCHEME_PREFIXES = {"IOB1": frozenset("BI"), "IOB2": frozenset("BI"), "IOBES": frozenset("BIES"),
                   "BILOU": frozenset("BILU"), "BMES": frozenset("BMES"), "IO": frozenset("I")}
_MARKER_RE = re.compile(r"^(\[.*\]|<.*>|\{.*\})$")
PREFIXES = frozenset("BIESLUM")
_BEGIN = frozenset("BSU")
# Prefixes after which an entity is closed in the end-marking schemes.
_CLOSING = frozenset("ESLU")

_split_cache: dict[str, tuple[str, str | None]] = {}


def split_tag(tag: str) -> tuple[str, str | None]:
    """Split a tag into ``(prefix, type)``.

    ``"O"`` -> ``("O", None)``; ``"B-PER"`` -> ``("B", "PER")``; ``"B-creative-work"`` -> ``("B", "creative-work")``;
    a bare ``"PER"`` -> ``("", "PER")``. An empty tag or ``"-"`` is read as ``O``.
    """
    hit = _split_cache.get(tag)
    if hit is not None:
        return hit
    if tag in ("O", "", "-", "0"):
        out: tuple[str, str | None] = ("O", None)
    else:
        head, sep, rest = tag.partition("-")
        if sep and head in PREFIXES and rest:
            out = (head, rest)
        else:
            out = ("", tag)
    if len(_split_cache) < 100_000:
        _split_cache[tag] = out
    return out


def is_valid_tag(tag: str) -> bool:
    """True for ``O`` and any ``PREFIX-TYPE`` or bare type made of printable, non-space characters."""
    if tag == "O":
        return True
    return bool(tag) and tag.isprintable() and not any(c.isspace() for c in tag)


def canonical_scheme(name: str) -> str:
    """The studio's name of a scheme: upper case, aliases resolved (``bioes`` -> ``IOBES``).

    Raises:
        ValueError: not a scheme of :data:`SCHEMES` nor an alias in :data:`SCHEME_ALIASES`.
    """
    up = str(name).strip().upper()
    up = SCHEME_ALIASES.get(up, up)
    if up not in SCHEMES:
        raise ValueError(f"unknown scheme {name!r}; expected one of {', '.join(SCHEMES)} (or BIOES)")
    return up


def non_entity_reason(tag: str) -> str | None:
    """Why a label is no entity tag in any scheme, or None when it may be one.

    ``O`` (and the ``-``/``0`` that :func:`split_tag` reads as ``O``) is fine. Refused, whatever the scheme: an
    empty or blank label; a label (or its type after the prefix) wrapped in ``[]``, ``<>`` or ``{}`` (tokenizer
    special tokens: ``[SEP]``, ``[CLS]``, ``[PAD]``, ``<pad>``, ``</s>``); a type with no letter (``-100``, the
    ignore index of PyTorch's cross-entropy, or an integer label id); the bare ``X`` of BERT's CoNLL-2003
    recipe, which marks non-first subwords, not a type.
    """
    if tag in ("O", "-", "0"):
        return None
    if not tag or not tag.strip():
        return "an empty label"
    if _MARKER_RE.match(tag):
        return "a tokenizer special token"
    prefix, typ = split_tag(tag)
    typ = typ or ""
    if _MARKER_RE.match(typ):
        return "a tokenizer special token after the prefix"
    if not any(c.isalpha() for c in typ):
        return "a number or symbol, not a type name (-100 is the loss's ignore index)"
    if tag == "X":
        return "the subword label X (BERT's CoNLL-2003 recipe), not a type"
    return None


def tag_problem(tag: str, scheme: str) -> str | None:
    """Why ``tag`` is no entity tag of ``scheme`` (see the module docstring), or None for a good tag.

    Args:
        tag: one label as read.
        scheme: a name :func:`canonical_scheme` accepts.

    Raises:
        ValueError: unknown scheme.
    """
    reason = non_entity_reason(tag)
    if reason is not None:
        return reason
    if not is_valid_tag(tag):
        return "not printable, or holds a space"
    prefix, _ = split_tag(tag)
    scheme = canonical_scheme(scheme)
    if prefix not in ("O", "") and prefix not in SCHEME_PREFIXES[scheme]:
        return f"the prefix {prefix}- is not part of {scheme} ({', '.join(p + '-' for p in sorted(SCHEME_PREFIXES[scheme]))})"
    return None


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> str:
    """Detect the tagging scheme of a corpus.

    Rules, first match wins: ``L-``/``U-`` -> BILOU; ``M-`` -> BMES; ``E-``/``S-`` -> IOBES; only bare types or
    only ``I-`` with no ``B-`` -> IO when there are bare types, else IOB1; ``B-`` that always follows an entity of
    the same type while ``I-`` starts entities -> IOB1; otherwise IOB2 (stray ``I-`` starts are repairs).
    ``O``-only data is IOB2.
    """
    seen: set[str] = set()
    b_after_same = 0
    b_elsewhere = 0
    i_starts = 0
    for tags in tag_sequences:
        prev_type: str | None = None
        for tag in tags:
            prefix, typ = split_tag(tag)
            seen.add(prefix)
            if prefix == "B":
                if prev_type is not None and prev_type == typ:
                    b_after_same += 1
                else:
                    b_elsewhere += 1
            elif prefix == "I" and prev_type != typ:
                i_starts += 1
            prev_type = typ
    if "L" in seen or "U" in seen:
        return "BILOU"
    if "M" in seen:
        return "BMES"
    if "E" in seen or "S" in seen:
        return "IOBES"
    if "" in seen and not ({"B", "I"} & seen):
        return "IO"
    if "B" not in seen and "I" in seen:
        return "IO" if "" in seen else "IOB1"
    if "B" in seen and b_elsewhere == 0 and i_starts > 0:
        return "IOB1"
    # Many B- after O with a few I- starts: IOB2 with stray starts. Many I- starts and few B- elsewhere: IOB1.
    if b_elsewhere and i_starts > 10 * b_elsewhere:
        return "IOB1"
    return "IOB2"


def to_iob2(tags: Sequence[str], scheme: str) -> tuple[list[str], int]:
    """Convert one sentence's tags from ``scheme`` to IOB2.

    Args:
        tags: the tags of one sentence.
        scheme: one of :data:`SCHEMES`.

    Returns:
        ``(iob2_tags, repairs)``: ``repairs`` counts tags that started an entity without the scheme's begin
        prefix where the scheme demands one (a stray ``I-`` in IOB2, an ``I-``/``E-``/``L-``/``M-`` with no open
        entity in IOBES/BILOU/BMES). In IOB1 and IO an ``I-`` start is normal and not a repair.

    Raises:
        ValueError: unknown scheme.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    closing_scheme = scheme in ("IOBES", "BILOU", "BMES")
    out: list[str] = []
    repairs = 0
    open_type: str | None = None  # type of the entity that the next inside tag may continue
    for tag in tags:
        prefix, typ = split_tag(tag)
        if prefix == "O":
            out.append("O")
            open_type = None
            continue
        if prefix in _BEGIN:
            out.append(f"B-{typ}")
        elif open_type == typ:
            out.append(f"I-{typ}")
        else:
            out.append(f"B-{typ}")
            if scheme in ("IOB2",) or closing_scheme:
                repairs += 1
        open_type = None if (closing_scheme and prefix in _CLOSING) else typ
    return out, repairs


def from_iob2(tags: Sequence[str], scheme: str, *, bare_io: bool = False) -> list[str]:
    """Convert IOB2 tags to ``scheme``.

    ``to_iob2(from_iob2(t, s), s) == (t, 0)`` for every valid IOB2 sequence ``t`` (except that IO cannot keep two
    adjacent entities of one type apart: they merge, which is the IO scheme's known loss).

    Args:
        tags: IOB2 tags of one sentence (stray ``I-`` starts are read as ``B-``).
        scheme: target scheme, one of :data:`SCHEMES`.
        bare_io: for IO, write bare types (``PER``) instead of ``I-PER``.

    Raises:
        ValueError: unknown scheme.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    n = len(tags)
    parsed = [split_tag(t) for t in tags]
    # normalise: decide for each token whether it begins an entity
    begins: list[bool] = []
    prev_type: str | None = None
    for prefix, typ in parsed:
        if prefix == "O":
            begins.append(False)
            prev_type = None
            continue
        begins.append(prefix in _BEGIN or prev_type != typ)
        prev_type = typ
    out: list[str] = []
    for i, (prefix, typ) in enumerate(parsed):
        if prefix == "O":
            out.append("O")
            continue
        last = i + 1 >= n or parsed[i + 1][1] != typ or begins[i + 1]
        first = begins[i]
        if scheme == "IOB2":
            out.append(f"{'B' if first else 'I'}-{typ}")
        elif scheme == "IOB1":
            prev_same = i > 0 and parsed[i - 1][1] == typ
            out.append(f"{'B' if first and prev_same else 'I'}-{typ}")
        elif scheme == "IO":
            out.append(typ if bare_io else f"I-{typ}")
        else:
            single, end, inside = {"IOBES": ("S", "E", "I"), "BILOU": ("U", "L", "I"),
                                   "BMES": ("S", "E", "M")}[scheme]
            if first and last:
                p = single
            elif first:
                p = "B"
            elif last:
                p = end
            else:
                p = inside
            out.append(f"{p}-{typ}")
    return out


def entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entities of an IOB2 sentence as ``(type, start, end)`` token indices, ``end`` exclusive.

    Strict IOB2 decoding: an entity starts at ``B-X`` or at an ``I-X`` that does not continue ``X`` (the same
    repair as :func:`to_iob2`), and runs over the following ``I-X``.
    """
    spans: list[tuple[str, int, int]] = []
    cur_type: str | None = None
    start = 0
    for i, tag in enumerate(tags):
        prefix, typ = split_tag(tag)
        if prefix == "O" or prefix in _BEGIN or typ != cur_type:
            if cur_type is not None:
                spans.append((cur_type, start, i))
            cur_type, start = (None, i) if prefix == "O" else (typ, i)
    if cur_type is not None:
        spans.append((cur_type, start, len(tags)))
    return spans


def spans_to_iob2(n_tokens: int, spans: Iterable[tuple[str, int, int]]) -> list[str]:
    """IOB2 tags for ``n_tokens`` tokens from non-overlapping ``(type, start, end)`` token spans."""
    tags = ["O"] * n_tokens
    for typ, start, end in spans:
        if start >= end:
            continue
        tags[start] = f"B-{typ}"
        for j in range(start + 1, end):
            tags[j] = f"I-{typ}"
    return tags


def entity_types(tag_sequences: Iterable[Sequence[str]]) -> set[str]:
    """Every entity type in the given tag sequences."""
    types: set[str] = set()
    for tags in tag_sequences:
        for tag in tags:
            typ = split_tag(tag)[1]
            if typ is not None:
                types.add(typ)
    return types
