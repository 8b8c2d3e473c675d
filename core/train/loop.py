"""Fine-tuning a multilingual encoder for token classification: fast, exact, resumable.

What differs from the Hugging Face ``run_ner.py`` recipe, and why (measured by ``bench/train_speed.py``):

* Batches are built from length-sorted windows under a subword budget (``tokens_per_batch``) instead of a fixed
  number of randomly mixed sentences, so almost no padding is computed; batch order is shuffled per epoch.
* The word-embedding matrix (83% of multilingual-e5-small's parameters) is frozen by default: the optimizer does
  a fraction of the work and the step is about 2x faster on CPU at the same F1 (docs/MODELS.md).
* AdamW runs torch's ``fused`` kernel (CPU and CUDA); padding is never labelled (``-100``), long sentences are
  windows, not truncations; the checkpoint kept is the best by dev entity F1 (seqeval strict IOB2), not by loss.
* Languages can be re-balanced with XLM-R's exponent (``language_sampling_alpha``).

The loop runs on Hugging Face ``accelerate`` (device placement, bf16 autocast, gradient accumulation, data
parallel under ``torchrun``/``accelerate launch`` with gloo on the CPU and nccl on GPUs, ``save_state`` /
``load_state`` checkpoints), as in transformers' ``run_ner_no_trainer.py``, rather than on ``transformers.Trainer``,
because the Trainer's sentence-count batching and its loss-based checkpoint choice are what this module replaces;
models, tokenizers, schedulers and ``save_pretrained`` folders are transformers' own.

:func:`fit` is store-free (benchmarks and tests call it); :func:`train_run` is the worker's entry point and
reports through :mod:`core.runs.store`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from core.data.corpus import Sentence
from core.data.splits import hold_out_dev
from core.kernel.config import TrainConfig
from core.kernel.constants import (EPOCH, EVAL_F1, EVAL_F1_LANG_PREFIX, EVAL_LOSS, EVAL_PRECISION, EVAL_RECALL,
                                   GRAD_NORM, LEARNING_RATE, SENTENCES_PER_S, TOKENS_PER_S, TRAIN_LOSS)
from core.kernel.devices import select_device
from core.kernel.errors import StudioError
from core.kernel.files import atomic_output, atomic_write
from core.model.device import use_bf16
from core.runs.checkpoints import STATE, damaged_error, inspect_checkpoints, rotate_in, write_manifest
from core.runs.worker import is_oom
from core.train.trackers import track_callbacks

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
        on_resume: ``(step, {"checkpoint", "step", "which", "damaged": [...]})`` once a checkpoint was loaded,
            before training goes on (the store rewinds metric rows after ``step``).
    """

    on_metrics: Callable[[int, dict], None] | None = None
    on_progress: Callable[[int, int], None] | None = None
    should_stop: Callable[[], bool] | None = None
    log: Callable[[str], None] | None = None
    on_resume: Callable[[int, dict], None] | None = None


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
        resumed_from: the checkpoint training continued from (see ``Callbacks.on_resume``), None for a fresh start.
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
    resumed_from: dict | None = None


def label_list_for(train: Sequence[Sentence], fixed: Sequence[str] | None = None) -> list[str]:
    """IOB2 label list: ``O`` then ``B-``/``I-`` per training type, sorted; ``fixed`` (from a checkpoint) wins."""
    if fixed:
        return list(fixed)
    from core.data.schemes import entity_types

    out = ["O"]
    for t in sorted(entity_types(s.ner_tags for s in train)):
        out += [f"B-{t}", f"I-{t}"]
    return out


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


def make_batches(order: Sequence[int], lengths: Sequence[int], cfg: TrainConfig, rng: random.Random,
                 langs: Sequence[str] | None = None) -> list[list[int]]:
    """Cut an epoch's window order into batches of similar length.

    The order is cut into pools of 64 batches' worth, each pool sorted by length and cut by
    ``per_device_train_batch_size`` and ``tokens_per_batch`` (padded subwords), then the batches are shuffled:
    little padding, and still random batches across the epoch. Given ``langs`` (the language of each window),
    every batch holds one language (each pool is cut per language): per-language adapters need that.
    """
    from core.model.predictor import batches_by_length

    pool_size = cfg.per_device_train_batch_size * 64
    batches: list[list[int]] = []
    for start in range(0, len(order), pool_size):
        chunk = list(order[start:start + pool_size])
        pools = [chunk] if langs is None else [[i for i in chunk if langs[i] == lang]
                                               for lang in sorted({langs[i] for i in chunk})]
        for pool in pools:
            for b in batches_by_length([lengths[i] for i in pool], cfg.per_device_train_batch_size,
                                       cfg.tokens_per_batch):
                batches.append([pool[j] for j in b])
    rng.shuffle(batches)
    return batches


def _set_seed(seed: int) -> None:
    from accelerate.utils import set_seed

    random.seed(seed)
    set_seed(seed)  # python, numpy, torch (and CUDA) generators


