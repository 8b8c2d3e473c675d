"""Transfer matrix with a tiny model: one row per training language, a column per language, nulls where a
language has no test data, resume skips finished rows."""

from __future__ import annotations

import json

from core.kernel.config import TrainConfig
from core.train.loop import Callbacks
from core.train.transfer import matrix_languages, transfer_matrix

from tests.train.test_adapters import _sentences


def _cfg(model_dir: str) -> TrainConfig:
    return TrainConfig.from_dict({"model_name_or_path": model_dir, "max_steps": 3, "learning_rate": 1e-3,
                                  "per_device_train_batch_size": 4, "num_threads": 1, "max_seq_length": 32,
                                  "stride": 4})


def test_rows_and_columns():
    train = _sentences("de", 2) + _sentences("es", 2)
    test = _sentences("en", 1) + _sentences("de", 1)
    assert matrix_languages(train, test) == (["de", "es"], ["de", "en", "es"])
    assert matrix_languages(train, test, ["es", "de", "es"]) == (["es", "de"], ["es", "de"])


def test_matrix_shape_and_nulls_where_test_data_is_missing(tiny_model_dir, tmp_path):
    train = _sentences("de", 8) + _sentences("es", 8)
    test = _sentences("de", 3) + _sentences("en", 3)  # no Spanish test data
    logs: list[str] = []
    res = transfer_matrix(_cfg(tiny_model_dir), train, [], test, str(tmp_path), log=logs.append)
    m = res["matrix"]
    assert res["status"] == "FINISHED" and sorted(m) == ["de", "es"]
    assert all(sorted(row) == ["de", "en", "es"] for row in m.values())
    assert m["de"]["es"] is None and m["es"]["es"] is None  # no test data in es
    assert all(isinstance(m[r][c], float) and 0.0 <= m[r][c] <= 1.0 for r in m for c in ("de", "en"))
    assert res["n_test"] == {"de": 3, "en": 3, "es": 0} and res["n_train"] == {"de": 8, "es": 8}
    json.dumps(res)  # JSON-ready
    # a language asked for without training data: an empty row; resume skips finished rows
    stops: list[str] = []
    res2 = transfer_matrix(_cfg(tiny_model_dir), train, [], test, str(tmp_path), langs=["de", "es", "sw"],
                           callbacks_for=lambda row, off: (stops.append(row), Callbacks())[1], resume=True)
    assert res2["matrix"]["sw"] == {"de": None, "es": None, "sw": None}
    assert res2["matrix"]["de"]["de"] == m["de"]["de"] and stops == []


def test_a_stop_leaves_a_partial_matrix(tiny_model_dir, tmp_path):
    train = _sentences("de", 8) + _sentences("es", 8)
    res = transfer_matrix(_cfg(tiny_model_dir), train, [], _sentences("de", 2), str(tmp_path),
                          callbacks_for=lambda row, off: Callbacks(should_stop=lambda: row == "es"))
    assert res["status"] == "STOPPED" and list(res["matrix"]) == ["de"]
