"""The Runs page's Export button: a background process (never the page) exports the run, and the page shows
running / finished / refused states from the run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.data.writers import write_corpus
from core.deploy import background
from core.runs.store import FINISHED

ROOT = Path(__file__).resolve().parents[2]


def _run_with_model(store, model_dir, tmp_path, gold_sentences):
    test = tmp_path / "test.jsonl"
    write_corpus(gold_sentences, str(test), to="jsonl")
    run = store.create_run({"model_name_or_path": "tiny"}, {"train": [], "test": [str(test)]}, name="tiny")
    store.set_status(run.run_id, "RUNNING")
    store.set_status(run.run_id, FINISHED, model_dir=model_dir, summary={"languages": ["de", "es"]})
    return run


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _open_runs() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_background_export_of_a_run_end_to_end(store, tmp_path, tiny_model_dir, gold_sentences):
    run = _run_with_model(store, tiny_model_dir, tmp_path, gold_sentences)
    assert background.export_status(run.run_id, store).state == "none"
    background.start_export(run.run_id, store, quantize=True)
    deadline = time.time() + 240
    while (status := background.export_status(run.run_id, store)).state == "running" and time.time() < deadline:
        time.sleep(0.5)
    assert status.state in ("finished", "refused"), status.message
    assert status.report["check"]["split"] == "test"  # the run's test set was found and re-scored
    assert {r["backend"] for r in status.rows} == {"torch", "onnx_fp32", "onnx_int8"}
    assert Path(status.folder, "model.onnx").is_file()
    assert any(a.kind == "onnx" for a in store.list_artifacts(run.run_id))


def test_page_button_starts_the_export_and_shows_running(store, tmp_path, tiny_model_dir, gold_sentences,
                                                         monkeypatch):
    run = _run_with_model(store, tiny_model_dir, tmp_path, gold_sentences)
    calls = []

    def fake_start(run_id, st_store, quantize=True):
        calls.append((run_id, quantize))
        (st_store.run_dir(run_id) / background.PID_NAME).write_text(str(os.getpid()))  # alive: "running"
        return os.getpid()

    monkeypatch.setattr(background, "start_export", fake_start)
    at = _open_runs()
    at.button(key="runs_export").click().run()
    assert calls == [(run.run_id, True)]
    assert any("in the background" in i.value for i in at.info)
    assert at.button(key="runs_export").disabled is True


def test_page_shows_the_finished_report_and_a_refusal(store, tmp_path, tiny_model_dir, gold_sentences):
    run = _run_with_model(store, tiny_model_dir, tmp_path, gold_sentences)
    rdir = store.run_dir(run.run_id)
    report = {"check": {"split": "test", "n_sentences": 6}, "threads": 1, "model_file": "model.onnx",
              "backends": {"torch": {"overall_f1": 0.8, "per_language": {"es": 0.8}, "sentences_per_s": 10.0},
                           "onnx_int8": {"overall_f1": 0.7, "per_language": {"es": 0.7}, "sentences_per_s": 25.0}},
              "f1_drop_points": {"onnx_int8": {"all": 10.0, "es": 10.0}}, "speedup": {"onnx_int8": 2.5},
              "int8": {"requested": True, "accepted": False, "reason": "es loses 10.00 F1 points (> 1)"}}
    (rdir / background.PID_NAME).write_text(str(_dead_pid()))
    (rdir / background.LOG_NAME).write_text("=== start\nexporting\n" + json.dumps(report) +
                                            "\n[E602] int8 refused\n")
    at = _open_runs()
    assert any("es loses 10.00 F1 points" in w.value for w in at.warning)
    df = next(el.value for el in at.dataframe if "backend" in el.value.columns)
    assert list(df["backend"]) == ["torch", "onnx_int8"]
    assert df.loc[df["backend"] == "onnx_int8", "points lost es"].item() == 10.0


def test_failed_export_shows_the_log_line(store, tmp_path, tiny_model_dir, gold_sentences):
    run = _run_with_model(store, tiny_model_dir, tmp_path, gold_sentences)
    rdir = store.run_dir(run.run_id)
    (rdir / background.PID_NAME).write_text(str(_dead_pid()))
    (rdir / background.LOG_NAME).write_text('=== start\n{"error": {"code": "E601", "message": "boom"}}\n')
    status = background.export_status(run.run_id, store)
    assert status.state == "failed" and status.message == "[E601] boom"
