"""Entity-level and token-level scores per language and per type, confusion matrices and the error list.

One scoring function, :func:`evaluate`, is behind the CLI (``score``, ``evaluate``), the trainer, the API and the
Evaluate page. It has two named modes (:data:`MODES`), both exact-match (an entity is correct only when its
type, first and last token all match); they differ in which entities a tag sequence holds:

``strict``
    seqeval's strict mode *with the scheme* (``seqeval.scheme.Entities(..., IOB2|IOB1|IOBES|BILOU)``): a
    sequence the scheme forbids is no entity (an ``I-LOC`` start in IOB2, ``B-PER I-PER`` never closed by
    ``E-`` in IOBES, the ``I-LOC`` of a type switch ``B-PER I-LOC``). seqeval has no BMES or IO: BMES is read
    as IOBES with ``M-`` for ``I-``, IO as IOB1 over ``I-`` tags (where every run of one type is an entity).
    seqeval is always given ``scheme=``: its ``mode="strict"`` without one silently falls back to lenient.
``conlleval``
    the CoNLL shared-task script's chunk rules (:mod:`core.eval.conlleval`, a port of ``conlleval.pl``): an
    ``I-X`` after ``O`` starts an entity, a type switch starts a new one, an IOBES entity ends at the next
    ``O``/``B``/``S`` whether or not it was closed by ``E-``. Published CoNLL-2002/2003 figures use this reading.

Tags are scored in the scheme the data came in (or the one declared): gold and predicted tags are never
repaired to IOB2 first. Predictions in another scheme (a model's IOB2 against IOBES gold) are read in their own
scheme for entities and converted to the gold scheme for the token-level scores. A label that is no entity tag
of the scheme (``[SEP]``, ``-100``, an ``E-`` in IOB2; :func:`core.data.schemes.tag_problem`) is a coded
E104 error, never a type of its own nor a crash.

Token level: accuracy (share of tokens whose predicted tag equals the gold tag, conlleval's "accuracy") and
per-tag precision/recall/F1 over tokens, next to the entity scores.

Undefined scores: a bucket (language, type or language x type) with no gold and no predicted entity has every
score ``None`` ("n/a"), not 0, and is left out of macro averages. Where only one side is empty the undefined
ratio is 0 (seqeval's ``zero_division=0``): precision 0 when nothing was predicted, recall 0 when nothing
was there to find.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Sequence

from core.data.schemes import canonical_scheme, from_iob2, split_tag, tag_problem, to_iob2
from core.eval.conlleval import chunks
from core.kernel.errors import ConfigError, CorpusError

MISSED = "MISSED"
SPURIOUS = "SPURIOUS"
#: Scoring modes, see the module docstring.
MODES = ("strict", "conlleval")
#: Default scoring mode of every command and page (README "Scores" says why).
DEFAULT_MODE = "strict"
_MODE_RULES = {"strict": "seqeval strict mode", "conlleval": "conlleval.pl chunk rules"}
ERROR_KINDS = ("missed", "spurious", "wrong type", "wrong boundary", "wrong type and boundary")


@dataclass
class Counts:
    """Entity counts of one bucket: ``tp`` exact matches, ``n_pred`` predicted, ``n_gold`` gold (= support)."""

    tp: int = 0
    n_pred: int = 0
    n_gold: int = 0

    def add(self, other: "Counts") -> None:
        self.tp += other.tp
        self.n_pred += other.n_pred
        self.n_gold += other.n_gold

    def scores(self) -> dict:
        """``{precision, recall, f1, support}``: fractions in [0, 1]; all None when the bucket is empty."""
        if self.n_gold == 0 and self.n_pred == 0:
            return {"precision": None, "recall": None, "f1": None, "support": 0}
        p = self.tp / self.n_pred if self.n_pred else 0.0
        r = self.tp / self.n_gold if self.n_gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": p, "recall": r, "f1": f, "support": self.n_gold}


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`.

    Raises:
        ConfigError: E202 for any other value.
    """
    if mode not in MODES:
        raise ConfigError("E202", f"unknown scoring mode {mode!r}", text=str(mode),
                          fix=f"Use one of: {', '.join(MODES)}.")
    return mode


