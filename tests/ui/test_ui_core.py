"""Tests of the small core modules behind the pages: device, presets and the duration estimate, the model zip,
live series, run summaries, analysis helpers and the two figures added for the UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core.model import device as device_mod
from core.eval.analysis import (Record, cell_sentences, entity_types, error_kinds, filter_records, load_predictions,
                           prediction_files, top_confusion)
from core.kernel.config import TrainConfig
from core.kernel.errors import CorpusError
from core.ui.export import zip_folder
from core.runs.live import LiveSeries, refresh
from core.ui.plots import per_language_f1_figure, selectable_confusion_figure
from core.ui.presets import (LARGE_GPU, PRESETS, QUICK, STANDARD, config_fields, estimate_duration, estimate_steps,
                          format_seconds, preset_config)
from core.ui.runinfo import final_language_f1, run_label, run_row
from core.runs.store import Artifact, Metric, Run
from tests.ui_seed import PRED_SENTENCES, write_predictions

ROOT = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------------------------------------ device


def test_parse_nvidia_smi():
    gpus = device_mod.parse_nvidia_smi("NVIDIA H200, 143771\nNVIDIA A100-SXM4-80GB, 81920 MiB\n\ngarbage\n")
    assert [(g.index, g.name, g.memory_mib) for g in gpus] == [(0, "NVIDIA H200", 143771),
                                                              (1, "NVIDIA A100-SXM4-80GB", 81920)]
    info = device_mod.DeviceInfo(tuple(gpus), 16, "nvidia-smi")
    assert info.kind == "gpu" and info.text.startswith("NVIDIA H200 (140.4 GiB)")
    assert info.choices == ["auto", "cpu", "cuda:0", "cuda:1"]


def test_describe_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(device_mod.shutil, "which", lambda name: None)
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    info = device_mod.describe_device(refresh=True)
    assert info.kind == "cpu" and info.gpus == () and info.text == f"CPU: {info.cpu_cores} core" + \
        ("s" if info.cpu_cores != 1 else "")
    assert info.choices == ["auto", "cpu"]
    device_mod._CACHE.clear()


def test_describe_device_reads_nvidia_smi(monkeypatch, tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA H200, 143771'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(device_mod.shutil, "which", lambda name: str(fake))
    info = device_mod.describe_device(refresh=True)
    assert info.source == "nvidia-smi" and info.gpus[0].name == "NVIDIA H200"
    device_mod._CACHE.clear()


def test_core_device_does_not_import_torch():
    code = "import sys, core.model.device as d; d.describe_device(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "False", out.stderr


# ------------------------------------------------------------------------------------------------ presets


def test_presets_are_valid_configs():
    for name in PRESETS:
        preset_config(name)
    assert preset_config(QUICK).max_steps == 150 and preset_config(STANDARD) == TrainConfig()
    assert preset_config(LARGE_GPU, model_name_or_path="xlm-roberta-base").model_name_or_path == "xlm-roberta-base"
    with pytest.raises(KeyError, match="unknown preset"):
        preset_config("huge")


def test_config_fields_cover_every_field_with_help():
    specs = {f.name: f for f in config_fields()}
    assert set(specs) == set(TrainConfig().to_dict())
    assert all(f.help for f in specs.values())
    assert specs["learning_rate"].kind == "float" and specs["seed"].kind == "int"
    assert specs["lora"].kind == "bool" and specs["precision"].kind == "choice"


def test_estimate_duration_scales_sensibly():
    cfg = TrainConfig(num_train_epochs=2, per_device_train_batch_size=16)
    assert estimate_steps(320, cfg) == 40 and estimate_steps(10, TrainConfig(max_steps=7)) == 7
    cpu = estimate_duration(320, 15, cfg, "cpu", cpu_cores=2)
    assert 25 < cpu < 600
    assert estimate_duration(3200, 15, cfg, "cpu", 2) > 5 * (cpu - 25)  # 10x the data: about 10x the training time
    assert estimate_duration(320, 15, cfg, "cuda:0") < cpu
    assert estimate_duration(320, 15, cfg, "cpu", cpu_cores=8) < cpu
    unfrozen = TrainConfig(num_train_epochs=2, per_device_train_batch_size=16, freeze_embeddings=False)
    assert estimate_duration(320, 15, unfrozen, "cpu", 2) > cpu
    minilm = TrainConfig(num_train_epochs=2, per_device_train_batch_size=16, model_name_or_path="all-MiniLM-L6-v2")
    assert estimate_duration(320, 15, minilm, "cpu", 2) < cpu


@pytest.mark.parametrize("secs,text", [(None, "-"), (4.4, "4 s"), (185, "3 min 5 s"), (3720, "1 h 02 min")])
def test_format_seconds(secs, text):
    assert format_seconds(secs) == text


# ------------------------------------------------------------------------------------------------ zip


def test_zip_folder_stores_weights_and_is_reused(tmp_path):
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "config.json").write_text('{"a": 1}' * 100)
    (model / "model.safetensors").write_bytes(os.urandom(2000))
    (model / "sub" / "tokenizer.json").write_text("{}")
    out = zip_folder(model, tmp_path / "out" / "model.zip", arcroot="run1-model")
    with zipfile.ZipFile(out) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert set(infos) == {"run1-model/config.json", "run1-model/model.safetensors", "run1-model/sub/tokenizer.json"}
        assert infos["run1-model/model.safetensors"].compress_type == zipfile.ZIP_STORED
        assert infos["run1-model/config.json"].compress_type == zipfile.ZIP_DEFLATED
        assert zf.read("run1-model/model.safetensors") == (model / "model.safetensors").read_bytes()
    mtime = out.stat().st_mtime_ns
    assert zip_folder(model, out).stat().st_mtime_ns == mtime  # unchanged folder: not rebuilt
    with pytest.raises(FileNotFoundError):
        zip_folder(tmp_path / "missing", tmp_path / "x.zip")


# ------------------------------------------------------------------------------------------------ live series


def rows(start_id, steps, key="train_loss", t0=1000.0):
    return [Metric(start_id + i, key, s, 1.0 / s, t0 + s) for i, s in enumerate(steps)]


def test_live_series_incremental_and_eta():
    s = LiveSeries("r1")
    assert s.add(rows(1, [5, 10])) == 2 and s.last_id == 2
    assert s.add(rows(1, [5, 10])) == 0  # already seen
    s.add([Metric(3, "eval_f1_es", 10, 0.5, 1010.0), Metric(4, "eval_f1", 10, 0.4, 1010.0)])
    s.add(rows(5, [15, 20]))
    assert s.get("train_loss") == [(5, 0.2), (10, 0.1), (15, 1 / 15), (20, 0.05)]
    assert s.per_language_f1() == {"es": [(10, 0.5)]} and s.last("eval_f1") == 0.4
    assert s.steps_per_s() == pytest.approx(1.0)
    assert s.eta_seconds(20, 100) == pytest.approx(80.0)
    assert s.eta_seconds(20, None) is None and LiveSeries("x").eta_seconds(0, 10) is None


def test_refresh_reads_after_last_id_and_restarts_on_resume():
    asked = []

    def fetch(after):
        asked.append(after)
        return [m for m in rows(1, [5, 10, 15]) if m.id > after]

    s = refresh(None, "r1", 1, fetch)
    s = refresh(s, "r1", 1, fetch)
    assert asked == [0, 3] and len(s.get("train_loss")) == 3
    s2 = refresh(s, "r1", 2, fetch)  # resumed: rows after the checkpoint were rewound, start over
    assert asked[-1] == 0 and s2 is not s and s2.attempt == 2


# ------------------------------------------------------------------------------------------------ runs


def test_run_row_and_label():
    run = Run("r1", "demo", "FINISHED", config={"model_name_or_path": "m"},
              data={"dataset_name": "ds", "languages": ["en"]}, best_dev_f1=0.51234, created=0.0, started=10.0,
              finished=75.0, step=20, total_steps=20,
              summary={"languages": ["de", "en"], "test": {"overall": {"f1": 0.5}},
                       "dev": {"per_language": {"de": {"f1": 0.4}, "en": {"f1": None}}}})
    row = run_row(run)
    assert (row["model"], row["data"], row["languages"], row["best dev F1"], row["test F1"], row["duration"],
            row["steps"]) == ("m", "ds", "de, en", 0.5123, 0.5, "1 min 5 s", "20/20")
    assert run_label(run) == "demo · FINISHED · dev F1 0.512"
    assert final_language_f1(run) == {"de": 0.4, "en": None}


# ------------------------------------------------------------------------------------------------ analysis


def test_load_predictions_and_files(tmp_path):
    recs = load_predictions(str(write_predictions(tmp_path / "p.jsonl")))
    assert len(recs) == 6 and recs[5].lang == "ar" and recs[0].where == "dev.conll:1" and recs[0].disagrees
    arts = [Artifact(1, "r", "predictions_test", "/t1", 0), Artifact(2, "r", "predictions_dev", "/d", 0),
            Artifact(3, "r", "predictions_test", "/t2", 0), Artifact(4, "r", "model", "/m", 0)]
    assert prediction_files(arts) == {"dev": "/d", "test": "/t2"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"tokens": ["a"], "ner_tags": ["O"], "pred_tags": ["O", "O"]}\n')
    with pytest.raises(CorpusError, match="E107"):
        load_predictions(str(bad))
    bad.write_text('{"tokens": ["a"]}\n')
    with pytest.raises(CorpusError, match="E105"):
        load_predictions(str(bad))
    with pytest.raises(CorpusError, match="E101"):
        load_predictions(str(tmp_path / "missing.jsonl"))


def records():
    return [Record(i, t, g, p, None, lang) for i, (lang, t, g, p) in enumerate(PRED_SENTENCES)]


def test_cell_sentences_entity_and_token_level():
    recs = records()
    assert cell_sentences(recs, "en", "entity", "LOC", "ORG") == [0]
    assert cell_sentences(recs, "en", "entity", "PER", "MISSED") == [2]
    assert cell_sentences(recs, "all", "entity", "SPURIOUS", "MISC") == [4]
    assert cell_sentences(recs, "es", "entity", "SPURIOUS", "MISC") == [4]
    assert cell_sentences(recs, "en", "entity", "SPURIOUS", "MISC") == []
    assert cell_sentences(recs, "all", "token", "I-ORG", "O") == [1]
    assert cell_sentences(recs, "all", "token", "B-PER", "B-PER") == [0, 2, 3, 5]
    with pytest.raises(ValueError, match="level"):
        cell_sentences(recs, "all", "span", "a", "b")


def test_filters_and_error_kinds():
    recs = records()
    assert error_kinds(recs[0]) == {"wrong type"} and error_kinds(recs[1]) == {"wrong boundary"}
    assert error_kinds(recs[3]) == set() and error_kinds(Record(0, ["a"], ["O"])) == set()
    assert entity_types(recs) == ["LOC", "MISC", "ORG", "PER"]
    ids = lambda rs: [r.index for r in rs]  # noqa: E731
    assert ids(filter_records(recs, disagreements_only=True)) == [0, 1, 2, 4]
    assert ids(filter_records(recs, langs=["es", "ar"])) == [3, 4, 5]
    assert ids(filter_records(recs, entity_type="MISC")) == [4]
    assert ids(filter_records(recs, error_kind="missed")) == [2]
    assert ids(filter_records(recs, langs=["en"], error_kind="spurious")) == []


def test_top_confusion():
    assert top_confusion(["A", "B"], ["A", "B"], [[5, 1], [3, 9]]) == ("B", "A")
    assert top_confusion(["A"], ["A"], [[4]]) == ("A", "A")
    assert top_confusion(["A"], ["A"], [[0]]) is None


# ------------------------------------------------------------------------------------------------ figures


def test_selectable_confusion_figure_has_one_marker_per_cell():
    fig = selectable_confusion_figure(["PER", "SPURIOUS"], ["PER", "MISSED"], [[3, 1], [2, 0]], normalize=True)
    heat, cells = fig.data
    assert heat.type == "heatmap" and list(heat.z[0]) == [0.75, 0.25]
    assert cells.name == "cells" and list(cells.x) == ["PER", "MISSED", "PER", "MISSED"]
    assert [list(c) for c in cells.customdata] == [["PER", "PER", 3], ["PER", "MISSED", 1], ["SPURIOUS", "PER", 2],
                                                   ["SPURIOUS", "MISSED", 0]]
    assert cells.marker.opacity == 0.0
    json.loads(fig.to_json())


def test_per_language_f1_figure():
    fig = per_language_f1_figure({"a": {"en": 0.5, "de": None}, "b": {"en": 0.7, "zh": 0.2}})
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[0].x) == ["de", "en", "zh"] and list(fig.data[1].y) == [None, 0.7, 0.2]
