"""The decision rule: one language per sentence, or ``und`` when the evidence is not good enough.

For one sentence, first that applies wins (``Sentence.lang_source`` says which):

1. **given** (``field``, ``comment``, ``user``): a JSON ``lang`` field or CoNLL-U ``# lang`` comment of the file,
   or the user's language for the file (``--lang``, the upload option, the Languages panel), which applies to
   every sentence of that file.
2. **script**: the Unicode script of the sentence's letters (:mod:`core.data.langid.script`) when only one
   language uses it (Hangul -> ``ko``, kana -> ``ja``, Han alone -> ``zh``, Greek, Armenian, Thai ...).
   Otherwise the script's languages are the candidates (Cyrillic -> ru, uk, bg, sr ...; Latin -> every Latin-
   script language a detector knows).
3. **detected**: the backends (:mod:`core.data.langid.backends`, default fastText lid.176 + CLD2, chosen by
   ``bench/langid_accuracy.py``) each propose their best candidate, on casing-normalised text (ALL CAPS is
   lower-cased: detectors read capitals as German). A language ``L`` is accepted when at least one backend
   that knows ``L`` *supports* it (proposes it with probability >= its ``support`` threshold), every other
   backend that knows ``L`` is *clueless* (its best answer, whatever the language, is below its ``clueless``
   threshold), and no backend that does not know ``L`` is *sure* of another language (>= ``veto``). So two
   detectors that disagree, or one that knows the language and hesitates (Serbian vs Croatian), give no
   answer, and a language only one detector has (Hausa, Wolof in CLD2) is accepted on that detector alone.
   Sentences with fewer than :data:`MIN_LETTERS` letters, or fewer outside capitalised words
   (:func:`evidence_letters`: names and numbers carry no language), are not detected (one- to three-word
   inputs are mostly wrong, docs/PITFALLS.md). On a text of :data:`SILENCE_LETTERS` evidence letters or more,
   CLD2 answering nothing at all vetoes the languages it knows (:data:`SILENCE_VETO`): the text is likely a
   language no backend has. When no language is accepted so, a backend *sure* of ``L`` decides if the others
   rank ``L`` first or second while hesitating, outside close languages (:data:`CLOSE_GROUPS`;
   ``LanguageIdentifier._sure_and_second``). When the backends split between close languages (fastText reads
   much Bokmål as Danish), a referee (Lingua, :data:`REFEREE`) scores the contenders and decides with one of
   the backends, two of three (``LanguageIdentifier._referee``). Last, the words only some close standards use
   (:mod:`core.data.langid.standards`: ekavian ``vreme`` is Serbian, ``tijekom`` Croatian, ``hva`` Bokmål,
   ``ikkje`` Nynorsk, ``dey``/``wetin`` Nigerian Pidgin, which every backend reads as English) settle or
   overrule a decision inside such a group, or make it ``und`` when they rule it out (:func:`_standard`); and a
   decision whose language does not write the letters of the sentence's words (:mod:`core.data.langid.alphabets`,
   CLDR's exemplar characters, Latin script: Fon ``ɛ ɔ ɖ`` are no Yoruba letters) is ``und``, the language
   ruled out.
4. Sentences left undecided (and sentences without letters) take, in this order, when its script allows it:
   **document**: the language of their document (``-DOCSTART-``, ``# newdoc``, a document id: the language of
   at least 60% of its decided sentences, at least 2), or, in files without documents whose languages come
   in runs (:func:`_files_in_runs`: not a shuffled mix), the language of a run of decided neighbours that
   agree (the two nearest decided or stated sentences on each side, within :data:`NEIGHBOUR_SPAN`:
   :func:`_neighbour_languages`); **filename/prefix**: the file's hint (file name, folder, ``xx:`` prefixes) when the
   decided sentences of the file confirm it (at least :data:`HINT_CONFIRM` of them) or no backend knows the
   hinted language; **detected** again, restricted to the corpus's languages (found in at least
   :data:`PRIOR_MIN_SHARE` of the decided sentences, or hinted/given) with relaxed thresholds; then the
   **corpus prior** (:func:`_prior_pass`): fastText's distribution restricted to the corpus's main languages of
   the sentence's script, renormalised, decides at :data:`PRIOR_POSTERIOR` (a few letters tell Spanish from
   Dutch, not from 175 other languages), unless the script's long sentences are often undecided (a language no
   backend knows is likely present); then **document** again for a whole run of lines without evidence of
   their own (a results table, datelines) between two such agreeing pairs, when no line of the run holds words
   that could tell another language (:func:`_run_languages`); else ``und`` with a W110 warning naming the
   sentences. No step gives a sentence a language its marked words or its letters rule out (:func:`_excluded`),
   and in a file where they rule out the backends' ``L`` often (:func:`_suspect_languages`: Pidgin read as
   English, Fon as Yoruba) no sentence of it takes ``L`` except from the file's hint.

Hints never override confident text evidence. They break ties: in a file whose detected sentences confirm its
hint (or for ``xx:`` prefixes), a detection below :data:`STRONG` gives way to the hint. A hint naming a
language no backend knows wins unless every backend proposes the detected language with at least
:data:`STRONG` (the detectors cannot vote for a language they lack, so a weak vote for a neighbour language is no
evidence against the hint).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Sequence

from core.data.corpus import Sentence
from core.data.langid import alphabets, standards
from core.data.langid.backends import get_backend, known_languages
from core.data.langid.codes import UND, language_from_path, normalize_code
from core.data.langid.script import (letters, script_candidates, script_counts, script_of_language,
                                     sentence_script, word_of)
from core.kernel.errors import Report, StudioError

log = logging.getLogger(__name__)
_MISSING_REFEREE: set[str] = set()

DEFAULT_BACKENDS = ("fasttext", "cld2")
# The referee between close languages (LanguageIdentifier._referee): its best language among the contenders
# must reach REFEREE_SURE (calibrated on bench samples other than the benchmark's, see the method).
REFEREE = "lingua"
REFEREE_SURE = 0.7
MIN_LETTERS = 12
NEIGHBOUR_SPAN = 4
HINT_CONFIRM = 0.8
PRIOR_MIN_SHARE = 0.005
STRONG = 0.9
MARKS_CONFIDENCE = STRONG  # a standard told by its marked words (core.data.langid.standards)
# Per backend: support (>= proposes L), clueless (< best answer ignored), veto (>= blocks a language it lacks).
# Calibrated on the shared corpora with bench/langid_accuracy.py (see README "Languages").
THRESHOLDS = {
    "fasttext": {"support": 0.5, "clueless": 0.25, "veto": 0.9},
    "cld2": {"support": 0.7, "clueless": 0.5, "veto": 0.95},
    "langdetect": {"support": 0.9, "clueless": 0.6, "veto": 0.999},
    # Lingua is the referee of the default rule; as a voter (LanguageIdentifier(backends=...)) not calibrated
    "lingua": {"support": 0.7, "clueless": 0.4, "veto": 0.95},
}
SCORE_CACHE = 200_000  # texts whose backend answers are kept (per backend)
# Screening by the cheap backend (LanguageIdentifier.decide_many); measured with bench/inspect_speed.py.
SCREEN_MIN = 600
SCREEN_SAMPLE = 300
SCREEN_SURE = 0.9
SCREEN_CALIBRATE = 20
SCREEN_PRECISION = 0.98
# A backend of SILENCE_VETO that answers nothing on a text of SILENCE_LETTERS evidence letters or more vetoes
# the languages it knows (CLD2 answers on any long text in one of its languages; fastText always answers).
SILENCE_VETO = ("cld2",)
SILENCE_LETTERS = 20
# Languages that detectors confuse with each other (dialect continua and standard varieties of one language);
# a split vote inside a group is not settled by one sure backend (LanguageIdentifier._sure_and_second).
CLOSE_GROUPS = (frozenset({"sr", "hr", "bs", "sh", "me", "cnr"}), frozenset({"nb", "nn", "da", "no", "sv"}),
                frozenset({"cs", "sk"}), frozenset({"id", "ms"}), frozenset({"zu", "xh", "nr", "ss"}),
                frozenset({"es", "gl", "pt", "ca", "ast"}), frozenset({"ru", "uk", "be"}), frozenset({"bg", "mk"}),
                frozenset({"fa", "tg"}), frozenset({"hi", "mr", "ne"}), frozenset({"af", "nl"}))
CLOSE_RATIO = 0.75  # ... and when its own top L has a close language at >= this share of its probability
SECOND_RANK = 2  # _sure_and_second: the language must be among the other backends' first two choices
RELAXED = 0.6  # support thresholds times this in the corpus-restricted second pass
# The corpus-prior pass for short sentences (LanguageIdentifier.decide_in_prior, assign_languages).
PRIOR_PASS_MIN_COUNT = 5  # a language takes part when at least this many sentences were decided as it ...
PRIOR_PASS_MIN_SHARE = 0.02  # ... and at least this share of the decided sentences
PRIOR_PASS_MIN_LETTERS = 4
PRIOR_POSTERIOR = 0.9  # fastText's probability renormalised over the corpus languages of the script
PRIOR_TOP_RANK = 3  # ... and the language among fastText's first answers over all its languages
RUN_AGAINST = 0.5  # a short line of a run speaks against L when fastText gives another language this much
# Neighbours are evidence only in a file whose languages come in runs (_files_in_runs): on the sentences its text
# decided, the neighbour rule itself, each sentence left out in turn, is right at least NEIGHBOUR_PRECISION of
# the time over at least PERSIST_MIN_CASES sentences; a file of PERSIST_SMALL or more such sentences with fewer
# cases is a shuffled mix (neighbours seldom agree); a smaller one is too small to tell and counts as in runs.
NEIGHBOUR_PRECISION = 0.95
PERSIST_MIN_CASES = 10
PERSIST_SMALL = 20
# A file where the marked words rule out L in at least RULED_OUT_SHARE of the sentences the backends read as L
# (and RULED_OUT_MIN of them) holds a language the backends take for L: its other L sentences are und too.
RULED_OUT_SHARE = 0.25
RULED_OUT_MIN = 5
UNEXPLAINED_MAX = 0.1  # share of a script's long sentences left undecided above which the pass is off
GIVEN_SOURCES = ("field", "comment", "user")
HINT_SOURCES = ("filename", "prefix")
# How the UI groups sources: given / file / script / detected / document / und.
SOURCE_GROUPS = {"field": "given", "comment": "given", "user": "given", "filename": "file", "prefix": "file",
                 "script": "script", "detected": "detected", "prior": "detected", "document": "document",
                 "none": "und"}


@dataclass(frozen=True)
class Decision:
    """The language of one text on its own.

    Attributes:
        lang: the studio's code, or ``und``.
        source: ``script``, ``detected``, ``prior`` (:meth:`LanguageIdentifier.decide_in_prior`) or ``none``
            (abstained).
        confidence: the lowest supporting backend probability in [0, 1] (1.0 for script); 0.0 when abstained.
        script: the sentence's script (``LATIN``, ``HAN``...), None without letters.
        candidates: languages the script allows.
        reason: why it abstained (``no letters``, ``too few letters``, ``backends disagree``...), or ``""``.
        ruled_out: the language the backends decided and the text's marked words or letters ruled out
            (:func:`_standard`: English for a Naija sentence; :func:`alphabets.rules_out`: Yoruba for a Fon
            sentence), or ``""``.
    """

    lang: str
    source: str
    confidence: float
    script: str | None
    candidates: frozenset
    reason: str = ""
    ruled_out: str = ""


def normalise_case(text: str) -> str:
    """Lower-case text written mostly in capitals (``GOLF - LEADER SLIPS ...``); other text is unchanged."""
    up = sum(map(str.isupper, text))
    if up and up > sum(map(str.islower, text)):
        return text.lower()
    return text


@lru_cache(maxsize=SCORE_CACHE)  # asked several times per sentence (gates, runs, the prior pass)
def evidence_letters(norm: str) -> int:
    """Letters that carry language evidence: those of words not starting with a capital (after
    :func:`normalise_case`). Names are most of the capitalised words of NER data, and detectors read a line of
    names and numbers (``Bart Eeckhout``, ``Madrid , 23 may ( EFE ) .``) as whatever language the names sound
    like. Nor do codes count: a token that, without its leading and trailing punctuation, holds anything but
    letters, combining marks and word-internal apostrophes or hyphens (``fr/jap/lmpg/``, ``ES/rb2305001858``,
    ``6h``) is an identifier of a news agency or a table, not a word of a language. In scripts without case every
    letter counts; the Han weighting of :func:`letters` is not applied (case-less scripts are mostly decided by
    script, or counted here per character)."""
    if norm.islower() or not any(map(str.isupper, norm)):
        return sum(map(str.isalpha, norm))
    n = 0
    for token in norm.split():
        w = token if token.isalpha() else word_of(token)  # most tokens are plain words: no per-character work
        if w and not w[0].isupper():
            n += len(w) if w is token else sum(map(str.isalpha, w))
    return n


def sentence_text(s: Sentence) -> str:
    """The sentence as running text: its raw text when known; tokens joined without spaces when the corpus is
    tokenised per character (Chinese MSRA/Weibo/Resume, KLUE Korean), otherwise joined by spaces."""
    if s.text is not None:
        return s.text
    toks = s.tokens
    if len(toks) >= 3 and sum(map(len, toks)) <= 1.2 * len(toks):
        return "".join(toks)
    return " ".join(toks)


class LanguageIdentifier:
    """Applies the module's rule with a chosen set of backends.

    Args:
        backends: backend names (:data:`core.data.langid.backends.BACKENDS`), default fastText + CLD2.
        referee: the backend that settles a split between close languages (:meth:`_referee`), or None.

    Raises:
        StudioError: E204 when a backend's package is missing. A missing referee is not an error: the
            identifier works without it (a logged warning says so).
    """

    def __init__(self, backends: Sequence[str] = DEFAULT_BACKENDS, referee: str | None = REFEREE) -> None:
        self.names = tuple(backends)
        self.backends = [get_backend(n) for n in self.names]
        self.referee = None
        if referee and len(self.backends) >= 2:
            try:
                self.referee = get_backend(referee)
            except StudioError as exc:
                # the rule still works without it (splits between close languages stay und): say so once
                # per process in the log, not on every identifier
                if referee not in _MISSING_REFEREE:
                    _MISSING_REFEREE.add(referee)
                    log.warning("%s; splits between close languages stay und", exc)
        self.known = known_languages(self.names)
        # the cheapest backend screens sentences when a file's sample shows it agrees with the full rule
        self.cheap = min(range(len(self.backends)), key=lambda i: self.backends[i].cost) if self.backends else None
        # fastText's full distribution serves the corpus prior (decide_in_prior) and ranks()
        self.fasttext = next((i for i, b in enumerate(self.backends) if b.name == "fasttext"), None)
        self._scores: list[dict[str, list]] = [{} for _ in self.backends]

    def scores(self, i: int, norm: str) -> list[tuple[str, float]]:
        """Backend ``i``'s ranked answers for the case-normalised text (cached per text, bounded)."""
        cache = self._scores[i]
        got = cache.get(norm)
        if got is None:
            if len(cache) >= SCORE_CACHE:
                cache.clear()
            got = cache[norm] = self.backends[i].scores(norm, k=8)
        return got

    def prepare(self, text: str, allowed: frozenset | set | None = None) -> Decision | tuple:
        """The decision when no detector is needed (script decides, no letters, too few letters...), else
        ``(script, candidates, normalised text)`` for the detectors."""
        counts = script_counts(text)
        script = sentence_script(counts)
        if script is None:
            return Decision(UND, "none", 0.0, None, frozenset(), "no letters")
        known = self.known if not allowed else self.known | frozenset(allowed)
        cands = script_candidates(script, known)
        if allowed is not None:
            cands = cands & frozenset(allowed)
        if not cands:
            return Decision(UND, "none", 0.0, script, cands, "no known language uses this script")
        if len(cands) == 1 and allowed is None:
            return Decision(next(iter(cands)), "script", 1.0, script, cands)
        if letters(counts) < MIN_LETTERS:
            return Decision(UND, "none", 0.0, script, cands, "too few letters")
        norm = normalise_case(text)
        if evidence_letters(norm) < MIN_LETTERS:
            return Decision(UND, "none", 0.0, script, cands, "too few letters outside names")
        return script, cands, norm

    def top(self, i: int, norm: str, cands: frozenset) -> tuple[str, float] | None:
        """Backend ``i``'s best answer among ``cands``, or None."""
        return next(((c, p) for c, p in self.scores(i, norm) if c in cands), None)

    def decide(self, text: str, allowed: frozenset | set | None = None, relaxed: bool = False) -> Decision:
        """The language of ``text`` alone (no hint, no neighbours).

        Args:
            text: the sentence.
            allowed: when given, candidates are restricted to these languages (the corpus prior).
            relaxed: use the second-pass support thresholds (times :data:`RELAXED`).
        """
        prep = self.prepare(text, allowed)
        if isinstance(prep, Decision):
            return prep
        script, cands, norm = prep
        tops = [self.top(i, norm, cands) for i in range(len(self.backends))]
        silent = None
        if evidence_letters(norm) >= SILENCE_LETTERS:  # which backends answered nothing at all
            silent = [not self.scores(i, norm) for i in range(len(self.backends))]
        lang, conf = self._combine(tops, relaxed, silent)
        if relaxed and lang != UND and self._hesitates(norm, cands, lang):
            # the lowered thresholds would settle a hesitation between close languages (hr 0.31, sr 0.29)
            # that the first pass and its referee left open
            lang, conf = UND, 0.0
        if lang == UND and not relaxed:
            lang, conf = self._sure_and_second(norm, cands, tops, silent)
        if lang == UND and not relaxed:
            lang, conf = self._referee(norm, script, cands, tops)
        read, (lang, conf) = lang, _standard(norm, cands, lang, conf, tops)
        if lang == UND and read != UND:
            return Decision(UND, "none", 0.0, script, cands, f"words that {read} does not use", read)
        if lang != UND and alphabets.rules_out(norm, lang):
            return Decision(UND, "none", 0.0, script, cands, f"letters that {lang} does not write", lang)
        if lang == UND:
            return Decision(UND, "none", 0.0, script, cands, "backends unsure or disagree")
        return Decision(lang, "detected", conf, script, cands)

    def decide_many(self, texts: Sequence[str], files: Sequence[str]) -> list[Decision]:
        """:meth:`decide` for each text, screening with the cheapest backend where that is safe.

        Per file of more than :data:`SCREEN_MIN` sentences, an evenly spaced sample of :data:`SCREEN_SAMPLE`
        sentences is decided in full; a language ``L`` is *screenable* in that file when the cheap backend was
        sure of ``L`` (>= :data:`SCREEN_SURE`) on at least :data:`SCREEN_CALIBRATE` sample sentences and the full
        rule agreed on at least :data:`SCREEN_PRECISION` of them. Every other sentence is then read by the
        cheap backend; it takes ``L`` when the cheap backend is sure of a screenable ``L``, and the full rule
        otherwise. So each sentence still gets its own language (a Dutch sentence in a Spanish file is not
        screened as Spanish), and the expensive backend runs only where the cheap one is unsure or answers a
        language it was not shown to agree on. A screened answer that the marked words of close standards
        contradict or narrow (:func:`_standard`) gets the full rule. Identical texts are decided once.

        Args:
            texts: the sentences' running text.
            files: each sentence's file (same length).

        Returns:
            One :class:`Decision` per text.
        """
        out: list[Decision | None] = [None] * len(texts)
        memo: dict[str, Decision] = {}

        def full(i: int) -> Decision:
            d = memo.get(texts[i])
            if d is None:
                d = memo[texts[i]] = self.decide(texts[i])
            return d

        by_file: dict[str, list[int]] = defaultdict(list)
        for i, f in enumerate(files):
            by_file[f].append(i)
        for idx in by_file.values():
            if self.cheap is None or len(self.backends) < 2 or len(idx) <= SCREEN_MIN:
                for i in idx:
                    out[i] = full(i)
                continue
            step = len(idx) / SCREEN_SAMPLE
            sample = {idx[int(k * step)] for k in range(SCREEN_SAMPLE)}
            tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for i in sample:
                d = out[i] = full(i)
                if d.source != "detected" and d.reason != "backends unsure or disagree":
                    continue
                prep = self.prepare(texts[i])
                t = self.top(self.cheap, prep[2], prep[1])
                if t and t[1] >= SCREEN_SURE:
                    tally[t[0]][0] += 1
                    tally[t[0]][1] += d.lang == t[0]
            screen = {lang for lang, (n, ok) in tally.items() if n >= SCREEN_CALIBRATE and ok >= SCREEN_PRECISION * n}
            for i in idx:
                if out[i] is not None:
                    continue
                if texts[i] in memo:
                    out[i] = memo[texts[i]]
                    continue
                prep = self.prepare(texts[i])
                if isinstance(prep, Decision):
                    out[i] = memo[texts[i]] = prep
                    continue
                script, cands, norm = prep
                t = self.top(self.cheap, norm, cands) if screen else None
                # a screened answer stands only where the marked words of close standards agree with it
                if (t and t[1] >= SCREEN_SURE and t[0] in screen and _standard(norm, cands, *t, [t]) == t
                        and not alphabets.rules_out(norm, t[0])):
                    out[i] = memo[texts[i]] = Decision(t[0], "detected", t[1], script, cands)
                else:
                    out[i] = full(i)
        return out  # type: ignore[return-value]

    def _combine(self, tops: list[tuple[str, float] | None], relaxed: bool,
                 silent: list[bool] | None = None) -> tuple[str, float]:
        best = (UND, 0.0)
        for lang in {t[0] for t in tops if t}:
            support: list[float] = []
            ok = True
            for k, (b, top) in enumerate(zip(self.backends, tops)):
                th = THRESHOLDS[b.name]
                need = th["support"] * (RELAXED if relaxed else 1.0)
                p = top[1] if top else 0.0
                if lang in b.languages:
                    if top and top[0] == lang and p >= need:
                        support.append(p)
                    elif p >= th["clueless"]:
                        ok = False  # it knows the language and answers something else, or hesitates
                    elif silent is not None and silent[k] and b.name in SILENCE_VETO:
                        # no answer at all on a long text: it recognises no language it knows (a language no
                        # backend has, such as Fon read as Italian by the other one)
                        ok = False
                elif p >= th["veto"]:
                    ok = False
            if ok and support and min(support) > best[1]:
                best = (lang, min(support))
        return best

    def _hesitates(self, norm: str, cands: frozenset, lang: str) -> bool:
        """Whether a backend ranks, among its first three answers in ``cands``, a language close to ``lang``
        (:data:`CLOSE_GROUPS`) at :data:`CLOSE_RATIO` or more of its probability for ``lang`` (hr 0.31 against sr
        0.29). Counting close languages outside ``cands`` too (fastText's ``sh``) cost 0.010 right for 0.000-0.001
        less wrong on bench/langid_accuracy.py (8+ words, seeds 0-2), so it is not done."""
        for i in range(len(self.backends)):
            ranked = [(c, p) for c, p in self.scores(i, norm) if c in cands][:3]
            p_lang = next((p for c, p in ranked if c == lang), None)
            if p_lang is None:
                continue
            if any(c != lang and close(c, lang) and p >= CLOSE_RATIO * p_lang for c, p in ranked):
                return True
        return False

    def _sure_and_second(self, norm: str, cands: frozenset, tops: list[tuple[str, float] | None],
                         silent: list[bool] | None) -> tuple[str, float]:
        """A backend *sure* of ``L`` (>= its ``veto`` threshold) decides when every other backend that knows
        ``L`` ranks ``L`` among its first :data:`SECOND_RANK` candidates and either proposes ``L`` itself (below
        its support threshold: it hesitates, e.g. fastText on nb vs da) or proposes, below its support
        threshold, a language outside ``L``'s group of close languages (:data:`CLOSE_GROUPS`; fastText on a
        Yoruba text between ga and yo); and no backend that lacks ``L`` is sure of another. Between two close
        languages (sr/hr/bs, nb/da/nn, cs/sk, zu/xh) a split vote stays a disagreement: measured on the shared
        corpora, a sure CLD2 was wrong about one time in four there. Returns ``(und, 0.0)`` otherwise."""
        for k, (b, top) in enumerate(zip(self.backends, tops)):
            if not top or top[1] < THRESHOLDS[b.name]["veto"]:
                continue
            lang = top[0]
            ok = True
            for j, (o, otop) in enumerate(zip(self.backends, tops)):
                if j == k:
                    continue
                th = THRESHOLDS[o.name]
                if lang in o.languages:
                    ranked = [c for c, _ in self.scores(j, norm) if c in cands][:SECOND_RANK]
                    if not otop or lang not in ranked:
                        ok = False  # silent, or L not among its first choices
                    elif otop[0] != lang and (otop[1] >= th["support"] or close(otop[0], lang)):
                        ok = False  # it supports another language, or splits between two close ones
                    elif otop[0] == lang and any(close(c, lang) and p >= CLOSE_RATIO * otop[1]
                                                 for c, p in self.scores(j, norm)[1:3] if c in cands):
                        ok = False  # it hesitates between L and a close language (hr 0.28, sr 0.27)
                elif otop and otop[1] >= th["veto"]:
                    ok = False
            if ok:
                return lang, top[1]
        return UND, 0.0

    def _referee(self, norm: str, script: str, cands: frozenset,
                 tops: list[tuple[str, float] | None]) -> tuple[str, float]:
        """A third opinion where the backends split between close languages, or agree on one too weakly.

        When every backend proposes a candidate and all the proposals lie in one group of :data:`CLOSE_GROUPS`
        (fastText da 0.59 vs CLD2 nb 0.98 on Bokmål; both hr below support), the *contenders* are those
        proposals and the group's languages among each backend's first :data:`SECOND_RANK` candidates. The
        referee (:data:`REFEREE`, Lingua) scores the contenders when it has a model for each of them in the
        sentence's script (Lingua's Serbian is Cyrillic, so a Latin-script split involving Serbian stays
        ``und``: it would always answer Croatian or Bosnian); its best language is accepted when it reaches
        :data:`REFEREE_SURE` and is one of the backends' proposals: two of three agree. Outside close groups
        the referee is not asked: a language no backend knows (Fon) reads as Yoruba to CLD2 and Lingua alike.
        fastText's ``sh`` (Serbo-Croatian, the macrolanguage) is a contender Lingua has no model for, so a split
        that fastText ranks ``sh`` in stays ``und`` too. That is kept on purpose: ``sh`` covers Serbian, which
        Lingua cannot see in Latin script. Measured on the first 1,500 sentences of hr500k and SETimes.SR (dev):
        with ``sh`` removed from fastText's answers, of the sentences the backends read, hr500k (231) got 21 more
        right and 5 more wrong (Bosnian), SETimes.SR (536) 38 more right and 15 more wrong (Croatian, Bosnian).

        Calibrated on bench/langid_accuracy.py's samples for seeds 1 and 2 (the benchmark runs seed 0): of the
        sentences this settled, 0.7 kept the wrong ones to about 1 in 30 (a Latin-script Serbian sentence
        that both backends read as Bosnian/Croatian), 0.5 let through da/nb/nn swaps.

        Returns:
            ``(language, the referee's confidence)`` or ``(und, 0.0)``.
        """
        if self.referee is None or not tops or any(t is None for t in tops):
            return UND, 0.0
        named = {t[0] for t in tops}
        group = next((g for g in CLOSE_GROUPS if named <= g), None)
        if group is None:
            return UND, 0.0
        contenders = set(named)
        for i in range(len(self.backends)):
            ranked = [c for c, _ in self.scores(i, norm) if c in cands][:SECOND_RANK]
            contenders |= set(ranked) & group
        if len(contenders) < 2 or not contenders <= self.referee.languages_in_script(script):
            return UND, 0.0
        lang, p = self.referee.scores_among(norm, frozenset(contenders))[0]
        if p < REFEREE_SURE or lang not in named:
            return UND, 0.0
        return lang, p

    def decide_in_prior(self, text: str, prior: frozenset | set) -> Decision:
        """The language of an undecided ``text`` among the corpus's languages ``prior`` (see :func:`_prior_pass`).

        The candidates are the languages of ``prior`` that the text's script allows. fastText's full distribution
        (all 176 languages) is restricted to them and renormalised; the best candidate ``L`` is accepted when its
        renormalised probability is at least :data:`PRIOR_POSTERIOR`, ``L`` is among fastText's first
        :data:`PRIOR_TOP_RANK` answers over all its languages (the text looks like ``L`` at all: with one
        candidate the renormalised probability is always 1, and ``See you soon`` must not become Spanish in a
        Spanish corpus), and CLD2, when it names a candidate, names ``L``. Text with fewer than
        :data:`PRIOR_PASS_MIN_LETTERS` letters is not decided. Calibrated on other samples than
        bench/langid_accuracy.py's (seeds 1 and 2: es + nl sentences of esp.train / ned.train, 150 each; the
        29-corpus mix): on the two-language file it decided 43
        and 39 ``und`` sentences, 42 and 37 of them right; on the mix 52 and 57 (8+ words 11 and 13, with 1 and
        0 wrong), 49 and 52 right; on the five languages no backend has, none.

        Returns:
            A ``prior`` :class:`Decision` (``source`` ``prior``) with the renormalised probability as confidence,
            or ``und``.
        """
        counts = script_counts(text)
        script = sentence_script(counts)
        if script is None or letters(counts) < PRIOR_PASS_MIN_LETTERS:
            return Decision(UND, "none", 0.0, script, frozenset(), "too few letters")
        cands = script_candidates(script, self.known | frozenset(prior)) & frozenset(prior)
        if not cands:
            return Decision(UND, "none", 0.0, script, cands, "no corpus language uses this script")
        norm = normalise_case(text)
        ft = self.fasttext
        if ft is None:
            return Decision(UND, "none", 0.0, script, cands, "no fastText backend")
        ranked = self.backends[ft].scores(norm, k=-1)
        restricted = {c: p for c, p in ranked if c in cands}
        mass = sum(restricted.values())
        if mass <= 0:
            return Decision(UND, "none", 0.0, script, cands, "unlike every corpus language")
        lang = max(restricted, key=restricted.get)
        post = restricted[lang] / mass
        if post < PRIOR_POSTERIOR:
            return Decision(UND, "none", 0.0, script, cands, "corpus languages too close")
        if lang not in [c for c, _ in ranked[:PRIOR_TOP_RANK]]:
            return Decision(UND, "none", 0.0, script, cands, "unlike every corpus language")
        for i, b in enumerate(self.backends):
            if i != ft:
                other = self.top(i, norm, cands)
                if other and other[0] != lang:
                    return Decision(UND, "none", 0.0, script, cands, "backends disagree")
        if _standard(norm, cands, lang, post, [(lang, post)])[0] != lang:
            return Decision(UND, "none", 0.0, script, cands, "words of another standard")
        if alphabets.rules_out(norm, lang):
            return Decision(UND, "none", 0.0, script, cands, f"letters that {lang} does not write")
        return Decision(lang, "prior", post, script, cands)

    def ranks(self, text: str, lang: str, k: int) -> bool:
        """Whether ``lang`` is among fastText's first ``k`` answers over all its languages for ``text`` (False
        without a fastText backend)."""
        ft = self.fasttext
        return ft is not None and lang in [c for c, _ in self.scores(ft, normalise_case(text))[:k]]

    def leading(self, text: str) -> tuple[str, float] | None:
        """fastText's first answer over all its languages for ``text`` (None without a fastText backend or an
        answer)."""
        ft = self.fasttext
        sc = self.scores(ft, normalise_case(text)) if ft is not None else []
        return sc[0] if sc else None

    def strong(self, text: str, lang: str) -> bool:
        """True when every backend proposes ``lang`` with at least :data:`STRONG` (used against a hint naming a
        language no backend knows)."""
        norm = normalise_case(text)
        for i in range(len(self.backends)):
            sc = self.scores(i, norm)
            if not sc or sc[0][0] != lang or sc[0][1] < STRONG:
                return False
        return True