def _configure_threads(cfg: TrainConfig) -> int:
    import torch

    n = cfg.num_threads or max(1, (os.cpu_count() or 2))
    torch.set_num_threads(n)
    return n


def _accelerator(cfg: TrainConfig):
    """The run's :class:`accelerate.Accelerator`: device, bf16 autocast, gradient accumulation, processes.

    The device is :func:`core.kernel.devices.select_device`'s; under ``torchrun``/``accelerate launch`` each
    process takes its own GPU (nccl) or joins a gloo group on the CPU. bf16 follows
    :func:`core.model.device.use_bf16` (only where the hardware multiplies bf16 natively).
    """
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState

    device = select_device(cfg.device, torch.cuda.is_available)
    if device.startswith("cuda") and "LOCAL_RANK" not in os.environ:
        torch.cuda.set_device(device)  # one process: the GPU the worker claimed (accelerate uses the current one)
    bf16 = use_bf16(cfg.precision, device)
    if "LOCAL_RANK" not in os.environ and (AcceleratorState._shared_state or PartialState._shared_state):
        # A Trainer (or an earlier Accelerator) in this process left accelerate's process-wide state, which then
        # refuses another precision ("AcceleratorState has already been initialized and cannot be changed": a
        # notebook that ran a Hugging Face Trainer first, bench/train_speed.py's second seed) and would keep its
        # device (a GPU where this run asked for the CPU). Outside a launcher that state holds no process group,
        # so it is reset whole, as :meth:`_Fit.close` does after every run; an object still holding the old
        # Accelerator sees the new settings. Under torchrun/accelerate launch (LOCAL_RANK set) it is left alone:
        # each process there runs one fit.
        AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(cpu=device == "cpu", mixed_precision="bf16" if bf16 else "no",
                       gradient_accumulation_steps=cfg.gradient_accumulation_steps,
                       step_scheduler_with_optimizer=False)


def _build_model(model_dir: str, labels: list[str], cfg: TrainConfig, routes: dict[str, str] | None, device: str,
                 log: Callable[[str], None] | None = None):
    from transformers import AutoModelForTokenClassification

    id2label = dict(enumerate(labels))
    label2id = {v: k for k, v in id2label.items()}
    model = AutoModelForTokenClassification.from_pretrained(
        model_dir, num_labels=len(labels), id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True)
    if cfg.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if routes is not None:
        from core.train.adapters import add_language_adapters

        model = add_language_adapters(model, cfg, routes)
    elif cfg.lora:
        from peft import LoraConfig, TaskType, get_peft_model

        lcfg = LoraConfig(task_type=TaskType.TOKEN_CLS, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                          lora_dropout=cfg.lora_dropout, target_modules=["query", "key", "value"])
        model = get_peft_model(model, lcfg)
    apply_cpu_dropout(model, cfg, device, log)  # after peft: its lora_dropout layers are swapped too
    return model


def apply_cpu_dropout(model, cfg: TrainConfig, device: str, log: Callable[[str], None] | None) -> None:
    """:func:`core.model.dropout.use_cpu_dropout` when ``cfg.cpu_dropout`` and the run trains on the CPU; what
    changed goes to ``log``. Fine-tuning and pre-training both call it."""
    if not (cfg.cpu_dropout and device == "cpu"):
        return
    from core.model.dropout import use_cpu_dropout

    changed = use_cpu_dropout(model)
    if log and changed:
        log("CPU dropout (core.model.dropout): " + ", ".join(changed))


