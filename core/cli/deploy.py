"""Deployment commands of ``python -m core``: ``export``, ``serve``, ``push`` (see :mod:`core.deploy`)."""

from __future__ import annotations

import argparse
import json
import sys

from core.deploy.errors import DeployError


def cmd_export(args: argparse.Namespace) -> int:
    from core.cli.train import _store
    from core.deploy.export import export_onnx
    from core.deploy.source import resolve_source

    src = resolve_source(args.model, data=args.data, fmt=args.format, lang=args.lang,
                         max_sentences=args.max_sentences, store=_store())
    if not src.sentences:
        print("WARNING: no test/dev sentences to re-score the export with (pass --data): the card will say "
              "'not re-scored'", file=sys.stderr)
    report = export_onnx(src, args.output, quantize=args.quantize, max_f1_drop=args.max_f1_drop,
                         num_threads=args.threads, log=lambda m: print(m, file=sys.stderr))
    if src.run is not None:
        _store().add_artifact(src.run.run_id, "onnx", report["output_dir"])
    q = report["int8"]
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        for key, sc in report["backends"].items():
            langs = " ".join(f"{k}={v:.4f}" if v is not None else f"{k}=n/a" for k, v in sc["per_language"].items())
            speed = report["speedup"].get(key)
            print(f"{key:10} F1 {sc['overall_f1'] or 0:.4f}  {langs}  {sc['sentences_per_s']} sentences/s"
                  + (f"  ({speed:.2f}x)" if speed else ""))
        print(f"model: {report['output_dir']}/{report['model_file']}")
    if q["requested"] and not q["accepted"]:
        err = DeployError("E602", f"int8 refused: {q['reason']}; per-language F1 drop (points): "
                                  f"{json.dumps(report['f1_drop_points'].get('onnx_int8'))}. The fp32 ONNX model "
                                  f"is in {report['output_dir']}")
        print(str(err), file=sys.stderr)
        return 1
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from core.cli.train import _model_dir
    from core.deploy.serve import serve

    limits = {"max_body_bytes": args.max_body_bytes, "max_batch": args.max_batch}
    serve(_model_dir(args.model), host=args.host, port=args.port, token=args.token, workers=args.workers,
          limits=limits)
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from core.cli.train import _model_dir
    from core.deploy.hub import push_folder

    url = push_folder(_model_dir(args.model), args.repo, token=args.token, private=args.private,
                      endpoint=args.endpoint)
    print(json.dumps({"repo": args.repo, "url": url}) if args.json else f"pushed to {url}")
    return 0


def add_commands(sub) -> None:
    """Register ``export``, ``serve`` and ``push`` on the ``python -m core`` parser."""
    from core.data.formats import FORMATS
    from core.deploy.export import DEFAULT_MAX_F1_DROP

    p = sub.add_parser("export", help="export a model to ONNX (optionally int8), re-scored per language")
    p.add_argument("--model", required=True, help="run id or model folder")
    p.add_argument("--format", dest="export_format", choices=("onnx",), default="onnx")
    p.add_argument("--quantize", choices=("int8",), help="also quantize (dynamic int8) and keep it if it passes")
    p.add_argument("-o", "--output", required=True, help="folder to write")
    p.add_argument("--data", nargs="+", help="annotated files to check with (default: the run's test, else dev)")
    p.add_argument("--data-format", dest="format", choices=FORMATS, help="format of --data")
    p.add_argument("--lang", help="language of --data sentences without one")
    p.add_argument("--max-sentences", type=int, help="check with only the first N sentences")
    p.add_argument("--max-f1-drop", type=float, default=DEFAULT_MAX_F1_DROP,
                   help="refuse int8 when a language loses more F1 points than this (default 1.0)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads while timing (0: torch's default; ONNX: one batch at a time per usable CPU)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="HTTP JSON prediction service (POST /predict, /predict/batch, /health, /docs)")
    p.add_argument("--model", required=True, help="model folder (PyTorch or ONNX) or run id")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", help="Bearer token the predict endpoints require")
    p.add_argument("--workers", type=int, default=1, help="worker processes (each loads the model)")
    p.add_argument("--max-body-bytes", type=int, default=1_000_000)
    p.add_argument("--max-batch", type=int, default=64, help="most items in one /predict/batch call")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("push", help="upload a model folder with its card to the Hugging Face Hub")
    p.add_argument("--model", required=True, help="model folder or run id")
    p.add_argument("--repo", required=True, help="owner/name")
    p.add_argument("--token", help="Hub write token (default HF_TOKEN or the saved login)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--endpoint", help="Hub URL (default https://huggingface.co)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_push)
