"""Per-language LoRA adapters on one shared encoder and one shared classification head (``adapters=per_language``).

The "adaptive models" step of multilingual adaptation: the parameters used for a sentence are chosen by its
language. Built on peft's multi-adapter API (``get_peft_model(..., adapter_name=)``, ``add_adapter``,
``set_adapter``), as in MAD-X-style language adapters (Pfeiffer et al. 2020) but with LoRA modules:

* the encoder is shared by every language and keeps training, as in a plain fine-tune;
* one LoRA adapter per language (or per user group, ``TrainConfig.groups``) on the attention projections, plus a
  ``shared`` adapter that answers every language without its own (``und`` included), at ``learning_rate *
  adapter_lr_multiplier``;
* one classification head, trained outside peft (not in ``modules_to_save``, which would give every adapter its own
  copy of the head): every batch updates it, whatever its language.

Training routes each batch (single-language, see :func:`core.train.loop.make_batches`) to its language's adapter,
except every ``n_adapters + 1``-th batch of an epoch, which trains the shared adapter, so the fallback has seen every
language. Each batch trains the encoder, the head and its adapter; AdamW skips parameters whose gradient is None, so
the other adapters do not change. Why the encoder is not frozen (MAD-X freezes it, Pfeiffer et al. 2020): on
bench/adaptation.py (MasakhaNER ha/sw/yo, multilingual-e5-small, 200 steps, 3 seeds) adapters on the frozen
pre-trained encoder stayed at F1 0.02 (and a single LoRA adapter, ``lora=True``, at dev F1 0.000 in one seed),
and adapters on an encoder frozen after 100 shared steps reached 0.30 against 0.43 for the shared fine-tune; see
README "Adaptation" for the figures of this design.

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

    Every adapter, the classification head and the encoder are trainable (a weight the caller froze before, such
    as the word embeddings with ``cfg.freeze_embeddings``, stays frozen); peft's ``set_adapter`` (:class:`AdapterRouter`) later makes only the active adapter's
    LoRA weights trainable.

    Returns:
        ``peft.PeftModel`` with ``shared`` active.
    """
    from peft import LoraConfig, get_peft_model

    def lora():
        return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=list(LORA_TARGETS))

    frozen = {id(p) for p in model.parameters() if not p.requires_grad}  # the word embeddings, when frozen
    peft_model = get_peft_model(model, lora(), adapter_name=SHARED_ADAPTER)
    for name in sorted(set(routes.values())):
        if name != SHARED_ADAPTER:
            peft_model.add_adapter(name, lora())
    for p in peft_model.parameters():
        # peft froze every non-LoRA weight: the encoder and the head train again, and every adapter is trainable so
        # that the optimizer holds them all (only the active adapter is in the forward pass, so only it gets a
        # gradient; AdamW skips the others)
        p.requires_grad_(id(p) not in frozen)
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

    def activate(self, name: str) -> None:
        """Make ``name`` the active (and the only gradient-receiving) adapter."""
        if self.model.active_adapter != name:
            self.model.set_adapter(name)  # peft: this adapter's LoRA weights trainable, the other adapters' not


def save_adapter_model(model, out_dir: str | Path) -> None:
    """Write the shared base model (head included, LoRA weights stripped) and every adapter to ``out_dir``.

    Raises:
        OSError: when the folder cannot be written.
    """
    base = model.get_base_model()
    clean = {k.replace(".base_layer.", "."): v for k, v in base.state_dict().items() if "lora_" not in k}
    base.save_pretrained(str(out_dir), state_dict=clean)
    model.save_pretrained(str(Path(out_dir) / ADAPTERS_SUBDIR))  # one sub-folder per adapter name
