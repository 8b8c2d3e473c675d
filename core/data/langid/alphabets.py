"""Letters a language does not write: a decision the text's own alphabet rules out.

Statistical backends know 100-180 languages and answer one of them for any text. A language none of them knows
comes out as the one whose letter statistics it resembles most, often at a high probability: Fon
(``Akwɛ nɛ́ ɔ́ nyí ... ɖé``) as Yoruba at 0.99 (CLD2), Ghomálá' (``Pú ŋwâk mə̂jyə``) as Azerbaijani. But
those texts use letters the backends' language never writes (Yoruba has no ``ɛ ɔ ɖ``, Azerbaijani no ``ŋ ɔ`` and no
circumflex). The alphabets come from CLDR's exemplar characters (exemplar + auxiliary + index sets: the
letters of ordinary text, of loanwords and of names; ``alphabets.json``, built by ``scripts/build_alphabets.py``
from the Unicode Consortium's ``cldr-misc-full`` package; Unicode License v3).

The rule (:func:`rules_out`), for Latin-script sentences: among the sentence's *evidence words* (Latin words not
starting with a capital, as in :func:`core.data.langid.decide.evidence_letters`), at least :data:`MIN_WORDS`
hold a letter or combining mark outside the language's alphabet, compared in NFKD (``ﬁ`` is ``fi``, ``ĳ`` is
``ij``), and they make at least :data:`MIN_SHARE` of those words. Names are left out (a Latvian ruling quotes
``Conseil d'État``), as are words in another script; a sentence with no capital at all (lowered ALL CAPS, a
lower-case tweet) is not judged, since its names cannot be told from its words. Quotations in another language
are why one foreign word is not enough and why a share is required: a Latvian judgment quoting ``démontrer,
par tout moyen approprié`` has 4 such words among 25.

Why Latin only: CLDR's sets for other scripts miss letters of those languages' ordinary text (a reviewer found
Persian ``ۀ``, Yiddish ``װ``, Quranic ``ٱ``, Hebrew qamats qatan, polytonic Greek's iota subscript, the Devanagari
``ॆ`` of Telugu names in Hindi), and there the script already narrows the candidates. A language whose CLDR
alphabet has no Latin letter (CLDR's Tatar is Cyrillic) is not judged in Latin script.

Measured with ``MIN_WORDS`` 2 and ``MIN_SHARE`` 0.2 on the first 4,000 sentences of each of the 29 corpora of
bench/langid_accuracy.py and 13 more MasakhaNER files (train files of Yoruba v1/v2, Igbo, Hausa; dev of nine
more languages) against each corpus's own language (65,870 sentences): 17 ruled out: 16 of 603 Twi sentences
(written with ``ɑ``, which CLDR's Akan does not list) and one of 2,169 Yoruba v1 train sentences (dot below
written as U+0329); they become ``und``, not another language. Against the language the backends gave the corpora
no backend knows: Fon as Yoruba 92.3% of its sentences ruled out, Ghomálá' as Azerbaijani 93.0%, Mooré as
French 23.1%, Bambara as Kinyarwanda 68.9%; with letters only (no marks) Ghomálá' falls to 66%, so marks count.

Languages without a CLDR alphabet here (no exemplar data, or thousands of ideographs: Chinese, Japanese) are
never ruled out: fastText's ``eml`` (Emilian) for a Fon line stays possible.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from pathlib import Path

from core.data.langid.script import LATIN, char_script, script_counts, sentence_script, word_of

MIN_WORDS = 2
MIN_SHARE = 0.2
_DATA = Path(__file__).with_name("alphabets.json")
# modifier letters used as apostrophes or transliteration marks (``donʼt``, ``Hawaiʻi``, ``qurʾān``, ``ʿilm``):
# never counted as a foreign letter
_APOSTROPHES = frozenset("ʼʻʹʽʾʿ")


@lru_cache(maxsize=1)
def _alphabets() -> dict[str, frozenset[str]]:
    doc = json.loads(_DATA.read_text(encoding="utf-8"))
    return {lang: frozenset(chars) for lang, chars in doc["languages"].items()}


def alphabet(lang: str) -> frozenset[str] | None:
    """The lower-cased, NFKD letters and combining marks of ``lang`` (CLDR exemplar, auxiliary and index sets;
    script variants merged: Serbian holds Cyrillic and Latin), or None when CLDR gives none here."""
    return _alphabets().get(lang)


@lru_cache(maxsize=1024)
def _latin_alphabet(lang: str) -> frozenset[str] | None:
    alpha = alphabet(lang)
    if alpha is None or not any(char_script(c) == LATIN for c in alpha):
        return None  # CLDR's Tatar is Cyrillic only; Latin-script Tatar cannot be checked against it
    return alpha


@lru_cache(maxsize=65536)
def foreign_words(norm: str, lang: str) -> tuple[int, int]:
    """``(evidence words, words with a letter outside lang's alphabet)`` of a casing-normalised Latin-script text.

    Evidence words are the whitespace tokens that, stripped of punctuation, are words (letters, combining marks,
    word-internal apostrophes and hyphens), do not start with a capital and are written in Latin letters.
    Words are compared in NFKD (``ﬁ`` is ``fi``, ``ĳ`` is ``ij``, fullwidth letters are plain ones).
    ``(0, 0)`` when the rule does not apply: ``lang`` has no Latin alphabet here, the sentence is not in Latin
    script, or it has no capital letter (lower-cased capitals, a lower-case tweet: names cannot be told apart).
    """
    alpha = _latin_alphabet(lang)
    if alpha is None or norm.islower() or sentence_script(script_counts(norm)) != LATIN:
        return 0, 0
    words = bad = 0
    for token in norm.split():
        w = word_of(token)
        if not w or w[0].isupper() or any(char_script(c) not in (LATIN, None) for c in w):
            continue
        words += 1
        low = w.lower()
        if not low.isascii() or not alpha.issuperset(low):
            d = unicodedata.normalize("NFKD", low)
            bad += any(c not in alpha and c not in _APOSTROPHES
                       and (c.isalpha() or unicodedata.category(c).startswith("M")) for c in d)
    return words, bad


def rules_out(norm: str, lang: str) -> bool:
    """Whether the text's evidence words write letters ``lang`` does not (module rule: at least
    :data:`MIN_WORDS` such words and :data:`MIN_SHARE` of the evidence words).

    Args:
        norm: one sentence, casing-normalised (:func:`core.data.langid.decide.normalise_case`).
        lang: a studio language code.
    """
    words, bad = foreign_words(norm, lang)
    return bad >= MIN_WORDS and bad >= MIN_SHARE * words
