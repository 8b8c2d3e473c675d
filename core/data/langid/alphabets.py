"""Letters a language does not write: a decision the text's own alphabet rules out.

Statistical backends know 100-180 languages and answer one of them for any text. A language none of them knows
comes out as the one whose letter statistics it resembles most, often at a high probability: Fon
(``Akwɛ nɛ́ ɔ́ nyí ... ɖé``) as Yoruba at 0.99 (CLD2), Ghomálá' (``Pú ŋwâk mə̂jyə``) as Azerbaijani. But those
texts use letters the backends' language never writes (Yoruba has no ``ɛ ɔ ɖ``, Azerbaijani no ``ŋ ɔ`` and no
circumflex). The alphabets come from CLDR's exemplar characters (exemplar + auxiliary + index sets: the
letters of ordinary text, of loanwords and of names; ``alphabets.json``, built by ``scripts/build_alphabets.py``
from the Unicode Consortium's ``cldr-misc-full`` package; Unicode License v3).

The rule (:func:`rules_out`): among the sentence's *evidence words* (words not starting with a capital, as in
:func:`core.data.langid.decide.evidence_letters`, written in the sentence's script), at least
:data:`MIN_WORDS` hold a letter or combining mark outside the language's alphabet, and they make at least
:data:`MIN_SHARE` of those words. Names are left out (a Latvian ruling quotes ``Conseil d'État``), as are words
in another script (a Hindi article gives the Tamil spelling of a name). Quotations in another language with the
same script are why one foreign word is not enough and why a share is required: a Latvian judgment quoting
``démontrer, par tout moyen approprié`` has 4 such words among 25.

Measured with ``MIN_WORDS`` 2 and ``MIN_SHARE`` 0.2 on the first 3,000 sentences of each of the 29 corpora of
bench/langid_accuracy.py and 9 more MasakhaNER languages against each corpus's own language (55,841 sentences):
2 ruled out, both rightly (an English line in the Ukrainian corpus, a kana name in the French one); with 1 word
and no share: 2.3% of Igbo, 1.7% of Latvian, 1.1% of Hindi. Against the language the backends gave the corpora no backend knows: Fon as Yoruba
97.9% ruled out, Ghomálá' as Azerbaijani 98.3%, Mooré as French 23.8%, Bambara as Kinyarwanda 74.7%.

Languages without a CLDR alphabet here (no exemplar data, or thousands of ideographs: Chinese, Japanese) are
never ruled out.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from pathlib import Path

from core.data.langid.script import char_script, script_counts, sentence_script, word_of

MIN_WORDS = 2
MIN_SHARE = 0.2
_DATA = Path(__file__).with_name("alphabets.json")
# modifier letters used as apostrophes (``donʼt``, ``Hawaiʻi``): never counted as a foreign letter
_APOSTROPHES = frozenset("ʼʻʹʽ")


@lru_cache(maxsize=1)
def _alphabets() -> dict[str, frozenset[str]]:
    doc = json.loads(_DATA.read_text(encoding="utf-8"))
    return {lang: frozenset(chars) for lang, chars in doc["languages"].items()}


def alphabet(lang: str) -> frozenset[str] | None:
    """The lower-cased, NFD letters and combining marks of ``lang`` (CLDR exemplar, auxiliary and index sets;
    script variants merged: Serbian holds Cyrillic and Latin), or None when CLDR gives none here."""
    return _alphabets().get(lang)


def _letter(c: str) -> bool:
    return c.isalpha() or unicodedata.category(c).startswith("M")


@lru_cache(maxsize=65536)
def foreign_words(norm: str, lang: str) -> tuple[int, int]:
    """``(evidence words, words with a letter or mark outside lang's alphabet)`` of a casing-normalised text.

    Evidence words are the whitespace tokens that, stripped of punctuation, are words (letters, combining marks,
    word-internal apostrophes and hyphens), do not start with a capital and have every letter in the sentence's
    script. ``(0, 0)`` when ``lang`` has no alphabet here.
    """
    alpha = alphabet(lang)
    if alpha is None:
        return 0, 0
    script = sentence_script(script_counts(norm))
    words = bad = 0
    for token in norm.split():
        w = word_of(token)
        if not w or w[0].isupper() or any(char_script(c) not in (script, None) for c in w):
            continue
        words += 1
        if not w.isascii() or not alpha.issuperset(w.lower()):
            d = unicodedata.normalize("NFD", w.lower())
            bad += any(_letter(c) and c not in alpha and c not in _APOSTROPHES for c in d)
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
