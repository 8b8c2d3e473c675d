"""Multilingual NER Studio: `streamlit run app.py`. Page configuration, the password gate and navigation only;
see pages/. Every page runs under the top-level error handler of pages/_shared.py (no traceback in a page)."""

import streamlit as st

from pages._shared import gate, run_page

st.set_page_config(page_title="Multilingual NER Studio", page_icon=":material/label:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/list:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page("pages/review.py", title="Review", icon=":material/rate_review:"),
    st.Page("pages/playground.py", title="Playground", icon=":material/science:"),
]

allowed = gate()
page = st.navigation(PAGES, position="sidebar" if allowed else "hidden")
if allowed:
    run_page(page)
