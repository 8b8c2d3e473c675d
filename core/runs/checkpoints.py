"""Resumable checkpoints on disk: written atomically, verified before they are loaded, the last two kept.

A checkpoint is a folder (accelerate's ``save_state`` files plus the trainer's ``state.json``). The trainer
writes it under a temporary name, then :func:`write_manifest` records the size and SHA-256 of every file in
``manifest.json`` *last*, and :func:`rotate_in` renames it into place: the checkpoint that was there becomes
``<name>.prev`` (the one before that is deleted). A folder whose manifest is missing or disagrees with its files
is damaged: a write cut short (kill, full disk) or bytes changed on the disk afterwards.

:func:`inspect_checkpoints` lists the newest and the previous checkpoint with what is wrong with each, so resume
takes the newest sound one (falling back to the previous one with a warning), and :func:`damaged_error` is the
coded error (``E324``) naming every damaged folder when none is usable. No torch here: the CLI and the pages use
it to say which checkpoint a resume will use.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.kernel.errors import RunError
from core.kernel.files import atomic_write, replace_path

MANIFEST = "manifest.json"
STATE = "state.json"
PREVIOUS_SUFFIX = ".prev"
_CHUNK = 1 << 20


@dataclass
class CheckpointInfo:
    """One checkpoint folder as found on disk.

    Attributes:
        path: the folder.
        step: optimizer step it was saved at (from ``state.json``), None when unreadable.
        problem: what is wrong with it ('' when it is sound); a damaged checkpoint is never loaded.
        verified: True when every file matched the manifest's size (and SHA-256, when hashes were checked).
        which: ``"newest"`` or ``"previous"``.
    """

    path: Path
    step: int | None
    problem: str = ""
    verified: bool = False
    which: str = "newest"

    def to_dict(self) -> dict:
        """Plain dict (path as text) for the run summary and JSON output."""
        return {"path": str(self.path), "step": self.step, "problem": self.problem, "verified": self.verified,
                "which": self.which}


def previous_dir(ckpt_dir: str | os.PathLike) -> Path:
    """The folder of the checkpoint before the newest: ``<ckpt_dir>.prev``."""
    p = Path(ckpt_dir)
    return p.with_name(p.name + PREVIOUS_SUFFIX)


def _sha256(path: Path, *, sync: bool = False) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
        if sync:
            os.fsync(fh.fileno())  # the bytes hashed are on the disk before the manifest says so
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(folder: str | os.PathLike) -> dict:
    """Write ``manifest.json`` (size in bytes and SHA-256 of every other file, relative POSIX paths) into
    ``folder``, after syncing each file to the disk; call it when everything else is written.

    Returns:
        The manifest: ``{"files": {relpath: {"size": int, "sha256": hex}}}``.
    """
    folder = Path(folder)
    files = {p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": _sha256(p, sync=True)}
             for p in _files(folder)}
    manifest = {"files": files}
    atomic_write(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def verify(folder: str | os.PathLike, *, hashes: bool = True) -> tuple[str, int | None]:
    """What is wrong with a checkpoint folder ('' when nothing), and its step.

    Checks that ``manifest.json`` and ``state.json`` exist and parse, that every file the manifest lists exists
    with its size and (``hashes=True``) its SHA-256, and that no listed file is missing.

    Returns:
        ``(problem, step)``; ``step`` is None when ``state.json`` is unreadable.
    """
    folder = Path(folder)
    step = None
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
        step = int(state["step"])
    except FileNotFoundError:
        return f"{STATE} is missing", None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{STATE} is unreadable ({type(exc).__name__}: {exc})", None
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed = manifest["files"]
        if not isinstance(listed, dict) or not listed:
            raise ValueError("no files listed")
    except FileNotFoundError:
        return f"{MANIFEST} is missing (the checkpoint was not completely written)", step
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{MANIFEST} is unreadable ({type(exc).__name__}: {exc})", step
    for rel, want in sorted(listed.items()):
        p = folder / rel
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            return f"{rel} is missing", step
        if size != want.get("size"):
            return f"{rel} has {size:,} bytes, the manifest says {want.get('size'):,}", step
        if hashes and _sha256(p) != want.get("sha256"):
            return f"{rel} does not match its SHA-256 in the manifest (its bytes changed)", step
    return "", step


def inspect_checkpoints(ckpt_dir: str | os.PathLike, *, hashes: bool = True) -> list[CheckpointInfo]:
    """The newest and the previous checkpoint of a run, newest first; folders holding nothing are left out.

    Args:
        ckpt_dir: the newest checkpoint's folder (the previous one is :func:`previous_dir`).
        hashes: also compare SHA-256 digests (reads every byte); sizes only when False (instant).
    """
    out = []
    for which, folder in (("newest", Path(ckpt_dir)), ("previous", previous_dir(ckpt_dir))):
        if not folder.is_dir() or not any(folder.iterdir()):
            continue
        problem, step = verify(folder, hashes=hashes)
        out.append(CheckpointInfo(folder, step, problem, verified=not problem, which=which))
    return out


def rotate_in(new: str | os.PathLike, ckpt_dir: str | os.PathLike) -> None:
    """Make the complete folder ``new`` the newest checkpoint; the newest so far becomes the previous one.

    A crash between the renames leaves the previous checkpoint in place and the newest missing (or both
    complete): a resume then falls back to the previous one.
    """
    ckpt = Path(ckpt_dir)
    if (ckpt / STATE).exists():
        replace_path(ckpt, previous_dir(ckpt))
    replace_path(new, ckpt)


def damaged_error(infos: list[CheckpointInfo], best_model: str | os.PathLike | None = None) -> RunError:
    """``E324`` naming every damaged checkpoint folder and what is wrong with it, with the way on.

    Args:
        infos: the checkpoints found (each with its ``problem``).
        best_model: the run's best model folder, offered as a starting point when it exists.
    """
    names = "; ".join(f"{i.which} checkpoint {i.path} (step {i.step if i.step is not None else '?'}): {i.problem}"
                      for i in infos)
    fix = "No sound checkpoint is left to resume from: delete the damaged folder(s) and resume to train again from step 0"
    if best_model and (Path(best_model) / "config.json").is_file():
        fix += (f", or use the best model saved so far, {best_model}: evaluate or try it as it is, or start a new "
                f"run from it (model_name_or_path = that folder)")
    return RunError("E324", f"checkpoint damaged: {names}", fix=fix + ".")


def resume_plan(infos: list[CheckpointInfo]) -> str:
    """One sentence saying where a resume will continue from, for the CLI and the Train page.

    Example: ``"the newest checkpoint .../checkpoints is damaged (...): resume uses the previous checkpoint
    .../checkpoints.prev (step 6)"``.
    """
    sound = [i for i in infos if not i.problem]
    damaged = [f"the {i.which} checkpoint {i.path} is damaged ({i.problem})" for i in infos if i.problem]
    if not infos:
        return "no checkpoint saved yet: resume trains again from step 0"
    if not sound:
        return "; ".join(damaged) + ": no sound checkpoint is left (resume fails with E324)"
    use = f"resume uses the {sound[0].which} checkpoint {sound[0].path} (step {sound[0].step})"
    return "; ".join(damaged) + ": " + use if damaged else use


def resumed_text(info: dict | None) -> str:
    """What a resumed run continued from (``summary["resumed_from"]``), '' for a run never resumed."""
    if not info:
        return ""
    text = f"resumed from the {info.get('which', 'newest')} checkpoint {info.get('checkpoint')} (step {info.get('step')})"
    damaged = info.get("damaged") or []
    if damaged:
        text += "; passed over as damaged: " + ", ".join(f"{d['path']} ({d['problem']})" for d in damaged)
    return text
