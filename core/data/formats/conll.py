"""CoNLL-style column files: one token per line, columns separated by TAB or spaces, blank line between sentences.

Rules (CoNLL-2002/2003 shared-task format, Tjong Kim Sang 2002/2003, and the dialects met in real corpora):

* **Separator, by the majority of lines.** When more than half of the sampled data lines hold a TAB the file is
  TAB separated and lines are split on TAB only (KLUE has tokens that are a literal space; trailing empty fields
  such as GermEval's one trailing TAB are dropped). Otherwise lines are split on runs of ``' '``. A line that
  breaks the file's rule -- a TAB in a space-separated file, a TAB-less line in a TAB file -- is split on TABs
  and spaces, read when that gives the token and tag columns, and reported once (E103); the sentences around
  it are untouched. ``str.split()`` is never used: it also splits on NBSP, U+2000-U+200A and other characters
  found *inside* tokens.
* **Columns.** Token column ``options.token_col`` (default 0), tag column ``options.tag_col`` (default -1, the
  last; conll2003_de has 5 columns and its tag is the last). Files whose first column is a 1-based token index
  (GermEval, UNER ``.iob2``) read the token from column 1 when the defaults are in use; GermEval and UNER read
  the tag from column 2 (GermEval's outer level, UNER's tag; the nested level/extra columns are ignored). The
  expected column count is the most common one in the first lines; a line with another count is reported
  (E103) and kept when it still has the token and tag columns, skipped otherwise; the sentence is kept.
* **Header row.** A first line naming the columns (``token<TAB>tag``, ``word ner``) is skipped (W112).
* **Sentence breaks** are empty or whitespace-only lines (WNUT-17 train separates sentences by a lone TAB);
  CRLF line endings are accepted.
* **Documents.** A ``-DOCSTART-`` line starts a new document (``doc_id = "<file name>#<n>"``), whether a blank
  line follows it (CoNLL-2003) or the next sentence starts on the next line (CoNLL-2002 Dutch).
* **Comments exist only in the dialects that have them**, detected from the majority of the sampled sentences
  (at least half of them start with the dialect's comment line, so one odd line cannot switch it): GermEval 2014
  (``#<TAB>url<TAB>[date]`` before each sentence; the URL becomes ``doc_id``), ``# key = value`` comments
  (UNER ``.iob2``: ``# sent_id``, ``# text``, ``# newdoc id``, ``# lang``), KLUE (``## `` lines; ``## <id><TAB>``
  gives ``sent_id``). Comments are recognised only before a sentence's first token. Everywhere else ``#`` is a
  token (conll2003_en_iobes has 5,762 lines starting with ``#``; WNUT, MasakhaNER, Resume have ``#`` tokens).
* **Language prefixes.** When every token of a sentence starts with the same 2-3 lowercase letter code and a
  colon (PAN-X/XTREME ``en:London``), the prefix is removed once from the left and becomes the sentence's
  ``lang`` (``lang_source = "prefix"``); tokens such as ``en::`` keep their own colons.
* **Weibo segment digits.** When at least 90% of the sampled tokens are one character followed by its position
  in its word segment (``中0 国1``; positions restart at 0 and count up, checked on 90% of them) and most of
  those characters belong to a script written without spaces (Han, Kana, Thai: :func:`core.data.formats.words.
  is_unspaced`), the digits are removed and only the character is kept, as Weibo NER's SOURCE.md advises (Peng
  & Dredze 2015 add the position as a feature; it is not part of the text). Synthetic tokens such as
  ``w0 w1 w2`` never switch the rule on; one bad line in the first sentences never switches it off.
* **Nested tags** ``outer#inner`` (UNER Danish column 4) keep the outer level; one W103 gives the count.
* Tags failing :func:`core.data.schemes.is_valid_tag` are reported (E104) and read as ``O``; surrounding whitespace
  of a tag is ignored. Empty tokens are kept and reported (W109).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import chain, islice, takewhile
from pathlib import Path
from typing import Iterable, Iterator

from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import CorpusError, Report
from core.data.schemes import is_valid_tag
from core.data.formats.words import is_unspaced

_ANY_SEP = re.compile(r"[ \t]+")
_KV_COMMENT = re.compile(r"#\s*([A-Za-z][\w .-]*?)\s*=\s?(.*)$")
_SAMPLE_LINES = 3000
_HEADER_TOKEN = {"token", "tokens", "word", "words", "form", "text", "char"}
_HEADER_TAG = {"tag", "tags", "ner", "ner_tag", "ner_tags", "label", "labels", "ne_tag", "entity", "bio", "iob"}


@dataclass
class _Dialect:
    sep: str = " "
    comments: str | None = None  # "germeval" | "kv" | "klue" | None
    ncols: int = 2
    token_col: int = 0
    tag_col: int = -1
    id_col: bool = False
    segment_digits: bool = False
    header: str | None = None  # the header row, skipped (W112)


def _fields(line: str, sep: str) -> list[str]:
    parts = line.split(sep)
    if sep == " ":
        if "" in parts:
            parts = [x for x in parts if x]
    else:
        while len(parts) > 1 and not parts[-1].strip():
            parts.pop()
    return parts


def _is_comment(line: str, comments: str | None, id_col: bool) -> bool:
    """Whether a line at a sentence start is a comment of the file's dialect."""
    if comments == "klue":
        return line.startswith("## ")
    if comments == "germeval":
        return line.startswith("#\t")
    if comments == "kv":
        return (id_col and line.startswith("#")) or _KV_COMMENT.match(line) is not None
    return False