def mode_label(mode: str, scheme: str) -> str:
    """How a score says what it is: ``strict (seqeval strict mode, IOBES)``."""
    return f"{mode} ({_MODE_RULES.get(mode, mode)}, {scheme})"


def _seqeval_form(tags: Sequence[str], scheme: str) -> tuple[list[str], str]:
    """Tags and seqeval scheme name for strict scoring: bare types become ``I-``; BMES ``M-`` -> ``I-`` read as
    IOBES; IO read as IOB1 (only ``I-`` tags there, so every run of one type is one entity)."""
    out = []
    for t in tags:
        prefix, typ = split_tag(t)
        if prefix == "O":
            out.append("O")
        elif prefix == "" or (prefix == "M" and scheme == "BMES"):
            out.append(f"I-{typ}")
        else:
            out.append(f"{prefix}-{typ}")
    return out, {"BMES": "IOBES", "IO": "IOB1"}.get(scheme, scheme)


def entity_sets(sequences: Sequence[Sequence[str]], schemes: Sequence[str], mode: str = DEFAULT_MODE
                ) -> list[set[tuple[str, int, int]]]:
    """Per sentence, the set of ``(type, start, end)`` entities (end exclusive) under ``mode``.

    Args:
        sequences: tags, one list per sentence, valid tags of their scheme (see :func:`validate_tags`).
        schemes: the scheme of each sentence (names of :data:`core.data.schemes.SCHEMES`).
        mode: ``strict`` (seqeval with the scheme) or ``conlleval`` (:func:`core.eval.conlleval.chunks`).
    """
    check_mode(mode)
    if mode == "conlleval":
        return [set(chunks(tags)) for tags in sequences]
    from seqeval import scheme as seqeval_schemes

    out: list[set] = [set() for _ in sequences]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, sch in enumerate(schemes):
        groups[sch].append(i)
    for sch, idx in groups.items():
        forms = [_seqeval_form(sequences[i], sch) for i in idx]
        cls = getattr(seqeval_schemes, forms[0][1])
        ents = seqeval_schemes.Entities([f for f, _ in forms], cls).entities
        for i, sent in zip(idx, ents):
            out[i] = {(e.tag, e.start, e.end) for e in sent}
    return out


def validate_tags(sequences: Sequence[Sequence[str]], schemes: Sequence[str], side: str) -> None:
    """Refuse labels that are no entity tags of their sentence's scheme.

    Raises:
        CorpusError: E104 naming the side (gold/predicted), the sentence and token (1-based), the label and why.
    """
    seen: dict[tuple[str, str], str | None] = {}
    for i, (tags, sch) in enumerate(zip(sequences, schemes)):
        for j, tag in enumerate(tags):
            key = (tag, sch)
            if key not in seen:
                seen[key] = tag_problem(tag, sch)
            if seen[key] is not None:
                raise CorpusError("E104", f"{side} sentence {i + 1}, token {j + 1}: {tag!r} is no entity tag of "
                                  f"{sch}: {seen[key]}", text=str(tag),
                                  fix="Remove such labels (read them as O with --special-as-o), or declare "
                                      "the right scheme with --scheme.")


def _per_sentence(scheme: str | Sequence[str], n: int) -> list[str]:
    if isinstance(scheme, str):
        return [canonical_scheme(scheme)] * n
    schemes = [canonical_scheme(s) for s in scheme]
    if len(schemes) != n:
        raise ValueError(f"{len(schemes)} schemes for {n} sentences")
    return schemes


def _macro(per_type: dict[str, dict]) -> dict:
    defined = [v for v in per_type.values() if v["f1"] is not None]
    if not defined:
        return {"precision": None, "recall": None, "f1": None, "support": 0}
    n = len(defined)
    return {"precision": sum(v["precision"] for v in defined) / n, "recall": sum(v["recall"] for v in defined) / n,
            "f1": sum(v["f1"] for v in defined) / n, "support": sum(v["support"] for v in defined)}


