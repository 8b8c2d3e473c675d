"""Training speed and quality: the studio's trainer against the Hugging Face recipe, same model, data, passes, seed.

CPU mode (default): the first ``--n-train`` sentences of CoNLL-2002 ``esp.train``, dev = the first ``--n-dev`` of
``esp.testa``, test = the first ``--n-test`` of ``esp.testb``; multilingual-e5-small. ``--quick`` shrinks it to
finish in under 10 minutes on 2 cores. ``--gpu`` uses an XLM-R-base-shaped model built from a config (random
weights: speed only), sized to finish in under 5 minutes on one GPU.

For each recipe it prints sentences/s (sentence passes per second of training), real (non-padding) tokens/s,
padding fraction, peak memory and test F1 (strict IOB2 entity F1, seqeval), then the ratios. The last line is
one JSON object with ``studio_sent_per_s``, ``reference_sent_per_s``, ``ratio``, ``studio_dev_f1``,
``reference_dev_f1`` (F1 as fractions; "dev" here is the held-out scoring set given by --n-test).

Usage:
    python bench/train_speed.py --quick
    python bench/train_speed.py --seeds 42 43 44
    python bench/train_speed.py --studio-only --n-train 2000 --epochs 3   # time to quality of the defaults
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_es(data: str, n_train: int, n_dev: int, n_test: int):
    from core.data.corpus import ReadOptions
    from core.data.loader import load_corpus

    base = Path(data) / "conll2002_es_nl"
    opts = ReadOptions(lang="es")
    train = load_corpus([str(base / "esp.train")], opts).sentences[:n_train]
    dev = load_corpus([str(base / "esp.testa")], opts).sentences[:n_dev]
    test = load_corpus([str(base / "esp.testb")], opts).sentences[:n_test]
    return train, dev, test


def load_es_nl(data: str, n_train: int, n_dev: int, n_test: int):
    """Spanish + Dutch CoNLL-2002 training sentences (GPU mode needs 16,000), dev/test from Spanish."""
    from core.data.corpus import ReadOptions
    from core.data.loader import load_corpus

    base = Path(data) / "conll2002_es_nl"
    train = load_corpus([str(base / "esp.train"), str(base / "ned.train")], ReadOptions()).sentences[:n_train]
    _, dev, test = load_es(data, 0, n_dev, n_test)
    return train, dev, test


def xlmr_base_dir(tokenizer_dir: str) -> str:
    """A randomly initialised XLM-R-base-shaped encoder (12 layers, hidden 768, 250,002 pieces) with the XLM-R
    tokenizer, saved to a temp folder. Speed only: its F1 means nothing."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForTokenClassification

    from core.model.tokenization import load_tokenizer

    out = tempfile.mkdtemp(prefix="xlmr_base_")
    cfg = XLMRobertaConfig(vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                           intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1, num_labels=9)
    torch.manual_seed(0)
    XLMRobertaForTokenClassification(cfg).save_pretrained(out)
    load_tokenizer(tokenizer_dir).save_pretrained(out)
    return out


