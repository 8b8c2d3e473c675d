"""Adaptation methods side by side: which method a run used, and per-language F1 grouped by method.

Three methods are told apart (:func:`run_method`): the shared fine-tune (one model for every language), per-language
adapters (``adapters = "per_language"``), and the fine-tune started from a pre-trained folder (continued masked-LM
pre-training, :mod:`core.train.pretrain`). The runs of one method are its seeds: :func:`compare_methods` gives,
per language, the mean F1 over them, their spread (sample standard deviation), how many there are and the mean's
difference from the shared fine-tune's. Runs are read duck-typed (``config``, ``data``, ``options``, ``run_id``
attributes, as :class:`core.runs.store.Run` has them), so this layer does not import the run store.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from core.kernel.constants import PRETRAIN_MARKER

SHARED = "shared fine-tune"
ADAPTERS = "per-language adapters"
PRETRAINED = "pre-trained start"
#: The methods in display order (the shared fine-tune first: it is the reference of the differences).
METHODS = (SHARED, ADAPTERS, PRETRAINED)
#: The row of the overall (all languages, micro-averaged) F1 in :func:`language_f1`.
ALL = "all"
#: Config keys that do not change what a run learns (where and how fast it ran); not compared within a group.
NEUTRAL_KEYS = frozenset({"seed", "device", "num_threads", "ddp_processes", "report_to", "eval_steps",
                          "eval_max_sentences"})


def is_pretrained_folder(path: Any) -> bool:
    """True when ``path`` is a folder holding :data:`PRETRAIN_MARKER` (a model saved by continued pre-training)."""
    if not isinstance(path, (str, Path)) or not str(path):
        return False
    try:
        return (Path(path) / PRETRAIN_MARKER).is_file()
    except OSError:
        return False


def run_method(run: Any) -> str:
    """The adaptation method of a run: :data:`ADAPTERS`, :data:`PRETRAINED` or :data:`SHARED`.

    ``config["adapters"] == "per_language"``: per-language adapters (whatever model they start from). Else a
    ``model_name_or_path`` folder holding :data:`PRETRAIN_MARKER`, or ``options["pretrained_from"]`` set: the
    pre-trained start. Else the shared fine-tune.
    """
    config = getattr(run, "config", None) or {}
    options = getattr(run, "options", None) or {}
    if config.get("adapters") == "per_language":
        return ADAPTERS
    if options.get("pretrained_from") or is_pretrained_folder(config.get("model_name_or_path")):
        return PRETRAINED
    return SHARED


def run_seed(run: Any) -> int | None:
    """``config["seed"]`` of a run, None when not recorded."""
    seed = (getattr(run, "config", None) or {}).get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def scoring_split(files: Mapping[str, str]) -> str | None:
    """The split a run is compared on: ``test`` when it has test predictions, else ``dev``, else None."""
    for split in ("test", "dev"):
        if files.get(split):
            return split
    return None


def language_f1(result: Mapping[str, Any]) -> dict[str, float]:
    """Language -> entity F1 of a :func:`core.eval.metrics.evaluate` result, plus :data:`ALL` (overall);
    languages whose F1 is undefined (None) are left out."""
    out = {lang: float(sc["f1"]) for lang, sc in (result.get("per_language") or {}).items()
           if sc.get("f1") is not None}
    overall = (result.get("overall") or {}).get("f1")
    if overall is not None:
        out[ALL] = float(overall)
    return out


def _data_key(run: Any) -> str:
    data = getattr(run, "data", None) or {}
    if data.get("dataset_id"):
        return f"dataset:{data['dataset_id']}"
    keep = {k: v for k, v in data.items() if k in ("train", "dev", "test") or k.startswith("max_")}
    return json.dumps(keep, sort_keys=True, default=str)


def data_label(run: Any) -> str:
    """A short name for a run's data: the dataset's name, else its training files' names."""
    data = getattr(run, "data", None) or {}
    if data.get("dataset_name"):
        return str(data["dataset_name"])
    train = data.get("train") or []
    train = [train] if isinstance(train, str) else train
    return ", ".join(str(p).replace("\\", "/").rsplit("/", 1)[-1] for p in train) or "(no data recorded)"