def classify_errors(gold: set[tuple[str, int, int]], pred: set[tuple[str, int, int]]) -> list[dict]:
    """Errors of one sentence, each ``{kind, gold, pred}`` with entities as ``(type, start, end)`` or None.

    Kinds (nervaluate's taxonomy): ``wrong type`` (same span, other type), ``wrong boundary`` (overlapping span,
    same type), ``wrong type and boundary`` (overlapping span, other type), ``missed`` (gold overlaps no
    prediction), ``spurious`` (prediction overlaps no gold). A prediction is paired with the gold entity it
    overlaps most; exact matches are not errors.
    """
    errors: list[dict] = []
    exact = gold & pred
    g_rest = sorted(gold - exact, key=lambda e: (e[1], e[2]))
    p_rest = sorted(pred - exact, key=lambda e: (e[1], e[2]))
    used_pred: set = set()
    for g in g_rest:
        best, overlap = None, 0
        for p in p_rest:
            ov = min(g[2], p[2]) - max(g[1], p[1])
            if ov > overlap and p not in used_pred:
                best, overlap = p, ov
        if best is None:
            errors.append({"kind": "missed", "gold": g, "pred": None})
            continue
        used_pred.add(best)
        same_span = (best[1], best[2]) == (g[1], g[2])
        same_type = best[0] == g[0]
        kind = "wrong type" if same_span else ("wrong boundary" if same_type else "wrong type and boundary")
        errors.append({"kind": kind, "gold": g, "pred": best})
    for p in p_rest:
        if p in used_pred:
            continue
        overlaps_gold = any(min(g[2], p[2]) > max(g[1], p[1]) for g in gold)
        if not overlaps_gold:
            errors.append({"kind": "spurious", "gold": None, "pred": p})
        else:  # a second prediction inside a gold entity already paired: a boundary error of its own
            errors.append({"kind": "wrong boundary", "gold": None, "pred": p})
    return errors


def entity_confusion_rows(gold: set[tuple[str, int, int]], pred: set[tuple[str, int, int]]) -> list[tuple[str, str]]:
    """``(gold_type or SPURIOUS, pred_type or MISSED)`` pairs of one sentence for the entity confusion matrix.

    Every gold entity gives exactly one pair, so a row of the matrix sums to that type's support: the type of
    the exact-span prediction, else of the prediction overlapping it most, else MISSED. Predictions that
    overlap no gold entity give ``(SPURIOUS, pred_type)``.
    """
    pairs: list[tuple[str, str]] = []
    for g in gold:
        same = [p for p in pred if (p[1], p[2]) == (g[1], g[2])]
        if same:
            pairs.append((g[0], same[0][0]))
            continue
        best, overlap = None, 0
        for p in pred:
            ov = min(g[2], p[2]) - max(g[1], p[1])
            if ov > overlap:
                best, overlap = p, ov
        pairs.append((g[0], best[0] if best else MISSED))
    for p in pred:
        if not any(min(g[2], p[2]) > max(g[1], p[1]) for g in gold):
            pairs.append((SPURIOUS, p[0]))
    return pairs


