"""Entity-level metrics: hand-counted values, agreement with seqeval, n/a buckets, confusion matrices."""

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from core.kernel.errors import CorpusError
from core.eval.metrics import MISSED, SPURIOUS, classify_errors, evaluate

# Three sentences, two languages. Hand count:
#  s0 (es): gold PER(0,2) LOC(3,4)      pred PER(0,2) ORG(3,4)        -> PER tp; LOC missed-by-type; ORG fp
#  s1 (es): gold ORG(0,1)               pred ORG(0,2)                 -> boundary error: ORG fn + ORG fp
#  s2 (nl): gold LOC(1,2)               pred LOC(1,2) PER(3,4)        -> LOC tp; PER fp
GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "O"], ["O", "B-LOC", "O", "O"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "O"], ["O", "B-LOC", "O", "B-PER"]]
LANGS = ["es", "es", "nl"]


def test_hand_counts_overall_and_per_type():
    res = evaluate(GOLD, PRED, LANGS)
    # tp = 2 (PER s0, LOC s2); n_pred = 5; n_gold = 4
    assert res["overall"]["precision"] == pytest.approx(2 / 5)
    assert res["overall"]["recall"] == pytest.approx(2 / 4)
    assert res["overall"]["f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert res["overall"]["support"] == 4
    # PER: tp 1, pred 2, gold 1
    assert res["per_type"]["PER"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    # LOC: tp 1, pred 1, gold 2
    assert res["per_type"]["LOC"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    # ORG: tp 0, pred 2, gold 1
    assert res["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_per_language_hand_counts():
    res = evaluate(GOLD, PRED, LANGS)
    # es: tp 1 (PER), pred 3, gold 3
    assert res["per_language"]["es"]["f1"] == pytest.approx(1 / 3)
    # nl: tp 1, pred 2, gold 1
    assert res["per_language"]["nl"]["precision"] == pytest.approx(0.5)
    assert res["per_language"]["nl"]["recall"] == pytest.approx(1.0)


def test_agrees_with_seqeval_strict():
    res = evaluate(GOLD, PRED, LANGS)
    assert res["overall"]["f1"] == pytest.approx(f1_score(GOLD, PRED, mode="strict", scheme=IOB2))
    assert res["overall"]["precision"] == pytest.approx(precision_score(GOLD, PRED, mode="strict", scheme=IOB2))
    assert res["overall"]["recall"] == pytest.approx(recall_score(GOLD, PRED, mode="strict", scheme=IOB2))
    rep = classification_report(GOLD, PRED, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    for typ in ("PER", "LOC", "ORG"):
        assert res["per_type"][typ]["f1"] == pytest.approx(rep[typ]["f1-score"])
        assert res["per_type"][typ]["support"] == int(rep[typ]["support"])
    assert res["macro"]["f1"] == pytest.approx(rep["macro avg"]["f1-score"])


def test_na_bucket_not_zero_and_not_averaged():
    # nl has no ORG at all (neither gold nor predicted): n/a
    res = evaluate(GOLD, PRED, LANGS)
    assert res["per_language_type"]["nl"]["ORG"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    # nl macro averages only LOC (f1 1.0) and PER (f1 0.0): 0.5, not (1 + 0 + 0) / 3
    assert res["per_language_macro"]["nl"]["f1"] == pytest.approx(0.5)


def test_empty_everything_is_na():
    res = evaluate([["O", "O"]], [["O", "O"]], ["de"])
    assert res["overall"]["f1"] is None
    assert res["per_language"]["de"]["f1"] is None


def test_token_confusion_rows_sum_to_token_support():
    res = evaluate(GOLD, PRED, LANGS)
    tok = res["confusion"]["all"]["token"]
    labels, m = tok["labels"], tok["matrix"]
    gold_counts = {}
    for sent in GOLD:
        for t in sent:
            gold_counts[t] = gold_counts.get(t, 0) + 1
    for i, lab in enumerate(labels):
        assert sum(m[i]) == gold_counts.get(lab, 0)
    assert labels[0] == "O"


def test_entity_confusion_rows_sum_to_support():
    res = evaluate(GOLD, PRED, LANGS)
    ent = res["confusion"]["es"]["entity"]
    rows, cols, m = ent["rows"], ent["cols"], ent["matrix"]
    assert rows[-1] == SPURIOUS and cols[-1] == MISSED
    es_support = {"PER": 1, "LOC": 1, "ORG": 1}
    for typ, n in es_support.items():
        assert sum(m[rows.index(typ)]) == n
    # gold LOC predicted as ORG on the same span
    assert m[rows.index("LOC")][cols.index("ORG")] == 1
    # nl: predicted PER overlapping nothing -> SPURIOUS row
    nl = res["confusion"]["nl"]["entity"]
    assert nl["matrix"][nl["rows"].index(SPURIOUS)][nl["cols"].index("PER")] == 1


def test_error_kinds():
    gold = {("PER", 0, 2), ("LOC", 4, 5), ("ORG", 7, 9), ("MISC", 10, 11), ("LOC", 12, 14)}
    pred = {("PER", 0, 2), ("ORG", 4, 5), ("ORG", 7, 8), ("LOC", 15, 16), ("PER", 12, 13)}
    kinds = sorted((e["kind"], e["gold"], e["pred"]) for e in classify_errors(gold, pred))
    assert kinds == sorted([
        ("wrong type", ("LOC", 4, 5), ("ORG", 4, 5)),
        ("wrong boundary", ("ORG", 7, 9), ("ORG", 7, 8)),
        ("missed", ("MISC", 10, 11), None),
        ("wrong type and boundary", ("LOC", 12, 14), ("PER", 12, 13)),
        ("spurious", None, ("LOC", 15, 16)),
    ])


def test_error_list_and_counts():
    res = evaluate(GOLD, PRED, LANGS, tokens=[["a", "b", "c", "d"], ["x", "y", "z"], ["p", "q", "r", "s"]])
    assert res["error_counts"]["es"]["wrong type"] == 1
    assert res["error_counts"]["es"]["wrong boundary"] == 1
    assert res["error_counts"]["nl"]["spurious"] == 1
    row = [e for e in res["errors"] if e["kind"] == "wrong boundary"][0]
    assert row["sentence"] == 1 and row["gold_text"] == "x" and row["pred_text"] == "x y"


def test_length_mismatch_is_coded_error():
    with pytest.raises(CorpusError, match=r"\[E107\].*sentence 1: 2 gold tags but 1 predicted"):
        evaluate([["O", "O"]], [["O"]])
