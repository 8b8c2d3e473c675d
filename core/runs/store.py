"""The run store: SQLite source of truth for runs, metrics, artifacts and datasets.

Modelled on MLflow's tracking store (``mlflow/store/tracking/``): callers get plain dataclasses, never rows;
metrics are an append-only table ``(run_id, key, step, value, time)``; every unit of work is one short
transaction that commits or rolls back. The database lives in the workspace folder
(:func:`workspace_dir`) as ``runs.sqlite`` in WAL mode, so a Streamlit process, the CLI and one or more
worker processes can read and write it at once (readers never block the writer, writers queue on the
busy timeout).

Layout of a workspace::

    <ws>/runs.sqlite               the database (plus -wal / -shm files)
    <ws>/runs/<run_id>/            one folder per run: train.log, checkpoints/, model/, predictions
    <ws>/datasets/<dataset_id>/    uploaded datasets saved by the UI

Connections are opened lazily, one per thread and process (:mod:`sqlite3` connections must not cross threads,
and must never be carried across ``fork``). A :class:`RunStore` object itself is cheap and may be shared.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from core.kernel.config import TrainConfig
from core.kernel.constants import (ACTIVE_STATUSES, EVAL_F1, FAILED, FINISHED, LEGACY_METRIC_KEYS, RUNNING,
                                   SCHEDULED, STATUSES, STOPPED, TERMINAL_STATUSES)
from core.kernel.errors import RunError, StudioError

WORKSPACE_ENV = "NER_STUDIO_WORKSPACE"
DB_NAME = "runs.sqlite"
LOG_NAME = "train.log"
#: A copy of the run's row kept in its folder, so a new store can register the run again (:meth:`RunStore.repair`).
RUN_FILE = "run.json"
#: 2: ``runs.trained_before`` (Elapsed across resumes); ``runs.options`` (preset, entry point) out of ``config``;
#: metric keys renamed to ``core.kernel.constants``'.
SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 30.0

__all__ = ["ACTIVE_STATUSES", "FAILED", "FINISHED", "RUNNING", "SCHEDULED", "STATUSES", "STOPPED",
           "TERMINAL_STATUSES", "DEV_F1_KEYS", "Run", "RunStore", "Metric", "Artifact", "Dataset"]

#: Metric keys that count as the development-set F1: logging one of them raises ``Run.best_dev_f1``.
DEV_F1_KEYS = (EVAL_F1,)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    run_id         TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    config         TEXT NOT NULL DEFAULT '{{}}',
    data           TEXT NOT NULL DEFAULT '{{}}',
    pid            INTEGER,
    device         TEXT,
    created        REAL NOT NULL,
    queued         REAL,
    started        REAL,
    finished       REAL,
    heartbeat      REAL,
    error          TEXT,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    best_dev_f1    REAL,
    model_dir      TEXT,
    step           INTEGER NOT NULL DEFAULT 0,
    total_steps    INTEGER,
    attempt        INTEGER NOT NULL DEFAULT 0,
    summary        TEXT NOT NULL DEFAULT '{{}}',
    trained_before REAL NOT NULL DEFAULT 0,
    options        TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created DESC);
CREATE INDEX IF NOT EXISTS runs_status_device ON runs (status, device);
CREATE TABLE IF NOT EXISTS metrics (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    step   INTEGER NOT NULL,
    value  REAL NOT NULL,
    time   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_run_id ON metrics (run_id, id);
CREATE INDEX IF NOT EXISTS metrics_run_key_step ON metrics (run_id, key, step);
CREATE TABLE IF NOT EXISTS artifacts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    path    TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS artifacts_run_id ON artifacts (run_id, id);
CREATE TABLE IF NOT EXISTS datasets (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    created REAL NOT NULL,
    meta    TEXT NOT NULL DEFAULT '{{}}',
    path    TEXT NOT NULL
);
"""

_RUN_COLUMNS = ("run_id", "name", "status", "config", "data", "pid", "device", "created", "queued", "started",
                "finished", "heartbeat", "error", "stop_requested", "best_dev_f1", "model_dir", "step",
                "total_steps", "attempt", "summary", "trained_before", "options")
_JSON_COLUMNS = ("config", "data", "summary", "options")
#: Columns :meth:`RunStore.update_run` may change (``run_id`` and ``created`` are fixed at creation).
UPDATABLE_FIELDS = tuple(c for c in _RUN_COLUMNS if c not in ("run_id", "created"))


