"""Word splitting and span alignment for the span formats (doccano, Label Studio, spaCy, BRAT, HAREM, ...).

Span formats give raw text plus ``(start, end, label)`` character spans; the studio's model is token based, so
the text is split into words once, with one rule for every span format (:func:`split_words`):

1. Whitespace separates words. "Whitespace" is Python's :meth:`str.isspace` (Unicode ``White_Space`` plus the
   ASCII separators), so NBSP (U+00A0), U+3000 and TAB separate words in raw text.
2. Every punctuation or symbol character (Unicode general category ``P*`` or ``S*``) is a word of its own:
   ``"U.S."`` -> ``U . S .``, ``«Укртрансгаз»`` -> ``« Укртрансгаз »``.
3. Every character of a script written without spaces is a word of its own: Han (CJK ideographs, including
   extensions and compatibility ideographs), Hiragana, Katakana (with the prolonged sound mark U+30FC and
   half-width Katakana), CJK symbols U+3000-U+303F, and Thai. Japanese (Stockmark) and Chinese spans are then
   aligned per character, like the character-level CoNLL corpora (MSRA, Resume, Weibo).
4. Zero-width characters (U+200B ZWSP, U+200C ZWNJ, U+200D ZWJ, U+FEFF, U+00AD soft hyphen, U+2060 word
   joiner) and combining marks (category ``M*``: Devanagari vowel signs, Thai vowels, tone marks) never
   separate words: they stay inside the word they touch (the preceding one when there is one, else the
   following one). ZWJ/ZWNJ are meaningful in Indic scripts and must not be stripped.
5. Everything else (letters, digits, ``Cf`` format characters, private use) continues the current word.

A span is *on word boundaries* when, after trimming whitespace at both of its ends, it starts where a word
starts and ends where a word ends (:func:`locate_span`). A span that cuts a word is never moved: it is
reported (E109) and dropped, because silently widening or shrinking it changes the annotation.
Overlapping or nested spans cannot be written as flat IOB2 tags: :func:`resolve_overlaps` keeps the longest,
then the earliest, and reports the rest (W103).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

# Zero-width and invisible characters that belong to the word they touch (never a separator, never a word).
ZERO_WIDTH = "\u200b\u200c\u200d\ufeff\u00ad\u2060"

# Scripts written without spaces: each character is a word (ranges are inclusive code points).
_SINGLE_RANGES = [
    (0x0E00, 0x0E7F),    # Thai
    (0x2E80, 0x2FDF),    # CJK radicals supplement, Kangxi radicals
    (0x3000, 0x303F),    # CJK symbols and punctuation
    (0x3040, 0x309F),    # Hiragana
    (0x30A0, 0x30FF),    # Katakana (incl. U+30FC prolonged sound mark)
    (0x31F0, 0x31FF),    # Katakana phonetic extensions
    (0x3400, 0x4DBF),    # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFF66, 0xFF9F),    # half-width Katakana
    (0x20000, 0x3134F),  # CJK extensions B-G, compatibility supplement
]



def is_unspaced(ch: str) -> bool:
    """True for a character of a script written without spaces (rule 3 of the module docstring: Han, Kana, CJK
    symbols, Thai); False for everything else, punctuation and ASCII included."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _SINGLE_RANGES)


class _CharClasses(dict):
    """Code point -> class letter, computed on first sight: ``' '`` whitespace, ``g`` glue (zero-width or
    combining mark), ``s`` single-character word, ``w`` ordinary word character. Used with :meth:`str.translate`
    so the text is classified in C, then split by a small ASCII regex (about 20x faster than a regex with
    Unicode category classes, whose astral ranges :mod:`re` scans linearly)."""

    def __missing__(self, cp: int) -> str:
        ch = chr(cp)
        if ch.isspace():
            cls = " "
        elif ch in ZERO_WIDTH:
            cls = "g"
        else:
            cat = unicodedata.category(ch)[0]
            if cat == "M":
                cls = "g"
            elif cat in "PS" or any(lo <= cp <= hi for lo, hi in _SINGLE_RANGES):
                cls = "s"
            else:
                cls = "w"
        self[cp] = cls
        return cls


_CLASSES = _CharClasses()
_WORD_RE = re.compile(r"g*(?:s|w[wg]*)g*|g+")


def split_words(text: str) -> list[tuple[int, int]]:
    """Split raw text into words by the module's rule (whitespace, one word per punctuation/symbol/CJK/Thai
    character, zero-width characters and combining marks kept inside words).

    Args:
        text: raw text (any script).

    Returns:
        ``(start, end)`` character offsets (code points, end exclusive) of each word, in order; the words
        cover every non-whitespace character of ``text`` exactly once.
    """
    return [m.span() for m in _WORD_RE.finditer(text.translate(_CLASSES))]


def locate_span(text: str, start: int, end: int, word_starts: dict[int, int],
                word_ends: dict[int, int]) -> tuple[int, int] | None:
    """Token indices ``(first, last_exclusive)`` covered by the character span, or None when it cuts a word.

    Whitespace at either end of the span is trimmed first (annotation tools often include a trailing space);
    the trimmed span must then start at a word start and end at a word end (see the module docstring).

    Args:
        text: the text the offsets index (code points).
        start: span start (character offset, inclusive); ``0 <= start < end <= len(text)`` is checked by the
            caller.
        end: span end (exclusive).
        word_starts: word start offset -> word index.
        word_ends: word end offset -> word index.
    """
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start >= end:
        return None
    first = word_starts.get(start)
    last = word_ends.get(end)
    if first is None or last is None or last < first:
        return None
    return first, last + 1


def word_index(words: Sequence[tuple[int, int]]) -> tuple[dict[int, int], dict[int, int]]:
    """``(start -> index, end -> index)`` lookup tables for :func:`locate_span`."""
    return ({s: i for i, (s, _) in enumerate(words)}, {e: i for i, (_, e) in enumerate(words)})


def resolve_overlaps(spans: Sequence[tuple]) -> tuple[list[tuple], list[tuple]]:
    """Keep a non-overlapping subset of spans: the longest first, then the earliest (ties by input order).

    Args:
        spans: tuples whose first two items are ``start`` and ``end`` (end exclusive) in any one unit
            (characters or token indices); further items (label, ...) are carried along.

    Returns:
        ``(kept, dropped)``; ``kept`` is sorted by start. Rule from the studio's flat-NER policy (W103): a flat
        tag sequence holds one level only, and the longest span is usually the outer entity (GermEval's outer
        level, BRAT/NEREL nesting).
    """
    order = sorted(range(len(spans)), key=lambda i: (-(spans[i][1] - spans[i][0]), spans[i][0], i))
    kept: list[tuple] = []
    dropped: list[tuple] = []
    for i in order:
        s, e = spans[i][0], spans[i][1]
        if any(s < ke and ks < e for ks, ke, *_ in kept):
            dropped.append(spans[i])
        else:
            kept.append(spans[i])
    kept.sort(key=lambda sp: (sp[0], sp[1]))
    return kept, dropped