_default: LanguageIdentifier | None = None


def default_identifier() -> LanguageIdentifier:
    """The process-wide identifier with :data:`DEFAULT_BACKENDS`."""
    global _default
    if _default is None:
        _default = LanguageIdentifier()
    return _default


def detect(text: str) -> tuple[str, float]:
    """Language of one text on its own: ``(code, confidence)``; ``("und", 0.0)`` when it abstains (no letters,
    too few letters, detectors unsure). Used by the Playground and the predictor."""
    d = default_identifier().decide(text)
    return d.lang, d.confidence


def supported_languages() -> set[str]:
    """Codes some default backend can detect (plus the script-decided ones)."""
    from core.data.langid.script import SCRIPT_LANGUAGES

    out = set(default_identifier().known)
    out |= {next(iter(v)) for v in SCRIPT_LANGUAGES.values() if len(v) == 1}
    return out


def _standard(norm: str, cands: frozenset, lang: str, conf: float,
              tops: Sequence[tuple[str, float] | None]) -> tuple[str, float]:
    """Close standard languages (Serbian / Croatian / Bosnian, Danish / Bokmål / Nynorsk) by the words only
    some of them use (:mod:`core.data.langid.standards`).

    Applies when the decision ``lang`` is a member of a :class:`~core.data.langid.standards.Group` (whatever
    the other backends said), or when the backends left the text ``und`` and every answer in ``tops`` is a
    member of one group. The languages
    the text's marked words allow, among ``cands``: exactly one decides at :data:`MARKS_CONFIDENCE` (``vreme``
    -> ``sr``; ``sr`` or ``bs`` for ``tokom`` in a corpus whose candidates hold no ``bs``); marks that rule
    the decided language out (ekavian words in "Croatian", contradicting words) make it ``und``; without
    marks, or with several languages left that include ``lang``, the decision stays.

    Returns:
        ``(language, confidence)``.
    """
    named = {t[0] for t in tops if t is not None}
    if lang != UND:
        group = standards.group_of(lang)
    else:
        group = standards.group_of(next(iter(named))) if named else None
        if group is not None and not named <= group.members:
            group = None
    if group is None:
        return lang, conf
    left = standards.allowed(norm, group)
    if left is None:
        return lang, conf
    left = left & cands
    if len(left) == 1:
        verdict = next(iter(left))
        return verdict, max(conf, MARKS_CONFIDENCE) if verdict == lang else MARKS_CONFIDENCE
    if lang != UND and not (group.expand(lang) & left):
        return UND, 0.0
    return lang, conf


