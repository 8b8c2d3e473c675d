"""The user's language decisions (the Data page's Languages panel), saved with a dataset and applied on load.

A decision is a plain dict, kept in order in the dataset manifest (``Manifest.lang_overrides``); a later one
wins over an earlier one for the sentences both touch::

    {"scope": "language",  "from": "swa", "lang": "sw"}           rename / merge: every ``swa`` sentence -> ``sw``
    {"scope": "file",      "file": "/abs/x.conll", "lang": "es"}  every sentence of that file
    {"scope": "file",      "file": "/abs/x.conll", "from": "und", "lang": "es"}   only its ``und`` sentences
    {"scope": "sentences", "sentences": [["/abs/x.conll", 12], ...], "lang": "nl"} sentences by (file, first line)

Sentences are named by their file and first line (``Sentence.source``, ``Sentence.line_start``), which stay the
same from one load of the same files to the next. A decided sentence gets ``lang_source = "user"`` (shown as
*given*). :func:`apply_overrides` is the one place these decisions are applied; ``core.runs.registry.load``
calls it before splits are assigned, so splits, sampling, per-language scores, Review filters and adapters all
see the corrected languages.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable, Sequence

from core.data.corpus import Sentence
from core.data.langid.codes import UND, language_label, normalize_code
from core.data.langid.decide import SOURCE_GROUPS, UndTally, sentence_text
from core.kernel.errors import ConfigError, Report

SCOPES = ("language", "file", "sentences")
GROUPS = ("given", "file", "script", "detected", "document", "und")
_CODE = re.compile(r"^[a-z]{2,3}$")


def check_code(code: str | None) -> str:
    """The studio's code for a language the user typed (``swa`` -> ``sw``, ``Es`` -> ``es``, ``und``).

    Raises:
        ConfigError: ``E202`` when it is not a 2- or 3-letter ISO 639 code after normalisation.
    """
    c = normalize_code(code)
    if not _CODE.match(c):
        raise ConfigError("E202", f"{code!r} is not a language code",
                          fix="Type an ISO 639-1 code (es, sw) or, for a language without one, ISO 639-3 (pcm, fon).")
    return c


def make_override(scope: str, lang: str, *, source_lang: str | None = None, file: str | None = None,
                  sentences: Iterable[tuple[str, int]] = ()) -> dict:
    """A checked decision dict (see the module docstring).

    Args:
        scope: ``language``, ``file`` or ``sentences``.
        lang: the language to set (normalised).
        source_lang: for ``language`` (required) and ``file`` (optional): only sentences now of this language.
        file: for ``file``: the sentence's ``source`` path.
        sentences: for ``sentences``: ``(source, line_start)`` pairs.

    Raises:
        ConfigError: ``E202`` for an unknown scope, a bad code, or a missing file / language / sentence.
    """
    new = check_code(lang)
    if scope == "language":
        if not source_lang:
            raise ConfigError("E202", "a rename or merge needs the language it applies to")
        old = normalize_code(source_lang)
        if old == new:
            raise ConfigError("E202", f"{language_label(old)} is already called {new!r}",
                              fix="Choose another language to rename or merge it into.")
        return {"scope": "language", "from": old, "lang": new}
    if scope == "file":
        if not file:
            raise ConfigError("E202", "a language for a file needs the file")
        out = {"scope": "file", "file": str(file), "lang": new}
        if source_lang:
            out["from"] = normalize_code(source_lang)
        return out
    if scope == "sentences":
        picked = sorted({(str(f), int(line)) for f, line in sentences})
        if not picked:
            raise ConfigError("E202", "no sentence selected", fix="Select at least one sentence.")
        return {"scope": "sentences", "sentences": [list(p) for p in picked], "lang": new}
    raise ConfigError("E202", f"unknown scope {scope!r} of a language decision", fix=f"Use one of {SCOPES}.")


def apply_overrides(sentences: Sequence[Sentence], overrides: Sequence[dict], report: Report | None = None,
                    ) -> int:
    """Apply the user's decisions in order, in place (``lang`` and ``lang_source = "user"``).

    Args:
        sentences: the loaded sentences (languages already assigned by :func:`core.data.langid.assign_languages`).
        overrides: decision dicts (see the module docstring), oldest first. Unknown scopes are skipped (a
            manifest written by a newer studio); each decision's code is normalised again.
        report: when given, its W110 warnings are recounted after the decisions (a resolved ``und`` sentence
            is no longer listed).

    Returns:
        How many sentence languages the decisions changed (a sentence changed twice counts twice).
    """
    changed = 0
    by_key: dict[tuple[str, int], list[Sentence]] | None = None
    for o in overrides:
        lang = normalize_code(o.get("lang"))
        scope = o.get("scope")
        if scope == "language":
            old = normalize_code(o.get("from"))
            hit: Iterable[Sentence] = (s for s in sentences if s.lang == old)
        elif scope == "file":
            old = normalize_code(o["from"]) if o.get("from") else None
            hit = (s for s in sentences if s.source == o.get("file") and (old is None or s.lang == old))
        elif scope == "sentences":
            if by_key is None:
                by_key = defaultdict(list)
                for s in sentences:
                    by_key[(s.source, s.line_start)].append(s)
            hit = (s for f, line in o.get("sentences", []) for s in by_key.get((str(f), int(line)), []))
        else:
            continue
        for s in hit:
            changed += s.lang != lang
            s.lang, s.lang_source = lang, "user"
    if report is not None and overrides:
        report.discard("W110")
        tally = UndTally()
        tally.add(sentences)
        tally.emit(report)
    return changed


def source_group(s: Sentence) -> str:
    """How the sentence's language was decided, as the UI groups it (:data:`SOURCE_GROUPS`)."""
    if s.lang == UND:
        return "und"
    return SOURCE_GROUPS.get(s.lang_source, "detected")