def _segment_stem(tok: str) -> str | None:
    """``'中0' -> '中'``; None when the token is not a character followed by a segment position."""
    if len(tok) >= 2 and tok[1:].isdigit() and tok[1:].isascii():
        return tok[0]
    stem = tok.rstrip("0123456789")
    if stem and stem != tok:
        return stem
    return None


def _sniff(lines: list[str], options: ReadOptions) -> _Dialect:
    d = _Dialect()
    content = [ln for ln in lines[:_SAMPLE_LINES] if ln and not ln.isspace()]
    if not content:
        return d
    # TAB-separated when most lines hold a TAB (KLUE's '## ' header lines hold none, its data lines do)
    voters = [ln for ln in content if ln[0] != "#"] or content  # comment lines hold no columns
    n_tab = sum(1 for ln in voters if "\t" in ln)
    d.sep = "\t" if 2 * n_tab > len(voters) else " "
    d.comments = _comment_dialect(lines[:_SAMPLE_LINES], d.sep)
    data = [ln for ln in content if not _is_comment(ln, d.comments, False)]
    if not data:
        return d
    # a header row ("token<TAB>tag") is not a token line
    head = [f.strip().lower() for f in _fields(data[0], d.sep)]
    if len(head) >= 2 and head[0] in _HEADER_TOKEN and head[-1] in _HEADER_TAG:
        d.header = data[0]
    counts: Counter[int] = Counter()
    for ln in data[:500]:
        if ln.startswith("-DOCSTART-") or ln is d.header:
            continue
        counts[len(_fields(ln, d.sep))] += 1
    d.ncols = counts.most_common(1)[0][0] if counts else 2
    # 1-based index column: by the majority of the sampled token lines (one bad line cannot switch it off; an id
    # that continues the previous line's id across a stray blank line counts as in order)
    if d.ncols >= 3:
        expected, last_id, n_lines, n_ok = 1, -1, 0, 0
        for ln in lines[:_SAMPLE_LINES]:
            if not ln or ln.isspace():
                expected = 1
                continue
            if (expected == 1 and _is_comment(ln, d.comments, True)) or ln.startswith("-DOCSTART-") \
                    or ln is d.header:
                continue
            first = _fields(ln, d.sep)[0]
            n_lines += 1
            ok = first == str(expected) or (first.isdigit() and first.isascii() and int(first) == last_id + 1)
            n_ok += ok
            last_id = int(first) if ok else -1
            expected = (last_id + 1) if ok else expected + 1
        d.id_col = n_lines >= 2 and n_ok >= 0.9 * n_lines
    d.token_col = options.token_col
    d.tag_col = -1 if options.tag_col is None else options.tag_col
    if (d.token_col, d.tag_col) == (0, -1):
        if d.id_col:
            d.token_col = 1
            if d.comments in ("germeval", "kv") and d.ncols >= 4:
                d.tag_col = 2
    # Weibo segment digits: most sampled tokens are a character + its position in the word segment
    n_tok = n_seg = n_unspaced = n_pos_ok = 0
    prev = -1
    for ln in lines[:_SAMPLE_LINES]:
        if not ln or ln.isspace():
            prev = -1
            continue
        if _is_comment(ln, d.comments, d.id_col) or ln.startswith("-DOCSTART-") or ln is d.header:
            continue
        parts = _fields(ln, d.sep)
        if len(parts) <= max(d.token_col, -d.tag_col - 1 if d.tag_col < 0 else d.tag_col):
            continue
        tok = parts[d.token_col]
        n_tok += 1
        if len(tok) >= 2 and tok[1:].isdigit() and tok[1:].isascii():
            n_seg += 1
            n_unspaced += is_unspaced(tok[0])
            pos = int(tok[1:])
            n_pos_ok += pos == 0 or pos == prev + 1
            prev = pos
        else:
            prev = -1
        if n_tok >= 1000:
            break
    d.segment_digits = (n_tok >= 20 and n_seg >= 0.9 * n_tok and n_pos_ok >= 0.9 * n_seg
                        and 2 * n_unspaced > n_seg)
    return d


