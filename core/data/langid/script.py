"""Unicode script of a sentence's letters, and the languages each script can be written in.

The script of a letter is the first word of its Unicode character name (``LATIN SMALL LETTER A`` -> LATIN,
``CJK UNIFIED IDEOGRAPH-4E2D`` -> HAN, ``HIRAGANA LETTER A`` -> KANA), looked up once per distinct character.
A sentence's script is the script of most of its letters, with two mixed-script rules of the writing systems
themselves: any kana among Han characters is Japanese, any Hangul is Korean; a Han character counts as
:data:`HAN_WEIGHT` letters because one Han character carries about what a short alphabetic word does, so a
Chinese sentence with a Latin brand name stays Chinese.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from functools import lru_cache

HAN_WEIGHT = 3
LATIN = "LATIN"

_NAME_TO_SCRIPT = {"CJK": "HAN", "HIRAGANA": "KANA", "KATAKANA": "KANA", "KATAKANA-HIRAGANA": "KANA",
                   "FULLWIDTH": LATIN, "IDEOGRAPHIC": "HAN", "HALFWIDTH": "KANA"}

# Languages written in each non-Latin script (ISO 639-1, else 639-3), from the Unicode CLDR script metadata
# for the languages the detectors know. A script with one language decides the sentence (Hangul -> ko).
SCRIPT_LANGUAGES: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "HAN": "zh", "KANA": "ja", "HANGUL": "ko", "GREEK": "el", "ARMENIAN": "hy", "GEORGIAN": "ka xmf",
    "THAI": "th", "LAO": "lo", "KHMER": "km", "MYANMAR": "my", "SINHALA": "si", "TAMIL": "ta", "TELUGU": "te",
    "KANNADA": "kn", "MALAYALAM": "ml", "GUJARATI": "gu", "GURMUKHI": "pa", "ORIYA": "or", "TIBETAN": "bo dz",
    "THAANA": "dv", "CHEROKEE": "chr", "SYRIAC": "syr", "ETHIOPIC": "am ti", "HEBREW": "he yi",
    "BENGALI": "bn as bpy", "DEVANAGARI": "hi mr ne sa mai bh new gom dty",
    "ARABIC": "ar fa ur ps ku sd ug arz azb ckb pnb ks lrc mzn",
    "CYRILLIC": "ru uk bg sr mk be kk ky mn tg tt ba cv sah os ce av kv krc lez mhr mrj myv rue tyv udm xal "
                "bxr uz az",
}.items()}
# Languages above that are also written in Latin script (so Latin text may be them too).
_ALSO_LATIN = frozenset("sr uz az ku tt tk".split())
_NON_LATIN_ONLY = frozenset().union(*SCRIPT_LANGUAGES.values()) - _ALSO_LATIN


@lru_cache(maxsize=65536)
def char_script(ch: str) -> str | None:
    """Script of one character when it is a letter (Unicode category L*), else None."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    name = unicodedata.name(ch, "")
    if not name:
        return None
    first = name.split(" ", 1)[0]
    if first in ("MODIFIER", "SMALL", "MATHEMATICAL", "CIRCLED", "PARENTHESIZED"):
        return LATIN if "LATIN" in name else None
    return _NAME_TO_SCRIPT.get(first, first)


# Text made only of these code points has Latin letters or none (ASCII, Latin-1 Supplement, Latin Extended-A/B,
# IPA, spacing and combining marks, Latin Extended Additional, General Punctuation, currency): one regex match
# instead of a per-character name lookup for most European and African text.
_LATIN_OR_NONLETTER = re.compile("[\\x00-\\u036f\\u1e00-\\u1eff\\u2000-\\u20cf]*")


def script_counts(text: str) -> Counter:
    """Letters per script in ``text`` (text of Latin letters and punctuation only takes a fast path)."""
    if text.isascii() or _LATIN_OR_NONLETTER.fullmatch(text):
        n = sum(map(str.isalpha, text))
        return Counter({LATIN: n}) if n else Counter()
    out: Counter = Counter()
    for ch, n in Counter(text).items():
        sc = char_script(ch)
        if sc is not None:
            out[sc] += n
    return out


def sentence_script(counts: Counter) -> str | None:
    """The script of a sentence from its letter counts (see the module docstring); None without letters."""
    if not counts:
        return None
    if counts.get("KANA"):
        return "KANA"
    if counts.get("HANGUL"):
        return "HANGUL"
    return max(counts, key=lambda s: counts[s] * (HAN_WEIGHT if s == "HAN" else 1))


def letters(counts: Counter) -> int:
    """Letter count, a Han character counting :data:`HAN_WEIGHT`."""
    return sum(n * (HAN_WEIGHT if s == "HAN" else 1) for s, n in counts.items())


@lru_cache(maxsize=256)
def script_candidates(script: str | None, known: frozenset[str]) -> frozenset[str]:
    """Languages that ``script`` can be written in: the table above for non-Latin scripts; for Latin, every
    language in ``known`` (the detectors' languages plus hints) that is not written only in another script.
    An unknown script (Tifinagh, N'Ko, ...) has no candidates."""
    if script is None:
        return frozenset()
    if script == LATIN:
        return frozenset(c for c in known if c not in _NON_LATIN_ONLY)
    return SCRIPT_LANGUAGES.get(script, frozenset())


def script_of_language(code: str) -> set[str]:
    """The scripts a language is written in (Latin for languages not in the table)."""
    out = {s for s, langs in SCRIPT_LANGUAGES.items() if code in langs}
    if code == "ja":
        out.add("HAN")
    if code == "ko":
        out.add("HAN")
    if not out or code in _ALSO_LATIN:
        out.add(LATIN)
    return out


_WORD_JOINERS = frozenset("'’‐-·\u200c\u200d")
_EDGE_PUNCTUATION = string.punctuation + "«»“”‘’„¿¡…"


def word_of(token: str) -> str:
    """``token`` without surrounding punctuation when what is left is a word (letters, combining marks and
    apostrophes, hyphens, middle dots or zero-width joiners inside), else ``""`` (``fr/jap/lmpg/``, ``6h``)."""
    w = token.strip(_EDGE_PUNCTUATION)
    if not w or not all(c.isalpha() or c in _WORD_JOINERS or unicodedata.category(c).startswith("M") for c in w):
        return ""
    return w
