"""Prediction speed, side by side in one run: the transformers pipeline, the studio Predictor (PyTorch), and the
studio Predictor on the ONNX export (fp32 and int8); also the PyTorch Predictor at its default precision where that
is bf16 autocast (a CPU with native bf16).

Same sentences for all (the first ``--n`` of CoNLL-2002 ``esp.testb``), same model weights. The pipeline gets the
sentences as text (what users pass it) with ``batch_size`` 16 and ``aggregation_strategy="first"``; its entity
character spans are mapped back to words (a word is in an entity when its characters start inside the span) and
written as IOB2 tags. The studio gets the words and returns one tag per word.

For every backend it reports, each measured in this one process:

- ``sent_per_s_1_thread`` and ``sent_per_s_all_threads`` (batched, all ``--n`` sentences; ``torch.set_num_threads``
  for PyTorch; for ONNX Runtime the Predictor's ``num_threads``: that many batches at once, one thread each);
- ``p50_ms_30_words``: median latency of one 30-word sentence (``predict_text``; for the pipeline one ``pipe(text)``
  call), at all threads, after warm-up;
- ``same_tags_share``: share of sentences whose tags equal the PyTorch studio predictor's, word for word;
- ``entity_f1``: strict IOB2 entity F1 (seqeval) against the gold tags.

The sentences are cut into ``--rounds`` chunks and the backends take turns chunk by chunk (interleaved), so a load
spike on a shared machine falls on all of them alike; ``sent_per_cpu_s_*`` (sentences per second of this
process's CPU time) is printed beside the wall-clock figure. On a loaded machine absolute figures swing from run
to run; the ratios between backends (``ratio_*`` keys, each backend's wall-clock sentences/s over the
pipeline's at the same thread count) are what to compare.

Usage:
    python bench/predict_speed.py --model RUN_MODEL_DIR --onnx EXPORTED_DIR
    python bench/predict_speed.py                       # e5-small with a fresh head, exported on the fly

Last line: one JSON object with ``backends`` (the figures above per backend), ``ratio_int8_vs_pipeline_1_thread``,
``ratio_int8_vs_pipeline_all_threads``, ``n_sentences``, ``threads_all``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def default_data_dir() -> str:
    """The shared corpora: ``../shared/data`` beside the checkout, else ``/work/shared/data`` (worktrees)."""
    near = ROOT.parent / "shared" / "data"
    return str(near if near.is_dir() else Path("/work/shared/data"))

LABELS = ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def default_model_dir() -> str:
    """multilingual-e5-small with a fresh 9-label token-classification head, saved to a temp folder."""
    from transformers import AutoModelForTokenClassification

    from core.model.hub import resolve_model
    from core.model.tokenization import load_tokenizer

    base = resolve_model("multilingual-e5-small")
    out = tempfile.mkdtemp(prefix="predict_bench_")
    model = AutoModelForTokenClassification.from_pretrained(
        base, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id={t: i for i, t in enumerate(LABELS)})
    model.save_pretrained(out)
    load_tokenizer(base).save_pretrained(out)
    return out


def pipeline_tags(words: list[str], groups: list[dict]) -> list[str]:
    """IOB2 tags of ``words`` (joined by single spaces) from the pipeline's aggregated entity groups.

    A word belongs to a group when its first character lies in ``[start, end)``; the group's first such word gets
    ``B-``, the others ``I-``. Words in no group are ``O``.
    """
    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    tags = ["O"] * len(words)
    for g in groups:
        label = str(g.get("entity_group") or g.get("entity", "O"))
        if label == "O":
            continue
        first = True
        for i, s in enumerate(starts):
            if g["start"] <= s < g["end"]:
                tags[i] = ("B-" if first else "I-") + label
                first = False
    return tags


def sentence_30_words(sents) -> str:
    """A 30-word text: the first sentence of the set with at least 30 words, cut at 30 (else words of several)."""
    for s in sents:
        if len(s.tokens) >= 30:
            return " ".join(s.tokens[:30])
    words = [w for s in sents for w in s.tokens]
    return " ".join(words[:30])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=default_data_dir())
    ap.add_argument("--model", help="PyTorch model folder (default: e5-small with a fresh head)")
    ap.add_argument("--onnx", help="ONNX folder exported from --model (default: export it now, int8 + fp32)")
    ap.add_argument("--n", type=int, default=500, help="sentences")
    ap.add_argument("--threads", type=int, default=0, help="the 'all threads' count (0: os.cpu_count())")
    ap.add_argument("--latency-repeats", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved chunks the sentences are cut into")
    ap.add_argument("--skip", nargs="*", default=[], choices=["pipeline", "onnx_fp32", "torch_bf16"], help="backends to leave out")
    args = ap.parse_args()
    import torch
    from transformers import pipeline

    from core.data.corpus import ReadOptions
    from core.data.loader import load_corpus
    from core.eval.metrics import evaluate
    from core.model.device import use_bf16
    from core.model.predictor import Predictor
    from core.model.tokenization import load_tokenizer

    all_threads = args.threads or os.cpu_count() or 1
    thread_counts = sorted({1, all_threads})
    sents = load_corpus([str(Path(args.data) / "conll2002_es_nl" / "esp.testb")],
                        ReadOptions(lang="es")).sentences[: args.n]
    words = [list(s.tokens) for s in sents]
    gold = [s.ner_tags for s in sents]
    langs = [s.lang for s in sents]
    text30 = sentence_30_words(sents)
    model_dir = args.model or default_model_dir()
    onnx_dir = args.onnx
    if onnx_dir is None:
        from core.deploy.export import export_onnx
        from core.deploy.source import resolve_source

        onnx_dir = tempfile.mkdtemp(prefix="predict_bench_onnx_")
        testb = str(Path(args.data) / "conll2002_es_nl" / "esp.testb")
        export_onnx(resolve_source(model_dir, data=[testb], lang="es", max_sentences=100), onnx_dir,
                    quantize="int8", max_f1_drop=100.0)

    def f1(tags) -> float:
        return evaluate(gold, tags, langs, max_errors=0)["overall"]["f1"] or 0.0

    # Backends: name -> (make(threads) -> object, run_all(object, words) -> tags, run_one(object) -> None).
    torch.set_num_threads(1)  # ORT's softmax/merge around the forward pass stays on one torch thread
    studio = Predictor(model_dir, device="cpu", precision="fp32")
    backends: dict = {"studio_torch": (lambda n: studio, lambda p, ws: [x.tags for x in p.predict_tokens(ws)],
                                       lambda p: p.predict_text(text30, lang="es"))}
    if use_bf16("auto", "cpu") and "torch_bf16" not in args.skip:
        # the Predictor's default precision here: bf16 autocast on a CPU that multiplies bf16 natively
        studio_bf16 = Predictor(model_dir, device="cpu", precision="bf16", model=studio.model,
                                tokenizer=studio.tokenizer)
        backends["studio_torch_bf16"] = (lambda n: studio_bf16, backends["studio_torch"][1],
                                         lambda p: p.predict_text(text30, lang="es"))
    for name, graph in (("studio_onnx_int8", "model_int8.onnx"), ("studio_onnx_fp32", "model.onnx")):
        if name == "studio_onnx_fp32" and "onnx_fp32" in args.skip:
            continue
        if not (Path(onnx_dir) / graph).is_file():
            print(f"[predict_speed] {graph} missing in {onnx_dir}: {name} skipped", file=sys.stderr)
            continue
        backends[name] = (lambda n, graph=graph: Predictor(onnx_dir, onnx_file=graph, num_threads=n),
                          lambda p, ws: [x.tags for x in p.predict_tokens(ws)],
                          lambda p: p.predict_text(text30, lang="es"))
    if "pipeline" not in args.skip:
        pipe = pipeline("token-classification", model=model_dir, tokenizer=load_tokenizer(model_dir),
                        aggregation_strategy="first", device=-1)

        def pipe_all(p, ws):
            out = p([" ".join(w) for w in ws], batch_size=16)
            return [pipeline_tags(w, g) for w, g in zip(ws, out)]

        backends["pipeline"] = (lambda n: pipe, pipe_all, lambda p: p(text30))

    # Interleaved rounds: every backend tags chunk r before any tags chunk r+1, so a load spike on the shared
    # machine falls on all of them alike. Wall seconds and process CPU seconds are both summed.
    results: dict[str, dict] = {name: {} for name in backends}
    tags_of: dict[str, list] = {}
    chunk = -(-len(words) // args.rounds)
    for n in thread_counts:
        key = "1_thread" if n == 1 else "all_threads"
        torch.set_num_threads(n)
        objs = {name: make(n) for name, (make, _, _) in backends.items()}
        for name, (_, run_all, _) in backends.items():
            run_all(objs[name], words[:16])  # warm-up
        wall = dict.fromkeys(backends, 0.0)
        cpu = dict.fromkeys(backends, 0.0)
        tags: dict[str, list] = {name: [] for name in backends}
        for r in range(0, len(words), chunk):
            for name, (_, run_all, _) in backends.items():
                t0, c0 = time.perf_counter(), time.process_time()
                tags[name] += run_all(objs[name], words[r:r + chunk])
                wall[name] += time.perf_counter() - t0
                cpu[name] += time.process_time() - c0
        for name in backends:
            results[name][f"sent_per_s_{key}"] = round(len(words) / wall[name], 2)
            results[name][f"sent_per_cpu_s_{key}"] = round(len(words) / cpu[name], 2)
            tags_of[name] = tags[name]
        if n == all_threads:
            lat = {name: [] for name in backends}
            for name, (_, _, run_one) in backends.items():
                run_one(objs[name])  # warm-up
            for _ in range(args.latency_repeats):
                for name, (_, _, run_one) in backends.items():
                    t0 = time.perf_counter()
                    run_one(objs[name])
                    lat[name].append((time.perf_counter() - t0) * 1000)
            for name in backends:
                results[name]["p50_ms_30_words"] = round(statistics.median(lat[name]), 2)
        del objs
    if all_threads == 1:
        for row in results.values():
            row["sent_per_s_all_threads"] = row["sent_per_s_1_thread"]
            row["sent_per_cpu_s_all_threads"] = row["sent_per_cpu_s_1_thread"]
    reference_tags = tags_of["studio_torch"]
    for name, row in results.items():
        tags = tags_of[name]
        if not all(len(t) == len(w) for t, w in zip(tags, words)):
            raise SystemExit(f"{name}: a sentence did not get one tag per word")
        row["same_tags_share"] = round(sum(a == b for a, b in zip(tags, reference_tags)) / len(tags), 4)
        row["entity_f1"] = round(f1(tags), 4)
        print(json.dumps({"backend": name, **row}), flush=True)

    out: dict = {"backends": results, "n_sentences": len(sents), "threads_all": all_threads,
                 "words_in_latency_text": len(text30.split())}
    base = results.get("pipeline")
    for name, row in results.items():
        if base and name != "pipeline":
            for key in ("1_thread", "all_threads"):
                out[f"ratio_{name.removeprefix('studio_')}_vs_pipeline_{key}"] = round(
                    row[f"sent_per_s_{key}"] / base[f"sent_per_s_{key}"], 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
