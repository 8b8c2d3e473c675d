"""Language of every sentence: given where the data says it, detected with langdetect otherwise.

Order of sources for one sentence (first that applies wins):

1. ``field``/``comment``/``prefix``: set by the reader from a JSON ``lang`` field, a CoNLL-U ``# lang`` comment,
   or ``xx:`` token prefixes (WikiANN/PAN-X). Never overridden.
2. ``user``: the language the user chose for the file (``--lang``, upload option).
3. ``filename``: a language code or CoNLL-era name as a whole part of the file name or of a parent folder
   (``ned.train`` -> nl, ``masakhaner/amh/train.txt`` -> am, ``NER-de-dev.tsv`` -> de), used for the whole
   file when langdetect has no profile for that language (Amharic, Yoruba, Hausa ...), or when most of
   :data:`HINT_PROBES` groups spread over the file are detected as that language. Otherwise the name is ignored.
4. ``detected``: langdetect 1.0.9, seeded (``DetectorFactory.seed = 0``) so results never change between runs.

Detection runs on groups, not single sentences, because langdetect is unreliable on one- to three-word input
and costs about 2 ms a call whatever the length: one call per document (``-DOCSTART-``, ``# newdoc``, a document
field) and, where a file has no documents, one call per block of :data:`BLOCK_SENTENCES` consecutive sentences.
A group whose detection is unsure (top probability < :data:`MIN_GROUP_PROB`), or whose first or last sentence is
confidently another language, is detected sentence by sentence (sentences too short to trust keep the group's
language), so mixed-language files still get per-sentence languages. Text with no letters (digits, dates,
punctuation) gets ``und`` when detected on its own, never an exception; inside a document or block it takes that
group's language (a date line of a Spanish article is Spanish data). Codes are ISO 639-1 where one exists (``zh-cn`` -> ``zh``).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

from core.data.corpus import Sentence

UND = "und"
BLOCK_SENTENCES = 20
MIN_GROUP_PROB = 0.9
HINT_PROBES = 7
MIN_LETTERS = 20
_EXCERPT_CHARS = 600
# Sources set by the file itself; never overridden.
EXPLICIT_SOURCES = ("field", "comment", "prefix")

# ISO 639-2/3 codes and CoNLL-era file names -> ISO 639-1 (codes without a 639-1 form map to themselves).
_TO_639_1 = {
    "amh": "am", "hau": "ha", "ibo": "ig", "kin": "rw", "lug": "lg", "swa": "sw", "wol": "wo", "yor": "yo",
    "zul": "zu", "xho": "xh", "sna": "sn", "tsn": "tn", "twi": "tw", "ewe": "ee", "nya": "ny", "bam": "bm",
    "esp": "es", "spa": "es", "ned": "nl", "nld": "nl", "dut": "nl", "deu": "de", "ger": "de", "eng": "en",
    "fra": "fr", "fre": "fr", "por": "pt", "rus": "ru", "ukr": "uk", "ara": "ar", "zho": "zh", "chi": "zh",
    "jpn": "ja", "kor": "ko", "hin": "hi", "tur": "tr", "fin": "fi", "dan": "da", "srp": "sr", "nob": "nb",
    "nno": "nn", "ces": "cs", "cze": "cs", "pol": "pl", "hun": "hu", "slk": "sk", "swe": "sv", "est": "et",
    "lit": "lt", "lav": "lv", "hrv": "hr", "ron": "ro", "rum": "ro", "ita": "it", "zh-cn": "zh", "zh-tw": "zh",
}
# Codes accepted from file names: ISO 639-1 codes of languages with NER corpora, plus the 3-letter forms above
# and 639-3 codes without a 639-1 form. Ambiguous English words that are also codes ("to", "is", "in", "be", "me",
# "an", "as", "or", "so", "no" ...) are left out unless they are a whole folder name.
_ISO1 = set("""af am ar az be bg bm bn br bs ca cs cy da de ee el en es et eu fa fi fr ga gl gu ha he hi hr hu hy
id ig is it ja jv ka kk km kn ko ku ky lg lo lt lv mg mk ml mn mr ms mt my nb ne nl nn ny pa pl ps pt rw ro ru
sd si sk sl sn sq sr sv sw ta te tg th tl tn tr tw ug uk ur uz vi wo xh yo zh zu""".split())
_AMBIGUOUS_WORDS = {"to", "is", "in", "be", "me", "an", "as", "or", "so", "no", "it", "my", "am", "ha", "id",
                    "ms", "mt", "tw", "ku", "ky", "eu", "ga", "km", "mg", "sd", "si"}
_ISO3_ONLY = {"pcm", "luo", "mos", "fon", "bbj", "fil", "yue", "hsb"}

_lock = threading.Lock()
_factory_ready = False


def normalize_code(code: str | None) -> str:
    """Normalise a language code to ISO 639-1 where one exists (``zh-cn`` -> ``zh``, ``hau`` -> ``ha``).

    Unknown codes are returned lower-cased; None or empty gives ``und``.
    """
    if not code:
        return UND
    c = code.strip().lower().replace("_", "-")
    if c in _TO_639_1:
        return _TO_639_1[c]
    if "-" in c:
        c = c.split("-", 1)[0]
    return _TO_639_1.get(c, c)


def language_from_path(path: str) -> str | None:
    """A language code named by the file name or one of its parent folders, or None.

    The file name's parts (split on ``. _ -`` and digits) are looked at first, left to right, then each parent
    folder from the nearest up to four levels. A two-letter code that is also an English word (``to``, ``it``,
    ``am``...) counts only when it is a whole folder or file name (``masakhaner_x_spans/test/am.jsonl``).
    """
    p = Path(path)
    names = [p.name] + [parent.name for parent in list(p.parents)[:4]]
    for idx, name in enumerate(names):
        stem = name
        if idx == 0:
            stem = name.split(".", 1)[0] if not name.startswith(".") else name
        whole = stem.lower()
        if whole in _ISO1 or whole in _TO_639_1 or whole in _ISO3_ONLY:
            return normalize_code(whole)
        for part in re.split(r"[._\-\s\d]+", name.lower()):
            if not part or part in _AMBIGUOUS_WORDS:
                continue
            if part in _ISO1 or part in _ISO3_ONLY or (len(part) == 3 and part in _TO_639_1):
                return normalize_code(part)
    return None


def _factory():
    """The seeded langdetect factory (profiles loaded once per process; thread-safe)."""
    global _factory_ready
    from langdetect import DetectorFactory
    from langdetect import detector_factory

    with _lock:
        if not _factory_ready:
            DetectorFactory.seed = 0  # docs/PITFALLS.md: without a seed results change between calls and processes
            detector_factory.init_factory()
            _factory_ready = True
    return detector_factory._factory


def supported_languages() -> set[str]:
    """ISO 639-1 codes that langdetect has profiles for (55 profiles; zh-cn/zh-tw both give ``zh``)."""
    return {normalize_code(c) for c in _factory().get_lang_list()}


def _has_letters(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def detect(text: str) -> tuple[str, float]:
    """Detect the language of ``text``.

    Returns:
        ``(code, probability)``; ``("und", 0.0)`` for text without letters (digits, dates, punctuation, URLs) or
        when langdetect finds no features.
    """
    from langdetect.lang_detect_exception import LangDetectException

    if not _has_letters(text):
        return UND, 0.0
    factory = _factory()
    detector = factory.create()
    detector.append(text[:_EXCERPT_CHARS * 4])
    try:
        probs = detector.get_probabilities()
    except LangDetectException:
        # langdetect's documented failure for text without usable n-grams ("No features in text").
        return UND, 0.0
    if not probs:
        return UND, 0.0
    return normalize_code(probs[0].lang), float(probs[0].prob)


def sentence_text(s: Sentence) -> str:
    """The sentence as running text for detection: its raw text when known; tokens joined without spaces when
    the corpus is tokenised per character (Chinese MSRA/Weibo/Resume, KLUE Korean with its space tokens),
    because langdetect reads space-separated Han characters as Korean; otherwise joined by spaces."""
    if s.text is not None:
        return s.text
    toks = s.tokens
    if len(toks) >= 3 and sum(len(t) for t in toks) <= 1.2 * len(toks):
        return "".join(toks)
    return " ".join(toks)


def _excerpt(sentences: Sequence[Sentence]) -> str:
    parts: list[str] = []
    size = 0
    for s in sentences:
        t = sentence_text(s)
        parts.append(t)
        size += len(t) + 1
        if size >= _EXCERPT_CHARS:
            break
    return " ".join(parts)


def _groups(sentences: Sequence[Sentence]) -> Iterable[list[Sentence]]:
    """Consecutive sentences of one file and document; files without documents in blocks."""
    cur: list[Sentence] = []
    key = None
    for s in sentences:
        k = (s.source, s.doc_id)
        limit = s.doc_id is None and len(cur) >= BLOCK_SENTENCES
        if cur and (k != key or limit):
            yield cur
            cur = []
        cur.append(s)
        key = k
    if cur:
        yield cur


def assign_languages(sentences: Sequence[Sentence], user_lang: str | None = None, detect_missing: bool = True) -> None:
    """Set ``lang``/``lang_source`` on every sentence that has no language from its file, in place.

    Args:
        sentences: sentences in file order (groups are consecutive sentences of one file and document).
        user_lang: the user's choice for these sentences, or None.
        detect_missing: detect languages where none is given; when False such sentences get ``und``.
    """
    todo = [s for s in sentences if s.lang_source not in EXPLICIT_SOURCES or s.lang in ("", UND)]
    if user_lang:
        code = normalize_code(user_lang)
        for s in todo:
            s.lang, s.lang_source = code, "user"
        return
    supported = supported_languages() if detect_missing else set()
    by_file: dict[str, list[Sentence]] = {}
    for s in todo:
        by_file.setdefault(s.source, []).append(s)
    for src, file_sents in by_file.items():
        hint = language_from_path(src) if src else None
        groups = list(_groups(file_sents))
        if hint and (hint not in supported or not detect_missing or _hint_confirmed(hint, groups)):
            for s in file_sents:
                s.lang, s.lang_source = hint, "filename"
            continue
        if not detect_missing:
            for s in file_sents:
                s.lang, s.lang_source = UND, "none"
            continue
        for group in groups:
            _detect_group(group)


def _hint_confirmed(hint: str, groups: list[list[Sentence]], probes: int = HINT_PROBES) -> bool:
    """True when most of up to ``probes`` evenly spread groups of a file are detected as the file name's
    language: the name is then trusted for the whole file (a Spanish file's Basque TV listings stay ``es``)."""
    if not groups:
        return False
    step = max(1, len(groups) // probes)
    picked = groups[::step][:probes]
    agree = sum(1 for g in picked if detect(_excerpt(g))[0] == hint)
    return agree * 2 > len(picked)


def _reliable(s: Sentence) -> bool:
    """A sentence long enough for langdetect to be trusted on its own (at least :data:`MIN_LETTERS` letters);
    one- to three-word sentences are often wrong (docs/PITFALLS.md: 12 of 18 right)."""
    return sum(1 for ch in sentence_text(s) if unicodedata.category(ch).startswith("L")) >= MIN_LETTERS


def _detect_group(group: list[Sentence]) -> None:
    """Detect one group's language. The group is checked against its first and last reliable sentence: when the
    group is unsure or a probe confidently says another language (a dominant language can swallow a minority one
    in a joint excerpt), every reliable sentence is detected on its own and the short ones keep the group's
    language."""
    code, prob = detect(_excerpt(group))
    mixed = prob < MIN_GROUP_PROB
    if not mixed and len(group) > 1:
        probes = [s for s in group if _reliable(s)]
        for s in {id(p): p for p in probes[:1] + probes[-1:]}.values():
            c, p = detect(sentence_text(s))
            if c != code and p >= MIN_GROUP_PROB:
                mixed = True
                break
    if not mixed or len(group) == 1:
        for s in group:
            s.lang, s.lang_source = code, "detected"
        return
    for s in group:
        text = sentence_text(s)
        if not _has_letters(text):
            s.lang, s.lang_source = UND, "detected"
            continue
        c, p = detect(text) if _reliable(s) else (UND, 0.0)
        s.lang, s.lang_source = (c if p >= MIN_GROUP_PROB or code == UND else code), "detected"
