"""Experiment trackers (``report_to``): TensorBoard, MLflow and Weights & Biases get what the live panel shows.

Each tracker is an optional extra (``pip install 'multilingual-ner-studio[tensorboard]'``, ``[mlflow]``,
``[wandb]``), imported only when named. They receive the run's configuration once and every metric row the loop
reports (``train_loss``, ``learning_rate``, ``grad_norm``, ``sentences_per_s``, ``eval_f1``, ``eval_f1_<lang>``,
...), with the optimizer step as the step. The run store stays the source of truth; a tracker that fails while
logging is reported once through ``log`` and switched off, never allowed to stop training.

The loop needs one call, after building its callbacks (see :func:`track_callbacks`)::

    cb = track_callbacks(cb, cfg.report_to, str(run_dir / "trackers"), run.name, cfg.to_dict())

Names follow transformers' ``TrainingArguments.report_to`` (``"tensorboard"``, ``"mlflow"``, ``"wandb"``,
``"none"``, or a list of them).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from core.kernel.constants import REPORT_TO_CHOICES
from core.kernel.errors import ConfigError

TRACKERS = REPORT_TO_CHOICES


def parse_report_to(report_to: str | Sequence[str] | None) -> list[str]:
    """Tracker names from a ``report_to`` value: a name, a comma-separated string, a list, ``none`` or None.

    Raises:
        ConfigError: E202 for an unknown name.
    """
    if report_to is None:
        return []
    names = report_to.split(",") if isinstance(report_to, str) else list(report_to)
    out = []
    for n in (str(x).strip().lower() for x in names):
        if n in ("", "none"):
            continue
        if n not in TRACKERS:
            raise ConfigError("E202", f"report_to: unknown tracker {n!r}", text=n,
                              fix="Use one or more of: " + ", ".join(TRACKERS) + " (or none).")
        if n not in out:
            out.append(n)
    return out


def _numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if math.isfinite(float(v)):
            out[str(k)] = float(v)
    return out


def _missing(name: str, exc: ImportError) -> ConfigError:
    return ConfigError("E202", f"report_to {name!r} needs the package that is not installed ({exc})", text=name,
                       fix=f"pip install 'multilingual-ner-studio[{name}]', or remove {name!r} from report_to.")


class Tracker:
    """One experiment tracker. Subclasses implement the three methods; values are plain floats and dicts."""

    name = "base"

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Record the run configuration once (JSON-able values)."""

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        """Record metric values at an optimizer step."""

    def close(self, status: str = "FINISHED") -> None:
        """Flush and end the tracker's run (status FINISHED, STOPPED or FAILED)."""


class TensorBoardTracker(Tracker):
    """TensorBoard event files in ``log_dir`` (``torch.utils.tensorboard.SummaryWriter``): one scalar per metric
    key, the configuration as the text summary ``config``."""

    name = "tensorboard"

    def __init__(self, log_dir: str, run_name: str) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise _missing(self.name, exc) from exc
        self.writer = SummaryWriter(log_dir=str(Path(log_dir) / "tensorboard"), comment=run_name)

    def log_config(self, config):
        self.writer.add_text("config", "```json\n" + json.dumps(dict(config), indent=2, default=str) + "\n```", 0)
        self.writer.flush()

    def log_metrics(self, step, metrics):
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, step)
        self.writer.flush()

    def close(self, status="FINISHED"):
        self.writer.close()


class MLflowTracker(Tracker):
    """An MLflow run (tracking URI from ``MLFLOW_TRACKING_URI``, else a file store in ``log_dir/mlruns``): the
    configuration as params, every metric with its step, the status at the end."""

    name = "mlflow"

    def __init__(self, log_dir: str, run_name: str) -> None:
        try:
            import mlflow
        except ImportError as exc:
            raise _missing(self.name, exc) from exc
        import os

        self.mlflow = mlflow
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            mlflow.set_tracking_uri((Path(log_dir) / "mlruns").resolve().as_uri())
        self.run = mlflow.start_run(run_name=run_name)

    def log_config(self, config):
        # MLflow params are strings of at most 500 characters (its documented limit)
        self.mlflow.log_params({k: json.dumps(v, default=str)[:500] for k, v in dict(config).items()})

    def log_metrics(self, step, metrics):
        self.mlflow.log_metrics(dict(metrics), step=step)

    def close(self, status="FINISHED"):
        self.mlflow.end_run(status={"STOPPED": "KILLED"}.get(status, status))


