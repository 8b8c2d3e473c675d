"""Tests of core.runs.store: CRUD, incremental metric reads, WAL, concurrency, the device queue, datasets."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from core.kernel.errors import RunError
from core.runs.store import (FAILED, FINISHED, RUNNING, SCHEDULED, STOPPED, Metric, Run, RunStore, workspace_dir)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "ws"))
    return RunStore()


def test_workspace_dir_from_env_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "a" / "b"))
    assert workspace_dir() == (tmp_path / "a" / "b").resolve()
    assert workspace_dir().is_dir()
    monkeypatch.delenv("NER_STUDIO_WORKSPACE")
    monkeypatch.chdir(tmp_path)
    assert workspace_dir() == (tmp_path / "workspace").resolve()


def test_create_get_update_list_delete(store):
    run = store.create_run({"learning_rate": 5e-5, "seed": 1}, {"train": "d1", "languages": ["es", "nl"]},
                           name="first")
    assert isinstance(run, Run)
    assert run.run_id.startswith("r") and run.name == "first" and run.status == SCHEDULED
    assert run.config == {"learning_rate": 5e-5, "seed": 1}
    assert run.data["languages"] == ["es", "nl"]
    assert run.created == pytest.approx(time.time(), abs=5)
    assert store.run_dir(run.run_id).is_dir()
    assert store.log_path(run.run_id).name == "train.log"
    assert not run.stop_requested and run.step == 0 and run.summary == {}

    other = store.create_run({}, None)
    assert other.name == other.run_id and other.run_id != run.run_id
    assert [r.run_id for r in store.list_runs()] == [other.run_id, run.run_id]  # newest first
    assert [r.run_id for r in store.list_runs(limit=1)] == [other.run_id]

    updated = store.update_run(run.run_id, total_steps=100, step=7, summary={"test_f1": 0.8}, device="cpu")
    assert updated.progress == (7, 100) and updated.fraction == pytest.approx(0.07)
    assert updated.summary == {"test_f1": 0.8} and updated.device == "cpu"

    assert store.set_status(run.run_id, RUNNING)
    running = store.get_run(run.run_id)
    assert running.started is not None and running.finished is None and running.active
    assert store.set_status(run.run_id, FAILED, "[E302] boom")
    failed = store.get_run(run.run_id)
    assert failed.finished >= failed.started and failed.error == "[E302] boom" and not failed.active
    assert [r.run_id for r in store.list_runs(status=FAILED)] == [run.run_id]
    assert [r.run_id for r in store.list_runs(status=[SCHEDULED, RUNNING])] == [other.run_id]

    store.request_stop(other.run_id)
    assert store.stop_requested(other.run_id) and store.get_run(other.run_id).stop_requested

    store.log_metrics(run.run_id, 1, {"loss": 1.0})
    store.add_artifact(run.run_id, "model", store.run_dir(run.run_id) / "model")
    folder = store.run_dir(run.run_id)
    store.delete_run(run.run_id)
    assert not folder.exists()
    assert store.find_run(run.run_id) is None
    with pytest.raises(RunError, match=r"\[E301\] run '.*' not found"):
        store.get_run(run.run_id)


def test_set_status_compare_and_set(store):
    run = store.create_run({})
    assert not store.set_status(run.run_id, FAILED, "x", expect=(RUNNING,))
    assert store.get_run(run.run_id).status == SCHEDULED
    store.update_run(run.run_id, pid=123)
    assert not store.set_status(run.run_id, FAILED, expect=(SCHEDULED,), expect_pid=456)
    assert store.set_status(run.run_id, STOPPED, expect=(SCHEDULED,), expect_pid=123)
    assert store.set_status(run.run_id, SCHEDULED, expect=(STOPPED,), pid=None, stop_requested=False)
    again = store.get_run(run.run_id)
    assert again.status == SCHEDULED and again.pid is None and again.finished is None


@pytest.mark.parametrize("call", [
    lambda s: s.get_run("nope"),
    lambda s: s.update_run("nope", step=1),
    lambda s: s.set_status("nope", FAILED),
    lambda s: s.request_stop("nope"),
    lambda s: s.heartbeat("nope"),
    lambda s: s.log_metrics("nope", 1, {"loss": 1.0}),
    lambda s: s.add_artifact("nope", "model", "/x"),
    lambda s: s.delete_run("nope"),
    lambda s: s.claim_device("nope", "cpu", 1),
])
def test_missing_run_raises_e301(store, call):
    with pytest.raises(RunError, match=r"^\[E301\] run 'nope' not found in .*runs\.sqlite"):
        call(store)


@pytest.mark.parametrize("call, error, message", [
    (lambda s, r: s.update_run(r, colour="red"), ValueError, r"unknown run field\(s\) colour"),
    (lambda s, r: s.update_run(r, run_id="x"), ValueError, r"unknown run field\(s\) run_id"),
    (lambda s, r: s.update_run(r, status="DONE"), ValueError, r"unknown run status 'DONE'"),
    (lambda s, r: s.set_status(r, "KILLED"), ValueError, r"unknown run status 'KILLED'"),
    (lambda s, r: s.log_metrics(r, -1, {"loss": 1.0}), ValueError, r"step must be >= 0, got -1"),
    (lambda s, r: s.log_metrics(r, 1, {"loss": "high"}), ValueError, r"metric 'loss' at step 1 is not a number"),
    (lambda s, r: s.list_runs(status="DONE"), ValueError, r"unknown run status 'DONE'"),
])
def test_bad_inputs(store, call, error, message):
    run = store.create_run({})
    with pytest.raises(error, match=message):
        call(store, run.run_id)


def test_stop_requested_true_for_gone_or_ended_runs(store):
    run = store.create_run({})
    assert not store.stop_requested(run.run_id)
    store.set_status(run.run_id, FAILED, "reaped")
    assert store.stop_requested(run.run_id)
    store.delete_run(run.run_id)
    assert store.stop_requested(run.run_id)


def test_a_run_taken_back_by_the_heartbeat_thread_meanwhile_is_not_stopped(store, monkeypatch):
    # regression (one CI run in two): the training loop read FAILED, then this worker's heartbeat thread took the
    # run back before the loop's own reclaim, which then found nothing to do; the stale FAILED read stopped a
    # RUNNING run (it ended STOPPED instead of FINISHED)
    run = store.create_run({})
    store.update_run(run.run_id, status=RUNNING, pid=os.getpid())
    store.set_status(run.run_id, FAILED, "[E307] run was RUNNING but sent no heartbeat for 2 s")
    real = store.reclaim

    def heartbeat_won(run_id, pid):
        assert real(run_id, pid)  # the other thread's reclaim
        monkeypatch.setattr(store, "reclaim", real)
        return False

    monkeypatch.setattr(store, "reclaim", heartbeat_won)
    assert not store.stop_requested(run.run_id)
    assert store.get_run(run.run_id).status == RUNNING
    store.set_status(run.run_id, FAILED, "[E302] training failed")  # a real failure still stops it
    assert store.stop_requested(run.run_id)


def test_metrics_since_reads_only_new_rows(store):
    run = store.create_run({})
    store.log_metrics(run.run_id, 1, {"loss": 2.0, "learning_rate": 1e-4}, time=100.0)
    first = store.metrics_since(run.run_id)
    assert [(m.key, m.step, m.value, m.time) for m in first] == [("loss", 1, 2.0, 100.0),
                                                                   ("learning_rate", 1, 1e-4, 100.0)]
    assert all(isinstance(m, Metric) for m in first)
    last_id = first[-1].id
    assert store.metrics_since(run.run_id, last_id) == []
    store.log_metrics(run.run_id, 2, {"loss": 1.5})
    store.log_metrics(run.run_id, 3, {"loss": 1.0})
    new = store.metrics_since(run.run_id, last_id)
    assert [(m.step, m.value) for m in new] == [(2, 1.5), (3, 1.0)]
    assert new[0].id > last_id and new[1].id > new[0].id
    other = store.create_run({})
    store.log_metrics(other.run_id, 1, {"loss": 9.0})
    assert store.metrics_since(run.run_id, new[-1].id) == []  # other runs' rows are not returned


def test_metric_history_latest_best_dev_f1_and_rewind(store):
    run = store.create_run({})
    for step in range(1, 11):
        metrics = {"train_loss": 1.0 / step}
        if step % 5 == 0:
            metrics["eval_f1"] = {5: 0.6, 10: 0.4}[step]
        store.log_metrics(run.run_id, step, metrics)
    hist = store.metric_history(run.run_id)
    assert list(hist) == ["train_loss", "eval_f1"]
    assert [m.step for m in hist["train_loss"]] == list(range(1, 11))
    assert [m.value for m in hist["eval_f1"]] == [0.6, 0.4]
    assert list(store.metric_history(run.run_id, keys=["eval_f1"])) == ["eval_f1"]
    assert store.metric_history(run.run_id, keys=[]) == {}
    latest = store.latest_metrics(run.run_id)
    assert latest["train_loss"].step == 10 and latest["eval_f1"].value == 0.4
    got = store.get_run(run.run_id)
    assert got.best_dev_f1 == 0.6 and got.step == 10 and got.heartbeat is not None

    assert store.rewind_metrics(run.run_id, 4) == 8  # loss at steps 5..10 (6 rows), eval_f1 at 5 and 10
    got = store.get_run(run.run_id)
    assert got.step == 4 and got.best_dev_f1 is None
    assert [m.step for m in store.metric_history(run.run_id)["train_loss"]] == [1, 2, 3, 4]


def test_wal_mode_and_foreign_keys(store):
    run = store.create_run({})
    store.log_metrics(run.run_id, 1, {"loss": 1.0})
    store.add_artifact(run.run_id, "checkpoint", "/tmp/x")
    raw = sqlite3.connect(store.db_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._conn().execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store._conn().execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        store.delete_run(run.run_id)
        assert raw.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 0  # cascaded
        assert raw.execute("SELECT COUNT(*) FROM artifacts").fetchone()[0] == 0
    finally:
        raw.close()


def test_list_runs_is_one_query_without_metrics(store):
    ids = []
    for i in range(60):
        run = store.create_run({"i": i})
        ids.append(run.run_id)
        store._conn().executemany(
            "INSERT INTO metrics (run_id, key, step, value, time) VALUES (?, 'loss', ?, 1.0, 0)",
            [(run.run_id, s) for s in range(100)])
        store.update_run(run.run_id, best_dev_f1=i / 100)
    statements: list[str] = []
    conn = store._conn()
    conn.set_trace_callback(statements.append)
    try:
        runs = store.list_runs()
    finally:
        conn.set_trace_callback(None)
    assert len(runs) == 60 and runs[0].run_id == ids[-1] and runs[0].best_dev_f1 == 0.59
    assert len(statements) == 1 and "metrics" not in statements[0]


def test_concurrent_writer_process_and_reader(store):
    run = store.create_run({})
    writer = textwrap.dedent(f"""
        import time
        from core.runs.store import RunStore
        s = RunStore({str(store.workspace)!r})
        for step in range(1, 61):
            s.log_metrics({run.run_id!r}, step, {{"loss": 1.0 / step, "lr": 0.1, "grad_norm": 2.0}})
            s.heartbeat({run.run_id!r})
            time.sleep(0.002)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", writer], env=env, cwd=ROOT)
    seen: list[Metric] = []
    try:
        while True:
            done = proc.poll() is not None
            seen += store.metrics_since(run.run_id, seen[-1].id if seen else 0)
            store.update_run(run.run_id, total_steps=60)  # the reader writes too, as the UI does
            if done:
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == 0
    ids = [m.id for m in seen]
    assert ids == sorted(set(ids)) and len(ids) == 180  # each row read exactly once, in order
    assert sorted(m.step for m in seen if m.key == "loss") == list(range(1, 61))


