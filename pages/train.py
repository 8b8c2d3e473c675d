"""Train: pick a dataset and a preset, adjust any setting, launch a background run, and watch it live.

The three adaptation steps are here too: fine-tune from a pre-trained folder (a finished pre-training run's model),
"Pre-train first" (continued masked-LM training on raw text, a background run) and the transfer matrix (one
fine-tune per language, shown on the Evaluate page). The logic is in core.ui.adaptation.

The run store is the source of truth: the run shown by default is the newest active run in the store, so a
reloaded or second tab re-attaches to a running job. The live panel is a fragment that re-runs every 2 s while
the run is active and reads only the metric rows it has not drawn yet (core.runs.live).
"""

import pandas as pd
import streamlit as st

from core.runs import registry

from core.runs import jobs
from core.runs.checkpoints import inspect_checkpoints, resume_plan, resumed_text
from core.kernel.config import DEFAULT_MODEL, TrainConfig
from core.kernel.constants import TRAIN_LOSS
from core.model.device import describe_device
from core.kernel.errors import StudioError
from core.runs.live import live_interval, refresh
from core.model.bundled import list_models
from core.ui import adaptation as adapt
from core.ui.presets import (ADAPTATION_HELP, ADAPTERS, PRESET_HELP, PRESETS, PRETRAIN_HELP, PRETRAINED,
                             TRANSFER_HELP, config_fields, estimate_duration, format_seconds)
from core.ui.render import md_escape
from core.ui.runinfo import PRETRAIN_KIND, TRANSFER_KIND, pretrained_folders, run_kind
from core.runs.store import FAILED, FINISHED, STOPPED
from pages._shared import durable, fmt_score, guarded, kept, model_field, remember, setup

store = setup("Train", "Fine-tune a multilingual encoder on a dataset; the run continues if you close the tab.")

# ------------------------------------------------------------------------------------------------ which run
runs = store.list_runs(limit=50)
by_id = {r.run_id: r for r in runs}
pending = st.session_state.pop("train_run_pending", None)
if pending in by_id:
    remember("train_run", pending)
active = [r for r in runs if r.active]


def stable_label(run) -> str:
    """``name (run id)``: a label that stays the same while the run goes on."""
    return run.run_id if run.name in ("", run.run_id) else f"{run.name} ({run.run_id})"


def live_panel(run_id: str, was_active: bool) -> None:
    """Progress, ETA, curves and log of one run; re-runs on its own while the run is active."""
    jobs.check_alive(store)  # a worker that died meanwhile shows FAILED at the next tick
    run = store.find_run(run_id)
    if run is None:
        st.warning("This run was deleted.")
        return
    key = f"live_{run_id}"
    series = refresh(st.session_state.get(key), run_id, run.attempt, lambda after: store.metrics_since(run_id, after))
    st.session_state[key] = series
    kind = run_kind(run)
    step, total = run.progress
    eta = series.eta_seconds(step, total) if run.active else None
    c1, c2, c3, c4, c5 = st.columns(5)
    stalled = jobs.stalled_seconds(run)
    status = run.status
    if run.active and run.stop_requested:
        status = "stopping..."
    elif stalled is not None:
        status = f"stalled {format_seconds(stalled)}"
    c1.metric("Status", status, help="stalled: the worker process is alive but silent (paused, or the machine is "
              "busy); it goes on by itself when it wakes up." if stalled is not None else None)
    c2.metric("Step", f"{step}/{total}" if total else str(step))
    c3.metric("ETA", format_seconds(eta) if run.active else "-")
    score_label, score = adapt.headline(run, series, kind)
    c4.metric(score_label, "-" if score is None else (f"{score:,.1f}" if kind == PRETRAIN_KIND else fmt_score(score)),
              help="exp(masked-LM loss) of the last logged steps: lower is better." if kind == PRETRAIN_KIND else None)
    c5.metric("Elapsed", format_seconds(run.elapsed), help="Training time over every attempt (resumes included).")
    if run.active:
        text = "waiting for the device" if run.status == "SCHEDULED" else f"step {step} of {total or '?'}"
        st.progress(run.fraction or 0.0, text=text)
    loss = series.get(TRAIN_LOSS)
    # Figures are rebuilt only when new rows came in; the same keys update the charts in place in the browser.
    fkey = f"live_figs_{run_id}"
    cached = st.session_state.get(fkey)
    if cached is None or cached[0] != (series.attempt, series.last_id):
        figs = adapt.live_figures(series, kind)
        st.session_state[fkey] = cached = ((series.attempt, series.last_id), figs)
    figs = cached[1]
    g1, g2 = st.columns(2)
    g1.plotly_chart(figs[0], key=f"live_loss_{run_id}")
    g2.plotly_chart(figs[1], key=f"live_f1_{run_id}")
    g3, g4 = st.columns(2)
    g3.plotly_chart(figs[2], key=f"live_lr_{run_id}")
    g4.plotly_chart(figs[3], key=f"live_speed_{run_id}")
    if not loss and run.active:
        st.caption("The first points appear after a few steps (loading the model takes a little while).")
    with st.expander("Log"):
        st.code(jobs.log_tail(store.log_path(run_id), 60) or "(empty)", language=None)
    if was_active and not run.active:
        st.rerun(scope="app")  # switch the timer off and show the final state


