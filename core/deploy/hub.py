"""Push a model folder (PyTorch or ONNX, with its card) to the Hugging Face Hub.

Uses ``huggingface_hub.HfApi``: ``create_repo(exist_ok=True)`` then ``upload_folder``. A folder without a card
gets one first (:func:`core.deploy.card.write_card`). Offline (``HF_HUB_OFFLINE`` set, or the Hub unreachable) the
push fails at once with ``E604``; a refusal by the Hub (token, permissions, bad repo id) is ``E605``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from core.deploy.errors import DeployError

#: Seconds before a connection attempt to the Hub is given up.
HUB_TIMEOUT_S = 10.0
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.\-]*/[\w.\-]+")


def _offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def push_folder(model_dir: str, repo_id: str, token: str | None = None, private: bool = False,
                endpoint: str | None = None, run=None) -> str:
    """Upload ``model_dir`` to the Hub repository ``repo_id`` (``owner/name``); returns the repo URL.

    Args:
        model_dir: a model folder (transformers or ONNX export).
        repo_id: ``owner/name`` on the Hub.
        token: a write token (default: ``HF_TOKEN`` / the saved login).
        private: create the repository as private.
        endpoint: Hub URL (default ``HF_ENDPOINT`` or https://huggingface.co).
        run: the run that trained the model, for a card written here when the folder has none.

    Raises:
        DeployError: E605 for a bad folder or repo id, or when the Hub refuses; E604 offline or unreachable.
    """
    folder = Path(model_dir).expanduser()
    if not (folder / "config.json").is_file():
        raise DeployError("E605", f"{str(folder)!r} is not a model folder (no config.json)", text=str(folder),
                          fix="Push a folder written by training or by `ner-studio export`.")
    if not _REPO_ID.fullmatch(repo_id or "") or ".." in repo_id:
        raise DeployError("E605", f"{repo_id!r} is not a Hub repository id", text=str(repo_id),
                          fix="Use owner/name, e.g. my-org/ner-es-nl.")
    if _offline():
        raise DeployError("E604", f"cannot push to {repo_id!r}: the Hub is switched off (HF_HUB_OFFLINE or "
                                  "TRANSFORMERS_OFFLINE is set)", text=repo_id)
    if not (folder / "README.md").is_file():
        from core.deploy.card import write_card

        write_card(str(folder), run=run)
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from core.model.hub import http_client_errors

    api = HfApi(endpoint=endpoint, token=token)
    t0 = time.monotonic()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                          commit_message="Upload from Multilingual NER Studio",
                          ignore_patterns=["*.zip", ".*"])
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        raise DeployError("E605", f"the Hub refused the push to {repo_id!r} (HTTP {status}): "
                                  f"{str(exc).splitlines()[0][:200]}", text=repo_id) from exc
    except (OSError, *http_client_errors()) as exc:
        raise DeployError("E604", f"the Hub cannot be reached to push {repo_id!r} ({type(exc).__name__} after "
                                  f"{time.monotonic() - t0:.1f} s: {str(exc).splitlines()[0][:160] if str(exc) else ''})",
                          text=repo_id) from exc
    return str(url)
