"""Fuzzing the readers: hypothesis-generated hostile input and single-line injections into real corpora.

Properties: no reader raises anything but a coded ``CorpusError`` (and no E133, the safety net for reader bugs,
is ever needed); after one bad line is injected into a sentence of a real file, every other sentence of the file
is read back unchanged (tokens and tags). Real corpora come from ``../shared/data`` (never copied into the
repository); those cases are skipped with the reason when the folder is absent. About 30 s in all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.data.corpus import ReadOptions
from core.data.formats import read_paths
from core.data.loader import load_corpus
from core.kernel.errors import CorpusError, Report

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # ../shared/data of the checkout
if not DATA.is_dir():  # a git worktree one level deeper than the main checkout
    DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
REAL = ["conll2002_es_nl/esp.testa", "germeval2014/NER-de-dev.tsv", "zh_weibo_ner/weiboNER_2nd_conll.dev",
        "ko_klue_ner/klue-ner-v1.1_dev.tsv", "en_wnut17/emerging.dev.conll", "conll2003_de/deu.testa",
        "uner_da_sr/da_ddt-ud-dev.iob2", "masakhaner_v1/amh/dev.txt", "hi_hiner/validation.conll"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                            HealthCheck.too_slow])

# lines a broken export or a careless edit puts into a file (bytes; no line end inside)
HOSTILE = [b"\t", b"Paris B-LOC \t", b"stray", b"a b c d e f g h i j k l", b"\xff\xfe\xe9", b"caf\xe9 O",
           b"# sent_id = 7", b"## x\ty", b"1\t2\t3", b"\x00\x01\x02 O", b"\xef\xbb\xbfBOM O", b"token [SEP]",
           b"<PER>Ada</PER> O", b"[[[[[[", b'{"tokens": [[[[', b"\x1b[31m B-PER", b"\xe4\xb8 B-LOC", b"x\ry O"]


def _real_sentences(rel: str, n_sentences: int = 60) -> bytes | None:
    path = DATA / rel
    if not path.is_file():
        return None
    raw = path.read_bytes()
    blocks, count, pos = [], 0, 0
    while count < n_sentences:
        nxt = raw.find(b"\n\n", pos)
        if nxt == -1:
            break
        blocks.append(raw[pos:nxt + 2])
        pos = nxt + 2
        count += 1
    return b"".join(blocks)


def _signature(sentences) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    return [(tuple(s.tokens), tuple(s.ner_tags)) for s in sentences]


def _load(path: Path):
    report = Report()
    try:
        out = read_paths([path], ReadOptions(), report)
    except CorpusError as exc:
        return [], [exc.problem.code]
    codes = [p.code for p in report.problems]
    return [s for _, sents, _ in out for s in sents], codes


@pytest.mark.parametrize("rel", REAL)
def test_one_bad_line_keeps_the_other_sentences_unchanged(rel, tmp_path):
    base = _real_sentences(rel)
    if base is None:
        pytest.skip(f"shared corpus {rel} not found under {DATA}: the real corpora are never copied into the repo")
    name = Path(rel).name
    (tmp_path / name).write_bytes(base)
    good, codes = _load(tmp_path / name)
    assert good and "E133" not in codes
    lines = base.split(b"\n")

    @SETTINGS
    @given(st.integers(0, len(lines) - 1), st.sampled_from(HOSTILE))
    def check(at: int, bad: bytes) -> None:
        if not lines[at].strip() or lines[at].startswith((b"#", b"-DOCSTART-")):
            return  # inject inside a sentence only: the property is about the sentences around it
        mutated = b"\n".join(lines[:at + 1] + [bad] + lines[at + 1:])
        path = tmp_path / f"m_{name}"
        path.write_bytes(mutated)
        got, codes = _load(path)
        assert "E133" not in codes
        line_no = at + 2  # 1-based line of the injected line
        others = [sig for s, sig in zip(good, _signature(good)) if not s.line_start <= line_no - 1 <= s.line_end]
        remaining = iter(_signature(got))
        missing = [sig for sig in others if sig not in remaining]  # an ordered subsequence
        assert not missing, f"{len(missing)} good sentence(s) changed or lost after injecting {bad!r} at {line_no}"

    check()


_JSON_BITS = st.recursive(st.none() | st.booleans() | st.integers(-5, 50) | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                              st.sampled_from(["text", "tokens", "ner_tags", "label", "entities", "spans", "start",
                                               "end", "data", "annotations", "paragraphs", "labels", "type"]),
                              inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_JSON_BITS, min_size=1, max_size=4), st.sampled_from([".jsonl", ".json", ".txt"]))
def test_random_json_records_never_crash_a_reader(tmp_path, records, suffix):
    path = tmp_path / f"r{suffix}"
    text = "\n".join(json.dumps(r) for r in records) if suffix != ".json" else json.dumps(records)
    path.write_text(text, encoding="utf-8")
    _sentences, codes = _load(path)
    assert "E133" not in codes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600), st.sampled_from([".conll", ".txt", ".jsonl", ".json", ".csv", ".tsv"]))
def test_random_bytes_never_crash_a_reader_and_never_lose_a_good_file(tmp_path, data, suffix):
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(data)
    good = tmp_path / "good.conll"
    good.write_text("Ada B-PER\nLovelace I-PER\n", encoding="utf-8")
    corpus = load_corpus([str(bad), str(good)], ReadOptions(detect_lang=False))
    assert ["Ada", "Lovelace"] in [s.tokens for s in corpus.sentences]
    assert "E133" not in [p.code for p in corpus.report.problems]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list("[]</>PERLOC ab北京\n")), max_size=80))
def test_random_inline_markup_never_crashes(tmp_path, text):
    path = tmp_path / "i.txt"
    path.write_text(text, encoding="utf-8")
    for fmt in ("inline", None):
        report = Report()
        try:
            read_paths([path], ReadOptions(format=fmt, detect_lang=False), report)
        except CorpusError:
            continue
        assert "E133" not in [p.code for p in report.problems]