@dataclass
class MethodScore:
    """One method's F1 on one language over its runs.

    Attributes:
        method: one of :data:`METHODS`.
        lang: a language code, or :data:`ALL`.
        f1s: the runs' F1s (those runs scored on this language), in the runs' order.
        seeds: their seeds (None when a run did not record one).
        mean: mean of ``f1s``.
        std: sample standard deviation of ``f1s`` (``statistics.stdev``, n - 1 denominator); None for one run.
        delta: ``mean`` minus the shared fine-tune's mean on the same language (0.0 for the shared fine-tune
            itself); None without a shared fine-tune scored on that language.
    """

    method: str
    lang: str
    f1s: list[float]
    seeds: list[int | None]
    mean: float
    std: float | None
    delta: float | None = None

    @property
    def n(self) -> int:
        """How many runs the mean is over."""
        return len(self.f1s)


@dataclass
class MethodComparison:
    """:func:`compare_methods`' answer.

    Attributes:
        methods: the methods among the runs, in :data:`METHODS` order.
        languages: every language scored, sorted, :data:`ALL` last.
        scores: ``(lang, method)`` -> :class:`MethodScore` (absent: no run of that method scored on it).
        runs: method -> the ids of its runs.
        splits: run id -> the split it was scored on.
        warnings: what makes the comparison less than like for like (different data, mixed splits, runs of one
            method that differ in more than their seed, repeated seeds).
    """

    methods: list[str]
    languages: list[str]
    scores: dict[tuple[str, str], MethodScore]
    runs: dict[str, list[str]]
    splits: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def split_label(self) -> str:
        """``test``, ``dev``, or ``test (dev for runs without test predictions)`` when mixed."""
        used = set(self.splits.values())
        if len(used) > 1:
            return "test (dev for runs without test predictions)"
        return next(iter(used), "dev")


def _config_differences(runs: Sequence[Any]) -> list[str]:
    keys = sorted({k for r in runs for k in (getattr(r, "config", None) or {})} - NEUTRAL_KEYS)
    return [k for k in keys
            if len({json.dumps((getattr(r, "config", None) or {}).get(k), sort_keys=True, default=str)
                    for r in runs}) > 1]


