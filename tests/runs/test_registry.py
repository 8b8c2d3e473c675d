"""Tests of core.runs.registry: saving uploads and server paths, options, splits, prepared files, the demo corpus,
datasets from corrected sentences, and a run's data dict."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.runs import registry
from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import CorpusError, RunError
from core.data.loader import load_corpus
from core.runs.store import RunStore
from tests.ui_seed import CONLL_DEV, CONLL_TRAIN, conll_files


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "ws")


def test_upload_is_saved_guessed_split_and_prepared(store):
    ds, loaded = registry.create(store, "up", uploads=[("../../evil/train.conll", CONLL_TRAIN.encode()),
                                                       ("es_dev.conll", CONLL_DEV.encode())],
                                 options={"format": "auto", "lang": "en", "scheme": "auto"})
    m = registry.read_manifest(store, ds.id)
    raw = store.dataset_dir(ds.id) / "raw"
    assert sorted(Path(p).name for p in m.files) == ["es_dev.conll", "train.conll"]
    assert all(Path(p).parent == raw for p in m.files)  # folders in uploaded names are dropped
    assert m.options == {"format": None, "lang": "en", "scheme": None}
    assert sorted(m.file_splits.values()) == ["dev", "train"]
    assert m.summary["splits"] == {"train": 3, "dev": 1} and m.summary["n_errors"] == 0
    assert m.summary["avg_tokens"] == pytest.approx((5 + 5 + 5) / 3)
    data = registry.run_data(store, ds)
    assert data["format"] == "jsonl" and data["test"] == [] and data["dataset_id"] == ds.id
    train = load_corpus(data["train"], ReadOptions(format="jsonl", split="train"))
    assert [s.tokens for s in train.sentences] == [s.tokens for s in loaded.corpus.sentences if s.split == "train"]
    assert {s.lang for s in train.sentences} == {"en"}
    assert store.get_dataset(ds.id).meta["source"] == "upload"


def test_server_paths_are_referenced_and_splits_overridden(store, tmp_path, monkeypatch):
    monkeypatch.setenv("NER_STUDIO_DATA_ROOTS", str(tmp_path / "src"))
    files = conll_files(tmp_path / "src")
    ds, _ = registry.create(store, "paths", files=files, options={"lang": "en"},
                            file_splits={files[1]: "test"}, source="path")
    m = registry.read_manifest(store, ds.id)
    assert m.files == files and m.file_splits == {files[0]: "train", files[1]: "test"}
    assert set(m.prepared) == {"train", "test"}


def test_prepare_with_random_split_rewrites_prepared_files(store, tmp_path):
    ds, _ = registry.create(store, "r", files=conll_files(tmp_path / "src"), options={"lang": "en"})
    m = registry.read_manifest(store, ds.id)
    m.split_mode, m.random = "random", {"seed": 1, "dev": 0.0, "test": 0.0}
    loaded = registry.prepare(store, ds.id, m)
    assert {s.split for s in loaded.corpus.sentences} == {"train"}
    m2 = registry.read_manifest(store, ds.id)
    assert m2.split_mode == "random" and set(m2.prepared) == {"train"}
    assert not (store.dataset_dir(ds.id) / "prepared" / "dev.jsonl").exists()


def test_unreadable_upload_leaves_no_dataset(store):
    with pytest.raises(CorpusError):
        registry.create(store, "empty", uploads=[("a.conll", b"")])
    assert store.list_datasets() == []
    with pytest.raises(ValueError, match="at least one file"):
        registry.create(store, "none")


def test_report_sections(store, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"tokens": ["Ann"], "ner_tags": ["B-PER"]}\nnot json\n', encoding="utf-8")
    _, loaded = registry.create(store, "bad", files=[str(bad)], options={"lang": "en"})
    sec = registry.report_sections(loaded)
    assert [(e["code"], e["where"]) for e in sec["errors"]] == [("E105", "bad.jsonl:2")]
    assert sec["errors"][0]["fix"]
    assert any(w["code"] == "W105" for w in sec["warnings"])  # PER has 1 example
    assert "No reading errors" not in sec["good"] and "Every tag is a valid tag" in sec["good"]


def test_demo_corpus_is_registered_once(store):
    if not all((registry.DEMO_DIR / f).exists() for f in registry.DEMO_FILES):
        pytest.skip("assets/demo not written yet")
    ds = registry.ensure_demo(store)
    assert ds.id == "demo" and registry.ensure_demo(store).id == "demo" and len(store.list_datasets()) == 1
    m = registry.read_manifest(store, "demo")
    assert m.summary["n_errors"] == 0 and len(m.summary["languages"]) >= 6
    assert set(m.prepared) == {"train", "dev", "test"}


def test_create_from_sentences_and_run_review(store, tmp_path):
    sents = [Sentence(["Ann"], ["B-PER"], lang="en", split="dev"), Sentence(["Rom"], ["B-LOC"], lang="de")]
    ds, loaded = registry.create_from_sentences(store, "fixed", sents)
    assert {(s.tokens[0], s.split, s.lang) for s in loaded.corpus.sentences} == {("Ann", "dev", "en"),
                                                                                   ("Rom", "train", "de")}
    files = conll_files(tmp_path / "src")
    run_data = {"train": [files[0]], "dev": [files[1]], "test": [], "format": "conll", "lang": "en"}
    corrected = [Sentence(["Ana", "visited", "Berlin", "."], ["B-PER", "O", "B-ORG", "O"], lang="en")]
    ds2, loaded2 = registry.create_from_run_review(store, "next", run_data, "dev", corrected)
    by_split = {sp: [s for s in loaded2.corpus.sentences if s.split == sp] for sp in ("train", "dev")}
    assert len(by_split["train"]) == 3 and by_split["dev"][0].ner_tags == ["B-PER", "O", "B-ORG", "O"]


def test_run_data_requires_a_train_split(store, tmp_path):
    files = conll_files(tmp_path / "src")
    ds, _ = registry.create(store, "dev only", files=files[1:], file_splits={files[1]: "dev"}, options={"lang": "en"})
    with pytest.raises(RunError, match="E309"):
        registry.run_data(store, ds)
