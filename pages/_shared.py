"""Helpers every page uses: the run store, the page preamble (CSS, dead-worker check) and small widgets.

Imports no torch, transformers or sqlite3 (tests/test_pages.py checks it).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.runs import jobs
from core.ui.render import CSS
from core.runs.store import RunStore, workspace_dir

STYLE_FILE = Path(__file__).resolve().parents[1] / "assets" / "style.css"


@st.cache_resource(show_spinner=False)
def _store(path: str) -> RunStore:
    return RunStore(path)


def store() -> RunStore:
    """The workspace's run store ($NER_STUDIO_WORKSPACE, else ./workspace), one object per workspace."""
    return _store(str(workspace_dir()))


def setup(title: str, caption: str | None = None) -> RunStore:
    """Page preamble: styles, title, and :func:`core.runs.jobs.check_alive` so dead workers show FAILED."""
    st.html(CSS)
    if STYLE_FILE.exists():
        st.html(f"<style>{STYLE_FILE.read_text(encoding='utf-8')}</style>")
    st.title(title)
    if caption:
        st.caption(caption)
    s = store()
    jobs.check_alive(s)
    return s


def show_html(fragment: str) -> None:
    """Show HTML made by core.ui.render (already escaped there)."""
    st.html(fragment)


def fmt_score(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"
