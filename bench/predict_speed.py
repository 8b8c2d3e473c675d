"""Prediction speed: the studio's Predictor against the transformers token-classification pipeline.

Same model folder, same sentences (the first ``--n`` of CoNLL-2002 ``esp.testb``), same threads. The pipeline
gets the sentences as text (what users pass it) with ``batch_size`` 16 and ``aggregation_strategy="first"``;
the studio gets the words and returns one tag per word. Also measures the Playground case: p50 latency of one
30-word sentence after the model is loaded.

The model is ``--model`` (a fine-tuned folder or run model), or by default multilingual-e5-small with a fresh
9-label head (speed does not depend on the head's weights).

Last line: one JSON object with ``studio_sent_per_s``, ``pipeline_sent_per_s``, ``ratio``,
``p50_latency_ms_30_words``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--model", help="model folder (default: e5-small with a fresh head)")
    ap.add_argument("--n", type=int, default=500, help="sentences")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    args = ap.parse_args()
    import torch
    from transformers import pipeline

    from core.data.corpus import ReadOptions
    from core.model.predictor import Predictor
    from core.data.loader import load_corpus
    from core.model.tokenization import load_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    sents = load_corpus([str(Path(args.data) / "conll2002_es_nl" / "esp.testb")],
                        ReadOptions(lang="es")).sentences[: args.n]
    model_dir = args.model or default_model_dir()
    studio = Predictor(model_dir, device="cpu")
    studio.predict_tokens([s.tokens for s in sents[:20]])  # warm-up
    t0 = time.perf_counter()
    preds = studio.predict_tokens([s.tokens for s in sents])
    studio_s = time.perf_counter() - t0
    assert all(len(p.tags) == len(s.tokens) for p, s in zip(preds, sents))

    tok = load_tokenizer(model_dir)
    pipe = pipeline("token-classification", model=model_dir, tokenizer=tok, aggregation_strategy="first",
                    device=-1)
    texts = [" ".join(s.tokens) for s in sents]
    pipe(texts[:20], batch_size=16)  # warm-up
    t0 = time.perf_counter()
    pipe(texts, batch_size=16)
    pipe_s = time.perf_counter() - t0

    words30 = ("El presidente del Gobierno , Pedro Sánchez , se reunió ayer en Bruselas con la presidenta de la "
               "Comisión Europea para hablar del plan de recuperación y de la").split()[:30]
    text30 = " ".join(words30)
    lat = []
    for _ in range(30):
        t0 = time.perf_counter()
        studio.predict_text(text30, lang="es")
        lat.append((time.perf_counter() - t0) * 1000)
    out = {"studio_sent_per_s": len(sents) / studio_s, "pipeline_sent_per_s": len(sents) / pipe_s,
           "ratio": pipe_s / studio_s, "p50_latency_ms_30_words": statistics.median(lat),
           "n_sentences": len(sents), "threads": torch.get_num_threads()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
