"""The training process: ``python -m core.runs.worker --run RUN_ID [--resume]``.

Started by :func:`core.runs.jobs.launch` (its stdout and stderr go to the run's ``train.log``). It is the only
thing that trains. In order it:

1. loads the run (it must be SCHEDULED), records its pid and starts a heartbeat thread (every 2 s);
2. resolves the device (``config["device"]`` by :func:`core.kernel.devices.select_device`, the rule TrainConfig
   validates with) and the training function (``run.options["entrypoint"]``, default ``core.train.loop:train_run``);
3. waits in SCHEDULED until the device is free (:meth:`core.runs.store.RunStore.claim_device`: one run per GPU, at
   most ``$NER_STUDIO_CPU_SLOTS`` (default 1) CPU runs), reaping dead holders meanwhile;
4. calls ``train_run(run, store, resume)`` and marks the run FINISHED or STOPPED from its return value, or
   FAILED with a coded message (``E303`` out of memory, a :class:`~core.kernel.errors.StudioError`'s own code,
   ``E302`` otherwise) followed by the log tail.

SIGTERM (and a first SIGINT) requests a graceful stop: the trainer sees ``store.stop_requested`` at its next
step boundary, saves a checkpoint and returns ``{"status": "STOPPED"}``.

Trainer contract (``train_run(run: Run, store: RunStore, resume: bool) -> dict | None``):

* ``run`` is RUNNING, with ``run.device`` set; ``run.config`` / ``run.data`` hold the configuration and data.
* Metric keys are the constants of :mod:`core.kernel.constants`. At each optimisation step:
  ``store.log_metrics(run.run_id, step, {TRAIN_LOSS: ..., LEARNING_RATE: ...})`` (this also advances
  ``run.step`` and counts as a heartbeat); after each evaluation log ``EVAL_F1`` (and ``EVAL_PRECISION``,
  ``EVAL_RECALL``, ``eval_f1_<lang>``...): ``EVAL_F1`` raises ``best_dev_f1``. Set the plan once with
  ``store.update_run(run.run_id, total_steps=N)``.
* At each step boundary: ``if store.stop_requested(run.run_id)``: save a checkpoint and return
  ``{"status": "STOPPED"}``.
* Checkpoints go under ``store.checkpoint_dir(run.run_id)``; the final model under
  ``store.run_dir(run.run_id) / "model"`` (record with ``store.add_artifact``).
* With ``resume=True``: load the latest checkpoint (if any) at step ``s`` and call
  ``store.rewind_metrics(run.run_id, s)`` before training on, so the curve holds no step twice.
* Return ``{"status": "FINISHED", "summary": {test scores}, "model_dir": str}`` (all keys optional;
  ``best_dev_f1`` may be given too). Raise on failure: a :class:`~core.kernel.errors.StudioError` keeps its code.
* Print progress to stdout: it is the run's log. Heartbeats are sent by the worker, not the trainer.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import os
import signal
import sqlite3
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

from core.kernel.constants import ACTIVE_STATUSES, DEFAULT_ENTRYPOINT, FAILED, FINISHED, SCHEDULED, STOPPED
from core.kernel.devices import select_device
from core.kernel.errors import ConfigError, RunError, StudioError
from core.runs.jobs import LOG_TAIL_LINES, check_alive, log_tail
from core.runs.store import Run, RunStore, disk_full_error, is_disk_full

#: Key of ``Run.options`` naming the training function (``module:function``).
ENTRYPOINT_KEY = "entrypoint"
#: Seconds between two heartbeats.
HEARTBEAT_INTERVAL_S = 2.0
#: Seconds between two tries to claim a busy device (``$NER_STUDIO_POLL_S`` overrides).
POLL_INTERVAL_S = 1.0
POLL_ENV = "NER_STUDIO_POLL_S"
#: How many CPU runs may train at once (``$NER_STUDIO_CPU_SLOTS`` overrides; 1 on a 2-core machine).
CPU_SLOTS_ENV = "NER_STUDIO_CPU_SLOTS"

TrainFn = Callable[[Run, RunStore, bool], "Mapping[str, Any] | None"]


def _say(message: str) -> None:
    print(f"[worker {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch  # only in the worker, and only for device "auto"

    return bool(torch.cuda.is_available())


def resolve_device(run: Run) -> str:
    """The device a run queues for and trains on: ``"cpu"`` or ``"cuda:<k>"``.

    Read from ``run.config["device"]``, else the device of an earlier attempt, else ``"auto"``, and resolved by
    :func:`core.kernel.devices.select_device` (the rule TrainConfig validates with; ``auto`` = ``cuda:0`` when
    torch sees a GPU, otherwise ``cpu``).

    Raises:
        ConfigError: ``E202`` for any other value.
    """
    return select_device(run.config.get("device") or run.device or "auto", _cuda_available)


def _device_slots(device: str) -> int:
    if device != "cpu":
        return 1
    raw = os.environ.get(CPU_SLOTS_ENV, "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError("E202", f"{CPU_SLOTS_ENV}={raw!r} must be a positive integer")
    return int(raw)


def resolve_entrypoint(spec: str) -> TrainFn:
    """The training function named by ``"module:function"`` or ``"path/to/file.py:function"``.

    Raises:
        ConfigError: ``E202`` when the spec is malformed, the module itself does not exist, or the function
            is missing. An ImportError raised *inside* an existing module propagates (it is a failure of
            that module, shown with its traceback).
    """
    if not isinstance(spec, str) or spec.count(":") < 1 or not spec.rsplit(":", 1)[1]:
        raise ConfigError("E202", f"training entrypoint {spec!r} must look like 'module:function'")
    module_name, func_name = spec.rsplit(":", 1)
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise ConfigError("E202", f"training entrypoint file {str(path)!r} does not exist")
        mod_spec = importlib.util.spec_from_file_location(f"_ner_studio_entry_{path.stem}", path)
        if mod_spec is None or mod_spec.loader is None:
            raise ConfigError("E202", f"training entrypoint file {str(path)!r} cannot be loaded as Python")
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not (module_name == exc.name or module_name.startswith(exc.name + ".")):
                raise
            raise ConfigError("E202", f"training entrypoint module {module_name!r} not found ({exc})") from exc
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise ConfigError("E202", f"training entrypoint {spec!r}: {module_name} has no function {func_name!r}")
    return fn


#: Lower-case fragments of out-of-memory messages, as PyTorch, CUDA libraries and the OS word them:
#: CPU ``[enforce fail at alloc_cpu.cpp] DefaultCPUAllocator: can't allocate memory: you tried to allocate ...``;
#: CUDA ``CUDA out of memory`` / ``CUDA error: out of memory`` / ``CUBLAS_STATUS_ALLOC_FAILED`` /
#: ``CUDNN_STATUS_ALLOC_FAILED``; ROCm ``HIP out of memory``; Apple ``MPS backend out of memory``; XPU ``XPU out
#: of memory``; the OS ``Cannot allocate memory`` (strerror of ENOMEM) and ``std::bad_alloc``.
OOM_MARKERS = ("out of memory", "can't allocate memory", "cannot allocate memory", "defaultcpuallocator",
               "alloc_failed", "bad_alloc", "failed to allocate memory", "not enough memory")


def is_oom(exc: BaseException) -> bool:
    """Whether an exception means the process ran out of CPU or GPU memory.

    True for a class named ``OutOfMemoryError`` (torch.cuda's and torch's, checked by name: torch is not
    imported), :class:`MemoryError`, an :class:`OSError` with ``errno.ENOMEM``, or any exception whose text
    holds one of :data:`OOM_MARKERS` (PyTorch raises a plain RuntimeError for the CPU allocator and for
    cuBLAS / cuDNN allocation failures), anywhere in the cause / context chain.
    """
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if any(c.__name__ == "OutOfMemoryError" for c in type(current).__mro__):
            return True
        if isinstance(current, MemoryError):
            return True
        if isinstance(current, OSError) and current.errno == errno.ENOMEM:
            return True
        text = str(current).lower()
        if any(m in text for m in OOM_MARKERS):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def store_folder(run: Run) -> str:
    """The folder a run writes to (its workspace), for disk-full messages."""
    return os.environ.get("NER_STUDIO_WORKSPACE") or os.getcwd()


def classify_error(exc: BaseException, run: Run) -> str:
    """The coded one-paragraph error text of a failed run (without the log tail).

    A :class:`~core.kernel.errors.StudioError` keeps its code; a full disk becomes ``E322`` naming the folder
    and its free space; out of memory becomes ``E303`` naming the configuration values to lower; anything else
    is ``E302`` with the exception type and text.
    """
    if isinstance(exc, StudioError):
        return str(exc)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    where = f"on {run.device or 'the device'} at step {run.step}"
    if is_disk_full(exc):
        return str(disk_full_error(store_folder(run), exc))
    if is_oom(exc):
        cfg = run.config
        bs, msl, gas = (cfg.get("per_device_train_batch_size"), cfg.get("max_seq_length"),
                        cfg.get("gradient_accumulation_steps"))
        memory = "GPU memory" if str(run.device or "").startswith(("cuda", "mps")) else "system memory (RAM)"
        fix = (f"Lower per_device_train_batch_size (now {bs}) or max_seq_length (now {msl}), and raise "
               f"gradient_accumulation_steps (now {gas}) to keep the effective batch size; then resume the run. "
               f"The {memory} ran out; closing other programs or runs on that device helps too.")
        return str(RunError("E303", f"out of memory {where} ({type(exc).__name__}: {first})", fix=fix))
    if isinstance(exc, KeyboardInterrupt):
        return str(RunError("E302", f"training interrupted {where} (second interrupt signal)"))
    return str(RunError("E302", f"training failed {where}: {type(exc).__name__}: {first}"))


class _Heartbeat(threading.Thread):
    """Writes ``heartbeat`` every ``interval`` seconds; forwards a stop signal to the store.

    The signal handler only sets :attr:`stop_signalled` (no lock, no database call in a handler); this
    thread turns it into ``request_stop`` within 0.2 s.
    """

    def __init__(self, store: RunStore, run_id: str, interval: float) -> None:
        super().__init__(name=f"heartbeat-{run_id}", daemon=True)
        self.store, self.run_id, self.interval = store, run_id, interval
        self.stop_signalled = False
        self._stop_written = False
        self._done = threading.Event()

    def run(self) -> None:
        last = 0.0
        while not self._done.wait(0.2):
            try:
                if self.stop_signalled and not self._stop_written:
                    self.store.request_stop(self.run_id)
                    self._stop_written = True
                    _say("stop signal received: stopping at the next step boundary")
                if time.monotonic() - last >= self.interval:
                    status = self.store.heartbeat(self.run_id)
                    last = time.monotonic()
                    if status == FAILED and self.store.reclaim(self.run_id, os.getpid()):
                        _say("this run was declared lost while the worker was paused: taken back, training on")
            except RunError as exc:
                print(f"heartbeat of run {self.run_id} failed: {exc}", file=sys.stderr, flush=True)
                if exc.code == "E301":
                    return  # the run was deleted: nothing left to beat for
            except sqlite3.Error as exc:
                print(f"heartbeat of run {self.run_id} failed (will retry): {exc!r}", file=sys.stderr, flush=True)
        self.store.close()

    def close(self) -> None:
        self._done.set()
        self.join(timeout=5)


def _wait_for_device(store: RunStore, run_id: str, device: str, pid: int, poll: float) -> str:
    slots = _device_slots(device)
    last_ahead: list[str] | None = None
    while True:
        outcome, ahead = store.claim_device(run_id, device, pid, max_running=slots)
        if outcome != "busy":
            return outcome
        if ahead != last_ahead:
            _say(f"waiting for {device}: {len(ahead)} run(s) ahead ({', '.join(ahead)})")
            last_ahead = ahead
        check_alive(store)  # a dead holder must not block the queue for ever
        time.sleep(poll)


def _finish(store: RunStore, run_id: str, result: Mapping[str, Any] | None) -> str:
    if result is None:
        result = {}
    if not isinstance(result, Mapping):
        raise TypeError(f"train_run must return a dict or None, got {type(result).__name__}")
    status = result.get("status", FINISHED)
    if status not in (FINISHED, STOPPED):
        raise ValueError(f"train_run returned status {status!r}; expected {FINISHED!r} or {STOPPED!r}")
    summary = dict(result.get("summary") or {})
    extra = sorted(set(result) - {"status", "summary", "model_dir", "best_dev_f1"})
    if extra:
        _say(f"train_run returned unknown key(s) {', '.join(extra)}: kept in the summary")
        summary.update({k: result[k] for k in extra})
    fields: dict[str, Any] = {"summary": summary}
    if result.get("model_dir"):
        fields["model_dir"] = str(result["model_dir"])
    if result.get("best_dev_f1") is not None:
        fields["best_dev_f1"] = float(result["best_dev_f1"])
    store.set_status(run_id, status, None, **fields)
    return status


def run_worker(run_id: str, store: RunStore, *, resume: bool = False, poll_interval: float | None = None,
               heartbeat_interval: float = HEARTBEAT_INTERVAL_S, handle_signals: bool = False) -> str:
    """Queue, train and record one run in this process (what ``python -m core.runs.worker`` does).

    Args:
        run_id: a SCHEDULED run.
        store: the run store.
        resume: passed to the trainer: continue from the last checkpoint.
        poll_interval: seconds between claims of a busy device; ``$NER_STUDIO_POLL_S`` or 1 s when None.
        heartbeat_interval: seconds between heartbeats.
        handle_signals: install SIGTERM / SIGINT handlers that request a graceful stop (main thread only).

    Returns:
        The final status: FINISHED, STOPPED or FAILED (or the run's status if it was taken over meanwhile).

    Raises:
        RunError: ``E301`` no such run; ``E305`` the run is not SCHEDULED or another worker owns it.
    """
    pid = os.getpid()
    run = store.get_run(run_id)
    if run.status != SCHEDULED:
        raise RunError("E305", f"run {run_id!r} is {run.status}; the worker only starts SCHEDULED runs "
                               f"(resume a STOPPED or FAILED run with core.runs.jobs.resume)")
    bound, owner = store.bind_worker(run_id, pid)
    if not bound:
        raise RunError("E305", f"run {run_id!r} is owned by another worker (pid {owner}): not starting twice")
    poll = float(os.environ.get(POLL_ENV, POLL_INTERVAL_S)) if poll_interval is None else poll_interval
    beat = _Heartbeat(store, run_id, heartbeat_interval)
    beat.start()
    previous: dict[int, Any] = {}
    if handle_signals:
        def on_signal(signum: int, frame: Any) -> None:
            beat.stop_signalled = True
            if signum == signal.SIGINT:  # a second Ctrl-C interrupts for real
                signal.signal(signal.SIGINT, signal.default_int_handler)

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        try:
            device = resolve_device(run)
            store.update_run(run_id, device=device)
            train = resolve_entrypoint(run.options.get(ENTRYPOINT_KEY) or DEFAULT_ENTRYPOINT)
            outcome = _wait_for_device(store, run_id, device, pid, poll)
            if outcome == "stopped":
                store.set_status(run_id, STOPPED, None, expect=ACTIVE_STATUSES)
                _say(f"run {run_id} stopped while waiting for {device}")
                return STOPPED
            if outcome == "invalid":
                status = store.get_run(run_id).status
                _say(f"run {run_id} is {status}, no longer SCHEDULED: not training")
                return status
            run = store.get_run(run_id)
            _say(f"run {run_id} started on {device} (pid {pid}, attempt {run.attempt}, resume={resume})")
            status = _finish(store, run_id, train(run, store, resume))
            _say(f"run {run_id} {status}")
            return status
        except BaseException as exc:  # every failure is recorded as FAILED with its text and the log tail
            traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
            current = store.find_run(run_id)
            if current is None:
                _say(f"run {run_id} was deleted while its worker ran: nothing recorded")
                return FAILED
            message = classify_error(exc, current)
            tail = log_tail(store.log_path(run_id))
            try:
                store.set_status(run_id, FAILED,
                                 f"{message}\n\n--- last {LOG_TAIL_LINES} lines of train.log ---\n{tail}")
            except StudioError as store_exc:  # a full disk can refuse this write too: the reaper names it then
                print(f"could not record FAILED for run {run_id}: {store_exc}", file=sys.stderr, flush=True)
            _say(f"run {run_id} FAILED: {message}")
            return FAILED
    finally:
        beat.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def score_worker(run_id: str, store: RunStore, entrypoint: str | None = None) -> int:
    """Run the scoring job of a stopped or failed run in this process and record its outcome in the run's
    ``scoring.json`` (see :mod:`core.runs.scoring`); the run's own status is not touched.

    Returns:
        0 when the predictions were written, 1 when scoring failed (the coded error is in the state file).
    """
    from core.runs import scoring

    run_dir = store.run_dir(run_id)
    scoring.write_state(run_dir, state=scoring.RUNNING_STATE, pid=os.getpid(),
                        started=(scoring.read_state(run_dir) or {}).get("started") or time.time())
    try:
        fn = resolve_entrypoint(entrypoint or scoring.SCORING_ENTRYPOINT)
        out = dict(fn(run_id, store) or {})
    except Exception as exc:  # noqa: BLE001 - every failure is recorded in the state file with its code
        traceback.print_exc()
        run = store.find_run(run_id)
        message = classify_error(exc, run) if run is not None else str(exc)
        scoring.write_state(run_dir, state=FAILED, finished=time.time(), error=message)
        _say(f"scoring of run {run_id} FAILED: {message}")
        return 1
    scoring.write_state(run_dir, state=FINISHED, finished=time.time(), error=None, **out)
    _say(f"scoring of run {run_id} finished: {out.get('splits')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry: ``python -m core.runs.worker --run RUN_ID [--resume]``.

    Returns:
        Exit status: 0 FINISHED or STOPPED, 1 FAILED, 2 the run cannot be started (not found, not SCHEDULED).
    """
    parser = argparse.ArgumentParser(prog="python -m core.runs.worker",
                                     description="Train one run of the run store (started by core.runs.jobs.launch).")
    parser.add_argument("--run", help="run id")
    parser.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    parser.add_argument("--score", metavar="RUN_ID", help="score a stopped or failed run's best model on its dev "
                        "and test data (core.runs.scoring) instead of training")
    args = parser.parse_args(argv)
    if bool(args.run) == bool(args.score):
        parser.error("give exactly one of --run or --score")
    for stream in (sys.stdout, sys.stderr):  # every line reaches train.log at once, even before an os._exit or a kill
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True, write_through=True)
    store = RunStore()
    if args.score:
        return score_worker(args.score, store)
    try:
        status = run_worker(args.run, store, resume=args.resume, handle_signals=True)
    except StudioError as exc:
        print(exc, file=sys.stderr, flush=True)
        return 2
    return 0 if status in (FINISHED, STOPPED) else 1


if __name__ == "__main__":
    sys.exit(main())
