"""Scoring one corpus of predictions against a gold corpus: sentences matched in order, tokens compared after
Unicode NFC normalisation, tags scored as the files had them (:func:`core.eval.metrics.evaluate`).

Why NFC: the same Yoruba or Vietnamese word can be stored precomposed (``ẹ́`` as one code point, NFC) or
decomposed (a base letter plus combining marks, NFD); tools differ in which they write. Both are the same text
(Unicode canonical equivalence, UAX #15), so gold and predictions are compared on their NFC forms; the tokens
shown (errors, pages) stay the gold file's own, and the number of tokens that only matched after normalisation
is reported as ``normalised_tokens``.
"""

from __future__ import annotations

import unicodedata
from typing import Sequence

from core.data.corpus import Sentence
from core.eval.metrics import DEFAULT_MODE, evaluate, source_tags
from core.kernel.errors import CorpusError


def _nfc(tok: str) -> str:
    return unicodedata.normalize("NFC", tok)


def match_tokens(gold: Sequence[Sentence], pred: Sequence[Sentence]) -> int:
    """Check that ``pred`` holds the gold sentences in order with the same tokens, up to NFC.

    Returns:
        The number of tokens whose code points differ but whose NFC forms are equal.

    Raises:
        CorpusError: E107 (with the prediction file and line) when the sentence counts differ, or a sentence's
            tokens differ even after NFC normalisation (the first differing token is shown).
    """
    if len(gold) != len(pred):
        where = pred[-1] if pred else None
        raise CorpusError("E107", f"gold has {len(gold)} sentences but predictions have {len(pred)}",
                          file=where.source if where else "", line=where.line_end if where else 0,
                          fix="Predictions must hold the gold sentences in the same order.")
    normalised = 0
    for i, (g, p) in enumerate(zip(gold, pred)):
        if g.tokens == p.tokens:
            continue
        if len(g.tokens) == len(p.tokens):
            diff = [j for j, (a, b) in enumerate(zip(g.tokens, p.tokens)) if a != b]
            if all(_nfc(g.tokens[j]) == _nfc(p.tokens[j]) for j in diff):
                normalised += len(diff)
                continue
            j = next(j for j in diff if _nfc(g.tokens[j]) != _nfc(p.tokens[j]))
            detail = f"token {j + 1} is {p.tokens[j]!r} but gold has {g.tokens[j]!r} (compared in Unicode NFC)"
        else:
            detail = f"{len(p.tokens)} tokens but gold has {len(g.tokens)}"
        raise CorpusError("E107", f"sentence {i + 1} differs between gold and predictions: {detail}",
                          file=p.source, line=p.line_start, text=" ".join(p.tokens[:12]),
                          fix="Predictions must hold the gold sentences in the same order with the same tokens.")
    return normalised


def score_corpora(gold: Sequence[Sentence], pred: Sequence[Sentence], *, mode: str = DEFAULT_MODE,
                  scheme: str | None = None, max_errors: int | None = 0) -> dict:
    """Scores of predicted sentences against gold sentences (the ``score`` command).

    Args:
        gold: gold sentences as loaded (their ``scheme`` and ``raw_tags`` are used).
        pred: predicted sentences, the gold sentences in the same order.
        mode: ``strict`` or ``conlleval``.
        scheme: score both sides in this scheme instead of each file's own.
        max_errors: rows kept in the error list.

    Returns:
        :func:`core.eval.metrics.evaluate`'s dict plus ``normalised_tokens`` and ``n_sentences``.

    Raises:
        CorpusError: E107 as :func:`match_tokens` says; E104 from :func:`core.eval.metrics.evaluate`.
    """
    normalised = match_tokens(gold, pred)
    g_tags, g_schemes = source_tags(gold)
    p_tags, p_schemes = source_tags(pred)
    if scheme is not None:
        g_schemes = p_schemes = [scheme] * len(gold)
    res = evaluate(g_tags, p_tags, [s.lang for s in gold], tokens=[s.tokens for s in gold], max_errors=max_errors,
                   mode=mode, scheme=g_schemes, pred_scheme=p_schemes)
    res["normalised_tokens"] = normalised
    res["n_sentences"] = len(gold)
    return res
