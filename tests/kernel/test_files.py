"""The one atomic-write helper: a failed write leaves the old content and no temporary file."""

from __future__ import annotations

import pytest

from core.kernel.files import atomic_output, atomic_write


def test_atomic_write_replaces_and_a_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write(target, "one\n")
    atomic_write(target, "two\n")
    assert target.read_text(encoding="utf-8") == "two\n"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "two\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]


def test_atomic_folder_replaces_the_whole_folder(tmp_path):
    target = tmp_path / "model"
    with atomic_output(target, folder=True) as tmp:
        (tmp / "old.bin").write_bytes(b"1")
    with atomic_output(target, folder=True) as tmp:
        (tmp / "new.bin").write_bytes(b"2")
    assert [p.name for p in target.iterdir()] == ["new.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
