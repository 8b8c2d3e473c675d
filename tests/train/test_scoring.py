"""The scoring job for real: a stopped run's best model (the tiny model) predicts dev and test in its own process."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from core.data.loader import load_corpus

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "demo"


@pytest.mark.slow
def test_stopped_run_is_scored_in_a_background_process(tiny_model_dir, tmp_path, monkeypatch):
    from core.eval.analysis import load_predictions, runs_with_predictions
    from core.runs import jobs, scoring
    from core.runs.store import STOPPED, RunStore

    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "ws"))
    store = RunStore(tmp_path / "ws")
    run = store.create_run({"model_name_or_path": tiny_model_dir, "max_seq_length": 64, "stride": 8,
                            "device": "cpu", "num_threads": 1},
                           {"train": [str(DEMO / "train.conll")], "dev": [str(DEMO / "dev.conll")],
                            "test": [str(DEMO / "test.conll")]}, name="stopped halfway")
    model = store.run_dir(run.run_id) / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "ner_studio.json").write_text(json.dumps({"step": 17, "max_seq_length": 64, "stride": 8}))
    store.set_status(run.run_id, STOPPED)
    pid = jobs.launch_scoring(run.run_id, store)
    assert jobs.scoring_status(run.run_id, store)["state"] == "RUNNING"
    deadline = time.time() + 240
    while (state := jobs.scoring_status(run.run_id, store))["state"] == "RUNNING" and time.time() < deadline:
        time.sleep(0.3)
    log = (store.run_dir(run.run_id) / scoring.SCORING_LOG).read_text()
    assert state["state"] == "FINISHED", (state, log[-3000:])
    assert state["pid"] == pid and state["step"] == 17 and state["run_status"] == STOPPED
    n = {split: len(load_corpus([str(DEMO / f"{split}.conll")]).sentences) for split in ("dev", "test")}
    assert state["splits"] == n
    runs, files = runs_with_predictions(store)
    assert [r.run_id for r in runs] == [run.run_id] and set(files[run.run_id]) == {"dev", "test"}
    records = load_predictions(files[run.run_id]["dev"])
    assert len(records) == n["dev"] and all(r.pred is not None and len(r.pred) == len(r.tokens) for r in records)
    after = store.get_run(run.run_id)
    assert after.status == STOPPED  # the run itself is untouched: it can still be resumed
    assert scoring.prediction_mark(after, store.run_dir(run.run_id)) == "from step 17, stopped"
