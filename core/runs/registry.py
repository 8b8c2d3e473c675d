"""Datasets saved in the workspace: uploaded or referenced files, their reading options, split assignment and
the prepared per-split files a run trains on.

A dataset is a row in the run store (:meth:`core.runs.store.RunStore.add_dataset`: id, name, fixed ``meta``) plus
a folder ``<ws>/datasets/<id>/``::

    raw/                 uploaded files, saved as they came (absent for a server path or the demo corpus)
    dataset.json         the manifest: input files, reading options, split assignment, summary (mutable)
    prepared/train.jsonl the sentences of each split, IOB2, with their language: what a run reads
    prepared/dev.jsonl
    prepared/test.jsonl

Raw text for continued pre-training that the Train page receives as uploads is kept under
``<ws>/texts/<id>/`` (:func:`save_texts`).

The prepared files are JSON Lines (``tokens``, ``ner_tags``, ``lang``, ``doc_id``...; see
:func:`core.data.writers.jsonl_text`) so that the trainer reads exactly what the Data page validated, whatever
format, scheme, offset unit or language the user chose: a run's ``data`` is
``{"train": [prepared/train.jsonl], "dev": [...], "test": [...], "format": "jsonl", "lang": None}``.
Provenance (file:line) in predictions then points into the prepared files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from core.kernel.constants import PROJECT_ROOT
from core.data.corpus import Corpus, ReadOptions, Sentence
from core.kernel.errors import RunError
from core.kernel.files import atomic_write
from core.data.langid.overrides import apply_overrides
from core.data.loader import load_corpus
from core.data.splits import SPLITS, apply_splits, random_split, split_by_file
from core.runs.paths import check_server_paths
from core.runs.store import Dataset, RunStore
from core.data.validate import bad_sentences, corpus_stats, validate

MANIFEST = "dataset.json"
RAW_DIR = "raw"
PREPARED_DIR = "prepared"
TEXTS_DIR = "texts"
DEMO_ID = "demo"
DEMO_NAME = "Demo corpus (bundled, 8 languages)"
DEMO_DIR = PROJECT_ROOT / "assets" / "demo"
DEMO_FILES = ("train.conll", "dev.conll", "test.conll")
#: Model window (subwords) used for the W108 check of the Data page.
VALIDATE_MAX_SEQ_LENGTH = 256
LEFT_OUT_LISTED = 50  # sentences with errors listed by name in the summary (all are counted)


@dataclass
class Manifest:
    """The mutable description of a dataset (``dataset.json``).

    Attributes:
        files: absolute paths of the input files (or folders).
        options: reading options: ``format``, ``scheme``, ``lang`` (None = auto), ``offset_unit`` and ``special_as_o``.
        split_mode: ``file`` (each file's split from ``file_splits``) or ``random``.
        file_splits: input path -> split, for ``split_mode == "file"``.
        random: ``{"seed", "dev", "test"}`` for ``split_mode == "random"``.
        prepared: split -> list of prepared files (what a run reads).
        summary: counts after the last preparation (sentences, tokens, entities, languages, splits,
            ``avg_tokens`` of train, ``n_errors``, ``n_warnings``).
        source: ``upload``, ``path``, ``demo`` or ``review``.
        updated: unix seconds of the last preparation.
        lang_overrides: the user's language decisions, oldest first (renames, merges, a language for a file
            or for selected sentences; see :mod:`core.data.langid.overrides`), applied on every load.
    """

    files: list[str]
    options: dict = field(default_factory=dict)
    split_mode: str = "file"
    file_splits: dict[str, str] = field(default_factory=dict)
    random: dict = field(default_factory=lambda: {"seed": 42, "dev": 0.1, "test": 0.1})
    prepared: dict[str, list[str]] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    source: str = "upload"
    updated: float = 0.0
    lang_overrides: list[dict] = field(default_factory=list)

    def read_options(self) -> ReadOptions:
        o = self.options
        return ReadOptions(format=o.get("format") or None, scheme=o.get("scheme") or None,
                           lang=o.get("lang") or None, offset_unit=o.get("offset_unit") or "auto",
                           special_as_o=bool(o.get("special_as_o")))


def _atomic_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True))


def manifest_path(store: RunStore, dataset_id: str) -> Path:
    return store.dataset_dir(dataset_id) / MANIFEST


def read_manifest(store: RunStore, dataset_id: str) -> Manifest | None:
    """The dataset's manifest, or None when it has none (a dataset recorded by other tools)."""
    path = manifest_path(store, dataset_id)
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Manifest(**{k: v for k, v in data.items() if k in Manifest.__dataclass_fields__})


