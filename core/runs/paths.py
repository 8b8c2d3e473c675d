"""Which server paths the UI may read: corpus files and model folders only inside allowed roots.

The Data page's "Path on the server" and the model field of Home / Train take text a browser user typed. Without
limits any file the server can read is shown (``/etc/passwd``), ``/dev/zero`` is read until memory runs out, a
FIFO blocks the server for ever, a folder such as ``/usr/share`` is walked file by file, and an error message
tells whether a path exists. The rules here:

* a path is resolved with :func:`os.path.realpath` (symlinks and ``..`` followed) and must then lie inside one
  of the allowed roots: ``$NER_STUDIO_DATA_ROOTS`` (several folders separated by ``os.pathsep``), by default the
  workspace's ``imports/`` folder (created on demand);
* only regular files are read (``stat`` first: devices, FIFOs and sockets are refused without being opened), each
  at most :data:`MAX_FILE_BYTES`; a folder is walked at most :data:`MAX_DEPTH` levels deep and
  :data:`MAX_WALK_ENTRIES` entries, and may hold at most :data:`MAX_FILES` files and :data:`MAX_TOTAL_BYTES`;
* anything else is one coded error, ``E320``, whose text is the same whether the path exists or not (it names
  the path as typed and the allowed roots, nothing the server found).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Iterable, Sequence

from core.kernel.errors import StudioError
from core.runs.store import workspace_dir

DATA_ROOTS_ENV = "NER_STUDIO_DATA_ROOTS"
MODEL_CACHE_ENV = "NER_STUDIO_MODEL_CACHE"
IMPORTS_DIR = "imports"
#: Largest single corpus file read from a server path (bytes); the upload limit of .streamlit/config.toml is
#: the same 1 GiB: the largest public NER corpora (OntoNotes 5 CoNLL, all of WikiANN) are a few hundred MB.
MAX_FILE_BYTES = 1 << 30
#: Largest total of one dataset given as server paths (bytes).
MAX_TOTAL_BYTES = 4 << 30
#: Most files one dataset may reference (a folder of one file per document, e.g. BRAT, stays well below).
MAX_FILES = 2_000
#: Most folder entries looked at in one walk, and the deepest level walked.
MAX_WALK_ENTRIES = 20_000
MAX_DEPTH = 8

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def allowed_roots(workspace: str | os.PathLike | None = None) -> list[Path]:
    """The folders server paths must lie in (real paths).

    ``$NER_STUDIO_DATA_ROOTS`` (``os.pathsep``-separated; empty entries ignored), else ``<workspace>/imports``
    (created on demand, so there is always one place to drop corpora into).
    """
    raw = os.environ.get(DATA_ROOTS_ENV, "")
    roots = [Path(os.path.realpath(os.path.expanduser(r.strip()))) for r in raw.split(os.pathsep) if r.strip()]
    if not roots:
        base = Path(workspace) if workspace is not None else workspace_dir()
        default = base / IMPORTS_DIR
        default.mkdir(parents=True, exist_ok=True)
        roots = [Path(os.path.realpath(default))]
    return roots


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def _refused(given: str, roots: Sequence[Path], what: str = "a readable corpus file or folder") -> StudioError:
    # The same text for a missing path, a path outside the roots and a special file: nothing is revealed.
    return StudioError("E320", f"{given!r} is not {what} inside the allowed roots "
                               f"({', '.join(str(r) for r in roots)})", text=given)


def _walk(folder: Path, given: str, roots: Sequence[Path]) -> list[tuple[Path, int]]:
    """Regular files under ``folder`` (bounded); raises E320 for an entry that is not allowed."""
    out: list[tuple[Path, int]] = []
    seen = 0
    stack = [(folder, 0)]
    while stack:
        current, depth = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            raise _refused(given, roots) from None
        for entry in entries:
            seen += 1
            if seen > MAX_WALK_ENTRIES:
                raise StudioError("E320", f"{given!r} holds more than {MAX_WALK_ENTRIES:,} entries: give the "
                                          f"corpus files or their folder, not a larger tree", text=given)
            if entry.name.startswith("."):
                continue  # hidden files are never corpus files (the readers skip them too)
            real = Path(os.path.realpath(entry.path))
            if not _inside(real, roots):
                raise StudioError("E320", f"{given!r} holds {entry.name!r}, which leads outside the allowed roots",
                                  text=given)
            try:
                info = os.stat(real)
            except OSError:
                raise _refused(given, roots) from None
            if stat.S_ISDIR(info.st_mode):
                if depth + 1 >= MAX_DEPTH:
                    raise StudioError("E320", f"{given!r} is nested deeper than {MAX_DEPTH} folders", text=given)
                stack.append((real, depth + 1))
            elif stat.S_ISREG(info.st_mode):
                out.append((real, info.st_size))
            else:
                raise StudioError("E320", f"{given!r} holds {entry.name!r}, which is not a regular file "
                                          f"(device, FIFO or socket)", text=given)
    return out


def check_server_paths(paths: Iterable[str], roots: Sequence[Path] | None = None) -> list[str]:
    """Check paths typed by a user before anything reads them.

    Args:
        paths: files or folders, as typed (``~`` expanded, relative paths taken from the current folder).
        roots: allowed roots; :func:`allowed_roots` when None.

    Returns:
        The real paths (symlinks resolved), in the given order, safe to pass to the readers.

    Raises:
        StudioError: ``E320`` for a path outside the roots, missing or not a regular file or folder (one text
            for all of these), a file over :data:`MAX_FILE_BYTES`, or a folder over the walk limits.
    """
    roots = list(roots) if roots is not None else allowed_roots()
    out: list[str] = []
    n_files, total = 0, 0
    for given in paths:
        given = str(given).strip()
        if not given or "\0" in given:
            raise _refused(given, roots)
        real = Path(os.path.realpath(os.path.expanduser(given)))
        if not _inside(real, roots):
            raise _refused(given, roots)
        try:
            info = os.stat(real)  # stat, never open: a FIFO or a device is refused before any read
        except OSError:
            raise _refused(given, roots) from None
        if stat.S_ISREG(info.st_mode):
            files = [(real, info.st_size)]
        elif stat.S_ISDIR(info.st_mode):
            files = _walk(real, given, roots)
        else:
            raise _refused(given, roots)
        for f, size in files:
            if size > MAX_FILE_BYTES:
                raise StudioError("E320", f"{given!r}: {f.name} is {size / 2**20:,.0f} MiB, more than the "
                                          f"{MAX_FILE_BYTES / 2**20:,.0f} MiB limit per file", text=given)
        n_files += len(files)
        total += sum(size for _, size in files)
        if n_files > MAX_FILES:
            raise StudioError("E320", f"more than {MAX_FILES:,} files given: split the corpus into fewer files",
                              text=given)
        if total > MAX_TOTAL_BYTES:
            raise StudioError("E320", f"the files given hold more than {MAX_TOTAL_BYTES / 2**30:.0f} GiB",
                              text=given)
        out.append(str(real))
    return out


def check_model_path(value: str, bundled: Iterable[str] = (), roots: Sequence[Path] | None = None) -> str:
    """The model field's value, checked: a bundled name, a Hub id, or a folder inside the allowed roots.

    A value that is a bundled name, or looks like a Hub id (``name`` or ``owner/name``) and is not a local
    folder, is returned unchanged. Anything else is a server path: it must be a folder inside the data roots,
    the workspace or the model cache (``$NER_STUDIO_MODEL_CACHE``, default ``~/.cache/ner-studio/models``).

    Returns:
        The value, or the folder's real path.

    Raises:
        StudioError: ``E320`` (one text whether the folder exists or not).
    """
    value = str(value).strip()
    names = {b.lower() for b in bundled}
    if value.lower() in names:
        return value
    if _HUB_ID.match(value) and not os.path.lexists(value):
        return value
    if roots is None:
        cache = os.environ.get(MODEL_CACHE_ENV) or "~/.cache/ner-studio/models"
        roots = [*allowed_roots(), Path(os.path.realpath(workspace_dir())),
                 Path(os.path.realpath(os.path.expanduser(cache)))]
    real = Path(os.path.realpath(os.path.expanduser(value))) if value and "\0" not in value else None
    if real is None or not _inside(real, roots) or not real.is_dir():
        raise _refused(value, roots, "a bundled model, a Hugging Face id or a model folder")
    return str(real)