class WandbTracker(Tracker):
    """A Weights & Biases run (``WANDB_PROJECT``, default ``ner-studio``; offline mode with ``WANDB_MODE``)."""

    name = "wandb"

    def __init__(self, log_dir: str, run_name: str) -> None:
        try:
            import wandb
        except ImportError as exc:
            raise _missing(self.name, exc) from exc
        import os

        self.wandb = wandb
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "ner-studio"), name=run_name, dir=log_dir)

    def log_config(self, config):
        self.run.config.update(dict(config), allow_val_change=True)

    def log_metrics(self, step, metrics):
        self.run.log(dict(metrics), step=step)

    def close(self, status="FINISHED"):
        self.run.finish(exit_code=0 if status in ("FINISHED", "STOPPED") else 1)


_CLASSES: dict[str, Callable[[str, str], Tracker]] = {"tensorboard": TensorBoardTracker, "mlflow": MLflowTracker,
                                                       "wandb": WandbTracker}


class TrackerGroup:
    """Every tracker of a run behind one object. A tracker that raises while logging is switched off after one
    message through ``log``; the others go on."""

    def __init__(self, trackers: list[Tracker], log: Callable[[str], None] = print) -> None:
        self.trackers = list(trackers)
        self.log = log
        self.closed = False

    def _each(self, method: str, *args) -> None:
        for t in list(self.trackers):
            try:
                getattr(t, method)(*args)
            except Exception as exc:  # a tracker's own failure (network, disk) must never stop training
                self.log(f"WARNING: tracker {t.name} failed in {method} ({type(exc).__name__}: {exc}); "
                         "it is switched off for this run")
                self.trackers.remove(t)

    def log_config(self, config: Mapping[str, Any]) -> None:
        self._each("log_config", config)

    def log_metrics(self, step: int, metrics: Mapping[str, Any]) -> None:
        values = _numeric(metrics)
        if values:
            self._each("log_metrics", int(step), values)

    def close(self, status: str = "FINISHED") -> None:
        if not self.closed:
            self.closed = True
            self._each("close", status)


def open_trackers(report_to, log_dir: str, run_name: str, config: Mapping[str, Any] | None = None,
                  log: Callable[[str], None] = print) -> TrackerGroup:
    """Start the trackers named by ``report_to`` and give them the configuration.

    Raises:
        ConfigError: E202 for an unknown name or a tracker whose package is not installed (before anything starts).
    """
    names = parse_report_to(report_to)
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    group = TrackerGroup([_CLASSES[n](log_dir, run_name) for n in names], log)
    if config is not None:
        group.log_config(config)
    return group


def track_callbacks(callbacks, report_to, log_dir: str, run_name: str, config: Mapping[str, Any] | None = None):
    """The one call the training loop makes: ``callbacks`` with ``on_metrics`` also sent to the trackers.

    Args:
        callbacks: the loop's callbacks dataclass (any dataclass with ``on_metrics`` and ``log`` fields).
        report_to: tracker names (see :func:`parse_report_to`); none -> ``callbacks`` returned unchanged.
        log_dir: folder for file-based trackers (TensorBoard events, MLflow file store), e.g. ``<run>/trackers``.
        run_name: the run's display name.
        config: the run configuration, logged once.

    Returns:
        A copy of ``callbacks`` (``dataclasses.replace``) whose ``on_metrics`` calls the original, then the
        trackers, and has a ``trackers`` attribute (:class:`TrackerGroup`). The trackers are closed when the
        worker process exits; call ``.trackers.close(status)`` to close them earlier with the run's status.

    Raises:
        ConfigError: E202 (see :func:`open_trackers`).
    """
    if not parse_report_to(report_to):
        return callbacks
    log = getattr(callbacks, "log", None) or print
    group = open_trackers(report_to, log_dir, run_name, config, log)
    inner = getattr(callbacks, "on_metrics", None)

    def on_metrics(step: int, metrics: dict) -> None:
        if inner is not None:
            inner(step, metrics)
        group.log_metrics(step, metrics)

    out = dataclasses.replace(callbacks, on_metrics=on_metrics)
    object.__setattr__(out, "trackers", group)
    atexit.register(group.close)
    return out
