"""What an export starts from: the model folder, the run it came from (when known) and the sentences to re-score.

A model is named by a run id (its saved model) or a folder. The sentences that check an export are, in order:
the files given with ``--data``; the run's test set; the run's dev set (read exactly as the run read them: same
format, language and ``max_<split>_sentences`` limit). A dev set the trainer held out of train is not
reconstructed here, so such a run needs ``--data``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from core.data.corpus import ReadOptions, Sentence
from core.kernel.errors import StudioError


@dataclass
class ExportSource:
    """A model to export and the annotated sentences that check the export.

    Attributes:
        model_dir: absolute path of the transformers folder.
        run: the :class:`core.runs.store.Run` that produced it, or None.
        split: ``test``, ``dev`` or ``data`` (files given by the user); ``""`` when there are no sentences.
        files: the files the sentences were read from.
        sentences: annotated sentences (IOB2), possibly empty.
    """

    model_dir: str
    run: object | None = None
    split: str = ""
    files: list[str] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)


def _find_run_of_folder(store, folder: str):
    target = str(Path(folder).resolve())
    for run in store.list_runs():
        if run.model_dir and str(Path(run.model_dir).resolve()) == target:
            return run
    return None


def _read(paths: Sequence[str], fmt: str | None, lang: str | None, split: str, limit: int | None) -> list[Sentence]:
    from core.data.loader import load_corpus

    corpus = load_corpus(list(paths), ReadOptions(format=fmt, lang=lang, split=split))
    sents = [s for s in corpus.sentences if s.tokens]
    return sents[: int(limit)] if limit else sents


def resolve_source(ref: str, data: Sequence[str] | None = None, fmt: str | None = None, lang: str | None = None,
                   max_sentences: int | None = None, store=None) -> ExportSource:
    """Find the model folder of ``ref`` (a run id or a folder) and the sentences that check its export.

    Args:
        ref: run id, or a transformers model folder (a run's model folder is matched back to its run).
        data: annotated files that override the run's test/dev set.
        fmt, lang: reading options for ``data``.
        max_sentences: keep only the first N checking sentences.
        store: the run store (default: the workspace's).

    Raises:
        StudioError: E203 when ``ref`` is neither a folder nor a run with a saved model; corpus errors of ``data``.
    """
    from core.runs.store import RunStore

    store = store or RunStore()
    run = None
    if Path(ref).expanduser().is_dir():
        model_dir = str(Path(ref).expanduser().resolve())
        run = _find_run_of_folder(store, model_dir)
    else:
        run = store.find_run(ref)
        if run is None:
            raise StudioError("E203", f"{ref!r} is neither a model folder nor a run id", text=ref,
                              fix="List runs with `python -m core runs`, or give a model folder.")
        if not run.model_dir or not Path(run.model_dir).is_dir():
            raise StudioError("E203", f"run {ref} has no saved model ({run.status})", text=ref,
                              fix="Wait for the run to finish, or pick a finished run.")
        model_dir = str(Path(run.model_dir).resolve())
    src = ExportSource(model_dir=model_dir, run=run)
    if data:
        src.split, src.files = "data", [str(Path(p).resolve()) for p in data]
        src.sentences = _read(src.files, fmt, lang, "test", max_sentences)
        return src
    if run is not None:
        for split in ("test", "dev"):
            paths = run.data.get(split) or []
            if isinstance(paths, str):
                paths = [paths]
            if not paths:
                continue
            limit = run.data.get(f"max_{split}_sentences")
            sents = _read(paths, run.data.get("format"), run.data.get("lang"), split, limit)
            if max_sentences:
                sents = sents[:max_sentences]
            if sents:
                src.split, src.files, src.sentences = split, list(paths), sents
                return src
    return src