def _excluded(norm: str, lang: str) -> bool:
    """Whether the casing-normalised text rules ``lang`` out: by the marked words of close standards
    (:func:`standards.excludes`) or by letters ``lang`` does not write (:func:`alphabets.rules_out`)."""
    return standards.excludes(norm, lang) or alphabets.rules_out(norm, lang)


def close(a: str, b: str) -> bool:
    """Whether two codes are in one group of :data:`CLOSE_GROUPS`."""
    return any(a in g and b in g for g in CLOSE_GROUPS)


def _compatible(lang: str, d: Decision, text: str | None = None) -> bool:
    """Whether ``lang`` can be the language of a sentence with decision ``d`` (its script allows it) and, when
    ``text`` is given, its words do not rule it out (:func:`_excluded`)."""
    if lang == UND:
        return False
    if d.script is None:
        return True
    if text is not None and _excluded(normalise_case(text), lang):
        return False
    return lang in d.candidates or d.script in script_of_language(lang)


def assign_languages(sentences: Sequence[Sentence], user_lang: str | None = None, detect_missing: bool = True,
                     report: Report | None = None, identifier: LanguageIdentifier | None = None,
                     prior: Iterable[str] = ()) -> None:
    """Set ``lang``/``lang_source`` on every sentence by the module's rule, in place.

    Args:
        sentences: sentences in file order (documents are consecutive sentences of one file and ``doc_id``).
        user_lang: the user's language for these sentences (every sentence gets it), or None.
        detect_missing: run detection; when False, sentences without a given language take the file's hint or
            ``und``.
        report: receives one W110 warning per file with sentences left ``und`` (their lines).
        identifier: the identifier to use (default fastText + CLD2).
        prior: languages the user says the corpus holds (weight the corpus-restricted second pass).
    """
    if user_lang:
        code = normalize_code(user_lang)
        for s in sentences:
            s.lang, s.lang_source = code, "user"
        return
    todo = []
    for s in sentences:
        if s.lang_source in ("field", "comment") and s.lang not in ("", UND):
            s.lang = normalize_code(s.lang)  # one code system: "swa" and "sw" are one language
        else:
            todo.append(s)
    for s in todo:  # a reader's ``xx:`` prefix is a hint, like the file name
        hint = normalize_code(s.lang) if s.lang_source == "prefix" and s.lang not in ("", UND) else None
        s.lang, s.lang_source = (hint or UND), ("prefix" if hint else "none")
    if not detect_missing:
        for s in todo:
            if s.lang_source == "none":
                h = language_from_path(s.source) if s.source else None
                s.lang, s.lang_source = (h, "filename") if h else (UND, "none")
        _warn_und(todo, report)
        return
    ident = identifier or default_identifier()
    texts = [sentence_text(s) for s in todo]
    hints = [s.lang if s.lang_source == "prefix" else None for s in todo]
    path_hint: dict[str, str | None] = {}
    for i, s in enumerate(todo):
        if hints[i] is None:
            if s.source not in path_hint:
                path_hint[s.source] = language_from_path(s.source) if s.source else None
            hints[i] = path_hint[s.source]
    decisions = ident.decide_many(texts, [s.source for s in todo])
    final: list[tuple[str, str]] = [(d.lang, d.source) for d in decisions]
    suspect = _suspect_languages(todo, decisions)
    for i, d in enumerate(decisions):
        if (todo[i].source, d.lang) in suspect:
            final[i] = (UND, "none")

    decided = [i for i, (lang, _) in enumerate(final) if lang != UND]
    corpus_counts = Counter(final[i][0] for i in decided)
    min_count = max(2, int(PRIOR_MIN_SHARE * len(decided)))
    corpus_langs = {lang for lang, n in corpus_counts.items() if n >= min_count}
    corpus_langs |= {normalize_code(p) for p in prior} | {h for h in hints if h}

    # per file: is the hint confirmed by its detected sentences?
    by_file: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(todo):
        by_file[s.source].append(i)
    confirmed: dict[str, bool] = {}
    for src, idx in by_file.items():
        votes = Counter(final[i][0] for i in idx if final[i][1] == "detected")
        h = path_hint.get(src)
        confirmed[src] = bool(h) and (h not in ident.known
                                      or (sum(votes.values()) > 0 and votes[h] >= HINT_CONFIRM * sum(votes.values())))

    # a hint breaks ties: it replaces a detection below STRONG in a file that confirms it; a hint naming a
    # language no backend knows also wins unless every backend is sure of the detected language
    for i, (d, h) in enumerate(zip(decisions, hints)):
        if not h or d.source != "detected" or d.lang == h or not _compatible(h, d, texts[i]):
            continue
        s = todo[i]
        trusted = s.lang_source == "prefix" or confirmed.get(s.source)
        if (h not in ident.known and not ident.strong(texts[i], d.lang)) or (trusted and d.confidence < STRONG):
            final[i] = (h, hints_source(s))

    doc_lang = _document_languages(todo, final)
    where = {id(s): i for i, s in enumerate(todo)}
    view = _whole_file_view(sentences, where, final)
    in_runs = _files_in_runs(sentences, view)
    near_lang = _neighbour_languages(sentences, view, in_runs)
    for i, (lang, _) in enumerate(final):
        if lang != UND:
            continue
        d, s = decisions[i], todo[i]
        cand = doc_lang.get((s.source, s.doc_id)) if s.doc_id is not None else near_lang.get(i)
        if cand and (_compatible(cand, d, texts[i]) or d.script is None):
            final[i] = (cand, "document")
            continue
        h = hints[i]
        if h and (_compatible(h, d, texts[i]) or d.script is None) and (s.lang_source == "prefix"
                                                                       or confirmed.get(s.source)):
            final[i] = (h, hints_source(s))
            continue
        if d.script is not None and d.reason != "too few letters" and len(corpus_langs) > 0:
            r = ident.decide(texts[i], allowed=corpus_langs, relaxed=True)
            if r.lang != UND:
                final[i] = (r.lang, "detected")
    off = _unexplained_scripts(texts, decisions, final)
    _prior_pass(ident, sentences, todo, texts, decisions, final, prior, off)

    def fits(i: int, lang: str) -> bool:  # nothing in line i speaks against lang (see _run_languages)
        if decisions[i].script in off:
            return False
        ev = evidence_letters(normalise_case(texts[i])) if decisions[i].script is not None else 0
        if ev < PRIOR_PASS_MIN_LETTERS:
            return True
        if ev >= MIN_LETTERS:
            return False  # the detectors read it and could not place it
        lead = ident.leading(texts[i])
        if lead is None:  # no fastText: nothing tells whether the line's words speak against lang
            return False
        return lead[1] < RUN_AGAINST or ident.ranks(texts[i], lang, PRIOR_TOP_RANK)

    for i, lang in _run_languages(sentences, _whole_file_view(sentences, where, final), fits, in_runs).items():
        if _compatible(lang, decisions[i], texts[i]) or decisions[i].script is None:
            final[i] = (lang, "document")
    for s, (lang, src) in zip(todo, final):
        if (s.source, lang) in suspect and src not in HINT_SOURCES:  # no later pass brings L back
            lang, src = UND, "none"
        s.lang, s.lang_source = lang, src
    _warn_und(todo, report)


