"""The Train page's adaptation steps without Streamlit: start a continued pre-training run or a transfer-matrix run
for a dataset, check whether a dataset can have a transfer matrix, and pick the live panel's figures by run kind.

Every run starts through :func:`core.runs.jobs.start_run`, with the entry point and the ``data`` the CLI's
``pretrain`` and ``transfer`` commands give it (:func:`core.runs.jobs.pretrain_data`,
:func:`core.runs.jobs.transfer_data`), so a run started on the page is the run the CLI would start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from core.kernel.config import TrainConfig
from core.kernel.constants import (EVAL_F1, EVAL_LOSS, LEARNING_RATE, PERPLEXITY, PRETRAIN_ENTRYPOINT,
                                   SENTENCES_PER_S, TOKENS_PER_S, TRAIN_LOSS, TRANSFER_ENTRYPOINT)
from core.kernel.errors import ConfigError, RunError
from core.runs import jobs, registry
from core.runs.live import LiveSeries
from core.runs.store import Dataset, Run, RunStore
from core.ui.plots import f1_figure, line_figure, loss_figure, perplexity_figure
from core.ui.runinfo import PRETRAIN_KIND, PretrainedFolder

#: The Pre-train form's defaults: bench/adaptation.py's masked-LM learning rate and its script default of steps.
PRETRAIN_STEPS = 300
PRETRAIN_LEARNING_RATE = 5e-5
#: A transfer matrix needs this many training languages (``und`` not counted).
MIN_TRANSFER_LANGUAGES = 2


def start_pretrain(store: RunStore, *, model: str, max_steps: int = PRETRAIN_STEPS,
                   learning_rate: float = PRETRAIN_LEARNING_RATE, dataset: Dataset | None = None,
                   uploads: Sequence[tuple[str, bytes]] = (), name: str | None = None, device: str = "auto") -> Run:
    """Launch continued masked-LM pre-training on the text of a dataset's training split and/or uploaded files.

    Args:
        store: the run store.
        model: ``model_name_or_path`` to continue.
        max_steps: optimizer steps.
        learning_rate: peak learning rate.
        dataset: a dataset whose prepared training files' text is used (labels ignored); None for none.
        uploads: ``(file name, bytes)`` of plain UTF-8 text files, one sentence or paragraph a line; saved under
            the workspace (:func:`core.runs.registry.save_texts`).
        name: display name.
        device: ``auto``, ``cpu``, ``cuda``...

    Returns:
        The launched run (entry point :data:`~core.kernel.constants.PRETRAIN_ENTRYPOINT`).

    Raises:
        ConfigError: ``E202`` without any text, or an invalid setting.
        RunError: ``E309`` the dataset has no training split; ``E306`` the worker could not start.
    """
    corpus: list[str] = []
    if dataset is not None:
        corpus = registry.split_files(store, dataset.id, "train")
        if not corpus:
            raise RunError("E309", f"dataset {dataset.name!r} has no training split to take text from",
                           fix="Assign a file (or a share of sentences) to train on the Data page, or upload text.")
    if not corpus and not uploads:
        raise ConfigError("E202", "no text to pre-train on",
                          fix="Use the dataset's training text, or upload .txt files (one sentence a line).")
    config = TrainConfig.from_dict({"model_name_or_path": model, "max_steps": int(max_steps),
                                    "learning_rate": float(learning_rate), "device": device})
    data = jobs.pretrain_data(registry.save_texts(store, uploads), corpus)
    if dataset is not None:
        data.update(dataset_id=dataset.id, dataset_name=dataset.name)
    return jobs.start_run(store, config, data, entrypoint=PRETRAIN_ENTRYPOINT, name=name)


@dataclass(frozen=True)
class TransferCheck:
    """Whether a dataset can have a transfer matrix: ``ok``, else ``reason``; its training ``languages``
    (sentences each, ``und`` left out) and test sentences."""

    ok: bool
    reason: str
    languages: dict[str, int]
    n_test: int


def transfer_check(store: RunStore, dataset: Dataset) -> TransferCheck:
    """A transfer matrix needs 2+ languages in the training split and test sentences (it scores on test)."""
    langs = {k: v for k, v in registry.split_languages(store, dataset.id, "train").items() if k != "und"}
    n_test = sum(registry.split_languages(store, dataset.id, "test").values())
    if len(langs) < MIN_TRANSFER_LANGUAGES:
        found = ", ".join(langs) or "none"
        return TransferCheck(False, f"The training split has {len(langs)} language(s) ({found}): a transfer "
                                    "matrix needs at least 2.", langs, n_test)
    if not n_test:
        return TransferCheck(False, "The dataset has no test sentences: the matrix scores each language's model on "
                                    "the test split (assign a test split on the Data page).", langs, n_test)
    return TransferCheck(True, "", langs, n_test)


def transfer_run_data(store: RunStore, dataset: Dataset) -> dict:
    """The ``data`` of a transfer run on a dataset: its prepared train / dev / test files as ``python -m core
    transfer`` records them (:func:`core.runs.jobs.transfer_data`), plus the dataset's id and name."""
    base = registry.run_data(store, dataset)
    data = jobs.transfer_data(base["train"], base["test"], base["dev"], lang=base["lang"], fmt=base["format"])
    data.update(dataset_id=dataset.id, dataset_name=dataset.name, languages=base["languages"])
    return data


