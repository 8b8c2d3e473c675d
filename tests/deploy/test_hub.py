"""Pushing to the Hub: offline and unreachable hubs give a coded error at once, bad input is refused first."""

from __future__ import annotations

import socket
import time

import pytest

from core.cli.main import main as cli_main
from core.deploy.errors import DeployError
from core.deploy.hub import push_folder


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: connections are refused


def test_offline_env_is_a_coded_error(monkeypatch, tiny_model_dir):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DeployError, match=r"\[E604\].*switched off"):
        push_folder(tiny_model_dir, "me/tiny-ner")


def test_unreachable_hub_is_a_coded_error_fast(monkeypatch, tmp_path, tiny_model_dir):
    import shutil

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    folder = tmp_path / "m"
    shutil.copytree(tiny_model_dir, folder)
    t0 = time.monotonic()
    with pytest.raises(DeployError, match=r"\[E604\] the Hub cannot be reached"):
        push_folder(str(folder), "me/tiny-ner", token="hf_x", endpoint=f"http://127.0.0.1:{_closed_port()}")
    assert time.monotonic() - t0 < 30
    assert (folder / "README.md").read_text(encoding="utf-8").startswith("---\n")  # card written before upload


@pytest.mark.parametrize("repo", ["no-owner", "a/b/c", "../x", ""])
def test_bad_repo_id_refused(repo, tiny_model_dir):
    with pytest.raises(DeployError, match=r"\[E605\].*not a Hub repository id"):
        push_folder(tiny_model_dir, repo)


def test_not_a_model_folder_refused(tmp_path):
    with pytest.raises(DeployError, match=r"\[E605\].*no config.json"):
        push_folder(str(tmp_path), "me/x")


def test_cli_push_offline_exit_1_with_code(monkeypatch, capsys, tiny_model_dir):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli_main(["push", "--model", tiny_model_dir, "--repo", "me/tiny-ner", "--json"]) == 1
    out = capsys.readouterr()
    assert '"code": "E604"' in out.out.splitlines()[-1] and "[E604]" in out.err