def _suspect_languages(todo: Sequence[Sentence], decisions: Sequence[Decision]) -> set[tuple[str, str]]:
    """``(file, L)`` pairs where the backends' ``L`` is not to be trusted: the marked words of close standards
    (:func:`_standard`) or the letters (:func:`alphabets.rules_out`) ruled ``L`` out in at least
    :data:`RULED_OUT_SHARE` of the file's sentences the backends read as ``L``, and in at least
    :data:`RULED_OUT_MIN`. Nigerian Pidgin under a neutral name: 585 of its 806
    dev sentences hold Naija words and are not English; the 221 without one are read as English too, by the
    same backends, and are as likely Pidgin. English newswire does not come near (CoNLL-2003: 0 of 20,744)."""
    ruled: Counter = Counter()
    read: Counter = Counter()
    for s, d in zip(todo, decisions):
        if d.ruled_out:
            ruled[(s.source, d.ruled_out)] += 1
        elif d.source == "detected":
            read[(s.source, d.lang)] += 1
    return {k for k, n in ruled.items() if n >= RULED_OUT_MIN and n >= RULED_OUT_SHARE * (n + read[k])}


def _whole_file_view(sentences: Sequence[Sentence], where: dict[int, int],
                     final: list[tuple[str, str]]) -> list[tuple[str, str, int | None]]:
    """Per sentence of ``sentences`` (file order): ``(lang, source, index in todo or None)``; a sentence whose
    language was given (``field``/``comment``) keeps it, source ``given``."""
    out = []
    for s in sentences:
        i = where.get(id(s))
        out.append((s.lang, "given", None) if i is None else (*final[i], i))
    return out