def evaluate(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], langs: Sequence[str] | None = None,
             tokens: Sequence[Sequence[str]] | None = None, max_errors: int | None = None, *,
             mode: str = DEFAULT_MODE, scheme: str | Sequence[str] = "IOB2",
             pred_scheme: str | Sequence[str] | None = None) -> dict:
    """Score predicted tags against gold tags: the one scoring function of the studio.

    Args:
        gold: gold tags, one list per sentence, in ``scheme`` (as the data came in: not repaired).
        pred: predicted tags, same shape as ``gold``, in ``pred_scheme``.
        langs: language code per sentence (None: every sentence is ``und``).
        tokens: tokens per sentence, used to give the text of entities in the error list.
        max_errors: keep at most this many rows in ``errors`` (None keeps all).
        mode: ``strict`` or ``conlleval`` (see the module docstring); default :data:`DEFAULT_MODE`.
        scheme: the gold scheme, one name or one per sentence (``BIOES`` is accepted for IOBES).
        pred_scheme: the predictions' scheme (one or per sentence); None: the same as ``scheme``.

    Returns:
        dict with ``mode``, ``scheme``, ``mode_label``, ``overall`` (micro {precision, recall, f1, support}),
        ``macro``, ``per_type`` (type -> scores), ``per_language`` (lang -> scores, micro over types),
        ``per_language_macro``, ``per_language_type`` (lang -> type -> scores), ``token`` ({accuracy,
        n_tokens, per_language: lang -> accuracy, per_tag: tag -> {precision, recall, f1, support}}),
        ``confusion`` (lang -> {``token``: {labels, matrix}, ``entity``: {rows, cols, matrix}}, plus ``"all"``),
        ``errors`` (list of {sentence, lang, kind, gold, pred, gold_text, pred_text}) and ``error_counts``
        (lang -> kind -> count). Scores are fractions in [0, 1] or None for n/a.

    Raises:
        CorpusError: E107 when a gold and a predicted sentence differ in length; E104 for a label that is no
            entity tag of its scheme.
        ConfigError: E202 for an unknown mode.
        ValueError: unknown scheme name.
    """
    check_mode(mode)
    if len(gold) != len(pred):
        raise CorpusError("E107", f"gold has {len(gold)} sentences but predictions have {len(pred)}",
                          fix="Predict every gold sentence, in the same order.")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise CorpusError("E107", f"sentence {i + 1}: {len(g)} gold tags but {len(p)} predicted tags",
                              fix="Give one predicted tag per gold token.")
    g_schemes = _per_sentence(scheme, len(gold))
    p_schemes = g_schemes if pred_scheme is None else _per_sentence(pred_scheme, len(pred))
    validate_tags(gold, g_schemes, "gold")
    validate_tags(pred, p_schemes, "predicted")
    # token-level comparisons need one alphabet: predictions in another scheme are converted to the gold one
    pred_tok = [list(p) if gs == ps else from_iob2(to_iob2(p, ps)[0], gs)
                for p, gs, ps in zip(pred, g_schemes, p_schemes)]
    langs = list(langs) if langs is not None else ["und"] * len(gold)
    g_sets = entity_sets(gold, g_schemes, mode)
    p_sets = entity_sets(pred, p_schemes, mode)
    by_lt: dict[tuple[str, str], Counts] = defaultdict(Counts)
    token_conf: dict[str, Counter] = defaultdict(Counter)
    ent_conf: dict[str, Counter] = defaultdict(Counter)
    errors: list[dict] = []
    error_counts: dict[str, Counter] = defaultdict(Counter)
    for i, (gs, ps, lang) in enumerate(zip(g_sets, p_sets, langs)):
        for e in gs:
            by_lt[(lang, e[0])].n_gold += 1
        for e in ps:
            by_lt[(lang, e[0])].n_pred += 1
        for e in gs & ps:
            by_lt[(lang, e[0])].tp += 1
        for gt, pt in zip(gold[i], pred_tok[i]):
            token_conf[lang][(gt, pt)] += 1
        for pair in entity_confusion_rows(gs, ps):
            ent_conf[lang][pair] += 1
        for err in classify_errors(gs, ps):
            error_counts[lang][err["kind"]] += 1
            if max_errors is None or len(errors) < max_errors:
                row = {"sentence": i, "lang": lang, **err}
                if tokens is not None:
                    row["gold_text"] = " ".join(tokens[i][err["gold"][1]:err["gold"][2]]) if err["gold"] else ""
                    row["pred_text"] = " ".join(tokens[i][err["pred"][1]:err["pred"][2]]) if err["pred"] else ""
                errors.append(row)
    types = sorted({t for _, t in by_lt})
    lang_list = sorted(set(langs))
    per_type_counts: dict[str, Counts] = defaultdict(Counts)
    per_lang_counts: dict[str, Counts] = defaultdict(Counts)
    total = Counts()
    for (lang, typ), c in by_lt.items():
        per_type_counts[typ].add(c)
        per_lang_counts[lang].add(c)
        total.add(c)
    per_type = {t: per_type_counts[t].scores() for t in types}
    per_language = {lang: per_lang_counts[lang].scores() for lang in lang_list}
    per_language_type = {lang: {t: by_lt[(lang, t)].scores() if (lang, t) in by_lt else Counts().scores()
                                for t in types} for lang in lang_list}
    confusion = {}
    for lang in lang_list + ["all"]:
        tc = token_conf[lang] if lang != "all" else sum(token_conf.values(), Counter())
        ec = ent_conf[lang] if lang != "all" else sum(ent_conf.values(), Counter())
        confusion[lang] = {"token": _matrix(tc), "entity": _entity_matrix(ec, types)}
    scheme_name = ",".join(sorted(set(g_schemes))) or "IOB2"
    return {
        "mode": mode,
        "scheme": scheme_name,
        "mode_label": mode_label(mode, scheme_name),
        "overall": total.scores(),
        "macro": _macro(per_type),
        "per_type": per_type,
        "per_language": per_language,
        "per_language_macro": {lang: _macro(per_language_type[lang]) for lang in lang_list},
        "per_language_type": per_language_type,
        "token": token_scores(token_conf),
        "confusion": confusion,
        "errors": errors,
        "error_counts": {lang: {k: error_counts[lang].get(k, 0) for k in ERROR_KINDS} for lang in lang_list},
    }


