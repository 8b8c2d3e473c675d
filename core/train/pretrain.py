"""Continued pre-training: masked-LM training of an encoder on raw text of the target languages.

The "multilingual pre-training" step of adaptation, done as domain/language-adaptive pre-training (Gururangan et
al. 2020, "Don't Stop Pretraining"): the encoder keeps training on its masked-LM objective on text the user gives
(plain files, one sentence or paragraph a line, any language; or the tokens of an annotated dataset), and the
saved folder is a transformers masked-LM folder that Train starts from (``model_name_or_path``; the token
classification head is new there).

Whole-word masking, own implementation over ``word_ids`` rather than transformers' collator: that collator (5.x,
``DataCollatorForLanguageModeling(whole_word_mask=True)``) finds words from character offset gaps, so a Chinese or
Thai line without spaces is one "word" and ``Paris.`` is one word with its full stop, and it drops BERT's 10% random
replacement. Here words are the project's words (:func:`core.data.formats.words.split_words`: whitespace, one word
per punctuation or CJK/Thai character), the ones NER labels; each chosen word has all its subwords masked, with
BERT's 80% ``[MASK]`` / 10% random token / 10% unchanged (Devlin et al. 2019). The masking of step ``s`` is drawn
from a generator seeded by ``seed`` and ``s``, so a resumed run masks as the uninterrupted one would.

Head warm-up: a checkpoint without its masked-LM head (multilingual-e5 ships the encoder only) gets a new, random
head whose first gradients are noise, and letting them into the encoder can undo what it knows before the head is
of any use. So when the head is new, the first ``HEAD_WARMUP_RATIO`` of the steps train the head alone (the encoder,
and the word embeddings the decoder is tied to, frozen), then everything trains: linear probing then fine-tuning
(Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features"). Not yet measured here against no warm-up at
equal steps (bench/adaptation.py ran with it only).

Stop and resume: a stop request is honoured at the next step boundary; the checkpoint (``accelerator.save_state``:
weights, AdamW, schedule; plus ``state.json``) lets :func:`pretrain` continue at the same step.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from core.kernel.config import TrainConfig
from core.kernel.constants import LEARNING_RATE, PERPLEXITY, PRETRAIN_MARKER, TOKENS_PER_S, TRAIN_LOSS
from core.kernel.errors import StudioError
from core.kernel.files import replace_path
from core.train.loop import (CHECKPOINT_DIR, LOG_EVERY, MODEL_DIR, Callbacks, _accelerator, _configure_threads,
                             _optimizer, _set_seed, apply_cpu_dropout, load_checkpoint, make_batches,
                             store_callbacks)


#: Share of the pre-training steps that train a newly initialised masked-LM head alone (see the module docstring).
HEAD_WARMUP_RATIO = 0.2


def new_head_parameters(model, missing_keys) -> list[str]:
    """Names of the trainable parameters outside the encoder (``model.base_model_prefix``) when any of them was
    missing from the checkpoint (transformers' ``output_loading_info`` ``missing_keys``); [] when the head was
    loaded."""
    prefix = model.base_model_prefix + "."
    head = [n for n, _ in model.named_parameters() if not n.startswith(prefix)]
    missing = {k for k in missing_keys if not k.startswith(prefix)}
    return head if missing else []


def set_encoder_trainable(model, head: Sequence[str], trainable: bool) -> None:
    """Freeze or unfreeze every parameter not named in ``head`` (a tied decoder follows the embeddings)."""
    head_set = set(head)
    for n, p in model.named_parameters():
        if n not in head_set:
            p.requires_grad_(trainable)


@dataclass
class PretrainResult:
    """Outcome of :func:`pretrain`.

    Attributes:
        status: ``FINISHED`` or ``STOPPED``.
        model_dir: the saved masked-LM folder (transformers ``save_pretrained`` plus the tokenizer).
        steps: optimizer steps done.
        loss_first: masked-LM cross-entropy of the first logged row (nats per masked subword).
        loss_last: the same of the last logged row.
        n_texts: texts (lines) read; n_windows: model inputs they became.
    """

    status: str
    model_dir: str
    steps: int
    loss_first: float | None
    loss_last: float | None
    n_texts: int
    n_windows: int


def read_texts(paths: Sequence[str] = (), corpus_paths: Sequence[str] = ()) -> list[list[str]]:
    """Words of every text line of plain files, plus the tokens of every sentence of annotated corpora.

    Plain files: UTF-8, one sentence or paragraph a line; blank lines skipped; words by
    :func:`core.data.formats.words.split_words`. Annotated corpora: any format :func:`core.data.loader.load_corpus`
    reads (their labels are ignored).

    Raises:
        StudioError: E202 when no text at all could be read; E105-style read problems of a corpus are not raised.
    """
    from core.data.formats.words import split_words

    out: list[list[str]] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise StudioError("E202", f"cannot read the text file {path}: {exc.strerror}", file=str(path),
                              fix="Give a readable UTF-8 text file, one sentence or paragraph a line.") from exc
        for line in text.splitlines():
            if line.strip():
                out.append([line[a:b] for a, b in split_words(line)])
    if corpus_paths:
        from core.data.corpus import ReadOptions
        from core.data.loader import load_corpus

        corpus = load_corpus(list(corpus_paths), ReadOptions(detect_lang=False))
        out.extend(list(s.tokens) for s in corpus.sentences if s.tokens)
    out = [w for w in out if w]
    if not out:
        raise StudioError("E202", "no text to pre-train on", text=", ".join(map(str, [*paths, *corpus_paths])),
                          fix="Give text files with one sentence or paragraph a line (or an annotated corpus).")
    return out


def mask_whole_words(windows, tokenizer, probability: float, generator):
    """A masked-LM batch from windows with ``word_ids``: whole words masked, BERT's 80/10/10 replacement.

    Args:
        windows: :class:`core.model.alignment.Window` objects (``input_ids``, ``word_ids``).
        tokenizer: with ``mask_token_id``, ``pad_token_id`` and ``len(tokenizer)``.
        probability: share of words chosen, in (0, 1); at least one word per window.
        generator: ``torch.Generator`` (the draws).

    Returns:
        ``{"input_ids", "attention_mask", "labels"}`` LongTensors ``[batch, seq]``; ``labels`` hold the original
        id on masked positions and -100 elsewhere (special tokens and padding are never chosen).

    Raises:
        StudioError: E202 when the tokenizer has no mask token.
    """
    import torch

    from core.model.alignment import collate

    if tokenizer.mask_token_id is None:
        raise StudioError("E202", "the tokenizer has no mask token: it cannot be trained as a masked LM",
                          fix="Pick an encoder with a masked-LM objective (BERT, XLM-R, E5...).")
    enc = collate(windows, tokenizer.pad_token_id or 0)
    ids = enc["input_ids"]
    labels = torch.full_like(ids, -100)
    chosen = torch.zeros_like(ids, dtype=torch.bool)
    for row, w in enumerate(windows):
        words = sorted({wid for wid in w.word_ids if wid is not None})
        if not words:
            continue
        draw = torch.rand(len(words), generator=generator) < probability
        if not draw.any():
            draw[int(torch.randint(len(words), (1,), generator=generator))] = True
        picked = {wid for wid, d in zip(words, draw.tolist()) if d}
        for pos, wid in enumerate(w.word_ids):
            if wid in picked:
                chosen[row, pos] = True
    labels[chosen] = ids[chosen]
    r = torch.rand(ids.shape, generator=generator)
    to_mask = chosen & (r < 0.8)
    to_random = chosen & (r >= 0.8) & (r < 0.9)
    ids = ids.clone()
    ids[to_mask] = tokenizer.mask_token_id
    ids[to_random] = torch.randint(len(tokenizer), ids.shape, generator=generator)[to_random]
    return {"input_ids": ids, "attention_mask": enc["attention_mask"], "labels": labels}


def pretrain(cfg: TrainConfig, texts: Sequence[Sequence[str]], out_dir: str, callbacks: Callbacks | None = None,
             resume: bool = False, model_dir: str | None = None,
             checkpoint_dir: str | None = None) -> PretrainResult:
    """Continue masked-LM training of ``cfg.model_name_or_path`` on ``texts`` (words of each line).

    Uses ``learning_rate``, ``max_steps`` (or ``num_train_epochs``), ``per_device_train_batch_size``,
    ``tokens_per_batch``, ``max_seq_length``, ``stride``, ``warmup_ratio``, ``weight_decay``, ``max_grad_norm``,
    ``mlm_probability``, ``seed``, ``device``, ``precision``, ``num_threads``, ``freeze_embeddings`` (off here:
    the embeddings are what adapts to new words, so they always train). Metric rows: train_loss (mean masked-LM
    cross-entropy since the last row, nats), perplexity (its exp), learning_rate, tokens_per_s.

    Args:
        out_dir: run folder; ``checkpoint/`` holds the resumable state.
        model_dir: where the final model goes (default ``out_dir/model``).
        checkpoint_dir: where the resumable state lives (default ``out_dir/checkpoint``).

    Raises:
        StudioError: E202 without text, E304 when the loss is not finite.
    """
    from transformers import AutoModelForMaskedLM, get_linear_schedule_with_warmup
    from transformers.utils import logging as hf_logging
    import torch

    from core.model.alignment import encode_words
    from core.model.hub import resolve_model
    from core.model.tokenization import load_tokenizer

    hf_logging.disable_progress_bar()
    cb = callbacks or Callbacks()
    log = cb.log or (lambda msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final_dir = Path(model_dir) if model_dir else out / MODEL_DIR
    ckpt = Path(checkpoint_dir) if checkpoint_dir else out / CHECKPOINT_DIR
    state = json.loads((ckpt / "state.json").read_text(encoding="utf-8")) if resume and (
        ckpt / "state.json").exists() else {}
    _set_seed(cfg.seed)
    acc = _accelerator(cfg)
    _configure_threads(cfg)
    base = resolve_model(cfg.model_name_or_path)
    tokenizer = load_tokenizer(base)
    windows = [w for words in texts for w in encode_words(tokenizer, list(words), cfg.max_seq_length, cfg.stride)
               if any(x is not None for x in w.word_ids)]
    if not windows:
        raise StudioError("E202", "no text gave any subword", fix="Check the text files' encoding (UTF-8).")
    lengths = [len(w.input_ids) for w in windows]
    model, loading = AutoModelForMaskedLM.from_pretrained(base, output_loading_info=True)
    head = new_head_parameters(model, loading.get("missing_keys", []))
    apply_cpu_dropout(model, cfg, acc.device.type, log)
    optimizer = _optimizer(model, cfg)
    model, optimizer = acc.prepare(model, optimizer)

    def plan(epoch: int) -> list[list[int]]:
        order = list(range(len(windows)))
        random.Random(cfg.seed + epoch).shuffle(order)
        return make_batches(order, lengths, cfg, random.Random(cfg.seed + 1000 + epoch))

    steps_per_epoch = max(1, len(plan(0)))
    total = cfg.max_steps if cfg.max_steps > 0 else max(1, math.ceil(steps_per_epoch * cfg.num_train_epochs))
    scheduler = get_linear_schedule_with_warmup(optimizer.optimizer, int(cfg.warmup_ratio * total), total)
    acc.register_for_checkpointing(scheduler)
    step = int(state.get("step", 0))
    losses = {"first": state.get("loss_first"), "last": state.get("loss_last")}
    if state:
        load_checkpoint(acc, str(ckpt), optimizer)
        log(f"resumed at step {step}")
    head_warmup = int(HEAD_WARMUP_RATIO * total) if head else 0
    if head_warmup:
        log(f"the masked-LM head is new: steps 1-{head_warmup} train it alone, then the whole model trains")
    raw_model = acc.unwrap_model(model)
    encoder_trainable = None  # set at the first step, changed once when the warm-up ends
    log(f"pre-training on {len(texts):,} texts ({len(windows):,} windows), {total} steps, whole-word masking "
        f"{cfg.mlm_probability:.0%}")

    def save_checkpoint() -> None:
        tmp = ckpt.with_name(ckpt.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        acc.save_state(str(tmp))
        (tmp / "state.json").write_text(json.dumps({"step": step, "loss_first": losses["first"],
                                                    "loss_last": losses["last"]}), encoding="utf-8")
        replace_path(tmp, ckpt)

    status = "FINISHED"
    model.train()
    loss_acc, n_acc, tok_acc, t_log = 0.0, 0, 0, time.perf_counter()
    try:
        while step < total:
            if cb.should_stop and cb.should_stop():
                status = "STOPPED"
                save_checkpoint()
                log(f"stopped at step {step}; checkpoint saved")
                break
            if encoder_trainable != (step >= head_warmup):
                encoder_trainable = step >= head_warmup
                set_encoder_trainable(raw_model, head, encoder_trainable)
            batches = plan(step // steps_per_epoch)
            batch = batches[step % steps_per_epoch % len(batches)]
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
            enc = mask_whole_words([windows[i] for i in batch], tokenizer, cfg.mlm_probability, gen)
            enc = {k: v.to(acc.device) for k, v in enc.items()}
            loss = model(**enc).loss
            acc.backward(loss)
            if cfg.max_grad_norm > 0:
                acc.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_acc, n_acc = loss_acc + float(loss.detach()), n_acc + 1
            tok_acc += int(enc["attention_mask"].sum())
            if cb.on_progress:
                cb.on_progress(step, total)
            if step % LOG_EVERY == 0 or step == total or step == 1:
                mean = loss_acc / n_acc
                if not math.isfinite(mean):
                    raise StudioError("E304", f"masked-LM loss became {mean} by step {step}",
                                      fix=f"Lower learning_rate (now {cfg.learning_rate}) or set precision to fp32.")
                losses["first"] = mean if losses["first"] is None else losses["first"]
                losses["last"] = mean
                now = time.perf_counter()
                if cb.on_metrics:
                    cb.on_metrics(step, {TRAIN_LOSS: mean, PERPLEXITY: math.exp(min(mean, 50.0)),
                                         LEARNING_RATE: scheduler.get_last_lr()[0],
                                         TOKENS_PER_S: tok_acc / max(now - t_log, 1e-9)})
                log(f"step {step}/{total}: masked-LM loss {mean:.4f} (perplexity {math.exp(min(mean, 50.0)):.1f})")
                loss_acc, n_acc, tok_acc, t_log = 0.0, 0, 0, now
            if cfg.eval_steps and step % cfg.eval_steps == 0 and step < total:
                save_checkpoint()
        if status == "FINISHED":
            from core.kernel.files import atomic_output

            with atomic_output(str(final_dir), folder=True) as tmp:
                acc.unwrap_model(model).save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
                (Path(tmp) / PRETRAIN_MARKER).write_text(json.dumps(
                    {"base_model": cfg.model_name_or_path, "steps": step, "loss_first": losses["first"],
                     "loss_last": losses["last"], "n_texts": len(texts), "mlm_probability": cfg.mlm_probability,
                     "whole_word_mask": True}, indent=2), encoding="utf-8")
            save_checkpoint()
    finally:
        from accelerate.state import AcceleratorState

        acc.end_training()
        AcceleratorState._reset_state(reset_partial_state=True)
    return PretrainResult(status=status, model_dir=str(final_dir), steps=step, loss_first=losses["first"],
                          loss_last=losses["last"], n_texts=len(texts), n_windows=len(windows))


def pretrain_run(run, store, resume: bool = False) -> dict:
    """The worker's entry point for a pre-training run (``options["entrypoint"]`` =
    :data:`core.kernel.constants.PRETRAIN_ENTRYPOINT`).

    ``run.data``: ``{"text": [plain files], "corpus": [annotated files], "output_dir": folder or None}``.

    Returns:
        ``{"status", "model_dir", "summary": {"loss_first", "loss_last", "steps", "perplexity_last", ...}}``.
    """
    from core.train.loop import run_config

    cfg = run_config(run)

    def log(msg: str) -> None:
        print(msg, flush=True)

    texts = read_texts(run.data.get("text") or [], run.data.get("corpus") or [])
    if resume:
        state = store.checkpoint_dir(run.run_id) / "state.json"
        if state.exists():
            store.rewind_metrics(run.run_id, int(json.loads(state.read_text(encoding="utf-8"))["step"]))
    res = pretrain(cfg, texts, str(store.run_dir(run.run_id)), store_callbacks(run, store, log), resume=resume,
                   model_dir=run.data.get("output_dir"), checkpoint_dir=str(store.checkpoint_dir(run.run_id)))
    if res.status == "STOPPED":
        return {"status": "STOPPED"}
    store.update_run(run.run_id, model_dir=res.model_dir)
    store.add_artifact(run.run_id, "model", res.model_dir)
    summary = {"kind": "pretrain", "steps": res.steps, "loss_first": res.loss_first, "loss_last": res.loss_last,
               "perplexity_last": math.exp(min(res.loss_last, 50.0)) if res.loss_last is not None else None,
               "n_texts": res.n_texts, "n_windows": res.n_windows, "warnings": []}
    return {"status": "FINISHED", "model_dir": res.model_dir, "summary": summary}