def test_threads_share_one_store(store):
    run = store.create_run({})
    errors: list[BaseException] = []

    def write(key: str) -> None:
        try:
            for step in range(50):
                store.log_metrics(run.run_id, step, {key: float(step)})
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"k{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.metrics_since(run.run_id)) == 200


def test_claim_device_queue(store):
    a, b, c, d = (store.create_run({}) for _ in range(4))
    for i, run in enumerate((a, b, c, d)):
        store.update_run(run.run_id, pid=1000 + i, queued=100.0 + i)
    assert store.claim_device(a.run_id, "cuda:0", 1000) == ("claimed", [])
    assert store.get_run(a.run_id).status == RUNNING and store.get_run(a.run_id).device == "cuda:0"
    assert store.claim_device(b.run_id, "cuda:0", 1001) == ("busy", [a.run_id])
    assert store.claim_device(c.run_id, "cuda:1", 1002) == ("claimed", [])  # another GPU is free
    # b waits on cuda:0 (device recorded by its worker); d queued later must not overtake b
    store.update_run(b.run_id, device="cuda:0")
    store.set_status(a.run_id, FINISHED)
    assert store.claim_device(d.run_id, "cuda:0", 1003) == ("busy", [b.run_id])
    assert store.claim_device(b.run_id, "cuda:0", 1001) == ("claimed", [])
    # two slots: d runs beside b
    assert store.claim_device(d.run_id, "cuda:0", 1003, max_running=2) == ("claimed", [b.run_id])
    # a stop requested while waiting, and a run that is no longer SCHEDULED
    e = store.create_run({})
    store.request_stop(e.run_id)
    assert store.claim_device(e.run_id, "cpu", 1004) == ("stopped", [])
    assert store.claim_device(a.run_id, "cpu", 1000) == ("invalid", [])
    f = store.create_run({})
    assert store.bind_worker(f.run_id, 2000) == (True, 2000)
    assert store.bind_worker(f.run_id, 2001, launched=True) == (False, 2000)  # one worker per run
    assert store.claim_device(f.run_id, "cpu", 2001) == ("invalid", [])
    assert store.bind_worker(f.run_id, 2000, launched=True) == (True, 2000)
    assert store.get_run(f.run_id).attempt == 1 and store.get_run(f.run_id).queued is not None
    assert store.claim_device(f.run_id, "cpu", 2000) == ("claimed", [])


