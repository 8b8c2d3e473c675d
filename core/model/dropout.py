"""Dropout for training on the CPU: the Bernoulli(p) masks of ``torch.nn.Dropout``, drawn four to a random word.

Why our own: on the CPU, torch's dropout (``bernoulli_``) draws one Mersenne-Twister number per element. In a
training step of multilingual-e5-small (batch 16, bf16 autocast, 2 cores) the attention-probability and hidden
dropouts took 22% of the step (torch.profiler: ``aten::bernoulli_`` 289 of 1,287 ms), more than any matmul but
the largest. Here each full-range 64-bit draw of torch's generator gives four 16-bit words and an element is
dropped where its word falls in the lowest ``round(p * 65536)`` of the 65,536 values: the same independent
Bernoulli masks (drop probability rounded to a multiple of 1/65536, off by at most 7.6e-6; 0.1 becomes
0.100006), 4x fewer draws, a 1-byte mask kept for the backward pass. Seeding (``torch.manual_seed``,
accelerate's ``set_seed``) and checkpointed RNG states cover it as they cover torch's dropout.

On the CPU, SDPA with dropout falls back to its unfused math path (PyTorch's fused CPU kernel has no dropout),
slower than transformers' eager attention; :func:`attention_forward` is that eager attention with this dropout
while training, and transformers' SDPA (fused) when not. Measured on 2 cores, multilingual-e5-small, batch 16:
491-537 ms a step against 659-692 for SDPA with torch's dropout (24 bucketed batches); ``bench/train_speed.py
--quick --seeds 42 --recipes studio`` 79.7 s against 89.3 s to dev F1 0.50. GPUs keep torch's dropout: it is
fused there (Philox) and costs almost nothing.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

#: transformers attention implementation registered by :func:`register_attention` (training on the CPU).
ATTN_IMPLEMENTATION = "ner_studio_cpu"
_WORD_LEVELS = 65536  # values of one 16-bit word


def drop_mask(shape: tuple[int, ...] | torch.Size, p: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """Independent Bernoulli draws: True (drop) with probability ``round(p * 65536) / 65536`` (at most
    65535 / 65536; :func:`cpu_dropout` leaves p that rounds to 0 or 1 to torch).

    Args:
        shape: the mask's shape (that of the tensor dropped).
        p: drop probability in [0, 1).
        device: where the mask is drawn (torch's generator of that device).

    Returns:
        ``torch.bool`` tensor of ``shape``.

    Raises:
        ValueError: ``p`` outside [0, 1).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    levels = min(round(p * _WORD_LEVELS), _WORD_LEVELS - 1)  # 65536 would wrap to -32768 in an int16 compare
    n = math.prod(shape)
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-2 ** 63, None)  # full 64 bits
    threshold = -_WORD_LEVELS // 2 + levels
    return words.view(torch.int16)[:n].view(tuple(shape)) < threshold


class _MaskedScale(torch.autograd.Function):
    """``x * keep / (1 - p)``, keeping only the boolean mask for the backward pass."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, p: float) -> torch.Tensor:
        drop = drop_mask(x.shape, p, x.device)
        ctx.save_for_backward(drop)
        ctx.scale = 1.0 / (1.0 - p)
        return x.mul(ctx.scale).masked_fill_(drop, 0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        (drop,) = ctx.saved_tensors
        return grad.mul(ctx.scale).masked_fill_(drop, 0), None


def cpu_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``torch.nn.functional.dropout`` with CPU masks from :func:`drop_mask`; other devices use torch's.

    Args:
        x: any shape and floating dtype.
        p: drop probability in [0, 1).
        training: False (or ``p == 0``) returns ``x`` itself.

    Returns:
        Tensor of ``x``'s shape and dtype: dropped elements 0, the others scaled by ``1 / (1 - p)``.
    """
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or round(p * _WORD_LEVELS) in (0, _WORD_LEVELS):
        return nn.functional.dropout(x, p, True)  # fused on GPUs; p within 2**-17 of 0 or 1: torch's exact draw
    return _MaskedScale.apply(x, p)


