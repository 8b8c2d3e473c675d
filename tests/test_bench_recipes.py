"""The training benchmark's three recipes run end to end on the tiny model (2 steps each; nothing is timed).

bench/train_speed.py compares the studio's loop, the Hugging Face recipe at run_ner's defaults and a tuned Trainer;
these tests check that each recipe trains, scores dev at the asked steps, stops at a reached target, and returns
the figures the benchmark's JSON line is built from.
"""

from __future__ import annotations

import pytest

from core.data.corpus import Sentence

SENTS = [
    (["Angela", "Merkel", "besuchte", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    (["El", "Real", "Madrid", "ganó", "la", "Liga", "."], ["O", "B-ORG", "I-ORG", "O", "O", "B-MISC", "O"]),
    (["Barack", "Obama", "was", "born", "in", "Honolulu", "."], ["B-PER", "I-PER", "O", "O", "O", "B-LOC", "O"]),
    (["New", "York", "is", "a", "city", "."], ["B-LOC", "I-LOC", "O", "O", "O", "O"]),
]
KEYS = {"seconds_to_target", "steps_to_target", "steps", "train_clock_seconds", "dev_f1", "best_dev_f1", "curve",
        "sentences_per_s", "tokens_per_s", "padding_fraction", "bf16"}


def _data():
    train = [Sentence(tokens=list(t), ner_tags=list(g), lang="und") for t, g in SENTS * 4]
    dev = [Sentence(tokens=list(t), ner_tags=list(g), lang="und") for t, g in SENTS]
    return train, dev


@pytest.mark.parametrize("recipe", ["studio", "reference", "tuned_reference"])
def test_recipe_runs_two_steps_and_scores_each(tiny_model_dir, tmp_path, recipe):
    from bench.hf_recipe import hf_train_to_target
    from bench.train_speed import studio_to_target

    train, dev = _data()
    kw = {"target_f1": 2.0, "eval_steps": 1, "max_steps": 2}  # an F1 above 1 is never reached
    if recipe == "studio":
        row = studio_to_target({"model_name_or_path": tiny_model_dir, "per_device_train_batch_size": 4,
                                "device": "cpu"}, train, dev, 42, **kw)
    else:
        row = hf_train_to_target(train, dev, tiny_model_dir, tuned=recipe == "tuned_reference", batch_size=4,
                                 out_dir=str(tmp_path), **kw)
    assert KEYS <= set(row)
    assert row["steps"] == 2
    assert [c[0] for c in row["curve"]] == [1, 2]  # dev scored at every eval step, not more
    assert row["seconds_to_target"] is None and row["steps_to_target"] is None
    clocks = [c[1] for c in row["curve"]]
    assert 0 < clocks[0] <= clocks[1]
    assert 0 <= row["dev_f1"] <= 1 and row["sentences_per_s"] > 0
    assert 0 <= row["padding_fraction"] < 1


@pytest.mark.parametrize("recipe", ["studio", "tuned_reference"])
def test_recipe_stops_at_a_reached_target(tiny_model_dir, tmp_path, recipe):
    from bench.hf_recipe import hf_train_to_target
    from bench.train_speed import studio_to_target

    train, dev = _data()
    kw = {"target_f1": 0.0, "eval_steps": 1, "max_steps": 5}  # any F1 reaches 0: stop after the first score
    if recipe == "studio":
        row = studio_to_target({"model_name_or_path": tiny_model_dir, "per_device_train_batch_size": 4,
                                "device": "cpu"}, train, dev, 42, **kw)
    else:
        row = hf_train_to_target(train, dev, tiny_model_dir, tuned=True, batch_size=4, out_dir=str(tmp_path), **kw)
    assert row["steps_to_target"] == 1
    assert row["seconds_to_target"] == pytest.approx(row["curve"][0][1], abs=0.01)
    assert row["steps"] < 5


def test_tuned_trainer_freezes_word_embeddings_and_groups_the_head(tiny_model_dir, tmp_path, monkeypatch):
    """The tuned recipe hands the Trainer an AdamW whose head group runs at lr x multiplier, embeddings frozen."""
    import transformers

    from bench.hf_recipe import hf_train_to_target

    seen = {}
    real_init = transformers.Trainer.__init__

    def spy(self, *a, **kw):
        real_init(self, *a, **kw)
        seen["opt"], seen["model"], seen["args"] = kw["optimizers"][0], kw["model"], kw["args"]

    monkeypatch.setattr(transformers.Trainer, "__init__", spy)
    train, dev = _data()
    hf_train_to_target(train, dev, tiny_model_dir, tuned=True, target_f1=None, eval_steps=1, max_steps=1,
                       learning_rate=2e-4, classifier_lr_multiplier=5.0, batch_size=4, out_dir=str(tmp_path))
    assert not seen["model"].get_input_embeddings().weight.requires_grad
    head = {id(p) for n, p in seen["model"].named_parameters() if n.startswith("classifier")}
    lrs = [g.get("initial_lr", g["lr"]) for g in seen["opt"].param_groups if any(id(p) in head for p in g["params"])]
    others = [g.get("initial_lr", g["lr"]) for g in seen["opt"].param_groups
              if not any(id(p) in head for p in g["params"])]
    assert lrs and all(lr == pytest.approx(1e-3) for lr in lrs)
    assert others and all(lr == pytest.approx(2e-4) for lr in others)
    assert str(seen["args"].train_sampling_strategy) in ("group_by_length", "TrainSamplingStrategy.GROUP_BY_LENGTH")
