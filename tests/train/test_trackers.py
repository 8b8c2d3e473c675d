"""report_to trackers: TensorBoard event files hold every metric and the config; bad names and missing extras
are coded errors; a failing tracker never stops training."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

import pytest

from core.kernel.errors import ConfigError
from core.train.trackers import TrackerGroup, Tracker, open_trackers, parse_report_to, track_callbacks


@dataclass
class FakeCallbacks:  # the shape of core.train.loop.Callbacks
    on_metrics: Callable | None = None
    log: Callable | None = None


def _scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc, {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.parametrize("value,names", [(None, []), ("none", []), ("tensorboard", ["tensorboard"]),
                                         ("mlflow, tensorboard", ["mlflow", "tensorboard"]),
                                         (["wandb", "wandb"], ["wandb"])])
def test_parse_report_to(value, names):
    assert parse_report_to(value) == names


def test_unknown_tracker_is_a_coded_error():
    with pytest.raises(ConfigError, match=r"\[E202\] report_to: unknown tracker 'tensorbord'"):
        parse_report_to("tensorbord")


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard extra not installed")
def test_tensorboard_events_hold_metrics_and_config(tmp_path):
    store_rows = []
    cb = track_callbacks(FakeCallbacks(on_metrics=lambda s, m: store_rows.append((s, m))), "tensorboard",
                         str(tmp_path), "run-a", {"learning_rate": 1e-4, "model_name_or_path": "e5"})
    cb.on_metrics(10, {"train_loss": 1.5, "learning_rate": 5e-5, "note": "text is skipped"})
    cb.on_metrics(20, {"train_loss": 0.75, "eval_f1": 0.5, "eval_f1_es": 0.6, "grad_norm": float("nan")})
    cb.trackers.close("FINISHED")
    assert [s for s, _ in store_rows] == [10, 20]  # the store still gets every row, unchanged
    acc, scalars = _scalars(tmp_path / "tensorboard")
    assert scalars["train_loss"] == [(10, 1.5), (20, 0.75)]
    assert scalars["eval_f1_es"] == [(20, pytest.approx(0.6))]
    assert "grad_norm" not in scalars and "note" not in scalars  # NaN and text are not scalars
    text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"model_name_or_path": "e5"' in text


def test_no_tracker_returns_the_callbacks_unchanged(tmp_path):
    cb = FakeCallbacks()
    assert track_callbacks(cb, None, str(tmp_path), "r") is cb


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is not None, reason="mlflow is installed")
def test_missing_extra_is_a_coded_error_with_the_install_line(tmp_path):
    with pytest.raises(ConfigError, match=r"\[E202\].*mlflow.*pip install 'multilingual-ner-studio\[mlflow\]'"):
        open_trackers("mlflow", str(tmp_path), "r")


def test_a_failing_tracker_is_switched_off_and_reported():
    class Broken(Tracker):
        name = "broken"

        def log_metrics(self, step, metrics):
            raise OSError("disk full")

    seen, messages = [], []

    class Good(Tracker):
        name = "good"

        def log_metrics(self, step, metrics):
            seen.append((step, dict(metrics)))

    group = TrackerGroup([Broken(), Good()], log=messages.append)
    group.log_metrics(1, {"train_loss": 2.0})
    group.log_metrics(2, {"train_loss": 1.0})
    assert seen == [(1, {"train_loss": 2.0}), (2, {"train_loss": 1.0})]
    assert len(messages) == 1 and "broken failed in log_metrics (OSError: disk full)" in messages[0]
