"""AppTest of the Data page's Languages panel: counts per language and source, decisions that persist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.runs import registry

ROOT = Path(__file__).resolve().parents[2]
XSS = "<script>alert(1)</script>"

# three lines without language evidence (names): und; two sentences whose file states Swahili in ISO 639-3
NAMES = "Anna B-PER\nBerg I-PER\n\nBart B-PER\n\nOslo B-LOC\n" + XSS + " O\n\n"
SWAHILI = "".join(json.dumps({"tokens": t.split(), "ner_tags": ["O"] * len(t.split()), "lang": "swa"}) + "\n"
                  for t in ["Rais alisema kwamba serikali itaendelea", "Watoto wengi walikwenda shuleni jana"])


@pytest.fixture
def dataset(store, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "names.conll").write_text(NAMES, encoding="utf-8")
    (d / "sw.jsonl").write_text(SWAHILI, encoding="utf-8")
    ds, _ = registry.create(store, "mixed", files=[str(d / "names.conll"), str(d / "sw.jsonl")])
    return ds, d


def open_data() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def panel(at: AppTest):
    for el in at.dataframe:
        df = el.value
        if {"language", "given", "und", "detected"} <= set(df.columns):
            return df.set_index("language")
    raise AssertionError("no Languages panel")


def stats(at: AppTest):
    for el in at.dataframe:
        df = el.value
        if {"language", "entities"} <= set(df.columns):
            return df.set_index("language")["sentences"].to_dict()
    raise AssertionError("no statistics table")


def test_panel_shows_counts_sources_names_and_escaped_samples(dataset):
    at = open_data()
    p = panel(at)
    assert p.loc["sw · Swahili", "sentences"] == 2 and p.loc["sw · Swahili", "given"] == 2  # swa -> sw, named
    assert p.loc["und · undetermined", "und"] == 3 and p.loc["und · undetermined", "given"] == 0
    html = "\n".join(el.proto.body for el in at.get("html"))
    assert "Watoto" in html or "Rais" in html  # sample sentences shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS not in html


def test_merge_persists_after_reload_and_reaches_the_prepared_files(store, dataset):
    ds, _ = dataset
    at = open_data()
    at.radio(key="data_lang_action").set_value("Rename or merge a language").run()
    at.selectbox(key="data_lang_from").select("und").run()
    at.selectbox(key="data_lang_to").select("sw").run()
    at.button(key="data_lang_rename").click().run()
    assert not at.exception, [e.value for e in at.exception]
    again = open_data()  # a new session reads the saved decision
    p = panel(again)
    assert p.loc["sw · Swahili", "sentences"] == 5 and p.loc["sw · Swahili", "given"] == 5
    assert "und · undetermined" not in p.index
    m = registry.read_manifest(store, ds.id)
    assert m.lang_overrides == [{"scope": "language", "from": "und", "lang": "sw"}]
    langs = [json.loads(line)["lang"] for f in m.prepared["train"] for line in open(f, encoding="utf-8")]
    assert langs == ["sw"] * 5
    # undo restores the detector's answer
    again.button(key="data_lang_undo").click().run()
    assert panel(again).loc["und · undetermined", "und"] == 3


def test_language_for_a_file_changes_the_per_language_counts(dataset):
    at = open_data()
    assert stats(at) == {"und": 3, "sw": 2}
    at.radio(key="data_lang_action").set_value("Set the language of a file").run()
    at.selectbox(key="data_lang_file").select(str(dataset[1] / "names.conll")).run()
    at.selectbox(key="data_lang_file_to").select("nl").run()
    at.button(key="data_lang_set_file").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert stats(at) == {"nl": 3, "sw": 2}
    assert panel(at).loc["nl · Dutch", "given"] == 3


def test_resolving_selected_und_sentences(dataset):
    at = open_data()
    at.radio(key="data_lang_action").set_value("Set the language of sentences").run()
    assert at.selectbox(key="data_lang_pick_from").value == "und"  # und sentences offered first
    first = (str(dataset[1] / "names.conll"), 1)  # sentences are named by (file, first line)
    at.multiselect(key="data_lang_pick").select(first).run()
    at.selectbox(key="data_lang_pick_to").select("de").run()
    at.button(key="data_lang_set_sents").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert stats(at) == {"und": 2, "sw": 2, "de": 1}

