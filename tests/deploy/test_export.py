"""ONNX export: same tags as PyTorch through the one Predictor, int8 accepted or refused by its per-language
F1 numbers, the folder loads like a transformers folder, and the card carries the checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.deploy.errors import DeployError
from core.deploy.export import ONNX_FP32, ONNX_INT8, export_onnx, f1_drops
from core.deploy.source import ExportSource
from core.model.predictor import Predictor, onnx_model_file


def test_fp32_graph_loses_nothing_in_any_language(onnx_export, gold_sentences):
    folder, report = onnx_export
    langs = {s.lang for s in gold_sentences}
    assert set(report["backends"]["torch"]["per_language"]) == langs
    assert report["backends"]["torch"]["overall_f1"] == pytest.approx(1.0)  # gold = its own predictions
    assert report["f1_drop_points"]["onnx_fp32"] == {k: 0.0 for k in ["all", *sorted(langs)]}
    assert report["max_logit_diff"] < 1e-3
    assert Path(folder, ONNX_FP32).is_file()


def test_int8_decision_follows_the_numbers(onnx_export):
    folder, report = onnx_export
    drops = [v for v in report["f1_drop_points"]["onnx_int8"].values() if v is not None]
    accepted = max(drops) <= 1.0
    assert report["int8"]["accepted"] is accepted
    assert report["model_file"] == (ONNX_INT8 if accepted else ONNX_FP32)
    assert Path(folder, ONNX_INT8).is_file() is accepted
    assert json.loads(Path(folder, "ner_studio.json").read_text())["onnx_file"] == report["model_file"]


def test_folder_has_tokenizer_label_map_and_no_torch_weights(onnx_export, tiny_labels):
    folder, _ = onnx_export
    names = {p.name for p in Path(folder).iterdir()}
    assert {"tokenizer.json", "config.json", "labels.json", "ner_studio.json", "README.md"} <= names
    assert not names & {"model.safetensors", "pytorch_model.bin"}
    labels = json.loads(Path(folder, "labels.json").read_text())
    assert [labels["id2label"][str(i)] for i in range(len(tiny_labels))] == tiny_labels
    assert labels["label2id"]["B-PER"] == tiny_labels.index("B-PER")


def test_onnx_predictor_same_windows_and_merge_as_torch(onnx_export, tiny_model_dir):
    folder, _ = onnx_export
    # a sentence far longer than the 16-subword window: several overlapping windows, merged per word
    words = ("Angela Merkel besuchte Paris und Madrid im Jahr 2019 . " * 6).split()
    torch_p = Predictor(tiny_model_dir, device="cpu", precision="fp32", max_seq_length=16, stride=4)
    onnx_p = Predictor(folder, onnx_file=ONNX_FP32, max_seq_length=16, stride=4)
    assert onnx_p.backend == "onnx" and torch_p.backend == "torch"
    a, b = torch_p.predict_tokens([words, [], ["Paris"]]), onnx_p.predict_tokens([words, [], ["Paris"]])
    assert [p.tags for p in a] == [p.tags for p in b]
    assert len(b[0].tags) == len(words) and b[1].tags == []
    assert max(abs(x - y) for x, y in zip(a[0].scores, b[0].scores)) < 1e-4
    text = onnx_p.predict_text("Angela Merkel besuchte Paris", lang="de")
    assert text["lang"] == "de" and len(text["tags"]) == 4


def test_onnx_folder_detected_and_default_graph_used(onnx_export, tiny_model_dir):
    folder, report = onnx_export
    assert onnx_model_file(folder) == str(Path(folder, report["model_file"]).resolve())
    assert onnx_model_file(tiny_model_dir) is None
    assert Predictor(folder).onnx.path.endswith(report["model_file"])


def test_card_has_hub_header_languages_and_export_checks(onnx_export, gold_sentences):
    folder, report = onnx_export
    card = Path(folder, "README.md").read_text(encoding="utf-8")
    header = card.split("---")[1]
    for lang in {s.lang for s in gold_sentences}:
        assert f'- "{lang}"' in header
    assert "pipeline_tag: token-classification" in header and "- onnx" in header
    assert "## Export checks" in card and "strict IOB2" in card
    assert "| onnx_int8 |" in card and "| torch |" in card
    assert ("accepted" if report["int8"]["accepted"] else "REFUSED") in card


def test_int8_refused_with_numbers_when_a_language_loses_f1(monkeypatch, tmp_path, tiny_model_dir, gold_sentences,
                                                              all_o_quantizer):
    import core.deploy.export as export_mod

    monkeypatch.setattr(export_mod, "quantize_int8", all_o_quantizer)
    src = ExportSource(model_dir=tiny_model_dir, split="data", sentences=gold_sentences)
    report = export_onnx(src, str(tmp_path / "out"), quantize="int8", latency_sentences=1)
    assert report["int8"]["accepted"] is False
    lang, points = report["int8"]["worst"]
    assert points == pytest.approx(100.0)  # all-O predictions: F1 1.0 -> 0.0 in that language
    assert "loses 100.00 F1 points" in report["int8"]["reason"]
    assert not (tmp_path / "out" / ONNX_INT8).exists() and (tmp_path / "out" / ONNX_FP32).exists()
    assert report["model_file"] == ONNX_FP32
    assert "REFUSED" in (tmp_path / "out" / "README.md").read_text(encoding="utf-8")


def test_int8_without_sentences_is_a_coded_error(tmp_path, tiny_model_dir):
    with pytest.raises(DeployError, match=r"\[E603\]"):
        export_onnx(ExportSource(model_dir=tiny_model_dir), str(tmp_path / "o"), quantize="int8")


def test_fp32_without_sentences_says_not_rescored(tmp_path, tiny_model_dir):
    report = export_onnx(ExportSource(model_dir=tiny_model_dir), str(tmp_path / "o"))
    assert report["backends"] == {} and report["model_file"] == ONNX_FP32
    assert "Not re-scored" in (tmp_path / "o" / "README.md").read_text(encoding="utf-8")


def test_f1_drops_in_points_and_na_kept():
    ref = {"overall_f1": 0.8, "per_language": {"es": 0.9, "nl": None}}
    other = {"overall_f1": 0.79, "per_language": {"es": 0.85, "nl": 0.1}}
    assert f1_drops(ref, other) == {"all": pytest.approx(1.0), "es": pytest.approx(5.0), "nl": None}


def test_predictor_reports_a_missing_graph(tmp_path, onnx_export):
    from core.kernel.errors import ConfigError

    folder, _ = onnx_export
    with pytest.raises(ConfigError, match=r"\[E203\].*does not exist"):
        Predictor(folder, onnx_file="nope.onnx")


def test_export_into_the_model_folder_is_refused(tiny_model_dir):
    with pytest.raises(DeployError, match=r"\[E601\].*is the model folder itself"):
        export_onnx(ExportSource(model_dir=tiny_model_dir), tiny_model_dir)


def test_onnx_forward_passes_stay_within_the_backend_batch_caps(onnx_export, tiny_model_dir):
    """ONNX batches are capped (small batches run faster on the CPU) and the tags are the torch fp32 ones."""
    folder, _ = onnx_export
    onnx_p = Predictor(folder, onnx_file=ONNX_FP32)
    shapes = []
    real = onnx_p.onnx.logits

    def spy(ids, mask):
        shapes.append(tuple(ids.shape))
        return real(ids, mask)

    onnx_p.onnx.logits = spy
    sents = [("Angela Merkel besuchte Paris und Madrid im Jahr 2019 . " * (1 + i % 3)).split() for i in range(11)]
    got = onnx_p.predict_tokens(sents, max_sentences=64, max_tokens=8192)
    cap_s, cap_t = onnx_p.onnx.max_batch_sentences, onnx_p.onnx.max_batch_tokens
    assert shapes and all(b <= cap_s and (b * n <= cap_t or b == 1) for b, n in shapes)
    assert sum(b for b, _ in shapes) == len(sents)
    torch_p = Predictor(tiny_model_dir, device="cpu", precision="fp32")
    assert [p.tags for p in got] == [p.tags for p in torch_p.predict_tokens(sents)]


def test_onnx_batches_run_concurrently_with_the_same_tags_and_scores(onnx_export):
    """With num_threads > 1 the batches go to a pool of one-thread runs (2 cores: int8 156-167 -> 254-257
    sentences/s in bench/predict_speed.py); the answers are those of the one-thread predictor, in order."""
    import threading
    import time

    folder, _ = onnx_export
    seq = Predictor(folder, onnx_file=ONNX_FP32, num_threads=1)
    par = Predictor(folder, onnx_file=ONNX_FP32, num_threads=2)
    assert (seq.onnx.workers, par.onnx.workers) == (1, 2)
    threads, lock, state = set(), threading.Lock(), {"in_flight": 0, "most": 0}
    real = par.onnx.logits

    def spy(ids, mask):
        with lock:
            threads.add(threading.current_thread().name)
            state["in_flight"] += 1
            state["most"] = max(state["most"], state["in_flight"])
        time.sleep(0.05)  # long enough for the other worker to start its batch meanwhile
        try:
            return real(ids, mask)
        finally:
            with lock:
                state["in_flight"] -= 1

    par.onnx.logits = spy
    sents = [(f"Angela Merkel besuchte Paris {i} und Madrid im Jahr 2019 . " * (1 + i % 3)).split() for i in range(23)]
    a, b = seq.predict_tokens(sents), par.predict_tokens(sents)
    assert [(p.tags, p.scores) for p in a] == [(p.tags, p.scores) for p in b]
    # the pool's two threads ran them, not the caller
    assert sum(name.startswith("onnx") for name in threads) == 2
    assert state["most"] == 2  # two batches at once, never more than the workers
    assert par.predict_tokens(sents[:1])[0].tags == a[0].tags  # one batch: no pool needed
