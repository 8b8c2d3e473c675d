"""Reviewer corrections: an append-only JSON Lines log per reviewed source, latest edit of a sentence wins.

A *source* is what the reviewer browses: a run's predictions on one split (``run-<run_id>-<split>``) or a
saved dataset (``dataset-<dataset_id>``). Its log lives at ``<workspace>/reviews/<source_id>.jsonl``; every
decision is one line written at once (``O_APPEND``, flushed and fsynced), so a reload, a second tab or a
server restart sees every edit, and the history is never rewritten::

    {"index": 12, "tokens_sha1": "...", "tags": ["B-PER", "O"], "action": "edit", "reviewer": "ana",
     "time": 1760000000.0, "note": "span 0-1 -> PER"}

``index`` is the sentence's position in the source (the line order of a predictions file, the sentence
order of a dataset); ``tokens_sha1`` guards against applying an edit to a different sentence when the source
changed. ``tags`` is the whole corrected IOB2 tag list, so replaying the log is trivial: the last line of an
index wins.

Span edits follow span-annotation tools (displaCy / Prodigy): a new span replaces every entity it overlaps,
and the label ``O`` deletes the entities the chosen tokens touch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from core.data.corpus import Sentence
from core.data.schemes import entities, to_iob2

ACTIONS = ("accept", "keep", "edit")
REVIEWS_DIR = "reviews"
_LABEL_RE = re.compile(r"^[^\s]+$")


def tokens_sha1(tokens: Sequence[str]) -> str:
    """Stable fingerprint of a token list (tokens joined by U+0001, UTF-8, SHA-1 hex)."""
    return hashlib.sha1("\x01".join(tokens).encode("utf-8")).hexdigest()


def source_id_for_run(run_id: str, split: str) -> str:
    """Source id of a run's predictions on ``split``."""
    return f"run-{run_id}-{split}"


def source_id_for_dataset(dataset_id: str) -> str:
    """Source id of a saved dataset."""
    return f"dataset-{dataset_id}"


def review_path(workspace: str | os.PathLike, source_id: str) -> Path:
    """``<workspace>/reviews/<source_id>.jsonl``.

    Raises:
        ValueError: a source id with characters other than letters, digits, ``.``, ``_`` and ``-``.
    """
    if not re.fullmatch(r"[A-Za-z0-9._-]+", source_id):
        raise ValueError(f"invalid review source id {source_id!r}")
    return Path(workspace) / REVIEWS_DIR / f"{source_id}.jsonl"


@dataclass(frozen=True)
class Correction:
    """One reviewer decision on one sentence.

    Attributes:
        index: position of the sentence in its source.
        tokens_sha1: :func:`tokens_sha1` of the sentence's tokens.
        tags: the corrected IOB2 tags (one per token).
        action: ``accept`` (the prediction), ``keep`` (the gold) or ``edit`` (a span changed).
        reviewer: who decided.
        time: unix seconds.
        note: free text (e.g. which span changed).
    """

    index: int
    tokens_sha1: str
    tags: tuple[str, ...]
    action: str
    reviewer: str
    time: float
    note: str = ""

    def to_json(self) -> str:
        rec = dataclasses.asdict(self)
        rec["tags"] = list(self.tags)
        return json.dumps(rec, ensure_ascii=False)