def token_scores(token_conf: dict[str, Counter]) -> dict:
    """Token-level scores from ``lang -> Counter((gold_tag, pred_tag))``: ``accuracy`` (None without tokens),
    ``n_tokens``, ``per_language`` (lang -> accuracy) and ``per_tag`` (tag -> {precision, recall, f1,
    support}: support = gold tokens with that tag; a tag neither gold nor predicted is absent)."""
    total: Counter = sum(token_conf.values(), Counter())
    n = sum(total.values())
    correct = sum(c for (g, p), c in total.items() if g == p)
    per_language = {}
    for lang in sorted(token_conf):
        ln = sum(token_conf[lang].values())
        per_language[lang] = (sum(c for (g, p), c in token_conf[lang].items() if g == p) / ln) if ln else None
    per_tag = {}
    for tag in sorted({g for g, _ in total} | {p for _, p in total}, key=_tag_order):
        c = Counts(tp=total.get((tag, tag), 0), n_pred=sum(v for (_, p), v in total.items() if p == tag),
                   n_gold=sum(v for (g, _), v in total.items() if g == tag))
        per_tag[tag] = c.scores()
    return {"accuracy": correct / n if n else None, "n_tokens": n, "per_language": per_language,
            "per_tag": per_tag}


def _tag_order(tag: str) -> tuple:
    prefix, typ = split_tag(tag)
    return (typ is not None, typ or "", prefix)


def _matrix(counter: Counter) -> dict:
    """Token-level confusion: ``labels`` (O first, then B-/I- by type) and ``matrix[gold][pred]`` counts."""
    labels = sorted({g for g, _ in counter} | {p for _, p in counter}, key=_tag_order)
    idx = {t: i for i, t in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for (g, p), n in counter.items():
        m[idx[g]][idx[p]] += n
    return {"labels": labels, "matrix": m}


def _entity_matrix(counter: Counter, types: list[str]) -> dict:
    """Entity-level confusion: rows are gold types + SPURIOUS, columns predicted types + MISSED."""
    rows = types + [SPURIOUS]
    cols = types + [MISSED]
    ri = {t: i for i, t in enumerate(rows)}
    ci = {t: i for i, t in enumerate(cols)}
    m = [[0] * len(cols) for _ in rows]
    for (g, p), n in counter.items():
        m[ri[g]][ci[p]] += n
    return {"rows": rows, "cols": cols, "matrix": m}


SUMMARY_KEYS = ("mode", "scheme", "mode_label", "overall", "macro", "per_language", "per_type",
                "per_language_type", "token", "confusion", "error_counts")


def summary(result: dict, confusion: bool = True) -> dict:
    """The stable CLI/JSON shape: ``mode``, ``scheme``, ``mode_label``, ``overall``, ``macro``, ``per_language``,
    ``per_type``, ``per_language_type``, ``token``, ``confusion`` (left out with ``confusion=False``) and
    ``error_counts``."""
    return {k: result[k] for k in SUMMARY_KEYS if confusion or k != "confusion"}


def source_tags(sentences: Sequence) -> tuple[list[list[str]], list[str]]:
    """The tags of :class:`core.data.corpus.Sentence` objects as the data came in, and each one's scheme.

    ``raw_tags`` where the loader kept them (they differ from the IOB2 ``ner_tags``), else ``ner_tags``; the
    scheme is ``Sentence.scheme`` or IOB2 (sentences built in memory, saved datasets).
    """
    tags = [list(s.raw_tags) if getattr(s, "raw_tags", None) is not None else list(s.ner_tags) for s in sentences]
    return tags, [getattr(s, "scheme", None) or "IOB2" for s in sentences]
