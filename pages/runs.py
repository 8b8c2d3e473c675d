"""Runs: every run in a table, curves and per-language F1 of several runs overlaid, delete, download or export a
model (ONNX, int8 checked per language, in a background process)."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.deploy.background import export_status, start_export
from core.kernel.errors import StudioError
from core.ui.export import zip_folder
from core.ui.plots import line_figure, per_language_f1_figure
from core.ui.runinfo import final_language_f1, run_label, run_row
from core.kernel.constants import EVAL_F1
from core.runs.store import DEV_F1_KEYS, FINISHED
from pages._shared import durable, setup

store = setup("Runs", "Compare runs, remove old ones, download a trained model.")
runs = store.list_runs()
if not runs:
    st.info("No runs yet: start one on the Train page (or with Quick start on the Home page).")
    st.stop()
by_id = {r.run_id: r for r in runs}

st.dataframe(pd.DataFrame([run_row(r) for r in runs]), hide_index=True, key="runs_table")

# ------------------------------------------------------------------------------------------------ compare
st.subheader("Compare")
with_f1 = [r.run_id for r in runs if r.best_dev_f1 is not None]
chosen = durable(st.multiselect, "Runs to compare", list(by_id), default=with_f1[:2], key="runs_compare",
                 format_func=lambda i: run_label(by_id[i]))
names: dict[str, str] = {}
for rid in chosen:
    r = by_id[rid]
    names[rid] = r.name if [x.name for x in runs].count(r.name) == 1 else f"{r.name} ({rid})"
if len(chosen) >= 2:
    curves = {}
    for rid in chosen:
        hist = store.metric_history(rid, DEV_F1_KEYS)
        pts = hist.get(EVAL_F1, [])
        curves[names[rid]] = [(m.step, m.value) for m in pts]
    c1, c2 = st.columns(2)
    c1.plotly_chart(line_figure(curves, "Dev entity F1 during training", "F1"), key="runs_curves")
    c2.plotly_chart(per_language_f1_figure({names[rid]: final_language_f1(by_id[rid]) for rid in chosen},
                                           "Final F1 per language (dev)"), key="runs_langs")
else:
    st.caption("Choose two or more runs to overlay their dev F1 curves and their F1 per language.")

# ------------------------------------------------------------------------------------------------ download
st.subheader("Download a model")
finished = [r.run_id for r in runs if r.status == FINISHED and r.model_dir and Path(r.model_dir).is_dir()]
if finished:
    rid = st.selectbox("Finished run", finished, format_func=lambda i: run_label(by_id[i]), key="runs_zip_run")
    model_dir = by_id[rid].model_dir

    def _zip_bytes(model_dir=model_dir, rid=rid) -> bytes:
        return zip_folder(model_dir, store.run_dir(rid) / "model.zip", arcroot=f"{rid}-model").read_bytes()

    st.download_button("Download the model folder (zip)", data=_zip_bytes, file_name=f"{rid}-model.zip",
                       mime="application/zip", on_click="ignore", key="runs_zip",
                       help="A transformers folder: AutoModelForTokenClassification.from_pretrained(folder).")

    # ---------------------------------------------------------------------------------------------- export
    st.subheader("Export to ONNX")
    status = export_status(rid, store)
    int8 = st.checkbox("Also quantize to int8 (kept only if no language loses more than 1 F1 point)", value=True,
                       key="runs_export_int8")
    if st.button("Export to ONNX", key="runs_export", disabled=status.state == "running",
                 help="Runs in the background: the page stays usable. Re-scores the run's test (else dev) set "
                      "with PyTorch and each ONNX graph, per language, and times them on the CPU."):
        try:
            start_export(rid, store, quantize=int8)
        except StudioError as exc:
            st.error(str(exc))
        else:
            st.rerun()
    if status.state == "running":
        st.info(f"Exporting {rid} in the background (a minute or more for multilingual-e5-small); "
                "click Refresh to see the result.")
        st.button("Refresh", key="runs_export_refresh")
    elif status.state == "failed":
        st.error(status.message)
    elif status.state in ("finished", "refused"):
        if status.state == "refused":
            st.warning(f"int8 refused: {status.message}. The fp32 ONNX model was kept.")
        st.caption(f"Strict IOB2 entity F1 on the run's {status.report['check']['split']} set "
                   f"({status.report['check']['n_sentences']:,} sentences), CPU speed with "
                   f"{status.report['threads']} thread(s); model file {status.report['model_file']}.")
        st.dataframe(pd.DataFrame(status.rows), hide_index=True, key="runs_export_table")

        def _onnx_zip(folder=status.folder, rid=rid) -> bytes:
            return zip_folder(folder, store.run_dir(rid) / "onnx.zip", arcroot=f"{rid}-onnx").read_bytes()

        st.download_button("Download the ONNX folder (zip)", data=_onnx_zip, file_name=f"{rid}-onnx.zip",
                           mime="application/zip", on_click="ignore", key="runs_onnx_zip",
                           help="Serve it with `python -m core serve --model FOLDER`.")
else:
    st.caption("No finished run with a model yet.")

# ------------------------------------------------------------------------------------------------ delete
st.subheader("Delete a run")
rid = st.selectbox("Run to delete", list(by_id), format_func=lambda i: run_label(by_id[i]), key="runs_delete_run")
sure = st.checkbox("Yes, delete this run, its metrics, checkpoints and model", key=f"runs_delete_sure_{rid}")
if st.button("Delete", key="runs_delete", disabled=not sure, type="primary"):
    try:
        store.delete_run(rid)
    except StudioError as exc:
        st.error(str(exc))
    else:
        st.toast(f"Deleted {rid}")
        st.rerun()
