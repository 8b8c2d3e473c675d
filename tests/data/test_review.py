"""Tests of core.data.review: span edits, the append-only log (latest wins, survives a new object), applying it."""

from __future__ import annotations

import json

import pytest

from core.data.corpus import Sentence
from core.data.review import (ReviewLog, apply_corrections, count_by_action, edit_span, review_path, source_id_for_dataset,
                         source_id_for_run, tokens_sha1)

TAGS = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]


@pytest.mark.parametrize("start,end,label,expected", [
    (2, 3, "ORG", ["B-PER", "I-PER", "B-ORG", "B-LOC", "I-LOC", "O"]),        # new span in O
    (0, 1, "PER", ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"]),                # shrink: the overlapped entity goes
    (1, 4, "MISC", ["O", "B-MISC", "I-MISC", "I-MISC", "O", "O"]),            # spans two entities: both replaced
    (4, 5, "O", ["B-PER", "I-PER", "O", "O", "O", "O"]),                      # O deletes the whole touched entity
    (0, 6, "O", ["O"] * 6),
    (3, 5, "LOC", TAGS),                                                      # same span, same type: unchanged
])
def test_edit_span(start, end, label, expected):
    assert edit_span(TAGS, start, end, label) == expected


@pytest.mark.parametrize("start,end,label,match", [
    (2, 2, "PER", "not inside"), (-1, 2, "PER", "not inside"), (0, 7, "PER", "not inside"),
    (0, 1, "B-PER", "invalid entity type"), (0, 1, "", "invalid entity type"), (0, 1, "A B", "invalid entity type"),
])
def test_edit_span_rejects_bad_input(start, end, label, match):
    with pytest.raises(ValueError, match=match):
        edit_span(TAGS, start, end, label)


def test_edit_span_repairs_stray_inside_tags():
    assert edit_span(["I-PER", "I-PER", "O"], 2, 3, "LOC") == ["B-PER", "I-PER", "B-LOC"]


def test_log_latest_wins_and_survives_reload(tmp_path):
    path = review_path(tmp_path, source_id_for_run("r1", "dev"))
    assert path == tmp_path / "reviews" / "run-r1-dev.jsonl"
    toks = ["Ann", "lives", "in", "Rome"]
    log = ReviewLog(path)
    assert log.latest() == {}
    log.record(0, toks, ["B-PER", "O", "O", "B-LOC"], action="accept", reviewer="ana", when=1.0)
    log.record(1, ["x"], ["O"], action="keep", reviewer="bo", when=2.0)
    log.record(0, toks, ["B-PER", "O", "O", "B-ORG"], action="edit", reviewer="bo", note="3-3 -> ORG", when=3.0)
    again = ReviewLog(path)  # a reload or another process
    latest = again.latest()
    assert set(latest) == {0, 1}
    assert latest[0].tags == ("B-PER", "O", "O", "B-ORG") and latest[0].reviewer == "bo" and latest[0].time == 3.0
    assert len(again.history()) == 3  # append-only: the history is kept
    assert count_by_action(latest.values()) == {"accept": 0, "keep": 1, "edit": 1}
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["action"] == "accept" and json.loads(lines[0])["tokens_sha1"] == tokens_sha1(toks)


def test_log_reports_torn_lines(tmp_path):
    path = tmp_path / "r.jsonl"
    log = ReviewLog(path)
    log.record(0, ["a"], ["O"], action="keep", reviewer="x")
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"index": 1, "tok')
    assert len(log.history()) == 1 and log.skipped == [2]


@pytest.mark.parametrize("kwargs,match", [
    ({"action": "approve"}, "unknown review action"), ({"reviewer": "  "}, "reviewer name"),
    ({"tags": ["O"]}, "2 tokens"), ({"tags": ["I-PER", "O"]}, "not valid IOB2"), ({"index": -1}, ">= 0"),
])
def test_record_rejects_bad_input(tmp_path, kwargs, match):
    args = {"index": 0, "tokens": ["a", "b"], "tags": ["O", "O"], "action": "edit", "reviewer": "ana", **kwargs}
    with pytest.raises(ValueError, match=match):
        ReviewLog(tmp_path / "r.jsonl").record(args.pop("index"), args.pop("tokens"), args.pop("tags"), **args)
    assert not (tmp_path / "r.jsonl").exists()


def test_apply_corrections_skips_changed_sentences(tmp_path):
    sents = [Sentence(["Ann", "runs"], ["O", "O"], lang="en", split="dev"), Sentence(["Bo"], ["O"], lang="sv")]
    log = ReviewLog(tmp_path / "r.jsonl")
    log.record(0, ["Ann", "runs"], ["B-PER", "O"], action="edit", reviewer="a")
    log.record(1, ["Other"], ["B-LOC"], action="edit", reviewer="a")  # recorded on a different sentence
    out, mismatched = apply_corrections(sents, log.latest())
    assert out[0].ner_tags == ["B-PER", "O"] and out[0].lang == "en" and out[0].split == "dev"
    assert out[1].ner_tags == ["O"] and mismatched == [1]
    assert sents[0].ner_tags == ["O", "O"]  # inputs untouched


def test_source_ids_are_checked(tmp_path):
    assert source_id_for_dataset("demo") == "dataset-demo"
    with pytest.raises(ValueError, match="invalid review source id"):
        review_path(tmp_path, "../etc/passwd")
