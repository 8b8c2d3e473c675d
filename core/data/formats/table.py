"""Token tables: a header row, then one token per row with a sentence-id column.

Layouts (Kaggle "Annotated Corpus for NER" ``ner_dataset.csv``: ``Sentence #,Word,POS,Tag`` with the id on a
sentence's first row only; ATISNER ``Sentence #<TAB>Word<TAB>Tag`` with ``Sentence: N`` on every row):

* Columns are found by header name, case-insensitively: sentence id (``Sentence #``, ``sentence_id``,
  ``sentence``, ``sent_id``, ...), token (``Word``, ``token``, ``form``), tag (``Tag``, ``ner``, ``label``, ...).
  Without a recognised token/tag header, ``options.token_col``/``options.tag_col`` are used.
* A new sentence starts where the id cell is non-empty and differs from the current sentence's id; an empty
  id cell continues the current sentence (Kaggle); a blank row also ends a sentence. The id becomes ``sent_id``.
* TAB-separated files are read with quoting disabled (``csv.QUOTE_NONE``): tokens are bare ``"`` or ``'``
  (ATISNER, GermEval). Comma/semicolon files use standard CSV quoting (Kaggle quotes ``","`` tokens).
* A row with a different cell count than the header is reported (E103) and kept when the token and tag cells
  exist; an invalid tag is E104 (read as ``O``).
"""

from __future__ import annotations

import csv
import io

from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import CorpusError, Report
from core.data.formats.jsonio import iter_csv_rows
from core.data.schemes import is_valid_tag

_SENT = ("sentence #", "sentence#", "sentence_id", "sentence id", "sentence", "sent_id", "sent id",
         "sentence_idx", "sentence_no", "sentence no", "sent", "sentence_num", "sentence number", "sentenceid",
         "sent_no")
_WORD = ("word", "token", "form", "tok", "tokens", "words")
_TAG = ("tag", "ner", "label", "ner_tag", "entity", "iob", "bio", "ne", "named_entity", "tags", "ner_tags")


def _find(names: list[str], wanted: tuple[str, ...]) -> int | None:
    for w in wanted:
        if w in names:
            return names.index(w)
    return None


def read(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]:
    """Read a token table (rules in the module docstring).

    Args:
        path: the file.
        text: its decoded content.
        options: ``token_col``/``tag_col`` when the header does not name the token/tag columns.
        report: receives E103 (cell count), E104 (invalid tag), W109 (empty token).

    Returns:
        Sentences with raw tags; ``line_start``/``line_end`` are file lines.

    Raises:
        CorpusError: E106 when the header has no sentence-id column.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    head = text.split("\n", 1)[0]
    delim = "\t" if "\t" in head else ("," if "," in head or ";" not in head else ";")
    quoting = csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text), delimiter=delim, quoting=quoting)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise CorpusError("E106", f"no header row ({exc})", file=path, line=1) from exc
    names = [h.strip().strip('"').lower() for h in header]
    sc = _find(names, _SENT)
    if sc is None:
        raise CorpusError("E106", "no sentence-id column in the header", file=path, line=1, text=head,
                          fix="Name the column 'Sentence #' or 'sentence_id', or use the conll format.")
    wc = _find(names, _WORD)
    tc = _find(names, _TAG)
    if wc is None:
        wc = options.token_col if options.token_col != sc else sc + 1
    if tc is None:
        tc = options.tag_col if options.tag_col is not None else -1
    ncols = len(names)
    sentences: list[Sentence] = []
    toks: list[str] = []
    tags: list[str] = []
    cur_id: str | None = None
    start = last = 0
    valid: set[str] = set()

    def flush() -> None:
        nonlocal toks, tags
        if toks:
            sentences.append(Sentence(toks, tags, source=path, line_start=start, line_end=last, sent_id=cur_id))
        toks, tags = [], []

    for line, row in iter_csv_rows(reader, path, report):
        if not row or all(not c.strip() for c in row):
            flush()
            continue
        if len(row) != ncols:
            if len(row) <= max(sc, wc if wc >= 0 else -wc - 1, tc if tc >= 0 else -tc - 1):
                report.add("E103", f"{len(row)} cells where the header has {ncols}; row skipped", file=path,
                           line=line, text=delim.join(row))
                continue
            report.add("E103", f"{len(row)} cells where the header has {ncols}; token and tag read from their "
                       "columns", file=path, line=line, text=delim.join(row))
        sid = row[sc].strip()
        if sid and sid != cur_id:
            flush()
            cur_id = sid
        if not toks:
            start = line
        tok, tag = row[wc], row[tc].strip()
        if tag not in valid:
            if is_valid_tag(tag):
                valid.add(tag)
            else:
                report.add("E104", f"invalid tag {tag!r}; read as O", file=path, line=line, text=delim.join(row))
                tag = "O"
        if not tok:
            report.add("W109", "empty token", file=path, line=line, text=delim.join(row))
        toks.append(tok)
        tags.append(tag)
        last = line
    flush()
    return sentences