def language_panel(sentences: Sequence[Sentence], n_samples: int = 3) -> list[dict]:
    """One row per language for the Languages panel, most sentences first.

    Returns:
        dicts with ``lang`` (code), ``label`` (``"sw · Swahili"``), ``sentences`` (count), one count per group
        of :data:`GROUPS` (given / file / script / detected / document / und), ``files`` (how many files hold
        it) and ``samples``: up to ``n_samples`` sentences (:class:`Sentence`, evenly spread; the caller escapes
        them, e.g. :func:`core.ui.render.render_tokens`).
    """
    by_lang: dict[str, list[Sentence]] = defaultdict(list)
    for s in sentences:
        by_lang[s.lang].append(s)
    rows = []
    for lang, sents in sorted(by_lang.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        groups = Counter(source_group(s) for s in sents)
        step = max(1, len(sents) // max(1, n_samples))
        rows.append({"lang": lang, "label": language_label(lang), "sentences": len(sents),
                     **{g: groups.get(g, 0) for g in GROUPS}, "files": len({s.source for s in sents}),
                     "samples": sents[::step][:n_samples]})
    return rows


def sentence_choices(sentences: Sequence[Sentence], lang: str, limit: int = 500) -> dict[tuple[str, int], str]:
    """``(source, line_start)`` -> a short plain-text label (``file:line · first words``) of the sentences of
    ``lang``, at most ``limit``, for a selection widget (plain text: the widget escapes it)."""
    out: dict[tuple[str, int], str] = {}
    for s in sentences:
        if s.lang != lang:
            continue
        text = sentence_text(s)
        short = text if len(text) <= 80 else text[:77] + "..."
        out[(s.source, s.line_start)] = f"{s.source.rsplit('/', 1)[-1]}:{s.line_start} · {short}"
        if len(out) >= limit:
            break
    return out


def describe(o: dict) -> str:
    """One line of plain text for a saved decision (``sw · Swahili <- swa`` ...)."""
    lang = language_label(normalize_code(o.get("lang")))
    scope = o.get("scope")
    if scope == "language":
        return f"{language_label(normalize_code(o.get('from')))} -> {lang}"
    if scope == "file":
        only = f" ({language_label(normalize_code(o['from']))} sentences)" if o.get("from") else ""
        return f"file {str(o.get('file', '')).rsplit('/', 1)[-1]}{only} -> {lang}"
    if scope == "sentences":
        return f"{len(o.get('sentences', []))} selected sentence(s) -> {lang}"
    return f"unknown decision {scope!r}"
