"""Writers round-trip exactly; the corpus CLI (inspect, convert, score) keeps its JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main as cli_main
from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import CorpusError
from core.data.loader import load_corpus
from core.data.writers import conll_text, write_corpus

ROOT = Path(__file__).resolve().parents[2]

SENTS = [
    Sentence(tokens=["#", "Angela", "Merkel", "visitó", "São\u00a0Paulo", "."],
             ner_tags=["O", "B-PER", "I-PER", "O", "B-LOC", "O"], lang="es", doc_id="d1"),
    Sentence(tokens=["co\u200bop", "Nations", "Unies", "Genève"], ner_tags=["O", "B-ORG", "I-ORG", "B-LOC"],
             lang="fr", doc_id="d1"),
    Sentence(tokens=["서", " ", "울"], ner_tags=["B-LOC", "I-LOC", "I-LOC"], lang="ko", doc_id="d2"),
    Sentence(tokens=["B", "C"], ner_tags=["B-creative-work", "B-creative-work"], lang="en", doc_id="d2"),
]


@pytest.mark.parametrize("scheme", ["IOB2", "IOB1", "IOBES", "BILOU", "BMES"])
def test_conll_round_trip_every_scheme(tmp_path, scheme):
    path = tmp_path / f"out.{scheme}.conll"
    write_corpus(SENTS, str(path), to="conll", scheme=scheme)
    back = load_corpus([str(path)], ReadOptions(scheme=scheme, detect_lang=False))
    assert not back.report.errors, back.report.errors
    assert [s.tokens for s in back] == [s.tokens for s in SENTS]
    assert [s.ner_tags for s in back] == [s.ner_tags for s in SENTS]


def test_jsonl_round_trip_keeps_language(tmp_path):
    path = tmp_path / "out.jsonl"
    write_corpus(SENTS, str(path), to="jsonl")
    back = load_corpus([str(path)], ReadOptions(detect_lang=False))
    assert [(s.tokens, s.ner_tags, s.lang) for s in back] == [(s.tokens, s.ner_tags, s.lang) for s in SENTS]
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert set(first) >= {"tokens", "ner_tags", "lang"}


def test_conll_writer_refuses_tab_in_token():
    bad = [Sentence(tokens=["a\tb"], ner_tags=["O"], source="x.jsonl", line_start=3)]
    with pytest.raises(CorpusError, match=r"\[E111\] x.jsonl:3: a token holds a TAB"):
        conll_text(bad)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_inspect_json_contract_and_exit_codes(tmp_path, capsys):
    good = _write(tmp_path, "good.conll", "Angela B-PER\nMerkel I-PER\nvisitó O\nMadrid I-LOC\n\nHola O\n\n")
    code = cli_main(["inspect", good, "--json", "--lang", "es"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert {"format", "scheme", "n_sentences", "n_tokens", "n_entities", "languages", "entity_types", "errors",
            "warnings"} <= set(out)
    assert (out["format"], out["scheme"], out["n_sentences"], out["n_tokens"], out["n_entities"]) == (
        "conll", "IOB2", 2, 5, 2)
    assert out["languages"] == {"es": 2} and out["entity_types"] == {"PER": 1, "LOC": 1}
    # the stray I-LOC start, repaired and counted; then PER and LOC have fewer than 10 training examples
    assert [w["code"] for w in out["warnings"]] == ["W102", "W105", "W105"]
    assert set(out["warnings"][0]) >= {"code", "file", "line", "message"}
    bad = _write(tmp_path, "bad.jsonl", '{"tokens": ["a"], "ner_tags": ["O"]}\n{not json\n')
    code = cli_main(["inspect", bad, "--json", "--lang", "en"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1 and out["n_sentences"] == 1
    assert out["errors"][0]["code"] == "E105" and out["errors"][0]["line"] == 2


def test_inspect_reads_a_folder(tmp_path, capsys):
    _write(tmp_path, "a.conll", "x B-PER\n\n")
    _write(tmp_path, "b.conll", "y B-LOC\n\n")
    assert cli_main(["inspect", str(tmp_path), "--json", "--lang", "en"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["n_sentences"] == 2 and out["entity_types"] == {"PER": 1, "LOC": 1}


def test_convert_then_score_perfect_and_na(tmp_path, capsys):
    src = _write(tmp_path, "gold.iobes", "Angela B-PER\nMerkel E-PER\nin O\nBerlin S-LOC\n\nja O\n\n")
    out = str(tmp_path / "gold.conll")
    assert cli_main(["convert", src, "--to", "conll", "-o", out, "--lang", "de"]) == 0
    assert Path(out).read_text(encoding="utf-8").startswith("Angela\tB-PER\nMerkel\tI-PER\n")
    capsys.readouterr()
    assert cli_main(["score", "--gold", out, "--pred", out, "--json", "--lang", "de"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["overall"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert set(res) >= {"overall", "per_language", "per_type", "confusion"}


def test_score_json_null_for_na_via_subprocess(tmp_path):
    gold = _write(tmp_path, "g.conll", "a B-PER\nb O\n\n")
    pred = _write(tmp_path, "p.conll", "a O\nb O\n\n")
    proc = subprocess.run([sys.executable, "-m", "core", "score", "--gold", gold, "--pred", pred, "--json",
                           "--lang", "en"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["overall"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    empty = _write(tmp_path, "e.conll", "a O\n\n")
    proc = subprocess.run([sys.executable, "-m", "core", "score", "--gold", empty, "--pred", empty, "--json",
                           "--lang", "en"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["overall"]["f1"] is None and "null" in proc.stdout


def test_score_mismatched_sentences_is_a_coded_error(tmp_path, capsys):
    gold = _write(tmp_path, "g.conll", "a B-PER\nb O\n\n")
    pred = _write(tmp_path, "p.conll", "a O\nc O\n\n")
    assert cli_main(["score", "--gold", gold, "--pred", pred, "--lang", "en"]) == 1
    assert "[E107]" in capsys.readouterr().err


def test_missing_file_is_a_coded_error_not_a_crash(tmp_path, capsys):
    assert cli_main(["inspect", str(tmp_path / "nope.conll")]) == 1
    assert "[E101]" in capsys.readouterr().err


def test_console_command_works_from_another_folder(tmp_path):
    """`ner-studio` (pyproject [project.scripts]) is on the venv's PATH and needs no repository cwd."""
    exe = Path(sys.executable).with_name("ner-studio")
    if not exe.exists():
        pytest.skip(f"{exe} is missing: the project is not installed in this interpreter (scripts/install.sh)")
    corpus = tmp_path / "data" / "train.conll"
    corpus.parent.mkdir()
    corpus.write_text("Angela B-PER\nMerkel I-PER\nvisitó O\nParís B-LOC\n\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = subprocess.run([str(exe), "inspect", str(corpus), "--lang", "es", "--json"], cwd=elsewhere,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert (out["n_sentences"], out["n_entities"], out["languages"]) == (1, 2, {"es": 1})