def write_manifest(store: RunStore, dataset_id: str, manifest: Manifest) -> None:
    _atomic_json(manifest_path(store, dataset_id), manifest.__dict__)


def safe_filename(name: str, taken: set[str]) -> str:
    """A plain file name from an uploaded name (folders and leading dots dropped), unique within ``taken``."""
    base = Path(name.replace("\\", "/")).name.lstrip(".") or "upload"
    stem, suffix = os.path.splitext(base)
    out, k = base, 1
    while out in taken:
        k += 1
        out = f"{stem}_{k}{suffix}"
    taken.add(out)
    return out


# ---------------------------------------------------------------------------------------------- loading


@dataclass
class Loaded:
    """A dataset read with its manifest's options and split assignment, validated.

    Attributes:
        corpus: sentences (``split`` set) and the report (reader problems plus corpus-level warnings).
        manifest: the manifest used.
        stats: :func:`core.data.validate.corpus_stats` of all sentences.
    """

    corpus: Corpus
    manifest: Manifest
    stats: dict


def load(manifest: Manifest, max_seq_length: int = VALIDATE_MAX_SEQ_LENGTH) -> Loaded:
    """Read a manifest's files, apply the user's language decisions (``lang_overrides``), assign splits (by
    file or seeded random; random splits are stratified by the corrected languages) and validate.

    Raises:
        core.kernel.errors.CorpusError: when no file could be read at all.
    """
    corpus = load_corpus(manifest.files, manifest.read_options(),
                         splits=manifest.file_splits if manifest.split_mode == "file" else None)
    corpus.sentences = [s for s in corpus.sentences if s.tokens]
    apply_overrides(corpus.sentences, manifest.lang_overrides, corpus.report)
    if manifest.split_mode == "random":
        r = manifest.random
        apply_splits(corpus.sentences, random_split(corpus.sentences, float(r.get("dev", 0.1)),
                                                    float(r.get("test", 0.1)), int(r.get("seed", 42))))
    else:
        for s in corpus.sentences:
            if s.split not in SPLITS:
                s.split = "train"
    validate(corpus, max_seq_length=max_seq_length)
    return Loaded(corpus, manifest, corpus_stats(corpus.sentences))


def report_sections(loaded: Loaded) -> dict[str, list]:
    """The validation report in spaCy ``debug data`` style.

    Returns:
        ``{"errors": [problem dicts], "warnings": [problem dicts], "good": [str]}``; problem dicts have
        ``code, where (file:line), message, text, fix``; ``good`` lists the checks that passed.
    """
    corpus, st = loaded.corpus, loaded.stats
    report = corpus.report

    def rows(problems):
        return [{"code": p.code, "where": f"{Path(p.file).name}:{p.line}" if p.line else Path(p.file).name,
                 "message": p.message, "text": p.text, "fix": p.fix} for p in problems]

    codes = {p.code for p in report.problems}
    good: list[str] = []
    n_files = len(corpus.formats)
    if st["n_sentences"]:
        fmts = ", ".join(sorted(set(corpus.formats.values())))
        good.append(f"{st['n_sentences']:,} sentences, {st['n_tokens']:,} tokens and {st['n_entities']:,} "
                    f"entities read from {n_files} file(s) ({fmts})")
    if not report.errors:
        good.append("No reading errors")
    if "E104" not in codes:
        good.append("Every tag is a valid tag")
    if "W102" not in codes and "W111" not in codes:
        schemes = sorted(set(corpus.schemes.values()))
        conv = "" if schemes in ([], ["IOB2"]) else ", converted to IOB2"
        good.append(f"Tag sequences are well formed (scheme {', '.join(schemes) or '-'}{conv})")
    if "W110" not in codes and "und" not in st["languages"]:
        good.append(f"Every sentence has a language ({len(st['languages'])} language(s))")
    if "W105" not in codes and st["entity_types"]:
        good.append("Every entity type has at least 10 training examples")
    if "W106" not in codes:
        good.append("Every entity type of dev/test occurs in train")
    if "W107" not in codes:
        good.append("No sentence is repeated across splits")
    if "W108" not in codes:
        good.append(f"No sentence is longer than a {VALIDATE_MAX_SEQ_LENGTH}-subword window")
    present = [sp for sp in SPLITS if st["splits"].get(sp)]
    if present == list(SPLITS):
        good.append("train, dev and test splits are present")
    return {"errors": rows(report.errors), "warnings": rows(report.warnings), "good": good}


