"""Soak test: three AppTest sessions poll every page while two runs train and a third is killed with SIGKILL.

The runs use the fake trainer of tests/fake_trainer.py (no torch: a step is a sleep plus a metric row and a
log line), so the soak is cheap and measures what it is about: the pages, the run store under concurrent
writers and readers, and dead-worker detection. Each trainer runs in a real worker process
(core.runs.jobs.launch), three CPU slots so that all train at once.

Passes when: no page raised, no page or log said "database is locked" or showed a traceback, the killed run was
FAILED (with its log tail) within 30 s of the SIGKILL, and the other two FINISHED.

    python bench/soak.py [--minutes 10]

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = ("home", "data", "train", "runs", "evaluate", "review", "playground")
FAKE = f"{ROOT / 'tests' / 'fake_trainer.py'}:train_run"
STEP_S = 0.1
BAD = ("database is locked", "Traceback", "[E323]")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    ws = tempfile.mkdtemp(prefix="soak_")
    os.environ.update({"NER_STUDIO_WORKSPACE": ws, "NER_STUDIO_CPU_SLOTS": "3", "NER_STUDIO_POLL_S": "0.2"})
    from streamlit.testing.v1 import AppTest

    from core.runs import jobs
    from core.runs.store import ACTIVE_STATUSES, FAILED, FINISHED, RunStore
    from tests.ui_seed import finished_run

    store = RunStore(ws)
    finished_run(store, name="seeded")  # Evaluate, Review and Playground have something to show
    seconds = args.minutes * 60
    steps = max(20, int(seconds * 0.85 / STEP_S))
    cfg = {"device": "cpu", "fake_sleep": STEP_S, "fake_eval_every": 25}
    opts = {"entrypoint": FAKE}
    keep = [store.create_run({**cfg, "fake_steps": steps}, {"train": "soak"}, name=f"soak-{i}", options=opts).run_id
            for i in range(2)]
    victim = store.create_run({**cfg, "fake_forever": True}, {"train": "soak"}, name="soak-killed",
                              options=opts).run_id
    pids = {rid: jobs.launch(rid, store) for rid in [*keep, victim]}
    sessions = [AppTest.from_file(str(ROOT / "app.py"), default_timeout=60) for _ in range(3)]
    for at in sessions:
        at.run()
    t0 = time.monotonic()
    kill_at = t0 + seconds / 3
    killed_t = failed_t = None
    renders, exceptions, bad_text = 0, [], []
    i = 0
    while True:
        now = time.monotonic()
        if killed_t is None and now >= kill_at:
            os.kill(pids[victim], signal.SIGKILL)
            killed_t = time.monotonic()
        at = sessions[i % 3]
        page = PAGES[(i // 3) % len(PAGES)]
        at.switch_page(f"pages/{page}.py").run()
        renders += 1
        if at.exception:
            exceptions.append(f"{page}: {[e.value for e in at.exception][:1]}")
        text = " ".join(str(getattr(e, "value", "")) for e in at.error) + " ".join(
            str(getattr(e, "value", "")) for e in at.code)
        bad_text += [f"{page}: {b}" for b in BAD if b in text]
        if killed_t is not None and failed_t is None and store.get_run(victim).status == FAILED:
            failed_t = time.monotonic()
        i += 1
        runs = {rid: store.get_run(rid) for rid in keep}
        if all(r.status not in ACTIVE_STATUSES for r in runs.values()) and failed_t is not None:
            break
        if now - t0 > seconds + 300:
            break
    victim_run = store.get_run(victim)
    logs = "".join(store.log_path(r).read_text(errors="replace") for r in [*keep, victim])
    locked_in_logs = logs.count("database is locked")
    out = {
        "minutes": round((time.monotonic() - t0) / 60, 2),
        "renders": renders,
        "renders_per_s": round(renders / (time.monotonic() - t0), 2),
        "exceptions": exceptions[:5],
        "bad_text": bad_text[:5],
        "locked_in_logs": locked_in_logs,
        "kept_runs": {rid: {"status": store.get_run(rid).status, "step": store.get_run(rid).step} for rid in keep},
        "killed_run": {"status": victim_run.status,
                       "failed_after_s": None if failed_t is None else round(failed_t - killed_t, 2),
                       "has_log_tail": "--- last 40 lines of train.log ---" in (victim_run.error or ""),
                       "code": (victim_run.error or "")[:6]},
        "fake_trainer": True,
    }
    out["ok"] = (not exceptions and not bad_text and not locked_in_logs
                 and all(v["status"] == FINISHED for v in out["kept_runs"].values())
                 and victim_run.status == FAILED and failed_t is not None and failed_t - killed_t <= 30
                 and out["killed_run"]["has_log_tail"])
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
