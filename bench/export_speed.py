"""PyTorch vs ONNX Runtime (fp32 and dynamic int8) on a real corpus: per-language F1 and CPU throughput.

One command runs the studio's export (:func:`core.deploy.export.export_onnx`) on a trained model and re-scores the
checking sentences with each backend through the same Predictor (same windows and word-level merge), strict IOB2
entity F1 per language. Throughput is batched prediction of every checking sentence, on ``--threads`` CPU threads
(default 1; ``OMP_NUM_THREADS`` is set before torch loads). PyTorch is timed in fp32 (the reference of the F1
check) and, as an extra row, with the Predictor's default precision (``auto``: bf16 autocast where the CPU has
native bf16).

Usage::

    python bench/export_speed.py --model RUN_ID|DIR [--data FILE ...] [--max-sentences N] [--per-language N]
        [--threads 1] [-o OUT]

Without ``--data`` the run's test set (else dev) is used. Targets: int8 at least 1.5x the fp32 PyTorch
throughput and at most 1 F1 point lost in every language. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="run id or trained model folder")
    ap.add_argument("--data", nargs="+", help="annotated files (default: the run's test, else dev set)")
    ap.add_argument("--max-sentences", type=int, help="use only the first N checking sentences")
    ap.add_argument("--per-language", type=int, help="use only the first N checking sentences of each language")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--output", help="ONNX folder to write (default: a temporary folder)")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import torch

    from core.deploy.export import export_onnx, score_and_time
    from core.deploy.source import resolve_source
    from core.model.predictor import Predictor

    torch.set_num_threads(args.threads)
    src = resolve_source(args.model, data=args.data, max_sentences=args.max_sentences)
    if args.per_language:
        seen: dict[str, int] = {}
        kept = []
        for s in src.sentences:
            seen[s.lang] = seen.get(s.lang, 0) + 1
            if seen[s.lang] <= args.per_language:
                kept.append(s)
        src.sentences = kept
    if not src.sentences:
        print("no checking sentences: pass --data", file=sys.stderr)
        return 2
    out = args.output or tempfile.mkdtemp(prefix="export_bench_")
    report = export_onnx(src, out, quantize="int8", num_threads=args.threads, max_f1_drop=1.0,
                         log=lambda m: print(m, file=sys.stderr))
    auto = score_and_time(Predictor(src.model_dir, device="cpu"), src.sentences)
    b = report["backends"]
    langs = sorted(b["torch"]["per_language"])
    print(f"{len(src.sentences):,} {src.split} sentences, {args.threads} thread(s); strict IOB2 entity F1")
    print(f"{'backend':16} {'F1 all':>7} " + " ".join(f"{'F1 ' + x:>7}" for x in langs) + f" {'sent/s':>8} {'x':>5}")
    rows = [("torch fp32", b["torch"]), ("torch auto", auto), ("onnx fp32", b["onnx_fp32"]),
            ("onnx int8", b["onnx_int8"])]
    base = b["torch"]["sentences_per_s"]
    for name, sc in rows:
        f1s = " ".join(f"{(sc['per_language'][x] or 0):7.4f}" for x in langs)
        print(f"{name:16} {(sc['overall_f1'] or 0):7.4f} {f1s} {sc['sentences_per_s']:8.1f} "
              f"{sc['sentences_per_s'] / base:5.2f}")
    drops = report["f1_drop_points"]["onnx_int8"]
    worst = max(v for v in drops.values() if v is not None)
    speedup = report["speedup"]["onnx_int8"]
    result = {"model": src.model_dir, "split": src.split, "n_sentences": len(src.sentences), "threads": args.threads,
              "languages": langs,
              "f1": {k: {"all": sc["overall_f1"], **sc["per_language"]} for k, sc in
                     (("torch_fp32", b["torch"]), ("torch_auto", auto), ("onnx_fp32", b["onnx_fp32"]),
                      ("onnx_int8", b["onnx_int8"]))},
              "sentences_per_s": {"torch_fp32": base, "torch_auto": auto["sentences_per_s"],
                                  "onnx_fp32": b["onnx_fp32"]["sentences_per_s"],
                                  "onnx_int8": b["onnx_int8"]["sentences_per_s"]},
              "int8_f1_drop_points": drops, "int8_speedup_vs_torch_fp32": speedup,
              "int8_speedup_vs_torch_auto": round(b["onnx_int8"]["sentences_per_s"] / auto["sentences_per_s"], 2),
              "int8_accepted": report["int8"]["accepted"],
              "targets_met": {"speedup_at_least_1.5x": bool(speedup and speedup >= 1.5),
                              "at_most_1_point_lost": worst <= 1.0},
              "onnx_folder": out}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
