"""Fixtures of the deployment tests: gold sentences the tiny model gets right, and its ONNX export.

The tiny model has random weights, so its own PyTorch predictions are used as the gold tags: PyTorch then scores
F1 1.0 in every language and any difference of an exported graph shows as lost F1 points.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.data.corpus import Sentence

TEXTS = {
    "de": ["Angela Merkel besuchte Paris und Madrid im Jahr 2019 .", "Die Europäische Union hat ihren Sitz in Brüssel ."],
    "es": ["El Real Madrid ganó la Liga en Madrid .", "Barack Obama visitó Madrid en 2019 ."],
    "ru": ["Владимир Путин посетил Москву и Санкт-Петербург ."],
    "zh": ["北 京 是 中 国 的 首 都 ， 上 海 是 最 大 的 城 市 。"],
}


@pytest.fixture(scope="session")
def gold_sentences(tiny_model_dir) -> list[Sentence]:
    """Sentences in four languages whose gold tags are the tiny PyTorch model's predictions (with entities)."""
    from core.model.predictor import Predictor

    pred = Predictor(tiny_model_dir, device="cpu", precision="fp32")
    sents = [(lang, t.split()) for lang, texts in TEXTS.items() for t in texts]
    tags = pred.predict_tokens([w for _, w in sents])
    out = [Sentence(tokens=w, ner_tags=p.tags, lang=lang) for (lang, w), p in zip(sents, tags)]
    assert any(t != "O" for s in out for t in s.ner_tags)  # the fixture is useless without entities
    return out


@pytest.fixture(scope="session")
def onnx_export(tiny_model_dir, gold_sentences, tmp_path_factory):
    """(folder, report) of the tiny model exported to ONNX with int8, checked on :func:`gold_sentences`."""
    from core.deploy.export import export_onnx
    from core.deploy.source import ExportSource

    out = tmp_path_factory.mktemp("onnx_export")
    src = ExportSource(model_dir=tiny_model_dir, split="data", files=["gold.conll"], sentences=gold_sentences)
    report = export_onnx(src, str(out), quantize="int8", latency_sentences=3)
    return str(out), report


@pytest.fixture()
def all_o_quantizer(tiny_model_dir):
    """A stand-in for a quantizer that ruins the model: it writes a graph that predicts O everywhere."""
    import torch

    from core.deploy.export import export_graph
    from transformers import AutoModelForTokenClassification

    def fake(src, dst):
        model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir)
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.fill_(-10.0)
            model.classifier.bias[0] = 10.0  # label 0 is O
        bad = Path(dst).with_suffix(".broken")
        bad.mkdir(exist_ok=True)
        model.save_pretrained(bad)
        for f in Path(tiny_model_dir).glob("tokenizer*"):
            (bad / f.name).write_bytes(f.read_bytes())
        export_graph(str(bad), dst)

    return fake