if runs:
    ids = list(by_id)
    # A label without the status: the browser keeps showing a selected option's old text when only its label
    # changes (Streamlit 1.67), and the status changes under this page; the Status metric below shows it.
    run_id = durable(st.selectbox, "Run", ids, format_func=lambda i: stable_label(by_id[i]), key="train_run",
                     default=(active or runs)[0].run_id, help="The newest running run is picked when you open this page.")
    run = by_id[run_id]
    b1, b2, _ = st.columns([1, 1, 4])
    if b1.button("Stop", key="train_stop", disabled=not run.active,
                 help="The run stops at the next step and keeps a checkpoint you can resume."):
        jobs.stop(run_id, store)  # the status shows "stopping..." at once, until the worker reaches a step boundary
        st.rerun()
    if b2.button("Resume", key="train_resume", disabled=run.status not in (STOPPED, FAILED),
                 help="Continue from the last checkpoint."):
        try:
            jobs.resume(run_id, store)
        except StudioError as exc:
            st.error(str(exc))
        else:
            st.rerun()
    if run.status in (STOPPED, FAILED):  # sizes only: instant; the worker checks the SHA-256 digests on resume
        st.caption("Resume: " + resume_plan(inspect_checkpoints(store.checkpoint_dir(run_id), hashes=False)) + ".")
    if run.summary.get("resumed_from"):
        st.caption("This attempt " + resumed_text(run.summary["resumed_from"]) + ".")
        if run.status != FINISHED:
            for w in run.summary.get("warnings", []):
                st.warning(w)
    interval = live_interval(st.session_state.get(f"live_{run_id}")) if run.active else None
    st.fragment(guarded(live_panel), run_every=interval)(run_id, run.active)
    if run.status == FAILED and run.error:
        st.error("The run failed. The end of its log:")
        st.code(run.error, language=None)
    if run.status == FINISHED and run_kind(run) == PRETRAIN_KIND:
        s = run.summary
        if s.get("loss_first") is not None and s.get("loss_last") is not None:
            st.write(f"Masked-LM loss {s['loss_first']:.3f} -> {s['loss_last']:.3f} in {s.get('steps')} steps.")
        st.caption(f"Model folder: `{run.model_dir}`. Fine-tune from it: Start a new run -> Language adaptation -> "
                   f"{PRETRAINED}.")
    elif run.status == FINISHED and run_kind(run) == TRANSFER_KIND:
        st.caption("The transfer matrix (training language x test language) is on the Evaluate page.")
    elif run.status == FINISHED:
        test = run.summary.get("test") or run.summary.get("dev") or {}
        if test.get("per_language"):
            st.write("Final scores per language (strict entity level):")
            st.dataframe(pd.DataFrame([{"language": lg, **sc} for lg, sc in test["per_language"].items()]),
                         hide_index=True, key="train_final")
        for w in run.summary.get("warnings", []):
            st.warning(w)
        st.caption(f"Training took {format_seconds(run.summary.get('train_seconds'))}. "
                   "Look at the errors on the Evaluate page.")
else:
    st.info("No runs yet: start one below, or use Quick start on the Home page.")