def _unexplained_scripts(texts: Sequence[str], decisions: Sequence[Decision],
                         final: list[tuple[str, str]]) -> set[str]:
    """Scripts whose long sentences (:data:`SILENCE_LETTERS` evidence letters or more) were left undecided
    more than :data:`UNEXPLAINED_MAX` of the time: the corpus then likely holds a language no backend knows
    (Fon, Mossi), and lines of that script get no corpus-prior language and do not fill a run of lines."""
    long_total: Counter = Counter()
    long_und: Counter = Counter()
    for i, d in enumerate(decisions):
        if d.script is not None and evidence_letters(normalise_case(texts[i])) >= SILENCE_LETTERS:
            long_total[d.script] += 1
            long_und[d.script] += final[i][0] == UND
    return {sc for sc, n in long_total.items() if long_und[sc] > UNEXPLAINED_MAX * n}


def _prior_pass(ident: LanguageIdentifier, sentences: Sequence[Sentence], todo: Sequence[Sentence],
                texts: Sequence[str], decisions: Sequence[Decision], final: list[tuple[str, str]],
                prior: Iterable[str], off: set[str] | None = None) -> None:
    """Decide short sentences still ``und`` among the corpus's own languages (:meth:`LanguageIdentifier.
    decide_in_prior`), in place in ``final``.

    A few letters are no evidence among 176 languages but often are among the two or three a corpus holds
    (``Madrid , 23 may ( EFE ) .`` in a Spanish and Dutch file). The corpus's languages here are those the text
    decided on its own (given, script or detected) in at least :data:`PRIOR_PASS_MIN_COUNT` sentences and
    :data:`PRIOR_PASS_MIN_SHARE` of the decided ones, plus the user's ``prior``. Every sentence still ``und`` is
    looked at (long ones too: CLD2 answers nothing on some plain Spanish and Dutch sentences, which vetoes them
    above). Decided sentences get the source ``prior`` (shown in the "detected" group). The pass is off for the
    scripts of ``off`` (default :func:`_unexplained_scripts`): a corpus holding a language no backend knows
    would otherwise see its short lines go to a corpus language.
    """
    counts: Counter = Counter(s.lang for s in sentences if s.lang not in ("", UND) and s.lang_source in GIVEN_SOURCES)
    counts.update(lang for lang, src in final if lang != UND and src in ("detected", "script"))
    n_decided = sum(counts.values())
    need = max(PRIOR_PASS_MIN_COUNT, PRIOR_PASS_MIN_SHARE * n_decided)
    langs = {lang for lang, n in counts.items() if n >= need} | {normalize_code(p) for p in prior}
    if not langs:
        return
    if off is None:
        off = _unexplained_scripts(texts, decisions, final)
    for i, d in enumerate(decisions):
        if d.script is None or d.script in off or final[i][0] != UND:
            continue
        r = ident.decide_in_prior(texts[i], langs)
        if r.lang != UND:
            final[i] = (r.lang, "prior")


