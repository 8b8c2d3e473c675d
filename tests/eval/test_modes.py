"""Scoring modes: every scheme's rules under strict (seqeval with the scheme) and conlleval (the port), with
hand-computed oracles; agreement with seqeval; the issue's regressions through the API and the CLI."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from seqeval import scheme as seqeval_schemes
from seqeval.metrics import f1_score, precision_score, recall_score

from core.cli.main import main as cli_main
from core.eval.conlleval import chunks, end_of_chunk, start_of_chunk
from core.eval.metrics import DEFAULT_MODE, MODES, entity_sets, evaluate, mode_label
from core.kernel.errors import ConfigError, CorpusError

# One sentence per scheme with well-formed and ill-formed parts; entities as (type, start, end), end exclusive.
# Hand-derived from each scheme's rules (strict: an invalid token is no entity) and conlleval.pl's start/end rules.
CASES = {
    # strict: I-PER after O is invalid; B-LOC then I-ORG: LOC alone, I-ORG invalid. conlleval: every I- starts.
    "IOB2": (["I-PER", "I-PER", "O", "B-LOC", "I-ORG", "B-MISC", "I-MISC"],
             {("LOC", 3, 4), ("MISC", 5, 7)},
             {("PER", 0, 2), ("LOC", 3, 4), ("ORG", 4, 5), ("MISC", 5, 7)}),
    # IOB1: B- only right after an entity of the same type; the B-LOC after O is ill-formed (seqeval drops that
    # token, the I-LOC after it starts LOC); conlleval reads B-LOC I-LOC as one chunk.
    "IOB1": (["I-PER", "I-PER", "B-PER", "O", "B-LOC", "I-LOC"],
             {("PER", 0, 2), ("PER", 2, 3), ("LOC", 5, 6)},
             {("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 6)}),
    # IOBES: B-PER I-PER never closed; a lone E-ORG; I-MISC E-MISC without B-. conlleval closes at O and splits
    # E-ORG E-ORG into two chunks.
    "IOBES": (["B-PER", "I-PER", "O", "S-LOC", "S-LOC", "B-ORG", "E-ORG", "E-ORG", "I-MISC", "E-MISC"],
              {("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 5, 7)},
              {("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 5, 7), ("ORG", 7, 8), ("MISC", 8, 10)}),
    "BILOU": (["B-PER", "L-PER", "U-LOC", "B-ORG", "I-ORG", "O", "I-MISC", "L-MISC"],
              {("PER", 0, 2), ("LOC", 2, 3)},
              {("PER", 0, 2), ("LOC", 2, 3), ("ORG", 3, 5), ("MISC", 6, 8)}),
    "BMES": (["B-ORG", "M-ORG", "E-ORG", "S-PER", "M-LOC", "E-LOC"],
             {("ORG", 0, 3), ("PER", 3, 4)},
             {("ORG", 0, 3), ("PER", 3, 4), ("LOC", 4, 6)}),
    # IO: every run of one type is one entity, in both modes
    "IO": (["PER", "PER", "O", "I-LOC", "LOC", "ORG"],
           {("PER", 0, 2), ("LOC", 3, 5), ("ORG", 5, 6)},
           {("PER", 0, 2), ("LOC", 3, 5), ("ORG", 5, 6)}),
}
SEQEVAL = {"IOB2": "IOB2", "IOB1": "IOB1", "IOBES": "IOBES", "BILOU": "BILOU"}


@pytest.mark.parametrize("scheme", list(CASES))
def test_every_scheme_hand_oracle_both_modes(scheme):
    tags, strict, conll = CASES[scheme]
    assert entity_sets([tags], [scheme], "strict")[0] == strict
    assert entity_sets([tags], [scheme], "conlleval")[0] == conll
    assert set(chunks(tags)) == conll


@pytest.mark.parametrize("scheme", list(SEQEVAL))
def test_strict_agrees_with_seqeval_strict_with_the_scheme(scheme):
    gold_tags, _, _ = CASES[scheme]
    # the prediction: gold with the first entity-bearing token changed to O and the last tag's type changed
    pred_tags = ["O"] + gold_tags[1:-1] + [gold_tags[-1][:2] + "LOC"]
    cls = getattr(seqeval_schemes, SEQEVAL[scheme])
    gold, pred = [gold_tags, ["O"]], [pred_tags, ["O"]]
    res = evaluate(gold, pred, mode="strict", scheme=scheme)
    assert res["overall"]["f1"] == pytest.approx(f1_score(gold, pred, mode="strict", scheme=cls))
    assert res["overall"]["precision"] == pytest.approx(precision_score(gold, pred, mode="strict", scheme=cls))
    assert res["overall"]["recall"] == pytest.approx(recall_score(gold, pred, mode="strict", scheme=cls))


def test_conlleval_agrees_with_seqeval_default_on_iob_data():
    # seqeval's default mode is modelled on conlleval for IOB tags: the same numbers on the same inputs
    gold = [CASES["IOB2"][0], ["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "I-LOC", "I-ORG", "B-MISC", "O"], ["I-PER", "I-PER", "O", "I-LOC"]]
    res = evaluate(gold, pred, mode="conlleval", scheme="IOB2")
    assert res["overall"]["f1"] == pytest.approx(f1_score(gold, pred))
    # hand count: gold chunks PER LOC ORG MISC | PER LOC; pred PER LOC ORG MISC(5,6) | PER LOC -> tp 5 of 6 / 6
    assert res["overall"]["precision"] == pytest.approx(5 / 6) and res["overall"]["recall"] == pytest.approx(5 / 6)


def test_conlleval_rules_are_consistent():
    # a start inside an open chunk always ends it first (so chunk extraction equals the script's state machine)
    for prev in "BIESO":
        for tag in "BIESO":
            for same in (True, False):
                pt = "" if prev == "O" else "A"
                tt = "" if tag == "O" else ("A" if same else "B")
                if prev != "O" and start_of_chunk(prev, tag, pt, tt):
                    assert end_of_chunk(prev, tag, pt, tt), (prev, tag, same)


def test_conlleval_original_rules_verbatim():
    # conlleval.pl: I after O starts; B after I ends and starts; a type change ends and starts
    assert start_of_chunk("O", "I", "", "PER") and not start_of_chunk("I", "I", "PER", "PER")
    assert end_of_chunk("I", "B", "PER", "PER") and start_of_chunk("I", "B", "PER", "PER")
    assert end_of_chunk("B", "I", "PER", "LOC") and start_of_chunk("B", "I", "PER", "LOC")
    assert not end_of_chunk("B", "E", "PER", "PER") and end_of_chunk("E", "O", "PER", "")
    assert chunks(["B-creative-work", "I-creative-work"]) == [("creative-work", 0, 2)]


# ------------------------------------------------------------------------------------------------ regressions

def test_stray_i_start_strict_zero_conlleval_one_api():
    gold, pred = [["B-LOC", "I-LOC", "O"]], [["I-LOC", "I-LOC", "O"]]
    strict = evaluate(gold, pred, mode="strict", scheme="IOB2")
    assert strict["overall"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert strict["mode"] == "strict" and strict["scheme"] == "IOB2"
    assert evaluate(gold, pred, mode="conlleval")["overall"]["f1"] == 1.0


def test_iobes_unclosed_entity():
    gold, pred = [["B-PER", "E-PER", "O", "S-LOC"]], [["B-PER", "I-PER", "O", "S-LOC"]]
    res = evaluate(gold, pred, mode="strict", scheme="BIOES")
    assert (res["overall"]["precision"], res["overall"]["recall"]) == (1.0, 0.5)
    assert res["overall"]["f1"] == pytest.approx(2 / 3)
    assert res["scheme"] == "IOBES" and "IOBES" in res["mode_label"]
    assert evaluate(gold, pred, mode="conlleval", scheme="IOBES")["overall"]["f1"] == 1.0


def test_type_switch_has_a_strict_choice():
    gold, pred = [["B-PER", "B-LOC"]], [["B-PER", "I-LOC"]]
    strict = evaluate(gold, pred, mode="strict")["overall"]
    assert (strict["precision"], strict["recall"]) == (1.0, 0.5)  # I-LOC continues nothing: no entity
    assert evaluate(gold, pred, mode="conlleval")["overall"]["f1"] == 1.0  # two chunks, PER and LOC


@pytest.mark.parametrize("label", ["[SEP]", "[CLS]", "[PAD]", "<pad>", "X", "-100", ""])
def test_non_entity_label_is_a_coded_error_not_a_key_error(label):
    with pytest.raises(CorpusError, match=r"\[E104\] gold sentence 1, token 2: .* is no entity tag of IOB2"):
        evaluate([["B-PER", label]], [["B-PER", "O"]], mode="strict")
    with pytest.raises(CorpusError, match=r"\[E104\] predicted sentence 1, token 1"):
        evaluate([["O"]], [[label]], mode="conlleval")


def test_prefix_outside_the_scheme_is_refused():
    with pytest.raises(CorpusError, match=r"E-PER.*the prefix E- is not part of IOB2"):
        evaluate([["B-PER", "E-PER"]], [["O", "O"]], scheme="IOB2")


def test_unknown_mode_is_a_coded_error():
    with pytest.raises(ConfigError, match=r"\[E202\] unknown scoring mode 'lenient'"):
        evaluate([["O"]], [["O"]], mode="lenient")
    assert DEFAULT_MODE in MODES and mode_label("strict", "IOB2") == "strict (seqeval strict mode, IOB2)"


def test_predictions_in_another_scheme_than_gold():
    # IOBES gold, a model's IOB2 predictions: entities read in each side's scheme, tokens compared in IOBES
    gold, pred = [["B-PER", "E-PER", "S-LOC", "O"]], [["B-PER", "I-PER", "B-LOC", "B-ORG"]]
    res = evaluate(gold, pred, scheme="IOBES", pred_scheme="IOB2")
    assert res["overall"]["precision"] == pytest.approx(2 / 3) and res["overall"]["recall"] == 1.0
    # tokens: B-PER, E-PER, S-LOC right; O vs S-ORG wrong -> 3 / 4
    assert res["token"]["accuracy"] == pytest.approx(0.75)
    assert set(res["token"]["per_tag"]) == {"O", "B-PER", "E-PER", "S-LOC", "S-ORG"}


def test_token_accuracy_and_per_tag_f1_hand_counts():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "O"]]
    pred = [["B-PER", "O", "O", "B-ORG"], ["O", "B-LOC"]]
    tok = evaluate(gold, pred, ["es", "nl"])["token"]
    assert tok["n_tokens"] == 6 and tok["accuracy"] == pytest.approx(3 / 6)
    assert tok["per_language"] == {"es": pytest.approx(2 / 4), "nl": pytest.approx(1 / 2)}
    # O: gold 3 (s0 t2, s1 t0, s1 t1), predicted 3 (s0 t1, s0 t2, s1 t0), correct 2
    assert tok["per_tag"]["O"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert tok["per_tag"]["I-PER"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert tok["per_tag"]["B-PER"]["f1"] == 1.0


# ------------------------------------------------------------------------------------------------ CLI

def _write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def _score(capsys, *args) -> tuple[int, dict, str]:
    code = cli_main(["score", *args, "--json", "--lang", "en"])
    cap = capsys.readouterr()
    return code, json.loads(cap.out.strip().splitlines()[-1]), cap.err


def test_cli_scores_raw_tags_not_repaired(tmp_path, capsys):
    gold = _write(tmp_path, "g.conll", "Le B-LOC\nMans I-LOC\nwon O\n\n")
    pred = _write(tmp_path, "p.conll", "Le I-LOC\nMans I-LOC\nwon O\n\n")
    code, res, err = _score(capsys, "--gold", gold, "--pred", pred)
    assert code == 0 and res["mode"] == "strict" and res["scheme"] == "IOB2"
    assert res["overall"]["f1"] == 0.0  # same as the API, not 1.0 from repaired tags
    code, res, err = _score(capsys, "--gold", gold, "--pred", pred, "--mode", "conlleval")
    assert res["overall"]["f1"] == 1.0 and res["mode"] == "conlleval"
    assert res["token"]["accuracy"] == pytest.approx(2 / 3)


def test_cli_iobes_unclosed_and_table_names_the_mode(tmp_path, capsys):
    gold = _write(tmp_path, "g.iobes", "Angela B-PER\nMerkel E-PER\nin O\nBerlin S-LOC\n\n")
    pred = _write(tmp_path, "p.iobes", "Angela B-PER\nMerkel I-PER\nin O\nBerlin S-LOC\n\n")
    code, res, err = _score(capsys, "--gold", gold, "--pred", pred)
    assert res["scheme"] == "IOBES" and res["overall"]["f1"] == pytest.approx(2 / 3)
    assert cli_main(["score", "--gold", gold, "--pred", pred, "--lang", "en", "--mode", "conlleval"]) == 0
    table = capsys.readouterr().out
    assert "entity scores: conlleval (conlleval.pl chunk rules, IOBES)" in table
    assert "token accuracy 0.750 over 4 tokens" in table and "per tag (tokens)" in table


def test_cli_sep_label_is_an_error_with_file_and_line(tmp_path, capsys):
    # gold PER + LOC; the prediction finds PER only; [SEP] on both sides used to be a matched "entity" (0.8)
    gold = _write(tmp_path, "g.conll", "Ana B-PER\nen O\nLima B-LOC\n. [SEP]\n\n")
    pred = _write(tmp_path, "p.conll", "Ana B-PER\nen O\nLima O\n. [SEP]\n\n")
    code, res, err = _score(capsys, "--gold", gold, "--pred", pred)
    assert code == 1 and res["read_errors"] == {"gold": 1, "predictions": 1}
    assert "[E104]" in err and "g.conll:4" in err and "'[SEP]'" in err
    assert "[SEP]" not in res["per_type"] and res["overall"]["f1"] == pytest.approx(2 / 3)
    code, res, err = _score(capsys, "--gold", gold, "--pred", pred, "--special-as-o")
    assert code == 0 and "[W120]" in err and "E104" not in err
    assert res["overall"]["f1"] == pytest.approx(2 / 3)


def test_cli_nfc_and_nfd_tokens_are_the_same_words(tmp_path, capsys):
    words = ["Ọlọ́run", "Việt", "Nam", "ẹ"]
    nfc = [unicodedata.normalize("NFC", w) for w in words]
    nfd = [unicodedata.normalize("NFD", w) for w in words]
    assert nfc != nfd
    gold = _write(tmp_path, "g.conll", f"{nfc[0]} B-PER\n{nfc[1]} B-LOC\n{nfc[2]} I-LOC\n{nfc[3]} O\n\n")
    pred = _write(tmp_path, "p.conll", f"{nfd[0]} B-PER\n{nfd[1]} B-LOC\n{nfd[2]} O\n{nfd[3]} O\n\n")
    code, res, err = _score(capsys, "--gold", gold, "--pred", pred)
    assert code == 0 and res["normalised_tokens"] == 3  # "Nam" is ASCII: equal code points
    assert res["overall"]["precision"] == 0.5 and res["overall"]["recall"] == 0.5
    other = _write(tmp_path, "o.conll", f"{nfd[0]} B-PER\nHanoi B-LOC\n{nfd[2]} O\n{nfd[3]} O\n\n")
    assert cli_main(["score", "--gold", gold, "--pred", other, "--lang", "en"]) == 1
    err = capsys.readouterr().err
    assert "[E107]" in err and "token 2 is 'Hanoi'" in err and "NFC" in err and "o.conll:1" in err


# ------------------------------------------------------------------------------------------------ stored predictions

def test_stored_predictions_are_scored_on_the_gold_as_the_corpus_had_it(tmp_path):
    from core.eval.analysis import cell_sentences, error_kinds, evaluate_records, load_predictions

    rec = {"tokens": ["Le", "Mans", "won"], "ner_tags": ["B-LOC", "I-LOC", "O"], "gold_tags": ["I-LOC", "I-LOC", "O"],
           "scheme": "IOB2", "pred_tags": ["B-LOC", "I-LOC", "O"], "lang": "fr"}
    path = tmp_path / "predictions_dev.jsonl"
    path.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    records = load_predictions(str(path))
    strict = evaluate_records(records, "strict")
    assert strict["overall"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert evaluate_records(records, "conlleval")["overall"]["f1"] == 1.0
    assert cell_sentences(records, "all", "entity", "SPURIOUS", "LOC", "strict") == [0]
    assert cell_sentences(records, "all", "entity", "LOC", "LOC", "conlleval") == [0]
    assert cell_sentences(records, "fr", "token", "I-LOC", "B-LOC", "strict") == [0]
    assert error_kinds(records[0], "strict") == {"spurious"} and error_kinds(records[0], "conlleval") == set()


def test_model_card_names_the_mode(tmp_path):
    from core.kernel.config import TrainConfig
    from core.train.loop import write_model_card

    test = evaluate([["B-PER", "E-PER"]], [["B-PER", "I-PER"]], ["en"], scheme="IOBES", pred_scheme="IOB2")
    write_model_card(str(tmp_path), TrainConfig(), {}, {}, test, 0.5)
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "Best dev entity F1 (strict): 0.5000" in card
    assert "## Test scores (entity level, strict (seqeval strict mode, IOBES))" in card
