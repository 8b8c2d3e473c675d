"""Checkpoint folders: manifest written last, verified by size and SHA-256, the last two kept (no torch)."""

from __future__ import annotations

import json
from pathlib import Path

from core.runs.checkpoints import (MANIFEST, damaged_error, inspect_checkpoints, previous_dir, rotate_in, verify,
                                   write_manifest)


def _fake_checkpoint(folder: Path, step: int, payload: bytes = b"weights" * 100) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(payload)
    (folder / "sub").mkdir()
    (folder / "sub" / "optimizer.bin").write_bytes(bytes(range(256)))
    (folder / "state.json").write_text(json.dumps({"step": step}))
    write_manifest(folder)
    return folder


def _flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_manifest_lists_every_file_and_a_sound_folder_verifies(tmp_path):
    ck = _fake_checkpoint(tmp_path / "ck", 7)
    listed = json.loads((ck / MANIFEST).read_text())["files"]
    assert set(listed) == {"model.safetensors", "sub/optimizer.bin", "state.json"}
    assert listed["model.safetensors"]["size"] == 700
    assert verify(ck) == ("", 7)


def test_changed_byte_same_size_is_caught_by_the_hash_only(tmp_path):
    ck = _fake_checkpoint(tmp_path / "ck", 3)
    _flip_byte(ck / "sub" / "optimizer.bin", 100)
    problem, step = verify(ck)
    assert step == 3 and "sub/optimizer.bin" in problem and "SHA-256" in problem
    assert verify(ck, hashes=False) == ("", 3)  # sizes alone cannot see it


def test_truncated_missing_and_unfinished_folders_are_named(tmp_path):
    ck = _fake_checkpoint(tmp_path / "a", 1)
    (ck / "model.safetensors").write_bytes(b"short")
    assert "model.safetensors has 5 bytes, the manifest says 700" in verify(ck)[0]
    ck2 = _fake_checkpoint(tmp_path / "b", 1)
    (ck2 / "sub" / "optimizer.bin").unlink()
    assert verify(ck2)[0] == "sub/optimizer.bin is missing"
    ck3 = _fake_checkpoint(tmp_path / "c", 1)
    (ck3 / MANIFEST).unlink()
    assert "manifest.json is missing" in verify(ck3)[0]
    ck4 = _fake_checkpoint(tmp_path / "d", 1)
    (ck4 / "state.json").write_text("{not json")
    assert verify(ck4)[0].startswith("state.json is unreadable") and verify(ck4)[1] is None


def test_rotation_keeps_exactly_the_last_two(tmp_path):
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()  # the store creates the folder empty before the first save
    for step in (2, 4, 6):
        rotate_in(_fake_checkpoint(tmp_path / f"new{step}", step), ckpt)
    infos = inspect_checkpoints(ckpt)
    assert [(i.which, i.step, i.problem) for i in infos] == [("newest", 6, ""), ("previous", 4, "")]
    assert previous_dir(ckpt) == tmp_path / "checkpoints.prev"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "checkpoints.prev"]


def test_damaged_error_names_every_folder_and_offers_the_best_model(tmp_path):
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    for step in (2, 4):
        rotate_in(_fake_checkpoint(tmp_path / f"new{step}", step), ckpt)
    _flip_byte(ckpt / "model.safetensors", 10)
    (previous_dir(ckpt) / "state.json").unlink()
    best = tmp_path / "model"
    best.mkdir()
    (best / "config.json").write_text("{}")
    infos = inspect_checkpoints(ckpt)
    err = damaged_error(infos, best)
    assert err.code == "E324"
    text = str(err)
    assert str(ckpt) in text and str(previous_dir(ckpt)) in text and "step 4" in text
    assert "state.json is missing" in text and str(best) in text
