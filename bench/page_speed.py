"""Page render time with many runs in the store: every page under 1 s with 50 runs (issue target).

Seeds a temporary workspace through the run store with ``--runs`` finished runs (each with 200 metric rows and
a predictions file) plus one running run, then renders every page with Streamlit's AppTest: a first render
(imports, caches) and ``--repeat`` re-renders, the best of which is reported, as a user clicking around sees.
That the live panel reads only new metric rows is pinned by tests/test_pages.py (LiveSeries.last_id).

Last line: one JSON object ``{"pages": {page: seconds}, "max_seconds", "runs"}``.
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
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