def _summary(loaded: Loaded) -> dict:
    st = loaded.stats
    train = [s for s in loaded.corpus.sentences if s.split == "train"]
    return {"n_sentences": st["n_sentences"], "n_tokens": st["n_tokens"], "n_entities": st["n_entities"],
            "languages": st["languages"], "entity_types": st["entity_types"], "splits": st["splits"],
            "n_train": len(train),
            "avg_tokens": round(sum(len(s) for s in train) / len(train), 2) if train else 0.0,
            "n_errors": len(loaded.corpus.report.errors), "n_warnings": len(loaded.corpus.report.warnings)}


def prepare(store: RunStore, dataset_id: str, manifest: Manifest | None = None) -> Loaded:
    """Load a dataset, write its prepared per-split files and save the manifest with the new summary.

    Args:
        store: the run store.
        dataset_id: the dataset.
        manifest: a changed manifest (e.g. a new split assignment); the saved one when None.

    Returns:
        The loaded, validated dataset.

    Raises:
        RunError: ``E309`` when the dataset has no manifest.
        core.kernel.errors.CorpusError: when no file could be read.
    """
    from core.data.writers import write_corpus

    manifest = manifest or read_manifest(store, dataset_id)
    if manifest is None:
        raise RunError("E309", f"dataset {dataset_id!r} has no {MANIFEST}: it was not saved by the studio")
    loaded = load(manifest)
    out_dir = store.dataset_dir(dataset_id) / PREPARED_DIR
    prepared: dict[str, list[str]] = {}
    # sentences holding an error are left out of the prepared files (training uses only the good ones) and listed
    bad = bad_sentences(loaded.corpus.sentences, loaded.corpus.report)
    good = [s for i, s in enumerate(loaded.corpus.sentences) if i not in bad]
    for split in SPLITS:
        sents = [s for s in good if s.split == split]
        path = out_dir / f"{split}.jsonl"
        if sents:
            write_corpus(sents, str(path), to="jsonl")
            prepared[split] = [str(path)]
        elif path.exists():
            path.unlink()
    manifest.prepared = prepared
    manifest.summary = _summary(loaded)
    manifest.summary["n_train"] = sum(1 for s in good if s.split == "train")
    manifest.summary["n_left_out"] = len(bad)
    manifest.summary["split_languages"] = {sp: language_counts([s for s in good if s.split == sp]) for sp in SPLITS}
    manifest.summary["left_out"] = [
        {"where": f"{Path(s.source).name}:{s.line_start}", "split": s.split, "error": f"{bad[i][1]} line {bad[i][0]}",
         "text": " ".join(s.tokens[:12])} for i, s in enumerate(loaded.corpus.sentences) if i in bad][:LEFT_OUT_LISTED]
    manifest.updated = time.time()
    write_manifest(store, dataset_id, manifest)
    return loaded


def set_language_overrides(store: RunStore, dataset_id: str, overrides: Sequence[dict]) -> Loaded:
    """Save the dataset's language decisions (the whole list, oldest first) and prepare it again, so the
    prepared files (what runs, Review and adapters read) carry the corrected languages.

    Args:
        store: the run store.
        dataset_id: the dataset.
        overrides: decision dicts (build them with :func:`core.data.langid.overrides.make_override`).

    Raises:
        RunError: ``E309`` when the dataset has no manifest.
    """
    manifest = read_manifest(store, dataset_id)
    if manifest is None:
        raise RunError("E309", f"dataset {dataset_id!r} has no {MANIFEST}: it was not saved by the studio")
    manifest.lang_overrides = [dict(o) for o in overrides]
    return prepare(store, dataset_id, manifest)


def add_language_override(store: RunStore, dataset_id: str, override: dict) -> Loaded:
    """Append one language decision (see :func:`set_language_overrides`)."""
    manifest = read_manifest(store, dataset_id)
    if manifest is None:
        raise RunError("E309", f"dataset {dataset_id!r} has no {MANIFEST}: it was not saved by the studio")
    return set_language_overrides(store, dataset_id, [*manifest.lang_overrides, override])


