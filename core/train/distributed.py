"""Entry point of one data-parallel training process: ``torchrun ... -m core.train.distributed RUN_ID [resume]``.

Arguments are positional because torchrun's own parser would take ``--run`` for its ``--run-path``.

Launched by :func:`core.train.loop._fit_distributed` from the run's worker (``accelerate launch -m
core.train.distributed RUN_ID`` works too). Every process reads the run's data and calls
:func:`core.train.loop.fit`, whose ``Accelerator`` joins the process group torchrun describes; the main process
reports metrics and progress to the store, obeys stop requests (shared with the others), evaluates, saves, and
writes ``fit_result.json`` for the worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from core.runs.store import RunStore
from core.train.loop import fit, load_run_data, run_config, store_callbacks

#: torchrun's (and accelerate launch's) variable holding this process's global rank.
RANK_ENV = "RANK"


def main(argv: list[str] | None = None) -> int:
    """Train one process of a run; returns the process exit status (0 on success)."""
    ap = argparse.ArgumentParser(prog="python -m core.train.distributed")
    ap.add_argument("run")
    ap.add_argument("mode", nargs="?", choices=("resume",), help="continue from the checkpoint")
    args = ap.parse_args(argv)
    is_main = int(os.environ.get(RANK_ENV, "0")) == 0
    store = RunStore()
    run = store.get_run(args.run)
    cfg = run_config(run)
    log = (lambda msg: print(f"[rank 0] {msg}", flush=True)) if is_main else (lambda msg: None)
    splits = load_run_data(run.data, cfg, log)
    # fit calls the callbacks on the main process only
    result = fit(cfg, splits["train"], splits["dev"], str(store.run_dir(run.run_id)), store_callbacks(run, store, log),
                 resume=args.mode == "resume", checkpoint_dir=str(store.checkpoint_dir(run.run_id)))
    if is_main:
        data = dataclasses.asdict(result)
        data["dev"] = None  # the worker re-evaluates with the saved best model
        (store.run_dir(run.run_id) / "fit_result.json").write_text(json.dumps(data), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