def hints_source(s: Sentence) -> str:
    """``prefix`` for a sentence whose hint came from ``xx:`` prefixes, else ``filename``."""
    return "prefix" if s.lang_source == "prefix" else "filename"


def _document_languages(todo: Sequence[Sentence], final: list[tuple[str, str]]) -> dict:
    votes: dict[tuple, Counter] = defaultdict(Counter)
    for s, (lang, src) in zip(todo, final):
        if s.doc_id is not None and lang != UND and src in ("detected", "script"):
            votes[(s.source, s.doc_id)][lang] += 1
    out = {}
    for key, c in votes.items():
        lang, n = c.most_common(1)[0]
        if n >= 2 and n >= 0.6 * sum(c.values()):
            out[key] = lang
    return out


SOLID_SOURCES = ("detected", "script", "given")  # decided by the sentence's own text, or stated


def _nearest(sentences: Sequence[Sentence], view: Sequence[tuple], start: int, step: int) -> list[str]:
    """The languages of the (at most) two nearest sentences from ``start`` in direction ``step`` whose language
    the text decided or the file states (:data:`SOLID_SOURCES`), within :data:`NEIGHBOUR_SPAN` positions, in the
    file of ``sentences[start - step]`` and outside documents (a sentence with a document id is a boundary)."""
    got: list[str] = []
    src = sentences[start - step].source
    j = start
    while 0 <= j < len(sentences) and abs(j - start) < NEIGHBOUR_SPAN and len(got) < 2:
        if sentences[j].source != src or sentences[j].doc_id is not None:
            break
        if view[j][0] != UND and view[j][1] in SOLID_SOURCES:
            got.append(view[j][0])
        j += step
    return got


