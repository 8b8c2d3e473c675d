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
