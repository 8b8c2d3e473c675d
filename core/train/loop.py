"""Fine-tuning a multilingual encoder for token classification: fast, exact, resumable.

What differs from the Hugging Face ``run_ner.py`` recipe, and why (measured by ``bench/train_speed.py``):

* Batches are built from length-sorted windows under a subword budget (``tokens_per_batch``) instead of a fixed
  number of randomly mixed sentences, so almost no padding is computed; batch order is shuffled per epoch.
* The word-embedding matrix (83% of multilingual-e5-small's parameters) is frozen by default: the optimizer does
  a fraction of the work and the step is about 2x faster on CPU at the same F1 (docs/MODELS.md).
* AdamW runs ``foreach`` on CPU and ``fused`` on CUDA; padding is never labelled (``-100``), long sentences are
  windows, not truncations; the checkpoint kept is the best by dev entity F1 (seqeval strict IOB2), not by loss.
* Languages can be re-balanced with XLM-R's exponent (``language_sampling_alpha``).

The loop is plain PyTorch rather than ``transformers.Trainer`` because the Trainer's per-step overhead, its
sentence-count batching and its loss-based checkpoint choice are exactly what this module replaces; models,
tokenizers, schedulers and ``save_pretrained`` folders are transformers' own.

:func:`fit` is store-free (benchmarks and tests call it); :func:`train_run` is the worker's entry point and
reports through :mod:`core.runs.store`.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from core.kernel.config import TrainConfig
from core.data.corpus import Sentence
from core.kernel.errors import StudioError
from core.model.device import pick_device, use_bf16

CHECKPOINT_DIR = "checkpoint"
LOG_EVERY = 5  # optimizer steps between train-loss/speed metric rows
MODEL_DIR = "model"


@dataclass
class Callbacks:
    """Hooks the loop calls. Every hook is optional.

    Attributes:
        on_metrics: ``(step, {key: value})`` for train loss, learning rate, grad norm, speed, eval scores.
        on_progress: ``(step, total_steps)`` after every optimizer step.
        should_stop: polled at every step boundary; True saves a checkpoint and returns ``STOPPED``.
        log: one line of human-readable text.
    """

    on_metrics: Callable[[int, dict], None] | None = None
    on_progress: Callable[[int, int], None] | None = None
    should_stop: Callable[[], bool] | None = None
    log: Callable[[str], None] | None = None


@dataclass
class FitResult:
    """Outcome of :func:`fit`.

    Attributes:
        status: ``FINISHED`` or ``STOPPED``.
        model_dir: folder of the best model (by dev F1), a transformers folder.
        best_dev_f1: best dev entity F1 (fraction) or None when there was no dev set.
        steps: optimizer steps done.
        train_seconds: wall time of the training loop (evaluations included), seconds.
        sentences_per_s: training windows per second of pure training steps.
        tokens_per_s: real (non-padding) subwords per second of pure training steps.
        padding_fraction: share of computed positions that were padding.
        dev: the last dev evaluation (``core.eval.metrics.evaluate`` shape) or None.
    """

    status: str
    model_dir: str
    best_dev_f1: float | None
    steps: int
    train_seconds: float
    sentences_per_s: float
    tokens_per_s: float = 0.0
    padding_fraction: float = 0.0
    dev: dict | None = None


def label_list_for(train: Sequence[Sentence], fixed: Sequence[str] | None = None) -> list[str]:
    """IOB2 label list: ``O`` then ``B-``/``I-`` per training type, sorted; ``fixed`` (from a checkpoint) wins."""
    if fixed:
        return list(fixed)
    from core.data.schemes import entity_types

    out = ["O"]
    for t in sorted(entity_types(s.ner_tags for s in train)):
        out += [f"B-{t}", f"I-{t}"]
    return out


def hold_out_dev(sentences: Sequence[Sentence], fraction: float, seed: int) -> tuple[list[Sentence], list[Sentence]]:
    """Split sentences into train and dev, stratified by language, whole documents kept together.

    A document (same source and ``doc_id``) goes entirely to one side, so translations or neighbouring sentences
    of one article cannot leak from train into dev. Files without documents are split by sentence.
    """
    rng = random.Random(seed)
    groups: dict[tuple, list[Sentence]] = {}
    for i, s in enumerate(sentences):
        key = (s.lang, s.source, s.doc_id) if s.doc_id is not None else (s.lang, s.source, f"#{i}")
        groups.setdefault(key, []).append(s)
    by_lang: dict[str, list[list[Sentence]]] = {}
    for key, g in groups.items():
        by_lang.setdefault(key[0], []).append(g)
    train: list[Sentence] = []
    dev: list[Sentence] = []
    for lang in sorted(by_lang):
        gs = by_lang[lang]
        rng.shuffle(gs)
        total = sum(len(g) for g in gs)
        target = max(1, round(total * fraction)) if total > 1 else 0
        taken = 0
        for g in gs:
            if taken < target:
                dev.extend(g)
                taken += len(g)
            else:
                train.extend(g)
    for s in dev:
        s.split = "dev"
    return train, dev


def stratified_sample(sentences: Sequence[Sentence], limit: int, seed: int) -> list[Sentence]:
    """At most ``limit`` sentences, each language keeping its share (at least one sentence each); 0 = all."""
    if not limit or len(sentences) <= limit:
        return list(sentences)
    rng = random.Random(seed)
    by_lang: dict[str, list[Sentence]] = {}
    for s in sentences:
        by_lang.setdefault(s.lang, []).append(s)
    out: list[Sentence] = []
    for lang in sorted(by_lang):
        group = by_lang[lang]
        k = max(1, round(limit * len(group) / len(sentences)))
        out.extend(rng.sample(group, min(k, len(group))))
    return out


def language_weights(langs: Sequence[str], alpha: float) -> dict[str, float]:
    """Sampling probability of each language, proportional to ``n_lang ** alpha`` (Conneau et al. 2020, XLM-R)."""
    counts: dict[str, int] = {}
    for lang in langs:
        counts[lang] = counts.get(lang, 0) + 1
    z = sum(n ** alpha for n in counts.values())
    return {k: (n ** alpha) / z for k, n in counts.items()}


def epoch_order(langs: Sequence[str], alpha: float, rng: random.Random) -> list[int]:
    """Window indices for one epoch: all of them when ``alpha == 1``; otherwise as many draws as windows, each
    language drawn with :func:`language_weights` probability (low-resource languages repeated)."""
    n = len(langs)
    if alpha >= 1.0 or n == 0:
        idx = list(range(n))
        rng.shuffle(idx)
        return idx
    weights = language_weights(langs, alpha)
    by_lang: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        by_lang.setdefault(lang, []).append(i)
    names = sorted(by_lang)
    picks = rng.choices(names, weights=[weights[k] for k in names], k=n)
    out = []
    for name in picks:
        out.append(rng.choice(by_lang[name]))
    return out


def make_batches(order: Sequence[int], lengths: Sequence[int], cfg: TrainConfig, rng: random.Random) -> list[list[int]]:
    """Cut an epoch's window order into batches of similar length.

    The order is cut into pools of 64 batches' worth, each pool sorted by length and cut by
    ``per_device_train_batch_size`` and ``tokens_per_batch`` (padded subwords), then the batches are shuffled:
    little padding, and still random batches across the epoch.
    """
    from core.model.predictor import batches_by_length

    pool_size = cfg.per_device_train_batch_size * 64
    batches: list[list[int]] = []
    for start in range(0, len(order), pool_size):
        pool = list(order[start:start + pool_size])
        for b in batches_by_length([lengths[i] for i in pool], cfg.per_device_train_batch_size,
                                   cfg.tokens_per_batch):
            batches.append([pool[j] for j in b])
    rng.shuffle(batches)
    return batches


@dataclass
class DistContext:
    """Data-parallel context of this process (torchrun's environment variables; one process when unset).

    Attributes:
        world_size: number of processes; 1 without torchrun.
        rank: this process's rank (0 is the main process: it evaluates, saves and reports).
        local_rank: rank on this machine (the GPU index it uses).
    """

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "DistContext":
        return cls(int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")),
                   int(os.environ.get("LOCAL_RANK", "0")))

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is True on any rank (an all-reduce; free without DDP)."""
        if not self.enabled:
            return flag
        import torch
        import torch.distributed as dist

        t = torch.tensor([1 if flag else 0], dtype=torch.int32)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


def _set_seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _configure_threads(cfg: TrainConfig) -> int:
    import torch

    n = cfg.num_threads or max(1, (os.cpu_count() or 2))
    torch.set_num_threads(n)
    return n


def _build_model(model_dir: str, labels: list[str], cfg: TrainConfig, device: str):
    import torch
    from transformers import AutoModelForTokenClassification

    id2label = dict(enumerate(labels))
    label2id = {v: k for k, v in id2label.items()}
    model = AutoModelForTokenClassification.from_pretrained(
        model_dir, num_labels=len(labels), id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True)
    if cfg.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if cfg.lora:
        from peft import LoraConfig, TaskType, get_peft_model

        lcfg = LoraConfig(task_type=TaskType.TOKEN_CLS, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                          lora_dropout=cfg.lora_dropout, target_modules=["query", "key", "value"])
        model = get_peft_model(model, lcfg)
    model.to(device)
    return model


def _optimizer(model, cfg: TrainConfig, device: str):
    import torch

    groups_by_key: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_head = name.startswith("classifier") or ".classifier." in name
        no_wd = p.ndim < 2 or "LayerNorm" in name or name.endswith(".bias")
        groups_by_key.setdefault((is_head, no_wd), []).append(p)
    groups = [{"params": params, "weight_decay": 0.0 if no_wd else cfg.weight_decay,
               "lr": cfg.learning_rate * (cfg.classifier_lr_multiplier if is_head else 1.0)}
              for (is_head, no_wd), params in sorted(groups_by_key.items())]
    kwargs = {"fused": True} if device.startswith("cuda") else {"foreach": True}
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, **kwargs)