def workspace_dir() -> Path:
    """The workspace folder: ``$NER_STUDIO_WORKSPACE``, else ``./workspace``; created on demand.

    Returns:
        The absolute path of the folder (it exists on return).
    """
    path = Path(os.environ.get(WORKSPACE_ENV) or "workspace").expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Run:
    """One training run, as stored.

    Attributes:
        run_id: short unique id, ``r<YYYYmmdd-HHMMSS>-<4 hex>``.
        name: display name (defaults to the run id).
        status: one of SCHEDULED, RUNNING, FINISHED, FAILED, STOPPED.
        config: the training configuration (JSON object).
        data: dataset paths / ids and languages (JSON object).
        pid: process id of the worker, once launched.
        device: ``"cpu"`` or ``"cuda:<k>"``, once the worker resolved it.
        created: creation time (unix seconds).
        queued: time the current attempt was launched (unix seconds); orders the device queue.
        started: time the current attempt claimed its device and started training (unix seconds).
        finished: time the run reached a terminal status (unix seconds).
        heartbeat: last sign of life of the worker (unix seconds).
        error: error text of a FAILED run: ``[CODE] message. fix`` then the log tail.
        stop_requested: the worker stops at the next step boundary when True.
        best_dev_f1: best development-set entity F1 logged so far (see :data:`DEV_F1_KEYS`).
        model_dir: folder of the saved model, once saved.
        step: last optimisation step logged.
        total_steps: planned number of steps, when known.
        attempt: how many times the run was launched (1 for the first launch, +1 per resume).
        summary: final scores (for instance test precision / recall / F1).
        trained_before: seconds trained by the earlier attempts (a resume adds the attempt that ended).
        options: how the run was made, beside its config: ``preset`` (the form's preset name) and
            ``entrypoint`` (``module:function`` of the training function; absent = the studio's trainer).
    """

    run_id: str
    name: str
    status: str
    config: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    pid: int | None = None
    device: str | None = None
    created: float = 0.0
    queued: float | None = None
    started: float | None = None
    finished: float | None = None
    heartbeat: float | None = None
    error: str | None = None
    stop_requested: bool = False
    best_dev_f1: float | None = None
    model_dir: str | None = None
    step: int = 0
    total_steps: int | None = None
    attempt: int = 0
    summary: dict = field(default_factory=dict)
    trained_before: float = 0.0
    options: dict = field(default_factory=dict)

    @property
    def elapsed(self) -> float | None:
        """Training seconds over every attempt: :attr:`trained_before` plus the current attempt's duration."""
        current = self.duration
        if current is None and not self.trained_before:
            return None
        return (self.trained_before or 0.0) + (current or 0.0)

    @property
    def progress(self) -> tuple[int, int | None]:
        """``(step, total_steps)``; ``total_steps`` is None while unknown."""
        return self.step, self.total_steps

    @property
    def fraction(self) -> float | None:
        """Share of planned steps done, in [0, 1]; None while ``total_steps`` is unknown."""
        if not self.total_steps:
            return None
        return min(1.0, max(0.0, self.step / self.total_steps))

    @property
    def active(self) -> bool:
        """True while SCHEDULED or RUNNING."""
        return self.status in ACTIVE_STATUSES

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running); None before the start."""
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started


@dataclass(frozen=True)
class Metric:
    """One metric row. ``id`` grows with every insert, so a live panel reads only rows it has not drawn."""

    id: int
    key: str
    step: int
    value: float
    time: float


@dataclass(frozen=True)
class Artifact:
    """A file or folder a run produced (``kind`` e.g. ``"checkpoint"``, ``"model"``, ``"predictions"``)."""

    id: int
    run_id: str
    kind: str
    path: str
    created: float


@dataclass
class Dataset:
    """A dataset saved in the workspace (``path`` is its file or folder; ``meta`` is free JSON)."""

    id: str
    name: str
    created: float
    path: str
    meta: dict = field(default_factory=dict)


def _new_id(prefix: str) -> str:
    return f"{prefix}{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def _row_to_run(row: sqlite3.Row) -> Run:
    values = {k: row[k] for k in _RUN_COLUMNS}
    for k in _JSON_COLUMNS:
        values[k] = json.loads(values[k]) if values[k] else {}
    values["stop_requested"] = bool(values["stop_requested"])
    return Run(**values)


def _migrate_to_v2(conn: sqlite3.Connection) -> None:
    """Schema 1 -> 2, in the caller's transaction: add ``runs.trained_before`` and ``runs.options``, move the
    ``_preset`` /
    ``_entrypoint`` keys of each config there; rename metric keys written under their old names."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
    if "options" not in columns:
        conn.execute("ALTER TABLE runs ADD COLUMN options TEXT NOT NULL DEFAULT '{}'")
    if "trained_before" not in columns:  # training seconds of earlier attempts (Elapsed across resumes)
        conn.execute("ALTER TABLE runs ADD COLUMN trained_before REAL NOT NULL DEFAULT 0")
    for row in conn.execute("SELECT run_id, config FROM runs").fetchall():
        config = json.loads(row[1] or "{}")
        options = {k[1:]: config.pop(k) for k in [k for k in config if k.startswith("_")]}
        if options:
            conn.execute("UPDATE runs SET config = ?, options = ? WHERE run_id = ?",
                         (json.dumps(config, sort_keys=True), json.dumps(options, sort_keys=True), row[0]))
    for old, new in LEGACY_METRIC_KEYS.items():
        conn.execute("UPDATE metrics SET key = ? WHERE key = ?", (new, old))


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}; expected one of {', '.join(STATUSES)}")


def disk_full_error(folder: str | os.PathLike, exc: BaseException | None = None) -> RunError:
    """``E322``: the disk holding ``folder`` is full; names the folder and its free space."""
    try:
        free = shutil.disk_usage(folder).free
        free_text = f"{free / 2**20:,.1f} MiB free"
    except OSError as err:
        free_text = f"free space unknown ({err.strerror})"
    cause = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return RunError("E322", f"the disk holding {folder} is full: {free_text}{cause}")


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC / EDQUOT, or SQLite's "database or disk is full", anywhere in the cause / context chain."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return False
        if isinstance(current, StudioError) and current.code == "E322":
            return True
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(current, sqlite3.Error) and "database or disk is full" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


