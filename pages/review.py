"""Review: gold against predicted, sentence by sentence; accept, keep or fix a span; every decision is saved at
once in the workspace (core.data.review) and the corrected corpus can be exported or trained on."""

import os
import time

import streamlit as st

from core.runs import registry
from core.eval.analysis import (entity_types, filter_records, load_predictions, records_from_sentences, runs_with_predictions,
                           records_to_sentences)
from core.kernel.errors import StudioError
from core.eval.metrics import ERROR_KINDS
from core.ui.render import RTL_LANGS, md_escape, render_comparison, render_tokens
from core.data.review import (ReviewLog, apply_corrections, count_by_action, edit_span, review_path, source_id_for_dataset,
                         source_id_for_run, tokens_sha1)
from core.data.writers import conll_text, jsonl_text
from pages._shared import durable, predictions_label, reviewer_name, score_stopped_runs, setup, show_html

PAGE_SIZE = 5
store = setup("Review", "Check predictions against the gold annotation and correct either.")


@st.cache_data(max_entries=8, show_spinner="Reading the predictions...")
def predictions(path: str, mtime: float):
    return load_predictions(path)


@st.cache_resource(max_entries=4, show_spinner="Reading the dataset...")
def dataset_sentences(manifest_file: str, updated: float):
    import json

    from core.runs.registry import Manifest, load

    with open(manifest_file, encoding="utf-8") as fh:
        return load(Manifest(**json.load(fh))).corpus.sentences


reviewer = reviewer_name()
kind = durable(st.radio, "Sentences from", ["a run's predictions", "a dataset"], horizontal=True, key="review_kind")

run = None
split = None
if kind == "a run's predictions":
    runs, files = runs_with_predictions(store)
    score_stopped_runs(store, "review", expanded=not runs)
    if not runs:
        st.info("No run has predictions yet: they are written when a run finishes (a stopped or failed run can be "
                "scored above). Start one on the Train page, or review a dataset instead.")
        st.stop()
    by_id = {r.run_id: r for r in runs}
    labels = {i: predictions_label(store, r) for i, r in by_id.items()}
    c1, c2 = st.columns([3, 1])
    run_id = durable(c1.selectbox, "Run", list(by_id), format_func=labels.__getitem__, key="review_run")
    split = durable(c2.radio, "Split", list(files[run_id]), horizontal=True, key="review_split")
    run = by_id[run_id]
    path = files[run_id][split]
    try:
        records = predictions(path, os.path.getmtime(path) if os.path.exists(path) else 0.0)
    except StudioError as exc:
        st.error(str(exc))
        st.stop()
    source_id = source_id_for_run(run_id, split)
    base = records_to_sentences(records, split)
else:
    all_ds = [(d, registry.read_manifest(store, d.id)) for d in store.list_datasets()]
    all_ds = [(d, m) for d, m in all_ds if m is not None]
    if not all_ds:
        st.info("No dataset yet: add one on the Data page.")
        st.stop()
    by_ds = {d.id: d for d, _ in all_ds}
    ds_id = durable(st.selectbox, "Dataset", list(by_ds), format_func=lambda i: by_ds[i].name, key="review_ds")
    manifest = dict((d.id, m) for d, m in all_ds)[ds_id]
    try:
        sentences = dataset_sentences(str(registry.manifest_path(store, ds_id)), manifest.updated)
    except StudioError as exc:
        st.error(str(exc))
        st.stop()
    records = records_from_sentences(sentences)
    source_id = source_id_for_dataset(ds_id)
    base = list(sentences)

log = ReviewLog(review_path(store.workspace, source_id))
latest = log.latest()
if log.skipped:
    st.warning(f"{len(log.skipped)} unreadable line(s) in {log.path.name} were ignored (lines {log.skipped[:5]}).")
# the current gold of each sentence: the reviewer's latest decision where there is one
original_gold = {r.index: list(r.gold) for r in records}
for r in records:
    corr = latest.get(r.index)
    if corr is not None and corr.tokens_sha1 == tokens_sha1(r.tokens):
        r.gold = list(corr.tags)

counts = count_by_action(latest.values())
st.caption(f"{len(latest)} of {len(records)} sentences reviewed: {counts['accept']} predictions accepted, "
           f"{counts['keep']} gold kept, {counts['edit']} edited.")