def studio_run(cfg_dict: dict, train, dev, test, seed: int) -> dict:
    from core.kernel.config import TrainConfig
    from core.model.predictor import Predictor
    from core.eval.metrics import evaluate
    from core.train.loop import Callbacks, fit

    cfg = TrainConfig.from_dict({**cfg_dict, "seed": seed})
    out = tempfile.mkdtemp(prefix="studio_bench_")
    losses: list[float] = []
    cb = Callbacks(on_metrics=lambda step, m: losses.append(m["train_loss"]) if "train_loss" in m else None,
                   log=lambda msg: print("  [studio] " + msg, file=sys.stderr, flush=True))
    res = fit(cfg, train, dev, out, cb)
    pred = Predictor(res.model_dir, device=cfg.device)
    t0 = time.perf_counter()
    preds = pred.predict_tokens([s.tokens for s in test])
    predict_s = time.perf_counter() - t0
    scores = evaluate([s.ner_tags for s in test], [p.tags for p in preds], [s.lang for s in test], max_errors=0)
    return {"train_seconds": res.train_seconds, "steps": res.steps, "sentences_per_s": res.sentences_per_s,
            "tokens_per_s": res.tokens_per_s, "padding_fraction": res.padding_fraction,
            "f1": scores["overall"]["f1"] or 0.0, "best_dev_f1": res.best_dev_f1, "predict_seconds": predict_s,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--quick", action="store_true", help="small sizes: under 10 minutes on this CPU")
    ap.add_argument("--gpu", action="store_true", help="XLM-R-base-shaped model on the GPU (speed only)")
    ap.add_argument("--model", default="multilingual-e5-small")
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-dev", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--epochs", type=float, default=3.0, help="sentence passes, the same for both recipes")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42])
    ap.add_argument("--studio-only", action="store_true")
    ap.add_argument("--config", default="{}", help="TrainConfig overrides for the studio (JSON)")
    ap.add_argument("--ref-lr", type=float, default=1e-4, help="reference recipe learning rate (docs/MODELS.md: 1e-4)")
    args = ap.parse_args()
    if args.quick:
        args.n_train, args.n_dev, args.n_test, args.epochs = 500, 200, 300, 3.0
    from core.model.hub import resolve_model

    from bench.hf_recipe import hf_train_and_eval

    batch_size = 16
    if args.gpu:
        # XLM-R-base shape (random weights: speed only), 16,000 CoNLL sentences, batch 32 for the reference; the
        # studio gets token-budget batches of about 8,000 subwords (its GPU preset).
        args.n_train, args.n_dev, args.n_test, args.epochs, batch_size = 16000, 500, 1000, 1.0, 32
        model_dir = xlmr_base_dir(resolve_model("multilingual-e5-small"))
        overrides = {"device": "cuda", "per_device_train_batch_size": 512, "tokens_per_batch": 8192,
                     "learning_rate": 5e-5, **json.loads(args.config)}
        train, dev, test = load_es_nl(args.data, args.n_train, args.n_dev, args.n_test)
    else:
        train, dev, test = load_es(args.data, args.n_train, args.n_dev, args.n_test)
        model_dir = resolve_model(args.model)
        overrides = json.loads(args.config)
    studio, ref = [], []
    for seed in args.seeds:
        print(f"seed {seed}: studio trainer ...", file=sys.stderr, flush=True)
        studio.append(studio_run({"model_name_or_path": model_dir, "num_train_epochs": args.epochs,
                                  **overrides}, train, dev, test, seed))
        print(json.dumps({"recipe": "studio", "seed": seed, **studio[-1]}), flush=True)
        if not args.studio_only:
            print(f"seed {seed}: Hugging Face recipe ...", file=sys.stderr, flush=True)
            ref.append(hf_train_and_eval(train, test, model_dir, learning_rate=args.ref_lr,
                                         num_train_epochs=args.epochs, batch_size=batch_size, seed=seed))
            print(json.dumps({"recipe": "reference", "seed": seed, **ref[-1]}), flush=True)

    def mean(rows, key):
        return statistics.mean(r[key] for r in rows) if rows else None

    out = {"studio_sent_per_s": mean(studio, "sentences_per_s"), "reference_sent_per_s": mean(ref, "sentences_per_s"),
           "studio_dev_f1": mean(studio, "f1"), "reference_dev_f1": mean(ref, "f1"),
           "studio_train_seconds": mean(studio, "train_seconds"), "reference_train_seconds": mean(ref, "train_seconds"),
           "studio_f1_per_seed": [round(r["f1"], 4) for r in studio], "reference_f1_per_seed": [round(r["f1"], 4) for r in ref],
           "n_train": len(train), "n_test": len(test), "epochs": args.epochs, "seeds": args.seeds}
    out["ratio"] = (out["studio_sent_per_s"] / out["reference_sent_per_s"]) if ref else None
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
