"""Readers of core.data.formats on small inline fixtures with hand-computed expected values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.data.corpus import ReadOptions
from core.kernel.errors import CorpusError, Report
from core.data.formats import FORMATS, decode_file, detect_format, read_file, read_paths
from core.data.formats.words import locate_span, resolve_overlaps, split_words, word_index


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_bytes(content.encode("utf-8"))
    return p


def read(tmp_path: Path, name: str, content: str | bytes, **opts):
    report = Report()
    sentences, fmt = read_file(write(tmp_path, name, content), ReadOptions(**opts), report)
    return sentences, fmt, report


def codes(report: Report) -> list[str]:
    return [p.code for p in report.problems]


# ---------------------------------------------------------------------------------------------- decoding


def test_utf8_bom_is_stripped(tmp_path):
    sents, fmt, report = read(tmp_path, "a.txt", b"\xef\xbb\xbfJii O\nmoko B-PER\n")
    assert fmt == "conll"
    assert sents[0].tokens == ["Jii", "moko"]
    assert report.problems == []


def test_feff_inside_the_text_is_kept(tmp_path):
    sents, _, _ = read(tmp_path, "a.txt", "Dubbz\ufeff\tB-person\nsays\tO\n")
    assert sents[0].tokens == ["Dubbz\ufeff", "says"]


def test_latin1_fallback_reports_w101_with_line(tmp_path):
    data = "Das O\nM\u00fcnchen B-LOC\nGro\u00dfe O\n".encode("latin-1")
    sents, _, report = read(tmp_path, "de.txt", data)
    assert sents[0].tokens == ["Das", "M\u00fcnchen", "Gro\u00dfe"]
    assert codes(report) == ["W101"]
    assert report.problems[0].line == 2
    assert report.problems[0].text == "M\u00fcnchen B-LOC"


def test_cp1252_bytes_and_undefined_bytes(tmp_path):
    # 0x80 is the euro sign in cp1252; 0x81 is undefined there and falls back to Latin-1 U+0081
    p = write(tmp_path, "x.txt", b"\x80 O\na\x81b O\n")
    report = Report()
    assert decode_file(p, None, report) == "\u20ac O\na\x81b O\n"
    assert report.count("W101") == 1


def test_forced_encoding(tmp_path):
    p = write(tmp_path, "x.txt", "M\u00fcnchen B-LOC\n".encode("latin-1"))
    report = Report()
    assert decode_file(p, ReadOptions(encoding="latin-1"), report) == "M\u00fcnchen B-LOC\n"
    assert report.problems == []
    with pytest.raises(CorpusError, match=r"E101.*not valid utf-8"):
        decode_file(p, ReadOptions(encoding="utf-8"), report)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(CorpusError, match=r"\[E101\].*no such file"):
        read_file(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match=r"\[E113\].*empty"):
        read_file(write(tmp_path, "empty.txt", "\n  \n"))


# ---------------------------------------------------------------------------------------------- CoNLL


def test_crlf_line_endings(tmp_path):
    sents, _, report = read(tmp_path, "a.txt", "EU NNP B-ORG\r\nrejects VBZ O\r\n\r\nPeter NNP B-PER\r\n")
    assert [s.tokens for s in sents] == [["EU", "rejects"], ["Peter"]]
    assert [s.ner_tags for s in sents] == [["B-ORG", "O"], ["B-PER"]]
    assert (sents[1].line_start, sents[1].line_end) == (4, 4)
    assert report.problems == []


def test_docstart_followed_by_blank_line(tmp_path):
    text = ("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
            "-DOCSTART- -X- -X- O\n\nPeter NNP B-NP B-PER\n")
    sents, _, _ = read(tmp_path, "eng.testa", text)
    assert [s.tokens for s in sents] == [["EU", "rejects"], ["Peter"]]
    assert [s.doc_id for s in sents] == ["eng.testa#1", "eng.testa#2"]
    assert sents[0].line_start == 3


def test_docstart_without_blank_line(tmp_path):
    # CoNLL-2002 Dutch: the sentence starts right after the DOCSTART line, and a DOCSTART can follow a token
    text = ("-DOCSTART- -DOCSTART- O\nDe Art O\ntekst N O\n\nJan N B-PER\n"
            "-DOCSTART- -DOCSTART- O\nHet Art O\n")
    sents, _, _ = read(tmp_path, "ned.train", text)
    assert [s.tokens for s in sents] == [["De", "tekst"], ["Jan"], ["Het"]]
    assert [s.doc_id for s in sents] == ["ned.train#1", "ned.train#1", "ned.train#2"]
    assert [(s.line_start, s.line_end) for s in sents] == [(2, 3), (5, 5), (7, 7)]


def test_hash_lines_are_tokens_outside_comment_dialects(tmp_path):
    # conll2003_en_iobes masks digits with '#': these lines are tokens
    text = "# CD I-NP O O\n#-#-# CD I-NP O O\n\n## CD I-NP O S-MISC\nyear NN I-NP O O\n"
    sents, _, report = read(tmp_path, "eng.iobes", text)
    assert [s.tokens for s in sents] == [["#", "#-#-#"], ["##", "year"]]
    assert sents[1].ner_tags == ["S-MISC", "O"]
    assert report.problems == []
    sents, _, _ = read(tmp_path, "wnut.conll", "#\tO\nlol\tO\n")
    assert sents[0].tokens == ["#", "lol"]


def test_germeval_comments_and_levels(tmp_path):
    text = ("#\thttp://x.de/a\t[2010-07-04]\n1\tEcce\tB-OTH\tO\n2\thomo\tI-OTH\tB-LOC\n\n"
            "#\thttp://y.de/b\t[2009-08-13]\n1\t#\tO\tO\n2\tParis\tB-LOC\tO\t\n")
    sents, _, report = read(tmp_path, "NER-de-dev.tsv", text)
    assert [s.tokens for s in sents] == [["Ecce", "homo"], ["#", "Paris"]]
    assert [s.ner_tags for s in sents] == [["B-OTH", "I-OTH"], ["O", "B-LOC"]]  # outer level (column 2)
    assert [s.doc_id for s in sents] == ["http://x.de/a", "http://y.de/b"]
    assert report.problems == []  # the trailing TAB of the last line is not a fifth column
    inner, _, _ = read(tmp_path, "NER-de-dev2.tsv", text, token_col=1, tag_col=3)
    assert inner[0].ner_tags == ["O", "B-LOC"]


def test_uner_comments_and_nested_column(tmp_path):
    text = ("# newdoc id =set.sr.1\n# sent_id = dev-0\n# text = Hvor København\n"
            "1\tHvor\tO\tO#O\ts\n2\tKøbenhavn\tB-LOC\tB-LOC#B-ORG\ts\n")
    sents, _, report = read(tmp_path, "da.iob2", text)
    s = sents[0]
    assert (s.tokens, s.ner_tags, s.sent_id, s.doc_id) == (["Hvor", "København"], ["O", "B-LOC"], "dev-0",
                                                          "set.sr.1")
    assert report.problems == []
    sents, _, report = read(tmp_path, "da2.iob2", text, token_col=1, tag_col=3)
    assert sents[0].ner_tags == ["O", "B-LOC"]
    assert codes(report) == ["W103"]
    assert report.problems[0].message.startswith("2 nested tag")


def test_klue_comments_and_space_tokens(tmp_path):
    text = "## 토큰 : \\t\n## klue-ner-1\t<경찰:OG>은\n경\tB-OG\n찰\tI-OG\n \tO\n#\tO\n"
    sents, _, report = read(tmp_path, "klue.tsv", text)
    assert sents[0].tokens == ["경", "찰", " ", "#"]
    assert sents[0].ner_tags == ["B-OG", "I-OG", "O", "O"]
    assert sents[0].sent_id == "klue-ner-1"
    assert report.problems == []


def test_whitespace_only_separator_lines(tmp_path):
    sents, _, _ = read(tmp_path, "train.conll", "a\tO\nb\tO\n\t\nc\tB-PER\n  \nd\tO\n")
    assert [s.tokens for s in sents] == [["a", "b"], ["c"], ["d"]]


def test_nbsp_and_zero_width_stay_inside_tokens(tmp_path):
    text = "10\u00a0000 O\nab\u200bc O\nx\u00ady B-PER\nका\u200dम O\n"
    sents, _, _ = read(tmp_path, "a.txt", text)
    assert sents[0].tokens == ["10\u00a0000", "ab\u200bc", "x\u00ady", "का\u200dम"]
    assert sents[0].ner_tags == ["O", "O", "B-PER", "O"]


def test_runs_of_spaces_separate_columns(tmp_path):
    sents, _, _ = read(tmp_path, "a.txt", "EU  NNP   B-ORG\nsays NNP O \n")
    assert sents[0].tokens == ["EU", "says"]
    assert sents[0].ner_tags == ["B-ORG", "O"]


def test_header_row_is_skipped(tmp_path):
    sents, _, report = read(tmp_path, "a.tsv", "Token\tTag\nEU\tB-ORG\n")
    assert sents[0].tokens == ["EU"]
    assert [(p.code, p.line) for p in report.problems] == [("W112", 1)]


def test_language_prefix(tmp_path):
    sents, _, _ = read(tmp_path, "dev", "en:Sioux\tB-ORG\nen:Falls\tI-ORG\nen::\tO\n\nen:a\tO\nde:b\tO\n")
    assert sents[0].tokens == ["Sioux", "Falls", ":"]
    assert (sents[0].lang, sents[0].lang_source) == ("en", "prefix")
    assert sents[1].tokens == ["en:a", "de:b"]  # mixed prefixes: not a language prefix
    assert sents[1].lang == "und"


def test_weibo_segment_digits_are_removed(tmp_path):
    chars = "中国人民银行今天发布了新的政策北京上海广州深圳市"
    positions = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    lines = [f"{c}{p}\t{'B-GPE.NAM' if i == 0 else ('I-GPE.NAM' if i == 1 else 'O')}"
             for i, (c, p) in enumerate(zip(chars, positions))]
    sents, _, _ = read(tmp_path, "weiboNER.train", "\n".join(lines) + "\n")
    assert sents[0].tokens == list(chars)
    assert sents[0].ner_tags[:3] == ["B-GPE.NAM", "I-GPE.NAM", "O"]


def test_wrong_column_count_keeps_neighbours(tmp_path):
    text = "EU NNP B-ORG\nrejects\nGerman JJ B-MISC\ncall NN O X\n\nPeter NNP B-PER\n"
    sents, _, report = read(tmp_path, "a.txt", text)
    assert [s.tokens for s in sents] == [["EU", "German", "call"], ["Peter"]]
    assert sents[0].ner_tags == ["B-ORG", "B-MISC", "X"]
    e103 = [p for p in report.problems if p.code == "E103"]
    assert [(p.line, p.text) for p in e103] == [(2, "rejects"), (4, "call NN O X")]
    assert "skipped" in e103[0].message


def test_invalid_tag_is_e104(tmp_path):
    sents, _, report = read(tmp_path, "a.tsv", "EU\tB-ORG\nrejects\tB PER\n")
    assert sents[0].ner_tags == ["B-ORG", "O"]
    assert codes(report) == ["E104"]
    assert report.problems[0].line == 2


def test_column_that_does_not_exist(tmp_path):
    with pytest.raises(CorpusError, match=r"E103.*column 5 does not exist"):
        read(tmp_path, "a.txt", "EU NNP B-ORG\n", tag_col=5)


def test_conll_speed_shape(tmp_path):
    # a 20k-token file reads in one pass; the sentence structure is exact
    text = "\n\n".join("\n".join(f"w{i}_{j} N O" for j in range(10)) for i in range(2000)) + "\n"
    sents, _, _ = read(tmp_path, "big.txt", text)
    assert len(sents) == 2000 and all(len(s) == 10 for s in sents)
    assert sents[-1].line_end == 2000 * 11 - 1


# ---------------------------------------------------------------------------------------------- CoNLL-U


CONLLU = (
    "# newdoc id = d1\n# sent_id = s1\n# text = Vámonos al mar\n"
    "1-2\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "1\tVamos\tir\tVERB\t_\t_\t0\troot\t_\tname=O\n"
    "2\tnos\tnosotros\tPRON\t_\t_\t1\tobj\t_\t_\n"
    "3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "3\ta\ta\tADP\t_\t_\t5\tcase\t_\tNE=O\n"
    "4\tel\tel\tDET\t_\t_\t5\tdet\t_\t_\n"
    "5\tmar\tmar\tNOUN\t_\t_\t1\tobl\t_\tSpaceAfter=No|NE=B-LOC\n"
    "5.1\tfue\tir\tVERB\t_\t_\t_\t_\t1:conj\t_\n"
    "\n# sent_id = s2\n1\tOslo\tOslo\tPROPN\t_\t_\t0\troot\t_\tname=B-GPE_LOC\n"
)


def test_conllu_multiword_ranges_and_empty_nodes_skipped(tmp_path):
    sents, fmt, report = read(tmp_path, "es.conllu", CONLLU)
    assert fmt == "conllu"
    assert sents[0].tokens == ["Vamos", "nos", "a", "el", "mar"]
    assert sents[0].ner_tags == ["O", "O", "O", "O", "B-LOC"]
    assert (sents[0].sent_id, sents[0].doc_id, sents[0].line_start, sents[0].line_end) == ("s1", "d1", 5, 11)
    assert (sents[1].tokens, sents[1].ner_tags, sents[1].doc_id) == (["Oslo"], ["B-GPE_LOC"], "d1")
    assert report.problems == []


def test_conllu_tag_column_and_bad_line(tmp_path):
    text = "1\tParis\tParis\tPROPN\tB-LOC\t_\t0\troot\t_\t_\n2\tbad line\n3\tok\tok\tX\tO\t_\t1\tdep\t_\t_\n"
    sents, _, report = read(tmp_path, "x.conllu", text, tag_col=4)
    assert sents[0].tokens == ["Paris", "ok"]
    assert sents[0].ner_tags == ["B-LOC", "O"]
    assert codes(report) == ["E115"] and report.problems[0].line == 2


# ---------------------------------------------------------------------------------------------- HF layout


def test_jsonl_bad_line_keeps_the_others(tmp_path):
    text = ('{"tokens": ["EU", "rejects"], "ner_tags": ["B-ORG", "O"], "lang": "en", "id": 7}\n'
            '{"tokens": ["broken", \n'
            '{"tokens": ["Peter"], "ner_tags": ["B-PER"]}\n')
    sents, fmt, report = read(tmp_path, "a.jsonl", text)
    assert fmt == "jsonl"
    assert [s.tokens for s in sents] == [["EU", "rejects"], ["Peter"]]
    assert (sents[0].lang, sents[0].lang_source, sents[0].sent_id) == ("en", "field", "7")
    assert [(p.code, p.line) for p in report.problems] == [("E105", 2)]


def test_jsonl_missing_field_and_length_mismatch(tmp_path):
    text = ('{"words_x": ["a"], "ner_tags": ["O"]}\n'
            '{"tokens": ["a", "b"], "ner_tags": ["O"]}\n'
            '{"tokens": ["c"], "ner_tags": ["O"]}\n')
    sents, _, report = read(tmp_path, "a.jsonl", text)
    assert [s.tokens for s in sents] == [["c"]]
    assert [(p.code, p.line) for p in report.problems] == [("E106", 1), ("E107", 2)]
    assert "missing field 'tokens'" in report.problems[0].message


def test_int_tags_with_label_list_in_file(tmp_path):
    doc = {"label_list": ["O", "B-PER", "I-PER"],
           "data": [{"tokens": ["Ada", "Lovelace", "wrote"], "ner_tags": [1, 2, 0]},
                    {"tokens": ["x"], "ner_tags": [3]}]}
    sents, fmt, report = read(tmp_path, "a.json", json.dumps(doc))
    assert fmt == "json"
    assert sents[0].ner_tags == ["B-PER", "I-PER", "O"]
    assert len(sents) == 1
    assert codes(report) == ["E112"] and "label id 3" in report.problems[0].message


def test_int_tags_with_options_and_sibling_label_file(tmp_path):
    text = '{"tokens": ["Ada", "Lovelace"], "ner_tags": [1, 2]}\n'
    sents, _, _ = read(tmp_path, "a/train.jsonl", text, label_list=["O", "B-PER", "I-PER"])
    assert sents[0].ner_tags == ["B-PER", "I-PER"]
    write(tmp_path, "b/labels.txt", "O\nB-LOC\nI-LOC\n")
    sents, _, _ = read(tmp_path, "b/train.jsonl", text)
    assert sents[0].ner_tags == ["B-LOC", "I-LOC"]
    with pytest.raises(CorpusError, match="E113"):
        read(tmp_path, "c/train.jsonl", text)  # no label list anywhere: every record is E112


def test_csv_with_list_cells(tmp_path):
    text = ("tokens,ner_tags,lang\n"
            "\"['EU', 'rejects', ',']\",\"['B-ORG', 'O', 'O']\",en\n"
            "Peter Blackburn,B-PER I-PER,\n")
    sents, fmt, report = read(tmp_path, "a.csv", text)
    assert fmt == "csv"
    assert [s.tokens for s in sents] == [["EU", "rejects", ","], ["Peter", "Blackburn"]]
    assert sents[1].ner_tags == ["B-PER", "I-PER"]
    assert (sents[0].lang, sents[1].lang, sents[1].line_start) == ("en", "und", 3)
    assert report.problems == []


def test_parquet_with_classlabel_metadata(tmp_path):
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    df = pd.DataFrame({"tokens": [["Ada", "Lovelace"], ["x"]], "ner_tags": [[1, 2], [0]]})
    table = pa.Table.from_pandas(df, preserve_index=False)
    hf = {"info": {"features": {"ner_tags": {"feature": {"names": ["O", "B-PER", "I-PER"], "_type": "ClassLabel"},
                                             "_type": "Sequence"}}}}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"huggingface": json.dumps(hf).encode()})
    path = tmp_path / "train.parquet"
    pq.write_table(table, path)
    report = Report()
    sents, fmt = read_file(path, None, report)
    assert fmt == "parquet"
    assert [s.ner_tags for s in sents] == [["B-PER", "I-PER"], ["O"]]
    assert sents[1].line_start == 2


# ---------------------------------------------------------------------------------------------- spans

AMHARIC = "\u1230\u120b\u121d \u12a0\u1260\u1260 \u1260\u1240\u1208"  # ሰላም አበበ በቀለ: 3 chars (9 bytes) per word
YORUBA = "\u1eccm\u1ecd Ad\u00e9w\u00e1l\u00e9"  # Ọmọ (3 chars, 7 bytes) Adéwálé (7 chars, 10 bytes)


def test_byte_offsets_amharic(tmp_path):
    # bytes: ሰላም 0-9, space 9, አበበ 10-19, space 19, በቀለ 20-29; chars: 0-3, 4-7, 8-11
    rec = {"text": AMHARIC, "spans": [{"start_byte": 10, "limit_byte": 29, "label": "PER"}], "language": "amh"}
    sents, fmt, report = read(tmp_path, "am.jsonl", json.dumps(rec, ensure_ascii=False) + "\n")
    assert fmt == "spans"
    s = sents[0]
    assert s.tokens == ["\u1230\u120b\u121d", "\u12a0\u1260\u1260", "\u1260\u1240\u1208"]
    assert s.ner_tags == ["O", "B-PER", "I-PER"]
    assert s.offsets == [(0, 3), (4, 7), (8, 11)]
    assert (s.text, s.lang, s.lang_source) == (AMHARIC, "amh", "field")
    assert report.problems == []


def test_byte_offsets_yoruba_and_inside_a_character(tmp_path):
    recs = [{"text": YORUBA, "spans": [{"start_byte": 8, "limit_byte": 18, "label": "PER"}]},
            {"text": YORUBA, "spans": [{"start_byte": 1, "limit_byte": 7, "label": "PER"}]}]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
    sents, _, report = read(tmp_path, "yo.jsonl", text)
    assert sents[0].tokens == ["\u1eccm\u1ecd", "Ad\u00e9w\u00e1l\u00e9"]
    assert sents[0].ner_tags == ["O", "B-PER"]
    assert sents[0].offsets == [(0, 3), (4, 11)]
    assert sents[1].ner_tags == ["O", "O"]  # kept, its span dropped
    assert [(p.code, p.line) for p in report.problems] == [("E109", 2)]
    assert "inside a character when read as UTF-8 bytes" in report.problems[0].message


def test_char_offsets_and_offset_unit_option(tmp_path):
    text = json.dumps({"text": YORUBA, "label": [[4, 11, "PER"]]}, ensure_ascii=False) + "\n"
    sents, fmt, _ = read(tmp_path, "c.jsonl", text)
    assert fmt == "doccano" and sents[0].ner_tags == ["O", "B-PER"]
    text = json.dumps({"text": YORUBA, "label": [[8, 18, "PER"]]}, ensure_ascii=False) + "\n"
    sents, _, report = read(tmp_path, "b.jsonl", text, offset_unit="byte")
    assert sents[0].ner_tags == ["O", "B-PER"] and report.problems == []
    # byte offsets read as characters: out of range, and the message names the unit that would match
    text = json.dumps({"text": AMHARIC, "label": [[10, 29, "PER"]]}, ensure_ascii=False) + "\n"
    sents, _, report = read(tmp_path, "d.jsonl", text, offset_unit="char")
    assert sents[0].ner_tags == ["O", "O", "O"]
    assert codes(report) == ["E108"]
    assert "it matches as UTF-8 bytes" in report.problems[0].message
    # offset unit auto (the default) reads the same file as bytes and says so
    sents, _, report = read(tmp_path, "d.jsonl", text)
    assert sents[0].ner_tags == ["O", "B-PER", "I-PER"]
    assert codes(report) == ["W132"] and "UTF-8 bytes" in report.problems[0].message


def test_span_off_word_boundary_is_e109_with_text(tmp_path):
    text = json.dumps({"text": "Visit Parisian cafes", "label": [[6, 11, "LOC"], [15, 20, "MISC"]]}) + "\n"
    sents, _, report = read(tmp_path, "a.jsonl", text)
    assert sents[0].tokens == ["Visit", "Parisian", "cafes"]
    assert sents[0].ner_tags == ["O", "O", "B-MISC"]
    assert [(p.code, p.line, p.text) for p in report.problems] == [("E109", 1, "Paris")]


def test_overlapping_spans_keep_the_longest(tmp_path):
    rec = {"text": "Bank of America in New York", "label": [[8, 15, "LOC"], [0, 15, "ORG"], [19, 27, "LOC"],
                                                              [19, 22, "LOC"]]}
    sents, _, report = read(tmp_path, "a.jsonl", json.dumps(rec) + "\n")
    assert sents[0].ner_tags == ["B-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "I-LOC"]
    assert codes(report) == ["W103"]
    assert report.problems[0].message.startswith("2 overlapping")


def test_trailing_space_in_span_is_trimmed_not_an_error(tmp_path):
    rec = {"text": "Hi Ada Lovelace !", "label": [[3, 16, "PER"]]}
    sents, _, report = read(tmp_path, "a.jsonl", json.dumps(rec) + "\n")
    assert sents[0].ner_tags == ["O", "B-PER", "I-PER", "O"] and report.problems == []


def test_empty_text_record_is_skipped_with_w112(tmp_path):
    text = '{"text": "", "label": []}\n{"text": "Oslo", "label": [[0, 4, "LOC"]]}\n'
    sents, _, report = read(tmp_path, "a.jsonl", text)
    assert [s.ner_tags for s in sents] == [["B-LOC"]]
    assert [(p.code, p.line) for p in report.problems] == [("W112", 1)]


def test_stockmark_array_and_surface_mismatch(tmp_path):
    recs = [{"curid": "1", "text": "ソニーは東京の会社", "entities": [{"name": "ソニー", "span": [0, 3], "type": "法人名"},
                                                                  {"name": "大阪", "span": [4, 6], "type": "地名"}]},
            {"curid": "2", "text": "何もない", "entities": []}]
    text = "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n]\n"
    sents, fmt, report = read(tmp_path, "ner.json", text)
    assert fmt == "spans"
    assert sents[0].tokens == list("ソニーは東京の会社")
    assert sents[0].ner_tags[:4] == ["B-法人名", "I-法人名", "I-法人名", "O"]
    assert sents[0].sent_id == "1"
    assert [p.code for p in report.problems] == ["E110"]
    assert [s.line_start for s in sents] == [2, 3]


def test_label_studio_export(tmp_path):
    tasks = [{"id": 1, "data": {"text": "Ada Lovelace lived in London"},
              "annotations": [{"was_cancelled": True, "result": []},
                              {"result": [{"type": "labels", "value": {"start": 0, "end": 12, "text": "Ada Lovelace",
                                                                        "labels": ["PER"]}},
                                          {"type": "labels", "value": {"start": 22, "end": 28, "text": "London",
                                                                        "labels": ["LOC"]}},
                                          {"type": "relation", "from_id": "a", "to_id": "b"}]}],
              "predictions": [{"result": [{"value": {"start": 0, "end": 3, "labels": ["ORG"]}}]}]}]
    sents, fmt, report = read(tmp_path, "export.json", json.dumps(tasks))
    assert fmt == "labelstudio"
    assert sents[0].ner_tags == ["B-PER", "I-PER", "O", "O", "B-LOC"]
    assert sents[0].sent_id == "1" and report.problems == []


def test_spacy_entities_ents_and_v2_json(tmp_path):
    text = (json.dumps({"text": "Ada in Paris", "entities": [[0, 3, "PER"], [7, 12, "GPE"]]}) + "\n"
            + json.dumps({"text": "Rome", "ents": [{"start": 0, "end": 4, "label": "GPE"}]}) + "\n")
    sents, fmt, _ = read(tmp_path, "a.jsonl", text)
    assert fmt == "spacy"
    assert [s.ner_tags for s in sents] == [["B-PER", "O", "B-GPE"], ["B-GPE"]]
    v2 = [{"id": 4, "paragraphs": [{"raw": "Ana Maria vine .", "sentences": [{"tokens": [
        {"id": 0, "orth": "Ana", "ner": "B-PERSON"}, {"id": 1, "orth": "Maria", "ner": "L-PERSON"},
        {"id": 2, "orth": "vine", "ner": "O"}, {"id": 3, "orth": ".", "ner": "U-X"}]}]}]}]
    sents, fmt, _ = read(tmp_path, "dev.json", json.dumps(v2))
    assert fmt == "spacy"
    assert sents[0].tokens == ["Ana", "Maria", "vine", "."]
    assert sents[0].ner_tags == ["B-PERSON", "L-PERSON", "O", "U-X"]  # raw BILUO
    assert sents[0].doc_id == "4"


def test_non_object_record_is_reported_not_fatal(tmp_path):
    text = '42\n{"text": "Oslo", "label": [[0, 4, "LOC"]]}\n'
    sents, _, report = read(tmp_path, "a.jsonl", text, format="doccano")
    assert [s.ner_tags for s in sents] == [["B-LOC"]]
    assert [(p.code, p.line) for p in report.problems] == [("E106", 1)]


# ---------------------------------------------------------------------------------------------- tables


def test_kaggle_table_with_sentence_ids(tmp_path):
    text = ('Sentence #,Word,POS,Tag\nSentence: 1,Thousands,NNS,O\n,of,IN,O\n,London,NNP,B-geo\n'
            'Sentence: 2,"""",``,O\n,Iraq,NNP,B-geo\n')
    sents, fmt, report = read(tmp_path, "ner_dataset.csv", text)
    assert fmt == "table"
    assert [s.tokens for s in sents] == [["Thousands", "of", "London"], ['"', "Iraq"]]
    assert [s.sent_id for s in sents] == ["Sentence: 1", "Sentence: 2"]
    assert [(s.line_start, s.line_end) for s in sents] == [(2, 4), (5, 6)]
    assert report.problems == []


