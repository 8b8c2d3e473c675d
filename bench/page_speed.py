"""Page render time with many runs in the store: every page under 1 s with 50 runs (issue target).

Seeds a temporary workspace through the run store with ``--runs`` finished runs (each with 200 metric rows and
a predictions file) plus one running run, then renders every page with Streamlit's AppTest: a first render
(imports, caches) and ``--repeat`` re-renders, the best of which is reported, as a user clicking around sees.
That the live panel reads only new metric rows is pinned by tests/test_pages.py (LiveSeries.last_id).

Then the live panel's cost while a run trains (issue target: at most 5% of a core per open tab): a worker with
the fake trainer of tests/fake_trainer.py trains in its own process and writes metric rows, and the Train page
is re-run ``--refreshes`` times at the live panel's own refresh interval (core.runs.live.live_interval). The
CPU time of this process (``time.process_time``: the page's script, the store reads, the figures, AppTest's
element tree) per refresh, divided by the interval, is the share of a core one open tab costs. A whole-page
rerun is measured (AppTest does not tick a fragment alone), so this is an upper bound of the fragment's cost.

Last line: one JSON object ``{"pages": {page: seconds}, "max_seconds", "runs", "live": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PAGES = ("home", "data", "train", "runs", "evaluate", "review", "playground")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--refreshes", type=int, default=15, help="live-panel refreshes measured (0: skip)")
    ap.add_argument("--steps-per-s", type=float, default=5.0, help="the fake trainer's step rate")
    args = ap.parse_args()
    ws = tempfile.mkdtemp(prefix="page_bench_")
    os.environ["NER_STUDIO_WORKSPACE"] = ws
    from streamlit.testing.v1 import AppTest

    from core.runs.store import RunStore
    from ui_seed import finished_run, log_steps, running_run

    store = RunStore(ws)
    for i in range(args.runs):
        run = finished_run(store, name=f"run {i}")
        log_steps(store, getattr(run, "run_id", run), range(1, 201))
    live = running_run(store, name="live").run_id
    log_steps(store, live, range(1, 51))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    timings = {}
    elements: dict[str, int] = {}
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        if at.exception:
            print(f"{page}: exception {at.exception}", file=sys.stderr)
        best = None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            at.run()
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        timings[page] = round(best, 3)
        if at.exception:
            raise SystemExit(f"page {page} raised: {at.exception}")
        elements[page] = sum(1 for _ in at.main)  # what was drawn: the timing is of a real render
    out = {"pages": timings, "max_seconds": max(timings.values()), "runs": args.runs + 1, "elements": elements}
    if args.refreshes:
        out["live"] = live_panel_cost(store, args.refreshes, args.steps_per_s)
    print(json.dumps(out))
    return 0


def live_panel_cost(store, refreshes: int, steps_per_s: float) -> dict:
    """CPU seconds per Train-page refresh while a fake-trainer worker writes metrics, and % of a core per tab."""
    from streamlit.testing.v1 import AppTest

    from core.runs import jobs
    from core.runs.live import live_interval

    fake = f"{ROOT / 'tests' / 'fake_trainer.py'}:train_run"
    run = store.create_run({"device": "cpu", "fake_forever": True, "fake_sleep": 1.0 / steps_per_s,
                            "fake_eval_every": 25}, {"train": "fixture"}, name="fake live",
                           options={"entrypoint": fake})
    jobs.launch(run.run_id, store)
    try:
        deadline = time.time() + 60
        while store.get_run(run.run_id).step < 5 and time.time() < deadline:
            time.sleep(0.2)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        at.switch_page("pages/train.py").run()
        at.selectbox(key="train_run").set_value(run.run_id).run()
        if at.exception:
            raise SystemExit(f"train page raised: {at.exception}")
        cpu, wall, intervals, rows = [], [], [], []
        for _ in range(refreshes):
            interval = live_interval(at.session_state[f"live_{run.run_id}"])
            before = store.get_run(run.run_id).step
            c0, t0 = time.process_time(), time.perf_counter()
            at.run()
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - t0)
            intervals.append(interval)
            time.sleep(max(0.0, interval - wall[-1]))
            rows.append(store.get_run(run.run_id).step - before)
            if at.exception:
                raise SystemExit(f"train page raised: {at.exception}")
        cpu.sort()
        mean_cpu = sum(cpu) / len(cpu)
        mean_interval = sum(intervals) / len(intervals)
        return {"refreshes": refreshes, "trainer_steps_per_s": steps_per_s,
                "interval_s": round(mean_interval, 2), "cpu_s_per_refresh": round(mean_cpu, 4),
                "cpu_s_per_refresh_median": round(cpu[len(cpu) // 2], 4),
                "wall_s_per_refresh": round(sum(wall) / len(wall), 4),
                "steps_between_refreshes": round(sum(rows) / len(rows), 1),
                "pct_core_per_tab": round(100 * mean_cpu / mean_interval, 2), "target_pct": 5.0}
    finally:
        jobs.stop(run.run_id, store)
        deadline = time.time() + 20
        while store.get_run(run.run_id).active and time.time() < deadline:
            time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
