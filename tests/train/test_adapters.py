"""Per-language adapters with a tiny model: config, single-language batches, routing in training and prediction,
the saved folder."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from core.data.corpus import Sentence
from core.kernel.config import TrainConfig
from core.kernel.errors import ConfigError
from core.model.predictor import Predictor
from core.train.adapters import AdapterRouter, adapter_routes, add_language_adapters, is_head_parameter
from core.train.loop import _optimizer, fit, make_batches


def _sentences(lang: str, n: int) -> list[Sentence]:
    words = {"de": ["Angela", "Merkel", "besuchte", "Paris", "."], "es": ["El", "Real", "Madrid", "ganó", "."],
             "en": ["Barack", "Obama", "was", "born", "in", "Honolulu", "."]}[lang]
    tags = {"de": ["B-PER", "I-PER", "O", "B-LOC", "O"], "es": ["O", "B-ORG", "I-ORG", "O", "O"],
            "en": ["B-PER", "I-PER", "O", "O", "O", "B-LOC", "O"]}[lang]
    return [Sentence(tokens=list(words), ner_tags=list(tags), lang=lang) for _ in range(n)]


def _cfg(model_dir: str, **kw) -> TrainConfig:
    base = {"model_name_or_path": model_dir, "max_steps": 6, "eval_steps": 3, "learning_rate": 1e-3,
            "per_device_train_batch_size": 4, "num_threads": 1, "max_seq_length": 32, "stride": 4,
            "adapters": "per_language", "warmup_ratio": 0.0}
    base.update(kw)
    return TrainConfig.from_dict(base)


@pytest.mark.parametrize("bad, match", [
    ({"adapters": "per_sentence"}, "adapters must be shared or per_language"),
    ({"groups": {"g": "sw"}}, "groups must be"),
    ({"groups": {"a": ["sw"], "b": ["sw"]}}, "each language in one group at most"),
    ({"groups": {"shared": ["sw"]}}, "groups must be"),
    ({"adapters": "per_language", "ddp_processes": 2}, "data parallel cannot follow"),
])
def test_bad_adapter_config_is_a_coded_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig.from_dict(bad)


def test_routes_follow_groups_and_und_has_no_adapter():
    cfg = TrainConfig.from_dict({"adapters": "per_language", "groups": {"iberian": ["es", "pt"]}})
    assert adapter_routes(cfg, ["de", "es", "pt", "und", "de"]) == {"de": "de", "es": "iberian", "pt": "iberian"}
    assert adapter_routes(TrainConfig(), ["de", "es"]) == {}


def test_batches_are_single_language_and_cover_every_window():
    rng = random.Random(0)
    langs = [rng.choice(["de", "es", "sw"]) for _ in range(300)]
    lengths = [rng.randint(3, 40) for _ in range(300)]
    cfg = TrainConfig.from_dict({"per_device_train_batch_size": 8})
    batches = make_batches(list(range(300)), lengths, cfg, random.Random(1), langs=langs)
    assert sorted(i for b in batches for i in b) == list(range(300))
    assert all(len({langs[i] for i in b}) == 1 for b in batches)
    mixed = make_batches(list(range(300)), lengths, cfg, random.Random(1))
    assert any(len({langs[i] for i in b}) > 1 for b in mixed)  # without langs batches mix languages


def test_a_batch_in_one_language_changes_only_its_adapter_the_head_and_the_encoder(tiny_model_dir):
    from transformers import AutoModelForTokenClassification

    cfg = _cfg(tiny_model_dir)
    routes = {"de": "de", "es": "es"}
    model = add_language_adapters(AutoModelForTokenClassification.from_pretrained(tiny_model_dir), cfg, routes)
    router = AdapterRouter(model, routes)
    # the optimizer sees every adapter, the head and the encoder
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(".encoder." in n and "lora_" not in n for n in trainable) and any(is_head_parameter(n) for n in trainable)
    assert {"shared", "de", "es"} <= {n.split("lora_A.")[1].split(".")[0] for n in trainable if "lora_A." in n}
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2)
    for p in params:  # LoRA's B starts at 0: give every adapter non-zero weights so A's path carries gradient
        torch.nn.init.normal_(p.data, std=0.02)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    name = router.adapter_for("de", 1)
    assert name == "de"
    router.activate(name)
    model.train()
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.tensor([[-100, 1, 2, 0, -100]]))
    out.loss.backward()
    opt.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any(".de." in n for n in changed)
    assert any(is_head_parameter(n) for n in changed)
    assert any(".encoder." in n and "lora_" not in n for n in changed)
    assert not any(".es." in n or ".shared." in n for n in changed), sorted(changed)  # the other adapters stay
    # every (n_adapters + 1)-th batch trains the shared adapter; a language without one uses it too
    assert router.adapter_for("de", router.shared_every) == "shared"
    assert router.adapter_for("sw", 1) == "shared"


def test_fit_saves_one_folder_that_routes_each_language(tiny_model_dir, tmp_path):
    train = _sentences("de", 12) + _sentences("es", 12)
    dev = _sentences("de", 3) + _sentences("es", 3)
    res = fit(_cfg(tiny_model_dir), train, dev, str(tmp_path))
    assert res.status == "FINISHED"
    model_dir = Path(res.model_dir)
    meta = json.loads((model_dir / "ner_studio.json").read_text())
    assert meta["adapters"]["routes"] == {"de": "de", "es": "es"}
    for name in ("shared", "de", "es"):
        assert (model_dir / "adapters" / name / "adapter_config.json").exists()
    pred = Predictor(str(model_dir), device="cpu")
    calls: list[str] = []
    real = pred.model.set_adapter
    pred.model.set_adapter = lambda name: (calls.append(name), real(name))[1]
    out = pred.predict_tokens([s.tokens for s in dev] + [["Jambo", "Nairobi"]], langs=["de"] * 3 + ["es"] * 3 + ["sw"])
    assert [p.adapter for p in out] == ["de"] * 3 + ["es"] * 3 + ["shared"]
    assert sorted(calls) == ["de", "es", "shared"]
    assert all(len(p.tags) == len(s.tokens) for p, s in zip(out, dev))
    # the adapters differ: the same words tagged through another adapter give other scores
    de_scores = pred.predict_tokens([dev[0].tokens], langs=["de"])[0].scores
    es_scores = pred.predict_tokens([dev[0].tokens], langs=["es"])[0].scores
    assert de_scores != es_scores
    text = pred.predict_text("Angela Merkel besuchte Paris .", lang="de")
    assert text["adapter"] == "de" and text["lang"] == "de"
    assert pred.predict_text("Jambo Nairobi", lang="sw")["adapter"] == "shared"


def test_a_model_without_adapters_reports_none(tiny_model_dir):
    pred = Predictor(tiny_model_dir, device="cpu")
    assert pred.predict_text("Angela Merkel", lang="de")["adapter"] is None


def test_lora_weights_train_at_their_own_rate_and_frozen_embeddings_stay_out(tiny_model_dir):
    from transformers import AutoModelForTokenClassification

    cfg = _cfg(tiny_model_dir, freeze_embeddings=True)
    base = AutoModelForTokenClassification.from_pretrained(tiny_model_dir)
    emb = base.get_input_embeddings().weight
    emb.requires_grad_(False)  # as _build_model does with freeze_embeddings
    model = add_language_adapters(base, cfg, {"de": "de", "es": "es"})
    opt = _optimizer(model, cfg)
    held = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert id(emb) not in held
    rates = {("lora" if "lora_" in n else "head" if is_head_parameter(n) else "encoder"): held[id(p)]
             for n, p in model.named_parameters() if id(p) in held}
    assert rates == {"lora": cfg.learning_rate * cfg.adapter_lr_multiplier,
                     "head": cfg.learning_rate * cfg.classifier_lr_multiplier, "encoder": cfg.learning_rate}
    assert {n.split("lora_A.")[1].split(".")[0] for n, p in model.named_parameters()
            if "lora_A." in n and id(p) in held} == {"shared", "de", "es"}


def test_fit_trains_the_shared_encoder_and_each_languages_adapter(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    train = _sentences("de", 12) + _sentences("es", 12)
    res = fit(_cfg(tiny_model_dir), train, [], str(tmp_path))
    assert res.status == "FINISHED"
    start = load_file(str(Path(tiny_model_dir) / "model.safetensors"))
    saved = load_file(str(Path(res.model_dir) / "model.safetensors"))
    key = next(k for k in start if "encoder.layer.0.attention.self.query.weight" in k)
    assert not torch.equal(start[key], saved[key])  # the encoder was fine-tuned
    for name in ("de", "es"):  # ... and each language's LoRA B moved from zero
        w = load_file(str(Path(res.model_dir) / "adapters" / name / "adapter_model.safetensors"))
        assert any("lora_B" in k and v.abs().sum() > 0 for k, v in w.items())


def test_a_run_recorded_before_the_lora_rate_keeps_its_rate_and_old_adapter_runs_refuse_resume(tiny_model_dir):
    from types import SimpleNamespace

    from core.kernel.errors import StudioError
    from core.train.loop import LORA_RATE_FIELD, run_config, train_run

    old = {k: v for k, v in _cfg(tiny_model_dir, lora=True, adapters="shared").to_dict().items()
           if k != LORA_RATE_FIELD}
    assert run_config(SimpleNamespace(config=old, device=None)).adapter_lr_multiplier == 1.0
    new = _cfg(tiny_model_dir).to_dict()
    assert run_config(SimpleNamespace(config=new, device=None)).adapter_lr_multiplier == 10.0
    old_adapters = {k: v for k, v in new.items() if k != LORA_RATE_FIELD}
    with pytest.raises(StudioError, match="E325|earlier version"):
        train_run(SimpleNamespace(config=old_adapters, device=None, data={}, run_id="r1"), None, resume=True)
