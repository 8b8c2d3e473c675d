"""Build ``core/data/langid/alphabets.json``: each language's letters, from CLDR's exemplar characters.

CLDR (the Unicode Common Locale Data Repository) lists, per locale, the characters a language's ordinary text
uses (``exemplarCharacters``), those that appear in loanwords and foreign names (``auxiliary``) and the letters
of its index (``index``). No PyPI package exposes them (Babel does not load them; PyICU has no wheel), so the
studio vendors them: :mod:`core.data.langid.alphabets` reads the JSON this script writes.

Source: the npm package ``cldr-misc-full`` (the Unicode Consortium's JSON build of CLDR; Unicode License v3),
fetched with ``npm pack cldr-misc-full@48.2.0 && tar xzf cldr-misc-full-48.2.0.tgz``.

Per language (a locale without a region: ``sr``, ``sr-Latn``, ``az-Cyrl`` all go to ``sr`` / ``az``), the
union of its three sets, lower-cased and decomposed (NFKD), so ``ẹ́`` is ``e`` + U+0323 + U+0301 and a text in
either normal form is checked letter by letter and mark by mark. Languages whose set exceeds
:data:`MAX_CHARS` (Chinese, Japanese, Yi: thousands of ideographs) are left out: their script decides them.

Usage:
    python scripts/build_alphabets.py --cldr /tmp/cldr/package
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from pathlib import Path

MAX_CHARS = 400
# Codes the language-id backends use for a written language CLDR files under another code (or several):
# fastText's ``tl`` is the standard CLDR calls Filipino, ``sh`` (Serbo-Croatian) is written as Serbian, Croatian
# or Bosnian, ``als`` is Alemannic (CLDR ``gsw``), ``arz`` Egyptian Arabic, ``azb`` South Azerbaijani (CLDR
# ``az-Arab``), ``pnb`` Western Punjabi (CLDR ``pa-Arab``), ``gom`` Goan Konkani (CLDR ``kok``); the studio's
# ``tw`` (Twi, MasakhaNER's code) is written as CLDR's ``ak`` (Akan, whose standard Twi is).
ALIASES = {"tl": ("fil",), "sh": ("sr", "hr", "bs"), "als": ("gsw",), "arz": ("ar",), "azb": ("az",),
           "pnb": ("pa",), "gom": ("kok",), "tw": ("ak",)}
KEYS = ("exemplarCharacters", "auxiliary", "index")
OUT = Path(__file__).resolve().parents[1] / "core" / "data" / "langid" / "alphabets.json"


def parse_unicode_set(text: str) -> set[str]:
    """The strings of a CLDR exemplar set: ``[a á b {gb} \\- c-f]`` -> ``{"a", "á", "b", "gb", "-", "c", ...}``.

    Supports what CLDR's exemplar sets use (UTS #35, "Exemplars"): single characters, ``{multi}`` strings,
    ``x-y`` ranges, and ``\\`` escapes (``\\-``, ``\\uXXXX``, ``\\UXXXXXXXX``).

    Raises:
        ValueError: when ``text`` is not a bracketed set.
    """
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError(f"not a CLDR exemplar set: {text[:40]!r}")
    body, out, i, prev = text[1:-1], set(), 0, None

    def char_at(k: int) -> tuple[str, int]:
        if body[k] != "\\":
            return body[k], k + 1
        if body[k + 1] == "u":
            return chr(int(body[k + 2:k + 6], 16)), k + 6
        if body[k + 1] == "U":
            return chr(int(body[k + 2:k + 10], 16)), k + 10
        return body[k + 1], k + 2

    while i < len(body):
        c = body[i]
        if c == " ":
            i += 1
        elif c == "{":  # a multi-character string; escapes inside are unescaped (``{a\\:}``, ``{s\\-c}``)
            i, chars = i + 1, []
            while body[i] != "}":
                ch, i = char_at(i)
                chars.append(ch)
            out.add("".join(chars))
            prev, i = None, i + 1
        elif c == "-" and prev is not None and i + 1 < len(body):
            end, i = char_at(i + 1)
            out.update(chr(k) for k in range(ord(prev), ord(end) + 1))
            prev = None
        else:
            ch, i = char_at(i)
            out.add(ch)
            prev = ch
    return out


def alphabet(characters: dict) -> set[str]:
    """Lower-cased NFKD characters (letters and combining marks) of a locale's exemplar, auxiliary and index sets."""
    chars: set[str] = set()
    for key in KEYS:
        for item in parse_unicode_set(characters.get(key, "[]")):
            for ch in unicodedata.normalize("NFKD", item.lower()):
                if ch.isalpha() or unicodedata.category(ch).startswith("M"):
                    chars.add(ch)
    return chars


def language_of(locale: str) -> str | None:
    """``sr-Latn`` -> ``sr``; a locale with a region (``en-GB``, ``sr-Latn-BA``) -> None (variants of the base)."""
    parts = locale.split("-")
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2 and len(parts[1]) == 4 and parts[1][0].isupper():
        return parts[0]
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cldr", required=True, help="the unpacked cldr-misc-full package (holds main/)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    root = Path(args.cldr)
    version = json.loads((root / "package.json").read_text(encoding="utf-8"))["version"]
    merged: dict[str, set[str]] = {}
    for loc_dir in sorted((root / "main").iterdir()):
        lang = language_of(loc_dir.name)
        if lang is None or lang == "root":
            continue
        data = json.loads((loc_dir / "characters.json").read_text(encoding="utf-8"))
        merged.setdefault(lang, set()).update(alphabet(data["main"][loc_dir.name]["characters"]))
    for alias, sources in ALIASES.items():
        merged.setdefault(alias, set()).update(*(merged.get(src, set()) for src in sources))
    languages = {lang: "".join(sorted(chars)) for lang, chars in sorted(merged.items())
                 if chars and len(chars) <= MAX_CHARS}
    doc = {"source": f"CLDR exemplar characters (npm cldr-misc-full {version}; Unicode License v3): exemplar, "
                     "auxiliary and index sets, lower-cased, NFKD; script variants of a language merged",
           "languages": languages}
    Path(args.out).write_text(json.dumps(doc, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(languages)} languages -> {args.out}")


if __name__ == "__main__":
    main()
