"""Continued masked-LM pre-training with a tiny model: whole-word masking, the loss falls, stop/resume, a folder
Train starts from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.kernel.config import TrainConfig
from core.kernel.errors import StudioError
from core.train.loop import Callbacks, fit
from core.train.pretrain import mask_whole_words, pretrain, read_texts

from tests.conftest import TINY_SENTENCES


def _cfg(model_dir: str, **kw) -> TrainConfig:
    base = {"model_name_or_path": model_dir, "max_steps": 30, "learning_rate": 5e-3, "warmup_ratio": 0.0,
            "per_device_train_batch_size": 8, "num_threads": 1, "max_seq_length": 64, "stride": 8, "seed": 3}
    base.update(kw)
    return TrainConfig.from_dict(base)


@pytest.fixture
def text_file(tmp_path) -> str:
    p = tmp_path / "raw.txt"
    p.write_text("\n".join(TINY_SENTENCES) + "\n\n", encoding="utf-8")
    return str(p)


def test_whole_words_are_masked_together(tiny_tokenizer):
    from core.model.alignment import encode_words

    words = ["Angela", "Merkel", "besuchte", "Paris", "und", "Madrid", "."]
    wins = encode_words(tiny_tokenizer, words, 64, 8)
    for seed in range(20):
        batch = mask_whole_words(wins, tiny_tokenizer, 0.3, torch.Generator().manual_seed(seed))
        chosen = (batch["labels"][0] != -100).tolist()
        assert any(chosen)  # at least one word per window
        by_word: dict[int, set[bool]] = {}
        for pos, wid in enumerate(wins[0].word_ids):
            if wid is None:
                assert not chosen[pos]  # special tokens are never chosen
            else:
                by_word.setdefault(wid, set()).add(chosen[pos])
        assert all(len(v) == 1 for v in by_word.values())  # a word is masked whole or not at all
        orig = torch.tensor(wins[0].input_ids)
        lab = batch["labels"][0]
        assert torch.equal(lab[lab != -100], orig[lab != -100])


def test_read_texts_skips_blank_lines_and_reports_no_text(text_file, tmp_path):
    texts = read_texts([text_file])
    assert len(texts) == len(TINY_SENTENCES)
    assert texts[0][:2] == ["Angela", "Merkel"]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(StudioError, match="no text to pre-train on"):
        read_texts([str(empty)])


def test_loss_falls_and_train_starts_from_the_folder(tiny_model_dir, text_file, tmp_path):
    rows: list[tuple[int, dict]] = []
    res = pretrain(_cfg(tiny_model_dir), read_texts([text_file]) * 4, str(tmp_path / "pt"),
                   Callbacks(on_metrics=lambda s, m: rows.append((s, m))))
    assert res.status == "FINISHED" and res.steps == 30
    assert res.loss_last < res.loss_first * 0.9, (res.loss_first, res.loss_last)
    assert all(abs(m["perplexity"] - torch.tensor(m["train_loss"]).exp().item()) < 1e-3 * m["perplexity"]
               for _, m in rows)
    model_dir = Path(res.model_dir)
    assert json.loads((model_dir / "ner_studio_pretrain.json").read_text())["whole_word_mask"] is True
    # Train starts from it (the token-classification head is new)
    from core.data.corpus import Sentence

    train = [Sentence(tokens=["Angela", "Merkel", "besuchte", "Paris"], ner_tags=["B-PER", "I-PER", "O", "B-LOC"],
                      lang="de")] * 8
    out = fit(TrainConfig.from_dict({"model_name_or_path": str(model_dir), "max_steps": 2, "num_threads": 1,
                                     "max_seq_length": 32, "stride": 4}), train, [], str(tmp_path / "ft"))
    assert out.status == "FINISHED" and Path(out.model_dir, "config.json").exists()


def test_stop_then_resume_reaches_the_same_step(tiny_model_dir, text_file, tmp_path):
    cfg = _cfg(tiny_model_dir, max_steps=8)
    seen: list[int] = []
    res = pretrain(cfg, read_texts([text_file]), str(tmp_path), Callbacks(
        on_progress=lambda s, n: seen.append(s), should_stop=lambda: len(seen) >= 3))
    assert res.status == "STOPPED" and res.steps == 3
    seen2: list[int] = []
    res2 = pretrain(cfg, read_texts([text_file]), str(tmp_path), Callbacks(on_progress=lambda s, n: seen2.append(s)),
                    resume=True)
    assert res2.status == "FINISHED" and res2.steps == 8 and seen2 == [4, 5, 6, 7, 8]


def test_a_new_masked_lm_head_trains_alone_first(tiny_model_dir, text_file, tmp_path, monkeypatch):
    """The tiny checkpoint is a token-classification model: its masked-LM head is new. During the head warm-up
    the encoder (embeddings included) must not move; the head must."""
    from safetensors.torch import load_file
    from transformers import AutoModelForMaskedLM

    import core.train.pretrain as pt

    _, info = AutoModelForMaskedLM.from_pretrained(tiny_model_dir, output_loading_info=True)
    model = AutoModelForMaskedLM.from_pretrained(tiny_model_dir)
    head = pt.new_head_parameters(model, info["missing_keys"])
    assert head and all(not n.startswith(model.base_model_prefix + ".") for n in head)
    monkeypatch.setattr(pt, "HEAD_WARMUP_RATIO", 1.0)  # the whole run is warm-up
    res = pretrain(_cfg(tiny_model_dir, max_steps=6), read_texts([text_file]) * 4, str(tmp_path / "pt"))
    before = {k.split(".", 1)[1]: v for k, v in load_file(str(Path(tiny_model_dir) / "model.safetensors")).items()
              if k.startswith(model.base_model_prefix + ".")}
    after = load_file(str(Path(res.model_dir) / "model.safetensors"))
    enc_after = {k.split(".", 1)[1]: v for k, v in after.items() if k.startswith(model.base_model_prefix + ".")}
    shared = sorted(set(before) & set(enc_after))
    assert shared and all(torch.equal(before[k], enc_after[k]) for k in shared)
    # the head trained: among head weights whose initial value is deterministic (equal in two fresh loads:
    # biases 0, LayerNorm 1/0), some moved
    init_a = AutoModelForMaskedLM.from_pretrained(tiny_model_dir).state_dict()
    init_b = AutoModelForMaskedLM.from_pretrained(tiny_model_dir).state_dict()
    fixed = [k for k in after if not k.startswith(model.base_model_prefix + ".") and k in init_a
             and torch.equal(init_a[k], init_b[k])]
    assert fixed and any(not torch.equal(after[k], init_a[k]) for k in fixed)


def test_a_loaded_masked_lm_head_is_not_warmed_up(tiny_model_dir, tmp_path):
    from transformers import AutoModelForMaskedLM

    import core.train.pretrain as pt

    mlm_dir = tmp_path / "mlm"
    AutoModelForMaskedLM.from_pretrained(tiny_model_dir).save_pretrained(str(mlm_dir))
    model, info = AutoModelForMaskedLM.from_pretrained(str(mlm_dir), output_loading_info=True)
    assert pt.new_head_parameters(model, info["missing_keys"]) == []
