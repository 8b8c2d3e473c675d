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