def create(store: RunStore, name: str, *, files: Sequence[str] = (), uploads: Sequence[tuple[str, bytes]] = (),
           options: dict | None = None, file_splits: dict[str, str] | None = None, source: str = "upload",
           dataset_id: str | None = None) -> tuple[Dataset, Loaded]:
    """Save a new dataset in the workspace and prepare it.

    Args:
        store: the run store.
        name: display name.
        files: paths on the server, referenced (not copied).
        uploads: ``(file name, content)`` pairs, saved under ``raw/``.
        options: ``format``, ``scheme``, ``lang``, ``offset_unit`` (None or ``auto`` = detect).
        file_splits: file -> split (keys are the given paths, or the upload names); guessed from the file
            names when missing (``train``/``dev``/``test``..., else train).
        source: ``upload``, ``path``, ``demo`` or ``review``.
        dataset_id: a chosen id (for the demo); fresh when None.

    Returns:
        ``(dataset, loaded)``.

    Raises:
        ValueError: no file given.
        RunError: ``E310`` when ``dataset_id`` is taken.
        core.kernel.errors.CorpusError: when no file could be read (the dataset is then removed again).
        core.kernel.errors.StudioError: ``E320`` for ``source == "path"`` when a path is outside the allowed
            roots or not a regular file (see :func:`core.runs.paths.check_server_paths`).
    """
    if not files and not uploads:
        raise ValueError("give at least one file")
    if source == "path":  # typed by a user: only regular files inside the allowed roots (core.runs.paths)
        checked = check_server_paths(files)
        real = dict(zip(files, checked))
        file_splits = {real.get(k, k): v for k, v in (file_splits or {}).items()}
        files = checked
    opts = {k: (None if v in ("", "auto") else v) for k, v in (options or {}).items()}
    ds = store.add_dataset(name, meta={"source": source, "options": opts}, dataset_id=dataset_id)
    try:
        paths = [str(Path(f).expanduser().resolve()) for f in files]
        given = {str(Path(k).expanduser().resolve()) if k in files else k: v for k, v in (file_splits or {}).items()}
        if uploads:
            raw = store.dataset_dir(ds.id) / RAW_DIR
            raw.mkdir(parents=True, exist_ok=True)
            taken: set[str] = set()
            for fname, content in uploads:
                target = raw / safe_filename(fname, taken)
                target.write_bytes(content)
                paths.append(str(target))
                if fname in given:
                    given[str(target)] = given.pop(fname)
        splits = split_by_file(paths)
        splits.update({p: s for p, s in given.items() if p in splits and s in SPLITS})
        manifest = Manifest(files=paths, options=opts, split_mode="file", file_splits=splits, source=source)
        loaded = prepare(store, ds.id, manifest)
    except BaseException:
        store.delete_dataset(ds.id)
        raise
    return ds, loaded


def create_from_sentences(store: RunStore, name: str, sentences: Sequence[Sentence], source: str = "review",
                          ) -> tuple[Dataset, Loaded]:
    """A new dataset from sentences in memory (e.g. a corrected corpus), one JSON Lines file per split.

    Sentences keep their split (None counts as train) and language.
    """
    from core.data.writers import jsonl_text

    by_split: dict[str, list[Sentence]] = {}
    for s in sentences:
        by_split.setdefault(s.split if s.split in SPLITS else "train", []).append(s)
    uploads = [(f"{split}.jsonl", jsonl_text(sents).encode("utf-8")) for split, sents in by_split.items()]
    return create(store, name, uploads=uploads, options={"format": "jsonl"},
                  file_splits={f"{split}.jsonl": split for split in by_split}, source=source)


def ensure_demo(store: RunStore) -> Dataset:
    """The bundled demo corpus as dataset ``demo`` (registered and prepared on first call).

    Raises:
        FileNotFoundError: when ``assets/demo`` lacks its train/dev/test files.
    """
    if any(d.id == DEMO_ID for d in store.list_datasets()):  # registered before: reuse it when complete
        ds = store.get_dataset(DEMO_ID)
        if read_manifest(store, DEMO_ID) is not None:
            return ds
        store.delete_dataset(DEMO_ID)
    missing = [f for f in DEMO_FILES if not (DEMO_DIR / f).exists()]
    if missing:
        raise FileNotFoundError(f"the demo corpus is missing {', '.join(missing)} in {DEMO_DIR}")
    ds, _ = create(store, DEMO_NAME, files=[str(DEMO_DIR / f) for f in DEMO_FILES], options={"format": "conll"},
                   source="demo", dataset_id=DEMO_ID)
    return ds


