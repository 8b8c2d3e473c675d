"""The model card: Hub YAML header (languages, model-index with per-language strict F1), data, config, scores."""

from __future__ import annotations

import json
from types import SimpleNamespace

from core.deploy.card import SCORING_MODE, card_text


def _run():
    sc = lambda f: {"precision": f, "recall": f, "f1": f, "support": 10}  # noqa: E731
    return SimpleNamespace(
        run_id="r1", config={"model_name_or_path": "intfloat/multilingual-e5-small", "learning_rate": 1e-4},
        data={"train": ["/d/esp.train", "/d/ned.train"], "dev": [], "test": ["/d/esp.testb"],
              "max_train_sentences": 1000},
        summary={"languages": ["es", "nl", "und"], "n_train": 1000, "n_dev": 100, "n_test": 50,
                 "test": {"overall": sc(0.7), "per_language": {"es": sc(0.75), "nl": sc(0.65),
                                                               "und": {"precision": None, "recall": None,
                                                                       "f1": None, "support": 0}}}})


def test_card_header_and_sections(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"id2label": {"0": "O", "1": "B-PER", "2": "I-PER",
                                                                   "3": "B-creative-work"}}))
    card = card_text(str(tmp_path), run=_run())
    head, body = card.split("\n---\n", 1)
    assert head.startswith("---\nlanguage:\n- \"es\"\n- \"nl\"\n")  # und is not a language
    assert "library_name: transformers" in head and 'base_model: "intfloat/multilingual-e5-small"' in head
    assert "value: 0.7500" in head and 'name: "strict entity F1 (nl)"' in head and "und" not in head
    assert "`PER`, `creative-work`" in body  # types split at the first '-'
    assert "1,000 sentences from `esp.train`, `ned.train` (first 1,000)" in body
    assert "**dev**: 100 sentences held out from train" in body
    assert SCORING_MODE in body and "| es | 0.7500 | 0.7500 | 0.7500 | 10 |" in body and "| und | n/a |" in body
    assert '"learning_rate": 0.0001' in body


def test_card_without_run_or_scores(tmp_path):
    card = card_text(str(tmp_path))
    assert card.startswith("---\nlibrary_name: transformers") and "## Test scores" not in card
    assert "not recorded" in card
