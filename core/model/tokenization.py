"""Tokenizer quirks: load a fast tokenizer that encodes pre-split words exactly as running text.

Byte-level BPE tokenizers (RoBERTa, GPT-2, DeBERTa v1 ...) need ``add_prefix_space=True`` at load time for
pre-split words; transformers 5.x silently ignores it when set afterwards (docs/PITFALLS.md).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from core.kernel.errors import ConfigError

log = logging.getLogger(__name__)



# model_type values whose tokenizers are byte-level BPE and need add_prefix_space=True for pre-split words.
_BYTE_LEVEL_MODEL_TYPES = frozenset({"roberta", "gpt2", "bart", "longformer", "deberta", "mvp", "led", "bloom",
                                     "gpt_neo", "gpt_neox", "codegen", "blenderbot", "mpnet"})


def needs_prefix_space(model_dir: str) -> bool:
    """Whether the folder's tokenizer is byte-level BPE (RoBERTa, GPT-2, DeBERTa v1 ...).

    Decided from ``tokenizer.json`` (a ``ByteLevel`` pre-tokenizer, also inside a ``Sequence``) or, without it,
    from ``config.json``'s ``model_type``. Source of the rule: docs/PITFALLS.md (transformers 5 silently treats
    each pre-split word as a sentence start unless ``add_prefix_space=True`` is given at load time).
    """
    tok_json = os.path.join(model_dir, "tokenizer.json")
    if os.path.isfile(tok_json):
        with open(tok_json, encoding="utf-8") as f:
            pre = json.load(f).get("pre_tokenizer") or {}
        stack = [pre]
        while stack:
            node = stack.pop()
            if not isinstance(node, dict):
                continue
            if node.get("type") == "ByteLevel":
                return True
            stack.extend(node.get("pretokenizers") or [])
        return False
    cfg = os.path.join(model_dir, "config.json")
    if os.path.isfile(cfg):
        with open(cfg, encoding="utf-8") as f:
            return json.load(f).get("model_type") in _BYTE_LEVEL_MODEL_TYPES
    return False


def load_tokenizer(model_dir: str):
    """Load the fast tokenizer of a model folder, ready for pre-split words (``is_split_into_words=True``).

    ``add_prefix_space=True`` is passed at load time for byte-level BPE tokenizers (:func:`needs_prefix_space`);
    setting the attribute afterwards is ignored by transformers 5 (docs/PITFALLS.md). Classes that ignore it even at
    load time (the generic ``TokenizersBackend``) get their ``ByteLevel`` pre-tokenizer fixed and checked
    (:func:`_ensure_prefix_space`).

    Args:
        model_dir: a local folder (see :func:`resolve_model`).

    Returns:
        A transformers fast tokenizer (``is_fast`` is True, so ``word_ids()`` is available).

    Raises:
        ConfigError: ``E203`` when the folder has no fast tokenizer (``word_ids()`` is needed to align labels).
    """
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {}
    byte_level = needs_prefix_space(model_dir)
    if byte_level:
        kwargs["add_prefix_space"] = True
    tokenizer = AutoTokenizer.from_pretrained(model_dir, **kwargs)
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("E203", f"the tokenizer of {model_dir!r} is not a fast (Rust) tokenizer "
                                  f"({type(tokenizer).__name__}); word_ids() is needed to align labels to words",
                          text=model_dir, fix="Add a tokenizer.json to the folder (save it with a fast tokenizer), "
                                              "or use a bundled model.")
    if byte_level:
        _ensure_prefix_space(tokenizer, model_dir)
    return tokenizer


_PREFIX_PROBE = (["Hello", "world"], " Hello world")


def _prefixes_words(tokenizer) -> bool:
    words = tokenizer(_PREFIX_PROBE[0], is_split_into_words=True, add_special_tokens=False)["input_ids"]
    return words == tokenizer(_PREFIX_PROBE[1], add_special_tokens=False)["input_ids"]


def _ensure_prefix_space(tokenizer, model_dir: str) -> None:
    """Make a byte-level tokenizer encode pre-split words as they appear inside running text.

    Tokenizer classes that know ``add_prefix_space`` (``RobertaTokenizer``, ``GPT2Tokenizer``) apply it at load
    time; the generic ``TokenizersBackend`` of transformers 5 only stores the attribute and keeps
    ``ByteLevel(add_prefix_space=False)`` in the Rust pipeline. Checked behaviourally (``["Hello", "world"]``
    as words must encode like ``" Hello world"``); if it does not, every ``ByteLevel`` pre-tokenizer of the
    backend gets ``add_prefix_space=true``.

    Raises:
        ConfigError: ``E203`` when the words still encode differently after the fix.
    """
    if _prefixes_words(tokenizer):
        return
    from tokenizers import Tokenizer

    backend = tokenizer.backend_tokenizer
    state = json.loads(backend.to_str())
    stack = [state.get("pre_tokenizer")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "ByteLevel":
                node["add_prefix_space"] = True
            stack.extend(node.get("pretokenizers") or [])
    backend.pre_tokenizer = Tokenizer.from_str(json.dumps(state)).pre_tokenizer
    if not _prefixes_words(tokenizer):
        raise ConfigError("E203", f"the byte-level tokenizer of {model_dir!r} encodes pre-split words differently "
                                  "from running text even with add_prefix_space", text=model_dir,
                          fix="Use a model whose tokenizer supports add_prefix_space (RoBERTa, GPT-2 classes).")