def test_delete_active_run_refused_unless_forced(store):
    run = store.create_run({})
    store.set_status(run.run_id, RUNNING)
    with pytest.raises(RunError, match=r"^\[E305\] run '.*' is RUNNING: stop it before deleting it"):
        store.delete_run(run.run_id)
    store.delete_run(run.run_id, force=True)
    assert store.find_run(run.run_id) is None


def test_datasets(store):
    ds = store.add_dataset("conll2002-es", meta={"format": "conll", "languages": ["es"], "sentences": 8323})
    assert Path(ds.path) == store.dataset_dir(ds.id) and Path(ds.path).is_dir()
    (Path(ds.path) / "train.conll").write_text("Madrid B-LOC\n")
    fixed = store.add_dataset("mine", path="/data/x.jsonl", dataset_id="d-mine")
    assert store.get_dataset("d-mine").path == "/data/x.jsonl"
    assert store.get_dataset(ds.id).meta["sentences"] == 8323
    assert [d.id for d in store.list_datasets()] == [fixed.id, ds.id]
    with pytest.raises(RunError, match=r"^\[E310\] dataset id 'd-mine' already exists"):
        store.add_dataset("again", dataset_id="d-mine")
    store.delete_dataset(ds.id)
    assert not Path(ds.path).exists()
    with pytest.raises(RunError, match=r"^\[E309\] dataset '.*' not found"):
        store.get_dataset(ds.id)


