"""Constants shared by every layer: paths, run statuses, metric keys, defaults.

One name per thing: the trainer logs these metric keys, the store and the pages read them (the names follow
transformers' ``Trainer`` logs: ``train_loss``, ``eval_f1``, ``learning_rate``...).
"""

from __future__ import annotations

from pathlib import Path

#: The repository (or installed source tree) root: ``assets/`` (the bundled demo corpus) lives there.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: The model a new run fine-tunes unless told otherwise (a bundled name, see ``core.model.bundled``).
DEFAULT_MODEL = "multilingual-e5-small"
#: The training function a run's worker calls unless the run's options name another (``module:function``).
DEFAULT_ENTRYPOINT = "core.train.loop:train_run"
PRETRAIN_ENTRYPOINT = "core.train.pretrain:pretrain_run"
TRANSFER_ENTRYPOINT = "core.train.transfer:transfer_run"
#: The file continued pre-training writes into the model folder it saves (base model, steps, losses): a run
#: whose ``model_name_or_path`` holds it starts from a pre-trained folder.
PRETRAIN_MARKER = "ner_studio_pretrain.json"

# ---------------------------------------------------------------- run statuses (the store's ``status`` column)
SCHEDULED = "SCHEDULED"
RUNNING = "RUNNING"
FINISHED = "FINISHED"
FAILED = "FAILED"
STOPPED = "STOPPED"
STATUSES = (SCHEDULED, RUNNING, FINISHED, FAILED, STOPPED)
ACTIVE_STATUSES = (SCHEDULED, RUNNING)
TERMINAL_STATUSES = (FINISHED, FAILED, STOPPED)

# ---------------------------------------------------------------- metric keys (the store's ``metrics.key``)
#: Mean training cross-entropy over the optimizer steps since the last row.
TRAIN_LOSS = "train_loss"
LEARNING_RATE = "learning_rate"
GRAD_NORM = "grad_norm"
#: Training windows (sentences) and real subwords per second of pure training steps.
SENTENCES_PER_S = "sentences_per_s"
TOKENS_PER_S = "tokens_per_s"
EPOCH = "epoch"
#: Dev-set entity scores (seqeval strict IOB2, fractions) and the dev cross-entropy.
EVAL_F1 = "eval_f1"
EVAL_PRECISION = "eval_precision"
EVAL_RECALL = "eval_recall"
EVAL_LOSS = "eval_loss"
PERPLEXITY = "perplexity"  # exp(train_loss) of continued masked-LM pre-training
#: Prefix of the per-language dev F1 keys: ``eval_f1_es``, ``eval_f1_nl``...
EVAL_F1_LANG_PREFIX = EVAL_F1 + "_"
#: Names written by stores before schema version 2 -> today's name (the store renames them on upgrade).
LEGACY_METRIC_KEYS = {"loss": TRAIN_LOSS, "dev_f1": EVAL_F1, "dev_precision": EVAL_PRECISION,
                      "dev_recall": EVAL_RECALL}

#: Experiment trackers a run can report to (``TrainConfig.report_to``; core.train.trackers implements them).
REPORT_TO_CHOICES = ("tensorboard", "mlflow", "wandb")