def _comment_dialect(sample: list[str], sep: str) -> str | None:
    """The comment dialect of a file: the one whose comment line starts at least half of the sampled sentences.

    ``klue`` (``## `` lines, TAB files only: in a space-separated file ``## CD I-NP O`` is a token line, as in
    conll2003_en_iobes), ``germeval`` (``#<TAB>`` followed by a ``1<TAB>...`` token line), ``kv``
    (``# key = value``). A sentence's leading lines up to its first token line are its comment lines.
    """
    votes: Counter[str] = Counter()
    n_sent = 0
    block: list[str] = []
    for ln in sample + [""]:
        if ln and not ln.isspace():
            block.append(ln)
            continue
        if not block:
            continue
        head = list(takewhile(lambda b: b.startswith("#"), block))[:8]
        data_line = block[len(head)] if len(head) < len(block) else ""
        if not block[0].startswith("-DOCSTART-"):
            n_sent += 1
            found = set()
            for c in head:
                if c.startswith("## ") and sep == "\t":
                    found.add("klue")
                elif c.startswith("#\t") and data_line.split("\t")[0] == "1":
                    found.add("germeval")
                elif _KV_COMMENT.match(c):
                    found.add("kv")
            votes.update(found)
        block = []
    if not votes:
        return None
    dialect, n = votes.most_common(1)[0]
    return dialect if 2 * n >= n_sent else None


def _strip_lang_prefix(tokens: list[str]) -> tuple[list[str], str | None]:
    """Remove a shared ``xx:`` prefix (2-3 lowercase ASCII letters) from every token."""
    t0 = tokens[0]
    c = t0.find(":")
    if c not in (2, 3):
        return tokens, None
    code = t0[:c]
    if not (code.isascii() and code.isalpha() and code.islower()):
        return tokens, None
    pre = t0[:c + 1]
    for t in tokens:
        if not t.startswith(pre):
            return tokens, None
    n = c + 1
    return [t[n:] for t in tokens], code


