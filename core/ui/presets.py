"""Training presets for the Train page, the form description of :class:`~core.kernel.config.TrainConfig`, and a rough
duration estimate.

Presets only override the fields they name; everything else keeps the :class:`~core.kernel.config.TrainConfig`
default. The model is chosen separately (any preset works with any model).
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, fields
from typing import Any

from core.kernel.config import ADAPTER_MODES, TrainConfig, field_help

QUICK = "quick CPU demo"
STANDARD = "standard"
LARGE_GPU = "large GPU"

#: Preset name -> TrainConfig overrides.
PRESETS: dict[str, dict[str, Any]] = {
    # A few minutes on 2 CPU cores for the bundled demo corpus (a few hundred sentences): many small steps at a
    # high learning rate, because one epoch of a small corpus predicts only O (docs/PITFALLS.md, CPU training).
    QUICK: {"num_train_epochs": 12.0, "max_steps": 150, "learning_rate": 2e-4, "per_device_train_batch_size": 16,
            "max_seq_length": 128, "stride": 16, "warmup_ratio": 0.1, "eval_steps": 30, "eval_max_sentences": 300,
            "device": "cpu"},
    # TrainConfig's defaults: evaluation per epoch, the best checkpoint by dev F1.
    STANDARD: {},
    # A GPU with room: larger token-budget batches, bf16 where supported, early stopping on dev F1.
    LARGE_GPU: {"num_train_epochs": 10.0, "per_device_train_batch_size": 64, "tokens_per_batch": 16384,
                "max_seq_length": 512, "stride": 64, "learning_rate": 1e-4, "precision": "auto",
                "early_stopping_patience": 3, "eval_max_sentences": 0, "device": "cuda"},
}

PRESET_HELP = {
    QUICK: "A few minutes on a laptop CPU: 150 steps, evaluation every 30 steps. For the demo corpus and trying "
           "things out.",
    STANDARD: f"TrainConfig defaults: {TrainConfig().num_train_epochs:g} epochs, dev evaluation after each epoch, "
              "best checkpoint kept.",
    LARGE_GPU: "For a GPU: 10 epochs with early stopping, large token-budget batches, bf16 when supported.",
}

#: Fields with a fixed set of values (shown as a select box).
CHOICES = {"precision": ("auto", "fp32", "bf16"), "adapters": ADAPTER_MODES}

#: The Train page's three ways to adapt to languages, each with when it helps. Figures: bench/adaptation.py
#: (README "Adaptation": MasakhaNER 1.0 Hausa, Swahili, Yoruba; 400 training sentences a language, 200
#: fine-tuning steps, 3 seeds, mean test entity F1 over the three languages).
SHARED, ADAPTERS, PRETRAINED = "Shared fine-tune", "Per-language adapters", "From a pre-trained folder"
ADAPTATION_HELP = {
    SHARED: "One model for every language (adapters=shared). The default and the safest: languages with little "
            "data borrow from the others. Best and steadiest on bench/adaptation.py (Hausa, Swahili, Yoruba, "
            "200 steps): mean test F1 0.428.",
    ADAPTERS: "One LoRA adapter per language (or group) on the shared encoder, one shared head; each batch trains "
              "the encoder, the head and its language's adapter, each sentence is tagged by its language's adapter, "
              "a shared one answers other languages (adapters=per_language). Meant for languages that interfere "
              "(different scripts, a few hundred sentences or more each). On bench/adaptation.py: mean F1 0.404 "
              "against 0.428 for the shared fine-tune, with a large spread over seeds (one seed 0.54, two below "
              "the shared fine-tune): compare both on your data.",
    PRETRAINED: "Fine-tune a model whose masked-LM training was continued on raw text of your languages (pick a "
                "finished pre-training run below, or run Pre-train first). Meant for languages the encoder saw "
                "little of, when you have much more raw text than annotations. On bench/adaptation.py, 100 "
                "pre-training steps on the training text alone gave mean F1 0.411 against 0.428, with a larger "
                "spread over seeds: not a default.",
}

#: The Train page's "Pre-train first" form.
PRETRAIN_HELP = ("Continues the masked-LM training of a model on raw text (whole-word masking of 15% of words), as "
                 "`python -m core pretrain` does; a background run like any other, with its loss and perplexity "
                 "live. When it finishes, choose it under Language adaptation -> From a pre-trained folder. Meant "
                 "for raw text beyond the annotated sentences: the training split's text alone did not beat "
                 "the shared fine-tune on bench/adaptation.py.")

#: The Train page's "Transfer matrix" section.
TRANSFER_HELP = ("Fine-tunes one model per training language (the model and settings above, the same steps each) "
                 "and scores each on every test language, as `python -m core transfer` does. It shows which "
                 "languages carry over to which (what to pool, where to annotate more); it costs one fine-tune "
                 "per language. The matrix appears on the Evaluate page when the run finishes.")


def preset_config(name: str, **overrides: Any) -> TrainConfig:
    """The validated config of preset ``name`` with ``overrides`` on top.

    Raises:
        KeyError: unknown preset.
        core.kernel.errors.ConfigError: an override is unknown or invalid.
    """
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return TrainConfig.from_dict({**PRESETS[name], **overrides})


@dataclass(frozen=True)
class FieldSpec:
    """How a form shows one TrainConfig field: ``kind`` is ``bool``, ``int``, ``float``, ``str`` or ``choice``."""

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()


def config_fields() -> list[FieldSpec]:
    """Every TrainConfig field, in declaration order, with its type, default and help text."""
    helps = field_help()
    out = []
    for f in fields(TrainConfig):
        default = f.default if f.default is not MISSING else None
        kind = type(default).__name__ if default is not None else "str"
        choices = CHOICES.get(f.name, ())
        out.append(FieldSpec(f.name, "choice" if choices else kind, default, helps.get(f.name, ""), choices))
    return out


# ---------------------------------------------------------------------------------------------- duration estimate

#: Training throughput in subwords per second per 2 CPU cores, for multilingual-e5-small with frozen word
#: embeddings (docs/MODELS.md: about 0.6 s for a 16 x 32-subword step on 2 cores; 1.4 s unfrozen).
CPU_SUBWORDS_PER_S_E5 = 850.0
#: The same on one recent data-centre GPU (order of magnitude; bf16 roughly doubles it).
GPU_SUBWORDS_PER_S_E5 = 40_000.0
#: Relative cost of a model compared with multilingual-e5-small (by name; unknown names count as 1).
MODEL_COST = {"all-minilm-l6-v2": 0.35, "multilingual-e5-small": 1.0, "base": 3.0, "large": 10.0}
#: Seconds to start a worker and load the model (CPU / GPU).
STARTUP_S = {"cpu": 25.0, "gpu": 20.0}
#: Subwords per word: XLM-R's SentencePiece gives about 1.5 on European text (more on agglutinative languages).
SUBWORDS_PER_WORD = 1.5


def _model_cost(name: str) -> float:
    low = name.lower()
    for key, cost in MODEL_COST.items():
        if key in low:
            return cost
    return 1.0


def estimate_steps(n_sentences: int, cfg: TrainConfig) -> int:
    """Optimizer steps the trainer will plan: ``max_steps`` when set, else epochs x batches per epoch."""
    if cfg.max_steps > 0:
        return cfg.max_steps
    per_step = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
    return max(1, math.ceil(cfg.num_train_epochs * math.ceil(max(n_sentences, 1) / per_step)))


def estimate_duration(n_sentences: int, avg_tokens: float, cfg: TrainConfig, device: str = "cpu",
                      cpu_cores: int = 2) -> float:
    """A rough estimate of a run's wall time in seconds (training, dev evaluations and start-up).

    It is a rule of thumb, good to a factor of about two: throughput is a constant measured for
    multilingual-e5-small (``docs/MODELS.md``), scaled by a per-model factor (:data:`MODEL_COST`), by the
    number of CPU cores (linear, which is optimistic beyond a few cores), and by 2.3 when the word embeddings
    are trained too. Evaluation is counted at a third of the training cost per subword (no backward pass).
    The real rate shows on the live panel as soon as the run starts.

    Args:
        n_sentences: training sentences.
        avg_tokens: mean words per sentence.
        cfg: the configuration.
        device: ``cpu``, ``cuda``, ``cuda:N``, ``gpu`` or ``auto`` (``auto`` counts as CPU unless given a GPU).
        cpu_cores: cores available to the run (CPU only).

    Returns:
        Seconds (float, > 0).
    """
    on_gpu = device.startswith("cuda") or device == "gpu"
    subwords = min(cfg.max_seq_length, avg_tokens * SUBWORDS_PER_WORD + 2)
    rate = GPU_SUBWORDS_PER_S_E5 if on_gpu else CPU_SUBWORDS_PER_S_E5 * max(1, cpu_cores) / 2
    rate /= _model_cost(cfg.model_name_or_path)
    if not cfg.freeze_embeddings:
        rate /= 2.3
    steps = estimate_steps(n_sentences, cfg)
    per_step = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps
    train_s = steps * per_step * subwords / rate
    steps_per_epoch = max(1, math.ceil(max(n_sentences, 1) / per_step))
    n_evals = max(1, steps // (cfg.eval_steps or steps_per_epoch))
    eval_sentences = min(cfg.eval_max_sentences or n_sentences, max(n_sentences // 9, 1))
    eval_s = n_evals * eval_sentences * subwords / (3 * rate)
    return STARTUP_S["gpu" if on_gpu else "cpu"] + train_s + eval_s


def format_seconds(seconds: float | None) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 02 min``; ``-`` for None."""
    if seconds is None or seconds != seconds:
        return "-"
    s = int(round(max(0.0, seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
