"""Training-engine commands of ``python -m core``: train, runs, stop, resume, predict, evaluate.

``train`` never trains in the calling process: it records a run in the store (workspace from
``$NER_STUDIO_WORKSPACE``), launches ``python -m core.runs.worker`` and watches the store with a tqdm bar; Ctrl-C asks
the worker to stop at the next step boundary (``resume`` continues it). ``--detach`` returns at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from core.kernel.constants import EVAL_F1, TRAIN_LOSS
from core.kernel.errors import StudioError


def _store():
    from core.runs.store import RunStore

    return RunStore()


def _abs(paths):
    return [str(Path(p).resolve()) for p in paths] if paths else []


def watch(run_id: str, store, json_mode: bool = False, poll: float = 1.0) -> object:
    """Follow a run until it ends: a tqdm bar over optimizer steps, dev F1 in the postfix.

    Ctrl-C requests a graceful stop and keeps watching until the worker has saved its checkpoint.
    Returns the final :class:`core.runs.store.Run`.
    """
    from tqdm import tqdm

    from core.runs import jobs

    bar = tqdm(total=None, unit="step", file=sys.stderr, disable=False, dynamic_ncols=True)
    stopping = False
    last_id = 0
    try:
        while True:
            try:
                jobs.check_alive(store)
                run = store.get_run(run_id)
                step, total = run.progress
                if total and bar.total != total:
                    bar.total = total
                    bar.refresh()
                if step > bar.n:
                    bar.update(step - bar.n)
                for m in store.metrics_since(run_id, last_id):
                    last_id = m.id
                    if m.key == EVAL_F1:
                        bar.set_postfix(dev_f1=f"{m.value:.3f}")
                    elif m.key == TRAIN_LOSS:
                        bar.set_postfix_str(f"loss={m.value:.3f}" + (f" dev_f1={run.best_dev_f1:.3f}"
                                                                    if run.best_dev_f1 is not None else ""))
                if run.status in ("FINISHED", "FAILED", "STOPPED"):
                    return run
                time.sleep(poll)
            except KeyboardInterrupt:
                if stopping:
                    raise
                stopping = True
                print(f"\nstop requested: run {run_id} saves a checkpoint at the next step "
                      f"(resume with `python -m core resume {run_id}`); Ctrl-C again to leave it running",
                      file=sys.stderr)
                jobs.stop(run_id, store)
    finally:
        bar.close()


def _run_result(run) -> dict:
    summary = run.summary or {}
    return {"run_id": run.run_id, "status": run.status, "model_dir": run.model_dir, "dev_f1": run.best_dev_f1,
            "test": summary.get("test"), "error": run.error, "adapters": summary.get("adapters"), "summary": {k: v for k, v in summary.items()
                                                                          if k not in ("test", "dev")}}


def _print_result(run, json_mode: bool) -> int:
    from core.cli.tables import format_scores

    out = _run_result(run)
    if not json_mode:
        print(f"run {run.run_id}: {run.status}")
        if run.error:
            print(run.error)
        if out["test"]:
            print(format_scores(out["test"]))
        for w in (run.summary or {}).get("warnings", []):
            print("WARNING: " + w)
        if run.model_dir:
            print(f"model: {run.model_dir}")
    else:
        print(json.dumps(out, ensure_ascii=False))
    return 0 if run.status in ("FINISHED", "STOPPED") else 1


def cmd_train(args: argparse.Namespace) -> int:
    from core.runs import jobs
    from core.kernel.config import TrainConfig

    cfg = json.loads(args.config) if args.config and args.config.strip().startswith("{") else (
        json.loads(Path(args.config).read_text(encoding="utf-8")) if args.config else {})
    if args.model:
        cfg["model_name_or_path"] = args.model
    if args.epochs is not None:
        cfg["num_train_epochs"] = args.epochs
    config = TrainConfig.from_dict({k: v for k, v in cfg.items() if not k.startswith("_")})  # validated once, here
    options = {k[1:]: v for k, v in cfg.items() if k.startswith("_")}  # e.g. "_entrypoint" -> options["entrypoint"]
    data = {"train": _abs(args.train), "dev": _abs(args.dev), "test": _abs(args.test), "lang": args.lang,
            "format": args.format}
    for split in ("train", "dev", "test"):
        limit = getattr(args, f"max_{split}_sentences")
        if limit:
            data[f"max_{split}_sentences"] = limit
    store = _store()
    run = jobs.start_run(store, config, data, name=args.name, options=options)
    print(f"run {run.run_id} launched (log: {store.log_path(run.run_id)})", file=sys.stderr)
    if args.detach:
        print(json.dumps({"run_id": run.run_id, "status": "SCHEDULED"}) if args.json else run.run_id)
        return 0
    return _print_result(watch(run.run_id, store, args.json), args.json)


def cmd_runs(args: argparse.Namespace) -> int:
    from core.runs import jobs

    store = _store()
    jobs.check_alive(store)
    runs = store.list_runs(limit=args.limit)
    if args.json:
        print(json.dumps([{"run_id": r.run_id, "name": r.name, "status": r.status,
                           "model": r.config.get("model_name_or_path"), "best_dev_f1": r.best_dev_f1,
                           "step": r.step, "total_steps": r.total_steps, "created": r.created,
                           "duration": r.duration, "model_dir": r.model_dir} for r in runs]))
        return 0
    for r in runs:
        f1 = f"{r.best_dev_f1:.3f}" if r.best_dev_f1 is not None else "  -  "
        print(f"{r.run_id}  {r.status:9}  dev_f1 {f1}  step {r.step}/{r.total_steps or '?'}  "
              f"{r.config.get('model_name_or_path', '')}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from core.runs import jobs

    run = jobs.stop(args.run, _store())
    print(f"run {run.run_id}: stop requested ({run.status})")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from core.runs import jobs

    from core.runs.checkpoints import inspect_checkpoints, resume_plan, resumed_text

    store = _store()
    store.get_run(args.run)  # E301 before anything else
    print(f"run {args.run}: " + resume_plan(inspect_checkpoints(store.checkpoint_dir(args.run))), file=sys.stderr)
    pid = jobs.resume(args.run, store)
    print(f"run {args.run} resumed (worker pid {pid})", file=sys.stderr)
    if args.detach:
        return 0
    run = watch(args.run, store, args.json)
    if run.summary.get("resumed_from") and not args.json:
        print(f"run {args.run} {resumed_text(run.summary['resumed_from'])}")
    return _print_result(run, args.json)


def _model_dir(ref: str) -> str:
    """A model folder, a bundled name, or a run id (its saved model)."""
    if Path(ref).exists():
        return ref
    store = _store()
    run = store.find_run(ref)
    if run is not None:
        if not run.model_dir:
            raise StudioError("E203", f"run {ref} has no saved model yet ({run.status})",
                              fix="Wait for the run to finish, or pick a finished run.")
        return run.model_dir
    return ref


def cmd_predict(args: argparse.Namespace) -> int:
    from core.model.predictor import Predictor

    pred = Predictor(_model_dir(args.model), device=args.device)
    texts = [args.text] if args.text is not None else [
        line.rstrip("\n") for line in Path(args.file).read_text(encoding="utf-8").splitlines() if line.strip()]
    results = []
    for text in texts:
        r = pred.predict_text(text, lang=args.lang)
        results.append({k: r[k] for k in ("words", "tags", "entities", "lang", "adapter", "latency_ms")})
    if args.json:
        print(json.dumps(results[0] if args.text is not None else results, ensure_ascii=False))
    else:
        for r in results:
            ents = ", ".join(f"{e['text']} [{e['label']} {e['score']:.2f}]" for e in r["entities"]) or "(none)"
            print(f"[{r['lang']}] {ents}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.cli.tables import format_scores
    from core.data.corpus import ReadOptions
    from core.model.predictor import Predictor
    from core.data.loader import load_corpus
    from core.eval.metrics import evaluate, source_tags, summary

    corpus = load_corpus(args.data, ReadOptions(format=args.format, lang=args.lang, scheme=args.scheme,
                                                special_as_o=args.special_as_o))
    sents = [s for s in corpus.sentences if s.tokens]
    if args.max_sentences:
        sents = sents[: args.max_sentences]
    pred = Predictor(_model_dir(args.model), device=args.device)
    t0 = time.perf_counter()
    preds = pred.predict_tokens([s.tokens for s in sents], langs=[s.lang for s in sents])
    seconds = time.perf_counter() - t0
    gold, schemes = source_tags(sents)  # scored in the scheme the data came in; the model's tags are IOB2
    res = summary(evaluate(gold, [p.tags for p in preds], [s.lang for s in sents], max_errors=0, mode=args.mode,
                           scheme=schemes, pred_scheme="IOB2"))
    res["n_sentences"] = len(sents)
    res["predict_seconds"] = round(seconds, 3)
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
    else:
        print(format_scores(res))
        print(f"{len(sents):,} sentences in {seconds:.1f} s")
    return 0


def add_mode_arg(p) -> None:
    """``--mode strict|conlleval``: the scoring mode of `score` and `evaluate` (README "Scores")."""
    from core.eval.metrics import DEFAULT_MODE, MODES

    p.add_argument("--mode", choices=MODES, default=DEFAULT_MODE,
                   help=f"entity scoring mode (default {DEFAULT_MODE}): strict = seqeval strict with the scheme; "
                        "conlleval = the CoNLL shared-task script's reading")


def add_commands(sub) -> None:
    """Register the training-engine sub-commands on the ``python -m core`` parser."""
    from core.data.formats import FORMATS

    p = sub.add_parser("train", help="fine-tune a model in a background worker and watch it")
    p.add_argument("--train", nargs="+", required=True, help="training file(s) or folder(s)")
    p.add_argument("--dev", nargs="+", help="dev file(s); default: hold out part of train")
    p.add_argument("--test", nargs="+", help="test file(s), scored at the end")
    p.add_argument("--model", help="model_name_or_path (default multilingual-e5-small)")
    p.add_argument("--epochs", type=float, help="num_train_epochs")
    p.add_argument("--lang", help="language of sentences without one (default: detect)")
    p.add_argument("--format", choices=FORMATS)
    p.add_argument("--config", help="TrainConfig as a JSON object or a JSON file")
    p.add_argument("--name", help="display name of the run")
    for split in ("train", "dev", "test"):
        p.add_argument(f"--max-{split}-sentences", type=int, help=f"use only the first N {split} sentences")
    p.add_argument("--detach", action="store_true", help="return after launching")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("runs", help="list runs")
    p.add_argument("--limit", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("stop", help="ask a run to stop at the next step (checkpoint saved)")
    p.add_argument("run")
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("resume", help="continue a STOPPED or FAILED run from its checkpoint")
    p.add_argument("run")
    p.add_argument("--detach", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("predict", help="tag text with a model folder or a run's model")
    p.add_argument("--model", required=True, help="model folder or run id")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--text")
    g.add_argument("--file", help="text file, one text a line")
    p.add_argument("--lang", help="language of the text (default: detect)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="score a model on annotated data")
    p.add_argument("--model", required=True, help="model folder or run id")
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--lang")
    p.add_argument("--format", choices=FORMATS)
    p.add_argument("--max-sentences", type=int, help="score only the first N sentences")
    p.add_argument("--scheme", help="the data's tagging scheme (default: detect)")
    p.add_argument("--special-as-o", action="store_true",
                   help="read labels that are no entity tags ([SEP], X, -100...) as O")
    add_mode_arg(p)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)
