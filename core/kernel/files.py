"""The one atomic-write helper: readers see the old file (or folder) or the new one, never half of one."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_output(path: str | os.PathLike, *, folder: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` by a rename, on error it is removed.

    Args:
        path: the file (or folder, with ``folder=True``) to write; its parent is created.
        folder: the temporary path is an empty folder; an existing target folder is moved aside, the new
            one renamed in, then the old one deleted (a folder cannot be replaced in one rename).

    Yields:
        The temporary file or folder (same file system as ``path``, so the final rename is atomic).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    else:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        replace_path(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def replace_path(src: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move the file or folder ``src`` to ``target`` (same file system), replacing what is there.

    A file is replaced in one rename; an existing folder is first moved aside (one rename), then ``src``
    renamed in, then the old folder deleted, so ``target`` is always a complete old or new folder.
    """
    src, target = Path(src), Path(target)
    if src.is_dir() and target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
        os.replace(target, old / target.name)
        os.replace(src, target)
        shutil.rmtree(old)
    else:
        os.replace(src, target)


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8 with ``\\n`` line ends, or bytes) to ``path`` atomically."""
    with atomic_output(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            with tmp.open("w", encoding="utf-8", newline="\n") as fh:
                fh.write(data)
