"""Language-adaptation commands of ``python -m core``: ``pretrain`` (continued masked-LM training on raw text) and
``transfer`` (the cross-lingual transfer matrix).

Like ``train``, neither trains in the calling process: each records a run whose entry point
(:data:`core.kernel.constants.PRETRAIN_ENTRYPOINT`, :data:`~core.kernel.constants.TRANSFER_ENTRYPOINT`) the
worker runs in the background, and watches it (Ctrl-C asks it to stop; ``resume RUN`` continues it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli.train import _abs, _store, watch
from core.kernel.constants import PRETRAIN_ENTRYPOINT, TRANSFER_ENTRYPOINT


def _config(args: argparse.Namespace, extra: dict) -> "object":
    from core.kernel.config import TrainConfig

    cfg = json.loads(args.config) if args.config and args.config.strip().startswith("{") else (
        json.loads(Path(args.config).read_text(encoding="utf-8")) if args.config else {})
    cfg.update({k: v for k, v in extra.items() if v is not None})
    return TrainConfig.from_dict(cfg)


def _launch(config, data: dict, entrypoint: str, name: str | None, detach: bool, json_mode: bool):
    """Create and launch the run; with ``detach`` print its id (or a JSON line) and return None, else watch it to
    its end and return the final run."""
    from core.runs import jobs

    store = _store()
    run = jobs.start_run(store, config, data, entrypoint=entrypoint, name=name)
    print(f"run {run.run_id} launched (log: {store.log_path(run.run_id)})", file=sys.stderr)
    if detach:
        print(json.dumps({"run_id": run.run_id, "status": "SCHEDULED"}) if json_mode else run.run_id)
        return None
    return watch(run.run_id, store, json_mode)


def _print_end(run, out: dict, json_mode: bool) -> bool:
    """Print ``out`` as one JSON line, or the run's status and error; True when the caller prints more."""
    if json_mode:
        print(json.dumps(out, ensure_ascii=False))
        return False
    print(f"run {run.run_id}: {run.status}")
    if run.error:
        print(run.error)
    return True


def cmd_pretrain(args: argparse.Namespace) -> int:
    if not args.text and not args.corpus:
        print("pretrain: give --text FILE... (or --corpus FILE...)", file=sys.stderr)
        return 2
    config = _config(args, {"model_name_or_path": args.model, "max_steps": args.max_steps})
    from core.runs.jobs import pretrain_data

    data = pretrain_data(_abs(args.text), _abs(args.corpus), str(Path(args.output).resolve()) if args.output else None)
    run = _launch(config, data, PRETRAIN_ENTRYPOINT, args.name, args.detach, args.json)
    if run is None:
        return 0
    s = run.summary or {}
    out = {"run_id": run.run_id, "status": run.status, "model_dir": run.model_dir, "loss_first": s.get("loss_first"),
           "loss_last": s.get("loss_last"), "steps": s.get("steps"), "perplexity_last": s.get("perplexity_last"),
           "error": run.error}
    if _print_end(run, out, args.json) and run.model_dir:
        print(f"masked-LM loss {out['loss_first']:.4f} -> {out['loss_last']:.4f} in {out['steps']} steps; "
              f"model: {run.model_dir} (train from it with --model)")
    return 0 if run.status in ("FINISHED", "STOPPED") else 1


def cmd_transfer(args: argparse.Namespace) -> int:
    config = _config(args, {"model_name_or_path": args.model, "max_steps": args.max_steps})
    from core.runs.jobs import transfer_data

    data = transfer_data(_abs(args.train), _abs(args.test), _abs(args.dev), lang=args.lang, fmt=args.format,
                         langs=args.langs)
    run = _launch(config, data, TRANSFER_ENTRYPOINT, args.name, args.detach, args.json)
    if run is None:
        return 0
    s = run.summary or {}
    out = {"run_id": run.run_id, "status": run.status, "mode": s.get("mode"), "split": "test",
           "n_train": s.get("n_train"), "n_test": s.get("n_test"), "error": run.error, "matrix": s.get("matrix")}
    if _print_end(run, out, args.json) and out["matrix"]:
        cols = s.get("cols") or []
        print(f"entity F1 ({s.get('mode')}, test); rows: training language, columns: test language")
        print("train\\test " + " ".join(f"{c:>7}" for c in cols))
        for row, scores in out["matrix"].items():
            print(f"{row:10} " + " ".join(f"{'n/a':>7}" if scores.get(c) is None else f"{scores[c]:7.3f}"
                                          for c in cols))
    return 0 if run.status in ("FINISHED", "STOPPED") else 1


def add_commands(sub) -> None:
    """Register ``pretrain`` and ``transfer`` on the ``python -m core`` parser."""
    from core.data.formats import FORMATS

    p = sub.add_parser("pretrain", help="continue masked-LM pre-training on raw text (a background run)")
    p.add_argument("--text", nargs="+", default=[], help="plain UTF-8 text file(s), one sentence or paragraph a line")
    p.add_argument("--corpus", nargs="+", default=[], help="annotated corpus file(s) whose text is used too")
    p.add_argument("--model", help="model_name_or_path to start from (default multilingual-e5-small)")
    p.add_argument("--max-steps", type=int, help="optimizer steps")
    p.add_argument("-o", "--output", help="folder for the pre-trained model (default: the run's model/)")
    p.add_argument("--config", help="TrainConfig as a JSON object or file (learning_rate, mlm_probability...)")
    p.add_argument("--name", help="display name of the run")
    p.add_argument("--detach", action="store_true")
    p.add_argument("--json", action="store_true", help="last line: {model_dir, loss_first, loss_last, steps, ...}")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("transfer", help="cross-lingual transfer matrix: a model per training language, scored on "
                       "every test language (a background run)")
    p.add_argument("--train", nargs="+", required=True)
    p.add_argument("--test", nargs="+", required=True)
    p.add_argument("--dev", nargs="+", help="dev file(s); default: hold out part of train")
    p.add_argument("--langs", nargs="+", help="rows and columns (default: the training languages, plus the test "
                   "languages as columns)")
    p.add_argument("--lang", help="language of sentences without one (default: detect)")
    p.add_argument("--format", choices=FORMATS)
    p.add_argument("--model", help="model_name_or_path")
    p.add_argument("--max-steps", type=int, help="optimizer steps of each row's fine-tune")
    p.add_argument("--config", help="TrainConfig as a JSON object or file")
    p.add_argument("--name", help="display name of the run")
    p.add_argument("--detach", action="store_true")
    p.add_argument("--json", action="store_true", help='last line: {"matrix": {train_lang: {test_lang: f1}}, ...}')
    p.set_defaults(func=cmd_transfer)
