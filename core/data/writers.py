"""Writers: CoNLL (IOB2 or any other scheme) and JSON Lines (``tokens``, ``ner_tags``, ``lang``).

Both round-trip exactly through :func:`core.data.loader.load_corpus`: tokens (spaces, NBSP and zero-width characters
inside them included) and tags come back unchanged. CoNLL is written TAB-separated, two columns, a blank line
between sentences and ``-DOCSTART-`` where the document changes, because a TAB never occurs inside a token
while spaces do (KLUE has tokens that are a single space).
"""

from __future__ import annotations

import json
from typing import Iterable, Sequence

from core.data.corpus import Sentence
from core.kernel.errors import CorpusError
from core.kernel.files import atomic_write
from core.data.schemes import from_iob2


def conll_text(sentences: Iterable[Sentence], scheme: str = "IOB2", docstart: bool = True) -> str:
    """CoNLL text of ``sentences``: ``token<TAB>tag`` lines, blank line after each sentence.

    Args:
        sentences: sentences with IOB2 ``ner_tags``.
        scheme: output scheme (:data:`core.data.schemes.SCHEMES`), IOB2 by default.
        docstart: write a ``-DOCSTART-<TAB>O`` line (then a blank line) where ``doc_id`` changes.

    Raises:
        CorpusError: E111 when a token holds a TAB or a line break, which CoNLL cannot represent.
    """
    out: list[str] = []
    doc = None
    for s in sentences:
        if docstart and s.doc_id is not None and s.doc_id != doc:
            out.append("-DOCSTART-\tO\n\n")
            doc = s.doc_id
        tags = s.ner_tags if scheme == "IOB2" else from_iob2(s.ner_tags, scheme)
        for tok, tag in zip(s.tokens, tags):
            if "\t" in tok or "\n" in tok or "\r" in tok:
                raise CorpusError("E111", "a token holds a TAB or line break, which CoNLL cannot represent",
                                  file=s.source, line=s.line_start, text=tok,
                                  fix="Export as JSONL instead, or remove the character from the token.")
            out.append(f"{tok}\t{tag}\n")
        out.append("\n")
    return "".join(out)


def jsonl_text(sentences: Iterable[Sentence]) -> str:
    """JSON Lines text: one ``{"tokens", "ner_tags", "lang", ...}`` object a line (see Sentence.to_record)."""
    return "".join(json.dumps(s.to_record(), ensure_ascii=False) + "\n" for s in sentences)


def write_corpus(sentences: Sequence[Sentence], path: str, to: str = "conll", scheme: str = "IOB2") -> str:
    """Write sentences to ``path`` as ``conll`` or ``jsonl``, atomically; returns the path.

    Raises:
        CorpusError: E102 for an unknown output format; E111 for tokens CoNLL cannot hold.
    """
    if to == "conll":
        text = conll_text(sentences, scheme=scheme)
    elif to == "jsonl":
        text = jsonl_text(sentences)
    else:
        raise CorpusError("E102", f"unknown output format {to!r}", fix="Use --to conll or --to jsonl.")
    atomic_write(path, text)
    return path