def test_schema_1_store_is_upgraded_options_out_of_config_and_metric_keys_renamed(tmp_path):
    import sqlite3

    ws = tmp_path / "old"
    ws.mkdir()
    conn = sqlite3.connect(ws / "runs.sqlite")
    conn.executescript("""
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
            config TEXT NOT NULL DEFAULT '{}', data TEXT NOT NULL DEFAULT '{}', pid INTEGER, device TEXT,
            created REAL NOT NULL, queued REAL, started REAL, finished REAL, heartbeat REAL, error TEXT,
            stop_requested INTEGER NOT NULL DEFAULT 0, best_dev_f1 REAL, model_dir TEXT,
            step INTEGER NOT NULL DEFAULT 0, total_steps INTEGER, attempt INTEGER NOT NULL DEFAULT 0,
            summary TEXT NOT NULL DEFAULT '{}');
        CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, key TEXT NOT NULL,
            step INTEGER NOT NULL, value REAL NOT NULL, time REAL NOT NULL);
        INSERT INTO runs (run_id, name, status, config, created) VALUES
            ('r1', 'r1', 'FINISHED', '{"_entrypoint": "m:f", "_preset": "quick", "seed": 3}', 1.0);
        INSERT INTO metrics (run_id, key, step, value, time) VALUES ('r1', 'loss', 1, 2.0, 1.0),
            ('r1', 'dev_f1', 1, 0.5, 1.0), ('r1', 'eval_f1_es', 1, 0.4, 1.0);
        PRAGMA user_version = 1;
    """)
    conn.close()
    run = RunStore(ws).get_run("r1")
    assert run.config == {"seed": 3} and run.options == {"entrypoint": "m:f", "preset": "quick"}
    assert sorted(RunStore(ws).metric_history("r1")) == ["eval_f1", "eval_f1_es", "train_loss"]
