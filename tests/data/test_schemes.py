"""Tagging schemes: conversion to IOB2 and back, detection, stray I- repair, tag splitting."""

import pytest

from core.data.schemes import SCHEMES, detect_scheme, entities, from_iob2, split_tag, to_iob2

IOB2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-ORG"]

# Hand-written forms of the same sentence in every scheme.
FORMS = {
    "IOB1": ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "O", "I-ORG"],
    "IOB2": IOB2,
    "IOBES": ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-ORG"],
    "BILOU": ["B-PER", "L-PER", "O", "U-LOC", "B-LOC", "L-LOC", "O", "U-ORG"],
    "BMES": ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "O", "S-ORG"],
}


@pytest.mark.parametrize("scheme", list(FORMS))
def test_each_scheme_to_iob2_and_back(scheme):
    assert to_iob2(FORMS[scheme], scheme) == (IOB2, 0)
    assert from_iob2(IOB2, scheme) == FORMS[scheme]


def test_bmes_middle_tokens():
    bmes = ["B-ORG", "M-ORG", "M-ORG", "E-ORG", "O", "S-PER"]
    iob2 = ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-PER"]
    assert to_iob2(bmes, "BMES") == (iob2, 0)
    assert from_iob2(iob2, "BMES") == bmes
    assert from_iob2(iob2, "IOBES") == ["B-ORG", "I-ORG", "I-ORG", "E-ORG", "O", "S-PER"]


def test_io_bare_tags_and_prefixed():
    assert to_iob2(["PER", "PER", "O", "LOC"], "IO") == (["B-PER", "I-PER", "O", "B-LOC"], 0)
    assert to_iob2(["I-PER", "I-PER", "O"], "IO") == (["B-PER", "I-PER", "O"], 0)
    assert from_iob2(["B-PER", "I-PER", "O", "B-LOC"], "IO", bare_io=True) == ["PER", "PER", "O", "LOC"]


def test_stray_i_start_repaired_and_counted():
    tags = ["O", "I-PER", "I-PER", "O", "B-LOC", "I-ORG"]
    assert to_iob2(tags, "IOB2") == (["O", "B-PER", "I-PER", "O", "B-LOC", "B-ORG"], 2)
    # In IOB1 an I- start is the norm, not a repair
    assert to_iob2(tags, "IOB1")[1] == 0
    # IOBES: an I- after an E- closed entity is a stray start
    assert to_iob2(["B-PER", "E-PER", "I-PER", "E-PER"], "IOBES") == (["B-PER", "I-PER", "B-PER", "I-PER"], 1)


@pytest.mark.parametrize("tag,expected", [
    ("O", ("O", None)),
    ("B-PER", ("B", "PER")),
    ("B-creative-work", ("B", "creative-work")),
    ("I-GPE_LOC", ("I", "GPE_LOC")),
    ("B-PER.NAM", ("B", "PER.NAM")),
    ("PER", ("", "PER")),
    ("GPE-LOC", ("", "GPE-LOC")),
])
def test_split_tag_at_first_dash(tag, expected):
    assert split_tag(tag) == expected


@pytest.mark.parametrize("scheme", list(FORMS))
def test_detect_scheme(scheme):
    assert detect_scheme([FORMS[scheme], ["O", "O"]]) == scheme if scheme != "BMES" else "IOBES"


def test_detect_bmes_needs_m():
    assert detect_scheme([["B-ORG", "M-ORG", "E-ORG"]]) == "BMES"


def test_detect_io_and_iob2_with_strays():
    assert detect_scheme([["PER", "O", "LOC"]]) == "IO"
    strays = [["B-PER", "I-PER", "O"]] * 50 + [["O", "I-LOC"]]
    assert detect_scheme(strays) == "IOB2"


def test_entities_types_with_dashes():
    tags = ["B-creative-work", "I-creative-work", "O", "B-PER"]
    assert entities(tags) == [("creative-work", 0, 2), ("PER", 3, 4)]


def test_unknown_scheme_raises():
    with pytest.raises(ValueError, match="unknown scheme 'XYZ'"):
        to_iob2(["O"], "XYZ")
    assert "IOB2" in SCHEMES


# ------------------------------------------------------------------------------------------------ entity tags

from core.data.corpus import ReadOptions  # noqa: E402
from core.data.loader import load_corpus  # noqa: E402
from core.data.schemes import canonical_scheme, non_entity_reason, tag_problem  # noqa: E402


