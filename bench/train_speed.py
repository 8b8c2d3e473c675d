"""Time to a target dev F1, side by side in one run: the studio's loop, the Hugging Face recipe (run_ner defaults)
and a tuned Hugging Face Trainer given the studio's advantages.

Recipes (same model, training sentences, dev set, learning rate, batch size, step budget and seeds):

- ``studio``: :func:`core.train.loop.fit` with its defaults (length-bucketed batches, frozen word embeddings, the
  head at ``learning_rate * classifier_lr_multiplier``, bf16 autocast where the CPU/GPU has it natively).
- ``reference``: ``Trainer`` as ``run_ner.py`` runs it (random batches, fp32, one learning rate, no warmup, no
  weight decay, nothing frozen): :func:`bench.hf_recipe.hf_train_to_target` with ``tuned=False``.
- ``tuned_reference``: the same ``Trainer`` with ``train_sampling_strategy="group_by_length"``, bf16 where
  native, frozen word embeddings, AdamW param groups with the head multiplier, the studio's warmup and weight
  decay (``tuned=True``).

Each scores the whole dev set every ``--eval-steps`` optimizer steps with the same scorer (strict IOB2 entity F1,
seqeval, :func:`core.train.loop.evaluate_sentences`) and stops when it reaches ``--target-f1`` or at
``--max-steps``. The clock runs from the first step's start and excludes scoring (and the studio's checkpoint
after each scoring). Data: the first ``--n-train`` sentences of CoNLL-2002 ``esp.train``, dev = the first
``--n-dev`` of ``esp.testa``; multilingual-e5-small.

``--quick``: 1,000 training sentences, 200 dev, target dev F1 0.50, eval every 25 steps, 300 steps at most, for
one seed in about 10-20 minutes on 2 shared cores (``--eval-steps 5`` with it: stops closer to the target, so
the time to it is less quantised and the dev F1 at each stop nearer the others'). 0.50 is the target because
the tuned Trainer, learning at the studio's rates, crosses it within its first 10 minutes here (a higher one,
0.70, needs about 600 steps of 2,000 sentences), while the run_ner defaults (no head multiplier) may not reach it
in the budget: then ``reference_seconds_to_target`` is null, which is the finding.

``--gpu``: an XLM-R-base-shaped model built from a config (random weights: speed only, no F1 target), 16,000
Spanish + Dutch sentences, one pass per recipe (batch 32 for both Trainers, token-budget batches of 8,192 subwords
for the studio), scored once at the end; reports each recipe's real subwords/s as a share of the H200's physical
limit (:data:`PHYSICAL_LIMIT_TOKENS_PER_S`), then the studio Predictor against the pipeline on the GPU.

The last line is one JSON object with ``target_f1``, ``studio_seconds_to_target``,
``reference_seconds_to_target``, ``tuned_reference_seconds_to_target`` (means over seeds; null when a seed never
reached the target), ``studio_dev_f1``, ``reference_dev_f1``, ``tuned_reference_dev_f1`` (dev F1 when each
stopped), ``<recipe>_sent_per_s``, ``<recipe>_tokens_per_s``, ``<recipe>_padding_fraction``, per-seed times, and
the ratios ``time_ratio_<other>_vs_studio`` (its seconds over the studio's) and ``speed_ratio_studio_vs_<other>``.

Usage:
    python bench/train_speed.py --quick --seeds 42
    python bench/train_speed.py                    # 2,000 sentences, target 0.70, 3 seeds (hours on 2 cores)
    python bench/train_speed.py --gpu --seeds 42   # on a GPU machine
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


def default_data_dir() -> str:
    """The shared corpora: ``../shared/data`` beside the checkout, else ``/work/shared/data`` (worktrees)."""
    near = ROOT.parent / "shared" / "data"
    return str(near if near.is_dir() else Path("/work/shared/data"))


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


def studio_to_target(cfg_dict: dict, train, dev, seed: int, *, target_f1: float | None, eval_steps: int,
                     max_steps: int, log=lambda msg: None) -> dict:
    """Train with the studio's loop until dev entity F1 reaches ``target_f1`` or ``max_steps``.

    Dev (all of it: ``eval_max_sentences=0``) is scored every ``eval_steps`` steps by the loop itself; the clock
    runs from the start of the first step and excludes each scoring and the checkpoint written after it (the time
    from a scored step's end to the next step's start, seen through the ``on_progress``/``should_stop`` hooks).

    Returns:
        The keys of :func:`bench.hf_recipe.hf_train_to_target` (``seconds_to_target``, ``dev_f1``, ``curve``,
        ``sentences_per_s``, ``padding_fraction``, ...).
    """
    from core.kernel.config import TrainConfig
    from core.model.device import pick_device, use_bf16
    from core.train.loop import Callbacks, fit

    cfg = TrainConfig.from_dict({**cfg_dict, "seed": seed, "max_steps": max_steps, "eval_steps": eval_steps,
                                 "eval_max_sentences": 0, "early_stopping_patience": 0})
    st = {"t0": None, "excluded": 0.0, "paused_at": None, "step_end": {}, "curve": [], "reached": None}

    def on_progress(step: int, total: int) -> None:
        now = time.perf_counter()
        st["step_end"][step] = now - st["t0"] - st["excluded"]
        if step % eval_steps == 0 or step >= total:
            st["paused_at"] = now

    def should_stop() -> bool:
        now = time.perf_counter()
        if st["t0"] is None:
            st["t0"] = now
        if st["paused_at"] is not None:
            st["excluded"] += now - st["paused_at"]
            st["paused_at"] = None
        return st["reached"] is not None

    def on_metrics(step: int, m: dict) -> None:
        if "eval_f1" not in m:
            return
        clock = st["step_end"].get(step, 0.0)
        f1 = float(m["eval_f1"])
        st["curve"].append([step, round(clock, 2), round(f1, 4)])
        log(f"step {step}: dev F1 {f1:.4f} at {clock:.1f} s")
        if target_f1 is not None and f1 >= target_f1 and st["reached"] is None:
            st["reached"] = (step, clock)

    out = tempfile.mkdtemp(prefix="studio_bench_")
    res = fit(cfg, train, dev, out, Callbacks(on_metrics=on_metrics, on_progress=on_progress,
                                              should_stop=should_stop, log=log))
    curve = st["curve"]
    return {"seconds_to_target": st["reached"][1] if st["reached"] else None,
            "steps_to_target": st["reached"][0] if st["reached"] else None, "steps": res.steps,
            "train_clock_seconds": curve[-1][1] if curve else 0.0, "dev_f1": curve[-1][2] if curve else 0.0,
            "best_dev_f1": max((c[2] for c in curve), default=0.0), "curve": curve,
            "sentences_per_s": res.sentences_per_s, "tokens_per_s": res.tokens_per_s,
            "padding_fraction": res.padding_fraction,
            "bf16": use_bf16(cfg.precision, pick_device(cfg.device)),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


#: Training throughput an H200 could reach on the XLM-R-base shape (real subwords/s), the estimate of issue 14
#: (about 60,000 sentences/s); ``--gpu`` reports each recipe's share of it.
PHYSICAL_LIMIT_TOKENS_PER_S = 1.5e6


def gpu_prediction(model_dir: str, test) -> dict:
    """Studio Predictor (cuda, bf16 where supported) against the transformers pipeline (device 0, batch 64) on the
    same sentences: sentences/s of each and the ratio."""
    from transformers import pipeline

    from core.model.predictor import Predictor
    from core.model.tokenization import load_tokenizer

    words = [list(s.tokens) for s in test]
    pred = Predictor(model_dir, device="cuda")
    pred.predict_tokens(words[:64])
    t0 = time.perf_counter()
    pred.predict_tokens(words)
    studio_s = time.perf_counter() - t0
    pipe = pipeline("token-classification", model=model_dir, tokenizer=load_tokenizer(model_dir),
                    aggregation_strategy="first", device=0)
    texts = [" ".join(w) for w in words]
    pipe(texts[:64], batch_size=64)
    t0 = time.perf_counter()
    pipe(texts, batch_size=64)
    pipe_s = time.perf_counter() - t0
    return {"studio_predict_sent_per_s": len(words) / studio_s, "pipeline_predict_sent_per_s": len(words) / pipe_s,
            "predict_ratio": pipe_s / studio_s}


RECIPES = ("studio", "tuned_reference", "reference")  # the tuned Trainer second: the comparison that matters most


#: Sizes of a full run and of ``--quick`` (see the module docstring); each can be overridden on the command line.
FULL = {"n_train": 2000, "n_dev": 500, "target_f1": 0.70, "max_steps": 600, "eval_steps": 25}
QUICK = {"n_train": 1000, "n_dev": 200, "target_f1": 0.5, "max_steps": 300, "eval_steps": 25}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=default_data_dir())
    ap.add_argument("--quick", action="store_true", help="CPU sizes whose target the tuned Trainer reaches in "
                                                         "under 10 minutes here (see the module docstring)")
    ap.add_argument("--gpu", action="store_true", help="XLM-R-base-shaped model on the GPU (speed only)")
    ap.add_argument("--model", default="multilingual-e5-small")
    # None: the size's default (FULL or QUICK below); a value given on the command line wins over --quick
    ap.add_argument("--n-train", type=int)
    ap.add_argument("--n-dev", type=int)
    ap.add_argument("--target-f1", type=float, help="dev entity F1 each recipe trains to")
    ap.add_argument("--eval-steps", type=int, help="score dev every this many optimizer steps")
    ap.add_argument("--max-steps", type=int, help="step budget of every recipe")
    ap.add_argument("--batch-size", type=int, default=16, help="per_device_train_batch_size of every recipe")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    ap.add_argument("--config", default="{}", help="TrainConfig overrides for the studio (JSON)")
    ap.add_argument("--lr", type=float, default=1e-4, help="learning rate of every recipe (docs/MODELS.md: 1e-4)")
    ap.add_argument("--classifier-lr-multiplier", type=float, default=10.0,
                    help="head learning-rate factor of the studio and the tuned Trainer")
    args = ap.parse_args()
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    from core.model.hub import resolve_model

    from bench.hf_recipe import hf_train_to_target

    overrides = json.loads(args.config)
    if args.gpu:
        import torch

        if not torch.cuda.is_available():
            print("train_speed --gpu: no CUDA device here; run it on a GPU machine", file=sys.stderr)
            return 2
        # XLM-R-base shape (random weights: speed only, so no F1 target), 16,000 CoNLL sentences, one pass each;
        # batch 32 for the two Trainers, token-budget batches of about 8,000 subwords for the studio (its GPU preset).
        args.n_train, args.n_dev, args.batch_size, args.target_f1 = 16000, 500, 32, None
        model_dir = xlmr_base_dir(resolve_model("multilingual-e5-small"))
        overrides = {"device": "cuda", "per_device_train_batch_size": 512, "tokens_per_batch": 8192, **overrides}
        train, dev, test = load_es_nl(args.data, args.n_train, args.n_dev, 2000)
        hf_steps = -(-len(train) // args.batch_size)
        args.max_steps, args.eval_steps = hf_steps, hf_steps
    else:
        train, dev, _ = load_es(args.data, args.n_train, args.n_dev, 0)
        model_dir = resolve_model(args.model)
    runs: dict[str, list[dict]] = {r: [] for r in args.recipes}
    for seed in args.seeds:
        for recipe in args.recipes:
            print(f"seed {seed}: {recipe} ...", file=sys.stderr, flush=True)

            def log(msg: str, recipe=recipe) -> None:
                print(f"  [{recipe}] {msg}", file=sys.stderr, flush=True)

            if recipe == "studio":
                cfg = {"model_name_or_path": model_dir, "learning_rate": args.lr,
                       "classifier_lr_multiplier": args.classifier_lr_multiplier,
                       "per_device_train_batch_size": args.batch_size, **overrides}
                if args.gpu:  # one pass of token-budget batches: their count is the loop's, not the Trainers'
                    cfg["num_train_epochs"] = 1.0
                row = studio_to_target(cfg, train, dev, seed, target_f1=args.target_f1,
                                       eval_steps=10 ** 9 if args.gpu else args.eval_steps,
                                       max_steps=-1 if args.gpu else args.max_steps, log=log)
            else:
                row = hf_train_to_target(train, dev, model_dir, tuned=recipe == "tuned_reference",
                                         target_f1=args.target_f1, eval_steps=args.eval_steps,
                                         max_steps=args.max_steps, learning_rate=args.lr,
                                         classifier_lr_multiplier=args.classifier_lr_multiplier,
                                         batch_size=args.batch_size, seed=seed, log=log)
            runs[recipe].append(row)
            print(json.dumps({"recipe": recipe, "seed": seed, **row}), flush=True)

    def mean(recipe: str, key: str):
        vals = [r[key] for r in runs.get(recipe, [])]
        if not vals or any(v is None for v in vals):
            return None  # "never reached" in any seed makes the mean undefined
        return statistics.mean(vals)

    out: dict = {"target_f1": args.target_f1, "seeds": args.seeds, "n_train": len(train), "n_dev": len(dev),
                 "eval_steps": args.eval_steps, "max_steps": args.max_steps, "batch_size": args.batch_size}
    for recipe in RECIPES:
        out[f"{recipe}_seconds_to_target"] = mean(recipe, "seconds_to_target")
    for recipe in RECIPES:
        out[f"{recipe}_dev_f1"] = mean(recipe, "dev_f1")
        out[f"{recipe}_sent_per_s"] = mean(recipe, "sentences_per_s")
        out[f"{recipe}_tokens_per_s"] = mean(recipe, "tokens_per_s")
        out[f"{recipe}_padding_fraction"] = mean(recipe, "padding_fraction")
        out[f"{recipe}_seconds_to_target_per_seed"] = [r["seconds_to_target"] for r in runs.get(recipe, [])]
    for other in ("reference", "tuned_reference"):
        a, b = out["studio_seconds_to_target"], out[f"{other}_seconds_to_target"]
        out[f"time_ratio_{other}_vs_studio"] = b / a if a and b else None
        sa, sb = out["studio_sent_per_s"], out[f"{other}_sent_per_s"]
        out[f"speed_ratio_studio_vs_{other}"] = sa / sb if sa and sb else None
    if args.gpu:
        for recipe in RECIPES:
            tps = out[f"{recipe}_tokens_per_s"]
            out[f"{recipe}_share_of_physical_limit"] = tps / PHYSICAL_LIMIT_TOKENS_PER_S if tps else None
        out.update(gpu_prediction(model_dir, test))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
