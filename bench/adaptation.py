"""Language adaptation on low-resource languages: shared fine-tune vs per-language adapters vs pre-train then
fine-tune, same data, same fine-tuning steps and seeds; each method at its own kind of learning rate (full
fine-tuning ``--learning-rate``, LoRA adapters ``--adapter-learning-rate``, masked-LM ``--pretrain-learning-rate``),
the classification head at the same rate in all three.

Data: MasakhaNER 1.0 (../shared/data/masakhaner_v1, Adelani et al. 2021): for each of ``--langs`` (default Hausa,
Yoruba, Swahili), the first ``--n-train`` sentences of train.txt, ``--n-dev`` of dev.txt and ``--n-test`` of
test.txt. Model: the bundled multilingual-e5-small. Methods:

* ``shared``: one fine-tune on the three languages together (``adapters=shared``);
* ``per_language``: one LoRA adapter per language plus the shared adapter (``adapters=per_language``, at
  ``--adapter-learning-rate``), each batch training the encoder, the head and its language's adapter, the encoder
  and head at the rates of ``shared``;
* ``pretrain_finetune``: ``--pretrain-steps`` of whole-word masked-LM training on the text of the training
  sentences (the "text of an annotated dataset" source), then the shared fine-tune from that folder.

Scores: entity F1 per language on the test sentences (``core.eval.metrics.evaluate``, strict IOB2), mean and
population std over seeds. The last line is one JSON object ``{"mode", "langs", "steps", "seeds", "results":
{method: {lang: {"mean", "std", "runs"}}, "overall_mean": {method: f1}, "seconds": {method: s}}``.

Usage:
    OMP_NUM_THREADS=1 python bench/adaptation.py --quick      # tiny: 200 sentences a language, 1 seed
    OMP_NUM_THREADS=1 python bench/adaptation.py --seeds 42 43 44 --n-train 1000 --steps 600
    # the README figures (loaded 2-core CPU, 73 minutes):
    OMP_NUM_THREADS=1 python bench/adaptation.py --n-train 400 --n-dev 50 --n-test 200 --steps 200 \
        --pretrain-steps 100 --max-seq-length 96 --seeds 42 43 44
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
DATA = ROOT.parent / "shared" / "data" / "masakhaner_v1"
if not DATA.exists():
    DATA = Path("/work/shared/data/masakhaner_v1")
METHODS = ("shared", "per_language", "pretrain_finetune")


def load(lang: str, split: str, n: int):
    from core.data.corpus import ReadOptions
    from core.data.loader import load_corpus

    corpus = load_corpus([str(DATA / lang / f"{split}.txt")], ReadOptions(lang=lang, detect_lang=False))
    return [s for s in corpus.sentences if s.tokens][:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200/60/100 sentences a language, 40 steps, 1 seed")
    ap.add_argument("--langs", nargs="+", default=["hau", "yor", "swa"])
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-dev", type=int, default=100)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--learning-rate", type=float, default=1e-4,
                    help="fine-tuning learning rate of the shared methods (the studio's default for e5-small)")
    ap.add_argument("--adapter-learning-rate", type=float, default=1e-3,
                    help="learning rate of the LoRA adapters (per_language): LoRA's low-rank updates need a larger "
                         "rate than full fine-tuning (Hu et al. 2021 used 4e-4 to 5e-4 for RoBERTa-base; 1e-3 is "
                         "peft's common choice for few steps)")
    ap.add_argument("--pretrain-learning-rate", type=float, default=5e-5,
                    help="masked-LM learning rate of continued pre-training (Gururangan et al. 2020 used 1e-4)")
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--num-threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    args = ap.parse_args()
    if args.quick:
        args.n_train, args.n_dev, args.n_test, args.steps, args.pretrain_steps, args.seeds = 200, 60, 100, 40, 20, [42]

    from core.kernel.config import TrainConfig
    from core.train.loop import fit
    from core.train.pretrain import pretrain
    from core.train.transfer import score_by_language

    train, dev, test = [], [], []
    for lang in args.langs:
        train += load(lang, "train", args.n_train)
        dev += load(lang, "dev", args.n_dev)
        test += load(lang, "test", args.n_test)
    langs = sorted({s.lang for s in train})
    print(f"data: {len(train)} train / {len(dev)} dev / {len(test)} test sentences in {langs}", flush=True)
    base = {"max_steps": args.steps, "learning_rate": args.learning_rate, "per_device_train_batch_size": 16,
            "max_seq_length": args.max_seq_length, "stride": 16, "num_threads": args.num_threads,
            "eval_max_sentences": 0, "warmup_ratio": 0.1}
    per: dict[str, dict[str, list[float]]] = {m: {lang: [] for lang in langs} for m in args.methods}
    seconds: dict[str, float] = {m: 0.0 for m in args.methods}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for method in args.methods:
                t0 = time.perf_counter()
                cfg = dict(base, seed=seed)
                if method == "per_language":  # the encoder and head at the shared rates, the adapters at theirs
                    cfg["adapters"] = "per_language"
                    cfg["adapter_lr_multiplier"] = args.adapter_learning_rate / args.learning_rate
                if method == "pretrain_finetune":
                    pt_cfg = TrainConfig.from_dict(dict(base, seed=seed, max_steps=args.pretrain_steps,
                                                        learning_rate=args.pretrain_learning_rate))
                    res = pretrain(pt_cfg, [s.tokens for s in train], f"{tmp}/pt{seed}")
                    print(f"seed {seed} pretrain: masked-LM loss {res.loss_first:.3f} -> {res.loss_last:.3f}",
                          flush=True)
                    cfg["model_name_or_path"] = res.model_dir
                out = fit(TrainConfig.from_dict(cfg), train, dev, f"{tmp}/{method}{seed}")
                scores = score_by_language(out.model_dir, test, langs, "cpu")
                seconds[method] += time.perf_counter() - t0
                for lang in langs:
                    per[method][lang].append(scores[lang] or 0.0)
                print(f"seed {seed} {method}: " + " ".join(f"{k}={v or 0.0:.3f}" for k, v in scores.items())
                      + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
    results = {m: {lang: {"mean": round(statistics.fmean(v), 4), "std": round(statistics.pstdev(v), 4),
                          "runs": len(v)} for lang, v in d.items()} for m, d in per.items()}
    overall = {m: round(statistics.fmean(r["mean"] for r in d.values()), 4) for m, d in results.items()}
    print("method              " + " ".join(f"{lang:>14}" for lang in langs) + "        mean")
    for m, d in results.items():
        print(f"{m:19} " + " ".join(f"{d[lang]['mean']:.3f} ± {d[lang]['std']:.3f}" for lang in langs)
              + f"   {overall[m]:.3f}")
    print(json.dumps({"mode": "quick" if args.quick else "full", "langs": langs, "steps": args.steps,
                      "pretrain_steps": args.pretrain_steps, "n_train_per_lang": args.n_train,
                      "learning_rate": args.learning_rate,
                      "adapter_learning_rate": args.adapter_learning_rate,
                      "pretrain_learning_rate": args.pretrain_learning_rate, "max_seq_length": args.max_seq_length,
                      "seeds": args.seeds, "results": results,
                      "overall_mean": overall, "seconds": {k: round(v, 1) for k, v in seconds.items()}}))


if __name__ == "__main__":
    main()
