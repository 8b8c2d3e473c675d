"""Per-language LoRA adapters on one shared encoder and one shared classification head (``adapters=per_language``).

The "adaptive models" step of multilingual adaptation: the parameters used for a sentence are chosen by its
language. Built on peft's multi-adapter API (``get_peft_model(..., adapter_name=)``, ``add_adapter``,
``set_adapter``), as in MAD-X-style language adapters (Pfeiffer et al. 2020) but with LoRA modules:

* the encoder's own weights are frozen and shared by every language;
* one LoRA adapter per language (or per user group, ``TrainConfig.groups``) on the attention projections, plus a
  ``shared`` adapter that answers every language without its own (``und`` included);
* one classification head, trained outside peft (not in ``modules_to_save``, which would give every adapter its own
  copy of the head): every batch updates it, whatever its language.

Training has two phases (:func:`set_phase`). The first ``TrainConfig.shared_phase_ratio`` of the steps is the
multilingual fine-tune: the whole encoder and the head train on every language, no adapter does (LoRA's ``B``
starts at zero, so the adapters add nothing yet). Then the encoder is frozen and each batch (single-language, see
:func:`core.train.loop.make_batches`) trains its language's adapter, except every ``n_adapters + 1``-th batch of an
epoch, which trains the shared adapter, so the fallback has seen every language. AdamW skips parameters whose
gradient is None, so a batch changes only its adapter and the head. Why two phases: on bench/adaptation.py
(MasakhaNER ha/sw/yo, multilingual-e5-small, 200 steps) adapters on the frozen pre-trained encoder never left the
all-``O`` plateau (dev F1 0.000 for every language, and 0.000 for a single LoRA adapter, ``lora=True``, too), while
the full fine-tune reached 0.42; adapters on top of the fine-tuned encoder start from what it learnt (MAD-X also
puts task and language adapters on a trained model, Pfeiffer et al. 2020).

Saved folder: the base transformers model with the trained head (``save_pretrained``, LoRA weights stripped),
``adapters/<name>/`` peft adapter folders, and ``ner_studio.json["adapters"]`` = ``{"routes": {lang: name},
"names": [...], "fallback": "shared"}``, which :class:`core.model.predictor.Predictor` reads to route sentences.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from core.kernel.config import TrainConfig
from core.model.predictor import ADAPTERS_SUBDIR, SHARED_ADAPTER

#: Attention projections that get LoRA modules (BERT / XLM-R names; the same targets as ``lora=True``).
LORA_TARGETS = ["query", "key", "value"]


def adapter_name(label: str) -> str:
    """A peft adapter name for a language code or group name: letters, digits, ``_`` and ``-`` only (peft keeps
    adapters in ``ModuleDict`` keys, which cannot hold ``.``, and saves each under a folder of that name)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", label) or "_"


def adapter_routes(cfg: TrainConfig, langs: Sequence[str]) -> dict[str, str]:
    """Language -> adapter name for the languages of the training data.

    A language in a ``cfg.groups`` group gets the group's adapter, any other its own; ``und`` (language unknown) gets
    none: it is answered by the shared adapter.

    Returns:
        ``{lang: adapter_name}``, sorted by language (empty when ``cfg.adapters`` is ``shared``).
    """
    if cfg.adapters != "per_language":
        return {}
    group_of = {lang: name for name, members in cfg.groups.items() for lang in members}
    out: dict[str, str] = {}
    for lang in sorted(set(langs)):
        if lang == "und":
            continue
        out[lang] = adapter_name(group_of.get(lang, lang))
    return out


def routing_meta(routes: dict[str, str]) -> dict:
    """The ``ner_studio.json["adapters"]`` entry: routes, adapter names, fallback."""
    return {"routes": dict(routes), "names": sorted(set(routes.values())), "fallback": SHARED_ADAPTER}


