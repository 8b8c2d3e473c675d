"""Evaluate: scores per language x entity type, confusion matrices per language, the sentences behind a cell,
and error kinds per language, from a finished run's stored predictions."""

import os

import pandas as pd
import streamlit as st

from core.eval.analysis import cell_sentences, evaluate_records, load_predictions, runs_with_predictions, top_confusion
from core.eval.methods import compare_methods, comparison_rows, figure_series, language_f1, run_method, run_seed
from core.eval.methods import SHARED, scoring_split
from core.eval.metrics import DEFAULT_MODE, MODES
from core.kernel.constants import FINISHED
from core.kernel.errors import StudioError
from core.ui.plots import (error_kinds_figure, method_comparison_figure, scores_heatmap, selectable_confusion_figure,
                           transfer_heatmap)
from core.ui.render import RTL_LANGS, md_escape, render_comparison
from core.ui.runinfo import TRAIN_KIND, run_kind, run_label, transfer_runs
from pages._shared import (durable, fmt_score, predictions_label, predictions_mark, score_stopped_runs, setup,
                           show_html)

MAX_SENTENCES = 20
store = setup("Evaluate", "Entity-level scores (strict or conlleval, named) and token accuracy per language and "
              "type, and where errors come from.")
MODE_HELP = ("strict: seqeval's strict mode with the data's scheme; a tag sequence the scheme forbids (an I- "
             "start, an IOBES entity never closed) is no entity. conlleval: the CoNLL shared-task script's reading "
             "(published CoNLL figures); an I- start begins an entity.")


@st.cache_data(max_entries=8, show_spinner="Scoring the predictions...")
def scored(path: str, mtime: float, mode: str):
    records = load_predictions(path)
    return records, evaluate_records(records, mode)


transfers = transfer_runs(store.list_runs())
if transfers:
    with st.expander("Cross-lingual transfer matrix", expanded=True):
        t_by_id = {r.run_id: r for r in transfers}
        t_id = durable(st.selectbox, "Transfer run", list(t_by_id), format_func=lambda i: run_label(t_by_id[i]),
                       key="eval_transfer_run",
                       help="Made by `python -m core transfer`: one model per training language (rows), each scored "
                            "on the test sentences of every language (columns). The diagonal is in-language F1.")
        ts = t_by_id[t_id].summary
        st.plotly_chart(transfer_heatmap(ts["matrix"], ts.get("rows"), ts.get("cols"),
                                         title=f"Entity F1 ({ts.get('mode', DEFAULT_MODE)}, test): trained on row, "
                                               "tested on column"), key="eval_transfer_fig")
        st.caption("n/a: no test sentence in that language (or no training sentence for the row). Test sentences "
                   "per language: " + ", ".join(f"{k} {v:,}" for k, v in (ts.get("n_test") or {}).items()))

evaluated, files = runs_with_predictions(store)
score_stopped_runs(store, "eval", expanded=not evaluated)
if not evaluated:
    st.info("No evaluated run yet: a run writes its dev and test predictions when it finishes (a stopped or failed "
            "run can be scored above). Start one on the Train page, or use Quick start on the Home page.")
    st.stop()
by_id = {r.run_id: r for r in evaluated}
labels = {i: predictions_label(store, r) for i, r in by_id.items()}
c1, c2, c3 = st.columns([3, 1, 1])
run_id = durable(c1.selectbox, "Run", list(by_id), format_func=labels.__getitem__, key="eval_run")
split = durable(c2.radio, "Split", list(files[run_id]), horizontal=True, key="eval_split")
mode = durable(c3.radio, "Scoring mode", list(MODES), default=DEFAULT_MODE, horizontal=True,
               key="eval_mode", help=MODE_HELP)
path = files[run_id][split]
try:
    records, result = scored(path, os.path.getmtime(path) if os.path.exists(path) else 0.0, mode)
except StudioError as exc:
    st.error(str(exc))
    st.stop()

o = result["overall"]
mark = predictions_mark(store, by_id[run_id])
st.caption(f"Entity scores: **{result['mode_label']}**, {split} split"
           + (f"; predictions of the run's best model, {mark}." if mark else "."))
m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Precision", fmt_score(o["precision"]))
m2.metric("Recall", fmt_score(o["recall"]))
m3.metric("F1", fmt_score(o["f1"]))
m4.metric("Support (gold entities)", o["support"])
m5.metric("Token accuracy", fmt_score(result["token"]["accuracy"]),
          help=f"Share of the {result['token']['n_tokens']:,} tokens whose predicted tag equals the gold tag.")

# ------------------------------------------------------------------------------------------------ scores table
st.subheader(f"Scores per language and type ({mode})")
metric = st.radio("Colour by", ["f1", "precision", "recall"], horizontal=True, key="eval_metric")
st.plotly_chart(scores_heatmap(result["per_language_type"], metric), key="eval_heatmap")
rows = []
for lg, sc in result["per_language"].items():
    rows.append({"language": lg, "type": "(all)", **sc})
    for typ, tsc in result["per_language_type"][lg].items():
        rows.append({"language": lg, "type": typ, **tsc})
st.dataframe(pd.DataFrame(rows), hide_index=True, key="eval_table", column_config={
    "f1": st.column_config.ProgressColumn("F1", min_value=0.0, max_value=1.0, format="%.3f"),
    "precision": st.column_config.NumberColumn("precision", format="%.3f"),
    "recall": st.column_config.NumberColumn("recall", format="%.3f")})

