"""AppTest of every page (app.py navigation + switch_page), on a temporary workspace seeded through the store.

No training happens here: runs, metrics and predictions are written with RunStore; launching is replaced by a
stub. Figures are checked through the plotly JSON each chart element carries (``proto.spec``).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.runs import registry
from core.ui.presets import PRESETS, QUICK
from core.data.review import ReviewLog, review_path, source_id_for_run
from core.runs.store import FINISHED, RunStore
from tests.ui_seed import XSS, conll_files, finished_run, log_steps, running_run

ROOT = Path(__file__).resolve().parents[2]
PAGE_FILES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
HEAVY = {"torch", "transformers", "sqlite3"}
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def figure(at: AppTest, title: str) -> dict:
    for fig in figures(at):
        t = fig["layout"].get("title", {})
        if title in (t.get("text", "") if isinstance(t, dict) else str(t)):
            return fig
    raise AssertionError(f"no figure titled {title!r}")


def frame(at: AppTest, *columns: str):
    """The first dataframe holding these columns (dataframes without selection carry no key)."""
    for el in at.dataframe:
        df = el.value
        if all(c in df.columns for c in columns):
            return df
    raise AssertionError(f"no dataframe with columns {columns}")


def html_text(at: AppTest) -> str:
    return "\n".join(el.proto.body for el in at.get("html"))


def button(at: AppTest, key: str):
    return at.button(key=key)


# ------------------------------------------------------------------------------------------------ import rules


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_pages_do_not_import_torch_transformers_or_sqlite(path):
    assert not (_imports(path) & HEAVY)


def test_running_every_page_loads_no_torch(tmp_path):
    """All pages run (with seeded runs and a dataset) in a fresh interpreter without importing torch."""
    ws = tmp_path / "ws"
    store = RunStore(ws)
    finished_run(store)
    registry.create(store, "seeded", files=conll_files(tmp_path / "data"), options={"lang": "en"})
    script = textwrap.dedent(f"""
        import sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=60).run()
        for page in ["data", "train", "runs", "evaluate", "review", "playground"]:
            at.switch_page(f"pages/{{page}}.py").run()
            assert not at.exception, (page, [e.value for e in at.exception])
        print(sorted(m for m in ("torch", "transformers") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "NER_STUDIO_WORKSPACE": str(ws), "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


# ------------------------------------------------------------------------------------------------ Home


def test_home_empty_state_device_and_quick_start(store, launched):
    older = running_run(store, name="older")  # the Train page was open on another run before
    store.set_status(older.run_id, FINISHED)
    at = open_page("train")
    assert at.selectbox(key="train_run").value == older.run_id
    at.switch_page("pages/home.py").run()
    assert at.title[0].value == "Multilingual NER Studio"
    assert any(m.label == "Device" and m.value for m in at.metric)
    assert at.selectbox(key="home_model").value == "multilingual-e5-small"
    at.selectbox(key="home_model").select("all-MiniLM-L6-v2")
    button(at, "quick_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = store.list_runs()[0]
    assert launched == [run.run_id]
    assert run.config["model_name_or_path"] == "all-MiniLM-L6-v2" and run.options["preset"] == "quick CPU demo"
    assert run.config["max_steps"] == 150
    assert run.data["dataset_id"] == "demo" and run.data["train"][0].endswith("prepared/train.jsonl")
    assert at.title[0].value == "Train"  # switched to the Train page, which shows the new run
    assert at.selectbox(key="train_run").value == run.run_id


def test_home_empty_state(store):
    at = open_page()
    assert any("No runs yet" in i.value for i in at.info)


def test_home_lists_recent_runs(store):
    run = finished_run(store, name="my-run")
    at = open_page()
    df = frame(at, "run", "status")
    assert list(df["run"]) == [run.run_id] and df["status"][0] == FINISHED and df["best dev F1"][0] == 0.6


# ------------------------------------------------------------------------------------------------ Data


def test_data_upload_validate_stats_preview_and_reload(store, tmp_path):
    at = open_page("data")
    assert any("No dataset yet" in i.value for i in at.info)
    files = conll_files(tmp_path / "up")
    at.file_uploader(key="data_upload").set_value(
        [(Path(f).name, Path(f).read_bytes(), "text/plain") for f in files]
        + [("bad.jsonl", b'{"tokens": ["a"], "ner_tags": ["O"]}\nnot json\n', "text/plain")])
    at.selectbox(key="data_lang").select("en")
    at.run()
    button(at, "data_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [ds] = store.list_datasets()
    manifest = registry.read_manifest(store, ds.id)
    assert sorted(Path(p).name for p in manifest.files) == ["bad.jsonl", "dev.conll", "train.conll"]
    assert all(Path(p).is_file() and str(store.workspace) in p for p in manifest.files)
    # validation report: the malformed JSON line is an error with its file:line, and good checks are listed
    errors = frame(at, "code", "where")
    assert "E105" in set(errors["code"]) and "bad.jsonl:2" in set(errors["where"])
    assert any("Every tag is a valid tag" in m.value for m in at.markdown)
    # statistics and figures: 3 PER, 2 LOC, 1 ORG in train + 1 PER, 1 LOC in dev, all English
    stats = frame(at, "language", "entities")
    assert stats.set_index("language").loc["en", "PER"] == 4
    counts = figure(at, "Entities per type and language")
    per_type = {tr["name"]: tr["y"] for tr in counts["data"]}
    assert per_type == {"LOC": [3], "ORG": [1], "PER": [4]}
    hist = figure(at, "Sentence length")
    assert sorted(hist["data"][0]["x"]) == [1, 4, 5, 5, 5]
    # preview: corpus text escaped
    html = html_text(at)
    assert ESCAPED in html and XSS not in html
    # reload (a new session) finds the dataset again
    again = open_page("data")
    assert again.selectbox(key="data_ds").value == ds.id
    assert frame(again, "language", "entities").set_index("language").loc["en", "sentences"] == 5


def test_data_server_path_with_forced_options(store, tmp_path):
    files = conll_files(tmp_path / "ws" / "imports" / "server")  # the default allowed root
    at = open_page("data")
    at.radio(key="data_source").set_value("Path on the server").run()
    at.text_area(key="data_paths").input("\n".join(files)).run()
    at.selectbox(key="data_format").select("conll")
    at.selectbox(key="data_scheme").select("IOB2")
    at.selectbox(key="data_lang").select("de")
    at.run()
    button(at, "data_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [ds] = store.list_datasets()
    m = registry.read_manifest(store, ds.id)
    assert m.files == files and m.source == "path"
    assert m.options == {"format": "conll", "scheme": "IOB2", "lang": "de", "offset_unit": None,  # auto
                         "special_as_o": False}
    assert list(frame(at, "language", "entities")["language"]) == ["de"]


def test_data_add_demo_corpus(store):
    at = open_page("data")
    button(at, "data_demo").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [d.id for d in store.list_datasets()] == [registry.DEMO_ID]
    assert at.selectbox(key="data_ds").value == registry.DEMO_ID
    assert len(frame(at, "language", "entities")) == 8
    button(at, "data_demo").click().run()  # a second click keeps the one dataset
    assert [d.id for d in store.list_datasets()] == [registry.DEMO_ID]


def test_data_split_by_file_and_random(store, tmp_path):
    ds, _ = registry.create(store, "two files", files=conll_files(tmp_path / "d"), options={"lang": "en"})
    at = open_page("data")
    splits = frame(at, "language", "train", "dev").set_index("language")
    assert (splits.loc["en", "train"], splits.loc["en", "dev"]) == (3, 1)
    dev_box = [s for s in at.selectbox if s.label == "dev.conll"][0]
    dev_box.select("test").run()
    button(at, "data_apply_split").click().run()
    assert not at.exception
    manifest = registry.read_manifest(store, ds.id)
    assert set(manifest.prepared) == {"train", "test"}
    at.radio(key=f"data_split_mode_{ds.id}").set_value("random (seeded, stratified by language)").run()
    button(at, "data_apply_split").click().run()
    assert not at.exception
    assert registry.read_manifest(store, ds.id).split_mode == "random"


# ------------------------------------------------------------------------------------------------ Train


def test_train_live_panel_reads_only_new_rows(store):
    run = running_run(store, total_steps=100)
    log_steps(store, run.run_id, range(5, 25, 5))
    at = open_page("train")
    assert at.selectbox(key="train_run").value == run.run_id
    loss = figure(at, "Loss")
    assert loss["data"][0]["x"] == [5, 10, 15, 20] and len(loss["data"]) == 2  # raw + smoothed
    f1 = figure(at, "Dev entity F1")
    assert {tr["name"] for tr in f1["data"]} == {"all languages", "en"} and f1["data"][0]["y"] == [0.1, 0.2]
    series = at.session_state[f"live_{run.run_id}"]
    first_id, reads = series.last_id, series.reads
    assert at.button(key="train_stop").disabled is False
    assert [(p.value, p.text) for p in at.get("progress")] == [(20, "step 20 of 100")]
    eta = [m for m in at.metric if m.label == "ETA"][0].value
    assert eta != "-"  # 1 step per second over the seeded rows: 80 steps left
    # the worker logs more steps: the next refresh draws them, reading only the new rows
    log_steps(store, run.run_id, range(25, 45, 5))
    at.run()
    assert figure(at, "Loss")["data"][0]["x"] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert figure(at, "Dev entity F1")["data"][0]["y"] == [0.1, 0.2, 0.3, 0.4]
    series = at.session_state[f"live_{run.run_id}"]
    assert series.last_id > first_id and series.reads == reads + 1
    # the run ends: the panel shows the final state and Stop is disabled
    store.set_status(run.run_id, FINISHED)
    at.run()
    assert not at.exception
    assert at.button(key="train_stop").disabled is True


def test_train_reattaches_to_the_active_run_in_a_new_tab(store):
    live = running_run(store, name="live")
    time.sleep(0.01)
    finished_run(store, name="newer but finished")
    at = open_page("train")
    assert at.selectbox(key="train_run").value == live.run_id


def test_train_failed_run_shows_log_tail_and_resume(store):
    run = running_run(store)
    store.set_status(run.run_id, "FAILED", "[E303] out of memory at step 7\n--- last lines ---\nTraceback: boom")
    at = open_page("train")
    assert any("E303" in c.value for c in at.code)
    assert at.button(key="train_resume").disabled is False and at.button(key="train_stop").disabled is True


def test_train_stop_and_resume_buttons(store, launched):
    run = running_run(store)
    at = open_page("train")
    at.button(key="train_stop").click().run()
    assert not at.exception and store.get_run(run.run_id).stop_requested
    store.set_status(run.run_id, "STOPPED")
    at.run()
    at.button(key="train_resume").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert launched == [run.run_id] and store.get_run(run.run_id).status == "SCHEDULED"


def test_train_form_estimate_and_launch(store, tmp_path, launched):
    ds, _ = registry.create(store, "tiny", files=conll_files(tmp_path / "d"), options={"lang": "en"})
    at = open_page("train")
    assert any("No runs yet" in i.value for i in at.info)
    at.radio(key="train_preset").set_value("quick CPU demo").run()
    lr = at.number_input(key="cfg_quick CPU demo_learning_rate")
    assert lr.value == pytest.approx(PRESETS[QUICK]["learning_rate"]) and "learning rate" in lr.help.lower()
    assert any("Estimated duration" in c.value for c in at.caption)
    lr.set_value(1e-4).run()
    button(at, "train_launch").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [run] = store.list_runs()
    assert launched == [run.run_id]
    assert run.config["learning_rate"] == pytest.approx(1e-4) and run.config["max_steps"] == 150
    assert run.data["dataset_id"] == ds.id and run.data["format"] == "jsonl"
    assert at.selectbox(key="train_run").value == run.run_id


def test_train_launch_offers_the_good_sentences_of_a_dataset_with_errors(store, tmp_path, launched):
    # one bad line (E103, a lone column) inside the second sentence: that sentence is left out, the others train
    bad = tmp_path / "bad_train.conll"
    bad.write_text("Ann B-PER\nlives O\n\nBob B-PER\nstray\nruns O\n\nCid B-PER\nsings O\n", encoding="utf-8")
    registry.create(store, "bad", files=[str(bad)], options={"lang": "en"})
    at = open_page("train")
    launch = at.button(key="train_launch")
    assert launch.disabled is False and launch.label == "Train on the 2 good sentences"
    assert any("1 sentence(s)" in w.value for w in at.warning)
    launch.click().run()
    assert not at.exception, [e.value for e in at.exception]
    [run] = store.list_runs()
    left = run.data["left_out"]
    assert left["n_sentences"] == 1 and left["sentences"][0]["where"] == "bad_train.conll:4"
    assert left["sentences"][0]["error"] == "E103 line 5"
    [train] = run.data["train"]
    assert [json.loads(x)["tokens"] for x in open(train, encoding="utf-8")] == [["Ann", "lives"], ["Cid", "sings"]]


# ------------------------------------------------------------------------------------------------ Runs


def test_runs_table_compare_zip_and_delete(store):
    a = finished_run(store, name="a", f1_points=((10, 0.3), (20, 0.5)), lang_f1={"en": 0.4, "es": 0.6})
    b = finished_run(store, name="b", f1_points=((10, 0.6), (20, 0.7), (30, 0.8)), lang_f1={"en": 0.7, "es": 0.9})
    at = open_page("runs")
    table = frame(at, "run", "status")
    assert set(table["run"]) == {a.run_id, b.run_id} and set(table["languages"]) == {"ar, en, es"}
    curves = {tr["name"]: (tr["x"], tr["y"]) for tr in figure(at, "Dev entity F1 during training")["data"]}
    assert curves == {"a": ([10, 20], [0.3, 0.5]), "b": ([10, 20, 30], [0.6, 0.7, 0.8])}
    bars = {tr["name"]: dict(zip(tr["x"], tr["y"])) for tr in figure(at, "Final F1 per language")["data"]}
    assert bars == {"a": {"en": 0.4, "es": 0.6}, "b": {"en": 0.7, "es": 0.9}}
    assert at.get("download_button")
    at.selectbox(key="runs_delete_run").select(a.run_id).run()
    assert at.button(key="runs_delete").disabled is True  # needs the confirmation
    at.checkbox(key=f"runs_delete_sure_{a.run_id}").check().run()
    button(at, "runs_delete").click().run()
    assert not at.exception
    assert [r.run_id for r in store.list_runs()] == [b.run_id]


def test_runs_empty_state(store):
    at = open_page("runs")
    assert any("No runs yet" in i.value for i in at.info)


# ------------------------------------------------------------------------------------------------ Evaluate


def test_evaluate_scores_confusion_cell_and_error_kinds(store):
    run = finished_run(store)
    at = open_page("evaluate")
    assert at.selectbox(key="eval_run").value == run.run_id
    heat = figure(at, "f1 per language and type")["data"][0]
    assert heat["y"] == ["ar", "en", "es"] and heat["x"] == ["LOC", "MISC", "ORG", "PER"]
    z = dict(zip(heat["y"], heat["z"]))
    assert z["ar"][0] == 1.0 and z["en"][0] == 0.0  # en LOC: the only gold LOC predicted as ORG
    table = frame(at, "language", "type", "f1")
    en_per = table[(table["language"] == "en") & (table["type"] == "PER")].iloc[0]
    assert (en_per["precision"], en_per["recall"], en_per["support"]) == (1.0, 2 / 3, 3)
    # entity confusion of English: default cell is the top confusion; pick LOC -> ORG explicitly
    at.selectbox(key="eval_cm_lang").select("en").run()
    cm = figure(at, "entity-level confusion, en")
    assert cm["data"][0]["type"] == "heatmap" and cm["data"][1]["name"] == "cells"
    rows, cols, z = cm["data"][0]["y"], cm["data"][0]["x"], cm["data"][0]["z"]
    assert z[rows.index("LOC")][cols.index("ORG")] == 1 and z[rows.index("PER")][cols.index("MISSED")] == 1
    at.selectbox(key="eval_gold_en_entity").select("ORG").run()
    at.selectbox(key="eval_pred_en_entity").select("ORG").run()
    assert any("**1** sentence(s)" in m.value for m in at.markdown)  # the XSS sentence (wrong boundary, ORG)
    html = html_text(at)
    assert ESCAPED in html and XSS not in html and "err-boundary" in html
    # token level, normalized
    at.radio(key="eval_cm_level").set_value("token").run()
    at.toggle(key="eval_cm_norm").set_value(True).run()
    tok = figure(at, "token-level confusion, en")["data"][0]
    assert all(abs(sum(row) - 1.0) < 1e-9 for row in tok["z"] if sum(row))
    kinds = {tr["name"]: dict(zip(tr["x"], tr["y"])) for tr in figure(at, "Errors per language")["data"]}
    assert kinds["missed"]["en"] == 1 and kinds["spurious"]["es"] == 1 and kinds["wrong type"]["en"] == 1


def test_evaluate_names_the_mode_and_shows_token_accuracy(store):
    finished_run(store)
    at = open_page("evaluate")
    assert at.radio(key="eval_mode").value == "strict"
    assert any("strict (seqeval strict mode, IOB2)" in c.value for c in at.caption)
    # 24 tokens, 4 wrong (Paris, Corp, Bob, El): 20 / 24
    assert [m.value for m in at.metric if m.label == "Token accuracy"] == ["0.833"]
    at.radio(key="eval_mode").set_value("conlleval").run()
    assert not at.exception
    assert any("conlleval (conlleval.pl chunk rules, IOB2)" in c.value for c in at.caption)
    assert "O" in list(frame(at, "tag", "precision", "recall", "f1")["tag"])


def test_evaluate_empty_state(store):
    at = open_page("evaluate")
    assert any("No evaluated run yet" in i.value for i in at.info)


# ------------------------------------------------------------------------------------------------ Review


def test_review_accept_edit_persist_export_and_new_dataset(store):
    run = finished_run(store)
    at = open_page("review")
    html = html_text(at)
    assert ESCAPED in html and XSS not in html
    assert at.button(key="rv_accept_0").disabled is True  # no reviewer name yet
    at.text_input(key="review_name").input("ana").run()
    at.button(key="rv_accept_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    log = ReviewLog(review_path(store.workspace, source_id_for_run(run.run_id, "dev")))
    [c] = log.history()
    assert (c.index, c.action, c.reviewer, c.tags[3]) == (0, "accept", "ana", "B-ORG")
    # edit a span of sentence 2 ("Maria met Bob"): tokens 2..2 -> PER
    at.select_slider(key="rv_span_2").set_value((2, 2))
    at.selectbox(key="rv_label_2").select("LOC")
    at.run()
    at.button(key="rv_apply_2").click().run()
    assert not at.exception
    assert log.latest()[2].tags == ("B-PER", "O", "B-LOC")
    # a reload (new session) shows the saved decisions
    again = open_page("review")
    texts = [t.value for t in again.text]
    assert any(t.startswith("accept by ana") for t in texts) and any(t.startswith("edit by ana") for t in texts)
    # filters: disagreements only hides the correct sentences
    again.checkbox(key="review_disagree").check().run()
    shown = [t.value for t in again.text if t.value.startswith("#")]
    assert not any(t.startswith("#3 ") or t.startswith("#5 ") for t in shown)
    # export and save as a new dataset for the next run
    assert again.get("download_button")
    again.button(key="review_save_ds").click().run()
    assert not again.exception, [e.value for e in again.exception]
    [ds] = store.list_datasets()
    manifest = registry.read_manifest(store, ds.id)
    assert manifest.summary["splits"] == {"train": 3, "dev": 6} and manifest.source == "review"
    dev = [s for s in registry.load(manifest).corpus.sentences if s.split == "dev"]
    assert dev[0].ner_tags[3] == "B-ORG" and dev[2].ner_tags == ["B-PER", "O", "B-LOC"]  # the corrections


def test_review_dataset_source_escapes_text(store, tmp_path):
    registry.create(store, "tiny", files=conll_files(tmp_path / "d"), options={"lang": "en"})
    at = open_page("review")
    at.radio(key="review_kind").set_value("a dataset").run()
    assert not at.exception
    html = html_text(at)
    assert ESCAPED in html and XSS not in html


# ------------------------------------------------------------------------------------------------ Playground


class FakePredictor:
    """Stands in for core.model.predictor.Predictor: tags the first word as PER."""

    def __init__(self, model_dir: str, **_):
        self.model_dir = model_dir

    def predict_text(self, text: str, lang: str | None = None) -> dict:
        first = text.split()[0]
        return {"words": text.split(), "tags": [], "lang": lang or "und", "latency_ms": 12.5,
                "entities": [{"start": 0, "end": len(first), "label": "PER", "text": first, "score": 0.87}]}


def test_playground_examples_rtl_scores_and_side_by_side(store, monkeypatch):
    from core.model import predictor as inference

    monkeypatch.setattr(inference, "Predictor", FakePredictor)
    older = finished_run(store, name="older")
    time.sleep(0.01)
    newer = finished_run(store, name="newer")
    at = open_page("playground")
    assert at.selectbox(key="pg_run").value == newer.run_id  # the latest finished run by default
    at.selectbox(key="pg_example").select("العربية").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text_area(key="pg_text").value.startswith("التقى")
    html = html_text(at)
    assert 'dir="rtl"' in html and "0.87" in html and "PER" in html
    assert any(m.label == "Latency" and m.value == "12 ms" for m in at.metric)
    at.selectbox(key="pg_run2").select(older.run_id).run()
    assert len([h for h in at.get("html") if "<div class=\"ner-doc\"" in h.proto.body]) == 2
    at.text_area(key="pg_text").input(XSS + " text").run()
    html = html_text(at)
    assert "&lt;img" in html and "onerror=alert(1)&gt;" in html and "<img" not in html


def test_playground_empty_state(store):
    at = open_page("playground")
    assert any("No trained model yet" in i.value for i in at.info)


@pytest.mark.slow
def test_playground_with_a_real_tiny_model(store, tiny_model_dir):
    """The real core.model.predictor.Predictor behind the page (torch loads lazily, in the cached loader)."""
    run = finished_run(store, name="tiny")
    store.update_run(run.run_id, model_dir=tiny_model_dir)
    at = open_page("playground")
    at.text_area(key="pg_text").input("Angela Merkel besuchte Paris .").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.label == "Latency" for m in at.metric)
    assert "Angela" in html_text(at)
