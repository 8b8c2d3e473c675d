"""Evaluate shows a transfer run's matrix as a heatmap with n/a cells; the Playground names the adapter."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.runs.store import FINISHED, RUNNING

ROOT = Path(__file__).resolve().parents[2]


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


def test_evaluate_compares_methods_side_by_side(store):
    from core.eval.methods import ADAPTERS, SHARED
    from tests.ui_seed import PRED_SENTENCES, finished_run, write_predictions

    shared = finished_run(store, name="shared-s1")
    adapters = finished_run(store, name="adapters-s1")
    store.update_run(adapters.run_id, config={**adapters.config, "adapters": "per_language", "seed": 1},
                     data=shared.data)
    store.update_run(shared.run_id, config={**shared.config, "seed": 1})
    # the adapter run's predictions are all right: F1 1.0 in every language
    write_predictions(store.run_dir(adapters.run_id) / "predictions_dev.jsonl",
                      [(lang, t, g, list(g)) for lang, t, g, _ in PRED_SENTENCES])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="eval_methods_runs").value == []
    at.multiselect(key="eval_methods_runs").select(shared.run_id).select(adapters.run_id).run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(el.value for el in at.dataframe if "Δ vs shared" in el.value.columns)
    rows = {(r["language"], r["method"]): r for r in table.to_dict("records")}
    # shared, strict, dev: en 4/9 (see tests/ui_seed.PRED_SENTENCES), es 6/7, ar 1.0, all 0.7
    assert rows[("en", SHARED)]["F1"] == "0.444" and rows[("en", SHARED)]["n"] == 1
    assert rows[("en", ADAPTERS)]["F1"] == "1.000" and rows[("en", ADAPTERS)]["Δ vs shared"] == "+0.556"
    assert rows[("all", ADAPTERS)]["Δ vs shared"] == "+0.300" and rows[("ar", ADAPTERS)]["Δ vs shared"] == "+0.000"
    assert not at.warning
    captions = " ".join(c.value for c in at.caption)
    assert "strict" in captions and "**dev** split" in captions and "standard deviation over their seeds" in captions
    fig = next(json.loads(el.proto.spec) for el in at.get("plotly_chart")
               if "per language and method" in json.dumps(json.loads(el.proto.spec)["layout"].get("title", "")))
    assert [t["name"] for t in fig["data"]] == [SHARED, ADAPTERS]
    assert fig["data"][0]["x"] == ["ar", "en", "es", "all"] and fig["data"][1]["y"] == [1.0, 1.0, 1.0, 1.0]
    # a run on other data is named in a warning
    other = finished_run(store, name="other-data")
    at.run()
    at.multiselect(key="eval_methods_runs").select(other.run_id).run()
    assert any("different data" in w.value for w in at.warning)