def _agreed(left: list[str], right: list[str]) -> str | None:
    """The one language of two neighbours on each side, or None."""
    langs = set(left) | set(right)
    return langs.pop() if len(left) == 2 and len(right) == 2 and len(langs) == 1 else None


def _files_in_runs(sentences: Sequence[Sentence], view: Sequence[tuple]) -> set[str]:
    """The files whose languages come in runs, where a sentence's neighbours are evidence of its language.

    The neighbour rule (:func:`_nearest`, :func:`_agreed`) is tried on each sentence whose own text decided its
    language or whose language the file states (:data:`SOLID_SOURCES`), leaving that sentence out: a *case* is a
    sentence whose two nearest such neighbours on each side agree, and it is *right* when the sentence is their
    language. A file is in runs when its cases number at least :data:`PERSIST_MIN_CASES` and at least
    :data:`NEIGHBOUR_PRECISION` of them are right, or when it has fewer cases and fewer than
    :data:`PERSIST_SMALL` solid sentences (too few to tell; file order is the usual case). So esp.train (99%
    Spanish, with stray English lines) and 150 Spanish then 150 Dutch sentences are in runs; the same 300
    shuffled (four agreeing neighbours are right half of the time) and a shuffled mix of 29 languages (they
    seldom agree at all) are not: there two Spanish sentences on each side of a line say nothing about it.

    Args:
        sentences: every sentence, in file order.
        view: :func:`_whole_file_view` of them.

    Returns:
        The ``source`` of each file in runs.
    """
    solid: Counter = Counter()
    cases: Counter = Counter()
    right: Counter = Counter()
    for k, s in enumerate(sentences):
        lang, src, _ = view[k]
        if lang == UND or src not in SOLID_SOURCES:
            continue
        if s.doc_id is not None:  # documents have their own rule; their sentences are never neighbours here
            continue
        solid[s.source] += 1
        near = _agreed(_nearest(sentences, view, k - 1, -1), _nearest(sentences, view, k + 1, 1))
        if near:
            cases[s.source] += 1
            right[s.source] += near == lang
    files = {s.source for s in sentences}
    return {f for f in files if (right[f] >= NEIGHBOUR_PRECISION * cases[f] if cases[f] >= PERSIST_MIN_CASES
                                 else solid[f] < PERSIST_SMALL)}


