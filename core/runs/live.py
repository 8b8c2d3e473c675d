"""Incremental metric series for the live training panel.

The panel keeps one :class:`LiveSeries` per run (in the browser session) and feeds it only the metric rows it
has not seen (:meth:`core.runs.store.RunStore.metrics_since` with :attr:`LiveSeries.last_id`), so a refresh every
two seconds reads a handful of rows however long the run is. When the run's ``attempt`` changes (a resume
rewinds the metric rows after its checkpoint) the series starts over from the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from core.runs.store import Metric

#: Metric key prefix of per-language dev F1 (``eval_f1_es``...).
LANG_F1_PREFIX = "eval_f1_"
#: Step-rate window for the ETA: the last this many (step, time) observations.
RATE_WINDOW = 20


@dataclass
class LiveSeries:
    """Points of every metric key of one run, grown incrementally.

    Attributes:
        run_id: the run.
        attempt: the run's ``attempt`` these points belong to.
        last_id: largest metric row id consumed.
        points: key -> list of ``(step, value)``, in insertion order.
        ticks: recent ``(step, time)`` pairs (unix seconds) for the step rate.
        reads: how many non-empty batches of rows were consumed (for tests and diagnostics).
    """

    run_id: str
    attempt: int = 0
    last_id: int = 0
    points: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    ticks: list[tuple[int, float]] = field(default_factory=list)
    reads: int = 0

    def add(self, rows: Iterable[Metric]) -> int:
        """Consume metric rows (those with ``id <= last_id`` are ignored); returns how many were new."""
        n = 0
        for m in rows:
            if m.id <= self.last_id:
                continue
            self.points.setdefault(m.key, []).append((m.step, m.value))
            if not self.ticks or m.step > self.ticks[-1][0]:
                self.ticks.append((m.step, m.time))
                del self.ticks[:-RATE_WINDOW]
            self.last_id = m.id
            n += 1
        if n:
            self.reads += 1
        return n

    def get(self, key: str) -> list[tuple[int, float]]:
        """Points of ``key`` (empty when never logged)."""
        return self.points.get(key, [])

    def last(self, key: str) -> float | None:
        pts = self.points.get(key)
        return pts[-1][1] if pts else None

    def per_language_f1(self) -> dict[str, list[tuple[int, float]]]:
        """Language -> dev F1 points, from the ``eval_f1_<lang>`` keys."""
        return {k[len(LANG_F1_PREFIX):]: v for k, v in self.points.items() if k.startswith(LANG_F1_PREFIX)}

    def steps_per_s(self) -> float | None:
        """Recent optimizer steps per second (None until two steps were seen at different times)."""
        if len(self.ticks) < 2:
            return None
        (s0, t0), (s1, t1) = self.ticks[0], self.ticks[-1]
        if t1 <= t0 or s1 <= s0:
            return None
        return (s1 - s0) / (t1 - t0)

    def eta_seconds(self, step: int, total_steps: int | None) -> float | None:
        """Seconds left at the recent step rate; None while the rate or the total is unknown."""
        rate = self.steps_per_s()
        if rate is None or not total_steps:
            return None
        return max(0, total_steps - step) / rate


def refresh(series: LiveSeries | None, run_id: str, attempt: int, fetch) -> LiveSeries:
    """Bring ``series`` up to date: start over when it is missing or belongs to another run or attempt.

    Args:
        series: the series kept so far (or None).
        run_id: the run.
        attempt: the run's current ``attempt``.
        fetch: ``fetch(after_id) -> list[Metric]`` (e.g. ``lambda a: store.metrics_since(run_id, a)``).

    Returns:
        The (possibly new) series, with every row up to now consumed.
    """
    if series is None or series.run_id != run_id or series.attempt != attempt:
        series = LiveSeries(run_id=run_id, attempt=attempt)
    series.add(fetch(series.last_id))
    return series


#: Bounds of the live panel's refresh interval (seconds).
MIN_INTERVAL_S = 2.0
MAX_INTERVAL_S = 10.0


def live_interval(series: LiveSeries | None) -> float:
    """Seconds between two refreshes of a live panel: about one optimizer step, within [2, 10] s.

    A run that logs a step every 8 s gains nothing from a refresh every 2 s, and each refresh costs the
    server CPU (the worker's core on a small machine); a fast run is shown every 2 s. Unknown rate: 2 s.
    """
    rate = series.steps_per_s() if series is not None else None
    if not rate:
        return MIN_INTERVAL_S
    return min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, 1.0 / rate))