# ------------------------------------------------------------------------------------------------ filters
has_pred = any(r.pred is not None for r in records)
f1, f2, f3, f4 = st.columns(4)
langs = durable(f1.multiselect, "Languages", sorted({r.lang for r in records}), key="review_langs")
types = entity_types(records)
etype = durable(f2.selectbox, "Entity type", ["any", *types], key="review_type")
ekind = durable(f3.selectbox, "Error kind", ["any", *ERROR_KINDS], key="review_kind_filter", disabled=not has_pred)
disagree = durable(f4.checkbox, "Disagreements only", key="review_disagree", disabled=not has_pred)
unreviewed = durable(f4.checkbox, "Not reviewed yet", key="review_unreviewed")
shown = filter_records(records, langs=langs, entity_type=None if etype == "any" else etype,
                       error_kind=None if ekind == "any" else ekind, disagreements_only=disagree)
if unreviewed:
    shown = [r for r in shown if r.index not in latest]
n_pages = max(1, -(-len(shown) // PAGE_SIZE))
page = st.number_input(f"Page (of {n_pages}; {len(shown)} sentences)", 1, n_pages, 1, key="review_page")
if not shown:
    st.info("No sentence matches these filters.")
if not (reviewer or "").strip():
    st.warning("Enter your name above to save decisions.")

# ------------------------------------------------------------------------------------------------ sentences


def save(r, tags, action, note=""):
    log.record(r.index, r.tokens, tags, action=action, reviewer=reviewer, note=note)
    st.toast(f"Saved sentence #{r.index}")
    st.rerun()


can_save = bool((reviewer or "").strip())
for r in shown[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]:
    with st.container(border=True):
        st.text(f"#{r.index} · {r.lang} · {r.where}")
        corr = latest.get(r.index)
        if corr is not None:
            st.text(f"{corr.action} by {corr.reviewer}, {time.strftime('%Y-%m-%d %H:%M', time.localtime(corr.time))}")
        rtl = r.lang in RTL_LANGS
        show_html(render_comparison(r.tokens, r.gold, r.pred, rtl=rtl) if r.pred is not None
                  else render_tokens(r.tokens, r.gold, rtl=rtl))
        b1, b2, b3, b4, b5 = st.columns([1.2, 1, 2.5, 1.2, 0.8], vertical_alignment="bottom")
        if r.pred is not None:
            if b1.button("Accept prediction", key=f"rv_accept_{r.index}", disabled=not can_save):
                save(r, r.pred, "accept")
            if b2.button("Keep gold", key=f"rv_keep_{r.index}", disabled=not can_save):
                save(r, original_gold[r.index], "keep")
        n = len(r.tokens)
        span = b3.select_slider("Tokens", options=list(range(n)), value=(0, 0), key=f"rv_span_{r.index}",
                                format_func=lambda i, toks=r.tokens: f"{i}:{toks[i]}")
        label = b4.selectbox("Type", [*types, "O"], key=f"rv_label_{r.index}", accept_new_options=True,
                             help="O deletes the entities these tokens touch.")
        if b5.button("Apply", key=f"rv_apply_{r.index}", disabled=not can_save or not label):
            lo, hi = span
            try:
                tags = edit_span(r.gold, lo, hi + 1, label)
            except ValueError as exc:
                st.error(str(exc))
            else:
                save(r, tags, "edit", f"tokens {lo}-{hi} -> {label}")

# ------------------------------------------------------------------------------------------------ export
st.subheader("Corrected corpus")
corrected, mismatched = apply_corrections(base, latest)
if mismatched:
    st.warning(f"{len(mismatched)} decision(s) were made on sentences that have changed since; they are not applied.")
e1, e2 = st.columns(2)
fmt = e1.radio("Format", ["conll", "jsonl"], horizontal=True, key="review_export_fmt")
try:
    text = conll_text(corrected) if fmt == "conll" else jsonl_text(corrected)
except StudioError as exc:
    st.error(str(exc))
    text = None
if text is not None:
    e1.download_button("Download the corrected corpus", text.encode("utf-8"), file_name=f"{source_id}-corrected.{fmt}",
                       mime="text/plain", on_click="ignore", key="review_download")
new_name = e2.text_input("New dataset name", value=f"{source_id} (reviewed)", key="review_new_name")
if e2.button("Save as a new dataset", key="review_save_ds", disabled=not new_name):
    try:
        with st.spinner("Writing and checking the new dataset..."):
            if run is not None:
                ds, _ = registry.create_from_run_review(store, new_name, run.data, split, corrected)
            else:
                ds, _ = registry.create_from_sentences(store, new_name, corrected)
    except (StudioError, OSError) as exc:
        st.error(f"The new dataset could not be written: {exc}")
    else:
        st.success(f"Saved dataset {md_escape(repr(ds.name))}: pick it on the Train page for the next run.")