def read(path: str, text: str, options: ReadOptions, report: Report) -> list[Sentence]:
    """Read a CoNLL-style column file (rules in the module docstring).

    Args:
        path: the file (for provenance and problems).
        text: its decoded content.
        options: ``token_col``/``tag_col`` choose the columns.
        report: receives E103 (column count), E104 (invalid tag), W103 (nested tags), W109 (empty token),
            W112 (skipped line).

    Returns:
        Sentences with the file's raw tags, ``line_start``/``line_end`` 1-based.

    Raises:
        CorpusError: E103 when the chosen token/tag column does not exist in the file.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return list(iter_sentences(path, text.split("\n"), options, report))


def iter_sentences(path: str, lines: Iterable[str], options: ReadOptions, report: Report) -> Iterator[Sentence]:
    """Stream the sentences of a CoNLL-style file from its lines (rules in the module docstring).

    Memory is bounded by the dialect sample (the first 3,000 lines) and the longest sentence, so a file of any
    size can be inspected (:func:`core.data.formats.textio.iter_lines` gives the lines).

    Args:
        path: the file (for provenance and problems).
        lines: its lines, without line ends.
        options: ``token_col``/``tag_col`` choose the columns.
        report: as :func:`read`.

    Yields:
        Sentences with the file's raw tags, in file order.

    Raises:
        CorpusError: E103 when the chosen token/tag column does not exist in the file (before the first sentence).
    """
    it = iter(lines)
    head = list(islice(it, _SAMPLE_LINES))
    d = _sniff(head, options)
    ncols, tc, gc, sep = d.ncols, d.token_col, d.tag_col, d.sep
    if not (-ncols <= tc < ncols) or not (-ncols <= gc < ncols):
        raise CorpusError("E103", f"column {tc if not -ncols <= tc < ncols else gc} does not exist: the lines "
                          f"have {ncols} columns", file=path)
    need = max(tc if tc >= 0 else -tc - 1, gc if gc >= 0 else -gc - 1) + 1
    fname = Path(path).name
    comments, id_col, seg, header = d.comments, d.id_col, d.segment_digits, d.header
    valid: dict[str, str] = {}  # raw tag -> tag to use (valid ones map to themselves)
    nested = 0
    nested_first: tuple[int, str] | None = None

    toks: list[str] = []
    tags: list[str] = []
    start = 0
    doc_id: str | None = None
    ndoc = 0
    sent_id: str | None = None
    lang: str | None = None
    comment_doc: str | None = None

    def flush(last: int) -> Sentence | None:
        nonlocal toks, tags, sent_id, lang
        if not toks:
            return None
        s_lang, s_source = "und", "none"
        if lang:
            s_lang, s_source = lang, "comment"
        if ":" in toks[0]:
            stripped, code = _strip_lang_prefix(toks)
            if code is not None:
                toks, s_lang, s_source = stripped, code, "prefix"
        out = Sentence(toks, tags, lang=s_lang, lang_source=s_source,
                       doc_id=doc_id if comment_doc is None else comment_doc, source=path,
                       line_start=start, line_end=last, sent_id=sent_id)
        toks, tags = [], []
        sent_id = lang = None
        return out

    i = 0
    for i, line in enumerate(chain(head, it), 1):
        try:
            if not line or line.isspace():
                if toks:
                    yield flush(i - 1)
                continue
            if not toks and comments is not None and line[0] == "#" and _is_comment(line, comments, id_col):
                if comments == "klue":
                    sent_id = line[3:].split("\t", 1)[0].strip() or sent_id
                elif comments == "germeval":
                    comment_doc = line.split("\t")[1].strip() if line.count("\t") >= 1 else None
                else:
                    m = _KV_COMMENT.match(line)
                    if m:
                        key, val = m.group(1).strip().lower(), m.group(2).strip()
                        if key == "sent_id":
                            sent_id = val
                        elif key in ("newdoc id", "newdoc", "doc_id"):
                            comment_doc = val or None
                        elif key in ("lang", "language"):
                            lang = val or None
                continue
            if header is not None and line == header:
                header = None
                report.add("W112", "header row skipped", file=path, line=i, text=line)
                continue
            if line[0] == "-" and line.startswith("-DOCSTART-"):
                if toks:
                    yield flush(i - 1)
                ndoc += 1
                doc_id = f"{fname}#{ndoc}"
                comment_doc = None
                continue
            if sep == " ":
                if "\t" in line:  # a TAB in a space-separated file: split on both, one E103
                    parts = [x for x in _ANY_SEP.split(line) if x]
                    if len(parts) >= need and len(parts) >= 2:
                        report.add("E103", "a TAB in a space-separated file; the line was split on TABs and "
                                   "spaces", file=path, line=i, text=line)
                else:
                    parts = line.split(" ")
                    if "" in parts:
                        parts = [x for x in parts if x]
            else:
                parts = line.split("\t")
                if not parts[-1]:
                    while len(parts) > 1 and not parts[-1].strip():
                        parts.pop()
                if len(parts) < 2 and " " in line:  # no TAB in a TAB-separated file: try the spaces, one E103
                    alt = [x for x in line.split(" ") if x]
                    if len(alt) >= need and len(alt) >= 2:
                        report.add("E103", "a line without TAB in a TAB-separated file; it was split on spaces",
                                   file=path, line=i, text=line)
                        parts = alt
            if len(parts) != ncols:
                if len(parts) < need or len(parts) < 2:
                    report.add("E103", f"{len(parts)} column(s) where the file has {ncols}; the line was "
                               "skipped, the rest of the sentence kept", file=path, line=i, text=line)
                    continue
                report.add("E103", f"{len(parts)} columns where the file has {ncols}; token and tag were read "
                           f"from columns {tc} and {gc}", file=path, line=i, text=line)
            tok = parts[tc]
            tag = parts[gc]
            use = valid.get(tag)
            if use is None:
                use = _check_tag(tag)
                if use is None:
                    report.add("E104", f"invalid tag {tag!r}; read as O", file=path, line=i, text=line)
                    use = "O"
                else:
                    valid[tag] = use
            if use is not tag and "#" in tag and use != tag.strip():
                nested += 1
                if nested_first is None:
                    nested_first = (i, line)
            if not toks:
                start = i
            if seg:
                stem = _segment_stem(tok)
                if stem is not None:
                    tok = stem
            elif not tok:
                report.add("W109", "empty token", file=path, line=i, text=line)
            toks.append(tok)
            tags.append(use)
        except (ValueError, IndexError, TypeError, AttributeError) as exc:  # defensive: never crash on data
            report.add("E103", f"line could not be read ({type(exc).__name__}: {exc}); skipped", file=path,
                       line=i, text=line)
    if toks:
        yield flush(i)
    if nested:
        report.add("W103", f"{nested} nested tag(s) 'outer#inner' read as their outer level", file=path,
                   line=nested_first[0] if nested_first else 0, text=nested_first[1] if nested_first else "")


def _check_tag(tag: str) -> str | None:
    """The tag to use for a raw tag: itself, stripped, or the outer level of ``outer#inner``; None if invalid."""
    if is_valid_tag(tag):
        if "#" in tag:
            outer, _, inner = tag.partition("#")
            if outer and inner and is_valid_tag(outer) and is_valid_tag(inner) and "#" not in inner:
                return outer
        return tag
    stripped = tag.strip()
    if stripped != tag and stripped and is_valid_tag(stripped):
        return _check_tag(stripped)
    return None
