"""train, pretrain and transfer start their runs through core.runs.jobs.start_run (the pages' launch path too), with
the entry point and data each command records (in-process, --detach, the worker launch stubbed: nothing trains)."""

from __future__ import annotations

import pytest

from core.cli.main import main as cli_main
from core.kernel.constants import PRETRAIN_ENTRYPOINT, TRANSFER_ENTRYPOINT
from core.runs import jobs
from core.runs.store import RunStore


@pytest.fixture
def started(tmp_path, monkeypatch):
    """Record every jobs.start_run call (the real one runs, with jobs.launch stubbed)."""
    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setattr(jobs, "launch", lambda run_id, store, resume=False: 4242)
    real, calls = jobs.start_run, []

    def spy(store, config, data, **kw):
        run = real(store, config, data, **kw)
        calls.append(run)
        return run

    monkeypatch.setattr(jobs, "start_run", spy)
    return calls


def _one_run(tmp_path, started):
    [run] = started
    assert [r.run_id for r in RunStore(tmp_path / "ws").list_runs()] == [run.run_id]
    return run


def test_train_starts_through_start_run(tmp_path, started, capsys):
    (tmp_path / "t.conll").write_text("Ann B-PER\n", encoding="utf-8")
    assert cli_main(["train", "--train", str(tmp_path / "t.conll"), "--detach",
                     "--config", '{"max_steps": 3, "_preset": "quick"}']) == 0
    run = _one_run(tmp_path, started)
    assert capsys.readouterr().out.strip() == run.run_id
    assert run.options == {"preset": "quick"} and run.config["max_steps"] == 3
    assert run.data["train"] == [str((tmp_path / "t.conll").resolve())]


def test_pretrain_starts_through_start_run(tmp_path, started):
    (tmp_path / "raw.txt").write_text("eins zwei\n", encoding="utf-8")
    assert cli_main(["pretrain", "--text", str(tmp_path / "raw.txt"), "--max-steps", "7", "-o",
                     str(tmp_path / "pt"), "--detach"]) == 0
    run = _one_run(tmp_path, started)
    assert run.options == {"entrypoint": PRETRAIN_ENTRYPOINT} and run.config["max_steps"] == 7
    assert run.data == {"text": [str((tmp_path / "raw.txt").resolve())], "corpus": [],
                        "output_dir": str((tmp_path / "pt").resolve())}


def test_transfer_starts_through_start_run(tmp_path, started):
    for name in ("tr.conll", "te.conll"):
        (tmp_path / name).write_text("Ann B-PER\n", encoding="utf-8")
    assert cli_main(["transfer", "--train", str(tmp_path / "tr.conll"), "--test", str(tmp_path / "te.conll"),
                     "--langs", "de", "sw", "--detach"]) == 0
    run = _one_run(tmp_path, started)
    assert run.options == {"entrypoint": TRANSFER_ENTRYPOINT}
    assert run.data == {"train": [str((tmp_path / "tr.conll").resolve())], "dev": [],
                        "test": [str((tmp_path / "te.conll").resolve())], "lang": None, "format": None,
                        "langs": ["de", "sw"]}
