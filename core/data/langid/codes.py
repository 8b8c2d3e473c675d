"""Language codes: one code system, normalised on read, language names for the UI, and file-name hints.

The studio's code for a language is its ISO 639-1 code where one exists (``es``, ``sw``, ``zh``), else its
ISO 639-3 code (``pcm``, ``luo``); ``und`` (ISO 639-2 "undetermined") when unknown. Every code read from a file,
a user, a file name or a detector goes through :func:`normalize_code`, so ``swa``, ``sw`` and ``sw-KE`` are one
language. Names come from the table below, then from CLD2's language table, then the code itself.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

UND = "und"

# ISO 639-2/3 codes, CoNLL-era file names and detector-specific codes -> the studio's code.
# Sources: ISO 639-2 B/T and 639-3 tables; ``no`` (Norwegian macrolanguage, what fastText's lid.176 and CLD2
# call Bokmål-dominated Wikipedia/web text) -> ``nb``; ``sh`` (Serbo-Croatian, deprecated) is kept apart;
# CLD2's ``iw``/``jw`` are old ISO codes of Hebrew/Javanese; Chinese variants and scripts -> ``zh``.
_TO_STUDIO = {
    "amh": "am", "hau": "ha", "ibo": "ig", "kin": "rw", "lug": "lg", "swa": "sw", "swh": "sw", "wol": "wo",
    "yor": "yo", "zul": "zu", "xho": "xh", "sna": "sn", "tsn": "tn", "twi": "tw", "aka": "ak", "ewe": "ee",
    "nya": "ny", "bam": "bm", "som": "so", "orm": "om", "tir": "ti", "lin": "ln", "kik": "ki", "run": "rn",
    "esp": "es", "spa": "es", "ned": "nl", "nld": "nl", "dut": "nl", "deu": "de", "ger": "de", "eng": "en",
    "fra": "fr", "fre": "fr", "por": "pt", "rus": "ru", "ukr": "uk", "ara": "ar", "zho": "zh", "chi": "zh",
    "cmn": "zh", "jpn": "ja", "kor": "ko", "hin": "hi", "tur": "tr", "fin": "fi", "dan": "da", "srp": "sr",
    "nob": "nb", "nno": "nn", "nor": "nb", "no": "nb", "ces": "cs", "cze": "cs", "pol": "pl", "hun": "hu",
    "slk": "sk", "slo": "sk", "swe": "sv", "est": "et", "lit": "lt", "lav": "lv", "hrv": "hr", "ron": "ro",
    "rum": "ro", "ita": "it", "ell": "el", "gre": "el", "heb": "he", "iw": "he", "jw": "jv", "in": "id",
    "ind": "id", "msa": "ms", "may": "ms", "vie": "vi", "tha": "th", "fas": "fa", "per": "fa", "urd": "ur",
    "ben": "bn", "tam": "ta", "tel": "te", "mar": "mr", "nep": "ne", "hye": "hy", "arm": "hy", "kat": "ka",
    "geo": "ka", "bul": "bg", "mkd": "mk", "mac": "mk", "bel": "be", "kaz": "kk", "cat": "ca", "eus": "eu",
    "baq": "eu", "glg": "gl", "slv": "sl", "isl": "is", "ice": "is", "afr": "af", "sqi": "sq", "alb": "sq",
    "zh-cn": "zh", "zh-tw": "zh", "zh-hant": "zh", "zh-hans": "zh", "yue": "zh", "wuu": "zh",
}
_NAMES = {
    "und": "undetermined", "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "bg": "Bulgarian", "bm": "Bambara",
    "bn": "Bengali", "ca": "Catalan", "cs": "Czech", "da": "Danish", "de": "German", "ee": "Ewe", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish",
    "fr": "French", "ha": "Hausa", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
    "hy": "Armenian", "id": "Indonesian", "ig": "Igbo", "it": "Italian", "ja": "Japanese", "ka": "Georgian",
    "ko": "Korean", "lg": "Luganda", "lt": "Lithuanian", "lv": "Latvian", "nb": "Norwegian Bokmål",
    "nn": "Norwegian Nynorsk", "nl": "Dutch", "ny": "Chichewa", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "rw": "Kinyarwanda", "sk": "Slovak", "sl": "Slovenian", "sn": "Shona",
    "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "th": "Thai", "tn": "Setswana", "tr": "Turkish",
    "tw": "Twi", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "wo": "Wolof", "xh": "Xhosa",
    "yo": "Yoruba", "zh": "Chinese", "zu": "Zulu", "pcm": "Nigerian Pidgin", "luo": "Dholuo", "mos": "Mossi",
    "fon": "Fon", "bbj": "Ghomálá'",
}
# Codes accepted from file names: ISO 639-1 codes, the 3-letter forms above and 639-3 codes without a 639-1
# form. Two-letter codes that are also common English words count only as a whole file or folder name.
_ISO1 = set("""af am ar az be bg bm bn br bs ca cs cy da de ee el en es et eu fa fi fr ga gl gu ha he hi hr hu hy
id ig is it ja jv ka kk km kn ko ku ky lg lo lt lv mg mk ml mn mr ms mt my nb ne nl nn ny pa pl ps pt rw ro ru
sd si sk sl sn so sq sr sv sw ta te tg th ti tl tn tr tw ug uk ur uz vi wo xh yo zh zu""".split())
_AMBIGUOUS_WORDS = {"to", "is", "in", "be", "me", "an", "as", "or", "so", "no", "it", "my", "am", "ha", "id",
                    "ms", "mt", "tw", "ku", "ky", "eu", "ga", "km", "mg", "sd", "si", "ti"}
_ISO3_ONLY = {"pcm", "luo", "mos", "fon", "bbj", "fil", "hsb", "bam", "ewe"}


@lru_cache(maxsize=4096)
def normalize_code(code: str | None) -> str:
    """The studio's code for ``code``: ISO 639-1 where one exists, else ISO 639-3; ``und`` for None/empty.

    ``zh-cn`` -> ``zh``, ``swa`` -> ``sw``, ``yor`` -> ``yo``, ``pt_BR`` -> ``pt``, ``pcm`` -> ``pcm``.
    A region or script subtag is dropped (``sw-KE`` -> ``sw``). Unknown codes come back lower-cased.
    """
    if not code:
        return UND
    c = code.strip().lower().replace("_", "-")
    if c in _TO_STUDIO:
        return _TO_STUDIO[c]
    if "-" in c:
        c = c.split("-", 1)[0]
    return _TO_STUDIO.get(c, c) or UND


@lru_cache(maxsize=None)
def _cld2_names() -> dict[str, str]:
    try:
        import pycld2
    except ImportError:  # names then fall back to the code itself
        return {}
    out: dict[str, str] = {}
    for name, code in pycld2.LANGUAGES:
        if code and not code.startswith(("xx", "zz")) and name and name != "Unknown":
            out.setdefault(normalize_code(code), name.replace("_", " ").title())
    return out


def language_name(code: str) -> str:
    """English name of a studio code for the UI (``sw`` -> ``Swahili``); the code itself when unknown."""
    c = normalize_code(code)
    return _NAMES.get(c) or _cld2_names().get(c) or c


def language_label(code: str) -> str:
    """``"sw · Swahili"``: code and name, as the pages show a language."""
    name = language_name(code)
    return code if name == code else f"{code} · {name}"


def language_from_path(path: str) -> str | None:
    """A language code named by the file name or one of its parent folders, or None (a *hint*, see
    :mod:`core.data.langid.decide`).

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
        if whole in _ISO1 or whole in _TO_STUDIO or whole in _ISO3_ONLY:
            if whole not in ("no", "in"):
                return normalize_code(whole)
        for part in re.split(r"[._\-\s\d]+", name.lower()):
            if not part or part in _AMBIGUOUS_WORDS:
                continue
            if part in _ISO1 or part in _ISO3_ONLY or (len(part) == 3 and part in _TO_STUDIO):
                return normalize_code(part)
    return None
