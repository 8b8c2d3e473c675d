"""Process management for training runs: start (create and launch), stop, resume, and detection of dead workers.

Used by the UI and the CLI; imports no torch. The pattern is LlamaBoard's (LLaMA-Factory ``webui/runner.py``):
the caller never trains, it starts ``python -m core.runs.worker --run RUN_ID`` as its own process (never
``shell=True``, in its own session so a Ctrl-C or a Streamlit restart does not kill it), with stdout and
stderr appended to the run's ``train.log``, and then only watches the run store. Stopping is a flag in the
store that the trainer reads at its next step boundary.

``train.log`` is never cut: it is opened in append mode by every attempt (never truncated, rotated or capped),
and the worker writes it unbuffered (``PYTHONUNBUFFERED=1`` here, line-buffered streams in the worker), so a
killed process loses no line it printed. Error texts and pages show a tail; the file keeps everything.

A worker that dies without reporting (``kill -9``, the kernel's OOM killer, a crash in native code) is
detected by :func:`check_alive`: its pid is gone or a zombie (checked at once), or its heartbeat is older
than :data:`HEARTBEAT_TIMEOUT_S`; the run is then marked FAILED with code ``E307`` and the last 40 lines of
its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from core.kernel.constants import PROJECT_ROOT
from core.kernel.errors import RunError
from core.runs.store import (ACTIVE_STATUSES, FAILED, SCHEDULED, STOPPED, WORKSPACE_ENV, Run, RunStore,
                             disk_full_error)

#: Seconds without a heartbeat after which a run counts as silent: FAILED when its pid is not (or no longer)
#: its worker, "stalled" while the worker process is alive (``$NER_STUDIO_HEARTBEAT_TIMEOUT_S`` overrides).
HEARTBEAT_TIMEOUT_S = 30.0
HEARTBEAT_TIMEOUT_ENV = "NER_STUDIO_HEARTBEAT_TIMEOUT_S"
#: Log lines that say the disk is full (a worker that died of it is reported E322, not E307).
DISK_FULL_MARKERS = ("no space left on device", "database or disk is full", "[e322]", "disk quota exceeded")


def _default_timeout() -> float:
    """:data:`HEARTBEAT_TIMEOUT_S`, or ``$NER_STUDIO_HEARTBEAT_TIMEOUT_S`` when set to a positive number."""
    raw = os.environ.get(HEARTBEAT_TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else HEARTBEAT_TIMEOUT_S
    except ValueError:
        return HEARTBEAT_TIMEOUT_S
    return value if value > 0 else HEARTBEAT_TIMEOUT_S
#: Lines of ``train.log`` copied into a failed run's error text.
LOG_TAIL_LINES = 40

_HAVE_PROCFS = Path("/proc/self/stat").exists()

# Workers started by this process: pid -> Popen. Polling them reaps finished children, so they neither
# linger as zombies nor look alive to ``os.kill(pid, 0)`` (see docs/PITFALLS.md).
_CHILDREN: dict[int, subprocess.Popen] = {}
# How reaped children ended: pid -> detail, kept until the pid is seen alive again (reused).
_EXITED: dict[int, str] = {}


def log_tail(path: str | os.PathLike, lines: int = LOG_TAIL_LINES, *, max_bytes: int = 64_000) -> str:
    """The last ``lines`` lines of a text file ('' when it does not exist).

    Reads at most the last ``max_bytes`` bytes, so a long log costs no more than a short one. Bytes that
    are not UTF-8 are replaced.
    """
    p = Path(path)
    if not p.exists():
        return ""
    with p.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - max_bytes))
        text = fh.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _proc_state(pid: int) -> str | None:
    """The one-letter state in ``/proc/<pid>/stat`` (``R``, ``S``, ``Z``, ...); None without procfs."""
    if not _HAVE_PROCFS:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    except OSError:
        return None
    # Format: "pid (comm) state ...": comm may hold spaces and parentheses, so split after the last ')'.
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[0] if fields else None


def process_state(pid: int | None) -> tuple[bool, str]:
    """Whether a worker process is alive, and how it ended if not.

    Checks, in order: a child this process launched (``Popen.poll``, which also reaps it); any other child
    (``os.waitpid(pid, WNOHANG)``); ``os.kill(pid, 0)``; and ``/proc/<pid>/stat`` state ``Z`` (a zombie
    exited but its parent has not reaped it).

    Returns:
        ``(alive, detail)``, for instance ``(False, "killed by signal SIGKILL")``.
    """
    if pid is None or pid <= 0:
        return False, "no pid recorded"
    child = _CHILDREN.get(pid)
    if child is not None:
        code = child.poll()
        if code is None:
            return True, "running"
        del _CHILDREN[pid]
        _EXITED[pid] = _describe_exit(code)
        return False, _EXITED[pid]
    if pid in _EXITED:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False, _EXITED[pid]
        except PermissionError:
            pass  # the pid now belongs to another user's process
        del _EXITED[pid]  # the pid was reused: check the new process below
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not a child of this process: fall through to the checks that work for any process
    else:
        if waited == 0:
            return True, "running"
        return False, _describe_exit(os.waitstatus_to_exitcode(status))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, "no such process"
    except PermissionError:
        pass  # the pid exists but belongs to another user: it is alive
    state = _proc_state(pid)
    if state == "gone":
        return False, "no such process"
    if state == "Z":
        return False, "exited (zombie not yet reaped by its parent)"
    return True, "running"


def _reap_children() -> None:
    for pid in list(_CHILDREN):
        process_state(pid)


def spawn(cmd: list[str], log_path: str | os.PathLike, workspace: str | os.PathLike, title: str) -> subprocess.Popen:
    """Start a background studio process: no shell, its own session, stdin from ``/dev/null``, stdout and
    stderr appended to ``log_path`` after a ``=== <time> <title>: <cmd>`` header, ``NER_STUDIO_WORKSPACE`` set,
    in the project root; the child is registered so :func:`process_state` polls and reaps it.

    Raises:
        OSError: the process could not be started (the caller turns it into its coded error).
    """
    env = dict(os.environ, **{WORKSPACE_ENV: str(workspace), "PYTHONUNBUFFERED": "1"})
    with open(log_path, "ab") as fh:
        fh.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {title}: {' '.join(cmd)}\n".encode())
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    _CHILDREN[proc.pid] = proc
    return proc


def launch(run_id: str, store: RunStore, *, resume: bool = False) -> int:
    """Start the worker process of a SCHEDULED run and record its pid.

    Runs ``[sys.executable, "-m", "core.runs.worker", "--run", run_id (, "--resume")]`` with
    ``subprocess.Popen`` (no shell), ``start_new_session=True``, stdin from ``/dev/null`` and stdout / stderr
    appended to the run's ``train.log``; the environment passes ``NER_STUDIO_WORKSPACE`` (the store's
    workspace); the worker runs in the project root with the same interpreter, where `core` is installed.

    Args:
        run_id: a SCHEDULED run that has no live worker.
        store: the run store.
        resume: pass ``--resume`` (the trainer continues from its last checkpoint).

    Returns:
        The worker's pid.

    Raises:
        RunError: ``E301`` no such run; ``E305`` the run is not SCHEDULED or already has a live worker;
            ``E306`` the process could not be started (the run is then marked FAILED).
    """
    run = store.get_run(run_id)
    if run.status != SCHEDULED:
        raise RunError("E305", f"run {run_id!r} is {run.status}; only a SCHEDULED run can be launched "
                               f"(resume a STOPPED or FAILED run instead)")
    if run.pid is not None and process_state(run.pid)[0]:
        raise RunError("E305", f"run {run_id!r} already has a live worker (pid {run.pid})")
    cmd = [sys.executable, "-m", "core.runs.worker", "--run", run_id] + (["--resume"] if resume else [])
    log = store.log_path(run_id)
    try:
        proc = spawn(cmd, log, store.workspace, f"launch attempt {run.attempt + 1}{' (resume)' if resume else ''}")
    except OSError as exc:
        err = RunError("E306", f"cannot start the worker of run {run_id!r} ({' '.join(cmd)}): {exc}")
        with log.open("ab") as fh:
            fh.write(f"{err}\n".encode())
        store.set_status(run_id, FAILED, str(err))
        raise err from exc
    bound, owner = store.bind_worker(run_id, proc.pid, launched=True)
    if not bound:
        # Another launch won the race (a double click): our process finds the run taken and exits by itself.
        raise RunError("E305", f"run {run_id!r} was launched twice; worker pid {owner} owns it")
    return proc.pid


def start_run(store: RunStore, config, data: dict, *, entrypoint: str | None = None, name: str | None = None,
              options: dict | None = None) -> Run:
    """Record a run and launch its worker: the one way the CLI and the pages start a background run.

    Args:
        store: the run store.
        config: a :class:`~core.kernel.config.TrainConfig` (or a plain mapping for another entry point's trainer).
        data: the run's data dict (see :func:`core.train.loop.load_run_data`, or the pre-training and transfer
            entry points' own keys).
        entrypoint: ``module:function`` of the training function; None = the studio's trainer (or whatever
            ``options["entrypoint"]`` names).
        name: display name (default the run id).
        options: further options recorded with the run (``preset``, ``pretrained_from``...).

    Returns:
        The run as recorded after the launch (SCHEDULED, with its worker's pid).

    Raises:
        RunError: as :func:`launch` (``E306`` marks the new run FAILED).
    """
    opts = dict(options or {})
    if entrypoint:
        opts["entrypoint"] = entrypoint
    run = store.create_run(config, data, name=name, options=opts)
    launch(run.run_id, store)
    return store.get_run(run.run_id)


def pretrain_data(text: Sequence[str] = (), corpus: Sequence[str] = (), output_dir: str | None = None) -> dict:
    """The ``data`` of a pre-training run (:data:`~core.kernel.constants.PRETRAIN_ENTRYPOINT`): plain text files,
    annotated corpus files whose text is used too, and the folder for the model (None: the run's ``model/``)."""
    return {"text": list(text), "corpus": list(corpus), "output_dir": output_dir}


def transfer_data(train: Sequence[str], test: Sequence[str], dev: Sequence[str] = (), *, lang: str | None = None,
                  fmt: str | None = None, langs: Sequence[str] | None = None) -> dict:
    """The ``data`` of a transfer-matrix run (:data:`~core.kernel.constants.TRANSFER_ENTRYPOINT`): a training
    run's files (``train``, ``dev``, ``test``, ``lang``, ``format``) plus ``langs``, the matrix's rows and
    columns (None: the training languages, see :func:`core.train.transfer.matrix_languages`)."""
    return {"train": list(train), "dev": list(dev), "test": list(test), "lang": lang, "format": fmt,
            "langs": list(langs) if langs else None}


def stop(run_id: str, store: RunStore) -> Run:
    """Ask a run to stop: the worker ends at the next step boundary and marks it STOPPED.

    A SCHEDULED run that was never launched is marked STOPPED at once. Stopping a run that already ended
    changes nothing.

    Returns:
        The run after the request.

    Raises:
        RunError: ``E301`` when there is no such run.
    """
    run = store.get_run(run_id)
    if run.status not in ACTIVE_STATUSES:
        return run
    store.request_stop(run_id)
    if run.status == SCHEDULED and run.pid is None:
        store.set_status(run_id, STOPPED, expect=(SCHEDULED,))
    return store.get_run(run_id)


def resume(run_id: str, store: RunStore) -> int:
    """Relaunch a STOPPED or FAILED run with ``--resume``.

    The run goes back to SCHEDULED (stop flag, error, finish time and old pid cleared, in one transaction)
    and a new worker is launched; it waits in the device queue like a new run.

    Returns:
        The new worker's pid.

    Raises:
        RunError: ``E301`` no such run; ``E305`` the run is not STOPPED or FAILED; ``E306`` as
            :func:`launch`.
    """
    before = store.get_run(run_id)
    trained = (before.trained_before or 0.0) + (before.duration or 0.0)  # Elapsed counts every attempt
    changed = store.set_status(run_id, SCHEDULED, None, expect=(STOPPED, FAILED), stop_requested=False, pid=None,
                               trained_before=trained, started=None)
    if not changed:
        current = store.get_run(run_id).status
        raise RunError("E305", f"run {run_id!r} is {current}; only a STOPPED or FAILED run can be resumed")
    return launch(run_id, store, resume=True)


def is_worker_of(pid: int, run_id: str) -> bool:
    """Whether process ``pid`` is the worker of ``run_id`` (not a stranger that reused the pid).

    True for this very process (a worker run in-process, as the CLI and tests do), and for a process whose
    command line is ``... core.runs.worker --run <run_id> ...`` (``/proc/<pid>/cmdline``). Without procfs, or
    when the command line cannot be read, an alive pid is given the benefit of the doubt (True).
    """
    if pid == os.getpid():
        return True
    if not _HAVE_PROCFS:
        return True
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True
    args = [a.decode("utf-8", "replace") for a in argv]
    return "core.runs.worker" in args and run_id in args


def stalled_seconds(run: Run, *, timeout: float | None = None, now: float | None = None) -> float | None:
    """Seconds since the last heartbeat of an active run whose live worker has been silent longer than
    ``timeout`` (a paused process: laptop lid, SIGSTOP, a busy VM host); None when it is not stalled."""
    if run.status not in ACTIVE_STATUSES or run.pid is None or run.heartbeat is None:
        return None
    timeout = _default_timeout() if timeout is None else timeout
    silent = (time.time() if now is None else now) - run.heartbeat
    return silent if silent > timeout else None


def reap(run: Run, store: RunStore, *, heartbeat_timeout: float | None = None,
         now: float | None = None) -> bool:
    """Mark a launched RUNNING / SCHEDULED run FAILED if its worker is gone.

    Gone: the pid no longer exists or is a zombie (see :func:`process_state`), or it is alive but silent for
    longer than ``heartbeat_timeout`` and no longer this run's worker (:func:`is_worker_of`: the pid was
    reused). A live worker that is only silent is *stalled*, never FAILED (see :func:`stalled_seconds`): it
    may be paused and go on. The update is a compare-and-set on the status and pid, so a worker that wrote
    its final status just before exiting, or a run resumed meanwhile, is left alone. A worker whose log says
    the disk is full is reported ``E322`` instead of ``E307``.

    Args:
        run: a run as read from the store.
        store: the run store.
        heartbeat_timeout: seconds of silence that count; :data:`HEARTBEAT_TIMEOUT_S` (or its env override) when None.
        now: current unix time (seconds); ``time.time()`` when None.

    Returns:
        True when the run was marked FAILED.
    """
    if run.status not in ACTIVE_STATUSES or run.pid is None:
        return False
    timeout = _default_timeout() if heartbeat_timeout is None else heartbeat_timeout
    alive, detail = process_state(run.pid)
    now = time.time() if now is None else now
    if alive:
        if run.heartbeat is None or now - run.heartbeat <= timeout or is_worker_of(run.pid, run.run_id):
            return False
        reason = (f"its pid {run.pid} now belongs to another process and the run sent no heartbeat for "
                  f"{now - run.heartbeat:.0f} s (limit {timeout:.0f} s)")
    else:
        reason = f"its worker process {run.pid} is gone ({detail})"
    tail = log_tail(store.log_path(run.run_id))
    if any(m in tail.lower() for m in DISK_FULL_MARKERS):
        err = disk_full_error(store.workspace)
        err = RunError("E322", f"run {run.run_id!r} was {run.status} but {reason}: {err.problem.message}")
    else:
        err = RunError("E307", f"run {run.run_id!r} was {run.status} but {reason}")
    error = f"{err}\n\n--- last {LOG_TAIL_LINES} lines of train.log ---\n{tail}"
    return store.set_status(run.run_id, FAILED, error, expect=ACTIVE_STATUSES, expect_pid=run.pid)


def check_alive(store: RunStore, *, heartbeat_timeout: float | None = None) -> list[str]:
    """Reap every launched RUNNING / SCHEDULED run whose worker is gone (see :func:`reap`).

    Cheap (one query plus a ``/proc`` look-up per active run): the UI calls it on every refresh and
    waiting workers call it while they queue. It also reaps finished children of this process.

    Returns:
        The ids of the runs marked FAILED.
    """
    _reap_children()
    now = time.time()
    return [run.run_id for run in store.list_runs(status=ACTIVE_STATUSES)
            if reap(run, store, heartbeat_timeout=heartbeat_timeout, now=now)]


def launch_scoring(run_id: str, store: RunStore) -> int:
    """Start the background job that scores a STOPPED or FAILED run's best model on its dev and test data.

    Runs ``[sys.executable, "-m", "core.runs.worker", "--score", run_id]`` like :func:`launch` (no shell, its
    own session, output appended to ``<run>/score.log``); the job writes ``predictions_<split>.jsonl`` and its
    state file (see :mod:`core.runs.scoring`). The run's status does not change.

    Returns:
        The job's pid.

    Raises:
        RunError: ``E301`` no such run; ``E305`` the run is not STOPPED or FAILED, has no best model, or is
            being scored already; ``E306`` the process could not be started.
    """
    from core.runs import scoring

    run = store.get_run(run_id)
    run_dir = store.run_dir(run_id)
    if scoring.best_model(run, run_dir) is None:
        raise RunError("E305", f"run {run_id!r} is {run.status} with no saved best model: only a stopped or failed "
                               f"run that saved one can be scored (a finished run scores itself)")
    current = scoring_status(run_id, store)
    if current and current.get("state") == scoring.RUNNING_STATE:
        raise RunError("E305", f"run {run_id!r} is being scored already (pid {current.get('pid')})")
    cmd = [sys.executable, "-m", "core.runs.worker", "--score", run_id]
    env = dict(os.environ, **{WORKSPACE_ENV: str(store.workspace), "PYTHONUNBUFFERED": "1"})
    with (run_dir / scoring.SCORING_LOG).open("ab") as fh:
        fh.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} scoring: {' '.join(cmd)}\n".encode())
        fh.flush()
        try:
            proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        except OSError as exc:
            raise RunError("E306", f"cannot start the scoring job of run {run_id!r} ({' '.join(cmd)}): {exc}") from exc
    _CHILDREN[proc.pid] = proc
    scoring.write_state(run_dir, state=scoring.RUNNING_STATE, pid=proc.pid, started=time.time(), finished=None,
                        error=None, step=scoring.best_model(run, run_dir)[1], run_status=run.status)
    return proc.pid


def scoring_status(run_id: str, store: RunStore) -> dict | None:
    """The scoring job's state (see :func:`core.runs.scoring.read_state`); a RUNNING job whose process is gone
    is recorded FAILED with the tail of ``score.log``. None when the run was never scored this way."""
    from core.runs import scoring

    run_dir = store.run_dir(run_id, create=False)
    state = scoring.read_state(run_dir)
    if not state or state.get("state") != scoring.RUNNING_STATE:
        return state
    alive, detail = process_state(state.get("pid"))
    # a child launched here is trusted: until it has exec'ed, its command line is still this process's
    if alive and (state.get("pid") in _CHILDREN or is_scorer_of(state.get("pid"), run_id)):
        return state
    if scoring.read_state(run_dir).get("state") != scoring.RUNNING_STATE:  # it finished as we looked
        return scoring.read_state(run_dir)
    tail = log_tail(run_dir / scoring.SCORING_LOG, 20)
    return scoring.write_state(run_dir, state=FAILED, finished=time.time(),
                               error=f"[E307] the scoring process {state.get('pid')} is gone ({detail})\n{tail}")


def is_scorer_of(pid: int | None, run_id: str) -> bool:
    """Whether ``pid`` is the scoring job of ``run_id`` (``... core.runs.worker --score <run_id>``); True for this
    process (in-process scoring) and where the command line cannot be read."""
    if pid is None:
        return False
    if pid == os.getpid() or not _HAVE_PROCFS:
        return True
    try:
        args = [a.decode("utf-8", "replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return "--score" in args and run_id in args