def _warnings(runs: Sequence[Any], by_method: Mapping[str, list[Any]], splits: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    data: dict[str, list[Any]] = {}
    for r in runs:
        data.setdefault(_data_key(r), []).append(r)
    if len(data) > 1:
        parts = "; ".join(f"{data_label(rs[0])} ({', '.join(r.run_id for r in rs)})" for rs in data.values())
        out.append(f"The chosen runs were trained on different data: {parts}. Their scores are not like for like.")
    used = {}
    for rid, sp in splits.items():
        used.setdefault(sp, []).append(rid)
    if len(used) > 1:
        out.append("Scored on different splits: " + "; ".join(f"{sp}: {', '.join(ids)}" for sp, ids in
                                                                sorted(used.items())) + ".")
    for method, rs in by_method.items():
        if len(rs) < 2:
            continue
        diff = _config_differences(rs)
        if diff:
            out.append(f"{method}: the runs differ in {', '.join(diff)}, not only in their seed; the spread is "
                       "not over seeds alone.")
        seeds = [run_seed(r) for r in rs]
        repeated = sorted({s for s in seeds if s is not None and seeds.count(s) > 1})
        if repeated:
            out.append(f"{method}: several runs share seed {', '.join(map(str, repeated))}; the spread counts "
                       "them as separate seeds.")
    return out


def compare_methods(runs: Sequence[Any], f1: Mapping[str, Mapping[str, float | None]],
                    splits: Mapping[str, str] | None = None) -> MethodComparison:
    """Per-language F1 of the chosen runs grouped by adaptation method.

    Args:
        runs: the chosen runs (``run_id``, ``config``, ``data``, ``options``).
        f1: run id -> language -> entity F1 of that run (for instance :func:`language_f1` of its rescored
            predictions); a run missing here, or a None F1, counts for nothing on that language.
        splits: run id -> the split its F1s come from (for the warnings and :attr:`MethodComparison.split_label`).

    Returns:
        A :class:`MethodComparison`: per language and method the mean F1, the sample standard deviation over the
        runs (seeds; ``statistics.stdev``, None for a single run), the number of runs, and the mean's difference
        from the shared fine-tune's (None without one scored on that language), with warnings when the runs
        were trained on different data, scored on different splits, or a method's runs differ in more than
        their seed.
    """
    splits = {r.run_id: splits[r.run_id] for r in runs if splits and r.run_id in splits}
    by_method: dict[str, list[Any]] = {}
    for r in runs:
        by_method.setdefault(run_method(r), []).append(r)
    methods = [m for m in METHODS if m in by_method]
    langs = sorted({lang for r in runs for lang, v in (f1.get(r.run_id) or {}).items() if v is not None} - {ALL})
    if any((f1.get(r.run_id) or {}).get(ALL) is not None for r in runs):
        langs.append(ALL)
    scores: dict[tuple[str, str], MethodScore] = {}
    for lang in langs:
        for method in methods:
            pairs = [(float(v), run_seed(r)) for r in by_method[method]
                     if (v := (f1.get(r.run_id) or {}).get(lang)) is not None]
            if not pairs:
                continue
            vals = [v for v, _ in pairs]
            scores[(lang, method)] = MethodScore(method, lang, vals, [s for _, s in pairs], statistics.fmean(vals),
                                                 statistics.stdev(vals) if len(vals) > 1 else None)
        ref = scores.get((lang, SHARED))
        for method in methods:
            sc = scores.get((lang, method))
            if sc is not None and ref is not None:
                sc.delta = sc.mean - ref.mean
    return MethodComparison(methods, langs, scores, {m: [r.run_id for r in by_method[m]] for m in methods}, splits,
                            _warnings(runs, by_method, splits))


def _fmt(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def comparison_rows(comparison: MethodComparison) -> list[dict]:
    """Table rows, one per language x method: ``language``, ``method``, ``F1`` (``mean ± std``, or the mean
    alone for one run), ``mean``, ``std``, ``n``, ``Δ vs shared`` (signed, ``–`` when unknown), ``seeds``."""
    rows = []
    for lang in comparison.languages:
        for method in comparison.methods:
            sc = comparison.scores.get((lang, method))
            if sc is None:
                rows.append({"language": lang, "method": method, "F1": "–", "mean": None, "std": None, "n": 0,
                             "Δ vs shared": "–", "seeds": ""})
                continue
            text = _fmt(sc.mean) + (f" ± {sc.std:.3f}" if sc.std is not None else "")
            rows.append({"language": lang, "method": method, "F1": text, "mean": round(sc.mean, 4),
                         "std": None if sc.std is None else round(sc.std, 4), "n": sc.n,
                         "Δ vs shared": _fmt(sc.delta, signed=True),
                         "seeds": ", ".join("?" if s is None else str(s) for s in sc.seeds)})
    return rows


def figure_series(comparison: MethodComparison) -> tuple[dict[str, dict[str, float]],
                                                         dict[str, dict[str, float | None]]]:
    """``(means, stds)``: method -> language -> mean F1 and its standard deviation, languages in the comparison's
    order (for :func:`core.ui.plots.method_comparison_figure`)."""
    means: dict[str, dict[str, float]] = {}
    stds: dict[str, dict[str, float | None]] = {}
    for method in comparison.methods:
        cells = [comparison.scores[(lang, method)] for lang in comparison.languages
                 if (lang, method) in comparison.scores]
        means[method] = {sc.lang: sc.mean for sc in cells}
        stds[method] = {sc.lang: sc.std for sc in cells}
    return means, stds


__all__ = ["ADAPTERS", "ALL", "METHODS", "MethodComparison", "MethodScore", "PRETRAINED", "SHARED",
           "compare_methods", "comparison_rows", "data_label", "figure_series", "is_pretrained_folder", "language_f1",
           "run_method", "run_seed", "scoring_split"]