@pytest.mark.parametrize("label", ["[SEP]", "[CLS]", "[PAD]", "<pad>", "</s>", "X", "-100", "3", "", " ",
                                   "B-[SEP]", "I-<pad>"])
def test_non_entity_labels_are_refused_in_every_scheme(label):
    assert non_entity_reason(label) is not None
    for scheme in SCHEMES:
        assert tag_problem(label, scheme) is not None


@pytest.mark.parametrize("tag", ["O", "B-PER", "I-X", "PER", "B-creative-work", "I-GPE_LOC", "B-PER.NAM", "S-LOC"])
def test_entity_tags_are_accepted(tag):
    assert non_entity_reason(tag) is None


@pytest.mark.parametrize("tag,scheme,ok", [
    ("E-PER", "IOB2", False), ("E-PER", "IOBES", True), ("E-PER", "BIOES", True), ("L-PER", "IOBES", False),
    ("L-PER", "BILOU", True), ("M-PER", "BMES", True), ("M-PER", "IOBES", False), ("B-PER", "IO", False),
    ("PER", "IOB2", True), ("S-PER", "IOB1", False),
])
def test_prefixes_per_scheme(tag, scheme, ok):
    assert (tag_problem(tag, scheme) is None) == ok


def test_canonical_scheme_aliases():
    assert canonical_scheme("bioes") == "IOBES" and canonical_scheme("iob2") == "IOB2"
    with pytest.raises(ValueError, match="unknown scheme 'XYZ'"):
        canonical_scheme("XYZ")


def _file(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_loader_refuses_special_labels_with_file_and_line(tmp_path):
    path = _file(tmp_path, "a.conll", "Ana B-PER\nvive O\n[SEP] [SEP]\n\nen O\nLima -100\n\n")
    corpus = load_corpus([path], ReadOptions(detect_lang=False))
    errs = [(p.code, p.line, p.text) for p in corpus.report.errors]
    assert errs == [("E104", 3, "[SEP]"), ("E104", 6, "-100")]
    assert corpus.label_list == ["O", "B-PER", "I-PER"]  # no "[SEP]" or "-100" type
    assert [s.ner_tags for s in corpus] == [["B-PER", "O", "O"], ["O", "O"]]


def test_loader_reads_special_labels_as_o_when_asked(tmp_path):
    path = _file(tmp_path, "a.conll", "Ana B-PER\nvive X\n[SEP] [SEP]\n\nen <pad>\n\n")
    corpus = load_corpus([path], ReadOptions(detect_lang=False, special_as_o=True))
    assert not corpus.report.errors
    w = [p for p in corpus.report.warnings if p.code == "W120"]
    assert len(w) == 1 and w[0].line == 2 and w[0].message.startswith("3 label(s)")
    assert [s.ner_tags for s in corpus] == [["B-PER", "O", "O"], ["O"]]


def test_loader_keeps_the_raw_tags_and_scheme_for_scoring(tmp_path):
    iob2 = load_corpus([_file(tmp_path, "a.conll", "Le I-LOC\nMans I-LOC\n\nen O\n\n")],
                       ReadOptions(detect_lang=False, scheme="IOB2"))
    s = iob2.sentences[0]
    assert s.ner_tags == ["B-LOC", "I-LOC"] and s.raw_tags == ["I-LOC", "I-LOC"] and s.scheme == "IOB2"
    assert iob2.sentences[1].raw_tags is None  # equal to ner_tags: not stored twice
    iobes = load_corpus([_file(tmp_path, "b.conll", "A B-PER\nB E-PER\nC S-LOC\n\n")], ReadOptions(detect_lang=False))
    s = iobes.sentences[0]
    assert s.scheme == "IOBES" and s.raw_tags == ["B-PER", "E-PER", "S-LOC"] and s.ner_tags == ["B-PER", "I-PER", "B-LOC"]


def test_loader_refuses_a_prefix_the_declared_scheme_lacks(tmp_path):
    path = _file(tmp_path, "a.conll", "A B-PER\nB E-PER\n\n")
    corpus = load_corpus([path], ReadOptions(detect_lang=False, scheme="IOB2"))
    assert [(p.code, p.line) for p in corpus.report.errors] == [("E104", 2)]
    assert "the prefix E- is not part of IOB2" in corpus.report.errors[0].message