def test_atis_tsv_table_crlf_and_bare_quotes(tmp_path):
    text = 'Sentence #\tWord\tTag\r\nSentence: 0\tdallas\tB-LOC\r\nSentence: 0\t"\tO\r\nSentence: 1\t\'a\tO\r\n'
    sents, fmt, _ = read(tmp_path, "train.tsv", text)
    assert fmt == "table"
    assert [s.tokens for s in sents] == [["dallas", '"'], ["'a"]]
    assert sents[0].ner_tags == ["B-LOC", "O"]


# ---------------------------------------------------------------------------------------------- BRAT


BRAT_TXT = "Bank of America in New York\nSecond line here\n"
BRAT_ANN = ("T1\tORG 0 15\tBank of America\nT2\tLOC 8 15\tAmerica\nT3\tLOC 19 27\tNew York\n"
            "R1\tLocated Arg1:T1 Arg2:T3\n#1\tAnnotatorNotes T1\ta note\nN1\tReference T3 Wikidata:Q60\tNew York\n"
            "A1\tNegated T3\nT4\tMISC 28 34;40 44\tSecond here\n")


def test_brat_nested_discontinuous_and_other_lines(tmp_path):
    write(tmp_path, "doc.ann", BRAT_ANN)
    sents, fmt, report = read(tmp_path, "doc.txt", BRAT_TXT)
    assert fmt == "brat"
    assert [s.tokens for s in sents] == [["Bank", "of", "America", "in", "New", "York"], ["Second", "line", "here"]]
    assert [s.ner_tags for s in sents] == [["B-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "I-LOC"], ["B-MISC", "O", "O"]]
    assert [(s.line_start, s.doc_id) for s in sents] == [(1, "doc"), (2, "doc")]
    assert sorted(codes(report)) == ["W103", "W104"]
    w103 = next(p for p in report.problems if p.code == "W103")
    assert w103.message.startswith("1 overlapping") and "America (LOC)" in w103.text
    # the .ann path reads the same document
    again, _ = read_file(tmp_path / "doc.ann")
    assert [s.ner_tags for s in again] == [s.ner_tags for s in sents]


def test_brat_all_tab_variant_with_multiline_surface(tmp_path):
    # NER-UK 2.0: TAB-separated offsets and a surface over two lines; the two lines become one sentence
    txt = "Київ і\nЛьвів тут\n"
    write(tmp_path, "uk.ann", "T1\tLOC\t0\t4\tКиїв\nT2\tLOC\t5\t12\tі\nЛьвів\n")
    sents, _, report = read(tmp_path, "uk.txt", txt)
    assert [s.tokens for s in sents] == [["Київ", "і", "Львів", "тут"]]
    assert sents[0].ner_tags == ["B-LOC", "B-LOC", "I-LOC", "O"]
    assert (sents[0].line_start, sents[0].line_end) == (1, 2)
    assert report.problems == []


def test_brat_span_not_on_boundaries_and_bad_line(tmp_path):
    write(tmp_path, "d.ann", "T1\tORG 0 4\tCNAP\nT1 ORG 0 4 broken\n")
    sents, _, report = read(tmp_path, "d.txt", "CNAPy opened\n")
    assert sents[0].ner_tags == ["O", "O"]
    assert [(p.code, p.line, p.text) for p in report.problems] == [("E114", 2, "T1 ORG 0 4 broken"),
                                                                    ("E109", 1, "CNAP")]


# ---------------------------------------------------------------------------------------------- HAREM


def test_harem_xml_alt_and_ambiguous_category(tmp_path):
    xml = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<colHAREM versao="x">\n<DOC DOCID="H2-a">\n<p>\n'
           'Em <EM ID="1" CATEG="LOCAL|ORGANIZACAO">Lisboa</EM> &amp; <ALT><EM ID="2" CATEG="PESSOA">Rui Costa'
           '</EM> | <EM ID="3" CATEG="PESSOA">Rui</EM> Costa</ALT> .\n</p>\n</DOC>\n</colHAREM>\n')
    sents, fmt, report = read(tmp_path, "h.xml", xml.encode("latin-1"))
    assert fmt == "harem"
    assert sents[0].tokens == ["Em", "Lisboa", "&", "Rui", "Costa", "."]
    assert sents[0].ner_tags == ["O", "B-LOCAL", "O", "B-PESSOA", "I-PESSOA", "O"]
    assert sents[0].doc_id == "H2-a"
    msgs = [p.message for p in report.problems if p.code == "W115"]
    assert any("1 entities of other <ALT>" in m for m in msgs) and any("1 ambiguous" in m for m in msgs)


def test_harem_sgml_entity_over_a_line_break(tmp_path):
    sgml = ("<DOC>\n<DOCID>HAREM-1</DOCID>\n<TEXTO>\nA <ORGANIZACAO TIPO=\"X\">Unidade de\nDoenças</ORGANIZACAO> "
            "e <PESSOA|ORGANIZACAO>Vital &Cremonezzi</PESSOA|ORGANIZACAO>.\nOutra linha.\n</TEXTO>\n</DOC>\n")
    sents, fmt, _ = read(tmp_path, "c.txt", sgml)
    assert fmt == "harem"
    assert [s.tokens for s in sents] == [["A", "Unidade", "de", "Doenças", "e", "Vital", "&", "Cremonezzi", "."],
                                         ["Outra", "linha", "."]]
    assert sents[0].ner_tags == ["O", "B-ORGANIZACAO", "I-ORGANIZACAO", "I-ORGANIZACAO", "O", "B-PESSOA",
                                 "I-PESSOA", "I-PESSOA", "O"]
    assert (sents[0].line_start, sents[0].line_end, sents[1].line_start) == (4, 5, 6)


# ---------------------------------------------------------------------------------------------- detection, folders


@pytest.mark.parametrize("name,content,expected", [
    ("a.txt", "EU B-ORG\n", "conll"),
    ("a.conllu", CONLLU, "conllu"),
    ("a.jsonl", '{"tokens": ["a"], "ner_tags": ["O"]}\n', "jsonl"),
    ("a.json", '[{"tokens": ["a"], "ner_tags": ["O"]}]', "json"),
    ("a.jsonl", '{"text": "a", "labels": [[0, 1, "X"]]}\n', "doccano"),
    ("a.jsonl", '{"text": "a", "spans": []}\n{"text": "b", "spans": [{"start_byte": 0, "limit_byte": 1, '
                '"label": "X"}]}\n', "spans"),
    ("a.json", '[["Ada", {"entities": [[0, 3, "PER"]]}]]', "spacy"),
    ("a.json", '[{"data": {"text": "a"}, "annotations": []}]', "labelstudio"),
    ("a.tsv", "tokens\tner_tags\n['a']\t['O']\n", "tsv"),
    ("a.csv", "sentence_id,token,label\n1,a,O\n", "table"),
    ("brackets.txt", "[ O\n] O\n", "conll"),
])
def test_detect_format(tmp_path, name, content, expected):
    p = write(tmp_path, name, content)
    assert detect_format(p, content) == expected
    assert expected in FORMATS


def test_detect_format_errors(tmp_path):
    with pytest.raises(CorpusError, match=r"\[E102\].*cannot tell the format"):
        prose = "Justonewordperline\nhere\nand\nthere\n"
        detect_format(write(tmp_path, "prose.txt", prose), prose)
    with pytest.raises(CorpusError, match=r"\[E113\]"):
        detect_format(write(tmp_path, "e.txt", ""), "")
    with pytest.raises(CorpusError, match=r"\[E102\].*unknown format 'xml'"):
        read_file(write(tmp_path, "a.txt", "EU B-ORG\n"), ReadOptions(format="xml"))


def test_read_paths_expands_folders_and_reports_bad_files(tmp_path):
    write(tmp_path, "c/SOURCE.md", "# doc\n")
    write(tmp_path, "c/labels_list.txt", "O\nB-PER\n")
    write(tmp_path, "c/ehri_x_stats.txt", "{'entity': {}}\n")
    write(tmp_path, "c/annotation.conf", "[entities]\n")
    write(tmp_path, "c/train.txt", "EU B-ORG\n")
    write(tmp_path, "c/brat/d1.txt", BRAT_TXT)
    write(tmp_path, "c/brat/d1.ann", BRAT_ANN)
    write(tmp_path, "c/sub/notes.txt", "justoneword\n")
    report = Report()
    out = read_paths([tmp_path / "c"], None, report)
    assert [(Path(p).relative_to(tmp_path).as_posix(), fmt) for p, _, fmt in out] == [
        ("c/brat/d1.txt", "brat"), ("c/train.txt", "conll")]
    errors = [(p.code, Path(p.file).name) for p in report.errors]
    assert errors == [("E102", "notes.txt")]


def test_read_paths_raises_only_when_nothing_is_read(tmp_path):
    write(tmp_path, "bad/a.txt", "justoneword\n")
    write(tmp_path, "bad/b.txt", "another\n")
    report = Report()
    with pytest.raises(CorpusError, match=r"\[E102\].*a\.txt"):
        read_paths([tmp_path / "bad"], None, report)
    assert [(p.code, Path(p.file).name) for p in report.problems] == [("E102", "b.txt")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=r"\[E113\].*no corpus file"):
        read_paths(tmp_path / "empty", None, Report())
    report = Report()
    out = read_paths([tmp_path / "missing.txt", write(tmp_path, "ok.txt", "EU B-ORG\n")], None, report)
    assert len(out) == 1 and [p.code for p in report.problems] == ["E101"]


# ---------------------------------------------------------------------------------------------- words


def test_split_words_rule():
    def words(text):
        return [text[s:e] for s, e in split_words(text)]

    assert words("Hello, U.S. world!") == ["Hello", ",", "U", ".", "S", ".", "world", "!"]
    assert words("«Укртрансгаз» 29") == ["«", "Укртрансгаз", "»", "29"]
    assert words("中\u200b国ソニーの") == ["中\u200b", "国", "ソ", "ニ", "ー", "の"]
    assert words("a\u00a0b \u200bc") == ["a", "b", "\u200bc"]
    assert words("का\u200dम e\u0301t") == ["का\u200dम", "e\u0301t"]
    assert words("ไทย") == ["ไ", "ท", "ย"]
    assert split_words("ሰላም አበበ") == [(0, 3), (4, 7)]


def test_locate_and_resolve_overlaps():
    text = "New York City"
    starts, ends = word_index(split_words(text))
    assert locate_span(text, 0, 8, starts, ends) == (0, 2)
    assert locate_span(text, 0, 9, starts, ends) == (0, 2)  # trailing space trimmed
    assert locate_span(text, 1, 8, starts, ends) is None
    kept, dropped = resolve_overlaps([(0, 2, "A"), (0, 3, "B"), (2, 3, "C"), (5, 6, "D")])
    assert kept == [(0, 3, "B"), (5, 6, "D")] and dropped == [(0, 2, "A"), (2, 3, "C")]


# ---------------------------------------------------------------------------------------------- issue 10: readers
# Regression tests with the right values for each "Why" bullet of the readers' half of issue 10.

from core.data.loader import CorpusStream, load_corpus  # noqa: E402


def test_utf16_offsets_after_an_emoji_are_read_with_auto_and_named_when_wrong(tmp_path):
    text = "I ❤️ 🎉 Paris and Ada"  # the emoji 🎉 is 2 UTF-16 code units, 1 character
    s16 = len("I ❤️ 🎉 ".encode("utf-16-le")) // 2
    recs = [{"data": {"text": text}, "annotations": [{"result": [
        {"value": {"start": s16, "end": s16 + 5, "text": "Paris", "labels": ["LOC"]}},
        {"value": {"start": s16 + 10, "end": s16 + 13, "text": "Ada", "labels": ["PER"]}}]}]}]
    path = write(tmp_path, "ls.json", json.dumps(recs, ensure_ascii=False))
    report = Report()
    sents, fmt = read_file(path, ReadOptions(), report)
    assert fmt == "labelstudio"
    assert [t for t, g in zip(sents[0].tokens, sents[0].ner_tags) if g != "O"] == ["Paris", "Ada"]
    assert codes(report) == ["W132"] and "UTF-16 code units" in report.problems[0].message
    report = Report()
    sents, _ = read_file(path, ReadOptions(offset_unit="utf16"), report)
    assert report.problems == [] and sents[0].ner_tags.count("O") == len(sents[0].tokens) - 2
    report = Report()
    read_file(path, ReadOptions(offset_unit="char"), report)  # the old reading: off by one, then out of range
    assert codes(report) == ["E110", "E108"]
    assert all("it matches as UTF-16 code units" in p.message for p in report.problems)


def test_a_span_that_matches_under_no_unit_is_an_error_showing_its_text(tmp_path):
    text = json.dumps({"text": "Ada 🎉 met Bob", "entities": [{"start": 0, "end": 3, "label": "PER", "text": "Ada"},
                                                          {"start": 9, "end": 12, "label": "PER", "text": "Zed"}]},
                      ensure_ascii=False)
    sents, _, report = read(tmp_path, "x.jsonl", text + "\n")
    assert sents[0].ner_tags[0] == "B-PER"
    [p] = report.errors
    assert p.code == "E110" and p.text == "Zed" and "matches under no offset unit" in p.message


def test_whitespace_only_and_empty_spans_are_warnings_not_errors(tmp_path):
    text = json.dumps({"text": "Ada  met Bob", "label": [[0, 3, "PER"], [3, 5, "PER"], [9, 9, "PER"]]}) + "\n"
    sents, _, report = read(tmp_path, "w.jsonl", text)
    assert sents[0].ner_tags == ["B-PER", "O", "O"]
    assert codes(report) == ["W131", "W131"] and report.errors == []


def test_inline_markup_on_text_without_spaces_is_read_as_inline(tmp_path):
    lines = ["\ufeff我爱[LOC]北京[/LOC]和[PERSON]小明[/PERSON]。", "<PER>阿达</PER>住在<LOC>伦敦</>。",
             "今天天气很好。", '<ENAMEX TYPE="ORG">联合国</ENAMEX>开会[sic]。']
    sents, fmt, report = read(tmp_path, "zh.txt", "\r\n".join(lines) + "\r\n")
    assert fmt == "inline" and len(sents) == 4 and report.problems == []
    assert sents[0].tokens == list("我爱北京和小明。")
    assert sents[0].ner_tags == ["O", "O", "B-LOC", "I-LOC", "O", "B-PERSON", "I-PERSON", "O"]
    assert sents[1].ner_tags[:2] == ["B-PER", "I-PER"] and sents[1].ner_tags[4:6] == ["B-LOC", "I-LOC"]
    assert sents[2].ner_tags == ["O"] * 7
    assert sents[3].tokens[-4:] == ["[", "sic", "]", "。"]  # a bracket that never pairs is text
    assert {t for s in sents for t in s.ner_tags} == {"O", "B-LOC", "I-LOC", "B-PERSON", "I-PERSON", "B-PER",
                                                       "I-PER", "B-ORG", "I-ORG"}


def test_inline_unclosed_tag_is_one_error_and_the_rest_of_the_line_kept(tmp_path):
    text = "[PER]Ada[/PER] met [PER]Bob in [LOC]Rome[/LOC]\n[PER]Cid[/PER] left\n"
    sents, fmt, report = read(tmp_path, "a.txt", text)
    assert fmt == "inline" and [(p.code, p.line) for p in report.problems] == [("E134", 1)]
    assert sents[0].tokens == ["Ada", "met", "Bob", "in", "Rome"]
    assert sents[0].ner_tags == ["B-PER", "O", "O", "O", "B-LOC"] and sents[1].ner_tags == ["B-PER", "O"]


def test_a_stray_tab_line_in_a_space_separated_file_is_one_error(tmp_path):
    text = "Ann B-PER\nlives O\n\nin O\nParis B-LOC \t\n\nBob B-PER\nRome B-LOC\n"
    sents, _, report = read(tmp_path, "s.conll", text)
    assert [(p.code, p.line) for p in report.problems] == [("E103", 5)]
    assert [s.ner_tags for s in sents] == [["B-PER", "O"], ["O", "B-LOC"], ["B-PER", "B-LOC"]]
    assert sents[1].tokens == ["in", "Paris"]


def test_a_line_without_tab_in_a_tab_file_is_one_error(tmp_path):
    text = "Ann\tB-PER\nlives\tO\n\nin O\nParis\tB-LOC\n\nBob\tB-PER\n"
    sents, _, report = read(tmp_path, "t.conll", text)
    assert [(p.code, p.line) for p in report.problems] == [("E103", 4)]
    assert [s.tokens for s in sents] == [["Ann", "lives"], ["in", "Paris"], ["Bob"]]


def test_one_invalid_utf8_byte_is_replaced_on_its_line_only(tmp_path):
    data = "España B-LOC\nes O\n\nКиїв B-LOC\n".encode("utf-8") + b"caf\xe9 O\n\n" + "北京 B-LOC\n".encode("utf-8")
    sents, _, report = read(tmp_path, "u.conll", data)
    assert [s.tokens for s in sents] == [["España", "es"], ["Київ", "caf\ufffd"], ["北京"]]
    assert [(p.code, p.line) for p in report.problems] == [("W130", 5)]


def test_a_file_mostly_not_utf8_is_still_read_as_cp1252(tmp_path):
    data = "España B-LOC\nJosé B-PER\nes O\n".encode("cp1252")
    sents, _, report = read(tmp_path, "l.conll", data)
    assert sents[0].tokens == ["España", "José", "es"] and codes(report) == ["W101"]


def test_json_nested_1000_deep_is_a_coded_error_and_the_good_file_is_kept(tmp_path):
    deep = write(tmp_path, "deep.json", "[" * 1000 + "]" * 1000)
    deep_line = write(tmp_path, "deep.jsonl", '{"tokens": ["A"], "ner_tags": ["O"]}\n'
                      + '{"tokens": ' + "[" * 1000 + "]" * 1000 + "}\n")
    good = write(tmp_path, "good.jsonl", '{"tokens": ["Ada"], "ner_tags": ["B-PER"]}\n')
    corpus = load_corpus([str(deep), str(deep_line), str(good)])
    assert [s.tokens for s in corpus.sentences] == [["A"], ["Ada"]]
    assert ("E132", str(deep_line), 2) in [(p.code, p.file, p.line) for p in corpus.report.problems]
    assert any(p.code == "E132" and p.file == str(deep) for p in corpus.report.problems)
    assert not any(p.code == "E133" for p in corpus.report.problems)


def test_a_png_renamed_conll_is_not_a_text_corpus(tmp_path):
    png = write(tmp_path, "img.conll", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    good = write(tmp_path, "good.conll", "Ada B-PER\n")
    corpus = load_corpus([str(png), str(good)])
    assert [s.tokens for s in corpus.sentences] == [["Ada"]] and corpus.label_list == ["O", "B-PER", "I-PER"]
    [p] = corpus.report.errors
    assert (p.code, p.file) == ("E130", str(png)) and "PNG image" in p.message
    with pytest.raises(CorpusError, match="binary data"):
        read_file(write(tmp_path, "nul.txt", bytes(range(256)) * 4))


def test_weibo_digits_survive_a_bad_first_line_and_never_fire_on_synthetic_tokens(tmp_path):
    chars = "我们在北京大学学习中文很开心今天天气很好明天见"
    weibo = "坏行 O\n" + "".join(f"{c}{i % 2}\tO\n" + ("\n" if i % 6 == 5 else "") for i, c in enumerate(chars))
    sents, _, _ = read(tmp_path, "weibo.conll", weibo)
    assert "".join(t for s in sents for t in s.tokens).endswith(chars)
    synthetic = "".join(f"w{i} O\n" + ("\n" if i % 5 == 4 else "") for i in range(40))
    sents, _, _ = read(tmp_path, "w.conll", synthetic)
    assert sents[0].tokens == ["w0", "w1", "w2", "w3", "w4"]


def test_comment_dialect_is_decided_by_the_majority_not_the_first_line(tmp_path):
    text = "# sent_id = 1\n" + "".join(f"# x O\ntok{i} B-PER\n\n" for i in range(5))
    sents, _, _ = read(tmp_path, "c.conll", text)
    assert sents[1].tokens == ["#", "tok1"]  # '#' is a token here: one key = value line is no dialect


def test_streamed_inspect_equals_load_corpus(tmp_path):
    text = "".join(f"w{i} B-PER\nx I-PER\ny O\nz{i % 3} O\n\n" for i in range(12_000))
    path = write(tmp_path, "big.conll", text + "bad\n")
    corpus = load_corpus([str(path)])
    stream = CorpusStream([str(path)])
    chunks = list(stream)
    assert len(chunks) == 3 and sum(map(len, chunks)) == len(corpus.sentences) == 12_000
    assert [s.ner_tags for c in chunks for s in c] == [s.ner_tags for s in corpus.sentences]
    assert [(p.code, p.line) for p in stream.report.problems] == [(p.code, p.line) for p in corpus.report.problems]
