"""Hugging Face Hub ids and local folders: resolve any `model_name_or_path` to a checked local folder.

Bundled names are provisioned by :mod:`core.model.bundled`; Hub ids are downloaded with huggingface_hub when online
and fail at once offline (E203) naming what works instead.
"""

from __future__ import annotations

import logging
import os
import re
import time

from core.kernel.errors import ConfigError

log = logging.getLogger(__name__)

HUB_TIMEOUT_S = 5.0

from core.model.bundled import BUNDLED_MODELS, TOKENIZER_FILES, WEIGHT_FILES, bundled_name, model_options_fix, provision


def resolve_model(model_name_or_path: str, cache_dir: str | None = None) -> str:
    """Return a local transformers model folder for a name, a path or a Hub id.

    Rules, first match wins:

    1. an existing path: it must be a folder with ``config.json``, a weights file (``model.safetensors``,
       ``pytorch_model.bin`` or their ``.index.json``) and a tokenizer (``tokenizer.json`` or
       ``tokenizer_config.json``); it is returned as is;
    2. a bundled name (:data:`BUNDLED_MODELS`, matched case-insensitively): provisioned into ``cache_dir`` on
       first use (about a minute and 470 MB for e5; see :func:`provision`), then returned from the cache;
    3. something that looks like a path (absolute, ``./``, ``../``, ``~``) but does not exist: ``E203``;
    4. otherwise a Hub id (``owner/name`` or ``name``): a copy already in the Hugging Face cache is used
       without network access; else, when online, it is downloaded with ``huggingface_hub`` (timeout
       :data:`HUB_TIMEOUT_S` seconds, into the usual Hugging Face cache, not ``cache_dir``). Offline
       (``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` set, or a connection error) it fails at once.

    Args:
        model_name_or_path: a folder, a bundled name or a Hub id.
        cache_dir: cache of bundled models; default :func:`default_cache_dir`.

    Returns:
        Absolute path of the model folder.

    Raises:
        ConfigError: ``E203`` when the model cannot be made available; the message says what is missing and
            names the options that work offline (a bundled name, or a local folder).
        StudioError: ``E203`` when provisioning a bundled model fails (download, checksum or verification).
    """
    if not isinstance(model_name_or_path, str) or not model_name_or_path.strip():
        raise ConfigError("E203", f"model_name_or_path must be a non-empty string, got {model_name_or_path!r}",
                          fix=model_options_fix())
    spec = model_name_or_path.strip()
    expanded = os.path.expanduser(spec)
    if os.path.exists(expanded):
        return check_model_folder(expanded)
    bundled = bundled_name(spec)
    if bundled is not None:
        return provision(bundled, cache_dir=cache_dir)
    if os.path.isabs(expanded) or spec.startswith(("./", "../", "~", ".\\", "..\\")):
        raise ConfigError("E203", f"model folder {expanded!r} does not exist", text=spec, fix=model_options_fix())
    if not re.fullmatch(r"[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?", spec) or ".." in spec:
        raise ConfigError("E203", f"{spec!r} is neither an existing folder, a bundled model nor a valid Hugging "
                                  "Face Hub id (owner/name)", text=spec, fix=model_options_fix())
    return _resolve_hub(spec)


def check_model_folder(path: str) -> str:
    """Check that ``path`` is a loadable transformers folder and return its absolute path.

    Raises:
        ConfigError: ``E203`` naming every missing part (``config.json``, weights, tokenizer).
    """
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise ConfigError("E203", f"{path!r} is a file, not a model folder", text=path, fix=model_options_fix())
    missing = []
    if not os.path.isfile(os.path.join(path, "config.json")):
        missing.append("config.json")
    if not any(os.path.isfile(os.path.join(path, f)) for f in WEIGHT_FILES):
        missing.append("weights (" + " or ".join(WEIGHT_FILES[::2]) + ")")
    if not any(os.path.isfile(os.path.join(path, f)) for f in TOKENIZER_FILES):
        missing.append("tokenizer (" + " or ".join(TOKENIZER_FILES) + ")")
    if missing:
        raise ConfigError("E203", f"model folder {path!r} lacks " + ", ".join(missing), text=path,
                          fix="Point to a folder written by save_pretrained() (model and tokenizer), "
                              "or use a bundled model: " + ", ".join(BUNDLED_MODELS) + ".")
    return path




def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _resolve_hub(repo_id: str) -> str:
    """Hub id -> local snapshot folder; fails fast offline (see :func:`resolve_model`)."""
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken"]
    try:  # a copy already in the Hugging Face cache works offline and costs no network
        return check_model_folder(huggingface_hub.snapshot_download(repo_id, allow_patterns=patterns,
                                                                    local_files_only=True))
    except (huggingface_hub.errors.LocalEntryNotFoundError, ConfigError) as exc:
        log.debug("no usable cached snapshot of %s: %s", repo_id, exc)
    offline = _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")
    if offline:
        raise ConfigError("E203", f"{repo_id!r} is a Hugging Face Hub id and the Hub is switched off "
                                  "(HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE is set)", text=repo_id,
                          fix=model_options_fix())
    t0 = time.monotonic()
    try:
        folder = huggingface_hub.snapshot_download(repo_id, allow_patterns=patterns, etag_timeout=HUB_TIMEOUT_S)
        if not any(os.path.isfile(os.path.join(folder, f)) for f in WEIGHT_FILES):
            folder = huggingface_hub.snapshot_download(repo_id, allow_patterns=patterns + ["pytorch_model*.bin"],
                                                       etag_timeout=HUB_TIMEOUT_S)
    except huggingface_hub.errors.RepositoryNotFoundError as exc:
        raise ConfigError("E203", f"{repo_id!r} was not found on the Hugging Face Hub (or is private)",
                          text=repo_id, fix=model_options_fix()) from exc
    except (OSError, HfHubHTTPError, *http_client_errors()) as exc:
        raise ConfigError("E203", f"the Hugging Face Hub cannot be reached for {repo_id!r} "
                                  f"({type(exc).__name__} after {time.monotonic() - t0:.1f} s: "
                                  f"{str(exc).splitlines()[0][:160]})", text=repo_id, fix=model_options_fix()) from exc
    return check_model_folder(folder)


def http_client_errors() -> tuple[type[BaseException], ...]:
    """Base exception classes of the HTTP client huggingface_hub uses (httpx, or httpx2 in huggingface_hub 2).

    Most network failures reach us wrapped in ``LocalEntryNotFoundError`` (an ``OSError``), but a few calls
    let the client's own errors through.
    """
    import importlib

    out: list[type[BaseException]] = []
    for module_name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # that client is not installed: nothing of it can be raised
        base = getattr(module, "HTTPError", None)
        if isinstance(base, type) and issubclass(base, BaseException):
            out.append(base)
    return tuple(out)