with st.expander("Token-level scores per tag"):
    st.dataframe(pd.DataFrame([{"tag": t, **sc} for t, sc in result["token"]["per_tag"].items()]), hide_index=True,
                 key="eval_token_table")

# ------------------------------------------------------------------------------------------------ confusion
st.subheader("Confusion matrix")
langs = list(result["per_language"])
k1, k2, k3 = st.columns(3)
lang = durable(k1.selectbox, "Language", langs + ["all"], key="eval_cm_lang")
level = k2.radio("Level", ["entity", "token"], horizontal=True, key="eval_cm_level",
                 help="entity: gold type (or SPURIOUS) against predicted type (or MISSED); token: gold tag against "
                      "predicted tag of every token.")
normalize = k3.toggle("Normalize rows", key="eval_cm_norm", help="Divide each row by its total (recall per gold label).")
cm = result["confusion"][lang][level]
rows_l, cols_l = (cm["rows"], cm["cols"]) if level == "entity" else (cm["labels"], cm["labels"])
event = st.plotly_chart(selectable_confusion_figure(rows_l, cols_l, cm["matrix"], normalize=normalize,
                                                    title=f"{level}-level confusion, {lang}"),
                        on_select="rerun", selection_mode="points", key=f"eval_cm_{run_id}_{split}_{lang}_{level}")
points = list(event.selection.points) if event is not None and event.selection else []
default = top_confusion(rows_l, cols_l, cm["matrix"]) or (rows_l[0], cols_l[0])
st.caption("Click a cell, or choose it here:")
f1c, f2c = st.columns(2)
gold = f1c.selectbox("Gold", rows_l, index=rows_l.index(default[0]), key=f"eval_gold_{lang}_{level}")
pred = f2c.selectbox("Predicted", cols_l, index=cols_l.index(default[1]), key=f"eval_pred_{lang}_{level}")
if points:
    data = points[0].get("customdata")
    gold, pred = (data[0], data[1]) if data else (points[0].get("y"), points[0].get("x"))
hits = cell_sentences(records, lang, level, gold, pred, mode)
st.write(f"**{len(hits)}** sentence(s) with gold `{gold}` predicted as `{pred}`"
         + (f" (the first {MAX_SENTENCES} shown)" if len(hits) > MAX_SENTENCES else ""))
for i in hits[:MAX_SENTENCES]:
    r = records[i]
    st.text(f"#{r.index} · {r.lang} · {r.where}")
    show_html(render_comparison(r.tokens, r.gold, r.pred, rtl=r.lang in RTL_LANGS))

# ------------------------------------------------------------------------------------------------ error kinds
st.subheader("Error kinds per language")
st.plotly_chart(error_kinds_figure(result["error_counts"]), key="eval_errors")
st.caption("missed: a gold entity with no overlapping prediction; spurious: a prediction over no gold entity; "
           "wrong type: same span, other type; wrong boundary: overlapping span, same type. Review them on the "
           "Review page.")

# ------------------------------------------------------------------------------------------------ methods
with st.expander("Adaptation methods side by side"):
    done = {r.run_id: r for r in evaluated if r.status == FINISHED and run_kind(r) == TRAIN_KIND}

    def method_label(i: str) -> str:
        seed = run_seed(done[i])
        return f"{run_label(done[i])} · {run_method(done[i])}" + (f" · seed {seed}" if seed is not None else "")

    chosen = durable(st.multiselect, "Runs to compare", list(done), default=[], format_func=method_label,
                     key="eval_methods_runs",
                     help="Finished runs with stored predictions. Each is rescored in the scoring mode chosen above, "
                          "on its test predictions (dev when it has none), and grouped by method: the shared "
                          "fine-tune, per-language adapters, or the fine-tune started from a pre-trained folder. "
                          "Runs of one method with different seeds give the spread.")
    if not chosen:
        st.caption("Choose finished runs, for instance one or more seeds of each method, trained on the same data.")
    else:
        f1s, splits, mode_names = {}, {}, set()
        for rid in chosen:
            sp = scoring_split(files[rid])
            p = files[rid][sp]
            try:
                _, res = scored(p, os.path.getmtime(p) if os.path.exists(p) else 0.0, mode)
            except StudioError as exc:
                st.warning(md_escape(f"{method_label(rid)}: {exc}"))
                continue
            f1s[rid], splits[rid] = language_f1(res), sp
            mode_names.add(res["mode_label"])
        comparison = compare_methods([done[i] for i in chosen if i in f1s], f1s, splits)
        for w in comparison.warnings:
            st.warning(md_escape(w))
        st.dataframe(pd.DataFrame(comparison_rows(comparison)), hide_index=True, key="eval_methods_table",
                     column_order=["language", "method", "F1", "n", "Δ vs shared", "seeds"])
        means, stds = figure_series(comparison)
        st.plotly_chart(method_comparison_figure(means, stds, title=f"Entity F1 per language and method "
                                                                    f"({mode}, {comparison.split_label})"),
                        key="eval_methods_fig")
        st.caption(f"Entity F1 in **{' / '.join(sorted(mode_names)) or mode}** on the **{comparison.split_label}** "
                   "split of each run's stored predictions; all: every language together (micro). F1: the mean "
                   "over the method's runs ± the sample standard deviation over their seeds (no ± for a single "
                   "run); n: runs; Δ vs shared: the method's mean minus the shared fine-tune's"
                   + ("." if SHARED in comparison.methods else " (no shared fine-tune chosen: no Δ)."))