# ------------------------------------------------------------------------------------------------ new run
st.divider()
with st.expander("Start a new run", expanded=not any(r.active for r in runs)):
    all_ds = store.list_datasets()
    ready = [(d, registry.read_manifest(store, d.id)) for d in all_ds]
    ready = [(d, m) for d, m in ready if m is not None]
    if not ready:
        st.info("No dataset yet: add one on the Data page, or use Quick start on the Home page.")
        st.stop()
    names = {d.id: (d, m) for d, m in ready}
    ds_id = durable(st.selectbox, "Dataset", list(names), format_func=lambda i: names[i][0].name, key="train_ds",
                    default=kept("data_ds"))
    ds, manifest = names[ds_id]
    summ = manifest.summary
    st.caption(f"{summ.get('n_sentences', 0):,} sentences ({', '.join(f'{k} {v}' for k, v in summ.get('splits', {}).items())}); "
               f"languages: {', '.join(summ.get('languages', {}))}")
    preset = st.radio("Preset", list(PRESETS), horizontal=True, key="train_preset",
                      captions=[PRESET_HELP[p] for p in PRESETS])
    base = {**TrainConfig().to_dict(), **PRESETS[preset]}
    models = [m["name"] for m in list_models()]
    OTHER = "Other (local folder or Hugging Face id)"
    adaptation = durable(st.radio, "Language adaptation", list(ADAPTATION_HELP), horizontal=True,
                         key="train_adaptation", captions=list(ADAPTATION_HELP.values()))
    c1, c2 = st.columns(2)
    pretrained = None  # the pre-training run whose folder the new run starts from
    if adaptation == PRETRAINED:
        OTHER_FOLDER = "Other folder"
        folders = {f.run_id: f for f in pretrained_folders(store.list_runs(status=FINISHED))}
        pchoice = durable(c1.selectbox, "Pre-trained folder", list(folders) + [OTHER_FOLDER], key="train_pt_folder",
                               format_func=lambda i: folders[i].label if i in folders else i,
                               help="The model folders of finished pre-training runs (Pre-train first, below), or "
                                    "any folder saved by `python -m core pretrain`.")
        if not folders:
            c1.caption("No finished pre-training run yet: start one under Pre-train first, below.")
        if pchoice in folders:
            pretrained = folders[pchoice]
            model = pretrained.model_dir
            c1.caption(md_escape(model) + (f" (from {md_escape(pretrained.base_model)})" if pretrained.base_model
                                             else ""))
        else:
            model = model_field(OTHER_FOLDER, OTHER_FOLDER, models, key="train_pt_other", column=c1)
    else:
        # durable: the select box is not drawn while a pre-trained folder is chosen, and its choice must survive
        mchoice = durable(c1.selectbox, "Model", models + [OTHER], key="train_model", help=config_fields()[0].help,
                          default=DEFAULT_MODEL if DEFAULT_MODEL in models else models[0] if models else OTHER)
        model = model_field(mchoice, OTHER, models, key="train_model_other", column=c1)
    dev_info = describe_device()
    choices = list(dict.fromkeys(dev_info.choices + [base["device"]]))
    device = c2.selectbox("Device", choices, index=choices.index(base["device"]), key=f"train_device_{preset}",
                          help=f"This machine: {dev_info.text}.")
    if device.startswith("cuda") and not dev_info.gpus:
        c2.warning("No GPU was found on this machine: the run would fail. Choose cpu or auto.")
    values = {"model_name_or_path": model, "device": device}
    values["adapters"] = "per_language" if adaptation == ADAPTERS else "shared"
    with st.expander("All settings"):
        cols = st.columns(3)
        shown = [f for f in config_fields() if f.name not in values]
        for i, f in enumerate(shown):
            col, k, v = cols[i % 3], f"cfg_{preset}_{f.name}", base[f.name]
            if f.kind == "bool":
                values[f.name] = col.checkbox(f.name, value=bool(v), key=k, help=f.help)
            elif f.kind == "int":
                values[f.name] = int(col.number_input(f.name, value=int(v), step=1, key=k, help=f.help))
            elif f.kind == "float":
                values[f.name] = float(col.number_input(f.name, value=float(v), format="%g", key=k, help=f.help,
                                                        step=1e-5 if f.name == "learning_rate" else None))
            elif f.kind == "choice":
                values[f.name] = col.selectbox(f.name, f.choices, index=f.choices.index(v), key=k, help=f.help)
            else:
                values[f.name] = col.text_input(f.name, value=str(v), key=k, help=f.help)
    name = st.text_input("Run name (optional)", key="train_name")
    try:
        cfg = TrainConfig.from_dict(values)
    except StudioError as exc:
        st.error(str(exc))
        cfg = None
    n_errors, n_left = summ.get("n_errors", 0), summ.get("n_left_out", 0)
    if n_errors:
        st.warning(f"The dataset has {n_errors} error(s) in {n_left} sentence(s): Launch trains on the "
                   f"{summ.get('n_train', 0):,} good training sentences; the {n_left} are left out and counted in "
                   "the run's data (fix them on the Data page to use them).")
        with st.expander(f"Sentences left out ({n_left})"):
            st.dataframe(pd.DataFrame(summ.get("left_out", [])), hide_index=True, key="train_left_out")
    if cfg is not None:
        on = "gpu" if (device.startswith("cuda") or (device == "auto" and dev_info.gpus)) else "cpu"
        secs = estimate_duration(summ.get("n_train", 0), summ.get("avg_tokens", 15.0), cfg, on, dev_info.cpu_cores)
        st.caption(f"Estimated duration on {on.upper()}: about {format_seconds(secs)} (a rough estimate; the live "
                   "panel shows the real rate).")
    launch = f"Train on the {summ.get('n_train', 0):,} good sentences" if n_errors else "Launch"
    if st.button(launch, type="primary", key="train_launch",
                 disabled=cfg is None or not model or not summ.get("n_train")):
        try:
            with st.spinner("Starting the training process..."):
                new = jobs.start_run(store, cfg, registry.run_data(store, ds), name=name or None,
                                     options=adapt.finetune_options(preset, pretrained))
        except StudioError as exc:
            st.error(str(exc))
        else:
            st.session_state["train_run_pending"] = new.run_id
            st.rerun()