def add_language_adapters(model, cfg: TrainConfig, routes: dict[str, str]):
    """Wrap a token-classification model in a peft model with the shared adapter and one adapter per route.

    Every adapter and the classification head are trainable, and with ``cfg.shared_phase_ratio > 0`` the encoder
    too (the word embeddings stay frozen with ``cfg.freeze_embeddings``): the optimizer is built once over every
    weight that trains in either phase, and :func:`set_phase` chooses which of them get gradients.

    Returns:
        ``peft.PeftModel`` with ``shared`` active.
    """
    from peft import LoraConfig, get_peft_model

    def lora():
        return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=list(LORA_TARGETS))

    frozen = {id(model.get_input_embeddings().weight)} if cfg.freeze_embeddings else set()
    peft_model = get_peft_model(model, lora(), adapter_name=SHARED_ADAPTER)
    for name in sorted(set(routes.values())):
        if name != SHARED_ADAPTER:
            peft_model.add_adapter(name, lora())
    encoder_trains = cfg.shared_phase_ratio > 0
    for name, p in peft_model.named_parameters():
        # all adapters take part in the optimizer (set_adapter later switches which one gets gradients)
        p.requires_grad_("lora_" in name or is_head_parameter(name) or (encoder_trains and id(p) not in frozen))
    return peft_model


def is_head_parameter(name: str) -> bool:
    """True for the classification head's parameters (``classifier.*``, also inside a peft wrapper)."""
    return name.startswith("classifier") or ".classifier." in name


class AdapterRouter:
    """Which adapter a training batch trains, and switching to it.

    Args:
        model: the peft model of :func:`add_language_adapters`.
        routes: ``{lang: adapter_name}``.
    """

    def __init__(self, model, routes: dict[str, str]) -> None:
        self.model = model
        self.routes = dict(routes)
        self.shared_every = len(set(routes.values())) + 1

    def adapter_for(self, lang: str, batch_pos: int) -> str:
        """The adapter for a batch of ``lang`` at 1-based position ``batch_pos`` of its epoch: the shared one for
        every ``shared_every``-th batch and for a language without an adapter, else the language's."""
        if batch_pos % self.shared_every == 0:
            return SHARED_ADAPTER
        return self.routes.get(lang, SHARED_ADAPTER)

    def activate(self, name: str, force: bool = False) -> None:
        """Make ``name`` the active (and the only gradient-receiving) adapter; ``force`` re-applies peft's
        trainable flags even when ``name`` is already active (after :func:`set_phase` froze every adapter)."""
        if force or self.model.active_adapter != name:
            self.model.set_adapter(name)  # peft: this adapter's LoRA weights trainable, the other adapters' not


#: The two training phases of :func:`set_phase`.
SHARED_PHASE, ADAPTER_PHASE = "shared", "adapters"


def set_phase(model, phase: str, frozen: Sequence = ()) -> None:
    """Set which weights train: in :data:`SHARED_PHASE` the encoder and the head, no LoRA weight; in
    :data:`ADAPTER_PHASE` the head only (the caller then activates the batch's adapter, whose LoRA weights peft
    makes trainable).

    Args:
        model: the peft model of :func:`add_language_adapters`.
        phase: :data:`SHARED_PHASE` or :data:`ADAPTER_PHASE`.
        frozen: parameters that never train (the word embeddings with ``freeze_embeddings``).

    Raises:
        ValueError: for another ``phase`` (a programming error, not user input).
    """
    if phase not in (SHARED_PHASE, ADAPTER_PHASE):
        raise ValueError(f"unknown phase {phase!r}")
    keep_frozen = {id(p) for p in frozen}
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.requires_grad_(False)
        elif is_head_parameter(name):
            p.requires_grad_(True)
        else:
            p.requires_grad_(phase == SHARED_PHASE and id(p) not in keep_frozen)


def save_adapter_model(model, out_dir: str | Path) -> None:
    """Write the shared base model (head included, LoRA weights stripped) and every adapter to ``out_dir``.

    Raises:
        OSError: when the folder cannot be written.
    """
    base = model.get_base_model()
    clean = {k.replace(".base_layer.", "."): v for k, v in base.state_dict().items() if "lora_" not in k}
    base.save_pretrained(str(out_dir), state_dict=clean)
    model.save_pretrained(str(Path(out_dir) / ADAPTERS_SUBDIR))  # one sub-folder per adapter name
