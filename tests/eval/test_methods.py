"""Adaptation methods side by side: method detection, mean / sample std / Δ per language, warnings."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from core.eval.analysis import evaluate_records, load_predictions
from core.eval.methods import (ADAPTERS, ALL, PRETRAINED, SHARED, compare_methods, comparison_rows, figure_series,
                               is_pretrained_folder, language_f1, run_method, run_seed, scoring_split)
from core.kernel.constants import PRETRAIN_MARKER
from tests.ui_seed import write_predictions

DATA = {"dataset_id": "d1", "dataset_name": "wikiann-small", "train": ["/ds/train.jsonl"]}


def run(rid: str, seed: int | None = 42, data: dict | None = None, options: dict | None = None, **config):
    cfg = {"model_name_or_path": "multilingual-e5-small", "learning_rate": 1e-4, **config}
    if seed is not None:
        cfg["seed"] = seed
    return SimpleNamespace(run_id=rid, config=cfg, data=dict(DATA if data is None else data), options=options or {})


# ------------------------------------------------------------------------------------------------ method detection


def test_run_method_reads_adapters_pretrained_folder_and_option(tmp_path):
    pre = tmp_path / "pretrained"
    pre.mkdir()
    (pre / PRETRAIN_MARKER).write_text("{}", encoding="utf-8")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert run_method(run("a")) == SHARED
    assert run_method(run("b", adapters="shared")) == SHARED
    assert run_method(run("c", adapters="per_language")) == ADAPTERS
    assert run_method(run("d", model_name_or_path=str(pre))) == PRETRAINED
    assert run_method(run("e", model_name_or_path=str(plain))) == SHARED  # a folder without the marker
    assert run_method(run("f", options={"pretrained_from": "r-pre"})) == PRETRAINED
    # adapters on a pre-trained folder are still per-language adapters
    assert run_method(run("g", adapters="per_language", model_name_or_path=str(pre))) == ADAPTERS
    assert run_method(SimpleNamespace(run_id="h", config={}, data={}, options={})) == SHARED
    assert is_pretrained_folder(pre) and not is_pretrained_folder(plain) and not is_pretrained_folder(None)
    assert not is_pretrained_folder(tmp_path / "missing")


def test_run_seed_and_scoring_split():
    assert run_seed(run("a", seed=7)) == 7 and run_seed(run("b", seed=None)) is None
    assert scoring_split({"dev": "d.jsonl", "test": "t.jsonl"}) == "test"
    assert scoring_split({"dev": "d.jsonl"}) == "dev"
    assert scoring_split({}) is None


# ------------------------------------------------------------------------------------------------ grouping


def test_mean_sample_std_n_and_delta_by_hand():
    runs = [run("s1", seed=1), run("s2", seed=2), run("a1", seed=1, adapters="per_language"),
            run("p1", seed=1, options={"pretrained_from": "x"})]
    f1 = {"s1": {"en": 0.4, "sw": 0.2, ALL: 0.3}, "s2": {"en": 0.6, "sw": 0.4, ALL: 0.5},
          "a1": {"en": 0.7, "sw": None, ALL: 0.6}, "p1": {"yo": 0.9}}
    cmp = compare_methods(runs, f1, {r.run_id: "test" for r in runs})
    assert cmp.methods == [SHARED, ADAPTERS, PRETRAINED]
    assert cmp.languages == ["en", "sw", "yo", ALL]
    assert cmp.runs == {SHARED: ["s1", "s2"], ADAPTERS: ["a1"], PRETRAINED: ["p1"]}
    en = cmp.scores[("en", SHARED)]
    assert en.mean == pytest.approx(0.5) and en.n == 2 and en.seeds == [1, 2]
    assert en.std == pytest.approx(math.sqrt(0.02)) == pytest.approx(0.141421356)  # sample std: n - 1 = 1
    assert en.delta == pytest.approx(0.0)
    ad = cmp.scores[("en", ADAPTERS)]
    assert (ad.mean, ad.std, ad.n) == (pytest.approx(0.7), None, 1) and ad.delta == pytest.approx(0.2)
    assert ("sw", ADAPTERS) not in cmp.scores  # a None F1 counts for nothing
    assert cmp.scores[("sw", SHARED)].mean == pytest.approx(0.3)
    assert cmp.scores[("yo", PRETRAINED)].delta is None  # no shared fine-tune scored on yo
    assert ("yo", SHARED) not in cmp.scores
    assert cmp.scores[(ALL, ADAPTERS)].delta == pytest.approx(0.2)
    assert cmp.split_label == "test" and cmp.warnings == []


def test_std_over_three_seeds_is_the_sample_std():
    runs = [run(f"s{i}", seed=i) for i in range(3)]
    cmp = compare_methods(runs, {"s0": {"de": 0.5}, "s1": {"de": 0.6}, "s2": {"de": 0.7}})
    de = cmp.scores[("de", SHARED)]
    assert de.mean == pytest.approx(0.6) and de.std == pytest.approx(0.1)  # population std would be 0.0816


def test_no_shared_group_gives_no_delta():
    runs = [run("a1", adapters="per_language"), run("p1", options={"pretrained_from": "x"})]
    cmp = compare_methods(runs, {"a1": {"en": 0.5}, "p1": {"en": 0.6}})
    assert cmp.methods == [ADAPTERS, PRETRAINED]
    assert all(sc.delta is None for sc in cmp.scores.values())
    assert comparison_rows(cmp)[0]["Δ vs shared"] == "–"


def test_rows_and_figure_series():
    runs = [run("s1", seed=1), run("s2", seed=2), run("a1", seed=3, adapters="per_language")]
    cmp = compare_methods(runs, {"s1": {"en": 0.4, "es": 0.5}, "s2": {"en": 0.6}, "a1": {"en": 0.7}})
    rows = {(r["language"], r["method"]): r for r in comparison_rows(cmp)}
    assert rows[("en", SHARED)]["F1"] == "0.500 ± 0.141" and rows[("en", SHARED)]["n"] == 2
    assert rows[("en", SHARED)]["seeds"] == "1, 2" and rows[("en", SHARED)]["Δ vs shared"] == "+0.000"
    assert rows[("en", ADAPTERS)]["F1"] == "0.700" and rows[("en", ADAPTERS)]["Δ vs shared"] == "+0.200"
    assert rows[("es", ADAPTERS)] == {"language": "es", "method": ADAPTERS, "F1": "–", "mean": None, "std": None,
                                      "n": 0, "Δ vs shared": "–", "seeds": ""}
    assert rows[("es", SHARED)]["std"] is None and rows[("es", SHARED)]["mean"] == 0.5
    means, stds = figure_series(cmp)
    assert list(means) == [SHARED, ADAPTERS]
    assert means[SHARED] == {"en": pytest.approx(0.5), "es": 0.5} and means[ADAPTERS] == {"en": pytest.approx(0.7)}
    assert stds[SHARED]["en"] == pytest.approx(0.141421356) and stds[SHARED]["es"] is None


# ------------------------------------------------------------------------------------------------ warnings


def test_runs_on_different_data_are_warned_about():
    runs = [run("s1"), run("a1", adapters="per_language", data={"dataset_id": "d2", "dataset_name": "other"})]
    cmp = compare_methods(runs, {"s1": {"en": 0.5}, "a1": {"en": 0.6}})
    assert len(cmp.warnings) == 1
    assert "different data" in cmp.warnings[0] and "wikiann-small (s1)" in cmp.warnings[0]
    assert "other (a1)" in cmp.warnings[0]
    # runs without a dataset id are told apart by their files and limits
    a = run("x", data={"train": ["/t.conll"], "test": ["/e.conll"]})
    b = run("y", data={"train": ["/t.conll"], "test": ["/e.conll"], "max_train_sentences": 100})
    assert any("different data" in w for w in compare_methods([a, b], {}).warnings)
    c = run("z", seed=7, data={"train": ["/t.conll"], "test": ["/e.conll"]})
    assert compare_methods([a, c], {}).warnings == []


def test_mixed_splits_config_differences_and_repeated_seeds_are_warned_about():
    runs = [run("s1", seed=1), run("s2", seed=1, learning_rate=5e-5, device="cuda:0")]
    cmp = compare_methods(runs, {"s1": {"en": 0.5}, "s2": {"en": 0.6}}, {"s1": "test", "s2": "dev"})
    text = " | ".join(cmp.warnings)
    assert "dev: s2; test: s1" in text
    assert "differ in learning_rate, not only in their seed" in text and "device" not in text
    assert "share seed 1" in text
    assert cmp.split_label == "test (dev for runs without test predictions)"


def test_language_f1_of_rescored_predictions(tmp_path):
    records = load_predictions(str(write_predictions(tmp_path / "p.jsonl")))
    res = evaluate_records(records, "strict")
    f1 = language_f1(res)
    assert set(f1) == {"ar", "en", "es", ALL}
    assert f1["ar"] == 1.0 and f1[ALL] == pytest.approx(res["overall"]["f1"])
    assert language_f1({"per_language": {"sw": {"f1": None}}, "overall": {"f1": None}}) == {}