class ReviewLog:
    """The corrections of one source.

    Args:
        path: the JSON Lines file (see :func:`review_path`); created with its folder on the first record.

    Attributes:
        skipped: lines of the file that could not be read at the last :meth:`history` call (a torn write);
            they are reported, never silently used.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.skipped: list[int] = []

    def record(self, index: int, tokens: Sequence[str], tags: Sequence[str], *, action: str, reviewer: str,
               note: str = "", when: float | None = None) -> Correction:
        """Append one decision (written and fsynced before returning).

        Raises:
            ValueError: unknown action, empty reviewer, negative index, or tags that are not one IOB2 tag
                per token.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown review action {action!r}; expected one of {', '.join(ACTIONS)}")
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise ValueError("a reviewer name is required")
        if int(index) < 0:
            raise ValueError(f"sentence index must be >= 0, got {index}")
        if len(tags) != len(tokens):
            raise ValueError(f"{len(tags)} tags for {len(tokens)} tokens")
        fixed, repairs = to_iob2(list(tags), "IOB2")
        if repairs:
            raise ValueError(f"tags are not valid IOB2 (an I- tag starts an entity): {list(tags)}")
        corr = Correction(int(index), tokens_sha1(tokens), tuple(fixed), action, reviewer,
                          time.time() if when is None else float(when), note)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = (corr.to_json() + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return corr

    def history(self) -> list[Correction]:
        """Every decision in the order written; unreadable lines are listed in :attr:`skipped`."""
        self.skipped = []
        if not self.path.exists():
            return []
        out: list[Correction] = []
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    out.append(Correction(int(rec["index"]), str(rec["tokens_sha1"]), tuple(rec["tags"]),
                                          str(rec["action"]), str(rec["reviewer"]), float(rec["time"]),
                                          str(rec.get("note", ""))))
                except (ValueError, KeyError, TypeError):
                    self.skipped.append(lineno)
        return out

    def latest(self) -> dict[int, Correction]:
        """Sentence index -> its last decision."""
        return {c.index: c for c in self.history()}


def edit_span(tags: Sequence[str], start: int, end: int, label: str) -> list[str]:
    """Tags after labelling tokens ``[start, end)`` as ``label`` (``O`` deletes).

    Every entity that overlaps the range is removed first (all of its tokens become ``O``), then the range
    becomes ``B-label I-label ...`` unless ``label`` is ``O``. The result is valid IOB2.

    Args:
        tags: IOB2 tags of the sentence.
        start: first token (0-based, inclusive).
        end: token after the last one (exclusive).
        label: an entity type such as ``PER`` (no ``B-``/``I-`` prefix, no whitespace), or ``O``.

    Raises:
        ValueError: an empty or out-of-range token range, or a malformed label.
    """
    n = len(tags)
    if not (0 <= start < end <= n):
        raise ValueError(f"token range [{start}, {end}) is not inside a sentence of {n} tokens")
    if label != "O" and (not _LABEL_RE.match(label or "") or label[:2] in ("B-", "I-")):
        raise ValueError(f"invalid entity type {label!r}: give a type such as PER, without B-/I-, or O")
    new, _ = to_iob2(list(tags), "IOB2")
    for _typ, s, e in entities(new):
        if s < end and start < e:
            new[s:e] = ["O"] * (e - s)
    if label != "O":
        new[start] = f"B-{label}"
        new[start + 1:end] = [f"I-{label}"] * (end - start - 1)
    return new


def apply_corrections(sentences: Sequence[Sentence], latest: dict[int, Correction]
                      ) -> tuple[list[Sentence], list[int]]:
    """Copies of ``sentences`` with each corrected sentence's tags replaced by its latest decision.

    Returns:
        ``(corrected sentences, mismatched indices)``: an index whose recorded ``tokens_sha1`` differs from
        the sentence now at that position (the source changed) is not applied and is listed instead.
    """
    out: list[Sentence] = []
    mismatched: list[int] = []
    for i, s in enumerate(sentences):
        corr = latest.get(i)
        if corr is not None and corr.tokens_sha1 != tokens_sha1(s.tokens):
            mismatched.append(i)
            corr = None
        out.append(dataclasses.replace(s, tokens=list(s.tokens),
                                       ner_tags=list(corr.tags) if corr else list(s.ner_tags)))
    return out, mismatched


def count_by_action(corrections: Iterable[Correction]) -> dict[str, int]:
    """Action -> number of sentences whose latest decision is that action."""
    counts = {a: 0 for a in ACTIONS}
    for c in corrections:
        counts[c.action] = counts.get(c.action, 0) + 1
    return counts
