"""Every real corpus in ../shared/data is read with the counts its SOURCE.md states.

The cases are built at collection time from ``../shared/data/INDEX.md`` (one case per corpus folder row of each
folder's ``SOURCE.md`` "Files and counts" table: sentences, tokens, entity mentions, documents; blank cells are
not checked). The data are third-party and never copied into the repository: without the folder (a fresh
clone) the test is skipped with the reason.

How counts are compared:

* Token formats: entity mentions are the chunks of the tags after converting the file's detected scheme to IOB2
  (:func:`core.data.schemes.to_iob2` with :func:`core.data.schemes.detect_scheme` over the file, then
  :func:`core.data.schemes.entities`), as SOURCE.md computed them. The report must hold no error.
* Span formats (doccano, spans, BRAT, HAREM): SOURCE.md counts every annotation in the file, including nested,
  discontinuous, ambiguous and misaligned ones that flat IOB2 cannot hold. The readers keep one flat level and
  report every span they drop, so the comparable number is ``kept + dropped as reported`` (W103 and W115 give
  counts, each E104/E108/E109/E110/W131 is one span); a lost span that is not reported fails the test. Likewise
  records skipped for empty text are reported (W112) and counted back for the sentence count.
* ``documents``: distinct ``(source, doc_id)`` pairs (a MultiLeg file or a BRAT document is one document).
* :data:`DEVIATIONS` lists the counts SOURCE.md defines differently, with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.kernel.errors import CODES, Report
from core.data.formats import read_file, read_paths
from core.data.schemes import detect_scheme, entities, to_iob2

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

# folder -> (file row or None for every row, {count: added to SOURCE.md's number}, reason)
DEVIATIONS: dict[str, tuple[str | None, dict[str, int], str]] = {
    "ko_klue_ner": (
        "klue-ner-v1.1_dev.tsv", {"sentences": 1, "tokens": 70, "entities": 6},
        "SOURCE.md left out the first blank-line block as 'format description', but that block holds the 5 '## ' "
        "header lines *and* sentence klue-ner-v1_dev_00000 (70 characters, 6 entities); the reader skips the "
        "header lines and keeps the sentence.",
    ),
}

SPAN_FORMATS = {"doccano", "labelstudio", "spans", "brat", "harem"}


@dataclass
class Row:
    folder: str
    file: str
    documents: int | None
    sentences: int | None
    tokens: int | None
    entities: int | None


def _num(cell: str) -> int | None:
    cell = cell.strip().replace(",", "")
    return int(cell) if cell.isdigit() else None


def _rows(folder: str) -> list[Row]:
    """Rows of the "Files and counts" table of ``folder/SOURCE.md``."""
    text = (DATA / folder / "SOURCE.md").read_text(encoding="utf-8")
    section = text.split("## Files and counts", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6 or cells[0] in ("file", "") or set(cells[0]) <= set("-: "):
            continue
        rows.append(Row(folder, cells[0], _num(cells[2]), _num(cells[3]), _num(cells[4]), _num(cells[5])))
    return rows


def _index_folders() -> list[str]:
    """Corpus folder names of INDEX.md's table (first column; the header row is left out)."""
    index = (DATA / "INDEX.md").read_text(encoding="utf-8")
    return [f for f in re.findall(r"^\| ([a-z0-9_]+) \|", index, flags=re.M) if f != "folder"]


def _cases() -> list:
    if not (DATA / "INDEX.md").is_file():
        return [pytest.param(None, id="no-shared-data",
                             marks=pytest.mark.skip(reason=f"shared corpora not found at {DATA} (../shared/data "
                                                    "relative to the repository root); they are never copied "
                                                    "into the repository"))]
    cases = []
    for folder in _index_folders():
        for row in _rows(folder):
            cases.append(pytest.param(row, id=f"{folder}/{row.file}"))
    return cases


CASES = _cases()


def _dropped(report: Report, fmt_is_span: bool) -> int:
    """Spans a reader reported as dropped (see the module docstring)."""
    n = 0
    for p in report.problems:
        if p.code == "W103":
            m = re.match(r"(\d+) overlapping or nested span", p.message)
            n += int(m.group(1)) if m else 0
        elif p.code == "W115":
            m = re.search(r"(\d+) entities (of other|without)", p.message)
            n += int(m.group(1)) if m else 0
        elif p.code == "E109":
            n += 1
        elif p.code == "W131":  # empty or whitespace-only spans: dropped with a warning (issue 10)
            m = re.search(r"(\d+) entities cover only whitespace", p.message)
            n += int(m.group(1)) if m else 1
        elif p.code in ("E104", "E108", "E110") and fmt_is_span:
            n += 1
    return n


def test_index_lists_every_folder() -> None:
    """Every corpus folder of INDEX.md has a SOURCE.md with a counts table (else its cases would vanish)."""
    if not (DATA / "INDEX.md").is_file():
        pytest.skip(f"shared corpora not found at {DATA}")
    folders = _index_folders()
    assert len(folders) >= 29
    for folder in folders:
        assert _rows(folder), f"{folder}/SOURCE.md has no 'Files and counts' rows"


@pytest.mark.parametrize("row", CASES)
def test_shared_corpus_counts(row: Row) -> None:
    path = DATA / row.folder / row.file
    report = Report(max_per_code=10**9)  # keep every problem: dropped spans are counted from them
    if path.is_dir():
        results = read_paths([path], None, report)
    else:
        sentences, fmt = read_file(path, None, report)
        results = [(str(path), sentences, fmt)]
    assert results, f"nothing read from {path}: {report.problems[:3]}"
    formats = {fmt for _, _, fmt in results}
    is_span = bool(formats & SPAN_FORMATS)
    for p in report.problems:
        assert p.code in CODES
    if not is_span:
        assert report.ok, f"errors reading a token-format corpus: {[str(p) for p in report.errors[:5]]}"

    got = {"documents": 0, "sentences": 0, "tokens": 0, "entities": 0}
    docs = set()
    for _, sentences, _ in results:
        scheme = detect_scheme(s.ner_tags for s in sentences)
        got["sentences"] += len(sentences)
        got["tokens"] += sum(len(s.tokens) for s in sentences)
        got["entities"] += sum(len(entities(to_iob2(s.ner_tags, scheme)[0])) for s in sentences)
        docs.update((s.source, s.doc_id) for s in sentences)
        for s in sentences:
            assert len(s.tokens) == len(s.ner_tags) and s.tokens, s.where
    got["documents"] = len(docs)
    if is_span:
        got["entities"] += _dropped(report, True)
        got["sentences"] += report.count("W112")

    expected = {"documents": row.documents, "sentences": row.sentences, "tokens": row.tokens,
                "entities": row.entities}
    dev = DEVIATIONS.get(row.folder)
    if dev is not None and dev[0] in (None, row.file):
        for key, delta in dev[1].items():
            expected[key] += delta
    if is_span:
        expected["tokens"] = None  # SOURCE.md has no token count for raw text: words are the studio's own split
    for key, want in expected.items():
        if want is not None:
            assert got[key] == want, f"{key}: read {got[key]}, SOURCE.md says {want} ({formats})"
