"""Damaged checkpoints with the real trainer and a tiny model: resume falls back to the previous checkpoint,
and when both are damaged the error names them (E324)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.data.loader import load_corpus
from core.kernel.config import TrainConfig
from core.kernel.errors import StudioError
from core.runs.checkpoints import MANIFEST, inspect_checkpoints, previous_dir, write_manifest
from core.train.loop import Callbacks, fit

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "demo"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo():
    corpus = load_corpus([str(DEMO)])
    return {"train": corpus.by_split("train")[::4], "dev": corpus.by_split("dev")[::4]}


def _cfg(model_dir: str) -> TrainConfig:
    return TrainConfig.from_dict({"model_name_or_path": model_dir, "max_steps": 12, "eval_steps": 3,
                                  "learning_rate": 1e-3, "per_device_train_batch_size": 8, "num_threads": 1,
                                  "max_seq_length": 64, "stride": 8})


def _stopped_at_7(cfg, demo, out: Path) -> Path:
    progress: list[int] = []
    res = fit(cfg, demo["train"], demo["dev"], str(out),
              Callbacks(on_progress=lambda s, n: progress.append(s), should_stop=lambda: len(progress) >= 7))
    assert res.status == "STOPPED" and res.steps == 7
    ckpt = out / "checkpoint"
    assert [(i.which, i.step, i.problem) for i in inspect_checkpoints(ckpt)] == [("newest", 7, ""),
                                                                               ("previous", 6, "")]
    return ckpt


def _weights(folder: Path) -> Path:
    return next(p for p in sorted(folder.iterdir()) if p.suffix in (".safetensors", ".bin") and "model" in p.name)


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the SHA-256 can tell
    path.write_bytes(bytes(data))


def test_damaged_newest_checkpoint_resumes_from_the_previous_and_finishes(tiny_model_dir, demo, tmp_path):
    cfg = _cfg(tiny_model_dir)
    ckpt = _stopped_at_7(cfg, demo, tmp_path)
    _flip(_weights(ckpt))
    logs: list[str] = []
    resumed: list[tuple[int, dict]] = []
    steps: list[int] = []
    res = fit(cfg, demo["train"], demo["dev"], str(tmp_path),
              Callbacks(log=logs.append, on_resume=lambda s, info: resumed.append((s, info)),
                        on_progress=lambda s, n: steps.append(s)), resume=True)
    assert res.status == "FINISHED" and res.steps == 12
    assert steps[0] == 7  # the step after the previous checkpoint's 6: step 7 trained again
    assert resumed and resumed[0][0] == 6
    info = res.resumed_from
    assert info["which"] == "previous" and info["step"] == 6 and info["checkpoint"] == str(previous_dir(ckpt))
    assert [d["path"] for d in info["damaged"]] == [str(ckpt)] and "SHA-256" in info["damaged"][0]["problem"]
    warning = [line for line in logs if line.startswith("WARNING: [E324]")]
    assert len(warning) == 1 and str(ckpt) in warning[0] and "step 6" in warning[0]


def test_checkpoint_that_verifies_but_fails_to_load_falls_back_too(tiny_model_dir, demo, tmp_path):
    """A load_state exception (here: weights cut in half, manifest rewritten to match) is caught, the checkpoint
    is marked damaged with the exception, and the previous one is loaded."""
    cfg = _cfg(tiny_model_dir)
    ckpt = _stopped_at_7(cfg, demo, tmp_path)
    w = _weights(ckpt)
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    write_manifest(ckpt)
    res = fit(cfg, demo["train"], demo["dev"], str(tmp_path), Callbacks(), resume=True)
    assert res.status == "FINISHED" and res.resumed_from["step"] == 6
    assert "accelerate could not load it" in res.resumed_from["damaged"][0]["problem"]


def test_both_checkpoints_damaged_is_a_coded_error_naming_the_folders(tiny_model_dir, demo, tmp_path):
    cfg = _cfg(tiny_model_dir)
    ckpt = _stopped_at_7(cfg, demo, tmp_path)
    _flip(_weights(ckpt))
    (previous_dir(ckpt) / MANIFEST).unlink()
    with pytest.raises(StudioError) as err:
        fit(cfg, demo["train"], demo["dev"], str(tmp_path), Callbacks(), resume=True)
    assert err.value.code == "E324"
    text = str(err.value)
    assert str(ckpt) in text and str(previous_dir(ckpt)) in text
    assert "manifest.json is missing" in text and str(tmp_path / "model") in text  # the best model is offered
    assert json.loads((tmp_path / "model" / "ner_studio.json").read_text())["step"] <= 6


def test_worker_and_cli_resume_say_which_checkpoint_was_used(tiny_model_dir, tmp_path):
    """Real processes: a worker is stopped, its newest checkpoint damaged; `python -m core resume` says it will use
    the previous one, the worker does, warns in train.log and in the run summary, and the run finishes."""
    import os
    import subprocess
    import sys
    import time

    from core.runs import jobs
    from core.runs.store import RunStore

    store = RunStore(tmp_path / "ws")
    cfg = dict(_cfg(tiny_model_dir).to_dict(), max_steps=40)
    run = store.create_run(cfg, {"train": [str(DEMO / "train.conll")], "dev": [str(DEMO / "dev.conll")],
                                 "max_train_sentences": 80})
    jobs.launch(run.run_id, store)
    deadline = time.time() + 180
    while store.get_run(run.run_id).step < 7 and time.time() < deadline:
        jobs.check_alive(store)
        time.sleep(0.1)
    jobs.stop(run.run_id, store)
    while store.get_run(run.run_id).status not in ("STOPPED", "FAILED", "FINISHED") and time.time() < deadline:
        jobs.check_alive(store)
        time.sleep(0.2)
    stopped = store.get_run(run.run_id)
    assert stopped.status == "STOPPED", stopped.error
    ckpt = store.checkpoint_dir(run.run_id)
    infos = inspect_checkpoints(ckpt)
    assert [i.which for i in infos] == ["newest", "previous"] and not any(i.problem for i in infos)
    prev_step = infos[1].step
    _flip(_weights(ckpt))
    env = dict(os.environ, NER_STUDIO_WORKSPACE=str(tmp_path / "ws"), PYTHONPATH=str(ROOT), NER_STUDIO_POLL_S="0.2")
    proc = subprocess.run([sys.executable, "-m", "core", "resume", run.run_id, "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"the newest checkpoint {ckpt} is damaged" in proc.stderr
    assert f"resume uses the previous checkpoint {previous_dir(ckpt)} (step {prev_step})" in proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "FINISHED"
    used = out["summary"]["resumed_from"]
    assert used["which"] == "previous" and used["step"] == prev_step
    assert any("[E324]" in w and str(ckpt) in w for w in out["summary"]["warnings"])
    log = store.log_path(run.run_id).read_text(encoding="utf-8")
    assert f"WARNING: [E324] the newest checkpoint {ckpt} is damaged" in log
    assert store.get_run(run.run_id).step == 40