class RunStore:
    """Run store over one workspace's ``runs.sqlite``.

    Args:
        workspace: workspace folder; defaults to :func:`workspace_dir`. Created on demand.
        busy_timeout: seconds a writer waits for another writer's lock before ``sqlite3.OperationalError``.

    The object may be shared between threads: each thread (and each process after ``fork``) gets its own
    connection, opened on first use.
    """

    def __init__(self, workspace: str | os.PathLike | None = None, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        if workspace is None:
            self.workspace = workspace_dir()
        else:
            self.workspace = Path(workspace).expanduser().resolve()
            self.workspace.mkdir(parents=True, exist_ok=True)
        self.db_path = self.workspace / DB_NAME
        self.busy_timeout = float(busy_timeout)
        self._local = threading.local()
        self._schema_lock = threading.Lock()
        self._schema_ready_pid: int | None = None
        self._generation = 0  # raised by repair(): every thread then reopens its connection

    def coded(self, exc: BaseException) -> StudioError | None:
        """The coded error for an SQLite / OS failure of this store, or None when it is not one we name.

        ``E322`` disk full; ``E321`` a damaged or foreign file (``file is not a database``, ``database disk
        image is malformed``); lock timeouts, constraint violations and programming errors are not translated.
        """
        if is_disk_full(exc):
            return disk_full_error(self.workspace, exc)
        if isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)):
            return None
        text = str(exc).lower()
        if isinstance(exc, sqlite3.OperationalError) and not any(
                w in text for w in ("malformed", "not a database", "corrupt")):
            return None
        if isinstance(exc, sqlite3.DatabaseError):
            return RunError("E321", f"the run store {self.db_path} is damaged ({exc})")
        return None

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn SQLite errors we can name into coded errors (see :meth:`coded`)."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            coded = self.coded(exc)
            if coded is None:
                raise
            raise coded from exc

    def __repr__(self) -> str:
        return f"RunStore({str(self.workspace)!r})"

    # ------------------------------------------------------------------ connections and transactions

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, opened (and the schema created) on first use."""
        conn = getattr(self._local, "conn", None)
        if (conn is not None and getattr(self._local, "pid", None) == os.getpid()
                and getattr(self._local, "gen", None) == self._generation):
            return conn
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()  # the store was repaired: the old connection points at the file moved aside
        # A connection inherited through fork is never used (nor closed) in the child: SQLite forbids it.
        with self._guard():
            conn = sqlite3.connect(self.db_path, timeout=self.busy_timeout, isolation_level=None)
            try:
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                conn.execute("PRAGMA foreign_keys = ON")
                self._ensure_schema(conn)
                conn.execute("PRAGMA synchronous = NORMAL")
            except BaseException:
                conn.close()
                raise
        self._local.conn = conn
        self._local.pid = os.getpid()
        self._local.gen = self._generation
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        with self._schema_lock:
            if self._schema_ready_pid == os.getpid():
                return
            # Once per process: a page, the CLI and a worker each check the file before trusting it. quick_check
            # reads every page (O(size); about 10 ms for 1,000 runs with 200k metric rows) and finds bytes
            # written into the middle of the file, which a plain query can miss.
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
            if problems != ["ok"]:
                raise RunError("E321", f"the run store {self.db_path} is damaged (quick_check: "
                                       f"{'; '.join(map(str, problems))[:300]})")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RunError("E308", f"cannot switch {self.db_path} to WAL mode (journal_mode is {mode!r})")
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise RunError("E308", f"{self.db_path} has schema version {version}, newer than this "
                                           f"code's {SCHEMA_VERSION}")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                if version < 2:
                    _migrate_to_v2(conn)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._schema_ready_pid = os.getpid()

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local.conn = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): commits on success, rolls back on any exception."""
        conn = self._conn()
        with self._guard():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """One read statement (autocommit: it sees a consistent snapshot of the database)."""
        conn = self._conn()
        with self._guard():
            return conn.execute(sql, tuple(params)).fetchall()

    def check(self) -> None:
        """Open the store (running ``PRAGMA quick_check`` once per process) and read it once.

        Raises:
            RunError: ``E321`` damaged; ``E322`` disk full; ``E308`` unusable (not WAL-capable).
        """
        self._read("SELECT COUNT(*) FROM runs")

    def repair(self) -> dict:
        """Replace a damaged store: move the file aside, create a new one, register the runs and datasets again.

        The damaged ``runs.sqlite`` (and its ``-wal`` / ``-shm`` files) is renamed
        ``runs.sqlite.damaged-<YYYYmmdd-HHMMSS>`` (kept, never deleted). Every ``runs/<id>/`` folder is
        registered again from its ``run.json`` (written at creation and at every terminal status); a run that
        was active is registered FAILED (its worker's link to the store is lost; resume it). Metric rows are not
        in the folders and are lost. Every ``datasets/<id>/dataset.json`` is registered again.

        Returns:
            ``{"moved_to": str | None, "runs": n, "datasets": n}``.
        """
        self.close()
        with self._schema_lock:
            self._generation += 1
            self._schema_ready_pid = None
        moved = None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.db_path) + suffix)
            if src.exists():
                dst = Path(f"{self.db_path}.damaged-{stamp}{suffix}")
                os.replace(src, dst)
                moved = moved or str(dst)
        n_runs = n_ds = 0
        for folder in sorted((self.workspace / "runs").glob("*")):
            if folder.is_dir() and self._register_run_folder(folder):
                n_runs += 1
        for folder in sorted((self.workspace / "datasets").glob("*")):
            manifest = folder / "dataset.json"
            if manifest.is_file():
                try:
                    info = json.loads(manifest.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    print(f"repair: dataset {folder.name} skipped, unreadable dataset.json ({exc})")
                    continue
                name = info.get("name") or folder.name
                self.add_dataset(name, folder, {"source": info.get("source", "repaired")}, dataset_id=folder.name)
                n_ds += 1
        return {"moved_to": moved, "runs": n_runs, "datasets": n_ds}

    def _register_run_folder(self, folder: Path) -> bool:
        values: dict[str, Any] = {"run_id": folder.name, "name": folder.name, "status": FAILED,
                                  "created": folder.stat().st_mtime}
        info_file = folder / RUN_FILE
        if info_file.is_file():
            try:
                values.update({k: v for k, v in json.loads(info_file.read_text(encoding="utf-8")).items()
                               if k in _RUN_COLUMNS})
            except (OSError, ValueError) as exc:
                values["error"] = f"[E321] {RUN_FILE} unreadable after the store repair ({exc})"
        if values.get("status") not in TERMINAL_STATUSES:
            values["error"] = (f"[E321] the run store was repaired while this run was {values.get('status')}; "
                               f"resume it from its last checkpoint.")
            values["status"] = FAILED
            values["pid"] = None
        if values.get("model_dir") is None and (folder / "model" / "config.json").is_file():
            values["model_dir"] = str(folder / "model")
        for k in _JSON_COLUMNS:
            values[k] = json.dumps(dict(values.get(k) or {}), sort_keys=True)
        if "stop_requested" in values:
            values["stop_requested"] = int(bool(values["stop_requested"]))
        cols = [c for c in _RUN_COLUMNS if c in values]
        with self._tx() as conn:
            conn.execute(f"INSERT OR IGNORE INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                         [values[c] for c in cols])
            for kind, sub in (("model", "model"),):
                if (folder / sub).is_dir():
                    conn.execute("INSERT INTO artifacts (run_id, kind, path, created) VALUES (?, ?, ?, ?)",
                                 (folder.name, kind, str(folder / sub), time.time()))
            for pred in sorted(folder.glob("predictions_*.jsonl")):
                conn.execute("INSERT INTO artifacts (run_id, kind, path, created) VALUES (?, ?, ?, ?)",
                             (folder.name, pred.stem, str(pred), time.time()))
        return True

    def _write_run_file(self, run_id: str) -> None:
        """Keep a copy of the run's row in its folder (see :meth:`repair`); written atomically."""
        run = self.find_run(run_id)
        if run is None:
            return
        folder = self.run_dir(run_id)
        tmp = folder / f".{RUN_FILE}.tmp"
        data = {k: getattr(run, k) for k in _RUN_COLUMNS}
        try:
            tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
            os.replace(tmp, folder / RUN_FILE)
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full_error(folder, exc) from exc
            raise

    # ------------------------------------------------------------------ paths

    def run_dir(self, run_id: str, *, create: bool = True) -> Path:
        """The run's folder ``<ws>/runs/<run_id>/`` (log, checkpoints, model, predictions)."""
        path = self.workspace / "runs" / run_id
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def log_path(self, run_id: str) -> Path:
        """The run's log file ``<ws>/runs/<run_id>/train.log`` (the worker's stdout and stderr)."""
        return self.run_dir(run_id) / LOG_NAME

    def checkpoint_dir(self, run_id: str) -> Path:
        """``<ws>/runs/<run_id>/checkpoints/``: where a trainer saves the states it resumes from."""
        path = self.run_dir(run_id) / "checkpoints"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def dataset_dir(self, dataset_id: str, *, create: bool = True) -> Path:
        """``<ws>/datasets/<dataset_id>/``: where the UI saves an uploaded dataset."""
        path = self.workspace / "datasets" / dataset_id
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    # ------------------------------------------------------------------ runs

    def create_run(self, config: TrainConfig | Mapping[str, Any], data: Mapping[str, Any] | None = None,
                   name: str | None = None, *, options: Mapping[str, Any] | None = None) -> Run:
        """Create a SCHEDULED run (not launched: see :func:`core.runs.jobs.launch`) and its folder.

        Args:
            config: the training configuration, validated once, here: a :class:`TrainConfig` (stored as its
                dict) for the studio's trainer; a plain JSON-serialisable mapping for the trainer named by
                ``options["entrypoint"]`` (its own keys) is stored as given.
            data: dataset paths / ids and languages; must be JSON-serialisable.
            name: display name; defaults to the run id.
            options: ``preset`` and ``entrypoint`` (see :class:`Run`); JSON-serialisable.

        Returns:
            The new run.

        Raises:
            TypeError: ``config`` or ``data`` is not JSON-serialisable.
        """
        config_json = json.dumps(config.to_dict() if isinstance(config, TrainConfig) else dict(config),
                                 sort_keys=True)
        options_json = json.dumps(dict(options or {}), sort_keys=True)
        data_json = json.dumps(dict(data or {}), sort_keys=True)
        for _ in range(20):
            run_id = _new_id("r")
            try:
                with self._tx() as conn:
                    conn.execute(
                        "INSERT INTO runs (run_id, name, status, config, data, options, created)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (run_id, name or run_id, SCHEDULED, config_json, data_json, options_json, time.time()))
            except sqlite3.IntegrityError:
                continue  # the random suffix collided within the same second: draw again
            self.run_dir(run_id)
            self._write_run_file(run_id)
            return self.get_run(run_id)
        raise RunError("E308", f"could not draw a unique run id in {self.db_path}")

    def get_run(self, run_id: str) -> Run:
        """The run with this id.

        Raises:
            RunError: ``E301`` when there is no such run.
        """
        rows = self._read("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise RunError("E301", f"run {run_id!r} not found in {self.db_path}")
        return _row_to_run(rows[0])

    def find_run(self, run_id: str) -> Run | None:
        """The run with this id, or None (no error) when there is none."""
        rows = self._read("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return _row_to_run(rows[0]) if rows else None

    def list_runs(self, limit: int | None = None, *, status: str | Iterable[str] | None = None) -> list[Run]:
        """Runs, newest first, in one query (no per-run metric queries).

        Args:
            limit: at most this many runs; all when None.
            status: only runs in this status (or any of these statuses).
        """
        sql, params = "SELECT * FROM runs", []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            for s in statuses:
                _check_status(s)
            sql += f" WHERE status IN ({', '.join('?' * len(statuses))})"
            params += statuses
        sql += " ORDER BY created DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_row_to_run(r) for r in self._read(sql, params)]

    def update_run(self, run_id: str, /, **fields: Any) -> Run:
        """Set columns of a run (see :data:`UPDATABLE_FIELDS`; dicts for config / data / summary).

        Returns:
            The updated run.

        Raises:
            ValueError: an unknown field or status.
            RunError: ``E301`` when there is no such run.
        """
        unknown = sorted(set(fields) - set(UPDATABLE_FIELDS))
        if unknown:
            raise ValueError(f"unknown run field(s) {', '.join(unknown)}; updatable: {', '.join(UPDATABLE_FIELDS)}")
        if "status" in fields:
            _check_status(fields["status"])
        if not fields:
            return self.get_run(run_id)
        values = []
        for k, v in fields.items():
            if k in _JSON_COLUMNS:
                v = json.dumps(dict(v or {}), sort_keys=True)
            elif k == "stop_requested":
                v = int(bool(v))
            values.append(v)
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as conn:
            cur = conn.execute(f"UPDATE runs SET {assignments} WHERE run_id = ?", (*values, run_id))
            if cur.rowcount == 0:
                raise RunError("E301", f"run {run_id!r} not found in {self.db_path}")
        return self.get_run(run_id)

    def set_status(self, run_id: str, status: str, /, error: str | None = None, *,
                   expect: Iterable[str] | None = None, expect_pid: int | None = None, **fields: Any) -> bool:
        """Move a run to ``status``, with the matching time stamps, in one transaction.

        RUNNING sets ``started`` (and clears ``finished``); a terminal status sets ``finished``; SCHEDULED
        clears ``finished``. ``error`` is stored as given (None clears it).

        Args:
            run_id: the run.
            status: the new status.
            error: error text (for FAILED).
            expect: when given, change only a run currently in one of these statuses (compare-and-set).
            expect_pid: when given, change only a run whose recorded worker pid is this one.
            **fields: other columns to set in the same transaction (as :meth:`update_run`).

        Returns:
            True when the run was changed; False when ``expect`` / ``expect_pid`` did not match.

        Raises:
            ValueError: unknown status or field.
            RunError: ``E301`` when there is no such run.
        """
        _check_status(status)
        unknown = sorted(set(fields) - set(UPDATABLE_FIELDS) | ({"status", "error"} & set(fields)))
        if unknown:
            raise ValueError(f"unknown or reserved run field(s) {', '.join(unknown)} in set_status")
        now = time.time()
        sets = ["status = ?", "error = ?"]
        params: list[Any] = [status, error]
        if status == RUNNING:
            sets += ["started = ?", "finished = NULL"]
            params.append(now)
        elif status in TERMINAL_STATUSES:
            sets.append("finished = ?")
            params.append(now)
        else:
            sets.append("finished = NULL")
        for k, v in fields.items():
            if k in _JSON_COLUMNS:
                v = json.dumps(dict(v or {}), sort_keys=True)
            elif k == "stop_requested":
                v = int(bool(v))
            sets.append(f"{k} = ?")
            params.append(v)
        where, wparams = "run_id = ?", [run_id]
        if expect is not None:
            expected = list(expect)
            for s in expected:
                _check_status(s)
            where += f" AND status IN ({', '.join('?' * len(expected))})"
            wparams += expected
        if expect_pid is not None:
            where += " AND pid = ?"
            wparams.append(int(expect_pid))
        with self._tx() as conn:
            cur = conn.execute(f"UPDATE runs SET {', '.join(sets)} WHERE {where}", (*params, *wparams))
            if cur.rowcount == 0:
                if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                    raise RunError("E301", f"run {run_id!r} not found in {self.db_path}")
                return False
        if status in TERMINAL_STATUSES:
            self._write_run_file(run_id)
        return True

    def heartbeat(self, run_id: str, when: float | None = None) -> str:
        """Record a sign of life of the run's worker.

        Args:
            run_id: the run.
            when: unix seconds; now when None.

        Returns:
            The run's current status (a worker whose run left RUNNING/SCHEDULED should stop).

        Raises:
            RunError: ``E301`` when there is no such run (it was deleted).
        """
        with self._tx() as conn:
            conn.execute("UPDATE runs SET heartbeat = ? WHERE run_id = ?", (when or time.time(), run_id))
            row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunError("E301", f"run {run_id!r} not found in {self.db_path}")
        return row["status"]

    def request_stop(self, run_id: str) -> None:
        """Ask the run's worker to stop at its next step boundary.

        Raises:
            RunError: ``E301`` when there is no such run.
        """
        self.update_run(run_id, stop_requested=True)

    def stop_requested(self, run_id: str) -> bool:
        """Whether the trainer should stop now (call it at every step boundary).

        True when a stop was requested, and also when the run is gone (deleted) or no longer RUNNING /
        SCHEDULED (for instance marked FAILED by :func:`core.runs.jobs.check_alive` after a stale heartbeat), so
        that a worker nobody tracks any more ends instead of training on.
        """
        for _ in range(2):
            rows = self._read("SELECT status, stop_requested, pid, error FROM runs WHERE run_id = ?", (run_id,))
            if not rows:
                return True
            row = rows[0]
            if row["status"] != FAILED or row["pid"] != os.getpid():
                break
            if self.reclaim(run_id, os.getpid()):
                return bool(row["stop_requested"])  # this worker was declared lost while paused: it goes on
            # the reclaim found nothing to take back: this worker's heartbeat thread may have taken the run
            # back between the read and now (a stale FAILED read must not stop a run that is RUNNING again)
        return bool(row["stop_requested"]) or row["status"] not in ACTIVE_STATUSES

    def reclaim(self, run_id: str, pid: int) -> bool:
        """Take a run back that was marked FAILED as lost (``E307``) while its worker ``pid`` was only paused.

        A compare-and-set: only a FAILED run whose recorded worker is ``pid`` and whose error is an ``E307``
        goes back to RUNNING (error and finish time cleared, heartbeat now). Any other failure, a resumed run
        (another pid) or a deleted run is left alone.

        Returns:
            True when the run was taken back.
        """
        with self._tx() as conn:
            cur = conn.execute("UPDATE runs SET status = 'RUNNING', error = NULL, finished = NULL, heartbeat = ? "
                               "WHERE run_id = ? AND pid = ? AND status = 'FAILED' AND error LIKE '[E307]%'",
                               (time.time(), run_id, int(pid)))
        if cur.rowcount:
            print(f"[store] run {run_id} was marked lost while its worker (pid {pid}) was paused: taken back",
                  flush=True)
        return cur.rowcount == 1

    def bind_worker(self, run_id: str, pid: int, *, launched: bool = False) -> tuple[bool, int | None]:
        """Record ``pid`` as the worker of a SCHEDULED run, unless another worker already owns it.

        Called by the launcher right after starting the process (``launched=True``: also stamps ``queued``
        and counts an attempt) and by the worker itself at start. Both succeed for the same pid; of two
        workers started for one run (a double click in two tabs) only one binds, the other exits.

        Returns:
            ``(bound, owner_pid)``: ``owner_pid`` is the pid recorded after the call.

        Raises:
            RunError: ``E301`` when there is no such run.
        """
        now = time.time()
        extra = ", queued = ?, attempt = attempt + 1" if launched else ", queued = COALESCE(queued, ?)"
        with self._tx() as conn:
            cur = conn.execute(f"UPDATE runs SET pid = ?, heartbeat = ?{extra} WHERE run_id = ? AND status = ? "
                               f"AND (pid IS NULL OR pid = ?)", (int(pid), now, now, run_id, SCHEDULED, int(pid)))
            row = conn.execute("SELECT pid FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunError("E301", f"run {run_id!r} not found in {self.db_path}")
        return cur.rowcount == 1, row["pid"]

    def claim_device(self, run_id: str, device: str, pid: int, *, max_running: int = 1) -> tuple[str, list[str]]:
        """Atomically move a SCHEDULED run to RUNNING if its device has a free slot (the device queue).

        In one ``BEGIN IMMEDIATE`` transaction: the device is free when fewer than ``max_running`` runs are
        RUNNING on it, counting also the SCHEDULED runs on the same device that were queued earlier and whose
        worker is waiting (first come, first served).

        Args:
            run_id: the SCHEDULED run.
            device: ``"cpu"`` or ``"cuda:<k>"``.
            pid: the worker's process id, recorded on success.
            max_running: how many runs may use the device at once.

        Returns:
            ``(outcome, holders)``: outcome ``"claimed"`` (now RUNNING), ``"busy"`` (try again later),
            ``"stopped"`` (a stop was requested while waiting) or ``"invalid"`` (the run is not SCHEDULED,
            or another worker owns it);
            holders are the run ids ahead of it on the device (for the log).

        Raises:
            RunError: ``E301`` when there is no such run.
        """
        now = time.time()
        with self._tx() as conn:
            row = conn.execute("SELECT status, stop_requested, queued, pid FROM runs WHERE run_id = ?",
                               (run_id,)).fetchone()
            if row is None:
                raise RunError("E301", f"run {run_id!r} not found in {self.db_path}")
            if row["status"] != SCHEDULED or row["pid"] not in (None, pid):
                return "invalid", []
            if row["stop_requested"]:
                return "stopped", []
            queued = row["queued"] if row["queued"] is not None else now
            ahead = [r["run_id"] for r in conn.execute(
                "SELECT run_id FROM runs WHERE device = ? AND run_id != ? AND ("
                " status = 'RUNNING' OR (status = 'SCHEDULED' AND pid IS NOT NULL AND stop_requested = 0"
                "  AND queued IS NOT NULL AND (queued < ? OR (queued = ? AND run_id < ?))))"
                " ORDER BY status = 'RUNNING' DESC, queued", (device, run_id, queued, queued, run_id))]
            if len(ahead) >= max_running:
                return "busy", ahead
            conn.execute("UPDATE runs SET status = 'RUNNING', device = ?, pid = ?, started = ?, heartbeat = ?, "
                         "finished = NULL, error = NULL WHERE run_id = ?", (device, pid, now, now, run_id))
        return "claimed", ahead

    def delete_run(self, run_id: str, *, force: bool = False) -> None:
        """Delete a run's rows (metrics and artifacts cascade) and its folder.

        Args:
            run_id: the run.
            force: delete even a RUNNING run or a launched SCHEDULED run (its worker then ends).

        Raises:
            RunError: ``E301`` no such run; ``E305`` the run is active and ``force`` is False.
        """
        with self._tx() as conn:
            row = conn.execute("SELECT status, pid FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunError("E301", f"run {run_id!r} not found in {self.db_path}")
            active = row["status"] == RUNNING or (row["status"] == SCHEDULED and row["pid"] is not None)
            if active and not force:
                raise RunError("E305", f"run {run_id!r} is {row['status']}: stop it before deleting it")
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        folder = self.run_dir(run_id, create=False)
        if folder.exists():
            shutil.rmtree(folder)

    # ------------------------------------------------------------------ metrics

    def log_metrics(self, run_id: str, step: int, metrics: Mapping[str, float], time: float | None = None) -> None:
        """Append metric values for one step (one transaction, one row per key).

        Also raises the run's ``step`` to ``step``, raises ``best_dev_f1`` when a key of :data:`DEV_F1_KEYS`
        is logged, and counts as a heartbeat.

        Args:
            run_id: the run.
            step: optimisation step (>= 0).
            metrics: key -> value (finite or not: NaN is stored as given).
            time: unix seconds; now when None.

        Raises:
            ValueError: negative step, or a value that is not a number.
            RunError: ``E301`` when there is no such run.
        """
        if int(step) < 0:
            raise ValueError(f"metric step must be >= 0, got {step}")
        now = _now() if time is None else float(time)
        rows = []
        for key, value in metrics.items():
            try:
                rows.append((run_id, str(key), int(step), float(value), now))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"metric {key!r} at step {step} is not a number: {value!r}") from exc
        dev = [v for k, v in metrics.items() if k in DEV_F1_KEYS and float(v) == float(v)]
        with self._tx() as conn:
            try:
                conn.executemany("INSERT INTO metrics (run_id, key, step, value, time) VALUES (?, ?, ?, ?, ?)", rows)
            except sqlite3.IntegrityError as exc:
                raise RunError("E301", f"run {run_id!r} not found in {self.db_path}") from exc
            conn.execute("UPDATE runs SET step = MAX(step, ?), heartbeat = ? WHERE run_id = ?",
                         (int(step), _now(), run_id))
            if dev:
                conn.execute("UPDATE runs SET best_dev_f1 = MAX(COALESCE(best_dev_f1, ?), ?) WHERE run_id = ?",
                             (max(dev), max(dev), run_id))

    def rewind_metrics(self, run_id: str, after_step: int) -> int:
        """Delete the run's metric rows with ``step > after_step`` (call on resume from a checkpoint).

        A run killed after its last checkpoint logged steps it will train again; without this the curve
        would hold those steps twice. ``best_dev_f1`` and ``step`` are recomputed from the rows kept.

        Returns:
            The number of rows deleted.
        """
        with self._tx() as conn:
            cur = conn.execute("DELETE FROM metrics WHERE run_id = ? AND step > ?", (run_id, int(after_step)))
            keys = ", ".join("?" * len(DEV_F1_KEYS))
            conn.execute(
                f"UPDATE runs SET step = COALESCE((SELECT MAX(step) FROM metrics WHERE run_id = ?), 0),"
                f" best_dev_f1 = (SELECT MAX(value) FROM metrics WHERE run_id = ? AND key IN ({keys}))"
                f" WHERE run_id = ?", (run_id, run_id, *DEV_F1_KEYS, run_id))
        return cur.rowcount

    def metrics_since(self, run_id: str, after_id: int = 0) -> list[Metric]:
        """Metric rows of the run with ``id > after_id``, in insertion order.

        A live panel keeps the largest ``id`` it has drawn and asks only for newer rows.
        """
        rows = self._read("SELECT id, key, step, value, time FROM metrics WHERE run_id = ? AND id > ? ORDER BY id",
                          (run_id, int(after_id)))
        return [Metric(r["id"], r["key"], r["step"], r["value"], r["time"]) for r in rows]

    def metric_history(self, run_id: str, keys: Iterable[str] | None = None) -> dict[str, list[Metric]]:
        """Every value of each metric key, ordered by step then insertion.

        Args:
            run_id: the run.
            keys: only these keys; all when None.

        Returns:
            key -> list of :class:`Metric` (keys in first-logged order).
        """
        sql, params = "SELECT id, key, step, value, time FROM metrics WHERE run_id = ?", [run_id]
        if keys is not None:
            keys = list(keys)
            if not keys:
                return {}
            sql += f" AND key IN ({', '.join('?' * len(keys))})"
            params += keys
        history: dict[str, list[Metric]] = {}
        for r in self._read(sql + " ORDER BY id", params):
            history.setdefault(r["key"], []).append(Metric(r["id"], r["key"], r["step"], r["value"], r["time"]))
        for values in history.values():
            values.sort(key=lambda m: (m.step, m.id))
        return history

    def latest_metrics(self, run_id: str) -> dict[str, Metric]:
        """The last logged row of each metric key (MLflow's ``latest_metrics`` view)."""
        rows = self._read("SELECT id, key, step, value, time FROM metrics WHERE id IN "
                          "(SELECT MAX(id) FROM metrics WHERE run_id = ? GROUP BY key) ORDER BY id", (run_id,))
        return {r["key"]: Metric(r["id"], r["key"], r["step"], r["value"], r["time"]) for r in rows}

    # ------------------------------------------------------------------ artifacts

    def add_artifact(self, run_id: str, kind: str, path: str | os.PathLike) -> Artifact:
        """Record a file or folder the run produced.

        Raises:
            RunError: ``E301`` when there is no such run.
        """
        now = _now()
        with self._tx() as conn:
            try:
                cur = conn.execute("INSERT INTO artifacts (run_id, kind, path, created) VALUES (?, ?, ?, ?)",
                                   (run_id, kind, str(path), now))
            except sqlite3.IntegrityError as exc:
                raise RunError("E301", f"run {run_id!r} not found in {self.db_path}") from exc
        return Artifact(cur.lastrowid, run_id, kind, str(path), now)

    def list_artifacts(self, run_id: str, kind: str | None = None) -> list[Artifact]:
        """The run's artifacts in the order recorded, optionally of one kind."""
        sql, params = "SELECT * FROM artifacts WHERE run_id = ?", [run_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        return [Artifact(r["id"], r["run_id"], r["kind"], r["path"], r["created"])
                for r in self._read(sql + " ORDER BY id", params)]

    # ------------------------------------------------------------------ datasets

    def add_dataset(self, name: str, path: str | os.PathLike | None = None, meta: Mapping[str, Any] | None = None,
                    *, dataset_id: str | None = None) -> Dataset:
        """Record a dataset saved in the workspace.

        Args:
            name: display name.
            path: its file or folder; defaults to the new ``<ws>/datasets/<id>/`` folder.
            meta: free JSON (format, languages, sentence counts, ...).
            dataset_id: a chosen id; a fresh ``d<timestamp>-<hex>`` id when None.

        Raises:
            RunError: ``E310`` when ``dataset_id`` is already taken.
        """
        ds_id = dataset_id or _new_id("d")
        ds_path = str(path) if path is not None else str(self.dataset_dir(ds_id))
        now = _now()
        try:
            with self._tx() as conn:
                conn.execute("INSERT INTO datasets (id, name, created, meta, path) VALUES (?, ?, ?, ?, ?)",
                             (ds_id, name, now, json.dumps(dict(meta or {}), sort_keys=True), ds_path))
        except sqlite3.IntegrityError as exc:
            raise RunError("E310", f"dataset id {ds_id!r} already exists in {self.db_path}") from exc
        return Dataset(ds_id, name, now, ds_path, dict(meta or {}))

    def get_dataset(self, dataset_id: str) -> Dataset:
        """The dataset with this id.

        Raises:
            RunError: ``E309`` when there is no such dataset.
        """
        rows = self._read("SELECT * FROM datasets WHERE id = ?", (dataset_id,))
        if not rows:
            raise RunError("E309", f"dataset {dataset_id!r} not found in {self.db_path}")
        r = rows[0]
        return Dataset(r["id"], r["name"], r["created"], r["path"], json.loads(r["meta"]))

    def list_datasets(self) -> list[Dataset]:
        """Datasets, newest first."""
        return [Dataset(r["id"], r["name"], r["created"], r["path"], json.loads(r["meta"]))
                for r in self._read("SELECT * FROM datasets ORDER BY created DESC, id DESC")]

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset record, and its folder when it lies under ``<ws>/datasets/``.

        Raises:
            RunError: ``E309`` when there is no such dataset.
        """
        ds = self.get_dataset(dataset_id)
        with self._tx() as conn:
            conn.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
        folder = self.dataset_dir(dataset_id, create=False)
        if folder.exists():
            shutil.rmtree(folder)
        elif Path(ds.path).resolve().is_relative_to(self.workspace / "datasets") and Path(ds.path).is_file():
            Path(ds.path).unlink()


def _now() -> float:
    return time.time()