def start_transfer(store: RunStore, dataset: Dataset, config: TrainConfig, name: str | None = None) -> Run:
    """Launch the transfer matrix of a dataset: one fine-tune per training language with ``config``, each scored
    on every test language (entry point :data:`~core.kernel.constants.TRANSFER_ENTRYPOINT`).

    Raises:
        ConfigError: ``E202`` when :func:`transfer_check` says no.
        RunError: ``E309`` no training split; ``E306`` the worker could not start.
    """
    check = transfer_check(store, dataset)
    if not check.ok:
        raise ConfigError("E202", check.reason, fix="Pick a dataset with 2+ languages and a test split.")
    return jobs.start_run(store, config, transfer_run_data(store, dataset), entrypoint=TRANSFER_ENTRYPOINT,
                          name=name)


def finetune_options(preset: str, pretrained: PretrainedFolder | None = None) -> dict:
    """A fine-tune run's options: its preset, and ``pretrained_from`` (the pre-training run) when it starts from a
    pre-training run's folder."""
    return {"preset": preset, **({"pretrained_from": pretrained.run_id} if pretrained else {})}


# ------------------------------------------------------------------------------------------------ live panel


def perplexity_points(series: LiveSeries) -> list[tuple[int, float]]:
    """The logged perplexity points; exp(train loss) where the run logged none."""
    logged = series.get(PERPLEXITY)
    return list(logged) if logged else [(s, math.exp(min(v, 50.0))) for s, v in series.get(TRAIN_LOSS)]


def live_figures(series: LiveSeries, kind: str) -> list:
    """The live panel's four figures, by run kind.

    ``pretrain``: masked-LM loss, perplexity (log axis), learning rate, tokens/s. Otherwise (fine-tune, transfer):
    loss, dev entity F1 overall and per language, learning rate, sentences/s.
    """
    lr = line_figure({"learning rate": series.get(LEARNING_RATE)}, "Learning rate", "learning rate")
    if kind == PRETRAIN_KIND:
        loss = loss_figure(series.get(TRAIN_LOSS))
        loss.update_layout(title="Masked-LM loss", yaxis_title="cross-entropy (nats)")
        return [loss, perplexity_figure(perplexity_points(series)), lr,
                line_figure({"tokens/s": series.get(TOKENS_PER_S)}, "Pre-training speed", "tokens/s")]
    return [loss_figure(series.get(TRAIN_LOSS), series.get(EVAL_LOSS)),
            f1_figure(series.get(EVAL_F1), series.per_language_f1()), lr,
            line_figure({"sentences/s": series.get(SENTENCES_PER_S)}, "Training speed", "sentences/s")]


def headline(run: Run, series: LiveSeries, kind: str) -> tuple[str, float | None]:
    """The live panel's score metric: ``("Perplexity", last)`` for pre-training, else ``("Best dev F1", best)``."""
    if kind == PRETRAIN_KIND:
        pts = perplexity_points(series)
        return "Perplexity", pts[-1][1] if pts else (run.summary or {}).get("perplexity_last")
    return "Best dev F1", run.best_dev_f1
