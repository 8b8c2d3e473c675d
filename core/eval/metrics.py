"""Entity-level scores per language and per type, confusion matrices and the error list.

Scoring rule: seqeval's *strict* mode with the IOB2 scheme (``seqeval.scheme.Entities(..., IOB2)``): an entity
counts as correct only when type, first token and last token all match. Both gold and predicted tags are valid
IOB2 before scoring (readers and the model decoder repair a stray ``I-`` start to ``B-``, as conlleval does), so
the strict number equals conlleval's. seqeval's default mode is not used because it scores ill-formed sequences
leniently and reads a bare tag ``PER`` as type ``ER`` (see docs/PITFALLS.md).

Undefined scores: a bucket (language, type or language x type) with no gold and no predicted entity has every
score ``None`` ("n/a"), not 0, and is left out of macro averages. Where only one side is empty the undefined
ratio is 0 (seqeval's ``zero_division=0``): precision 0 when nothing was predicted, recall 0 when nothing
was there to find.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Sequence

from core.kernel.errors import CorpusError

MISSED = "MISSED"
SPURIOUS = "SPURIOUS"
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


def _entity_sets(sequences: Sequence[Sequence[str]]) -> list[set[tuple[str, int, int]]]:
    """Per sentence, the set of ``(type, start, end)`` entities (end exclusive) by seqeval's strict IOB2 rule."""
    from seqeval.scheme import IOB2, Entities

    ents = Entities([list(s) for s in sequences], IOB2).entities
    return [{(e.tag, e.start, e.end) for e in sent} for sent in ents]


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
             tokens: Sequence[Sequence[str]] | None = None, max_errors: int | None = None) -> dict:
    """Score predicted IOB2 tags against gold IOB2 tags.

    Args:
        gold: gold tags, one list per sentence.
        pred: predicted tags, same shape as ``gold``.
        langs: language code per sentence (None: every sentence is ``und``).
        tokens: tokens per sentence, used to give the text of entities in the error list.
        max_errors: keep at most this many rows in ``errors`` (None keeps all).

    Returns:
        dict with ``overall`` (micro {precision, recall, f1, support}), ``macro``, ``per_type`` (type -> scores),
        ``per_language`` (lang -> scores, micro over types), ``per_language_macro``, ``per_language_type``
        (lang -> type -> scores), ``confusion`` (lang -> {``token``: {labels, matrix}, ``entity``: {rows, cols,
        matrix}}, plus ``"all"``), ``errors`` (list of {sentence, lang, kind, gold, pred, gold_text, pred_text})
        and ``error_counts`` (lang -> kind -> count). Scores are fractions in [0, 1] or None for n/a.

    Raises:
        CorpusError: E107 when a gold and a predicted sentence differ in length.
    """
    if len(gold) != len(pred):
        raise CorpusError("E107", f"gold has {len(gold)} sentences but predictions have {len(pred)}",
                          fix="Predict every gold sentence, in the same order.")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise CorpusError("E107", f"sentence {i + 1}: {len(g)} gold tags but {len(p)} predicted tags",
                              fix="Give one predicted tag per gold token.")
    langs = list(langs) if langs is not None else ["und"] * len(gold)
    g_sets = _entity_sets(gold)
    p_sets = _entity_sets(pred)
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
        for gt, pt in zip(gold[i], pred[i]):
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
    return {
        "overall": total.scores(),
        "macro": _macro(per_type),
        "per_type": per_type,
        "per_language": per_language,
        "per_language_macro": {lang: _macro(per_language_type[lang]) for lang in lang_list},
        "per_language_type": per_language_type,
        "confusion": confusion,
        "errors": errors,
        "error_counts": {lang: {k: error_counts[lang].get(k, 0) for k in ERROR_KINDS} for lang in lang_list},
    }


def _tag_order(tag: str) -> tuple:
    from core.data.schemes import split_tag

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


def summary(result: dict) -> dict:
    """The stable CLI/JSON shape: ``overall``, ``per_language``, ``per_type`` and ``confusion``."""
    return {k: result[k] for k in ("overall", "macro", "per_language", "per_type", "per_language_type",
                                   "confusion", "error_counts")}
