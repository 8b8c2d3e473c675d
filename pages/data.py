"""Data: upload or point at corpus files, validate them, look at statistics and sentences, assign splits.

Everything is saved in the workspace (core.runs.registry): a reload or a server restart loses nothing.
"""

import pandas as pd
import streamlit as st

from core.runs import registry
from core.kernel.errors import StudioError
from core.data.formats import FORMATS
from core.data.langid import language_label
from core.data.langid.overrides import GROUPS, describe, language_panel, make_override, sentence_choices
from core.ui.plots import entity_counts_figure, length_histogram
from core.ui.render import RTL_LANGS, md_escape, render_tokens
from core.data.schemes import SCHEMES
from core.data.splits import SPLITS, split_counts
from pages._shared import durable, remember, setup, show_html

PAGE_SIZE = 10
COMMON_LANGS = ["auto", "en", "de", "es", "fr", "nl", "it", "pt", "ru", "ar", "zh", "ja", "hi", "tr", "sw"]

store = setup("Data", "Upload a corpus, check it, and decide what is train, dev and test.")


@st.cache_resource(max_entries=4, show_spinner="Reading and checking the files...")
def load_dataset(manifest_file: str, updated: float):
    """The dataset read with its manifest (cached per manifest version; never mutated by the page)."""
    import json

    from core.runs.registry import Manifest, load

    with open(manifest_file, encoding="utf-8") as fh:
        manifest = Manifest(**json.load(fh))
    return load(manifest)


# ------------------------------------------------------------------------------------------------ add a dataset
existing = store.list_datasets()
with st.expander("Add a dataset", expanded=not existing):
    if st.button("Add the bundled demo corpus", key="data_demo",
                 help="8 languages, PER / ORG / LOC / MISC, with train / dev / test files (assets/demo)."):
        try:
            with st.spinner("Registering the demo corpus..."):
                demo = registry.ensure_demo(store)
        except (StudioError, FileNotFoundError) as exc:
            st.error(str(exc))
        else:
            remember("data_ds", demo.id)
            existing = store.list_datasets()
    source = st.radio("Source", ["Upload files", "Path on the server"], horizontal=True, key="data_source")
    uploads, paths = [], []
    if source == "Upload files":
        files = st.file_uploader("Corpus files (several at once: train, dev and test files, one per language...)",
                                 accept_multiple_files=True, key="data_upload")
        uploads = [(f.name, f.getvalue()) for f in files or []]
    else:
        text = st.text_area("Files or folders on the server, one per line", key="data_paths",
                            help="Referenced, not copied; the checked sentences are saved in the workspace.")
        paths = [line.strip() for line in (text or "").splitlines() if line.strip()]
    c1, c2, c3, c4 = st.columns(4)
    fmt = c1.selectbox("Format", ["auto", *FORMATS], key="data_format", help="auto detects it from the content.")
    scheme = c2.selectbox("Tagging scheme", ["auto", *SCHEMES], key="data_scheme",
                          help="auto detects IOB1 / IOB2 / IOBES / BILOU / BMES / IO; everything becomes IOB2.")
    lang = c3.selectbox("Language", COMMON_LANGS, key="data_lang", accept_new_options=True,
                        help="auto: from a lang field, a comment, the file name, or detection per block of "
                             "sentences. Type any ISO code to force one.")
    unit = c4.radio("Span offsets", ["auto", "char", "byte", "utf16"], key="data_unit", horizontal=True,
                    help="For span formats (doccano, Label Studio, spaCy): characters, UTF-8 bytes, or UTF-16 code "
                         "units (browser tools); auto picks the unit under which the spans' texts match.")
    special = st.checkbox("Read [SEP], [PAD], <pad>, X, -100 and empty labels as O", key="data_special_o",
                          help="Such labels mark tokenizer or loss positions, not entities. Off: each one is an "
                               "error with its file and line. On: read as O, with one warning counting them.")
    default_name = uploads[0][0] if uploads else (paths[0].rstrip("/").rsplit("/", 1)[-1] if paths else "")
    name = st.text_input("Dataset name", value=default_name, key=f"data_name_{default_name}")
    if st.button("Save and check", type="primary", key="data_save", disabled=not (uploads or paths)):
        try:
            with st.spinner("Saving the files and checking every sentence..."):
                ds, _ = registry.create(store, name or "dataset", files=paths, uploads=uploads,
                                        options={"format": fmt, "scheme": scheme, "lang": lang, "offset_unit": unit,
                                                 "special_as_o": special},
                                        source="upload" if uploads else "path")
        except (StudioError, ValueError, OSError) as exc:
            st.error(f"Nothing could be read: {exc}")
        else:
            remember("data_ds", ds.id)
            st.success(f"Saved dataset {md_escape(repr(ds.name))}.")
            existing = store.list_datasets()

