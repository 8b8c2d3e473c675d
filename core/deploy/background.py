"""The ONNX export of a run as a background process, for the Runs page (imports no torch).

:func:`start_export` starts ``python -m core export --model RUN -o <run>/onnx --json [--quantize int8]`` as its own
process (no shell, its own session, output appended to ``<run>/export.log``, pid in ``<run>/export.pid``), like
:func:`core.runs.jobs.launch` starts a training worker; the page never waits for it. :func:`export_status` reads
the pid and the log's last line (the command's JSON report) to say running / finished / failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.kernel.constants import PROJECT_ROOT
from core.runs import jobs
from core.runs.store import WORKSPACE_ENV, RunStore

EXPORT_DIR = "onnx"
LOG_NAME = "export.log"
PID_NAME = "export.pid"


@dataclass
class ExportStatus:
    """Where the background export of a run stands.

    Attributes:
        state: ``none`` (never started), ``running``, ``finished``, ``refused`` (int8 refused, fp32 kept) or
            ``failed``.
        folder: the ONNX folder.
        report: the export report (:func:`core.deploy.export.export_onnx`) once finished or refused.
        message: what to show: the error line of a failed export, the refusal reason, or ''.
        rows: one row per backend for a table: backend, F1 per language, F1 points lost, sentences/s, speed-up.
    """

    state: str
    folder: str
    report: dict | None = None
    message: str = ""
    rows: list[dict] = field(default_factory=list)


def _paths(store: RunStore, run_id: str) -> tuple[Path, Path, Path]:
    d = store.run_dir(run_id)
    return d / EXPORT_DIR, d / LOG_NAME, d / PID_NAME


def start_export(run_id: str, store: RunStore, quantize: bool = True) -> int:
    """Start the export of ``run_id``'s model in the background; returns the pid.

    Raises:
        RunError: E301 no such run; E305 an export of this run is already running; E306 it cannot be started.
    """
    from core.kernel.errors import RunError

    store.get_run(run_id)
    folder, log, pid_file = _paths(store, run_id)
    if export_status(run_id, store).state == "running":
        raise RunError("E305", f"an export of run {run_id!r} is already running")
    cmd = [sys.executable, "-m", "core", "export", "--model", run_id, "-o", str(folder), "--json"]
    if quantize:
        cmd += ["--quantize", "int8"]
    env = dict(os.environ, **{WORKSPACE_ENV: str(store.workspace), "PYTHONUNBUFFERED": "1"})
    with log.open("ab") as fh:
        fh.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        fh.flush()
        try:
            proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        except OSError as exc:
            raise RunError("E306", f"cannot start the export of run {run_id!r}: {exc}") from exc
    jobs._CHILDREN[proc.pid] = proc  # polled (and reaped) by jobs.process_state
    pid_file.write_text(str(proc.pid), encoding="utf-8")
    return proc.pid


def report_rows(report: dict) -> list[dict]:
    """Table rows of an export report: backend, ``F1 <lang>`` and ``lost <lang>`` (F1 points), speed."""
    rows = []
    for key, sc in (report.get("backends") or {}).items():
        drops = (report.get("f1_drop_points") or {}).get(key) or {}
        row = {"backend": key, "F1 all": sc.get("overall_f1")}
        for lang, f1 in sc.get("per_language", {}).items():
            row[f"F1 {lang}"] = f1
        for lang, d in drops.items():
            row[f"points lost {lang}"] = d
        row["sentences/s"] = sc.get("sentences_per_s")
        row["latency p50 ms"] = sc.get("latency_ms_p50")
        row["speed-up"] = (report.get("speedup") or {}).get(key, 1.0 if key == "torch" else None)
        rows.append(row)
    return rows


def export_status(run_id: str, store: RunStore) -> ExportStatus:
    """The state of the background export of ``run_id`` (see :class:`ExportStatus`)."""
    folder, log, pid_file = _paths(store, run_id)
    if not pid_file.exists():
        return ExportStatus("none", str(folder))
    text = pid_file.read_text(encoding="utf-8").strip()
    pid = int(text) if text.isdigit() else None
    alive, detail = jobs.process_state(pid)
    if alive:
        return ExportStatus("running", str(folder))
    lines = jobs.log_tail(log, 200).splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("=== ")]
    lines = lines[starts[-1] + 1:] if starts else lines  # this attempt only
    for line in reversed(lines):
        if not line.startswith("{"):
            continue
        try:
            report = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "error" in report:
            err = report["error"]
            return ExportStatus("failed", str(folder), message=f"[{err.get('code')}] {err.get('message')}")
        q = report.get("int8") or {}
        state = "refused" if q.get("requested") and not q.get("accepted") else "finished"
        return ExportStatus(state, str(folder), report, q.get("reason", "") if state == "refused" else "",
                            report_rows(report))
    last = lines[-1] if lines else ""
    return ExportStatus("failed", str(folder), message=f"the export {detail}: {last}")
