"""Seed a workspace for page tests directly through the run store: runs, metrics, predictions, datasets.

No training happens: a FINISHED run gets a fake model folder, a predictions file and a summary; a RUNNING
run is owned by the test process itself (its pid is alive and its heartbeat fresh, so ``check_alive`` keeps it).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from core.runs.store import FINISHED, RUNNING, RunStore

XSS = "<img src=x onerror=alert(1)>"

# (lang, tokens, gold, pred): one correct sentence, one of each error kind, an Arabic (RTL) one, an XSS token.
PRED_SENTENCES = [
    ("en", ["John", "lives", "in", "Paris", "."], ["B-PER", "O", "O", "B-LOC", "O"], ["B-PER", "O", "O", "B-ORG", "O"]),
    ("en", [XSS, "works", "at", "Acme", "Corp"], ["O", "O", "O", "B-ORG", "I-ORG"], ["O", "O", "O", "B-ORG", "O"]),
    ("en", ["Maria", "met", "Bob"], ["B-PER", "O", "B-PER"], ["B-PER", "O", "O"]),
    ("es", ["Ana", "vive", "en", "Madrid"], ["B-PER", "O", "O", "B-LOC"], ["B-PER", "O", "O", "B-LOC"]),
    ("es", ["El", "Banco", "de", "España"], ["O", "B-ORG", "I-ORG", "I-ORG"], ["B-MISC", "B-ORG", "I-ORG", "I-ORG"]),
    ("ar", ["زار", "محمد", "القاهرة"], ["O", "B-PER", "B-LOC"], ["O", "B-PER", "B-LOC"]),
]

CONLL_TRAIN = ("-DOCSTART-\tO\n\n"
               "John\tB-PER\nlives\tO\nin\tO\nParis\tB-LOC\n.\tO\n\n"
               f"{XSS}\tO\nworks\tO\nat\tO\nAcme\tB-ORG\nCorp\tI-ORG\n\n"
               "Maria\tB-PER\nmet\tO\nBob\tB-PER\nin\tO\nLondon\tB-LOC\n\n")
CONLL_DEV = "Ana\tB-PER\nvisited\tO\nBerlin\tB-LOC\n.\tO\n\n"


def write_predictions(path: Path, sentences=PRED_SENTENCES) -> Path:
    lines = [json.dumps({"tokens": t, "ner_tags": g, "pred_tags": p, "scores": [0.9] * len(t), "lang": lang,
                         "source": "/data/dev.conll", "line": 10 * i + 1}, ensure_ascii=False)
             for i, (lang, t, g, p) in enumerate(sentences)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def finished_run(store: RunStore, name: str = "finished", f1_points=((10, 0.4), (20, 0.6)),
                 lang_f1: dict | None = None, model: str = "multilingual-e5-small"):
    """A FINISHED run with metrics, a fake model folder, dev predictions and a summary."""
    run = store.create_run({"model_name_or_path": model, "learning_rate": 3e-4}, {}, name=name)
    train = store.run_dir(run.run_id) / "train.conll"
    train.write_text(CONLL_TRAIN, encoding="utf-8")
    store.update_run(run.run_id, data={"train": [str(train)], "dev": ["/data/dev.conll"], "test": [], "lang": "en",
                                       "dataset_name": "seeded", "languages": ["ar", "en", "es"]})
    store.set_status(run.run_id, RUNNING)
    for step in range(5, 25, 5):
        store.log_metrics(run.run_id, step, {"train_loss": 2.0 / step, "learning_rate": 1e-4,
                                             "sentences_per_s": 40.0})
    for step, f1 in f1_points:
        store.log_metrics(run.run_id, step, {"eval_f1": f1, "eval_f1_en": f1 - 0.1, "eval_f1_es": f1 + 0.1})
    rdir = store.run_dir(run.run_id)
    model_dir = rdir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    (model_dir / "model.safetensors").write_bytes(b"\0" * 1000)
    pred = write_predictions(rdir / "predictions_dev.jsonl")
    store.add_artifact(run.run_id, "model", model_dir)
    store.add_artifact(run.run_id, "predictions_dev", pred)
    lang_f1 = lang_f1 or {"en": 0.5, "es": 0.8, "ar": 1.0}
    summary = {"train_seconds": 12.0, "languages": ["ar", "en", "es"], "warnings": [],
               "dev": {"overall": {"precision": 0.6, "recall": 0.6, "f1": 0.6, "support": 9},
                       "per_language": {k: {"precision": v, "recall": v, "f1": v, "support": 3}
                                        for k, v in lang_f1.items()}}}
    store.set_status(run.run_id, FINISHED, model_dir=str(model_dir), summary=summary, total_steps=20)
    return store.get_run(run.run_id)


def running_run(store: RunStore, name: str = "live", total_steps: int = 100):
    """A RUNNING run owned by this process (alive pid, fresh heartbeat)."""
    run = store.create_run({"model_name_or_path": "multilingual-e5-small"},
                           {"train": ["/data/train.conll"], "dataset_name": "seeded"}, name=name)
    store.set_status(run.run_id, RUNNING, pid=os.getpid(), heartbeat=time.time(), total_steps=total_steps)
    return store.get_run(run.run_id)


def log_steps(store: RunStore, run_id: str, steps, t0: float | None = None) -> None:
    """Train-loss rows (1 s apart from ``t0``) and an eval F1 every 10 steps."""
    t0 = time.time() - 100 if t0 is None else t0
    for step in steps:
        store.log_metrics(run_id, step, {"train_loss": 3.0 / step, "learning_rate": 2e-4, "sentences_per_s": 50.0},
                          time=t0 + step)
        if step % 10 == 0:
            store.log_metrics(run_id, step, {"eval_f1": step / 100, "eval_f1_en": step / 120}, time=t0 + step)


def conll_files(folder: Path) -> list[str]:
    """A train and a dev CoNLL file (the train one holds an XSS token)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.conll").write_text(CONLL_TRAIN, encoding="utf-8")
    (folder / "dev.conll").write_text(CONLL_DEV, encoding="utf-8")
    return [str(folder / "train.conll"), str(folder / "dev.conll")]
