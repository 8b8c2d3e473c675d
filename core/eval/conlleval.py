"""A small, faithful port of the chunk rules of ``conlleval.pl``, the CoNLL shared-task scorer.

Source: ``conlleval`` version 2004-01-26 by Erik Tjong Kim Sang (CoNLL-2000 chunking, used unchanged for the
CoNLL-2002 and CoNLL-2003 NER shared tasks), subroutines ``endOfChunk`` and ``startOfChunk``. A chunk starts
at a token where ``startOfChunk(previous, current)`` holds and ends before the first later token where
``endOfChunk(previous, current)`` holds; a sentence boundary counts as an ``O`` token. A gold chunk is correct
when a predicted chunk has the same type, first and last token: the script's ``$inCorrect`` state machine
counts exactly the chunks that start and end at the same tokens with the same type, so this port extracts the
chunks of each side and compares them as ``(type, start, end)`` sets.

The rules, verbatim from the script for the tags ``B``, ``I``, ``E`` and ``O``:

* end between ``prev`` and ``tag``: (B,B) (B,O) (I,B) (I,O) (E,E) (E,I) (E,O), or ``prev`` is not ``O`` and
  the types differ;
* start: (B,B) (I,B) (O,B) (O,I) (E,E) (E,I) (O,E), or ``tag`` is not ``O`` and the types differ.

So an ``I-X`` after ``O`` or after another type starts a chunk, and a type switch ``B-PER I-LOC`` is two
chunks: the lenient reading published CoNLL figures were computed with. The original script knows no ``S-``
tag (it would glue ``S-PER S-PER`` into one chunk, and ``E-PER B-PER`` too); for IOBES the port adds the
rules of the IOBES variant of ``conlleval.pl`` used by IOBES NER toolkits: ``S`` ends the chunk before it and is
a chunk of its own, ``B`` and ``S`` after ``E`` or ``S`` end and start. Other schemes are mapped onto that
alphabet first: BILOU ``L``->``E``, ``U``->``S``; BMES ``M``->``I``; a bare type (IO) -> ``I`` (the script's
``-r`` raw reading). Deliberate deviation: a tag is split at its first ``-`` (``B-creative-work`` has the type
``creative-work``), where Perl's ``split(/-/)`` would keep only ``creative``.
"""

from __future__ import annotations

from typing import Sequence

from core.data.schemes import split_tag

#: conlleval letter for each prefix of the studio's schemes.
_LETTER = {"B": "B", "I": "I", "E": "E", "S": "S", "L": "E", "U": "S", "M": "I", "": "I", "O": "O"}

_END = frozenset([("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O"),
                  # IOBES variant
                  ("B", "S"), ("I", "S"), ("E", "S"), ("E", "B"),
                  ("S", "B"), ("S", "I"), ("S", "E"), ("S", "O"), ("S", "S")])
_START = frozenset([("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E"),
                    # IOBES variant
                    ("S", "B"), ("E", "B"), ("B", "S"), ("I", "S"), ("O", "S"), ("S", "S"), ("E", "S"),
                    ("S", "I"), ("S", "E")])


def end_of_chunk(prev_tag: str, tag: str, prev_type: str, typ: str) -> bool:
    """``endOfChunk`` of conlleval.pl: did a chunk end between the previous and the current token?

    Args:
        prev_tag, tag: conlleval letters (``B``, ``I``, ``E``, ``S``, ``O``).
        prev_type, typ: the types (``""`` for ``O``).
    """
    return (prev_tag, tag) in _END or (prev_tag != "O" and prev_type != typ)


def start_of_chunk(prev_tag: str, tag: str, prev_type: str, typ: str) -> bool:
    """``startOfChunk`` of conlleval.pl: did a chunk start between the previous and the current token?"""
    return (prev_tag, tag) in _START or (tag != "O" and prev_type != typ)


def chunks(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Chunks of one sentence by conlleval's rules, as ``(type, start, end)`` token indices, ``end`` exclusive.

    Args:
        tags: tags of any scheme in :data:`core.data.schemes.SCHEMES` (prefixes mapped as the module says).
    """
    out: list[tuple[str, int, int]] = []
    prev_tag, prev_type = "O", ""
    open_type: str | None = None
    start = 0
    for i, raw in enumerate(list(tags) + ["O"]):  # the sentence boundary is an O token
        prefix, typ = split_tag(raw)
        tag, typ = _LETTER.get(prefix, "I"), typ or ""
        if open_type is not None and end_of_chunk(prev_tag, tag, prev_type, typ):
            out.append((open_type, start, i))
            open_type = None
        if i < len(tags) and start_of_chunk(prev_tag, tag, prev_type, typ):
            open_type, start = typ, i
        prev_tag, prev_type = tag, typ
    return out
