"""The reference recipe the studio is measured against: transformers' ``run_ner.py`` in a function.

``Trainer`` + ``DataCollatorForTokenClassification``, first-subword labels (``-100`` elsewhere), fixed sentence
batches, AdamW with linear decay, fp32 on CPU, no frozen layers, inputs truncated at ``max_length`` subwords (as
``run_ner.py`` does). Scored with the same strict seqeval entity F1 as the studio (:mod:`core.eval.metrics`).
Shared by ``bench/train_speed.py`` and ``bench/compare_multilingual.py``.
"""

from __future__ import annotations

import resource
import time
from typing import Sequence

from core.data.corpus import Sentence


def hf_train_and_eval(train: Sequence[Sentence], test: Sequence[Sentence], model_dir: str, *,
                      learning_rate: float = 1e-4, num_train_epochs: float = 3.0, batch_size: int = 16,
                      seed: int = 42, max_length: int = 256, out_dir: str = "/tmp/hf_recipe",
                      max_steps: int = -1) -> dict:
    """Fine-tune with the Hugging Face recipe and score on ``test``.

    Returns:
        ``{"train_seconds", "sentences_per_s", "tokens_per_s", "padding_fraction", "f1", "per_language",
        "predict_seconds", "peak_rss_mb"}``; F1 values are fractions in [0, 1] (strict IOB2, seqeval).
    """
    import numpy as np
    import torch
    from transformers import (AutoModelForTokenClassification, DataCollatorForTokenClassification, Trainer,
                              TrainingArguments)

    from core.eval.metrics import evaluate
    from core.data.schemes import to_iob2
    from core.model.tokenization import load_tokenizer
    from core.train.loop import label_list_for

    labels = label_list_for(train)
    label2id = {t: i for i, t in enumerate(labels)}
    tok = load_tokenizer(model_dir)

    def encode(sents: Sequence[Sentence]) -> list[dict]:
        rows = []
        for s in sents:
            enc = tok(list(s.tokens), is_split_into_words=True, truncation=True, max_length=max_length)
            word_ids = enc.word_ids()
            lab, prev = [], None
            for w in word_ids:
                if w is None or w == prev:
                    lab.append(-100)
                else:
                    lab.append(label2id.get(s.ner_tags[w], 0))
                prev = w
            rows.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": lab})
        return rows

    train_rows = encode(train)
    # padding of the recipe's random (shuffled, fixed-size) batches, on one seeded shuffle
    import random as _random
    order = list(range(len(train_rows)))
    _random.Random(seed).shuffle(order)
    padded = real = 0
    for i in range(0, len(order), batch_size):
        lens = [len(train_rows[j]["input_ids"]) for j in order[i:i + batch_size]]
        padded += max(lens) * len(lens)
        real += sum(lens)
    padding_fraction = 1 - real / padded if padded else 0.0
    test_rows = encode(test)
    # the collator pads every key it is given: keep the word_ids of the test rows beside them, not in them
    test_word_ids = [tok(list(s.tokens), is_split_into_words=True, truncation=True, max_length=max_length).word_ids()
                     for s in test]
    torch.manual_seed(seed)
    model = AutoModelForTokenClassification.from_pretrained(
        model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)
    args = TrainingArguments(output_dir=out_dir, learning_rate=learning_rate, num_train_epochs=num_train_epochs,
                             max_steps=max_steps, per_device_train_batch_size=batch_size,
                             per_device_eval_batch_size=32, seed=seed, save_strategy="no", eval_strategy="no",
                             logging_steps=50, report_to=[], use_cpu=not torch.cuda.is_available(),
                             dataloader_num_workers=0, disable_tqdm=True)
    collator = DataCollatorForTokenClassification(tok)
    trainer = Trainer(model=model, args=args, train_dataset=train_rows, data_collator=collator,
                      processing_class=tok)
    t0 = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - t0
    steps = trainer.state.global_step
    passes = min(len(train_rows) * num_train_epochs, steps * batch_size) if max_steps < 0 else steps * batch_size
    real_tokens = sum(len(r["input_ids"]) for r in train_rows) * (passes / max(1, len(train_rows)))
    t1 = time.perf_counter()
    out = trainer.predict(test_rows)
    predict_seconds = time.perf_counter() - t1
    pred_ids = np.argmax(out.predictions, axis=-1)
    gold_tags, pred_tags = [], []
    for s, p, enc_word_ids in zip(test, pred_ids, test_word_ids):
        tags = ["O"] * len(s.tokens)
        prev = None
        for j, w in enumerate(enc_word_ids):
            if w is not None and w != prev:
                tags[w] = labels[int(p[j])]
            prev = w
        gold_tags.append(s.ner_tags)
        pred_tags.append(to_iob2(tags, "IOB2")[0])
    res = evaluate(gold_tags, pred_tags, [s.lang for s in test], max_errors=0)
    return {
        "train_seconds": train_seconds,
        "steps": steps,
        "sentences_per_s": passes / train_seconds,
        "tokens_per_s": real_tokens / train_seconds,
        "padding_fraction": padding_fraction,
        "f1": res["overall"]["f1"] or 0.0,
        "per_language": {k: v["f1"] for k, v in res["per_language"].items()},
        "predict_seconds": predict_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


class CountingCollator:
    """``DataCollatorForTokenClassification`` that also counts the rows, real subwords and padded positions of the
    batches it builds (the padding a recipe's sampler really causes)."""

    def __init__(self, tokenizer) -> None:
        from transformers import DataCollatorForTokenClassification

        self.inner = DataCollatorForTokenClassification(tokenizer)
        self.rows = self.real = self.padded = 0

    def __call__(self, features):
        batch = self.inner(features)
        mask = batch["attention_mask"]
        self.rows += int(mask.shape[0])
        self.real += int(mask.sum())
        self.padded += int(mask.numel())
        return batch


def hf_train_to_target(train: Sequence[Sentence], dev: Sequence[Sentence], model_dir: str, *, tuned: bool,
                       target_f1: float | None, eval_steps: int, max_steps: int, learning_rate: float = 1e-4,
                       classifier_lr_multiplier: float = 10.0, warmup_ratio: float = 0.1, weight_decay: float = 0.01,
                       batch_size: int = 16, seed: int = 42, max_length: int = 256, out_dir: str = "/tmp/hf_recipe",
                       log=lambda msg: None) -> dict:
    """Train with the Hugging Face ``Trainer`` until dev entity F1 reaches ``target_f1`` or ``max_steps``.

    ``tuned=False`` is the ``run_ner.py`` recipe at its defaults (random fixed-size batches, fp32, AdamW at one
    ``learning_rate`` with no warmup and no weight decay, every weight trained). ``tuned=True`` gives the Trainer
    the studio's advantages through its public options: ``train_sampling_strategy="group_by_length"``, bf16
    autocast where the device multiplies bf16 natively (:func:`core.model.device.use_bf16`), the word-embedding
    matrix frozen, and AdamW param groups with the head at ``learning_rate * classifier_lr_multiplier``, no
    decay on biases/LayerNorm, ``warmup_ratio`` and ``weight_decay`` as the studio's. Both decay linearly over
    ``max_steps``.

    Dev is scored every ``eval_steps`` optimizer steps (and at the last) with the studio's own scorer
    (:func:`core.train.loop.evaluate_sentences`: strict IOB2 entity F1, seqeval) inside a ``TrainerCallback``;
    the clock starts at the first step and excludes scoring.

    Returns:
        ``{"seconds_to_target" (None when not reached), "steps_to_target", "steps", "train_clock_seconds",
        "dev_f1" (last scored), "best_dev_f1", "curve": [[step, clock_seconds, f1]], "sentences_per_s",
        "tokens_per_s", "padding_fraction", "bf16"}``.
    """
    import torch
    from transformers import AutoModelForTokenClassification, Trainer, TrainerCallback, TrainingArguments

    from core.kernel.config import TrainConfig
    from core.model.device import use_bf16
    from core.model.tokenization import load_tokenizer
    from core.train.loop import evaluate_sentences, label_list_for

    labels = label_list_for(train)
    label2id = {t: i for i, t in enumerate(labels)}
    tok = load_tokenizer(model_dir)
    rows = []
    for s in train:
        enc = tok(list(s.tokens), is_split_into_words=True, truncation=True, max_length=max_length)
        lab, prev = [], None
        for w in enc.word_ids():
            lab.append(-100 if w is None or w == prev else label2id.get(s.ner_tags[w], 0))
            prev = w
        rows.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": lab})
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bf16 = tuned and use_bf16("auto", device)
    torch.manual_seed(seed)
    model = AutoModelForTokenClassification.from_pretrained(
        model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)
    optimizers = (None, None)
    if tuned:
        model.get_input_embeddings().weight.requires_grad_(False)
        groups: dict[tuple[bool, bool], list] = {}
        for name, p in model.named_parameters():
            if p.requires_grad:
                head = name.startswith("classifier") or ".classifier." in name
                no_wd = p.ndim < 2 or "LayerNorm" in name or name.endswith(".bias")
                groups.setdefault((head, no_wd), []).append(p)
        opt = torch.optim.AdamW(
            [{"params": ps, "weight_decay": 0.0 if no_wd else weight_decay,
              "lr": learning_rate * (classifier_lr_multiplier if head else 1.0)}
             for (head, no_wd), ps in sorted(groups.items())], lr=learning_rate,
            fused=True)  # the Trainer's own default optimizer since torch 2.8 (optim="adamw_torch_fused")
        optimizers = (opt, None)  # the Trainer adds its linear schedule (warmup) to this optimizer
    args = TrainingArguments(
        output_dir=out_dir, learning_rate=learning_rate, max_steps=max_steps, per_device_train_batch_size=batch_size,
        seed=seed, save_strategy="no", eval_strategy="no", logging_steps=50, report_to=[],
        use_cpu=device == "cpu", dataloader_num_workers=0, disable_tqdm=True, bf16=bf16,
        **({"train_sampling_strategy": "group_by_length", "warmup_steps": int(warmup_ratio * max_steps),
            "weight_decay": weight_decay} if tuned else {}))
    cfg = TrainConfig.from_dict({"model_name_or_path": model_dir, "max_seq_length": max_length,
                                 "precision": "bf16" if bf16 else "fp32"})
    collator = CountingCollator(tok)
    state = {"t0": None, "excluded": 0.0, "curve": [], "reached": None}

    class ScoreEvery(TrainerCallback):
        def on_step_begin(self, args_, st, control, **kw):
            if state["t0"] is None:
                state["t0"] = time.perf_counter()

        def on_step_end(self, args_, st, control, **kw):
            step = st.global_step
            if step % eval_steps and step < max_steps:
                return
            t_pause = time.perf_counter()
            clock = t_pause - state["t0"] - state["excluded"]
            f1 = evaluate_sentences(kw["model"], tok, dev, cfg, device)["overall"]["f1"] or 0.0
            state["curve"].append([step, round(clock, 2), round(f1, 4)])
            log(f"step {step}: dev F1 {f1:.4f} at {clock:.1f} s")
            if target_f1 is not None and f1 >= target_f1 and state["reached"] is None:
                state["reached"] = (step, clock)
                control.should_training_stop = True
            state["excluded"] += time.perf_counter() - t_pause

    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collator, processing_class=tok,
                      optimizers=optimizers, callbacks=[ScoreEvery()])
    trainer.train()
    steps = trainer.state.global_step
    clock = state["curve"][-1][1] if state["curve"] else 0.0
    return {"seconds_to_target": state["reached"][1] if state["reached"] else None,
            "steps_to_target": state["reached"][0] if state["reached"] else None, "steps": steps,
            "train_clock_seconds": clock, "dev_f1": state["curve"][-1][2] if state["curve"] else 0.0,
            "best_dev_f1": max((c[2] for c in state["curve"]), default=0.0), "curve": state["curve"],
            "sentences_per_s": collator.rows / clock if clock else 0.0,
            "tokens_per_s": collator.real / clock if clock else 0.0,
            "padding_fraction": 1 - collator.real / collator.padded if collator.padded else 0.0, "bf16": bf16}
