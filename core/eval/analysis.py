"""Error analysis over a run's predictions: reading prediction files, scoring them, finding the sentences
behind a confusion-matrix cell, and filtering sentences for review.

Prediction files are the JSON Lines artifacts a finished run stores (``predictions_dev`` /
``predictions_test``, see :func:`core.train.loop.write_predictions`): one object per sentence with ``tokens``,
``ner_tags`` (gold), ``pred_tags``, ``scores``, ``lang``, ``source`` and ``line``. Entities are read with
:func:`core.eval.metrics.entity_sets` in the chosen scoring mode, on the gold tags as the corpus had them
(``gold_tags`` and ``scheme`` in the file; older files without them: the IOB2 ``ner_tags``), so the sentences
behind a confusion cell are exactly those the scores counted. Review filters (no mode chosen there) use the
default mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from core.data.corpus import Sentence
from core.kernel.errors import CorpusError
from core.data.schemes import entities, from_iob2, to_iob2
from core.eval.metrics import (DEFAULT_MODE, MISSED, SPURIOUS, classify_errors, entity_confusion_rows, entity_sets,
                                evaluate)

PREDICTION_KINDS = {"dev": "predictions_dev", "test": "predictions_test"}


@dataclass
class Record:
    """One sentence with gold and (optionally) predicted tags.

    Attributes:
        index: position in its source (line order of the predictions file, or sentence order of a dataset).
        tokens: words.
        gold: gold IOB2 tags.
        pred: predicted IOB2 tags, or None for a dataset without predictions.
        scores: probability of each predicted tag, or None.
        lang: language code.
        where: ``file:line`` of the sentence, or ''.
        split: the split, when known.
        scheme: the scheme of the gold tags as the corpus had them (``source_gold``).
        source_gold: the gold tags as the corpus had them (None: the same as ``gold``); the scores use these.
    """

    index: int
    tokens: list[str]
    gold: list[str]
    pred: list[str] | None = None
    scores: list[float] | None = None
    lang: str = "und"
    where: str = ""
    split: str | None = None
    scheme: str = "IOB2"
    source_gold: list[str] | None = None

    @property
    def scored_gold(self) -> list[str]:
        """The gold tags the scores are computed on (as the corpus had them)."""
        return self.source_gold if self.source_gold is not None else self.gold

    def scored_pred(self) -> list[str] | None:
        """The predicted (IOB2) tags in the gold scheme, for token-level comparisons; None without predictions."""
        if self.pred is None:
            return None
        return list(self.pred) if self.scheme == "IOB2" else from_iob2(to_iob2(self.pred, "IOB2")[0], self.scheme)

    @property
    def disagrees(self) -> bool:
        return self.pred is not None and list(self.pred) != list(self.gold)


def load_predictions(path: str) -> list[Record]:
    """Read a predictions JSON Lines file.

    Raises:
        CorpusError: ``E101`` when the file is missing; ``E105`` for a line that is not a JSON object with
            ``tokens``, ``ner_tags`` and ``pred_tags`` of equal length (``E107``).
    """
    p = Path(path)
    if not p.exists():
        raise CorpusError("E101", f"predictions file {p} does not exist", file=str(p),
                          fix="The run may have been deleted or not finished; pick another run.")
    out: list[Record] = []
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                tokens, gold, pred = list(rec["tokens"]), list(rec["ner_tags"]), list(rec["pred_tags"])
            except (ValueError, KeyError, TypeError) as exc:
                raise CorpusError("E105", f"bad predictions line: {exc}", file=str(p), line=lineno,
                                  text=line[:200]) from exc
            if not (len(tokens) == len(gold) == len(pred)):
                raise CorpusError("E107", f"{len(tokens)} tokens, {len(gold)} gold and {len(pred)} predicted tags",
                                  file=str(p), line=lineno)
            src = rec.get("source") or ""
            raw = rec.get("gold_tags")
            raw = list(raw) if isinstance(raw, list) and len(raw) == len(gold) and raw != gold else None
            out.append(Record(len(out), tokens, gold, pred, rec.get("scores"), rec.get("lang") or "und",
                              f"{Path(src).name}:{rec.get('line', 0)}" if src else "",
                              scheme=str(rec.get("scheme") or "IOB2"), source_gold=raw))
    return out


def records_from_sentences(sentences: Sequence[Sentence]) -> list[Record]:
    """Records of a dataset (gold only)."""
    return [Record(i, list(s.tokens), list(s.ner_tags), None, None, s.lang,
                   f"{Path(s.source).name}:{s.line_start}" if s.source else "", s.split, s.scheme or "IOB2",
                   list(s.raw_tags) if s.raw_tags is not None else None)
            for i, s in enumerate(sentences)]


def records_to_sentences(records: Sequence[Record], split: str | None = None) -> list[Sentence]:
    """Sentences with the records' gold tags (for export), keeping language and split."""
    return [Sentence(tokens=list(r.tokens), ner_tags=list(r.gold), lang=r.lang, split=split or r.split)
            for r in records]


