"""Plain-text tables the CLI prints."""

from __future__ import annotations


def _fmt(v) -> str:
    return "  n/a" if v is None else f"{v:5.3f}"


def format_scores(out: dict) -> str:
    """A plain-text table: the scoring mode, overall, per-language and per-type entity precision/recall/F1/
    support, then token accuracy and per-tag token scores (when ``out`` has them)."""
    lines = []
    if out.get("mode_label"):
        lines.append(f"entity scores: {out['mode_label']}")
    lines.append(f"{'':14}{'prec':>7}{'rec':>7}{'f1':>7}{'support':>9}")

    def row(name: str, s: dict) -> None:
        lines.append(f"{name[:14]:14}  {_fmt(s['precision'])}  {_fmt(s['recall'])}  {_fmt(s['f1'])}"
                     f"{s['support']:9d}")

    row("overall", out["overall"])
    lines.append("per language")
    for k, v in out["per_language"].items():
        row("  " + k, v)
    lines.append("per type")
    for k, v in out["per_type"].items():
        row("  " + k, v)
    tok = out.get("token")
    if tok:
        lines.append(f"token accuracy {_fmt(tok['accuracy']).strip()} over {tok['n_tokens']:,} tokens"
                     + "".join(f"; {k} {_fmt(v).strip()}" for k, v in tok["per_language"].items()))
        lines.append("per tag (tokens)")
        for k, v in tok["per_tag"].items():
            row("  " + k, v)
    return "\n".join(lines)
