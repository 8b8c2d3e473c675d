"""Playground: tag any text with a trained model, or compare two models side by side."""

import pandas as pd
import streamlit as st

from core.kernel.errors import StudioError
from core.ui.examples import EXAMPLES
from core.data.langid import detect
from core.ui.render import RTL_LANGS, render_doc
from core.ui.runinfo import run_label, usable_model
from pages._shared import durable, setup, show_html

store = setup("Playground", "Type or paste text in any language; entities are highlighted with their type and confidence.")


@st.cache_resource(max_entries=2, show_spinner="Loading the model (a few seconds the first time)...")
def predictor(model_dir: str):
    """One loaded model per folder for the whole server (torch is imported here, lazily, by core.model.predictor)."""
    from core.model.predictor import Predictor

    return Predictor(model_dir)


models = {r.run_id: m for r in store.list_runs() if (m := usable_model(r, store.run_dir(r.run_id, create=False)))}
runs = [r for r in store.list_runs() if r.run_id in models]
if not runs:
    st.info("No trained model yet: finish a run first (Quick start on the Home page takes a few minutes).")
by_id = {r.run_id: r for r in runs}


def label(run_id: str) -> str:
    """The run's label, marked "from step N, stopped" for a stopped or failed run's best model."""
    mark = models[run_id][1]
    return run_label(by_id[run_id]) + (f" · {mark}" if mark else "")

NONE = "(none)"
c1, c2 = st.columns(2)
first = durable(c1.selectbox, "Model", list(by_id), format_func=label, key="pg_run",
                help="Any finished run, or the best model of a stopped or failed one; the newest is picked first.") if runs else None
second = durable(c2.selectbox, "Compare with (optional)", [NONE, *[i for i in by_id if i != first]],
                 format_func=lambda i: i if i == NONE else label(i), key="pg_run2") if runs else NONE

example = st.selectbox("Example", ["(your own text)", *EXAMPLES], key="pg_example")
if example != "(your own text)" and st.session_state.get("pg_last_example") != example:
    st.session_state["pg_text"] = EXAMPLES[example][1]
    st.session_state["pg_last_example"] = example
text = st.text_area("Text", key="pg_text", height=110, placeholder="Paste a sentence or a paragraph...")

if text.strip():
    lang, prob = detect(text)
    st.caption(f"Detected language: {lang} ({prob:.2f})")
    chosen = [first] + ([second] if second and second != NONE else [])
    cols = st.columns(len(chosen)) if runs else []
    for col, rid in zip(cols, chosen):
        with col:
            run = by_id[rid]
            st.text(f"{run.name} · {run.config.get('model_name_or_path', '')}"
                    + (f" · {models[rid][1]}" if models[rid][1] else ""))
            try:
                with st.spinner("Tagging..."):
                    out = predictor(models[rid][0]).predict_text(text, lang=lang)
            except StudioError as exc:
                st.error(str(exc))
                continue
            show_html(render_doc({"text": text, "ents": out["entities"]}, rtl=out["lang"] in RTL_LANGS))
            st.metric("Latency", f"{out['latency_ms']:.0f} ms")
            if out.get("adapter"):  # a per-language-adapter model: which adapter tagged this text
                fallback = " (no adapter of its own: the shared fallback)" if out["adapter"] == "shared" else ""
                st.caption(f"Adapter: `{out['adapter']}` for language `{out['lang']}` (detected){fallback}")
            if out["entities"]:
                st.dataframe(pd.DataFrame([{"text": e["text"], "type": e["label"], "confidence": e["score"],
                                            "start": e["start"], "end": e["end"]} for e in out["entities"]]),
                             hide_index=True, key=f"pg_ents_{rid}")
            else:
                st.caption("No entity found.")
else:
    st.caption("Pick an example or type some text.")