def run_data(store: RunStore, dataset: Dataset) -> dict:
    """A run's ``data`` dict for a prepared dataset (see :func:`core.train.loop.load_run_data`).

    Raises:
        RunError: ``E309`` when the dataset has no prepared training split.
    """
    manifest = read_manifest(store, dataset.id)
    if manifest is None or not manifest.prepared.get("train"):
        raise RunError("E309", f"dataset {dataset.name!r} has no training split",
                       fix="Assign at least one file (or a share of sentences) to train on the Data page.")
    return {"train": manifest.prepared.get("train", []), "dev": manifest.prepared.get("dev", []),
            "test": manifest.prepared.get("test", []), "lang": None, "format": "jsonl",
            "dataset_id": dataset.id, "dataset_name": dataset.name,
            "languages": sorted(manifest.summary.get("languages", {})),
            # sentences with errors, left out of the prepared files (the run trains on the good ones)
            "left_out": {"n_sentences": manifest.summary.get("n_left_out", 0),
                         "n_errors": manifest.summary.get("n_errors", 0),
                         "sentences": manifest.summary.get("left_out", [])}}


def split_files(store: RunStore, dataset_id: str, split: str = "train") -> list[str]:
    """The prepared files of one split of a dataset (what a run reads); [] when the split is empty or the
    dataset has no manifest."""
    manifest = read_manifest(store, dataset_id)
    return list(manifest.prepared.get(split, [])) if manifest is not None else []


def split_languages(store: RunStore, dataset_id: str, split: str = "train") -> dict[str, int]:
    """Language -> sentences of one split of the prepared dataset (the good sentences a run reads), most
    frequent first; {} when the split is empty.

    From the summary :func:`prepare` writes; a dataset prepared before it recorded them is counted from its
    prepared files (the ``lang`` of each JSON line).
    """
    manifest = read_manifest(store, dataset_id)
    if manifest is None:
        return {}
    saved = (manifest.summary.get("split_languages") or {}).get(split)
    if saved is not None:
        return dict(saved)
    counts: Counter = Counter()
    for path in manifest.prepared.get(split, []):
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            if line.strip():
                try:
                    counts[str(json.loads(line).get("lang") or "und")] += 1
                except ValueError:
                    continue
    return dict(counts.most_common())


def save_texts(store: RunStore, uploads: Sequence[tuple[str, bytes]]) -> list[str]:
    """Save uploaded raw-text files (for continued pre-training) under ``<ws>/texts/<id>/``, with safe, unique
    file names (:func:`safe_filename`); returns their absolute paths ([] for no upload)."""
    if not uploads:
        return []
    folder = Path(store.workspace) / TEXTS_DIR / f"t{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    folder.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    paths = []
    for fname, content in uploads:
        target = folder / safe_filename(fname, taken)
        target.write_bytes(content)
        paths.append(str(target))
    return paths


def language_counts(sentences: Sequence[Sentence]) -> dict[str, int]:
    """Language -> sentences, most frequent first."""
    return dict(Counter(s.lang for s in sentences).most_common())


def create_from_run_review(store: RunStore, name: str, run_data: dict, split: str,
                           corrected: Sequence[Sentence]) -> tuple[Dataset, Loaded]:
    """A new dataset for the next run: the run's other splits as they were, plus the corrected ``split``.

    Args:
        store: the run store.
        name: display name.
        run_data: the reviewed run's ``data`` (train / dev / test paths, format, lang).
        split: the split that was reviewed (``dev`` or ``test``).
        corrected: its sentences with the reviewer's tags (see :func:`core.data.review.apply_corrections`).

    When the run had no dev file (dev was held out of train), the corrected dev sentences also remain in the
    training files; the new dataset's report then warns about sentences repeated across splits (W107).
    """
    sentences: list[Sentence] = []
    for other in SPLITS:
        if other == split:
            sentences.extend(dataclasses.replace(s, split=split) for s in corrected)
            continue
        paths = run_data.get(other) or []
        if not paths:
            continue
        part = load_corpus(paths, ReadOptions(format=run_data.get("format"), lang=run_data.get("lang"), split=other))
        sentences.extend(s for s in part.sentences if s.tokens)
    return create_from_sentences(store, name, sentences, source="review")
