"""`export`, then `predict` and `evaluate` on the exported folder, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli.main import main as cli_main
from core.data.writers import write_corpus


@pytest.fixture()
def gold_file(tmp_path, gold_sentences) -> str:
    path = tmp_path / "gold.jsonl"
    write_corpus(gold_sentences, str(path), to="jsonl")
    return str(path)


def test_export_json_then_predict_and_evaluate(tmp_path, capsys, tiny_model_dir, gold_file, gold_sentences):
    out = tmp_path / "onnx"
    code = cli_main(["export", "--model", tiny_model_dir, "--format", "onnx", "--quantize", "int8", "-o", str(out),
                     "--data", gold_file, "--json"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == (0 if report["int8"]["accepted"] else 1)
    assert report["check"]["split"] == "data" and report["check"]["n_sentences"] == len(gold_sentences)
    assert set(report["backends"]) == {"torch", "onnx_fp32", "onnx_int8"}

    assert cli_main(["predict", "--model", str(out), "--text", "Angela Merkel besuchte Paris", "--json"]) == 0
    pred = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert pred["words"] == ["Angela", "Merkel", "besuchte", "Paris"] and len(pred["tags"]) == 4

    assert cli_main(["evaluate", "--model", str(out), "--data", gold_file, "--json"]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    graph = "onnx_int8" if report["int8"]["accepted"] else "onnx_fp32"
    assert ev["overall"]["f1"] == pytest.approx(report["backends"][graph]["overall_f1"])


def test_export_refusal_exits_1_with_numbers(monkeypatch, tmp_path, capsys, tiny_model_dir, gold_file,
                                             all_o_quantizer):
    import core.deploy.export as export_mod

    monkeypatch.setattr(export_mod, "quantize_int8", all_o_quantizer)
    out = tmp_path / "onnx"
    assert cli_main(["export", "--model", tiny_model_dir, "--quantize", "int8", "-o", str(out),
                     "--data", gold_file]) == 1
    err = capsys.readouterr().err
    assert "[E602] int8 refused" in err and "100.00 F1 points" in err
    assert (out / "model.onnx").is_file() and not (out / "model_int8.onnx").exists()


def test_export_unknown_run_is_a_coded_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "ws"))
    assert cli_main(["export", "--model", "r-nope", "-o", str(tmp_path / "o")]) == 1
    assert "[E203]" in capsys.readouterr().err