class CpuDropout(nn.Dropout):
    """``torch.nn.Dropout`` (same ``p``, same state dict: none) that draws CPU masks with :func:`drop_mask`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cpu_dropout(x, self.p, self.training)


def attention_forward(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
                      **kwargs: Any) -> tuple[torch.Tensor, None]:
    """A transformers attention function (``AttentionInterface``): eager attention with :func:`cpu_dropout` on the
    attention probabilities while training a bidirectional encoder on the CPU, transformers'
    ``sdpa_attention_forward`` otherwise (eval, no dropout, other devices, and anything the eager path does not
    implement: causal attention, grouped key/value heads, position bias, softcap, sliding windows).

    Args:
        query, key, value: ``(batch, heads, seq_len, head_dim)``, the model's (or autocast's) dtype.
        attention_mask: transformers' SDPA mask (``sdpa_mask``): ``torch.bool`` ``(batch, 1, q_len, kv_len)``,
            True where a query may attend, or a float additive mask, or None (attend everywhere).
        scaling: score scale, default ``head_dim ** -0.5``; dropout: attention-probability dropout.

    Returns:
        ``(attn_output (batch, seq_len, heads, head_dim), None)``, as transformers' own functions return.
    """
    causal = kwargs.get("is_causal")
    causal = getattr(module, "is_causal", True) if causal is None else causal  # sdpa_attention_forward's default
    plain = (not causal and key.shape[1] == query.shape[1]  # bidirectional, no grouped key/value heads
             and all(kwargs.get(k) is None for k in ("position_bias", "softcap", "sliding_window", "s_aux")))
    if not module.training or dropout == 0.0 or query.device.type != "cpu" or not plain:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        # as transformers' eager attention: no dropout outside training, whatever the caller passes
        out, _ = sdpa_attention_forward(module, query, key, value, attention_mask,
                                        dropout=dropout if module.training else 0.0, scaling=scaling, **kwargs)
        return out, None
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query * scaling, key.transpose(2, 3))  # (batch, heads, q_len, kv_len)
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    # under CPU autocast the scores are bf16; torch's CPU softmax accumulates in float32 and rounds its output
    # (bit-identical to softmax in float32 cast to bf16, checked on (16, 12, 80, 80)), so no upcast here: that
    # one cost 5% of a step
    probs = cpu_dropout(torch.softmax(scores, dim=-1), dropout, True)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), None


def register_attention() -> None:
    """Register :func:`attention_forward` as ``ATTN_IMPLEMENTATION`` with SDPA's mask (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTN_IMPLEMENTATION, attention_forward)
    AttentionMaskInterface.register(ATTN_IMPLEMENTATION, sdpa_mask)


def use_cpu_dropout(model: nn.Module) -> list[str]:
    """Switch a model to this module's dropout for training on the CPU, in place.

    Every ``torch.nn.Dropout`` submodule with ``p > 0`` becomes :class:`CpuDropout` (same ``p``); a model whose
    attention runs through transformers' ``AttentionInterface`` (``config._attn_implementation`` ``sdpa`` or
    ``eager``) switches to :func:`attention_forward`. Weights, state dict and saved config are unchanged (the
    attention implementation is not serialised), so a saved model loads anywhere.

    Returns:
        What changed, for the run log (``["12 dropout layers", "attention"]``).
    """
    swapped = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout and child.p > 0:
                setattr(parent, name, CpuDropout(child.p, child.inplace).train(child.training))
                swapped += 1
    changed = [f"{swapped} dropout layers"] if swapped else []
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", None) in ("sdpa", "eager") and hasattr(model, "set_attn_implementation"):
        register_attention()
        model.set_attn_implementation(ATTN_IMPLEMENTATION)  # a model without AttentionInterface only warns
        if config._attn_implementation == ATTN_IMPLEMENTATION:
            changed.append("attention")
    return changed
