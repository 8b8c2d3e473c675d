"""Scoring a stopped or failed run's best model on its dev and test data, as a background job.

A run that stopped or failed keeps the best model saved so far (``<run>/model``, with its step in
``ner_studio.json``). :func:`core.runs.jobs.launch_scoring` starts ``python -m core.runs.worker --score RUN_ID``,
which calls :data:`SCORING_ENTRYPOINT` (``core.train.scoring:score_run``: torch lives only there); that writes
``predictions_<split>.jsonl`` and records them as the run's artifacts, exactly like a finished run, so the
Evaluate and Review pages read them the same way. The job's state is the JSON file ``<run>/scoring.json``
(never the run's status: the run stays STOPPED or FAILED, and can still be resumed). Predictions made this way
are marked ``"from step N, stopped"`` wherever they are shown (:func:`prediction_mark`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from core.kernel.constants import FAILED, FINISHED, STOPPED
from core.kernel.files import atomic_write

SCORING_FILE = "scoring.json"
SCORING_LOG = "score.log"
#: ``module:function`` the scoring process runs: ``fn(run_id, store) -> {"splits": {split: n_sentences}}``.
SCORING_ENTRYPOINT = "core.train.scoring:score_run"
RUNNING_STATE = "RUNNING"


def best_model(run, run_dir: str | os.PathLike) -> tuple[str, int | None] | None:
    """The best model folder of a STOPPED or FAILED run and the step it comes from, or None when there is none
    (no ``config.json`` in ``<run_dir>/model``) or the run is in another state."""
    if run.status not in (STOPPED, FAILED):
        return None
    folder = Path(run.model_dir or Path(run_dir) / "model")
    if not (folder / "config.json").is_file():
        return None
    try:
        step = json.loads((folder / "ner_studio.json").read_text(encoding="utf-8")).get("step")
    except (OSError, ValueError):
        step = None
    return str(folder), (int(step) if isinstance(step, (int, float)) else None)


def read_state(run_dir: str | os.PathLike) -> dict | None:
    """The scoring job's state file (``state``: RUNNING / FINISHED / FAILED, ``pid``, ``step``, ``run_status``,
    ``started``, ``finished``, ``error``, ``splits``), None when the run was never scored this way."""
    path = Path(run_dir) / SCORING_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"state": FAILED, "error": f"{path} is unreadable"}
    return data if isinstance(data, dict) else None


def write_state(run_dir: str | os.PathLike, **fields) -> dict:
    """Merge ``fields`` into the state file (atomically) and return the new state."""
    state = {**(read_state(run_dir) or {}), **fields}
    atomic_write(Path(run_dir) / SCORING_FILE, json.dumps(state, indent=1, sort_keys=True))
    return state


def prediction_mark(run, run_dir: str | os.PathLike) -> str:
    """How to mark a run's predictions: ``"from step N, stopped"`` (or ``failed``) when they were made from a
    stopped or failed run's best model; '' for a finished run's own predictions."""
    if run.status == FINISHED:
        return ""
    state = read_state(run_dir)
    if not state or state.get("state") != FINISHED:
        return ""
    step = state.get("step")
    return f"from step {step if step is not None else '?'}, {str(state.get('run_status', run.status)).lower()}"


def describe(state: dict | None, now: float | None = None) -> str:
    """One line for a page: what the scoring job is doing or did."""
    if not state:
        return ""
    now = time.time() if now is None else now
    if state.get("state") == RUNNING_STATE:
        return f"scoring from step {state.get('step', '?')}: running for {now - state.get('started', now):.0f} s"
    if state.get("state") == FINISHED:
        splits = ", ".join(f"{k} ({v:,} sentences)" for k, v in (state.get("splits") or {}).items())
        return f"scored from step {state.get('step', '?')}: {splits}"
    return f"scoring failed: {state.get('error', 'no reason recorded')}"