def _neighbour_languages(sentences: Sequence[Sentence], view: Sequence[tuple],
                         in_runs: set[str]) -> dict[int, str]:
    """Undecided sentences (no document id) whose two nearest decided neighbours on each side (:func:`_nearest`:
    within :data:`NEIGHBOUR_SPAN`, same file, no document) are one language: ``{index in todo: language}``.

    Args:
        sentences: every sentence, in file order.
        view: :func:`_whole_file_view` of them.
        in_runs: files where neighbours are evidence (:func:`_files_in_runs`).
    """
    out: dict[int, str] = {}
    for k, s in enumerate(sentences):
        lang, _, i = view[k]
        if i is None or lang != UND or s.doc_id is not None or s.source not in in_runs:
            continue
        near = _agreed(_nearest(sentences, view, k - 1, -1), _nearest(sentences, view, k + 1, 1))
        if near:
            out[i] = near
    return out


def _run_languages(sentences: Sequence[Sentence], view: Sequence[tuple],
                   fits: Callable[[int, str], bool], in_runs: set[str]) -> dict[int, str]:
    """A run of lines without evidence of their own between prose that agrees: ``{index in todo: language}``.

    A *run* is a maximal block of consecutive sentences of one file, outside documents, none decided by its own
    text or stated (:data:`SOLID_SOURCES`): a results table ``Ivan Gotti ( ITA - Polti ) a 1:55``, datelines
    ``Madrid , 23 may ( EFE ) .``. Its lines take language ``L`` when the two solid sentences before it and the
    two after it (:func:`_nearest`) are ``L`` and nothing in the run speaks against ``L``: every line is
    already ``L`` (from an earlier step), or ``und`` or placed by the corpus prior alone, and ``fits(i, L)``.
    In :func:`assign_languages` a line fits when it has fewer than :data:`PRIOR_PASS_MIN_LETTERS` evidence
    letters (names, numbers and codes only: ``Jeroen Blijlevens ( HOL - Polti )``, whose Dutch-sounding name the
    prior placed as Dutch), or fewer than :data:`MIN_LETTERS` with ``L`` among fastText's first
    :data:`PRIOR_TOP_RANK` answers or no language of fastText's at :data:`RUN_AGAINST` or more (``a 4:10 EFE
    fr/jap/lmpg/ Guadalupe ( Cáceres ) , 23 may``: English 0.24, French 0.17: nothing), and its script is not one of
    :func:`_unexplained_scripts`. One line that does not fit (``See you soon .`` between Spanish paragraphs, a
    line the detectors read and could not place, a line of a language no backend has) leaves the whole run as it
    is: short lines in another language are not swept into the prose's language. Files not in runs
    (:func:`_files_in_runs`) have no runs.

    Args:
        sentences: every sentence, in file order.
        view: :func:`_whole_file_view` after the other steps.
        fits: ``fits(index in todo, L)``.
        in_runs: files where neighbours are evidence (:func:`_files_in_runs`).
    """
    out: dict[int, str] = {}
    n, k = len(sentences), 0

    def solid(j: int) -> bool:
        return view[j][1] in SOLID_SOURCES and view[j][0] != UND

    while k < n:
        if solid(k) or sentences[k].doc_id is not None:
            k += 1
            continue
        src, e = sentences[k].source, k
        while e < n and sentences[e].source == src and sentences[e].doc_id is None and not solid(e):
            e += 1
        if src not in in_runs:
            k = e
            continue
        lang = _agreed(_nearest(sentences, view, k - 1, -1), _nearest(sentences, view, e, 1))
        members = [view[m] for m in range(k, e)]
        if lang and all(i is not None and (lg == lang or (src_ in ("none", "prior") and fits(i, lang)))
                        for lg, src_, i in members):
            out.update((i, lang) for lg, _, i in members if lg != lang)
        k = e
    return out


class UndTally:
    """Sentences left ``und``, counted per file, for one W110 warning per file (also across streamed chunks)."""

    MAX_LINES = 20  # line numbers listed in the warning

    def __init__(self) -> None:
        self.by_file: dict[str, dict] = {}

    def add(self, sentences: Sequence[Sentence]) -> None:
        """Count the ``und`` sentences of ``sentences`` (languages already assigned)."""
        for s in sentences:
            if s.lang != UND:
                continue
            entry = self.by_file.setdefault(s.source, {"n": 0, "lines": [], "text": " ".join(s.tokens[:12])})
            entry["n"] += 1
            if len(entry["lines"]) <= self.MAX_LINES:
                entry["lines"].append(s.line_start)

    def emit(self, report: Report | None) -> None:
        """Add one W110 per file to ``report`` (nothing when ``report`` is None)."""
        if report is None:
            return
        for src, e in self.by_file.items():
            shown = e["lines"][:self.MAX_LINES]
            lines = ", ".join(map(str, shown)) + (" ..." if e["n"] > len(shown) else "")
            report.add("W110", f"{e['n']} sentence(s) without a language: no detector was sure and nothing states "
                       f"one (lines {lines})", file=src, line=shown[0], text=e["text"],
                       fix="Set the language in the Languages panel, with --lang, or a lang field.")


def _warn_und(todo: Sequence[Sentence], report: Report | None) -> None:
    if report is None:
        return
    tally = UndTally()
    tally.add(todo)
    tally.emit(report)
