"""A fake training function for worker tests: no torch, follows the trainer contract of core.runs.worker.

Configured through ``run.config``:

* ``fake_steps`` (int, default 10): steps to train; ``fake_forever`` (bool): train until stopped.
* ``fake_sleep`` (seconds per step, default 0.02).
* ``fake_eval_every`` (int, default 5): log ``eval_f1`` every that many steps.
* ``fake_log_bytes`` (int): first print that many bytes of numbered log lines (``log line 000123 ...``), then
  train; ``fake_hard_exit`` (bool): with it, end the process with ``os._exit(3)`` right after those lines (no
  interpreter shutdown, nothing flushed by Python).
* ``fake_fail_at`` (int): raise at that step; ``fake_error``: ``"value"`` (ValueError, default), ``"oom"``
  (a class named OutOfMemoryError, like torch.cuda's), ``"studio"`` (ConfigError E202).

The resume state is a JSON step counter in ``<run_dir>/checkpoints/state.json``, written at every step.
"""

from __future__ import annotations

import json
import os
import time

from core.kernel.constants import EVAL_F1, TRAIN_LOSS
from core.kernel.errors import ConfigError


class OutOfMemoryError(RuntimeError):
    """Stands in for torch.cuda.OutOfMemoryError (the worker checks the class name only)."""


def _fail(kind: str, step: int) -> None:
    if kind == "oom":
        raise OutOfMemoryError(f"CUDA out of memory. Tried to allocate 2.00 GiB at step {step}")
    if kind == "studio":
        raise ConfigError("E202", f"fake bad value at step {step}")
    raise ValueError(f"boom at step {step}")


def train_run(run, store, resume: bool) -> dict:
    cfg = run.config
    state = store.checkpoint_dir(run.run_id) / "state.json"
    step = 0
    if resume and state.exists():
        step = json.loads(state.read_text())["step"]
        store.rewind_metrics(run.run_id, step)
        print(f"resumed from step {step}", flush=True)
    if cfg.get("fake_log_bytes"):
        n = 0
        written = 0
        while written < int(cfg["fake_log_bytes"]):
            line = f"log line {n:06d} " + "x" * 60
            print(line)  # no flush: the worker's stdout must not lose buffered lines
            written += len(line) + 1
            n += 1
        print(f"log lines written: {n}")
        if cfg.get("fake_hard_exit"):
            os._exit(3)
    forever = bool(cfg.get("fake_forever"))
    total = int(cfg.get("fake_steps", 10))
    store.update_run(run.run_id, total_steps=None if forever else total)
    while forever or step < total:
        if store.stop_requested(run.run_id):
            state.write_text(json.dumps({"step": step}))
            print(f"stopped at step {step}", flush=True)
            return {"status": "STOPPED"}
        step += 1
        if cfg.get("fake_fail_at") == step:
            _fail(cfg.get("fake_error", "value"), step)
        time.sleep(float(cfg.get("fake_sleep", 0.02)))
        metrics = {TRAIN_LOSS: 1.0 / step}
        if step % int(cfg.get("fake_eval_every", 5)) == 0:
            metrics[EVAL_F1] = min(1.0, step / 100)
        store.log_metrics(run.run_id, step, metrics)
        state.write_text(json.dumps({"step": step}))
        print(f"step {step} loss {1.0 / step:.4f}", flush=True)
    model_dir = store.run_dir(run.run_id) / "model"
    model_dir.mkdir(exist_ok=True)
    store.add_artifact(run.run_id, "model", model_dir)
    return {"status": "FINISHED", "summary": {"test_f1": 0.5, "steps": step}, "model_dir": str(model_dir)}
