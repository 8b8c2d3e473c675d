"""Safety and integrity: server paths inside allowed roots, a damaged or full run store, every out-of-memory
wording, and a paused worker that is never declared dead (real processes, tests/fake_trainer.py)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.kernel.errors import StudioError
from core.runs import jobs, paths, worker
from core.runs.store import FAILED, FINISHED, RUNNING, RunStore, is_disk_full
from tests.ui_seed import CONLL_TRAIN

ROOT = Path(__file__).resolve().parents[2]
FAKE = f"{Path(__file__).resolve().parents[1] / 'fake_trainer.py'}:train_run"


# ---------------------------------------------------------------------------------------------- server paths


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "corpora"
    folder.mkdir()
    (folder / "train.conll").write_text(CONLL_TRAIN, encoding="utf-8")
    monkeypatch.setenv(paths.DATA_ROOTS_ENV, f"{tmp_path / 'nowhere'}{os.pathsep}{folder}")
    return folder


def refused_text(given: str) -> str:
    with pytest.raises(StudioError) as info:
        paths.check_server_paths([given])
    assert info.value.code == "E320"
    return info.value.problem.message.replace(repr(given), "PATH")


def test_a_file_inside_a_root_is_accepted_as_its_real_path(root):
    link = root / "link.conll"
    link.symlink_to(root / "train.conll")
    assert paths.check_server_paths([str(link), str(root)]) == [str(root / "train.conll"), str(root)]


def test_outside_missing_and_special_paths_get_one_text(root):
    os.mkfifo(root / "pipe")
    (root / "escape.conll").symlink_to("/etc/passwd")
    texts = {refused_text(p) for p in ("/etc/passwd", "/no/such/file", "/dev/zero", str(root / "pipe"),
                                       str(root / "escape.conll"), str(root / ".." / "corpora" / ".." / "x"),
                                       str(root / "missing.conll"))}
    assert len(texts) == 1, texts  # nothing says whether the path exists
    assert "allowed roots" in texts.pop()


def test_folder_walk_is_bounded(root, monkeypatch):
    os.mkfifo(root / "pipe")
    with pytest.raises(StudioError, match="not a regular file"):
        paths.check_server_paths([str(root)])
    os.unlink(root / "pipe")
    for i in range(5):
        (root / f"doc{i}.conll").write_text("a\tO\n", encoding="utf-8")
    monkeypatch.setattr(paths, "MAX_FILES", 3)
    with pytest.raises(StudioError, match="more than 3 files"):
        paths.check_server_paths([str(root)])
    monkeypatch.setattr(paths, "MAX_FILES", 100)
    monkeypatch.setattr(paths, "MAX_FILE_BYTES", 100)
    with pytest.raises(StudioError, match="MiB limit per file"):
        paths.check_server_paths([str(root / "train.conll")])


def test_default_root_is_the_workspace_imports_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.DATA_ROOTS_ENV, raising=False)
    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "ws"))
    assert paths.allowed_roots() == [(tmp_path / "ws" / "imports").resolve()]
    assert (tmp_path / "ws" / "imports").is_dir()


def test_model_field_accepts_names_and_hub_ids_and_hides_server_paths(root, tmp_path):
    assert paths.check_model_path("multilingual-e5-small", ["multilingual-e5-small"]) == "multilingual-e5-small"
    assert paths.check_model_path("xlm-roberta-base") == "xlm-roberta-base"
    assert paths.check_model_path("FacebookAI/xlm-roberta-base") == "FacebookAI/xlm-roberta-base"
    (root / "mymodel").mkdir()
    assert paths.check_model_path(str(root / "mymodel")) == str(root / "mymodel")
    texts = set()
    for value in ("/etc", "/no/such/model", "../../etc", str(tmp_path)):
        with pytest.raises(StudioError) as info:
            paths.check_model_path(value)
        texts.add(info.value.problem.message.replace(repr(value), "PATH"))
    assert len(texts) == 1


# ---------------------------------------------------------------------------------------------- run store


def python(*args: str, ws: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NER_STUDIO_WORKSPACE": str(ws)}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def seeded_store(ws: Path) -> tuple[str, str]:
    store = RunStore(ws)
    done = store.create_run({"model_name_or_path": "m"}, name="kept")
    store.set_status(done.run_id, RUNNING)
    for step in range(1, 400):
        store.log_metrics(done.run_id, step, {"loss": 1.0 / step, "lr": 1e-4})
    store.set_status(done.run_id, FINISHED, summary={"test": {"overall": {"f1": 0.7}}})
    live = store.create_run({}, name="was-running")
    store.set_status(live.run_id, RUNNING, pid=os.getpid())
    store._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return done.run_id, live.run_id


def test_random_bytes_in_the_store_are_found_by_cli_and_repaired(tmp_path):
    ws = tmp_path / "ws"
    done, live = seeded_store(ws)
    db = ws / "runs.sqlite"
    size = db.stat().st_size
    assert size > 8 * 4096
    with db.open("r+b") as fh:  # bytes written into the middle of the file, header intact
        fh.seek(size // 2)
        fh.write(os.urandom(3 * 4096))
    out = python("runs", ws=ws)
    assert out.returncode == 1
    assert "[E321]" in out.stderr and "damaged" in out.stderr and "Traceback" not in out.stderr
    out = python("repair-store", ws=ws)
    assert out.returncode == 0, out.stderr
    assert "registered 2 run(s)" in out.stdout
    assert list(ws.glob("runs.sqlite.damaged-*"))
    store = RunStore(ws)
    kept = store.get_run(done)
    assert kept.status == FINISHED and kept.name == "kept" and kept.summary["test"]["overall"]["f1"] == 0.7
    lost = store.get_run(live)
    assert lost.status == FAILED and lost.error.startswith("[E321]") and "resume" in lost.error
    assert python("runs", ws=ws).returncode == 0


def test_a_file_that_is_not_a_database_is_e321_and_healthy_store_is_left_alone(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "runs.sqlite").write_bytes(os.urandom(8192))
    with pytest.raises(StudioError) as info:
        RunStore(ws).list_runs()
    assert info.value.code == "E321"
    healthy = tmp_path / "ok"
    seeded_store(healthy)
    out = python("repair-store", ws=healthy)
    assert out.returncode == 0 and "healthy" in out.stdout and not list(healthy.glob("*.damaged-*"))


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"),
                                 sqlite3.OperationalError("database or disk is full")])
def test_disk_full_wordings(exc, tmp_path):
    assert is_disk_full(exc)
    coded = RunStore(tmp_path / "ws").coded(exc)
    assert coded.code == "E322" and str(tmp_path / "ws") in str(coded) and "MiB free" in str(coded)
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))
    assert RunStore(tmp_path / "ws").coded(sqlite3.OperationalError("database is locked")) is None


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a small tmpfs needs root")
def test_a_really_full_disk_is_e322_naming_the_folder(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)]).returncode:
        pytest.skip("tmpfs cannot be mounted here")
    try:
        store = RunStore(mnt / "ws")
        run = store.create_run({})
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        with pytest.raises(StudioError) as info:
            for step in range(1, 5000):
                store.log_metrics(run.run_id, step, {f"k{i}": float(i) for i in range(50)})
        assert info.value.code == "E322"
        assert str(mnt / "ws") in str(info.value) and "MiB free" in str(info.value)
        store.close()
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_dead_worker_whose_log_says_disk_full_is_e322(tmp_path):
    store = RunStore(tmp_path / "ws")
    run = store.create_run({})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.set_status(run.run_id, RUNNING, pid=dead.pid, heartbeat=time.time())
    store.log_path(run.run_id).write_text("step 9\nOSError: [Errno 28] No space left on device\n")
    assert jobs.check_alive(store) == [run.run_id]
    error = store.get_run(run.run_id).error
    assert error.startswith(f"[E322] run '{run.run_id}' was RUNNING but its worker process {dead.pid} is gone")
    assert "No space left on device" in error


# ---------------------------------------------------------------------------------------------- out of memory

CPU_OOM = ("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
           "allocate 4294967296 bytes. Error code 12 (Cannot allocate memory)")


def _chained() -> BaseException:
    try:
        try:
            raise MemoryError()
        except MemoryError as inner:
            raise ValueError("collate failed") from inner
    except ValueError as exc:
        return exc


@pytest.mark.parametrize("exc", [
    RuntimeError(CPU_OOM),
    RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)"),
    RuntimeError("CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported"),
    RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
    RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"),
    RuntimeError("HIP out of memory. Tried to allocate 20.00 MiB"),
    RuntimeError("MPS backend out of memory (MPS allocated: 8.00 GB)"),
    RuntimeError("std::bad_alloc"),
    MemoryError(),
    OSError(errno.ENOMEM, "Cannot allocate memory"),
    _chained(),
])
def test_every_out_of_memory_wording_is_e303_with_what_to_lower(exc):
    assert worker.is_oom(exc)
    run = worker.Run(run_id="r1", name="r1", status=RUNNING, device="cpu", step=12,
                     config={"per_device_train_batch_size": 32, "max_seq_length": 256,
                             "gradient_accumulation_steps": 1})
    text = worker.classify_error(exc, run)
    assert text.startswith("[E303] out of memory on cpu at step 12")
    assert "per_device_train_batch_size (now 32)" in text and "max_seq_length (now 256)" in text
    assert "system memory (RAM)" in text


@pytest.mark.parametrize("exc", [ValueError("boom"), RuntimeError("size mismatch for classifier.weight"),
                                 OSError(errno.ENOENT, "No such file")])
def test_other_errors_are_not_oom(exc):
    assert not worker.is_oom(exc)


# ---------------------------------------------------------------------------------------------- paused worker


@pytest.fixture
def wstore(tmp_path, monkeypatch) -> RunStore:
    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv(worker.POLL_ENV, "0.05")
    monkeypatch.setenv(jobs.HEARTBEAT_TIMEOUT_ENV, "1.0")
    monkeypatch.delenv(worker.CPU_SLOTS_ENV, raising=False)
    yield RunStore()
    for pid, proc in list(jobs._CHILDREN.items()):
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        jobs._CHILDREN.pop(pid, None)


def _launch(store: RunStore, steps: int) -> tuple[str, int]:
    run_id = store.create_run({"device": "cpu", "fake_sleep": 0.05, "fake_steps": steps}, {"train": "fixture"},
                              options={"entrypoint": FAKE}).run_id
    pid = jobs.launch(run_id, store)
    deadline = time.monotonic() + 60
    while store.get_run(run_id).step < 3:
        assert time.monotonic() < deadline, store.log_path(run_id).read_text()
        time.sleep(0.05)
    return run_id, pid


def _wait_done(store: RunStore, run_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while store.get_run(run_id).status in (RUNNING, "SCHEDULED"):
        assert time.monotonic() < deadline
        jobs.check_alive(store)
        time.sleep(0.05)
    return store.get_run(run_id).status


@pytest.mark.slow
def test_sigstop_longer_than_the_timeout_is_stalled_then_the_run_finishes(wstore):
    run_id, pid = _launch(wstore, steps=40)
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3.5:  # 3.5 x the 1-s timeout, reaping all the while
            assert jobs.check_alive(wstore) == []
            time.sleep(0.1)
        run = wstore.get_run(run_id)
        assert run.status == RUNNING
        assert jobs.stalled_seconds(run) > 2.5
    finally:
        os.kill(pid, signal.SIGCONT)
    assert _wait_done(wstore, run_id) == FINISHED
    run = wstore.get_run(run_id)
    assert run.step == 40 and run.error is None


@pytest.mark.slow
def test_a_worker_marked_lost_while_paused_takes_its_run_back(wstore):
    run_id, pid = _launch(wstore, steps=40)
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(1.5)
        # what an older reaper (or another server) did: FAILED by a stale heartbeat, compare-and-set on the pid
        assert wstore.set_status(run_id, FAILED, "[E307] run was RUNNING but sent no heartbeat for 2 s",
                                 expect=(RUNNING,), expect_pid=pid)
    finally:
        os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 60
    while wstore.get_run(run_id).status != FINISHED:  # FAILED until the worker takes the run back
        assert time.monotonic() < deadline, wstore.get_run(run_id)
        time.sleep(0.05)
    assert wstore.get_run(run_id).step == 40 and wstore.get_run(run_id).error is None
    assert "taken back" in wstore.log_path(run_id).read_text()
