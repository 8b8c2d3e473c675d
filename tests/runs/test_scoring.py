"""The scoring job's bookkeeping (core.runs.scoring, jobs.launch_scoring / scoring_status, worker.score_worker),
with fake entry points: no torch. The real job with the tiny model is tests/train/test_scoring.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.kernel.errors import ConfigError, RunError
from core.runs import jobs, scoring, worker
from core.runs.store import FAILED, FINISHED, STOPPED


def _stopped(store, step=9, status=STOPPED):
    run = store.create_run({"model_name_or_path": "m"}, {"train": ["x"]})
    model = store.run_dir(run.run_id) / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "ner_studio.json").write_text(json.dumps({"step": step}))
    store.set_status(run.run_id, status)
    return store.get_run(run.run_id)


def fake_ok(run_id, store):
    return {"splits": {"dev": 3}, "step": 9}


def fake_bad(run_id, store):
    raise ConfigError("E202", "fake bad value")


def test_best_model_only_for_stopped_or_failed_runs_that_saved_one(store):
    run = _stopped(store, 9)
    assert scoring.best_model(run, store.run_dir(run.run_id)) == (str(store.run_dir(run.run_id) / "model"), 9)
    store.set_status(run.run_id, FINISHED)
    assert scoring.best_model(store.get_run(run.run_id), store.run_dir(run.run_id)) is None
    bare = store.create_run({"model_name_or_path": "m"})
    store.set_status(bare.run_id, STOPPED)
    assert scoring.best_model(store.get_run(bare.run_id), store.run_dir(bare.run_id)) is None
    with pytest.raises(RunError, match=r"\[E305\].*no saved best model"):
        jobs.launch_scoring(bare.run_id, store)


def test_score_worker_records_success_and_a_coded_failure(store):
    run = _stopped(store, 9, FAILED)
    rdir = store.run_dir(run.run_id)
    assert worker.score_worker(run.run_id, store, f"{__file__}:fake_ok") == 0
    state = scoring.read_state(rdir)
    assert state["state"] == FINISHED and state["splits"] == {"dev": 3}
    assert scoring.prediction_mark(run, rdir) == "from step 9, failed"
    assert scoring.describe(state) == "scored from step 9: dev (3 sentences)"
    assert worker.score_worker(run.run_id, store, f"{__file__}:fake_bad") == 1
    state = scoring.read_state(rdir)
    assert state["state"] == FAILED and state["error"].startswith("[E202] fake bad value")
    assert scoring.prediction_mark(run, rdir) == ""  # the last job failed: nothing to mark
    assert store.get_run(run.run_id).status == FAILED  # the run itself is untouched


def test_a_scoring_job_that_died_is_recorded_failed_with_its_log(store):
    run = _stopped(store)
    rdir = store.run_dir(run.run_id)
    proc = subprocess.Popen([sys.executable, "-c", "print('loading the model'); raise SystemExit(9)"],
                            stdout=(rdir / scoring.SCORING_LOG).open("ab"), stderr=subprocess.STDOUT)
    proc.wait()
    scoring.write_state(rdir, state=scoring.RUNNING_STATE, pid=proc.pid, step=9, run_status=STOPPED)
    state = jobs.scoring_status(run.run_id, store)
    assert state["state"] == FAILED and state["error"].startswith(f"[E307] the scoring process {proc.pid} is gone")
    assert "loading the model" in state["error"]


def test_a_running_job_is_not_started_twice(store, monkeypatch):
    run = _stopped(store)
    import os

    scoring.write_state(store.run_dir(run.run_id), state=scoring.RUNNING_STATE, pid=os.getpid())
    with pytest.raises(RunError, match=r"\[E305\].*being scored already"):
        jobs.launch_scoring(run.run_id, store)
