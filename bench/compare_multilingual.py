"""Multilingual fine-tuning: the studio against the Hugging Face recipe, per language, same data and passes.

Training data: the first ``--n-train`` sentences each of CoNLL-2002 Spanish (``esp.train``), CoNLL-2002 Dutch
(``ned.train``) and MasakhaNER Swahili (``masakhaner_v1/swa/train.txt``), in one run. Test: the first
``--n-test`` sentences of each language's test file (``esp.testb``, ``ned.testb``, ``swa/test.txt``). The studio
runs with its defaults (``python -m core train``'s path: :func:`core.train.loop.fit` with a dev set held out from
train); the reference is ``bench/hf_recipe.py`` (Trainer + DataCollatorForTokenClassification, batch 16,
lr 1e-4) on the same training sentences for the same number of epochs. Scores are strict IOB2 entity F1.

Last line: one JSON object with per-language F1 of both, the differences, and wall times (seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FILES = {
    "es": ("conll2002_es_nl/esp.train", "conll2002_es_nl/esp.testb"),
    "nl": ("conll2002_es_nl/ned.train", "conll2002_es_nl/ned.testb"),
    "sw": ("masakhaner_v1/swa/train.txt", "masakhaner_v1/swa/test.txt"),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=500)
    ap.add_argument("--epochs", type=float, default=None, help="passes for both (default: the studio's default)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--studio-only", action="store_true")
    args = ap.parse_args()

    from bench.hf_recipe import hf_train_and_eval
    from core.kernel.config import TrainConfig
    from core.data.corpus import ReadOptions
    from core.model.predictor import Predictor
    from core.data.loader import load_corpus
    from core.eval.metrics import evaluate
    from core.model.hub import resolve_model
    from core.train.loop import Callbacks, fit, hold_out_dev

    train, test = [], []
    for lang, (tr, te) in FILES.items():
        train += load_corpus([str(Path(args.data) / tr)], ReadOptions(lang=lang)).sentences[: args.n_train]
        test += load_corpus([str(Path(args.data) / te)], ReadOptions(lang=lang)).sentences[: args.n_test]
    cfg = TrainConfig.from_dict({"seed": args.seed, **({"num_train_epochs": args.epochs} if args.epochs else {})})
    epochs = cfg.num_train_epochs
    model_dir = resolve_model(cfg.model_name_or_path)

    t0 = time.perf_counter()
    tr, dev = hold_out_dev(train, cfg.dev_fraction, cfg.seed)
    res = fit(cfg, tr, dev, tempfile.mkdtemp(prefix="multi_bench_"),
              Callbacks(log=lambda m: print("  [studio] " + m, file=sys.stderr, flush=True)))
    preds = Predictor(res.model_dir, device="cpu").predict_tokens([s.tokens for s in test])
    studio_scores = evaluate([s.ner_tags for s in test], [p.tags for p in preds], [s.lang for s in test],
                             max_errors=0)
    studio_wall = time.perf_counter() - t0
    out = {"studio_per_language": {k: v["f1"] for k, v in studio_scores["per_language"].items()},
           "studio_overall": studio_scores["overall"]["f1"], "studio_wall_seconds": round(studio_wall, 1),
           "studio_train_seconds": round(res.train_seconds, 1), "epochs": epochs,
           "n_train_per_language": args.n_train, "n_test_per_language": args.n_test}
    print(json.dumps(out), flush=True)
    if not args.studio_only:
        t0 = time.perf_counter()
        ref = hf_train_and_eval(train, test, model_dir, learning_rate=1e-4, num_train_epochs=epochs, batch_size=16,
                                seed=args.seed)
        out["reference_per_language"] = ref["per_language"]
        out["reference_overall"] = ref["f1"]
        out["reference_wall_seconds"] = round(time.perf_counter() - t0, 1)
        out["difference_points"] = {k: round(100 * (out["studio_per_language"][k] - v), 2)
                                    for k, v in ref["per_language"].items()}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
