"""The scoring job's entry point: a stopped or failed run's best model predicts its dev and test data.

Run by ``python -m core.runs.worker --score RUN_ID`` (started by :func:`core.runs.jobs.launch_scoring`). It
reads the run's data as training did (:func:`core.train.loop.load_run_data`: the same held-out dev when no dev
file was given), predicts with the best model saved so far, and writes ``predictions_<split>.jsonl`` with
:func:`core.train.loop.write_predictions`, recorded as the run's ``predictions_<split>`` artifacts: the same
files a finished run writes, so Evaluate and Review read them unchanged.
"""

from __future__ import annotations

from core.kernel.errors import RunError
from core.runs.scoring import best_model
from core.train.loop import load_run_data, run_config, write_predictions


def score_run(run_id: str, store) -> dict:
    """Predict the dev and test sentences of a STOPPED or FAILED run with its best model.

    Args:
        run_id: the run.
        store: the run store (:class:`core.runs.store.RunStore`).

    Returns:
        ``{"splits": {split: number of sentences}, "step": step of the model, "model_dir": folder}``.

    Raises:
        RunError: ``E305`` when the run has no saved best model or is not STOPPED / FAILED.
        StudioError: as :func:`core.train.loop.load_run_data` (E202 no training sentence could be read).
    """
    from core.model.predictor import Predictor

    run = store.get_run(run_id)
    run_dir = store.run_dir(run_id)
    found = best_model(run, run_dir)
    if found is None:
        raise RunError("E305", f"run {run_id!r} is {run.status} with no saved best model to score")
    folder, step = found
    cfg = run_config(run)
    print(f"scoring run {run_id} with its best model {folder} (step {step}, run {run.status})", flush=True)
    splits = load_run_data(run.data, cfg, lambda msg: print(msg, flush=True))
    predictor = Predictor(folder, device=cfg.device)
    done: dict[str, int] = {}
    for split in ("dev", "test"):
        sents = splits[split]
        if not sents:
            continue
        preds = predictor.predict_tokens([s.tokens for s in sents])
        path = run_dir / f"predictions_{split}.jsonl"
        write_predictions(str(path), sents, preds)
        store.add_artifact(run_id, f"predictions_{split}", path)
        done[split] = len(sents)
        print(f"{split}: {len(sents):,} sentences predicted -> {path}", flush=True)
    return {"splits": done, "step": step, "model_dir": folder}
