"""CLI contracts of pretrain, transfer and train with per-language adapters, run from another folder through the
background worker (slow: each starts a worker process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_SENTENCES

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "demo"
SMALL = {"num_threads": 1, "max_seq_length": 64, "stride": 8, "per_device_train_batch_size": 8}


def _cli(args: list[str], tmp_path: Path, timeout: float = 300) -> dict:
    env = dict(os.environ, NER_STUDIO_WORKSPACE=str(tmp_path / "ws"), PYTHONPATH=str(ROOT), NER_STUDIO_POLL_S="0.2")
    proc = subprocess.run([sys.executable, "-m", "core", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_pretrain_json_contract_and_train_from_it(tiny_model_dir, tmp_path):
    text = tmp_path / "raw.txt"
    text.write_text("\n".join(TINY_SENTENCES * 3), encoding="utf-8")
    cfg = json.dumps({**SMALL, "learning_rate": 5e-3, "warmup_ratio": 0.0})
    out = _cli(["pretrain", "--text", "raw.txt", "--model", tiny_model_dir, "--max-steps", "20", "-o", "pt",
                "--config", cfg, "--json"], tmp_path)
    assert set(out) >= {"model_dir", "loss_first", "loss_last", "steps"}
    assert out["steps"] == 20 and out["loss_last"] < out["loss_first"]
    assert Path(out["model_dir"]) == (tmp_path / "pt").resolve() and (tmp_path / "pt" / "config.json").exists()


@pytest.mark.slow
def test_transfer_json_matrix(tiny_model_dir, tmp_path):
    cfg = json.dumps({**SMALL, "max_steps": 2})
    out = _cli(["transfer", "--train", str(DEMO / "train.conll"), "--test", str(DEMO / "test.conll"),
                "--model", tiny_model_dir, "--langs", "de", "es", "xx", "--config", cfg, "--json"], tmp_path)
    m = out["matrix"]
    assert sorted(m) == ["de", "es", "xx"] and all(sorted(r) == ["de", "es", "xx"] for r in m.values())
    assert m["xx"] == {"de": None, "es": None, "xx": None}  # no training data: empty row
    assert m["de"]["xx"] is None and isinstance(m["de"]["es"], float)  # no test data: null


@pytest.mark.slow
def test_train_per_language_adapters_then_predict_names_the_adapter(tiny_model_dir, tmp_path):
    cfg = json.dumps({**SMALL, "model_name_or_path": tiny_model_dir, "max_steps": 4, "adapters": "per_language",
                      "groups": {"germanic": ["de", "en"]}})
    out = _cli(["train", "--train", str(DEMO / "train.conll"), "--dev", str(DEMO / "dev.conll"),
                "--max-train-sentences", "200", "--config", cfg, "--json"], tmp_path)
    assert out["status"] == "FINISHED"
    assert out["adapters"] and "de" in out["adapters"]
    p = _cli(["predict", "--model", out["model_dir"], "--text", "Angela Merkel besuchte Paris.", "--lang", "de",
              "--json"], tmp_path)
    assert p["adapter"] == "germanic"
    p = _cli(["predict", "--model", out["model_dir"], "--text", "Angela Merkel", "--lang", "qu", "--json"], tmp_path)
    assert p["adapter"] == "shared"