# ------------------------------------------------------------------------------------------------ one dataset
if not existing:
    st.info("No dataset yet: upload files or add the bundled demo corpus above, or use Quick start on the Home page.")
    st.stop()

names = {d.id: d.name for d in existing}
ds_id = durable(st.selectbox, "Dataset", list(names), format_func=lambda i: f"{names[i]} ({i})", key="data_ds",
                default=existing[0].id)
manifest = registry.read_manifest(store, ds_id)
if manifest is None:
    st.warning("This dataset was not saved by the studio (no dataset.json); add its files again above.")
    st.stop()
try:
    loaded = load_dataset(str(registry.manifest_path(store, ds_id)), manifest.updated)
except StudioError as exc:
    st.error(str(exc))
    st.stop()
stats = loaded.stats
corpus = loaded.corpus

m1, m2, m3, m4 = st.columns(4)
m1.metric("Sentences", f"{stats['n_sentences']:,}")
m2.metric("Tokens", f"{stats['n_tokens']:,}")
m3.metric("Entities", f"{stats['n_entities']:,}")
m4.metric("Languages", len(stats["languages"]))

# validation report (spaCy debug-data style)
st.subheader("Validation report")
sections = registry.report_sections(loaded)
if sections["errors"]:
    st.error(f"{len(sections['errors'])} error(s): these lines were not read as given. Fix the files and add them "
             "again; training stays disabled while the dataset has errors.")
    st.dataframe(pd.DataFrame(sections["errors"]), hide_index=True, key="data_errors")
if sections["warnings"]:
    st.warning(f"{len(sections['warnings'])} warning(s)")
    st.dataframe(pd.DataFrame(sections["warnings"]), hide_index=True, key="data_warnings")
for line in sections["good"]:
    st.markdown(f":green[✔] {line}")

# statistics per language
st.subheader("Statistics per language")
rows = []
for lg, v in stats["per_language"].items():
    rows.append({"language": lg, "sentences": v["sentences"], "tokens": v["tokens"], "entities": v["entities"],
                 **{t: v["types"].get(t, 0) for t in stats["entity_types"]}})
st.dataframe(pd.DataFrame(rows), hide_index=True, key="data_stats")
c1, c2 = st.columns(2)
c1.plotly_chart(entity_counts_figure(stats["per_language"]), key="data_entity_counts")
c2.plotly_chart(length_histogram([len(s) for s in corpus.sentences]), key="data_lengths")

# languages: how each was decided, and the user's decisions (saved in the manifest, applied on every load)
st.subheader("Languages")
st.caption("How each sentence's language was decided: given (a lang field or comment, --lang, or your decision "
           "here), file (file name, folder or xx: prefix, confirmed by the text), script (a script only one language "
           "uses), detected (the detectors agreed), document (its document or agreeing neighbours), und (nobody was "
           "sure). Your decisions are saved with the dataset and used by splits, training, scores and Review.")
panel = language_panel(corpus.sentences)
st.dataframe(pd.DataFrame([{"language": r["label"], "sentences": r["sentences"], **{g: r[g] for g in GROUPS},
                            "files": r["files"]} for r in panel]), hide_index=True, key="data_langs")
with st.expander("Sample sentences per language"):
    for r in panel:
        st.text(f"{r['label']} ({r['sentences']:,} sentences)")
        for s in r["samples"]:
            show_html(render_tokens(s.tokens, s.ner_tags, rtl=s.lang in RTL_LANGS))
present = [r["lang"] for r in panel]
targets = list(dict.fromkeys([*present, *COMMON_LANGS[1:]]))


def lang_choice(where, label: str, key: str):
    """A language picker showing names; typing any ISO code adds it (checked by make_override)."""
    return where.selectbox(label, targets, key=key, format_func=language_label, accept_new_options=True)


def save_decision(build) -> None:
    try:
        with st.spinner("Saving the decision and preparing the dataset again..."):
            registry.add_language_override(store, ds_id, build())
    except StudioError as exc:
        st.error(str(exc))
    else:
        st.rerun()


action = st.radio("Change languages", ["Rename or merge a language", "Set the language of a file",
                                       "Set the language of sentences"], horizontal=True, key="data_lang_action")
if action == "Rename or merge a language":
    l1, l2 = st.columns(2)
    old = l1.selectbox("Language", present, key="data_lang_from", format_func=language_label)
    new_lang = lang_choice(l2, "Becomes (an existing language merges them)", "data_lang_to")
    if st.button("Rename / merge", key="data_lang_rename", disabled=not present):
        save_decision(lambda: make_override("language", new_lang, source_lang=old))
