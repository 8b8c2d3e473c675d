"""Tests of core.runs.worker and core.runs.jobs with the fake trainer of tests/fake_trainer.py (no torch)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.runs import jobs

from core.runs import worker
from core.kernel.config import TrainConfig
from core.kernel.constants import EVAL_F1, TRAIN_LOSS
from core.kernel.errors import ConfigError, RunError
from core.runs.store import FAILED, FINISHED, RUNNING, SCHEDULED, STOPPED, RunStore

ROOT = Path(__file__).resolve().parents[2]
FAKE = f"{Path(__file__).resolve().parents[1] / 'fake_trainer.py'}:train_run"


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv(worker.POLL_ENV, "0.05")
    monkeypatch.delenv(worker.CPU_SLOTS_ENV, raising=False)
    yield RunStore()
    for pid, proc in list(jobs._CHILDREN.items()):  # end only the workers these tests started
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        jobs._CHILDREN.pop(pid, None)


def make_run(store: RunStore, **config) -> str:
    return store.create_run({"device": "cpu", "fake_sleep": 0.02, **config}, {"train": "fixture"},
                            options={"entrypoint": FAKE}).run_id


def wait_for(predicate, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"{what} not reached within {timeout} s")


def wait_status(store: RunStore, run_id: str, *statuses: str, timeout: float = 120.0):
    return wait_for(lambda: (r := store.get_run(run_id)).status in statuses and r, timeout,
                    f"run {run_id} in {statuses}")


def test_worker_runs_fake_trainer_to_finished(store):
    run_id = make_run(store, fake_steps=10)
    pid = jobs.launch(run_id, store)
    run = wait_status(store, run_id, FINISHED)
    assert run.pid == pid and run.device == "cpu" and run.attempt == 1
    assert run.started >= run.queued and run.finished >= run.started
    assert run.progress == (10, 10) and run.best_dev_f1 == pytest.approx(0.1)
    assert run.summary == {"test_f1": 0.5, "steps": 10}
    assert run.model_dir == str(store.run_dir(run_id) / "model") and run.error is None
    hist = store.metric_history(run_id)
    assert [m.step for m in hist[TRAIN_LOSS]] == list(range(1, 11)) and [m.step for m in hist[EVAL_F1]] == [5, 10]
    assert [a.kind for a in store.list_artifacts(run_id)] == ["model"]
    log = store.log_path(run_id).read_text()
    assert "launch attempt 1" in log and "step 10 loss" in log and f"run {run_id} FINISHED" in log
    wait_for(lambda: not jobs.process_state(pid)[0], what="worker exit")
    assert jobs.check_alive(store) == []  # a finished run is never reaped


def test_stop_then_resume_continues_the_curve(store):
    run_id = make_run(store, fake_steps=30, fake_sleep=0.05)
    jobs.launch(run_id, store)
    wait_for(lambda: store.get_run(run_id).step >= 5, what="step 5")
    jobs.stop(run_id, store)
    stopped = wait_status(store, run_id, STOPPED, FAILED)
    assert stopped.status == STOPPED and 5 <= stopped.step < 30
    with pytest.raises(RunError, match=r"^\[E305\] run '.*' is STOPPED; only a SCHEDULED run can be launched"):
        jobs.launch(run_id, store)

    jobs.resume(run_id, store)
    run = wait_status(store, run_id, FINISHED, FAILED)
    assert run.status == FINISHED and run.attempt == 2 and not run.stop_requested
    steps = [m.step for m in store.metric_history(run_id)[TRAIN_LOSS]]
    assert steps == list(range(1, 31))  # continued from the saved step: increasing, no step twice
    ids = [m.id for m in store.metrics_since(run_id)]
    assert ids == sorted(ids)
    assert f"resumed from step {stopped.step}" in store.log_path(run_id).read_text()
    with pytest.raises(RunError, match=r"^\[E305\] run '.*' is FINISHED; only a STOPPED or FAILED run can be resumed"):
        jobs.resume(run_id, store)


def test_kill9_worker_is_marked_failed_with_log_tail(store):
    run_id = make_run(store, fake_forever=True)
    pid = jobs.launch(run_id, store)
    wait_for(lambda: "step 3 loss" in store.log_path(run_id).read_text(), what="step 3 in the log")
    os.kill(pid, signal.SIGKILL)
    # waits on the condition (no timed assertion: a loaded machine may take a while to deliver the signal)
    wait_for(lambda: jobs.check_alive(store) == [run_id], timeout=60, what="reaped")
    run = store.get_run(run_id)
    assert run.status == FAILED and run.finished is not None
    assert run.error.startswith(f"[E307] run '{run_id}' was RUNNING but its worker process {pid} is gone "
                                f"(killed by signal SIGKILL). The training process ended without reporting")
    assert "--- last 40 lines of train.log ---" in run.error and "step 3 loss" in run.error
    assert len(run.error.split("--- last 40 lines of train.log ---\n")[1].splitlines()) <= 40
    assert jobs.check_alive(store) == []
    # a FAILED run resumes from its last saved step
    jobs.resume(run_id, store)
    wait_for(lambda: store.get_run(run_id).step >= run.step + 2, timeout=60.0, what="resumed steps")
    jobs.stop(run_id, store)
    wait_status(store, run_id, STOPPED)
    steps = [m.step for m in store.metric_history(run_id)[TRAIN_LOSS]]
    assert steps == list(range(1, steps[-1] + 1))


def test_sigterm_requests_a_graceful_stop(store):
    run_id = make_run(store, fake_forever=True)
    pid = jobs.launch(run_id, store)
    wait_for(lambda: store.get_run(run_id).step >= 2, what="step 2")
    os.kill(pid, signal.SIGTERM)
    run = wait_status(store, run_id, STOPPED, FAILED, timeout=5)
    assert run.status == STOPPED and run.stop_requested
    assert "stop signal received" in store.log_path(run_id).read_text()


def test_second_cpu_run_waits_for_the_first(store):
    first = make_run(store, fake_forever=True)
    second = make_run(store, fake_steps=5)
    jobs.launch(first, store)
    wait_status(store, first, RUNNING)
    jobs.launch(second, store)
    wait_for(lambda: "waiting for cpu" in store.log_path(second).read_text(), what="second queued")
    assert store.get_run(second).status == SCHEDULED and store.get_run(first).status == RUNNING
    assert f"1 run(s) ahead ({first})" in store.log_path(second).read_text()
    jobs.stop(first, store)
    a = wait_status(store, first, STOPPED)
    b = wait_status(store, second, FINISHED)
    assert b.started >= a.finished


def test_two_workers_for_one_run_only_one_trains(store):
    run_id = make_run(store, fake_steps=5)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "core.runs.worker", "--run", run_id]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=30)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 2], [0, 0]), outs  # 0/0: the second started after the first had finished
    if codes == [0, 2]:
        assert any("[E305]" in o for o in outs)
    run = store.get_run(run_id)
    assert run.status == FINISHED
    assert [m.step for m in store.metric_history(run_id)[TRAIN_LOSS]] == [1, 2, 3, 4, 5]


def test_stop_while_waiting_in_the_queue(store):
    first = make_run(store, fake_forever=True)
    second = make_run(store)
    never = make_run(store)
    jobs.launch(first, store)
    wait_status(store, first, RUNNING)
    jobs.launch(second, store)
    wait_for(lambda: "waiting for cpu" in store.log_path(second).read_text(), what="second queued")
    jobs.stop(second, store)
    run = wait_status(store, second, STOPPED, timeout=5)
    assert run.started is None and store.metrics_since(second) == []
    assert jobs.stop(never, store).status == STOPPED  # never launched: stopped at once
    jobs.stop(first, store)
    wait_status(store, first, STOPPED)


def test_failing_trainer_subprocess_failed_with_traceback_tail(store):
    run_id = make_run(store, fake_steps=10, fake_fail_at=3)
    jobs.launch(run_id, store)
    run = wait_status(store, run_id, FAILED)
    assert run.error.startswith(f"[E302] training failed on cpu at step 2: ValueError: boom at step 3. "
                                f"See the log tail.")
    tail = run.error.split("--- last 40 lines of train.log ---\n")[1]
    assert "Traceback (most recent call last)" in tail and "ValueError: boom at step 3" in tail


@pytest.mark.parametrize("kind, expected", [
    ("value", r"^\[E302\] training failed on cpu at step 1: ValueError: boom at step 2\. See the log tail\."),
    ("oom", r"^\[E303\] out of memory on cpu at step 1 \(OutOfMemoryError: CUDA out of memory\. Tried to "
            r"allocate 2\.00 GiB at step 2\)\. Lower per_device_train_batch_size \(now 32\) or max_seq_length "
            r"\(now 256\), and raise gradient_accumulation_steps \(now 1\)"),
    ("studio", r"^\[E202\] fake bad value at step 2\. Use a value in the documented range\."),
])
def test_failure_classification_in_process(store, kind, expected):
    run_id = make_run(store, fake_fail_at=2, fake_error=kind, per_device_train_batch_size=32,
                      max_seq_length=256, gradient_accumulation_steps=1)
    assert worker.run_worker(run_id, store, poll_interval=0.05) == FAILED
    run = store.get_run(run_id)
    assert run.status == FAILED
    assert re.match(expected, run.error), run.error


@pytest.mark.parametrize("entrypoint, message", [
    ("no_colon", r"^\[E202\] training entrypoint 'no_colon' must look like 'module:function'"),
    ("core.no_such_trainer:train_run", r"^\[E202\] training entrypoint module 'core.no_such_trainer' not found"),
    ("core.runs.store:no_such_function", r"^\[E202\] training entrypoint 'core.runs.store:no_such_function': core.runs.store "
                                    r"has no function 'no_such_function'"),
    ("/no/such/file.py:train_run", r"^\[E202\] training entrypoint file '/no/such/file.py' does not exist"),
])
def test_bad_entrypoint(store, entrypoint, message):
    with pytest.raises(ConfigError, match=message):
        worker.resolve_entrypoint(entrypoint)
    run_id = store.create_run({"device": "cpu"}, options={"entrypoint": entrypoint}).run_id
    assert worker.run_worker(run_id, store, poll_interval=0.05) == FAILED
    assert re.match(message, store.get_run(run_id).error)


@pytest.mark.parametrize("device, expected", [
    ("cpu", "cpu"), ("CUDA", "cuda:0"), (" cuda:1 ", "cuda:1"),
])
def test_resolve_device(store, device, expected):
    run = store.create_run({"device": device})
    assert worker.resolve_device(run) == expected


@pytest.mark.parametrize("device", ["gpu", "cuda:x", -1, True, 2, "mps"])
def test_resolve_device_rejects(store, device):
    run = store.create_run({"device": device})
    with pytest.raises(ConfigError, match=r"^\[E202\] device .* is not one of auto, cpu, cuda or cuda:N"):
        worker.resolve_device(run)


@pytest.mark.parametrize("device", ["gpu", 2, "mps", "cuda:x"])
def test_config_and_worker_share_one_device_rule(store, device):
    """A device TrainConfig refuses is refused by the worker with the same message, and the other way round."""
    with pytest.raises(ConfigError) as from_config:
        TrainConfig.from_dict({"device": device} if isinstance(device, str) else {"device": str(device)})
    with pytest.raises(ConfigError) as from_worker:
        worker.resolve_device(store.create_run({"device": device}))
    assert str(from_config.value).split(" is not one of ")[1] == str(from_worker.value).split(" is not one of ")[1]


def test_auto_device_follows_the_probe(store, monkeypatch):
    run = store.create_run({"device": "auto"})
    monkeypatch.setattr(worker, "_cuda_available", lambda: True)
    assert worker.resolve_device(run) == "cuda:0"
    monkeypatch.setattr(worker, "_cuda_available", lambda: False)
    assert worker.resolve_device(run) == "cpu"
    assert TrainConfig.from_dict({"device": "CUDA"}).device == "cuda:0"


def test_silent_live_worker_is_stalled_and_a_reused_pid_is_reaped(store):
    run_id = store.create_run({}).run_id
    store.set_status(run_id, RUNNING, pid=os.getpid(), heartbeat=time.time())
    assert jobs.check_alive(store) == []
    store.update_run(run_id, heartbeat=time.time() - 31)
    store.log_path(run_id).write_text("line 1\nline 2\n")
    # this process is the run's worker and alive: silence is a stall, not a death
    assert jobs.check_alive(store) == [] and store.get_run(run_id).status == RUNNING
    assert 30 < jobs.stalled_seconds(store.get_run(run_id)) < 40
    # an alive process that is not this run's worker (the pid was reused): FAILED
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        store.update_run(run_id, pid=stranger.pid)
        assert jobs.check_alive(store) == [run_id]
    finally:
        stranger.kill()
        stranger.wait()
    error = store.get_run(run_id).error
    assert error.startswith(f"[E307] run '{run_id}' was RUNNING but its pid {stranger.pid} now belongs to another "
                            f"process and the run sent no heartbeat for 31 s (limit 30 s)")
    assert error.endswith("line 1\nline 2")


def test_never_launched_run_is_not_reaped(store):
    run_id = store.create_run({}).run_id
    assert jobs.check_alive(store) == [] and store.get_run(run_id).status == SCHEDULED


def test_zombie_of_another_parent_counts_as_dead():
    # The child forks a grandchild that exits at once and is never reaped: a zombie that is not ours.
    code = "import os, sys, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(10)"
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        zombie = int(parent.stdout.readline())
        wait_for(lambda: jobs._proc_state(zombie) == "Z", timeout=5, what="zombie")
        assert jobs.process_state(zombie) == (False, "exited (zombie not yet reaped by its parent)")
        assert jobs.process_state(parent.pid) == (True, "running")
    finally:
        parent.kill()
        parent.wait()
    assert jobs.process_state(parent.pid)[0] is False


def test_log_tail(tmp_path):
    log = tmp_path / "train.log"
    assert jobs.log_tail(log) == ""
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert jobs.log_tail(log).splitlines() == [f"line {i}" for i in range(60, 100)]
    assert jobs.log_tail(log, 3) == "line 97\nline 98\nline 99"


def test_worker_cli_exit_codes(store):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    missing = subprocess.run([sys.executable, "-m", "core.runs.worker", "--run", "nope"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and "[E301] run 'nope' not found" in missing.stderr
    run_id = make_run(store, fake_steps=2)
    store.set_status(run_id, FINISHED)
    done = subprocess.run([sys.executable, "-m", "core.runs.worker", "--run", run_id], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "[E305]" in done.stderr


def test_jobs_imports_no_torch():
    code = "import sys, core.runs.jobs, core.runs.store; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "False", out.stderr


def _log_lines(text: str) -> list[int]:
    return [int(m.group(1)) for m in re.finditer(r"^log line (\d{6}) x{60}$", text, re.M)]


@pytest.mark.parametrize("hard_exit", [False, True])
def test_a_100_kb_log_reaches_train_log_complete(store, hard_exit, monkeypatch):
    """Logs are never cut: 100 KB of lines printed without flush arrive whole, in order, also when the process
    ends with os._exit (no interpreter shutdown to flush buffers); a resume appends, never truncates."""
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the launch and the worker see to it themselves
    run_id = make_run(store, fake_steps=3, fake_log_bytes=100_000, fake_hard_exit=hard_exit)
    jobs.launch(run_id, store)
    run = wait_for(lambda: jobs.check_alive(store) or store.get_run(run_id).status in (FINISHED, FAILED),
                   timeout=60, what="run ended")
    assert run
    text = store.log_path(run_id).read_text(encoding="utf-8")
    numbers = _log_lines(text)
    expected = -(-100_000 // 77)  # 77 bytes a line ("log line NNNNNN ", 60 x, the newline)
    assert numbers == list(range(expected))
    assert f"log lines written: {expected}" in text
    assert store.log_path(run_id).stat().st_size > 100_000
    final = store.get_run(run_id)
    assert final.status == (FAILED if hard_exit else FINISHED)
    if hard_exit:
        assert "exited with status 3" in final.error and f"log lines written: {expected}" in final.error
        before = store.log_path(run_id).stat().st_size
        store.update_run(run_id, config={**final.config, "fake_hard_exit": False, "fake_log_bytes": 0})
        jobs.resume(run_id, store)
        wait_status(store, run_id, FINISHED, FAILED, timeout=60)
        again = store.log_path(run_id).read_text(encoding="utf-8")
        assert len(again.encode()) > before and again.startswith(text)  # appended to, never truncated