def save_model(model, tokenizer, out_dir: str, cfg: TrainConfig, labels: list[str], extra: dict | None = None) -> None:
    """Write a transformers model folder (config with id2label/label2id, tokenizer, safetensors) atomically,
    plus ``ner_studio.json`` (window settings and label list) for prediction."""
    import tempfile

    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    to_save = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
    to_save.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    meta = {"max_seq_length": cfg.max_seq_length, "stride": cfg.stride, "label_list": labels,
            "base_model": cfg.model_name_or_path, **(extra or {})}
    (tmp / "ner_studio.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    old = target.with_name(target.name + ".old")
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    if old.exists():
        shutil.rmtree(old)


def evaluate_sentences(model, tokenizer, sentences: Sequence[Sentence], cfg: TrainConfig, device: str) -> dict:
    """Entity scores of ``model`` on gold ``sentences`` (``core.eval.metrics.evaluate`` shape) plus ``predictions``
    and ``loss`` (mean cross-entropy of the labelled first subwords, as in training; labels unknown to the model
    count as ``O``)."""
    from core.model.predictor import Predictor
    from core.eval.metrics import evaluate, source_tags

    pred = Predictor("", device=device, max_seq_length=cfg.max_seq_length, stride=cfg.stride,
                     model=model, tokenizer=tokenizer, precision=cfg.precision)
    label2id = {v: k for k, v in pred.id2label.items()}
    gold_ids = [[label2id.get(t, 0) for t in s.ner_tags] for s in sentences]
    preds, loss = pred.predict_with_loss([s.tokens for s in sentences], gold_ids)
    model.train()
    gold, schemes = source_tags(sentences)
    res = evaluate(gold, [p.tags for p in preds], [s.lang for s in sentences], tokens=[s.tokens for s in sentences],
                   max_errors=0, scheme=schemes, pred_scheme="IOB2")
    res["predictions"] = preds
    res["loss"] = loss
    return res


def fit(cfg: TrainConfig, train: Sequence[Sentence], dev: Sequence[Sentence], out_dir: str,
        callbacks: Callbacks | None = None, resume: bool = False, checkpoint_dir: str | None = None) -> FitResult:
    """Fine-tune ``cfg.model_name_or_path`` on ``train``; keep the best model by dev F1 in ``out_dir/model``.

    Args:
        cfg: the training configuration (validated).
        train: training sentences (IOB2).
        dev: dev sentences (may be empty: then the last model is kept).
        out_dir: run folder; ``model/`` receives the best model, ``checkpoint/`` the resumable state.
        callbacks: progress, metrics and stop hooks.
        resume: continue from the checkpoint (same curves: steps continue where they stopped).
        checkpoint_dir: where the resumable state lives (default ``out_dir/checkpoint``).

    Returns:
        :class:`FitResult`.

    Raises:
        StudioError: E303 out of memory (what to lower), E304 loss is NaN/inf (what to change), E202 when there
            is nothing to train on.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    from core.model.alignment import collate, encode_words
    from core.model.hub import resolve_model
    from core.model.tokenization import load_tokenizer

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-shard bars would flood the run log
    cb = callbacks or Callbacks()
    log = cb.log or (lambda msg: None)
    if not train:
        raise StudioError("E202", "no training sentences", fix="Give a training file with annotated sentences.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else out / CHECKPOINT_DIR
    state: dict = {}
    if resume and (ckpt_dir / "state.json").exists():
        state = json.loads((ckpt_dir / "state.json").read_text(encoding="utf-8"))
    _set_seed(cfg.seed)
    threads = _configure_threads(cfg)

    device = pick_device(cfg.device)
    dist_ctx = DistContext.from_env()
    if dist_ctx.enabled:
        import torch.distributed as tdist

        if device.startswith("cuda"):
            device = f"cuda:{dist_ctx.local_rank}"
            torch.cuda.set_device(device)
        if not tdist.is_initialized():
            tdist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
        if not dist_ctx.is_main:  # only the main process reports, evaluates and saves
            cb = Callbacks()
            log = lambda msg: None  # noqa: E731
    model_dir = resolve_model(cfg.model_name_or_path)
    tokenizer = load_tokenizer(model_dir)
    labels = label_list_for(train, state.get("labels"))
    label2id = {t: i for i, t in enumerate(labels)}
    b_to_i = {label2id[t]: label2id["I-" + t[2:]] for t in labels if t.startswith("B-") and "I-" + t[2:] in label2id}
    t_enc = time.perf_counter()
    windows, langs = [], []
    for s in train:
        ids = [label2id.get(t, 0) for t in s.ner_tags]
        for w in encode_words(tokenizer, s.tokens, cfg.max_seq_length, cfg.stride, labels=ids,
                              label_all_tokens=cfg.label_all_tokens, b_to_i=b_to_i):
            windows.append(w)
            langs.append(s.lang)
    lengths = [len(w.input_ids) for w in windows]
    log(f"encoded {len(train):,} sentences into {len(windows):,} windows in {time.perf_counter() - t_enc:.1f} s "
        f"(device {device}, {threads} threads)")
    dev_eval = stratified_sample(dev, cfg.eval_max_sentences, cfg.seed)
    model = _build_model(str(ckpt_dir / "model") if state else model_dir, labels, cfg, device)
    optimizer = _optimizer(model, cfg, device)
    forward = model
    if dist_ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(model, device_ids=[dist_ctx.local_rank] if device.startswith("cuda")
                                          else None)

    def rank_plan(epoch_idx: int) -> list[list[int]]:
        """This rank's batches of an epoch: every rank builds the same seeded plan and takes every
        world_size-th batch, cut to equal counts so that no rank waits for a missing all-reduce."""
        full = make_batches(epoch_order(langs, cfg.language_sampling_alpha, random.Random(cfg.seed + epoch_idx)),
                            lengths, cfg, random.Random(cfg.seed + 1000 + epoch_idx))
        if not dist_ctx.enabled:
            return full
        per_rank = max(1, len(full) // dist_ctx.world_size)
        return full[dist_ctx.rank::dist_ctx.world_size][:per_rank]

    # steps: batches per epoch from one epoch's plan
    steps_per_epoch = max(1, math.ceil(len(rank_plan(0)) / cfg.gradient_accumulation_steps))
    total_steps = cfg.max_steps if cfg.max_steps > 0 else max(1, math.ceil(steps_per_epoch * cfg.num_train_epochs))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    step = 0
    epoch = 0
    batch_pos = 0
    best_f1: float | None = None
    bad_evals = 0
    if state:
        optimizer.load_state_dict(torch.load(ckpt_dir / "optimizer.pt", map_location=device))
        scheduler.load_state_dict(torch.load(ckpt_dir / "scheduler.pt"))
        step, epoch, batch_pos = state["step"], state["epoch"], state["batch_pos"]
        best_f1, bad_evals = state.get("best_f1"), state.get("bad_evals", 0)
        log(f"resumed at step {step} (epoch {epoch}, batch {batch_pos})")
    eval_every = cfg.eval_steps or steps_per_epoch
    pad_id = tokenizer.pad_token_id or 0
    model.train()
    t_start = time.perf_counter()
    train_time = 0.0
    seen_windows = 0
    seen_real = 0
    seen_padded = 0
    last_dev: dict | None = None
    status = "FINISHED"
    loss_acc = 0.0
    micro = 0
    window_count = 0
    token_count = 0
    t_log = time.perf_counter()

    def save_checkpoint() -> None:
        if not dist_ctx.is_main:
            dist_ctx.barrier()
            return
        tmp = ckpt_dir.with_name(ckpt_dir.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        model.save_pretrained(tmp / "model")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        (tmp / "state.json").write_text(json.dumps({
            "step": step, "epoch": epoch, "batch_pos": batch_pos, "best_f1": best_f1, "bad_evals": bad_evals,
            "labels": labels}), encoding="utf-8")
        if ckpt_dir.exists():
            shutil.rmtree(ckpt_dir)
        os.replace(tmp, ckpt_dir)
        dist_ctx.barrier()

    def run_eval() -> bool:
        """Evaluate on dev; save the best model; return True when early stopping says stop."""
        nonlocal best_f1, bad_evals, last_dev
        if not dev_eval:
            return False
        res = evaluate_sentences(model, tokenizer, dev_eval, cfg, device)
        last_dev = res
        f1 = res["overall"]["f1"] or 0.0
        metrics = {"eval_f1": f1, "eval_precision": res["overall"]["precision"] or 0.0,
                   **({"eval_loss": res["loss"]} if res["loss"] is not None else {}),
                   "eval_recall": res["overall"]["recall"] or 0.0, "epoch": step / steps_per_epoch}
        for lang, sc in res["per_language"].items():
            if sc["f1"] is not None:
                metrics[f"eval_f1_{lang}"] = sc["f1"]
        if cb.on_metrics:
            cb.on_metrics(step, metrics)
        log(f"step {step}: dev F1 {f1:.4f} " + " ".join(f"{k[8:]}={v:.3f}" for k, v in metrics.items()
                                                        if k.startswith("eval_f1_")))
        if best_f1 is None or f1 > best_f1:
            best_f1 = f1
            bad_evals = 0
            save_model(model, tokenizer, str(out / MODEL_DIR), cfg, labels, {"best_dev_f1": f1, "step": step})
            return False
        bad_evals += 1
        return bool(cfg.early_stopping_patience and bad_evals >= cfg.early_stopping_patience)

    trainable = [p for p in model.parameters() if p.requires_grad]
    bf16 = use_bf16(cfg.precision, device)
    log(f"precision: {'bf16 autocast' if bf16 else 'fp32'}")
    done = step >= total_steps
    try:
        while not done:
            plan = rank_plan(epoch)
            while batch_pos < len(plan):
                if dist_ctx.any(bool(cb.should_stop and cb.should_stop())):
                    status = "STOPPED"
                    save_checkpoint()
                    log(f"stopped at step {step}; checkpoint saved")
                    done = True
                    break
                batch = [windows[i] for i in plan[batch_pos]]
                batch_pos += 1
                t0 = time.perf_counter()
                enc = collate(batch, pad_id)
                real = int(enc["attention_mask"].sum())  # counted on the CPU copy: no device sync
                padded = enc["input_ids"].numel()
                enc = {k: v.to(device, non_blocking=True) for k, v in enc.items()}
                with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
                    out_ = forward(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                   labels=enc["labels"])
                loss = out_.loss / cfg.gradient_accumulation_steps
                loss.backward()
                # summed on the device; read (and checked for NaN) only when logged, to avoid a sync per step
                loss_acc = loss.detach() + loss_acc
                micro += 1
                window_count += len(batch)
                token_count += real
                seen_windows += len(batch)
                seen_real += real
                seen_padded += padded
                if micro % cfg.gradient_accumulation_steps == 0 or batch_pos == len(plan):
                    grad_norm = 0.0
                    if cfg.max_grad_norm > 0:
                        grad_norm = torch.nn.utils.clip_grad_norm_(trainable, cfg.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    step += 1
                    train_time += time.perf_counter() - t0
                    if cb.on_progress:
                        cb.on_progress(step, total_steps)
                    if step % LOG_EVERY == 0 or step == total_steps:
                        now = time.perf_counter()
                        dt = max(now - t_log, 1e-9)
                        mean_loss = float(loss_acc) * cfg.gradient_accumulation_steps / max(micro, 1)
                        if not math.isfinite(mean_loss):
                            raise StudioError("E304", f"training loss became {mean_loss} by step {step}",
                                              fix=f"Lower learning_rate (now {cfg.learning_rate}), raise "
                                                  "warmup_ratio, or set precision to fp32.")
                        if cb.on_metrics:
                            cb.on_metrics(step, {"train_loss": mean_loss,
                                                 "learning_rate": scheduler.get_last_lr()[0],
                                                 "grad_norm": float(grad_norm), "sentences_per_s": window_count / dt,
                                                 "tokens_per_s": token_count / dt,
                                                 "epoch": step / steps_per_epoch})
                        loss_acc, micro, window_count, token_count, t_log = 0.0, 0, 0, 0, now
                    if step % eval_every == 0 or step >= total_steps:
                        stop_early = dist_ctx.any(run_eval() if dist_ctx.is_main else False)
                        save_checkpoint()
                        t_log = time.perf_counter()
                        if stop_early:
                            log(f"early stopping: no better dev F1 in {cfg.early_stopping_patience} evaluations")
                            done = True
                            break
                    if step >= total_steps:
                        done = True
                        break
                else:
                    train_time += time.perf_counter() - t0
            if not done:
                epoch += 1
                batch_pos = 0
    except RuntimeError as exc:
        from core.runs.worker import is_oom

        if is_oom(exc):
            raise StudioError("E303", f"out of memory at step {step} with batches of up to "
                              f"{cfg.per_device_train_batch_size} windows of {cfg.max_seq_length} subwords",
                              fix="Lower per_device_train_batch_size or tokens_per_batch (and raise "
                                  "gradient_accumulation_steps to keep the effective batch), or lower "
                                  "max_seq_length.") from exc
        raise
    if status == "FINISHED" and dist_ctx.is_main and (not dev_eval or not (out / MODEL_DIR).exists()):
        save_model(model, tokenizer, str(out / MODEL_DIR), cfg, labels, {"step": step})
    if dist_ctx.enabled:
        import torch.distributed as tdist

        tdist.barrier()
        tdist.destroy_process_group()
    wall = time.perf_counter() - t_start
    return FitResult(status=status, model_dir=str(out / MODEL_DIR), best_dev_f1=best_f1, steps=step,
                     train_seconds=wall, sentences_per_s=seen_windows / train_time if train_time else 0.0,
                     tokens_per_s=seen_real / train_time if train_time else 0.0,
                     padding_fraction=1 - seen_real / seen_padded if seen_padded else 0.0, dev=last_dev)


def checkpoint_step(checkpoint_dir: str) -> int | None:
    """Optimizer step of the checkpoint in ``checkpoint_dir``, or None when there is none."""
    state = Path(checkpoint_dir) / "state.json"
    if not state.exists():
        return None
    return int(json.loads(state.read_text(encoding="utf-8"))["step"])


def load_run_data(data: dict, cfg: TrainConfig, log: Callable[[str], None] = print) -> dict[str, list[Sentence]]:
    """Read a run's train/dev/test files into sentences; hold out dev from train when no dev is given.

    Args:
        data: ``{"train": [paths], "dev": [paths], "test": [paths], "lang": code|None, "format": name|None}``.

    Returns:
        ``{"train": [...], "dev": [...], "test": [...]}`` (dev/test may be empty).

    Raises:
        StudioError: E202 when no training sentence could be read; corpus errors are logged, not raised, so a
            run trains on the good part of its data.
    """
    from core.data.corpus import ReadOptions
    from core.kernel.errors import format_problems
    from core.data.loader import load_corpus

    out: dict[str, list[Sentence]] = {"train": [], "dev": [], "test": []}
    for split in out:
        paths = data.get(split) or []
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            continue
        opts = ReadOptions(format=data.get("format"), lang=data.get("lang"), split=split)
        corpus = load_corpus(paths, opts)
        if corpus.report.problems:
            log(f"{split}: {len(corpus.report.errors)} error(s), {len(corpus.report.warnings)} warning(s)\n"
                + format_problems(corpus.report.problems[:20]))
        limit = data.get(f"max_{split}_sentences")
        sents = corpus.sentences[: int(limit)] if limit else corpus.sentences
        out[split] = [s for s in sents if s.tokens]
    if not out["train"]:
        raise StudioError("E202", "no training sentences could be read", text=str(data.get("train")),
                          fix="Check the training file with `python -m core inspect`.")
    if not out["dev"]:
        out["train"], out["dev"] = hold_out_dev(out["train"], cfg.dev_fraction, cfg.seed)
        log(f"no dev set given: held out {len(out['dev']):,} of the training sentences as dev "
            f"(dev_fraction {cfg.dev_fraction})")
    return out


def write_predictions(path: str, sentences: Sequence[Sentence], preds) -> None:
    """JSON Lines of ``{tokens, ner_tags (gold, IOB2), gold_tags (as the corpus had them), scheme, pred_tags,
    scores, lang, source, line}`` per sentence."""
    from core.data.writers import _atomic_write

    lines = []
    for s, p in zip(sentences, preds):
        lines.append(json.dumps({"tokens": s.tokens, "ner_tags": s.ner_tags, "pred_tags": p.tags,
                                 "gold_tags": s.raw_tags or s.ner_tags, "scheme": s.scheme or "IOB2",
                                 "scores": [round(x, 4) for x in p.scores], "lang": s.lang,
                                 "source": s.source, "line": s.line_start}, ensure_ascii=False))
    _atomic_write(path, "\n".join(lines) + ("\n" if lines else ""))


def write_model_card(model_dir: str, cfg: TrainConfig, data: dict, splits: dict[str, list[Sentence]],
                     test: dict | None, best_dev_f1: float | None) -> None:
    """README.md model card: base model, data, languages, per-language test scores, settings."""
    from core.data.validate import corpus_stats

    lines = ["---", "library_name: transformers", "pipeline_tag: token-classification", "tags: [ner]", "---",
             "", "# NER model trained with Multilingual NER Studio", "",
             f"Base model: `{cfg.model_name_or_path}`.", ""]
    for split, sents in splits.items():
        if not sents:
            continue
        st = corpus_stats(sents)
        langs = ", ".join(f"{k} ({v})" for k, v in st["languages"].items())
        lines.append(f"- **{split}**: {st['n_sentences']:,} sentences, {st['n_entities']:,} entities; "
                     f"languages: {langs}; files: {', '.join(map(str, data.get(split) or ['held out from train']))}")
    from core.eval.metrics import DEFAULT_MODE

    lines += ["", f"Best dev entity F1 ({DEFAULT_MODE}): {best_dev_f1:.4f}" if best_dev_f1 is not None
              else "No dev evaluation.", ""]
    if test:
        lines += [f"## Test scores (entity level, {test.get('mode_label', DEFAULT_MODE)})", "", "| language | precision | recall | F1 | support |",
                  "|---|---:|---:|---:|---:|"]

        def cell(v):
            return "n/a" if v is None else f"{v:.4f}"

        for lang, sc in [("all", test["overall"])] + list(test["per_language"].items()):
            lines.append(f"| {lang} | {cell(sc['precision'])} | {cell(sc['recall'])} | {cell(sc['f1'])} | "
                         f"{sc['support']} |")
        lines.append("")
    lines += ["## Training settings", "", "```json", json.dumps(cfg.to_dict(), indent=2), "```", ""]
    Path(model_dir, "README.md").write_text("\n".join(lines), encoding="utf-8")


def run_config(run) -> TrainConfig:
    """The validated TrainConfig of a stored run (keys starting with ``_`` are the worker's, not the config's)."""
    return TrainConfig.from_dict({k: v for k, v in run.config.items() if not k.startswith("_")})


def store_callbacks(run, store, log: Callable[[str], None]) -> Callbacks:
    """Callbacks that report a run to the store: metric rows, the planned step count (once), stop requests."""
    planned = {"set": False}

    def on_progress(step: int, total: int) -> None:
        if not planned["set"]:
            store.update_run(run.run_id, total_steps=total)
            planned["set"] = True

    return Callbacks(on_metrics=lambda step, m: store.log_metrics(run.run_id, step, m), on_progress=on_progress,
                     should_stop=lambda: store.stop_requested(run.run_id), log=log)


def train_run(run, store, resume: bool = False) -> dict:
    """The worker's entry point: train ``run`` and report through ``store`` (see :mod:`core.runs.worker`).

    Metrics go to ``store.log_metrics`` (train_loss, learning_rate, grad_norm, sentences_per_s, tokens_per_s,
    eval_f1, eval_f1_<lang>, ...); a stop request is honoured at the next step boundary with a checkpoint; on
    resume, metric rows after the checkpoint's step are rewound so the curves continue without duplicates.
    At the end the best model predicts dev and test in full; predictions are stored as JSON Lines artifacts.

    Returns:
        ``{"status", "model_dir", "best_dev_f1", "summary"}`` where summary holds ``test`` and ``dev`` scores
        (``core.eval.metrics.summary`` shape, without confusion matrices), sizes, durations and warnings.
    """
    from core.model.predictor import Predictor
    from core.eval.metrics import evaluate, source_tags
    from core.eval.metrics import summary as score_summary

    cfg = run_config(run)
    run_dir = store.run_dir(run.run_id)
    ckpt = store.checkpoint_dir(run.run_id)

    def log(msg: str) -> None:
        print(msg, flush=True)

    t0 = time.perf_counter()
    splits = load_run_data(run.data, cfg, log)
    log(f"data: train {len(splits['train']):,}, dev {len(splits['dev']):,}, test {len(splits['test']):,} sentences")
    if resume:
        step = checkpoint_step(str(ckpt))
        if step is not None:
            store.rewind_metrics(run.run_id, step)
    cb = store_callbacks(run, store, log)
    n_procs = ddp_process_count(cfg)
    if n_procs > 1:
        result = _fit_distributed(run, n_procs, resume, log)
    else:
        result = fit(cfg, splits["train"], splits["dev"], str(run_dir), cb, resume=resume, checkpoint_dir=str(ckpt))
    if result.status == "STOPPED":
        return {"status": "STOPPED", "best_dev_f1": result.best_dev_f1}
    store.update_run(run.run_id, model_dir=result.model_dir)
    store.add_artifact(run.run_id, "model", result.model_dir)
    predictor = Predictor(result.model_dir, device=run.device or cfg.device)
    summary: dict = {"train_seconds": round(result.train_seconds, 1), "steps": result.steps,
                     "train_sentences_per_s": round(result.sentences_per_s, 2),
                     "n_train": len(splits["train"]), "n_dev": len(splits["dev"]), "n_test": len(splits["test"]),
                     "languages": sorted({s.lang for s in splits["train"]}), "warnings": []}
    scores: dict = {}
    for split in ("dev", "test"):
        sents = splits[split]
        if not sents:
            continue
        t1 = time.perf_counter()
        preds = predictor.predict_tokens([s.tokens for s in sents])
        path = str(run_dir / f"predictions_{split}.jsonl")
        write_predictions(path, sents, preds)
        store.add_artifact(run.run_id, f"predictions_{split}", path)
        gold, schemes = source_tags(sents)
        res = evaluate(gold, [p.tags for p in preds], [s.lang for s in sents], max_errors=0, scheme=schemes,
                       pred_scheme="IOB2")
        scores[split] = res
        summary[split] = score_summary(res, confusion=False)
        summary[f"{split}_predict_seconds"] = round(time.perf_counter() - t1, 2)
        if all(t == "O" for p in preds for t in p.tags) and any(t != "O" for s in sents for t in s.ner_tags):
            summary["warnings"].append(
                f"the model predicts only O on {split} (F1 0): training collapsed to the majority tag. Raise "
                f"learning_rate (now {cfg.learning_rate}) or num_train_epochs, or check that the training data "
                "has entities.")
        log(f"{split}: F1 {res['overall']['f1'] if res['overall']['f1'] is not None else float('nan'):.4f} " +
            " ".join(f"{k}={v['f1']:.3f}" for k, v in res["per_language"].items() if v["f1"] is not None))
    for w in summary["warnings"]:
        log("WARNING: " + w)
    write_model_card(result.model_dir, cfg, run.data, splits, scores.get("test"), result.best_dev_f1)
    summary["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return {"status": "FINISHED", "model_dir": result.model_dir, "best_dev_f1": result.best_dev_f1,
            "summary": summary}


def ddp_process_count(cfg: TrainConfig) -> int:
    """How many data-parallel processes a run uses: ``ddp_processes`` when set, else the number of visible GPUs
    when there are several and the device is ``auto``/``cuda``, else 1."""
    if cfg.ddp_processes:
        return cfg.ddp_processes
    if cfg.device not in ("auto", "cuda"):
        return 1
    import torch

    return torch.cuda.device_count() if torch.cuda.device_count() > 1 else 1


def _fit_distributed(run, n_procs: int, resume: bool, log: Callable[[str], None]) -> FitResult:
    """Run :func:`fit` in ``n_procs`` processes with ``torch.distributed.run`` (torchrun) and return rank 0's
    result. The worker process keeps its heartbeat and does the final evaluation itself afterwards.

    Raises:
        StudioError: E302 when the distributed job fails (its output is in the run log).
    """
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n_procs}",
           "-m", "core.train.distributed", run.run_id] + (["resume"] if resume else [])
    log(f"data-parallel training in {n_procs} processes: {' '.join(cmd[1:])}")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, check=False)
    from core.runs.store import RunStore

    result_file = RunStore().run_dir(run.run_id) / "fit_result.json"
    if proc.returncode != 0 or not result_file.exists():
        raise StudioError("E302", f"the distributed training job exited with status {proc.returncode}",
                          fix="See the run log for the failing rank's traceback.")
    data = json.loads(result_file.read_text(encoding="utf-8"))
    return FitResult(**data)
