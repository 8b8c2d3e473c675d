"""HTML for entity highlights, displaCy style, with every piece of corpus text escaped.

Corpus text is untrusted: a token ``<img src=x onerror=alert(1)>`` must show as text. Every fragment that comes
from data (tokens, labels, scores) goes through :func:`html.escape` here, and nowhere else builds such HTML.
The input is displaCy's plain dict ``{"text", "ents": [{"start", "end", "label"}]}`` (character offsets) or
tokens with IOB2 tags.
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import Sequence

from core.data.schemes import entities

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def md_escape(text: object) -> str:
    """``text`` with every Markdown-significant character backslash-escaped, for user or corpus text (dataset,
    run and file names, paths) placed in a Streamlit label, caption or message, which render Markdown: a dataset
    named ``**x**`` or ``[a](javascript:...)`` shows as typed (CommonMark: any ASCII punctuation may be
    backslash-escaped; ``:`` too, which Streamlit reads as emoji and colour shortcodes)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


# Colours for the usual types (colour-blind-friendly pastel palette); other types get a stable hashed colour.
TYPE_COLORS = {
    "PER": "#aec7e8", "ORG": "#ffbb78", "LOC": "#98df8a", "MISC": "#c5b0d5", "GPE": "#98df8a",
    "DATE": "#f7b6d2", "TIME": "#dbdb8d", "MONEY": "#9edae5", "NORP": "#c49c94", "FAC": "#e0c9a6",
}
_EXTRA = ["#ff9896", "#c7c7c7", "#bcbd22", "#17becf", "#e377c2", "#8c564b", "#9467bd", "#d62728"]


def type_color(label: str) -> str:
    """Background colour of an entity type: fixed for common types, a stable hash otherwise."""
    if label in TYPE_COLORS:
        return TYPE_COLORS[label]
    base = label.split(".")[0].split("_")[0].upper()
    if base in TYPE_COLORS:
        return TYPE_COLORS[base]
    h = int(hashlib.md5(label.encode("utf-8")).hexdigest(), 16)
    return _EXTRA[h % len(_EXTRA)]


def tokens_to_doc(tokens: Sequence[str], tags: Sequence[str]) -> dict:
    """displaCy dict from tokens and IOB2 tags: tokens joined by single spaces, entity offsets in characters."""
    starts: list[int] = []
    pos = 0
    for t in tokens:
        starts.append(pos)
        pos += len(t) + 1
    text = " ".join(tokens)
    ents = [{"start": starts[s], "end": starts[e - 1] + len(tokens[e - 1]), "label": typ}
            for typ, s, e in entities(tags)]
    return {"text": text, "ents": ents}


def render_doc(doc: dict, *, marks: dict[int, str] | None = None, rtl: bool = False) -> str:
    """HTML of a displaCy dict; entity boxes coloured by type, label shown after the entity text.

    Args:
        doc: ``{"text", "ents": [{"start", "end", "label", "score"?}]}`` with character offsets (end exclusive);
            overlapping entities: later ones that overlap an earlier one are skipped.
        marks: entity index -> CSS class added to its box (``err-missed``, ``err-spurious``, ``err-type``...).
        rtl: right-to-left text (Arabic, Hebrew): sets ``dir="rtl"``.

    Returns:
        A ``<div class="ner-doc">`` string; all data text HTML-escaped.
    """
    text = doc.get("text", "")
    parts: list[str] = []
    pos = 0
    for i, ent in enumerate(sorted(doc.get("ents", []), key=lambda e: (e["start"], -e["end"]))):
        start, end = int(ent["start"]), int(ent["end"])
        if start < pos or end <= start:
            continue
        parts.append(html.escape(text[pos:start]))
        label = str(ent.get("label", ""))
        score = ent.get("score")
        extra = f" {html.escape(marks.get(i, ''), quote=True)}" if marks and i in marks else ""
        title = html.escape(f"{label} {score:.2f}" if isinstance(score, (int, float)) else label, quote=True)
        score_html = (f'<span class="ner-score">{html.escape(f"{score:.2f}")}</span>'
                      if isinstance(score, (int, float)) else "")
        parts.append(
            f'<mark class="ner-ent{extra}" title="{title}" style="background:{type_color(label)}">'
            f'{html.escape(text[start:end])}<span class="ner-label">{html.escape(label)}</span>{score_html}</mark>')
        pos = end
    parts.append(html.escape(text[pos:]))
    direction = ' dir="rtl"' if rtl else ""
    return f'<div class="ner-doc"{direction}>{"".join(parts)}</div>'


def render_tokens(tokens: Sequence[str], tags: Sequence[str], *, rtl: bool = False) -> str:
    """HTML of tokens with IOB2 tags highlighted (see :func:`render_doc`)."""
    return render_doc(tokens_to_doc(tokens, tags), rtl=rtl)


def render_comparison(tokens: Sequence[str], gold: Sequence[str], pred: Sequence[str], *, rtl: bool = False) -> str:
    """Gold and predicted highlights of one sentence, one above the other; predicted entities that are errors
    are marked (``err-spurious``, ``err-type``, ``err-boundary``) and missed gold entities ``err-missed``."""
    g = set(entities(gold))
    p = set(entities(pred))
    gdoc = tokens_to_doc(tokens, gold)
    pdoc = tokens_to_doc(tokens, pred)
    g_sorted = sorted(entities(gold), key=lambda e: (e[1], -e[2]))
    p_sorted = sorted(entities(pred), key=lambda e: (e[1], -e[2]))
    gmarks = {i: "err-missed" for i, e in enumerate(g_sorted)
              if not any(min(e[2], q[2]) > max(e[1], q[1]) for q in p)}
    pmarks: dict[int, str] = {}
    for i, e in enumerate(p_sorted):
        if e in g:
            continue
        over = [q for q in g if min(e[2], q[2]) > max(e[1], q[1])]
        if not over:
            pmarks[i] = "err-spurious"
        elif any((q[1], q[2]) == (e[1], e[2]) for q in over):
            pmarks[i] = "err-type"
        else:
            pmarks[i] = "err-boundary"
    return ('<div class="ner-compare"><div class="ner-row"><span class="ner-side">gold</span>'
            + render_doc(gdoc, marks=gmarks, rtl=rtl)
            + '</div><div class="ner-row"><span class="ner-side">predicted</span>'
            + render_doc(pdoc, marks=pmarks, rtl=rtl) + "</div></div>")


RTL_LANGS = frozenset({"ar", "he", "fa", "ur", "ps", "sd", "ug", "yi"})

CSS = """
<style>
.ner-doc{line-height:2.3;font-size:1.02rem;margin:.2rem 0 .6rem 0}
.ner-ent{padding:.1em .35em;border-radius:.35em;margin:0 .1em;box-decoration-break:clone}
.ner-label{font-size:.62em;font-weight:700;margin-left:.35em;text-transform:uppercase;opacity:.8}
.ner-score{font-size:.6em;margin-left:.3em;opacity:.7}
.err-missed{outline:2px dashed #d62728}
.err-spurious{outline:2px solid #d62728}
.err-type{outline:2px solid #ff7f0e}
.err-boundary{outline:2px dotted #ff7f0e}
.ner-row{display:flex;gap:.6rem;align-items:baseline}
.ner-side{font-size:.7rem;color:#666;min-width:4.5rem;text-transform:uppercase}
</style>
"""