def evaluate_records(records: Sequence[Record], mode: str = DEFAULT_MODE) -> dict:
    """:func:`core.eval.metrics.evaluate` of records with predictions in ``mode`` (entity and token scores,
    confusion, errors), the gold tags in their own scheme, the predictions IOB2."""
    rs = [r for r in records if r.pred is not None]
    return evaluate([r.scored_gold for r in rs], [r.pred for r in rs], [r.lang for r in rs], [r.tokens for r in rs],
                    mode=mode, scheme=[r.scheme for r in rs], pred_scheme="IOB2")


def prediction_files(artifacts: Iterable) -> dict[str, str]:
    """Split -> path of the latest predictions artifact (``dev``/``test``) among a run's artifacts."""
    out: dict[str, str] = {}
    for a in artifacts:
        for split, kind in PREDICTION_KINDS.items():
            if a.kind == kind:
                out[split] = a.path
    return {s: out[s] for s in PREDICTION_KINDS if s in out}


def runs_with_predictions(store) -> tuple[list, dict[str, dict[str, str]]]:
    """Runs (newest first) that have prediction files, and run id -> {split: path} for them."""
    runs = store.list_runs()
    files = {r.run_id: prediction_files(store.list_artifacts(r.run_id)) for r in runs}
    return [r for r in runs if files[r.run_id]], {k: v for k, v in files.items() if v}


def _ents(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    return set(entities(tags))


def record_entities(records: Sequence[Record], mode: str = DEFAULT_MODE) -> list[tuple[set, set]]:
    """``(gold entities, predicted entities)`` of each record with predictions, read as the scores read them."""
    rs = [r for r in records if r.pred is not None]
    g = entity_sets([r.scored_gold for r in rs], [r.scheme for r in rs], mode)
    p = entity_sets([r.pred for r in rs], ["IOB2"] * len(rs), mode)
    return list(zip(g, p))


def cell_sentences(records: Sequence[Record], lang: str, level: str, gold: str, pred: str,
                   mode: str = DEFAULT_MODE) -> list[int]:
    """Indices of the records behind one confusion-matrix cell.

    Args:
        records: records with predictions.
        lang: a language code, or ``all``.
        level: ``token`` (gold tag x predicted tag of one token) or ``entity`` (gold type or ``SPURIOUS`` x
            predicted type or ``MISSED``, as :func:`core.eval.metrics.entity_confusion_rows` pairs them).
        gold: the row label.
        pred: the column label.
        mode: the scoring mode the matrix was computed in.

    Raises:
        ValueError: unknown level.
    """
    if level not in ("token", "entity"):
        raise ValueError(f"level must be 'token' or 'entity', got {level!r}")
    rs = [r for r in records if r.pred is not None and (lang == "all" or r.lang == lang)]
    sets = record_entities(rs, mode) if level == "entity" else [None] * len(rs)
    out = []
    for r, ents in zip(rs, sets):
        if level == "token":
            hit = any(g == gold and p == pred for g, p in zip(r.scored_gold, r.scored_pred()))
        else:
            hit = (gold, pred) in entity_confusion_rows(*ents)
        if hit:
            out.append(r.index)
    return out


def error_kinds(record: Record, mode: str = DEFAULT_MODE) -> set[str]:
    """Error kinds of one sentence (``missed``, ``spurious``, ``wrong type``...) in ``mode``; empty without
    predictions."""
    if record.pred is None:
        return set()
    return {e["kind"] for e in classify_errors(*record_entities([record], mode)[0])}


def entity_types(records: Iterable[Record]) -> list[str]:
    """Sorted entity types found in gold or predicted tags."""
    types: set[str] = set()
    for r in records:
        for tags in (r.gold, r.pred or []):
            types.update(t for t, _, _ in entities(tags))
    return sorted(types)


def filter_records(records: Sequence[Record], *, langs: Sequence[str] | None = None, entity_type: str | None = None,
                   error_kind: str | None = None, disagreements_only: bool = False) -> list[Record]:
    """Records matching every given filter.

    Args:
        langs: keep these languages (None or empty: all).
        entity_type: keep sentences with an entity of this type in gold or prediction.
        error_kind: keep sentences with at least one error of this kind (see :data:`core.eval.metrics.ERROR_KINDS`).
        disagreements_only: keep sentences whose predicted tags differ from the gold tags.
    """
    out = []
    for r in records:
        if langs and r.lang not in langs:
            continue
        if disagreements_only and not r.disagrees:
            continue
        if entity_type and not any(t == entity_type for tags in (r.gold, r.pred or []) for t, _, _ in entities(tags)):
            continue
        if error_kind and error_kind not in error_kinds(r):
            continue
        out.append(r)
    return out


def top_confusion(rows: Sequence[str], cols: Sequence[str], matrix: Sequence[Sequence[int]]) -> tuple[str, str] | None:
    """The most frequent confusion ``(row, col)`` whose labels differ (ties: first in row-major order), else
    the largest cell; None for an empty matrix."""
    best, best_n = None, -1
    for diagonal_ok in (False, True):
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                if (r == c) and not diagonal_ok:
                    continue
                if matrix[i][j] > best_n and matrix[i][j] > 0:
                    best, best_n = (r, c), matrix[i][j]
        if best is not None:
            return best
    return None


__all__ = ["MISSED", "SPURIOUS", "Record", "cell_sentences", "entity_types", "error_kinds", "evaluate_records",
           "filter_records", "load_predictions", "prediction_files", "runs_with_predictions", "records_from_sentences",
           "records_to_sentences", "top_confusion"]
