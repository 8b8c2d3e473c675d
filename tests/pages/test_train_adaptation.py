"""Train page, the three adaptation steps: the pre-trained folder picker, the Pre-train first form, the transfer
matrix button, and the live panel of a pre-training run (AppTest; launching is a stub, nothing trains)."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.kernel.constants import PERPLEXITY, PRETRAIN_ENTRYPOINT, TRAIN_LOSS, TRANSFER_ENTRYPOINT
from core.runs import jobs, registry
from core.runs.store import RUNNING, RunStore
from core.ui.presets import PRETRAINED
from tests.ui.test_adaptation_ui import pretrain_run, sentences
from tests.ui_seed import finished_run

ROOT = Path(__file__).resolve().parents[2]


def open_train() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def new_runs(store: RunStore, before: set[str]):
    return [r for r in store.list_runs() if r.run_id not in before]


def test_pretrained_folder_picker_lists_only_finished_pretraining_runs(store, launched):
    ds, _ = registry.create_from_sentences(store, "two", sentences(), source="upload")
    good = pretrain_run(store, "mlm-sw", steps=120, loss=2.5)
    pretrain_run(store, "still running", status=RUNNING)
    pretrain_run(store, "no meta", meta=False)
    finished_run(store, name="a fine-tune")  # FINISHED with a model folder, but no pre-training
    at = open_train()
    at.radio(key="train_adaptation").set_value(PRETRAINED).run()
    picker = ok(at).selectbox(key="train_pt_folder")
    assert picker.options == ["mlm-sw · 120 steps · masked-LM loss 2.500", "Other folder"]
    assert picker.value == good.run_id
    before = {r.run_id for r in store.list_runs()}
    at.button(key="train_launch").click().run()
    [run] = new_runs(store, before)
    ok(at)
    assert launched == [run.run_id]
    assert run.config["model_name_or_path"] == good.model_dir
    assert run.options["pretrained_from"] == good.run_id and "entrypoint" not in run.options
    assert run.data["dataset_id"] == ds.id


def test_pretrained_folder_other_folder_is_typed_and_checked(store, launched):
    registry.create_from_sentences(store, "two", sentences(), source="upload")
    at = open_train()
    at.radio(key="train_adaptation").set_value(PRETRAINED).run()
    assert any("No finished pre-training run yet" in c.value for c in ok(at).caption)
    assert at.selectbox(key="train_pt_folder").options == ["Other folder"]
    assert at.button(key="train_launch").disabled  # no folder typed yet
    folder = store.workspace / "my_pt"
    folder.mkdir(parents=True)
    at.text_input(key="train_pt_other").set_value(str(folder)).run()
    before = {r.run_id for r in store.list_runs()}
    at.button(key="train_launch").click().run()
    [run] = new_runs(store, before)
    assert run.config["model_name_or_path"] == os.path.realpath(folder) and "pretrained_from" not in run.options


def test_pretrain_form_launches_a_pretraining_run_on_the_dataset_text(store, launched):
    ds, _ = registry.create_from_sentences(store, "two", sentences(), source="upload")
    at = open_train()
    assert at.checkbox(key="pt_use_ds").value is True
    at.number_input(key="pt_steps").set_value(60)
    at.number_input(key="pt_lr").set_value(1e-4)
    at.text_input(key="pt_name").set_value("mlm")
    at.button(key="pt_launch").click().run()
    ok(at)
    [run] = store.list_runs()
    assert launched == [run.run_id]
    assert run.options["entrypoint"] == PRETRAIN_ENTRYPOINT and run.name == "mlm"
    assert run.data["corpus"] == registry.split_files(store, ds.id, "train") and run.data["text"] == []
    assert run.config["max_steps"] == 60 and run.config["learning_rate"] == pytest.approx(1e-4)
    assert at.selectbox(key="train_run").value == run.run_id  # the new run is shown
    # without the dataset's text and no upload there is nothing to pre-train on
    at.checkbox(key="pt_use_ds").uncheck().run()
    assert ok(at).button(key="pt_launch").disabled


def test_transfer_button_disabled_for_one_language(store, launched):
    registry.create_from_sentences(store, "one", sentences(("de",)), source="upload")
    at = open_train()
    assert at.button(key="xfer_launch").disabled
    assert any("a transfer matrix needs at least 2" in c.value for c in at.caption)


def test_transfer_button_launches_a_transfer_run_for_two_languages(store, launched):
    ds, _ = registry.create_from_sentences(store, "two", sentences(), source="upload")
    at = open_train()
    button = at.button(key="xfer_launch")
    assert not button.disabled and "2 fine-tunes" in button.label
    assert any("Evaluate page" in c.value for c in at.caption)
    button.click().run()
    ok(at)
    [run] = store.list_runs()
    assert launched == [run.run_id] and run.options["entrypoint"] == TRANSFER_ENTRYPOINT
    m = registry.read_manifest(store, ds.id)
    cli = jobs.transfer_data(m.prepared["train"], m.prepared["test"], m.prepared.get("dev", []), fmt="jsonl")
    assert {k: run.data[k] for k in cli} == cli


def test_live_panel_of_a_pretraining_run_shows_loss_and_perplexity(store):
    run = store.create_run({"model_name_or_path": "m"}, {"text": ["/t.txt"]}, name="mlm",
                           options={"entrypoint": PRETRAIN_ENTRYPOINT})
    store.set_status(run.run_id, RUNNING, pid=os.getpid(), heartbeat=time.time(), total_steps=100)
    for step, loss in ((1, 9.0), (10, 5.0), (20, 3.0)):
        store.log_metrics(run.run_id, step, {TRAIN_LOSS: loss, PERPLEXITY: math.exp(loss)})
    at = open_train()
    figs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    titles = [f["layout"]["title"]["text"] for f in figs]
    assert "Masked-LM loss" in titles and "Masked-LM perplexity" in titles
    assert not any("F1" in t for t in titles)
    ppl = figs[titles.index("Masked-LM perplexity")]
    assert ppl["layout"]["yaxis"]["type"] == "log"
    assert ppl["data"][0]["y"] == pytest.approx([math.exp(9.0), math.exp(5.0), math.exp(3.0)])
    assert [m.value for m in at.metric if m.label == "Perplexity"] == [f"{math.exp(3.0):,.1f}"]
