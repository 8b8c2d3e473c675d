"""Tests of core.model.dropout: the CPU dropout masks, the eager attention that uses them, the model switch."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from core.model.dropout import (ATTN_IMPLEMENTATION, CpuDropout, attention_forward, cpu_dropout, drop_mask,
                                use_cpu_dropout)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_mask_rate_is_p_within_sampling_error(p):
    torch.manual_seed(0)
    n = 400_000
    mask = drop_mask((n,), p)
    assert mask.dtype == torch.bool and mask.shape == (n,)
    rate = mask.float().mean().item()
    expected = round(p * 65536) / 65536
    assert abs(rate - expected) < 5 * math.sqrt(p * (1 - p) / n)  # 5 standard errors


def test_drop_mask_shapes_and_edge_probabilities():
    torch.manual_seed(1)
    for shape in [(1,), (3,), (5, 7), (2, 3, 5, 7)]:  # sizes that are not multiples of 4 words
        assert drop_mask(shape, 0.3).shape == shape
    assert not drop_mask((1000,), 0.0).any()
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="dropout probability"):
            drop_mask((4,), bad)


def test_drop_mask_elements_are_independent_and_seeded():
    torch.manual_seed(2)
    a = drop_mask((200_000,), 0.5)
    torch.manual_seed(2)
    assert torch.equal(a, drop_mask((200_000,), 0.5))  # torch's seed covers it
    # neighbours (which share a 64-bit draw) are uncorrelated: P(both dropped) = p^2
    both = (a[0::2] & a[1::2]).float().mean().item()
    assert abs(both - 0.25) < 0.01
    assert not torch.equal(a, drop_mask((200_000,), 0.5))  # the generator moved on


def test_cpu_dropout_scales_kept_values_and_gradient_is_the_mask():
    torch.manual_seed(3)
    x = torch.randn(64, 33, requires_grad=True)
    y = cpu_dropout(x, 0.25)
    kept = y != 0
    assert 0.6 < kept.float().mean().item() < 0.9
    assert torch.allclose(y[kept], x.detach()[kept] / 0.75)
    y.sum().backward()
    assert torch.allclose(x.grad, kept.float() / 0.75)
    # eval mode and p == 0 return the input itself
    assert cpu_dropout(x, 0.25, training=False) is x and cpu_dropout(x, 0.0) is x


def test_probabilities_that_round_to_0_or_1_use_torchs_dropout():
    torch.manual_seed(8)
    x = torch.ones(100_000)
    y = cpu_dropout(x, 0.999995)  # round(p * 65536) == 65536: would wrap to "drop nothing" in an int16 compare
    assert (y == 0).float().mean().item() > 0.99
    assert drop_mask((100_000,), 0.999995).float().mean().item() > 0.99  # drawn at 65535 / 65536
    torch.manual_seed(8)
    tiny = cpu_dropout(x, 1e-6)  # rounds to 0 levels: torch's exact draw and scale
    torch.manual_seed(8)
    assert torch.equal(tiny, torch.nn.functional.dropout(x, 1e-6, True))


def test_cpu_dropout_module_follows_train_and_eval():
    layer = CpuDropout(0.5)
    x = torch.ones(1000)
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    out = layer(x)
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert layer.state_dict() == {}


class _Attn(nn.Module):
    def __init__(self, training: bool, is_causal: bool = False):
        super().__init__()
        self.train(training)
        self.is_causal = is_causal


def _qkv(seed=4, batch=2, heads=3, seq=6, dim=8):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, heads, seq, dim, generator=g) for _ in range(3)]


def _padding_mask(batch=2, seq=6):
    keep = torch.ones(batch, seq, dtype=torch.bool)
    keep[1, 4:] = False  # the second sentence is 4 tokens long
    return keep[:, None, None, :].expand(batch, 1, seq, seq)


def test_attention_in_training_equals_eager_attention_with_the_same_mask():
    q, k, v = _qkv()
    mask = _padding_mask()
    torch.manual_seed(5)
    out, weights = attention_forward(_Attn(True), q, k, v, mask, scaling=0.25, dropout=0.1)
    assert weights is None and out.shape == (2, 6, 3, 8)
    # reference: softmax(q k^T * s + mask) with the same dropout draw
    scores = (q @ k.transpose(2, 3)) * 0.25
    scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, -1)
    torch.manual_seed(5)
    drop = drop_mask(probs.shape, 0.1)
    ref = (probs / 0.9).masked_fill(drop, 0) @ v
    assert torch.allclose(out, ref.transpose(1, 2), atol=1e-5)
    assert drop.any()  # the comparison included dropped weights


def test_attention_in_eval_equals_sdpa():
    q, k, v = _qkv()
    mask = _padding_mask()
    out, _ = attention_forward(_Attn(False), q, k, v, mask, scaling=0.25, dropout=0.1)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.25)
    assert torch.allclose(out, ref.transpose(1, 2), atol=1e-5)
    # an additive float mask gives the same result as the boolean one
    additive = torch.zeros(mask.shape).masked_fill(~mask, torch.finfo(torch.float32).min)
    torch.manual_seed(6)
    a, _ = attention_forward(_Attn(True), q, k, v, mask, scaling=0.25, dropout=0.2)
    torch.manual_seed(6)
    b, _ = attention_forward(_Attn(True), q, k, v, additive, scaling=0.25, dropout=0.2)
    assert torch.allclose(a, b, atol=1e-5)


def test_use_cpu_dropout_keeps_eval_logits_and_saves_a_plain_model(tiny_model_dir, tmp_path):
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir)
    ids = torch.tensor([[2, 10, 11, 12, 3, 0]])
    am = torch.tensor([[1, 1, 1, 1, 1, 0]])
    before = model(input_ids=ids, attention_mask=am).logits
    n_dropout = sum(type(m) is nn.Dropout and m.p > 0 for m in model.modules())
    assert n_dropout > 0
    changed = use_cpu_dropout(model)
    assert changed == [f"{n_dropout} dropout layers", "attention"]
    assert not any(type(m) is nn.Dropout and m.p > 0 for m in model.modules())
    assert model.config._attn_implementation == ATTN_IMPLEMENTATION
    model.eval()
    assert torch.allclose(model(input_ids=ids, attention_mask=am).logits, before, atol=1e-5)
    # training: dropout is active (two passes differ) and gradients flow
    model.train()
    torch.manual_seed(7)
    a = model(input_ids=ids, attention_mask=am).logits
    b = model(input_ids=ids, attention_mask=am).logits
    assert not torch.allclose(a, b)
    a.sum().backward()
    assert model.classifier.weight.grad is not None
    # the saved model names no studio attention and loads without this module
    model.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert ATTN_IMPLEMENTATION not in json.dumps(saved)
    reloaded = AutoModelForTokenClassification.from_pretrained(tmp_path / "saved").eval()
    assert torch.allclose(reloaded(input_ids=ids, attention_mask=am).logits, before, atol=1e-5)


@pytest.mark.parametrize("case", ["causal", "grouped_kv", "position_bias", "eval", "no_dropout"])
def test_attention_leaves_what_it_does_not_implement_to_sdpa(monkeypatch, case):
    import transformers.integrations.sdpa_attention as sdpa

    calls = []
    monkeypatch.setattr(sdpa, "sdpa_attention_forward",
                        lambda module, q, k, v, mask, **kw: calls.append(kw) or (q.transpose(1, 2), None))
    q, k, v = _qkv()
    mask, kwargs, dropout = _padding_mask(), {}, 0.1
    module = _Attn(case != "eval", is_causal=case == "causal")
    if case == "causal":
        mask = None
    elif case == "grouped_kv":
        k, v = k[:, :1], v[:, :1]
    elif case == "position_bias":
        kwargs["position_bias"] = torch.zeros(2, 3, 6, 6)
    elif case == "no_dropout":
        dropout = 0.0
    attention_forward(module, q, k, v, mask, scaling=0.25, dropout=dropout, **kwargs)
    assert len(calls) == 1
    assert calls[0]["dropout"] == (0.0 if case == "eval" else dropout)


def test_training_path_equals_transformers_eager_attention_on_a_padded_batch(tiny_model_dir, monkeypatch):
    """The whole tiny BERT in train mode, with dropout that drops nothing but still scales by 1 / (1 - p): the
    studio's attention (and dropout layers) against transformers' own eager attention."""
    import core.model.dropout as dropout_module
    from transformers import AutoModelForTokenClassification

    monkeypatch.setattr(dropout_module, "drop_mask",
                        lambda shape, p, device="cpu": torch.zeros(shape, dtype=torch.bool))
    monkeypatch.setattr(torch.nn.functional, "dropout",
                        lambda x, p=0.5, training=True, inplace=False: x / (1 - p) if training else x)
    ids = torch.tensor([[2, 10, 11, 12, 13, 3], [2, 14, 15, 3, 0, 0]])
    am = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    ours = AutoModelForTokenClassification.from_pretrained(tiny_model_dir)
    assert use_cpu_dropout(ours)[-1] == "attention"
    eager = AutoModelForTokenClassification.from_pretrained(tiny_model_dir, attn_implementation="eager")
    assert ours.config.attention_probs_dropout_prob > 0
    ours.train()
    eager.train()
    a = ours(input_ids=ids, attention_mask=am).logits
    b = eager(input_ids=ids, attention_mask=am).logits
    real = am.bool()
    assert torch.allclose(a[real], b[real], atol=1e-5)
    # and the scale is there: eval (no dropout at all) differs
    assert not torch.allclose(eager.eval()(input_ids=ids, attention_mask=am).logits[real], b[real], atol=1e-3)


def test_swapped_layers_keep_the_models_mode(tiny_model_dir):
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir).eval()
    use_cpu_dropout(model)
    drops = [m for m in model.modules() if isinstance(m, CpuDropout)]
    assert drops and not any(m.training for m in drops)


def test_lora_dropout_layers_are_swapped_too(tiny_model_dir):
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForTokenClassification

    base = AutoModelForTokenClassification.from_pretrained(tiny_model_dir)
    n_base = sum(type(m) is nn.Dropout and m.p > 0 for m in base.modules())
    model = get_peft_model(base, LoraConfig(task_type=TaskType.TOKEN_CLS, r=2, lora_alpha=4, lora_dropout=0.1,
                                            target_modules=["query", "key", "value"]))
    n_all = sum(type(m) is nn.Dropout and m.p > 0 for m in model.modules())
    assert n_all > n_base  # peft added lora_dropout layers
    assert use_cpu_dropout(model) == [f"{n_all} dropout layers", "attention"]