elif action == "Set the language of a file":
    files = sorted({s.source for s in corpus.sentences})
    f1, f2 = st.columns(2)
    path = f1.selectbox("File", files, key="data_lang_file", format_func=lambda p: p.rsplit("/", 1)[-1])
    only = f2.radio("Sentences", ["all", "only und"], horizontal=True, key="data_lang_file_only")
    new_lang = lang_choice(st, "Language", "data_lang_file_to")
    if st.button("Set for the file", key="data_lang_set_file", disabled=not files):
        save_decision(lambda: make_override("file", new_lang, file=path,
                                            source_lang="und" if only == "only und" else None))
else:
    pick_from = st.selectbox("Sentences now in", present, key="data_lang_pick_from", format_func=language_label,
                             index=present.index("und") if "und" in present else 0)
    choices = sentence_choices(corpus.sentences, pick_from)
    picked = st.multiselect(f"Sentences ({len(choices):,} listed)", list(choices), key="data_lang_pick",
                            format_func=lambda k: choices.get(k, str(k)))
    new_lang = lang_choice(st, "Language", "data_lang_pick_to")
    if st.button("Set for the selected sentences", key="data_lang_set_sents", disabled=not picked):
        save_decision(lambda: make_override("sentences", new_lang, sentences=picked))
if manifest.lang_overrides:
    st.text("Your decisions, applied in this order:\n" + "\n".join(f"{i + 1}. {describe(o)}" for i, o in
                                                                   enumerate(manifest.lang_overrides)))
    if st.button("Undo the last decision", key="data_lang_undo"):
        with st.spinner("Preparing the dataset again..."):
            registry.set_language_overrides(store, ds_id, manifest.lang_overrides[:-1])
        st.rerun()

# splits
st.subheader("Splits")
counts = split_counts(corpus.sentences)
st.dataframe(pd.DataFrame([{"language": lg, **c} for lg, c in counts.items()]), hide_index=True, key="data_splits")
mode = st.radio("Assign splits", ["by file", "random (seeded, stratified by language)"], horizontal=True,
                index=0 if manifest.split_mode == "file" else 1, key=f"data_split_mode_{ds_id}")
new = registry.Manifest(**{**manifest.__dict__})
if mode == "by file":
    new.split_mode = "file"
    new.file_splits = dict(manifest.file_splits)
    for path in manifest.files:
        current = manifest.file_splits.get(path, "train")
        new.file_splits[path] = st.selectbox(path.rsplit("/", 1)[-1], SPLITS, index=SPLITS.index(current),
                                             key=f"data_file_split_{ds_id}_{path}")
else:
    new.split_mode = "random"
    r1, r2, r3 = st.columns(3)
    seed = r1.number_input("Seed", value=int(manifest.random.get("seed", 42)), step=1, key=f"data_seed_{ds_id}")
    dev = r2.slider("Dev share", 0.0, 0.4, float(manifest.random.get("dev", 0.1)), 0.05, key=f"data_dev_{ds_id}")
    test = r3.slider("Test share", 0.0, 0.4, float(manifest.random.get("test", 0.1)), 0.05, key=f"data_test_{ds_id}")
    new.random = {"seed": int(seed), "dev": float(dev), "test": float(test)}
    st.caption("Documents stay together: every sentence of one document goes to the same split.")
changed = (new.split_mode, new.file_splits, new.random) != (manifest.split_mode, manifest.file_splits, manifest.random)
if st.button("Apply splits", key="data_apply_split", disabled=not changed):
    with st.spinner("Writing the splits..."):
        registry.prepare(store, ds_id, new)
    st.rerun()

# paged preview
st.subheader("Preview")
p1, p2, p3 = st.columns(3)
lang_filter = durable(p1.selectbox, "Language", ["all", *stats["languages"]], key="data_prev_lang",
                      format_func=lambda c: c if c == "all" else language_label(c))
split_filter = durable(p2.selectbox, "Split", ["all", *SPLITS], key="data_prev_split")
shown = [s for s in corpus.sentences if (lang_filter == "all" or s.lang == lang_filter)
         and (split_filter == "all" or s.split == split_filter)]
n_pages = max(1, -(-len(shown) // PAGE_SIZE))
page = p3.number_input(f"Page (of {n_pages})", min_value=1, max_value=n_pages, value=1, step=1, key="data_prev_page")
if not shown:
    st.info("No sentence matches these filters.")
for s in shown[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]:
    st.text(f"{s.where.rsplit('/', 1)[-1]} · {s.lang} · {s.split}")
    show_html(render_tokens(s.tokens, s.ner_tags, rtl=s.lang in RTL_LANGS))
