"""Plain summaries of runs for tables and pickers (no Streamlit, no pandas: pages turn the rows into frames)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from core.eval.methods import is_pretrained_folder
from core.kernel.constants import PRETRAIN_ENTRYPOINT, PRETRAIN_MARKER, TRANSFER_ENTRYPOINT
from core.ui.presets import format_seconds
from core.runs.store import FAILED, FINISHED, STOPPED, Run


#: What a run does (its entry point): fine-tune, continued masked-LM pre-training, or the transfer matrix.
TRAIN_KIND, PRETRAIN_KIND, TRANSFER_KIND = "train", "pretrain", "transfer"


def run_kind(run: Run) -> str:
    """``train``, ``pretrain`` or ``transfer``: from the run's entry point, else its summary's ``kind``."""
    entry = (run.options or {}).get("entrypoint")
    if entry == PRETRAIN_ENTRYPOINT:
        return PRETRAIN_KIND
    if entry == TRANSFER_ENTRYPOINT:
        return TRANSFER_KIND
    kind = (run.summary or {}).get("kind")
    return kind if kind in (PRETRAIN_KIND, TRANSFER_KIND) else TRAIN_KIND


def run_label(run: Run) -> str:
    """``name · STATUS`` (plus the best dev F1 when known), for select boxes."""
    f1 = f" · dev F1 {run.best_dev_f1:.3f}" if run.best_dev_f1 is not None else ""
    name = run.name if run.name != run.run_id else run.run_id
    return f"{name} · {run.status}{f1}"


def run_languages(run: Run) -> list[str]:
    """The run's training languages: from its summary once finished, else from its data description."""
    langs = run.summary.get("languages") or run.data.get("languages") or []
    return [str(x) for x in langs]


def final_language_f1(run: Run, split: str = "dev") -> dict[str, float | None]:
    """Language -> final F1 on ``split`` from the run's summary (falls back to test, then to {})."""
    for sp in (split, "test", "dev"):
        per = (run.summary.get(sp) or {}).get("per_language")
        if per:
            return {lang: sc.get("f1") for lang, sc in per.items()}
    return {}


def run_row(run: Run) -> dict:
    """One table row: run, name, status, kind, model, data, languages, best dev F1, test F1, steps, duration,
    created."""
    test = ((run.summary.get("test") or {}).get("overall") or {}).get("f1")
    return {
        "run": run.run_id,
        "name": run.name,
        "status": run.status,
        "kind": run_kind(run),
        "model": run.config.get("model_name_or_path", ""),
        "data": run.data.get("dataset_name") or ", ".join(str(p).rsplit("/", 1)[-1] for p in run.data.get("train", [])),
        "languages": ", ".join(run_languages(run)),
        "best dev F1": None if run.best_dev_f1 is None else round(run.best_dev_f1, 4),
        "test F1": None if test is None else round(float(test), 4),
        "steps": f"{run.step}/{run.total_steps}" if run.total_steps else str(run.step),
        "duration": format_seconds(run.duration),
        "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created)),
    }


def model_step(model_dir: str | Path) -> int | None:
    """The training step a saved model comes from (``ner_studio.json`` ``step``), None when not recorded."""
    meta = Path(model_dir) / "ner_studio.json"
    try:
        step = json.loads(meta.read_text(encoding="utf-8")).get("step")
    except (OSError, ValueError):
        return None
    return int(step) if isinstance(step, (int, float)) else None


def usable_model(run: Run, run_dir: str | Path) -> tuple[str, str] | None:
    """The model a run can be tried or evaluated with, and how to mark it.

    FINISHED runs: their model, no mark. STOPPED and FAILED runs: the best model saved so far in
    ``<run_dir>/model`` (the trainer keeps the best by dev F1 there during training), marked
    ``"from step N, stopped"``. None when there is none (no ``config.json`` in the folder), and for pre-training
    runs (their folder is a masked-LM model, no tagger: the start of a fine-tune).
    """
    if run_kind(run) == PRETRAIN_KIND:
        return None
    if run.status == FINISHED and run.model_dir:
        return run.model_dir, ""
    if run.status not in (STOPPED, FAILED):
        return None
    folder = Path(run.model_dir or Path(run_dir) / "model")
    if not (folder / "config.json").is_file():
        return None
    step = model_step(folder)
    return str(folder), f"from step {step if step is not None else '?'}, {run.status.lower()}"


def finished_with_model(runs: Sequence[Run]) -> list[Run]:
    """FINISHED runs that have a model folder, in the given order."""
    return [r for r in runs if r.status == FINISHED and r.model_dir]


def transfer_runs(runs: Sequence[Run]) -> list[Run]:
    """Finished transfer-matrix runs (``summary["kind"] == "transfer"`` with a matrix), in the given order."""
    return [r for r in runs if r.status == FINISHED and (r.summary or {}).get("kind") == "transfer"
            and (r.summary or {}).get("matrix")]


@dataclass(frozen=True)
class PretrainedFolder:
    """A model folder saved by a finished pre-training run, for the Train page's picker."""

    run_id: str
    name: str
    model_dir: str
    steps: int | None
    loss_last: float | None
    base_model: str | None

    @property
    def label(self) -> str:
        """``name · N steps · loss L`` (what is unknown is left out)."""
        parts = [self.name]
        if self.steps is not None:
            parts.append(f"{self.steps} steps")
        if self.loss_last is not None:
            parts.append(f"masked-LM loss {self.loss_last:.3f}")
        return " · ".join(parts)


def pretrained_folders(runs: Sequence[Run]) -> list[PretrainedFolder]:
    """The model folders of FINISHED runs that hold ``ner_studio_pretrain.json`` (saved by continued masked-LM
    pre-training), in the given order; steps and last loss from that file, else from the run's summary."""
    out = []
    for r in runs:
        if r.status != FINISHED or not r.model_dir:
            continue
        if not is_pretrained_folder(r.model_dir):
            continue
        meta_path = Path(r.model_dir) / PRETRAIN_MARKER
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        summary = r.summary or {}
        steps = meta.get("steps", summary.get("steps"))
        loss = meta.get("loss_last", summary.get("loss_last"))
        name = r.name if r.name not in ("", r.run_id) else r.run_id
        out.append(PretrainedFolder(r.run_id, name, str(r.model_dir),
                                    int(steps) if isinstance(steps, (int, float)) else None,
                                    float(loss) if isinstance(loss, (int, float)) else None,
                                    meta.get("base_model")))
    return out
