"""Packaging a model folder as a zip for download.

Weights (``.safetensors``, ``.bin``, ``.pt``) are stored uncompressed: they barely compress and deflating
470 MB takes longer than sending it; text files (config, tokenizer, model card) are deflated. The archive is
written to a temporary file and renamed, and it is rebuilt only when a file in the folder is newer than it,
so a second click on Download costs nothing.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from core.kernel.files import atomic_output

STORED_SUFFIXES = frozenset({".safetensors", ".bin", ".pt", ".pth", ".onnx", ".gguf"})


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def zip_folder(folder: str | os.PathLike, dest: str | os.PathLike, *, arcroot: str | None = None) -> Path:
    """Zip ``folder`` into ``dest`` (rebuilt only when the folder changed since ``dest`` was written).

    Args:
        folder: the folder to pack (e.g. a run's ``model/``).
        dest: the zip file to write; its folder is created.
        arcroot: name of the top folder inside the archive (default: the folder's name).

    Returns:
        The path of the zip.

    Raises:
        FileNotFoundError: when ``folder`` is not a folder.
    """
    src = Path(folder)
    if not src.is_dir():
        raise FileNotFoundError(f"model folder {src} does not exist")
    out = Path(dest)
    files = _files(src)
    if out.exists():
        newest = max((p.stat().st_mtime for p in files), default=0.0)
        if out.stat().st_mtime >= newest:
            return out
    out.parent.mkdir(parents=True, exist_ok=True)
    root = arcroot or src.name
    with atomic_output(out) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for p in files:
            method = zipfile.ZIP_STORED if p.suffix.lower() in STORED_SUFFIXES else zipfile.ZIP_DEFLATED
            zf.write(p, f"{root}/{p.relative_to(src).as_posix()}", compress_type=method)
    return out