def _optimizer(model, cfg: TrainConfig):
    """AdamW over every trainable weight: the encoder at ``learning_rate``, the classifier head at
    ``learning_rate * classifier_lr_multiplier``, LoRA weights at ``learning_rate * adapter_lr_multiplier``, no
    weight decay on biases / LayerNorm; torch's ``fused`` kernel on every device (on 2 CPU cores with
    multilingual-e5-small's 21 M trainable weights: 24 ms a step against 67 ms for ``foreach``; the Trainer's
    default since torch 2.8, ``optim="adamw_torch_fused"``)."""
    import torch

    from core.train.adapters import is_head_parameter

    groups_by_key: dict[tuple[str, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        kind = "head" if is_head_parameter(name) else ("lora" if "lora_" in name else "encoder")
        no_wd = p.ndim < 2 or "LayerNorm" in name or name.endswith(".bias")
        groups_by_key.setdefault((kind, no_wd), []).append(p)
    factor = {"head": cfg.classifier_lr_multiplier, "lora": cfg.adapter_lr_multiplier, "encoder": 1.0}
    # the groups' order is part of a checkpoint (AdamW state by position): encoder, LoRA, head, as before the
    # LoRA group had its own rate, so checkpoints of earlier runs still load
    ORDER = {"encoder": 0, "lora": 1, "head": 2}
    groups = [{"params": params, "weight_decay": 0.0 if no_wd else cfg.weight_decay,
               "lr": cfg.learning_rate * factor[kind]}
              for (kind, no_wd), params in sorted(groups_by_key.items(), key=lambda kv: (ORDER[kv[0][0]], kv[0][1]))]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, fused=True)


def load_checkpoint(acc, path: str, optimizer) -> None:
    """``accelerator.load_state(path)``, then the fused AdamW kernel again: ``load_state_dict`` restores each
    parameter group's options as saved, so a checkpoint written by an earlier ``foreach`` optimizer would
    otherwise resume on ``foreach`` (torch behaviour; the state tensors are the same for both)."""
    acc.load_state(path)
    for group in optimizer.param_groups:
        group["fused"], group["foreach"] = True, None


def save_model(model, tokenizer, out_dir: str, cfg: TrainConfig, labels: list[str], extra: dict | None = None) -> None:
    """Write a transformers model folder (config with id2label/label2id, tokenizer, safetensors) atomically,
    plus ``ner_studio.json`` (window settings and label list) for prediction."""
    with atomic_output(out_dir, folder=True) as tmp:
        if (extra or {}).get("adapters"):  # per-language adapters: the base model plus adapters/<name>/
            from core.train.adapters import save_adapter_model

            save_adapter_model(model, tmp)
        else:
            to_save = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
            to_save.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        meta = {"max_seq_length": cfg.max_seq_length, "stride": cfg.stride, "label_list": labels,
                "base_model": cfg.model_name_or_path, **(extra or {})}
        (tmp / "ner_studio.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")


def evaluate_sentences(model, tokenizer, sentences: Sequence[Sentence], cfg: TrainConfig, device: str,
                       adapters: dict | None = None) -> dict:
    """Entity scores of ``model`` on gold ``sentences`` (``core.eval.metrics.evaluate`` shape) plus ``predictions``
    and ``loss`` (mean cross-entropy of the labelled first subwords, as in training; labels unknown to the model
    count as ``O``). ``adapters``: routing of a per-language-adapter model (each sentence by its ``lang``)."""
    from core.eval.metrics import evaluate, source_tags
    from core.model.predictor import Predictor

    pred = Predictor("", device=device, max_seq_length=cfg.max_seq_length, stride=cfg.stride,
                     model=model, tokenizer=tokenizer, precision=cfg.precision, adapters=adapters or {})
    label2id = {v: k for k, v in pred.id2label.items()}
    gold_ids = [[label2id.get(t, 0) for t in s.ner_tags] for s in sentences]
    preds, loss = pred.predict_with_loss([s.tokens for s in sentences], gold_ids, langs=[s.lang for s in sentences])
    model.train()
    gold, schemes = source_tags(sentences)
    res = evaluate(gold, [p.tags for p in preds], [s.lang for s in sentences], tokens=[s.tokens for s in sentences],
                   max_errors=0, scheme=schemes, pred_scheme="IOB2")
    res["predictions"] = preds
    res["loss"] = loss
    return res


@dataclass
class _Progress:
    """Where training stands; saved as ``state.json`` in each checkpoint (with the label list)."""

    step: int = 0
    epoch: int = 0
    batch_pos: int = 0  # batches of this process's plan of ``epoch`` already trained
    best_f1: float | None = None
    bad_evals: int = 0


@dataclass
class _Meter:
    """Counters of the training-speed figures: since the last log row, and over the whole fit."""

    loss_acc: object = 0.0  # a device tensor once training starts: read only when logged (no per-step sync)
    micro: int = 0
    windows: int = 0
    tokens: int = 0
    t_log: float = 0.0
    seen_windows: int = 0
    seen_real: int = 0
    seen_padded: int = 0
    train_time: float = 0.0


class _Fit:
    """One call of :func:`fit`: the state and the named steps its loop is made of."""

    def __init__(self, cfg: TrainConfig, train: Sequence[Sentence], dev: Sequence[Sentence], out_dir: str,
                 callbacks: Callbacks | None, resume: bool, checkpoint_dir: str | None) -> None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-shard bars would flood the run log
        if not train:
            raise StudioError("E202", "no training sentences", fix="Give a training file with annotated sentences.")
        self.cfg, self.train, self.dev = cfg, train, dev
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else self.out / CHECKPOINT_DIR
        self.found = inspect_checkpoints(self.ckpt_dir) if resume else []
        sound = [c for c in self.found if not c.problem]
        if self.found and not sound:
            raise damaged_error(self.found, self.out / MODEL_DIR)
        state = _read_state(sound[0].path) if sound else {}
        _set_seed(cfg.seed)
        self.acc = _accelerator(cfg)
        # accelerate names a CPU process's device "cpu:<rank>" in multi-process runs; the studio's one device rule
        # (core.kernel.devices) knows "cpu" and "cuda:<k>"
        self.device = "cpu" if self.acc.device.type == "cpu" else str(self.acc.device)
        threads = _configure_threads(cfg)
        cb = callbacks or Callbacks()
        self.cb = cb if self.acc.is_main_process else Callbacks()  # the main process reports, evaluates, saves
        self.log = self.cb.log or (lambda msg: None)
        self.labels = label_list_for(train, state.get("labels"))
        self._encode(threads)
        self.dev_eval = stratified_sample(dev, cfg.eval_max_sentences, cfg.seed)
        self._prepare()
        self.p = _Progress()
        self.resumed_from = self.load_checkpoint() if self.found else None
        self.m = _Meter(t_log=time.perf_counter())
        self.last_dev: dict | None = None
        self.status = "FINISHED"

    # ------------------------------------------------------------------ set-up steps

    def _encode(self, threads: int) -> None:
        """Tokenize every training sentence into windows (``encode_words``) with their lengths and languages."""
        from core.model.alignment import encode_words
        from core.model.hub import resolve_model
        from core.model.tokenization import load_tokenizer

        cfg = self.cfg
        self.base_dir = resolve_model(cfg.model_name_or_path)
        self.tokenizer = load_tokenizer(self.base_dir)
        label2id = {t: i for i, t in enumerate(self.labels)}
        b_to_i = {label2id[t]: label2id["I-" + t[2:]] for t in self.labels
                  if t.startswith("B-") and "I-" + t[2:] in label2id}
        t0 = time.perf_counter()
        self.windows, self.langs = [], []
        for s in self.train:
            ids = [label2id.get(t, 0) for t in s.ner_tags]
            for w in encode_words(self.tokenizer, s.tokens, cfg.max_seq_length, cfg.stride, labels=ids,
                                  label_all_tokens=cfg.label_all_tokens, b_to_i=b_to_i):
                self.windows.append(w)
                self.langs.append(s.lang)
        self.lengths = [len(w.input_ids) for w in self.windows]
        self.log(f"encoded {len(self.train):,} sentences into {len(self.windows):,} windows in "
                 f"{time.perf_counter() - t0:.1f} s (device {self.device}, {threads} threads, "
                 f"{self.acc.num_processes} process(es))")

    def _prepare(self) -> None:
        """Model, AdamW and the linear schedule, placed and wrapped by accelerate (DDP across processes)."""
        from transformers import get_linear_schedule_with_warmup

        cfg = self.cfg
        self.routes = None
        if cfg.adapters == "per_language":
            from core.train.adapters import adapter_routes, routing_meta

            self.routes = adapter_routes(cfg, self.langs)
            self.log("adapters: shared + " + ", ".join(f"{k}->{v}" for k, v in self.routes.items()))
        model = _build_model(self.base_dir, self.labels, cfg, self.routes, self.device, self.log)
        # from_pretrained returns the model in eval mode: without this, dropout stayed off until the first dev
        # evaluation switched it on (evaluate_sentences ends with model.train())
        model.train()
        self.model, self.optimizer = self.acc.prepare(model, _optimizer(model, cfg))
        self.raw_model = self.acc.unwrap_model(self.model)
        self.router, self.adapter_meta = None, None
        if self.routes is not None:
            from core.train.adapters import AdapterRouter

            self.router, self.adapter_meta = AdapterRouter(self.raw_model, self.routes), routing_meta(self.routes)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.steps_per_epoch = max(1, math.ceil(len(self.plan(0)) / cfg.gradient_accumulation_steps))
        self.total_steps = cfg.max_steps if cfg.max_steps > 0 else max(
            1, math.ceil(self.steps_per_epoch * cfg.num_train_epochs))
        # Not acc.prepare'd: accelerate would step it once per process; our step count is already per process.
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer.optimizer, int(cfg.warmup_ratio *
                                                         self.total_steps), self.total_steps)
        self.acc.register_for_checkpointing(self.scheduler)
        self.eval_every = cfg.eval_steps or self.steps_per_epoch
        self.pad_id = self.tokenizer.pad_token_id or 0
        self.log(f"precision: {'bf16 autocast' if self.acc.mixed_precision == 'bf16' else 'fp32'}")

    # ------------------------------------------------------------------ loop steps

    def plan(self, epoch: int) -> list[list[int]]:
        """This process's batches of ``epoch``: every process builds the same seeded plan of length-bucketed,
        token-budget batches and takes every ``num_processes``-th, cut to equal counts (no rank waits for a
        missing all-reduce)."""
        cfg, n, rank = self.cfg, self.acc.num_processes, self.acc.process_index
        full = make_batches(epoch_order(self.langs, cfg.language_sampling_alpha, random.Random(cfg.seed + epoch)),
                            self.lengths, cfg, random.Random(cfg.seed + 1000 + epoch),
                            langs=self.langs if self.router else None)
        return full if n == 1 else full[rank::n][:max(1, len(full) // n)]

    def any_process(self, flag: bool) -> bool:
        """True on every process when ``flag`` is True on one (accelerate's trigger; no collective alone)."""
        if self.acc.num_processes == 1:
            return flag
        if flag:
            self.acc.set_trigger()
        return self.acc.check_trigger()

    def train_batch(self, batch: list[int], sync: bool) -> None:
        """Forward and backward of one batch; the gradients are all-reduced only when ``sync`` (the last batch
        of an accumulation group). ``accelerator.backward`` divides the loss by gradient_accumulation_steps."""
        import torch

        from core.model.alignment import collate

        t0 = time.perf_counter()
        if self.router:  # single-language batch: train its language's adapter (see core.train.adapters)
            self.router.activate(self.router.adapter_for(self.langs[batch[0]], self.p.batch_pos))
        enc = collate([self.windows[i] for i in batch], self.pad_id)
        real = int(enc["attention_mask"].sum())  # counted on the CPU copy: no device sync
        padded = enc["input_ids"].numel()
        enc = {k: v.to(self.acc.device, non_blocking=True) for k, v in enc.items()}
        with contextlib.nullcontext() if sync else self.acc.no_sync(self.model):
            loss = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                              labels=enc["labels"]).loss
            self.acc.backward(loss)
        m = self.m
        m.loss_acc = loss.detach() + m.loss_acc  # summed on the device; read only when logged
        m.micro += 1
        m.windows += len(batch)
        m.tokens += real
        m.seen_windows += len(batch)
        m.seen_real += real
        m.seen_padded += padded
        self.grad_norm = (self.acc.clip_grad_norm_(self.trainable, self.cfg.max_grad_norm)
                          if sync and self.cfg.max_grad_norm > 0 else torch.zeros(()))
        if sync:
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.p.step += 1
        m.train_time += time.perf_counter() - t0

    def log_train(self) -> None:
        """A train-loss / learning-rate / speed metric row; raises E304 when the loss is not finite."""
        m, step = self.m, self.p.step
        now = time.perf_counter()
        dt = max(now - m.t_log, 1e-9)
        mean_loss = float(m.loss_acc) / max(m.micro, 1)  # the device sync happens here, every LOG_EVERY steps
        if not math.isfinite(mean_loss):
            raise StudioError("E304", f"training loss became {mean_loss} by step {step}",
                              fix=f"Lower learning_rate (now {self.cfg.learning_rate}), raise "
                                  "warmup_ratio, or set precision to fp32.")
        if self.cb.on_metrics:
            self.cb.on_metrics(step, {TRAIN_LOSS: mean_loss, LEARNING_RATE: self.scheduler.get_last_lr()[0],
                                      GRAD_NORM: float(self.grad_norm), SENTENCES_PER_S: m.windows / dt,
                                      TOKENS_PER_S: m.tokens / dt, EPOCH: step / self.steps_per_epoch})
        m.loss_acc, m.micro, m.windows, m.tokens, m.t_log = 0.0, 0, 0, 0, now

    def evaluate(self) -> bool:
        """Score dev (main process), keep the best model by entity F1; True when early stopping says stop."""
        p, cfg = self.p, self.cfg
        stop = False
        if self.acc.is_main_process and self.dev_eval:
            res = evaluate_sentences(self.raw_model, self.tokenizer, self.dev_eval, cfg, self.device,
                                     self.adapter_meta)
            self.last_dev = res
            f1 = res["overall"]["f1"] or 0.0
            metrics = {EVAL_F1: f1, EVAL_PRECISION: res["overall"]["precision"] or 0.0,
                       EVAL_RECALL: res["overall"]["recall"] or 0.0, EPOCH: p.step / self.steps_per_epoch,
                       **({EVAL_LOSS: res["loss"]} if res["loss"] is not None else {})}
            metrics.update({EVAL_F1_LANG_PREFIX + lang: sc["f1"] for lang, sc in res["per_language"].items()
                            if sc["f1"] is not None})
            if self.cb.on_metrics:
                self.cb.on_metrics(p.step, metrics)
            self.log(f"step {p.step}: dev F1 {f1:.4f} " + " ".join(
                f"{k[len(EVAL_F1_LANG_PREFIX):]}={v:.3f}" for k, v in metrics.items()
                if k.startswith(EVAL_F1_LANG_PREFIX)))
            if p.best_f1 is None or f1 > p.best_f1:
                p.best_f1, p.bad_evals = f1, 0
                save_model(self.raw_model, self.tokenizer, str(self.out / MODEL_DIR), cfg, self.labels,
                           {"best_dev_f1": f1, "step": p.step, **self._adapter_extra()})
            else:
                p.bad_evals += 1
                stop = bool(cfg.early_stopping_patience and p.bad_evals >= cfg.early_stopping_patience)
        return self.any_process(stop)

    def save_checkpoint(self) -> None:
        """``accelerator.save_state`` (weights, AdamW, schedule, RNG of every process) plus ``state.json`` into a
        temporary folder, then ``manifest.json`` (size and SHA-256 of every file, synced to disk) written last,
        then renamed in as the newest checkpoint; the one it replaces is kept as ``<name>.prev``
        (:func:`core.runs.checkpoints.rotate_in`): a kill or a full disk never leaves half of one, and a
        checkpoint damaged later still has the previous one behind it."""
        tmp = self.ckpt_dir.with_name(self.ckpt_dir.name + ".tmp")
        if self.acc.is_main_process and tmp.exists():
            shutil.rmtree(tmp)
        self.acc.wait_for_everyone()
        self.acc.save_state(str(tmp))
        self.acc.wait_for_everyone()
        if self.acc.is_main_process:
            (tmp / STATE).write_text(json.dumps({**dataclasses.asdict(self.p), "labels": self.labels}),
                                     encoding="utf-8")
            write_manifest(tmp)
            rotate_in(tmp, self.ckpt_dir)
        self.acc.wait_for_everyone()

    def load_checkpoint(self) -> dict:
        """Load the newest sound checkpoint of :attr:`found` (verified against its manifest) with
        ``accelerator.load_state``; one that fails to verify or to load is marked damaged and the previous
        one is tried, with a warning in the log. Sets the progress from its ``state.json``.

        Returns:
            ``{"checkpoint", "step", "which", "damaged": [{"path", "step", "problem", ...}]}``.

        Raises:
            RunError: ``E324`` naming every checkpoint folder when none could be loaded.
        """
        for info in self.found:
            if info.problem:
                continue
            try:
                state = _read_state(info.path)
                load_checkpoint(self.acc, str(info.path), self.optimizer)
            except Exception as exc:  # noqa: BLE001 - recorded as the checkpoint's damage, then the next one tried
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                info.problem = f"accelerate could not load it ({type(exc).__name__}: {first})"
                info.verified = False
                continue
            self.p = _Progress(**{k: state[k] for k in ("step", "epoch", "batch_pos", "best_f1", "bad_evals")
                                  if k in state})
            damaged = [c.to_dict() for c in self.found if c.problem]
            for c in damaged:
                self.log(f"WARNING: [E324] the {c['which']} checkpoint {c['path']} is damaged ({c['problem']}): "
                         f"resuming from the {info.which} checkpoint {info.path} (step {self.p.step}) instead")
            self.log(f"resumed at step {self.p.step} (epoch {self.p.epoch}, batch {self.p.batch_pos}) from the "
                     f"{info.which} checkpoint {info.path}")
            out = {"checkpoint": str(info.path), "step": self.p.step, "which": info.which, "damaged": damaged}
            if self.cb.on_resume:
                self.cb.on_resume(self.p.step, out)
            return out
        raise damaged_error(self.found, self.out / MODEL_DIR)

    def after_step(self) -> bool:
        """Progress, metric row, evaluation and checkpoint after an optimizer step; True when training is over."""
        p = self.p
        if self.cb.on_progress:
            self.cb.on_progress(p.step, self.total_steps)
        if p.step % LOG_EVERY == 0 or p.step >= self.total_steps:
            self.log_train()
        if p.step % self.eval_every == 0 or p.step >= self.total_steps:
            stop_early = self.evaluate()
            self.save_checkpoint()
            self.m.t_log = time.perf_counter()
            if stop_early:
                self.log(f"early stopping: no better dev F1 in {self.cfg.early_stopping_patience} evaluations")
                return True
        return p.step >= self.total_steps

    def stop_requested(self) -> bool:
        """A stop request (any process's), honoured at this step boundary with a checkpoint."""
        if not self.any_process(bool(self.cb.should_stop and self.cb.should_stop())):
            return False
        self.status = "STOPPED"
        self.save_checkpoint()
        self.log(f"stopped at step {self.p.step}; checkpoint saved")
        return True

    def run_epoch(self) -> bool:
        """Train the rest of the current epoch; True when training is over (done, stopped or stopped early)."""
        p, gas = self.p, self.cfg.gradient_accumulation_steps
        plan = self.plan(p.epoch)
        while p.batch_pos < len(plan):
            if self.stop_requested():
                return True
            p.batch_pos += 1
            sync = (self.m.micro + 1) % gas == 0 or p.batch_pos == len(plan)
            self.train_batch(plan[p.batch_pos - 1], sync)
            if sync and self.after_step():
                return True
        p.epoch, p.batch_pos = p.epoch + 1, 0
        return False

    def finish(self, t_start: float) -> FitResult:
        """Save the last model when no dev evaluation saved one; end the process group; the figures."""
        if self.status == "FINISHED" and self.acc.is_main_process and (
                not self.dev_eval or not (self.out / MODEL_DIR).exists()):
            save_model(self.raw_model, self.tokenizer, str(self.out / MODEL_DIR), self.cfg, self.labels,
                       {"step": self.p.step, **self._adapter_extra()})
        self.acc.wait_for_everyone()
        m = self.m
        return FitResult(status=self.status, model_dir=str(self.out / MODEL_DIR), best_dev_f1=self.p.best_f1,
                         steps=self.p.step, train_seconds=time.perf_counter() - t_start,
                         sentences_per_s=m.seen_windows / m.train_time if m.train_time else 0.0,
                         tokens_per_s=m.seen_real / m.train_time if m.train_time else 0.0,
                         padding_fraction=1 - m.seen_real / m.seen_padded if m.seen_padded else 0.0,
                         dev=self.last_dev, resumed_from=self.resumed_from)

    def _adapter_extra(self) -> dict:
        """``{"adapters": routing}`` for ``ner_studio.json`` of a per-language-adapter model, else ``{}``."""
        return {"adapters": self.adapter_meta} if self.adapter_meta else {}

    def close(self) -> None:
        """End accelerate's state (and process group) so the next :func:`fit` in this process starts afresh."""
        from accelerate.state import AcceleratorState

        self.acc.end_training()
        AcceleratorState._reset_state(reset_partial_state=True)  # accelerate's own reset between runs


def fit(cfg: TrainConfig, train: Sequence[Sentence], dev: Sequence[Sentence], out_dir: str,
        callbacks: Callbacks | None = None, resume: bool = False, checkpoint_dir: str | None = None) -> FitResult:
    """Fine-tune ``cfg.model_name_or_path`` on ``train``; keep the best model by dev F1 in ``out_dir/model``.

    Runs in one process, or in each process of ``torchrun``/``accelerate launch`` (data parallel: the main
    process reports, evaluates and saves).

    Args:
        cfg: the training configuration (validated).
        train: training sentences (IOB2).
        dev: dev sentences (may be empty: then the last model is kept).
        out_dir: run folder; ``model/`` receives the best model, ``checkpoint/`` the resumable state.
        callbacks: progress, metrics and stop hooks (called on the main process only).
        resume: continue from the checkpoint (same curves: steps continue where they stopped).
        checkpoint_dir: where the resumable state lives (default ``out_dir/checkpoint``).

    Returns:
        :class:`FitResult`.

    Raises:
        StudioError: E303 out of memory (what to lower), E304 loss is NaN/inf (what to change), E202 when there
            is nothing to train on, E324 when ``resume`` finds checkpoints but none is sound (each is named).
    """
    run = _Fit(cfg, train, dev, out_dir, callbacks, resume, checkpoint_dir)
    t_start = time.perf_counter()
    try:
        done = run.p.step >= run.total_steps
        while not done:
            done = run.run_epoch()
        return run.finish(t_start)
    except RuntimeError as exc:
        if is_oom(exc):
            raise StudioError("E303", f"out of memory at step {run.p.step} with batches of up to "
                              f"{cfg.per_device_train_batch_size} windows of {cfg.max_seq_length} subwords",
                              fix="Lower per_device_train_batch_size or tokens_per_batch (and raise "
                                  "gradient_accumulation_steps to keep the effective batch), or lower "
                                  "max_seq_length.") from exc
        raise
    finally:
        run.close()



def _read_state(folder: Path) -> dict:
    """A checkpoint's ``state.json`` (progress and label list)."""
    return json.loads((Path(folder) / STATE).read_text(encoding="utf-8"))


def checkpoint_step(checkpoint_dir: str) -> int | None:
    """Optimizer step of the newest sound checkpoint in ``checkpoint_dir`` (or its ``.prev``), or None when
    there is none (sizes checked, not hashes)."""
    sound = [c for c in inspect_checkpoints(checkpoint_dir, hashes=False) if not c.problem]
    return sound[0].step if sound else None


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
    lines = []
    for s, p in zip(sentences, preds):
        lines.append(json.dumps({"tokens": s.tokens, "ner_tags": s.ner_tags, "pred_tags": p.tags,
                                 "gold_tags": s.raw_tags or s.ner_tags, "scheme": s.scheme or "IOB2",
                                 "scores": [round(x, 4) for x in p.scores], "lang": s.lang,
                                 "source": s.source, "line": s.line_start}, ensure_ascii=False))
    atomic_write(path, "\n".join(lines) + ("\n" if lines else ""))


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
    left_out = (data.get("left_out") or {}).get("n_sentences") or 0
    if left_out:
        listed = (data.get("left_out") or {}).get("sentences") or []
        lines.append(f"- **left out**: {left_out:,} sentence(s) with errors were not trained on"
                     + (f" (first: {', '.join(x['where'] for x in listed[:5])})" if listed else ""))
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


#: The config field whose absence marks a run recorded before LoRA weights had their own learning rate (and before
#: per-language adapters trained the encoder too).
LORA_RATE_FIELD = "adapter_lr_multiplier"


def run_config(run) -> TrainConfig:
    """The TrainConfig of a stored run, on the device its worker claimed (``run.device``).

    The config was validated once, when the run was created (``RunStore.create_run`` takes a TrainConfig), so it
    is rebuilt here without a second validation. A run recorded before :data:`LORA_RATE_FIELD` existed keeps
    ``adapter_lr_multiplier`` 1 (its LoRA weights trained at ``learning_rate``).
    """
    cfg = TrainConfig(**run.config)
    if LORA_RATE_FIELD not in run.config:
        # recorded before LoRA weights had their own rate: they trained at learning_rate, and a resume keeps that
        cfg = dataclasses.replace(cfg, adapter_lr_multiplier=1.0)
    if run.device and ddp_process_count(cfg) == 1:
        cfg = dataclasses.replace(cfg, device=run.device)
    return cfg


def store_callbacks(run, store, log: Callable[[str], None]) -> Callbacks:
    """Callbacks that report a run to the store: metric rows, the planned step count (once), stop requests, and
    on resume the checkpoint used (metric rows after its step rewound; ``summary["resumed_from"]``, with a
    warning per damaged checkpoint passed over)."""
    planned = {"set": False}

    def on_resume(step: int, info: dict) -> None:
        store.rewind_metrics(run.run_id, step)
        store.update_run(run.run_id, summary={"resumed_from": info, "warnings": resume_warnings(info)})

    def on_progress(step: int, total: int) -> None:
        if not planned["set"]:
            store.update_run(run.run_id, total_steps=total)
            planned["set"] = True

    return Callbacks(on_metrics=lambda step, m: store.log_metrics(run.run_id, step, m), on_progress=on_progress,
                     should_stop=lambda: store.stop_requested(run.run_id), log=log, on_resume=on_resume)


def resume_warnings(info: dict | None) -> list[str]:
    """One warning per damaged checkpoint a resume passed over (``FitResult.resumed_from`` shape)."""
    if not info:
        return []
    return [f"[E324] the {d['which']} checkpoint {d['path']} was damaged ({d['problem']}): resumed from the "
            f"{info['which']} checkpoint {info['checkpoint']} at step {info['step']}" for d in info.get("damaged", [])]


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
    if resume and cfg.adapters == "per_language" and LORA_RATE_FIELD not in run.config:
        raise StudioError("E325", "this per-language-adapter run was started by an earlier version, whose adapters "
                          "trained on a frozen encoder; its checkpoint cannot continue now that the encoder trains "
                          "too", fix="Start a new run with the same settings; the model folder it saved so far "
                                     "still predicts and scores.")
    run_dir = store.run_dir(run.run_id)
    ckpt = store.checkpoint_dir(run.run_id)

    def log(msg: str) -> None:
        print(msg, flush=True)

    t0 = time.perf_counter()
    splits = load_run_data(run.data, cfg, log)
    log(f"data: train {len(splits['train']):,}, dev {len(splits['dev']):,}, test {len(splits['test']):,} sentences")
    cb = store_callbacks(run, store, log)
    cb = track_callbacks(cb, cfg.report_to, str(run_dir / "trackers"), run.name, cfg.to_dict())
    n_procs = ddp_process_count(cfg)
    if n_procs > 1:
        result = _fit_distributed(run, store, n_procs, resume, log)
    else:
        result = fit(cfg, splits["train"], splits["dev"], str(run_dir), cb, resume=resume, checkpoint_dir=str(ckpt))
    resumed = {"resumed_from": result.resumed_from} if result.resumed_from else {}
    if result.status == "STOPPED":
        return {"status": "STOPPED", "best_dev_f1": result.best_dev_f1,
                "summary": {**resumed, "warnings": resume_warnings(result.resumed_from)}}
    store.update_run(run.run_id, model_dir=result.model_dir)
    store.add_artifact(run.run_id, "model", result.model_dir)
    predictor = Predictor(result.model_dir, device=cfg.device)
    summary: dict = {"train_seconds": round(result.train_seconds, 1), "steps": result.steps,
                     "train_sentences_per_s": round(result.sentences_per_s, 2),
                     "n_train": len(splits["train"]), "n_dev": len(splits["dev"]), "n_test": len(splits["test"]),
                     "languages": sorted({s.lang for s in splits["train"]}),
                     "warnings": resume_warnings(result.resumed_from), **resumed}
    if predictor.adapters:
        summary["adapters"] = sorted(predictor.adapters["routes"])  # the languages with their own adapter
        summary["adapter_routes"] = dict(predictor.adapters["routes"])
    scores: dict = {}
    for split in ("dev", "test"):
        sents = splits[split]
        if not sents:
            continue
        t1 = time.perf_counter()
        preds = predictor.predict_tokens([s.tokens for s in sents], langs=[s.lang for s in sents])
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
    when there are several and the device is ``auto``, else 1."""
    if cfg.ddp_processes:
        return cfg.ddp_processes
    if cfg.device != "auto":
        return 1
    import torch

    return torch.cuda.device_count() if torch.cuda.device_count() > 1 else 1


def _fit_distributed(run, store, n_procs: int, resume: bool, log: Callable[[str], None]) -> FitResult:
    """Run :func:`fit` in ``n_procs`` processes launched by torchrun (``torch.distributed.run``; accelerate's
    ``Accelerator`` in each process joins the group it sets up: gloo on the CPU, nccl on GPUs) and return the
    main process's result. The worker process keeps its heartbeat and does the final evaluation itself afterwards.

    Raises:
        StudioError: E302 when the distributed job fails (its output is in the run log).
    """
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n_procs}",
           "-m", "core.train.distributed", run.run_id] + (["resume"] if resume else [])
    log(f"data-parallel training in {n_procs} processes: {' '.join(cmd[1:])}")
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, check=False)
    result_file = store.run_dir(run.run_id) / "fit_result.json"
    if proc.returncode != 0 or not result_file.exists():
        raise StudioError("E302", f"the distributed training job exited with status {proc.returncode}",
                          fix="See the run log for the failing rank's traceback.")
    data = json.loads(result_file.read_text(encoding="utf-8"))
    return FitResult(**data)
