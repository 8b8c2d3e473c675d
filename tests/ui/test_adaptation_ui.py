"""The Train page's adaptation logic in core: run kinds, the pre-trained folder picker, starting pre-training and
transfer runs with the CLI's data, the transfer check, and the live panel's figures by kind (no Streamlit)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.data.corpus import Sentence
from core.kernel.constants import PERPLEXITY, PRETRAIN_ENTRYPOINT, TRAIN_LOSS, TRANSFER_ENTRYPOINT
from core.kernel.errors import ConfigError
from core.runs import jobs, registry
from core.runs.live import refresh
from core.runs.store import FINISHED, RUNNING, RunStore
from core.ui import adaptation as adapt
from core.ui.presets import ADAPTATION_HELP
from core.ui.runinfo import pretrained_folders, run_kind, run_row, usable_model


def pretrain_run(store: RunStore, name: str = "pt", status: str = FINISHED, meta: bool = True, steps: int = 120,
                 loss: float = 2.5):
    """A pre-training run in ``status`` whose model folder holds ner_studio_pretrain.json when ``meta``."""
    run = store.create_run({"model_name_or_path": "m"}, {"text": []}, name=name,
                           options={"entrypoint": PRETRAIN_ENTRYPOINT})
    folder = store.run_dir(run.run_id) / "model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    if meta:
        (folder / "ner_studio_pretrain.json").write_text(json.dumps(
            {"base_model": "multilingual-e5-small", "steps": steps, "loss_first": 9.0, "loss_last": loss}),
            encoding="utf-8")
    store.set_status(run.run_id, RUNNING)
    if status != RUNNING:
        store.set_status(run.run_id, status, model_dir=str(folder), summary={"kind": "pretrain", "steps": steps})
    return store.get_run(run.run_id)


def sentences(langs_train=("de", "sw"), n_test=2) -> list[Sentence]:
    out = []
    for lang in langs_train:
        for i in range(3):
            out.append(Sentence(tokens=[f"Anna{i}", "lebt", "hier"], ner_tags=["B-PER", "O", "O"], lang=lang,
                                split="train"))
    for i in range(n_test):
        out.append(Sentence(tokens=[f"Bob{i}", "runs"], ner_tags=["B-PER", "O"], lang=langs_train[0], split="test"))
    return out


# ------------------------------------------------------------------------------------------------ kinds and picker


def test_run_kind_and_the_runs_table_column(store):
    train = store.create_run({"model_name_or_path": "m"}, {})
    pt = store.create_run({"model_name_or_path": "m"}, {}, options={"entrypoint": PRETRAIN_ENTRYPOINT})
    xf = store.create_run({"model_name_or_path": "m"}, {}, options={"entrypoint": TRANSFER_ENTRYPOINT})
    assert [run_kind(r) for r in (train, pt, xf)] == ["train", "pretrain", "transfer"]
    assert [run_row(r)["kind"] for r in (train, pt, xf)] == ["train", "pretrain", "transfer"]


def test_pretrained_folders_lists_only_finished_pretraining_runs(store):
    good = pretrain_run(store, "good", steps=120, loss=2.5)
    pretrain_run(store, "running", status=RUNNING)
    pretrain_run(store, "failed", status="FAILED")
    pretrain_run(store, "no meta", meta=False)  # a finished run's folder without ner_studio_pretrain.json
    folders = pretrained_folders(store.list_runs())
    assert [f.run_id for f in folders] == [good.run_id]
    [f] = folders
    assert f.model_dir == good.model_dir and f.steps == 120 and f.loss_last == 2.5
    assert f.label == "good · 120 steps · masked-LM loss 2.500"
    assert adapt.finetune_options("standard", f) == {"preset": "standard", "pretrained_from": good.run_id}
    assert adapt.finetune_options("standard") == {"preset": "standard"}
    assert usable_model(good, store.run_dir(good.run_id)) is None  # a masked-LM folder is no tagger (Playground)


# ------------------------------------------------------------------------------------------------ starting runs


def test_start_run_records_the_entrypoint_and_launches(store, launched):
    run = jobs.start_run(store, {"model_name_or_path": "m"}, {"x": 1}, entrypoint=PRETRAIN_ENTRYPOINT, name="n",
                         options={"preset": "p"})
    assert launched == [run.run_id]
    assert run.options == {"preset": "p", "entrypoint": PRETRAIN_ENTRYPOINT} and run.name == "n"
    assert run.data == {"x": 1}
    plain = jobs.start_run(store, {"model_name_or_path": "m"}, {})
    assert "entrypoint" not in plain.options


def test_start_pretrain_uses_the_dataset_text_and_safe_upload_names(store, launched):
    ds, _ = registry.create_from_sentences(store, "two", sentences(), source="upload")
    run = adapt.start_pretrain(store, model="multilingual-e5-small", max_steps=40, learning_rate=1e-4, dataset=ds,
                               uploads=[("../../evil name.txt", "eins zwei\n".encode()), (".hidden.txt", b"a b\n")])
    assert launched == [run.run_id]
    assert run.options["entrypoint"] == PRETRAIN_ENTRYPOINT
    assert run.config["max_steps"] == 40 and run.config["learning_rate"] == pytest.approx(1e-4)
    assert run.data["corpus"] == registry.split_files(store, ds.id, "train") and run.data["corpus"]
    texts = [Path(p) for p in run.data["text"]]
    assert [p.name for p in texts] == ["evil name.txt", "hidden.txt"]
    assert all(p.parent.parent == store.workspace / registry.TEXTS_DIR for p in texts)
    assert texts[0].read_text(encoding="utf-8") == "eins zwei\n"
    assert run.data["output_dir"] is None and run.data["dataset_id"] == ds.id


def test_start_pretrain_needs_some_text(store, launched):
    with pytest.raises(ConfigError, match="E202"):
        adapt.start_pretrain(store, model="m")
    assert launched == [] and store.list_runs() == []


def test_transfer_check_needs_two_training_languages_and_test_sentences(store):
    one, _ = registry.create_from_sentences(store, "one", sentences(("de",)), source="upload")
    c = adapt.transfer_check(store, one)
    assert not c.ok and "1 language(s) (de)" in c.reason and "at least 2" in c.reason
    no_test, _ = registry.create_from_sentences(store, "no test", sentences(n_test=0), source="upload")
    c = adapt.transfer_check(store, no_test)
    assert not c.ok and "no test sentences" in c.reason
    two, _ = registry.create_from_sentences(store, "two", sentences(), source="upload")
    c = adapt.transfer_check(store, two)
    assert c.ok and c.languages == {"de": 3, "sw": 3} and c.n_test == 2


def test_start_transfer_records_what_the_cli_records(store, launched):
    from core.kernel.config import TrainConfig

    ds, _ = registry.create_from_sentences(store, "two", sentences(), source="upload")
    run = adapt.start_transfer(store, ds, TrainConfig.from_dict({"max_steps": 5}), name="x")
    assert launched == [run.run_id] and run.options["entrypoint"] == TRANSFER_ENTRYPOINT
    m = registry.read_manifest(store, ds.id)
    cli = jobs.transfer_data(m.prepared["train"], m.prepared["test"], m.prepared.get("dev", []), fmt="jsonl")
    assert {k: run.data[k] for k in cli} == cli
    assert set(cli) == {"train", "dev", "test", "lang", "format", "langs"}
    assert run.data["dataset_name"] == "two" and run.config["max_steps"] == 5
    one, _ = registry.create_from_sentences(store, "one", sentences(("de",)), source="upload")
    with pytest.raises(ConfigError, match="E202"):
        adapt.start_transfer(store, one, TrainConfig())


def test_split_languages_of_a_dataset_prepared_before_they_were_recorded(store):
    ds, _ = registry.create_from_sentences(store, "two", sentences(), source="upload")
    m = registry.read_manifest(store, ds.id)
    del m.summary["split_languages"]
    registry.write_manifest(store, ds.id, m)
    assert registry.split_languages(store, ds.id, "train") == {"de": 3, "sw": 3}
    assert registry.split_languages(store, ds.id, "dev") == {}


# ------------------------------------------------------------------------------------------------ live panel


def test_live_figures_of_a_pretraining_run_show_loss_and_log_perplexity(store):
    run = store.create_run({"model_name_or_path": "m"}, {}, options={"entrypoint": PRETRAIN_ENTRYPOINT})
    for step, loss in ((1, 9.0), (10, 6.0), (20, 4.0)):
        store.log_metrics(run.run_id, step, {TRAIN_LOSS: loss, PERPLEXITY: math.exp(loss)})
    series = refresh(None, run.run_id, 0, lambda after: store.metrics_since(run.run_id, after))
    figs = adapt.live_figures(series, "pretrain")
    titles = [f.layout.title.text for f in figs]
    assert titles[:2] == ["Masked-LM loss", "Masked-LM perplexity"]
    assert "F1" not in " ".join(titles)
    assert figs[1].layout.yaxis.type == "log" and list(figs[1].data[0].y) == pytest.approx(
        [math.exp(9.0), math.exp(6.0), math.exp(4.0)])
    label, value = adapt.headline(store.get_run(run.run_id), series, "pretrain")
    assert label == "Perplexity" and value == pytest.approx(math.exp(4.0))
    train_titles = [f.layout.title.text for f in adapt.live_figures(series, "train")]
    assert train_titles[:2] == ["Loss", "Dev entity F1 (strict)"]


def test_perplexity_falls_back_to_exp_of_the_loss(store):
    run = store.create_run({"model_name_or_path": "m"}, {})
    store.log_metrics(run.run_id, 5, {TRAIN_LOSS: 2.0})
    series = refresh(None, run.run_id, 0, lambda after: store.metrics_since(run.run_id, after))
    assert adapt.perplexity_points(series) == [(5, pytest.approx(math.exp(2.0)))]


def test_adaptation_help_quotes_only_the_measured_figures():
    text = " ".join(ADAPTATION_HELP.values())
    assert "0.428" in text and "0.411" in text and "0.404" in text
    assert list(ADAPTATION_HELP) == ["Shared fine-tune", "Per-language adapters", "From a pre-trained folder"]
