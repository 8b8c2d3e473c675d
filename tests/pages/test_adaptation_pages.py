"""Evaluate shows a transfer run's matrix as a heatmap with n/a cells; the Playground names the adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.runs.store import FINISHED, RUNNING, RunStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "ws"))
    return RunStore(tmp_path / "ws")


def test_evaluate_shows_the_transfer_heatmap(store):
    run = store.create_run({"model_name_or_path": "m"}, {}, name="xfer",
                           options={"entrypoint": "core.train.transfer:transfer_run"})
    store.set_status(run.run_id, RUNNING)
    matrix = {"de": {"de": 0.8, "sw": None}, "sw": {"de": 0.31, "sw": None}}
    store.set_status(run.run_id, FINISHED, summary={"kind": "transfer", "matrix": matrix, "rows": ["de", "sw"],
                                                   "cols": ["de", "sw"], "n_test": {"de": 5, "sw": 0},
                                                   "mode": "strict"})
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    figs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    heat = [f for f in figs if "transfer" in json.dumps(f.get("layout", {}).get("title", "")).lower()
            or "tested on" in json.dumps(f.get("layout", {}).get("title", ""))]
    assert heat, figs
    trace = heat[0]["data"][0]
    assert trace["y"] == ["de", "sw"] and trace["x"] == ["de", "sw"]
    assert trace["text"] == [["0.80", "n/a"], ["0.31", "n/a"]]
    assert any("No evaluated run yet" in i.value for i in at.info)  # the rest of the page still says so
