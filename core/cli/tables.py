"""Plain-text tables the CLI prints."""

from __future__ import annotations


def _fmt(v) -> str:
    return "  n/a" if v is None else f"{v:5.3f}"


def format_scores(out: dict) -> str:
    """A plain-text table of overall, per-language and per-type precision/recall/F1/support."""
    lines = [f"{'':14}{'prec':>7}{'rec':>7}{'f1':>7}{'support':>9}"]

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
    return "\n".join(lines)