# ------------------------------------------------------------------------------------------------ pre-train first
with st.expander("Pre-train first: continue masked-LM training on raw text"):
    st.caption(PRETRAIN_HELP)
    n_train = summ.get("n_train", 0)
    use_ds = st.checkbox(f"The text of {md_escape(ds.name)}'s training split ({n_train:,} sentences; labels ignored)",
                         value=bool(n_train), disabled=not n_train, key="pt_use_ds")
    files = st.file_uploader("Raw text files (.txt, UTF-8, one sentence or paragraph a line)", type=["txt"],
                             accept_multiple_files=True, key="pt_files")
    p1, p2, p3 = st.columns(3)
    pt_choice = p1.selectbox("Model to continue", models + [OTHER], key="pt_model",
                             index=models.index(DEFAULT_MODEL) if DEFAULT_MODEL in models else 0)
    pt_model = model_field(pt_choice, OTHER, models, key="pt_model_other", column=p1)
    # labels differ from the fine-tune settings' (max_steps, learning_rate): one label, one field on the page
    pt_steps = int(p2.number_input("Pre-training max_steps", min_value=1, value=adapt.PRETRAIN_STEPS, step=50,
                                   key="pt_steps",
                                   help="Optimizer steps of masked-LM training (the first 20% train a new "
                                        "masked-LM head alone when the model has none)."))
    pt_lr = float(p3.number_input("Pre-training learning_rate", min_value=1e-7, max_value=1.0,
                                  value=adapt.PRETRAIN_LEARNING_RATE, format="%g", step=1e-5, key="pt_lr",
                                  help="Peak learning rate (bench/adaptation.py used 5e-5 for the masked LM)."))
    pt_name = st.text_input("Run name (optional)", key="pt_name")
    if st.button("Pre-train", key="pt_launch", disabled=not pt_model or not (use_ds or files)):
        try:
            with st.spinner("Starting the pre-training process..."):
                new = adapt.start_pretrain(store, model=pt_model, max_steps=pt_steps, learning_rate=pt_lr,
                                           dataset=ds if use_ds else None, name=pt_name or None, device=device,
                                           uploads=[(f.name, f.getvalue()) for f in files or []])
        except StudioError as exc:
            st.error(str(exc))
        else:
            st.session_state["train_run_pending"] = new.run_id
            st.rerun()

# ------------------------------------------------------------------------------------------------ transfer matrix
with st.expander("Transfer matrix: which languages carry over to which"):
    st.caption(TRANSFER_HELP)
    check = adapt.transfer_check(store, ds)
    if check.languages:
        st.caption(f"{md_escape(ds.name)}: training languages "
                   + ", ".join(f"{md_escape(k)} {v:,}" for k, v in check.languages.items())
                   + f"; {check.n_test:,} test sentences.")
    if not check.ok:
        st.caption(check.reason)
    xfer_name = st.text_input("Run name (optional)", key="xfer_name")
    if st.button(f"Transfer matrix ({len(check.languages)} fine-tunes)" if check.ok else "Transfer matrix",
                 key="xfer_launch", disabled=not check.ok or cfg is None or not model):
        try:
            with st.spinner("Starting the transfer-matrix process..."):
                new = adapt.start_transfer(store, ds, cfg, name=xfer_name or None)
        except StudioError as exc:
            st.error(str(exc))
        else:
            st.session_state["train_run_pending"] = new.run_id
            st.rerun()
