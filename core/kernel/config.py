"""Training configuration: one dataclass, help text on every field, unknown keys rejected, values validated.

Field names follow transformers' ``TrainingArguments``/``run_ner.py`` (learning_rate, num_train_epochs,
per_device_train_batch_size, max_seq_length, ...). Like ``HfArgumentParser(allow_extra_keys=False)``, an
unknown key is an error (with the closest valid name), never silently ignored.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.kernel.constants import DEFAULT_MODEL, REPORT_TO_CHOICES
from core.kernel.devices import DEVICE_CHOICES, select_device
from core.kernel.errors import ConfigError

__all__ = ["ADAPTER_MODES", "DEFAULT_MODEL", "TrainConfig", "field_help"]


@dataclass
class TrainConfig:
    """Everything that decides a training run. See each field's ``metadata["help"]``."""

    model_name_or_path: str = field(default=DEFAULT_MODEL, metadata={
        "help": "Bundled model name (multilingual-e5-small, all-MiniLM-L6-v2), a local transformers model folder, "
                "or a Hugging Face Hub id (needs internet)."})
    learning_rate: float = field(default=1e-4, metadata={
        "help": "Peak learning rate of AdamW for the encoder after warmup. 3e-4 collapsed multilingual-e5-small to "
                "one entity type on CoNLL-2002 Spanish; 5e-5 learns nothing in one epoch on 2,000 sentences."})
    classifier_lr_multiplier: float = field(default=10.0, metadata={
        "help": "Learning-rate factor for the freshly initialised classification head (the encoder keeps "
                "learning_rate): a larger head rate separates the entity types in fewer steps (CoNLL-2002 Spanish, "
                "2,000 sentences: dev F1 0.70 instead of 0.51 after two epochs)."})
    num_train_epochs: float = field(default=5.0, metadata={
        "help": "Passes over the training sentences (ignored when max_steps > 0)."})
    max_steps: int = field(default=-1, metadata={
        "help": "Total optimizer steps; > 0 overrides num_train_epochs."})
    per_device_train_batch_size: int = field(default=16, metadata={
        "help": "Most sentences (windows) in one batch. With tokens_per_batch > 0 a batch holds as many "
                "length-sorted sentences as fit the token budget, up to this number."})
    tokens_per_batch: int = field(default=0, metadata={
        "help": "Subword budget of one batch (padding included); 0 batches by sentence count only."})
    gradient_accumulation_steps: int = field(default=1, metadata={
        "help": "Batches whose gradients are summed before one optimizer step."})
    max_seq_length: int = field(default=256, metadata={
        "help": "Longest model input in subwords, special tokens included. Longer sentences are cut into "
                "overlapping windows, never truncated."})
    stride: int = field(default=32, metadata={
        "help": "Subwords shared by consecutive windows of a long sentence."})
    warmup_ratio: float = field(default=0.1, metadata={
        "help": "Fraction of the steps over which the learning rate rises linearly from 0."})
    weight_decay: float = field(default=0.01, metadata={
        "help": "AdamW weight decay (not applied to biases and LayerNorm weights)."})
    max_grad_norm: float = field(default=1.0, metadata={
        "help": "Gradient clipping norm; 0 disables clipping."})
    seed: int = field(default=42, metadata={"help": "Random seed for initialisation, shuffling and sampling."})
    label_all_tokens: bool = field(default=False, metadata={
        "help": "Train on every subword (continuation pieces get the I- label) instead of the first only."})
    freeze_embeddings: bool = field(default=True, metadata={
        "help": "Freeze the word-embedding matrix (83% of multilingual-e5-small's parameters): about 2x "
                "faster steps on CPU at the same F1."})
    cpu_dropout: bool = field(default=True, metadata={
        "help": "On the CPU, draw dropout masks four to a random word and run attention without SDPA's unfused "
                "dropout path (core.model.dropout): the same Bernoulli masks, about 1.3x faster steps (e5-small, "
                "2 cores). Off: torch's dropout. GPUs always use torch's (fused there)."})
    language_sampling_alpha: float = field(default=1.0, metadata={
        "help": "Sample languages with probability proportional to n_lang ** alpha (XLM-R, Conneau et al. 2020): "
                "1.0 keeps the corpus proportions, 0.3 is XLM-R's choice, 0.0 samples languages uniformly."})
    eval_steps: int = field(default=0, metadata={
        "help": "Evaluate on dev every this many optimizer steps; 0 evaluates at the end of each epoch."})
    eval_max_sentences: int = field(default=500, metadata={
        "help": "Dev sentences scored during training (a fixed, language-stratified sample); 0 uses all. "
                "The final test evaluation always uses every sentence."})
    early_stopping_patience: int = field(default=0, metadata={
        "help": "Stop after this many evaluations without a better dev F1; 0 never stops early."})
    precision: str = field(default="auto", metadata={
        "help": "auto: bf16 autocast on a GPU that supports it and on a CPU with native bf16 instructions "
                "(avx512_bf16/AMX: 1.75x faster steps), fp32 elsewhere; fp32; or bf16. Weights and the "
                "optimizer state stay fp32."})
    lora: bool = field(default=False, metadata={
        "help": "Train LoRA adapters (peft) on the attention projections instead of all weights (at "
                "learning_rate x adapter_lr_multiplier)."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.1, metadata={"help": "Dropout on the LoRA path."})
    adapter_lr_multiplier: float = field(default=10.0, metadata={
        "help": "Learning-rate factor for LoRA weights (lora, and the adapters of adapters=per_language): "
                "low-rank updates need a larger rate than full fine-tuning (Hu et al. 2021 used 4e-4 to 5e-4 on "
                "RoBERTa-base against 1e-5 to 3e-5 for full fine-tuning)."})
    adapters: str = field(default="shared", metadata={
        "help": "shared: one model for every language (plain fine-tune, or one LoRA adapter with lora). "
                "per_language: one LoRA adapter per language (or per group of `groups`) on the shared encoder, one "
                "shared classification head, and a shared adapter that answers languages without their own; each "
                "batch holds one language and trains the encoder, the head and that language's adapter. See "
                "README \"Adaptation\" for what it measured."})
    groups: dict = field(default_factory=dict, metadata={
        "help": "With adapters=per_language: {group_name: [language codes]} sharing one adapter (e.g. "
                "{\"bantu\": [\"sw\", \"rw\"]}); a language in no group gets its own adapter."})
    mlm_probability: float = field(default=0.15, metadata={
        "help": "Continued pre-training (ner-studio pretrain) only: share of words masked (whole words, "
                "BERT's 80% [MASK] / 10% random / 10% kept)."})
    dev_fraction: float = field(default=0.1, metadata={
        "help": "Share of the training sentences held out as dev when no dev set is given (stratified by "
                "language, whole documents kept together)."})
    num_threads: int = field(default=0, metadata={
        "help": "CPU threads for torch; 0 picks one per physical core."})
    ddp_processes: int = field(default=0, metadata={
        "help": "Data-parallel processes (DDP through torchrun): 0 uses one per visible GPU when there are "
                "several, else one process; on CPU, N > 1 runs N gloo processes."})
    report_to: str = field(default="none", metadata={
        "help": "Experiment trackers that also receive the config and every metric row: none, or a comma-separated "
                "list of tensorboard, mlflow, wandb (optional extras; event files / file store under the run's "
                "trackers/ folder)."})
    device: str = field(default="auto", metadata={
        "help": f"{DEVICE_CHOICES}: auto takes the first GPU when there is one, else the CPU; cuda means cuda:0."})

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "TrainConfig":
        """Build and validate a config from a plain dict.

        Raises:
            ConfigError: E201 for an unknown key (with the closest valid name), E202 for a bad value.
        """
        data = dict(data or {})
        names = {f.name: f for f in fields(cls)}
        unknown = [k for k in data if k not in names]
        if unknown:
            k = unknown[0]
            close = difflib.get_close_matches(k, list(names), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError("E201", f"unknown configuration key {k!r}.{hint}", text=k,
                              fix="Valid keys: " + ", ".join(names))
        kwargs = {}
        for k, v in data.items():
            kwargs[k] = _coerce(k, v, names[k].type, type(getattr(cls(), k)))
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Check ranges; write ``device`` in its canonical form (:func:`core.kernel.devices.select_device`).

        Raises:
            ConfigError: E202 naming the field, the value and the valid range.
        """
        self.device = select_device(self.device)
        checks = [
            ("learning_rate", 0 < self.learning_rate <= 1, "a number in (0, 1], e.g. 5e-5"),
            ("classifier_lr_multiplier", 0 < self.classifier_lr_multiplier <= 1000, "in (0, 1000]"),
            ("num_train_epochs", self.num_train_epochs > 0 or self.max_steps > 0, "> 0 (or set max_steps)"),
            ("max_steps", self.max_steps == -1 or self.max_steps > 0, "-1 or a positive integer"),
            ("per_device_train_batch_size", 1 <= self.per_device_train_batch_size <= 4096, "1 to 4096"),
            ("tokens_per_batch", self.tokens_per_batch == 0 or self.tokens_per_batch >= self.max_seq_length,
             f"0 or at least max_seq_length ({self.max_seq_length})"),
            ("gradient_accumulation_steps", self.gradient_accumulation_steps >= 1, ">= 1"),
            ("max_seq_length", 8 <= self.max_seq_length <= 8192, "8 to 8192"),
            ("stride", 0 <= self.stride < self.max_seq_length // 2, f"0 to {self.max_seq_length // 2 - 1} "
                                                                    "(less than half of max_seq_length)"),
            ("warmup_ratio", 0 <= self.warmup_ratio < 1, "in [0, 1)"),
            ("weight_decay", 0 <= self.weight_decay < 1, "in [0, 1)"),
            ("max_grad_norm", self.max_grad_norm >= 0, ">= 0"),
            ("language_sampling_alpha", 0 <= self.language_sampling_alpha <= 1, "in [0, 1]"),
            ("eval_steps", self.eval_steps >= 0, ">= 0"),
            ("eval_max_sentences", self.eval_max_sentences >= 0, ">= 0"),
            ("early_stopping_patience", self.early_stopping_patience >= 0, ">= 0"),
            ("precision", self.precision in ("auto", "fp32", "bf16"), "auto, fp32 or bf16"),
            ("lora_r", self.lora_r >= 1, ">= 1"),
            ("lora_dropout", 0 <= self.lora_dropout < 1, "in [0, 1)"),
            ("adapter_lr_multiplier", 0 < self.adapter_lr_multiplier <= 1000, "in (0, 1000]"),
            ("mlm_probability", 0 < self.mlm_probability < 1, "in (0, 1)"),
            ("dev_fraction", 0 < self.dev_fraction < 0.5, "in (0, 0.5)"),
            ("num_threads", 0 <= self.num_threads <= 256, "0 to 256"),
            ("ddp_processes", 0 <= self.ddp_processes <= 64, "0 to 64"),
            ("model_name_or_path", bool(self.model_name_or_path.strip()), "a model name or folder"),
            ("report_to", {n.strip().lower() for n in self.report_to.split(",")} <= {"", "none", *REPORT_TO_CHOICES},
             "none or a comma-separated list of " + ", ".join(REPORT_TO_CHOICES)),
            ("adapters", self.adapters in ADAPTER_MODES, " or ".join(ADAPTER_MODES)),
            ("groups", _valid_groups(self.groups), "a JSON object {group_name: [language codes]}, each language "
                                                   "in one group at most, names of letters, digits, - and _"),
            ("ddp_processes", self.adapters == "shared" or self.ddp_processes <= 1,
             "0 or 1 with adapters=per_language (its batches switch adapters, which data parallel cannot follow)"),
        ]
        for name, ok, valid in checks:
            if not ok:
                raise ConfigError("E202", f"{name} = {getattr(self, name)!r} is invalid", text=str(getattr(self, name)),
                                  fix=f"{name} must be {valid}.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


#: Values of ``TrainConfig.adapters``.
ADAPTER_MODES = ("shared", "per_language")


def _valid_groups(groups: Any) -> bool:
    """``{name: [codes]}`` with word-like names and every language in one group at most."""
    import re

    if not isinstance(groups, dict):
        return False
    seen: set[str] = set()
    for name, langs in groups.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", name) or name == "shared":
            return False
        if not isinstance(langs, list) or not langs or not all(isinstance(x, str) and x for x in langs):
            return False
        if seen & set(langs):
            return False
        seen |= set(langs)
    return True


def field_help() -> dict[str, str]:
    """Field name -> help text, for forms and ``--help``."""
    return {f.name: f.metadata.get("help", "") for f in fields(TrainConfig)}


def _coerce(name: str, value: Any, annotation: Any, py_type: type) -> Any:
    """Convert a JSON/form value to the field's type; ConfigError E202 when it cannot be."""
    try:
        if py_type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
                return value.lower() in ("true", "1", "yes")
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError("not a boolean")
        if py_type is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError("not an integer")
            return int(value)
        if py_type is float:
            if isinstance(value, bool):
                raise ValueError("not a number")
            return float(value)
        if py_type is dict:
            value = json.loads(value) if isinstance(value, str) else value
            if not isinstance(value, dict):
                raise ValueError("not a JSON object")
            return value
        if py_type is str:
            if not isinstance(value, str):
                raise ValueError("not a string")
            return value
    except (TypeError, ValueError) as exc:
        raise ConfigError("E202", f"{name} = {value!r} is invalid: {exc}", text=repr(value),
                          fix=f"{name} must be of type {py_type.__name__}.") from exc
    return value
