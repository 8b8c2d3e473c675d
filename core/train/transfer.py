"""Cross-lingual transfer matrix: one model per training language, each scored on every test language.

Row ``L`` is a model fine-tuned on the training sentences of language ``L`` only (its dev: the dev sentences of
``L``); column ``T`` is its entity F1 (``core.eval.metrics.evaluate``, the project's default scoring mode, seqeval
strict in the data's scheme) on the test sentences of ``T``; ``None`` where ``T`` has no test sentence. The
diagonal is in-language F1; the rest shows how much of what is learnt in one language carries to another (as in
the zero-shot transfer tables of Pires et al. 2019 and Conneau et al. 2020).

One run trains the languages one after the other (entry point :func:`transfer_run`), rather than one run per
language: the worker trains one CPU run at a time anyway, the matrix is one result with one status, one stop and
one resume (finished languages are kept in ``transfer/<lang>/result.json`` and skipped on resume; the language in
progress resumes from its checkpoint), and the runs list is not flooded with N rows that mean nothing alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

from core.data.corpus import Sentence
from core.kernel.config import TrainConfig
from core.kernel.errors import StudioError
from core.kernel.files import atomic_write
from core.train.loop import Callbacks, checkpoint_step, fit, load_run_data, store_callbacks

TRANSFER_DIR = "transfer"


def matrix_languages(train: Sequence[Sentence], test: Sequence[Sentence],
                     langs: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """Rows and columns of the matrix: ``langs`` for both when given; else the training languages (``und``
    left out: a model of unknown-language text says nothing about a language) and those plus the test ones."""
    if langs:
        wanted = list(dict.fromkeys(langs))
        return wanted, wanted
    rows = sorted({s.lang for s in train} - {"und"})
    cols = sorted(set(rows) | ({s.lang for s in test} - {"und"}))
    return rows, cols


def score_by_language(model_dir: str, test: Sequence[Sentence], cols: Sequence[str], device: str) -> dict:
    """Entity F1 of a model folder on the test sentences of each language of ``cols`` (None: no test data)."""
    from core.eval.metrics import evaluate, source_tags
    from core.model.predictor import Predictor

    sents = [s for s in test if s.lang in set(cols)]
    out: dict[str, float | None] = {c: None for c in cols}
    if not sents:
        return out
    preds = Predictor(model_dir, device=device).predict_tokens([s.tokens for s in sents],
                                                                langs=[s.lang for s in sents])
    gold, schemes = source_tags(sents)
    res = evaluate(gold, [p.tags for p in preds], [s.lang for s in sents], max_errors=0, scheme=schemes,
                   pred_scheme="IOB2")
    for lang, sc in res["per_language"].items():
        if lang in out:
            out[lang] = sc["f1"]  # None (n/a) only where the language's test data has no entity to score
    return out


def transfer_matrix(cfg: TrainConfig, train: Sequence[Sentence], dev: Sequence[Sentence], test: Sequence[Sentence],
                    out_dir: str, langs: Sequence[str] | None = None,
                    callbacks_for: Callable[[str, int], Callbacks] | None = None, resume: bool = False,
                    log: Callable[[str], None] = print) -> dict:
    """Train one model per row language and score it on every column language.

    Args:
        cfg: the training configuration used for every row (same steps, same seed).
        train, dev, test: sentences with their ``lang``.
        out_dir: folder; ``transfer/<lang>/`` holds each row's run folder and ``result.json``.
        langs: rows and columns (default: see :func:`matrix_languages`).
        callbacks_for: ``(lang, steps_done_before) -> Callbacks`` for the row being trained.
        resume: skip rows with a ``result.json``; resume the row in progress from its checkpoint.

    Returns:
        ``{"status", "matrix": {row: {col: f1 | None}}, "rows", "cols", "n_train": {row: n}, "n_test": {col: n},
        "steps": total}``; status ``STOPPED`` (matrix partial) when a stop was requested.

    Raises:
        StudioError: E202 when no row language has training sentences.
    """
    rows, cols = matrix_languages(train, test, langs)
    n_train = {r: sum(1 for s in train if s.lang == r) for r in rows}
    n_test = {c: sum(1 for s in test if s.lang == c) for c in cols}
    if not any(n_train.values()):
        raise StudioError("E202", "no training sentence in any of the languages " + ", ".join(rows),
                          fix="Check --langs against the training file's languages (python -m core inspect).")
    matrix: dict[str, dict[str, float | None]] = {}
    steps, status = 0, "FINISHED"
    for row in rows:
        sub = Path(out_dir) / TRANSFER_DIR / row
        done_file = sub / "result.json"
        if n_train[row] == 0:
            log(f"{row}: no training sentences; row left empty")
            matrix[row] = {c: None for c in cols}
            continue
        if resume and done_file.exists():
            saved = json.loads(done_file.read_text(encoding="utf-8"))
            matrix[row], steps = saved["scores"], steps + saved["steps"]
            continue
        log(f"{row}: training on {n_train[row]:,} sentences")
        cb = callbacks_for(row, steps) if callbacks_for else Callbacks(log=log)
        res = fit(cfg, [s for s in train if s.lang == row], [s for s in dev if s.lang == row], str(sub), cb,
                  resume=resume and (sub / "checkpoint" / "state.json").exists())
        if res.status == "STOPPED":
            status = "STOPPED"
            break
        scores = score_by_language(res.model_dir, test, cols, cfg.device)
        matrix[row], steps = scores, steps + res.steps
        atomic_write(str(done_file), json.dumps({"scores": scores, "steps": res.steps, "model_dir": res.model_dir}))
        log(f"{row}: " + " ".join(f"{c}={'n/a' if v is None else f'{v:.3f}'}" for c, v in scores.items()))
    return {"status": status, "matrix": matrix, "rows": rows, "cols": cols, "n_train": n_train, "n_test": n_test,
            "steps": steps}


def transfer_run(run, store, resume: bool = False) -> dict:
    """The worker's entry point of a transfer-matrix run (``options["entrypoint"]`` =
    :data:`core.kernel.constants.TRANSFER_ENTRYPOINT`).

    ``run.data``: the training run's data dict (``train``, ``dev``, ``test`` paths, ``lang``, ``format``) plus
    ``langs`` (rows and columns, optional). Metric steps run on across the rows (row 2 starts after row 1's
    last step); ``eval_f1`` rows are each row's dev F1.

    Returns:
        ``{"status", "summary": {"kind": "transfer", "matrix", "rows", "cols", "n_train", "n_test", "mode"}}``.
    """
    from core.eval.metrics import DEFAULT_MODE
    from core.train.loop import run_config

    cfg = run_config(run)

    def log(msg: str) -> None:
        print(msg, flush=True)

    splits = load_run_data(run.data, cfg, log)
    if not splits["test"]:
        raise StudioError("E202", "a transfer matrix needs test data", fix="Give --test file(s).")
    run_dir = store.run_dir(run.run_id)

    def callbacks_for(row: str, offset: int) -> Callbacks:
        base = store_callbacks(run, store, log)
        ckpt = run_dir / TRANSFER_DIR / row / "checkpoint"
        if resume and checkpoint_step(str(ckpt)) is not None:
            store.rewind_metrics(run.run_id, offset + checkpoint_step(str(ckpt)))
        return Callbacks(on_metrics=lambda step, m: base.on_metrics(offset + step, m),
                         on_progress=lambda step, total: store.update_run(run.run_id, total_steps=offset + total)
                         if step == 1 else None,
                         should_stop=base.should_stop, log=log)

    res = transfer_matrix(cfg, splits["train"], splits["dev"], splits["test"], str(run_dir),
                          run.data.get("langs"), callbacks_for, resume, log)
    path = run_dir / "transfer_matrix.json"
    atomic_write(str(path), json.dumps(res, ensure_ascii=False))
    store.add_artifact(run.run_id, "transfer_matrix", str(path))
    if res["status"] == "STOPPED":
        return {"status": "STOPPED"}
    summary = {"kind": "transfer", "mode": DEFAULT_MODE, "split": "test", "warnings": [],
               **{k: res[k] for k in ("matrix", "rows", "cols", "n_train", "n_test", "steps")}}
    return {"status": "FINISHED", "summary": summary}
