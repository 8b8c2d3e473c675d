"""Multilingual NER Studio: `streamlit run app.py`. Page configuration and navigation only; see pages/."""

import streamlit as st

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

st.navigation(PAGES).run()
