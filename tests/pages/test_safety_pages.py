"""AppTest of the safety items: password gate, choices kept across pages, no traceback in a page, a damaged
run store on every page, stopping / stalled / elapsed on Train, stopped runs in the Playground."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.runs import registry
from core.runs.store import FAILED, RUNNING, STOPPED, RunStore
from tests.ui_seed import conll_files, finished_run, running_run

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("home", "data", "train", "runs", "evaluate", "review", "playground")


@pytest.fixture
def store(tmp_path, monkeypatch) -> RunStore:
    monkeypatch.setenv("NER_STUDIO_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("NER_STUDIO_PASSWORD", raising=False)
    return RunStore(tmp_path / "ws")


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)


def texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.error, *at.markdown, *at.title, *at.caption, *at.info])


@pytest.mark.parametrize("page", PAGES)
def test_password_gate_shows_only_a_password_field_on_every_page(store, monkeypatch, page):
    monkeypatch.setenv("NER_STUDIO_PASSWORD", "s3cret")
    at = app().run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Password"]
    assert len(at.selectbox) == 0 and [b.label for b in at.button] == ["Enter"] and not at.get("plotly_chart")


def _gate_script():
    import streamlit as st

    from pages._shared import gate

    if gate():
        st.markdown("inside the studio")


def test_wrong_passwords_wait_longer_each_time_then_the_right_one_enters(store, monkeypatch):
    """Clicks through the gate's form in AppTest: every wrong password is compared in constant time
    (hmac.compare_digest) and waits twice as long as the one before (capped); the right one opens the page."""
    import types

    from pages import _shared

    monkeypatch.setenv("NER_STUDIO_PASSWORD", "s3cret")
    _shared._failures.clear()  # the failure count is per server (cache_resource): start from none
    slept: list[float] = []
    monkeypatch.setattr(_shared, "time", types.SimpleNamespace(sleep=slept.append, strftime=time.strftime,
                                                               time=time.time))
    compared: list[tuple[bytes, bytes]] = []
    real_compare = _shared.hmac.compare_digest
    monkeypatch.setattr(_shared.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real_compare(a, b))
    # The gate's own script (app.py draws it before st.navigation; AppTest does not deliver a form submit drawn
    # before st.navigation in a multipage app: seen with streamlit 1.67, a plain form in the same place too)
    at = AppTest.from_function(_gate_script, default_timeout=30).run()
    for attempt in range(1, 6):
        at.text_input(key="login_password").input(f"wrong{attempt}")
        at.button[0].click().run()
        assert not at.exception
        assert [e.value for e in at.error] == ["Wrong password."]
        assert [t.label for t in at.text_input] == ["Password"]  # still only the gate
    base, cap = _shared.BASE_DELAY_S, _shared.MAX_DELAY_S
    assert slept == [min(cap, base * 2 ** k) for k in range(5)]
    assert all(later > earlier for earlier, later in zip(slept, slept[1:]))
    assert compared[-1] == (b"wrong5", b"s3cret")
    at.text_input(key="login_password").input("s3cret")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert "Password" not in [t.label for t in at.text_input]
    assert [m.value for m in at.markdown] == ["inside the studio"]
    assert len(slept) == 5 and _shared._failures()["n"] == 0  # success waits not, and resets the count
    _shared._failures.clear()


def test_password_from_secrets_file(store, tmp_path, monkeypatch):
    from pages import _shared

    monkeypatch.setattr(_shared.st, "secrets", {"auth": {"password": "from-file"}})
    assert _shared.configured_password() == "from-file"
    monkeypatch.setenv("NER_STUDIO_PASSWORD", "env-wins")
    assert _shared.configured_password() == "env-wins"


def test_choices_survive_page_switches(store, tmp_path):
    first = finished_run(store, name="first")
    second = finished_run(store, name="second")
    d1, _ = registry.create(store, "alpha", uploads=[("train.conll", Path(conll_files(tmp_path / "a")[0]).read_bytes())])
    d2, _ = registry.create(store, "beta", uploads=[("train.conll", Path(conll_files(tmp_path / "b")[0]).read_bytes())])
    at = app().run()
    at.switch_page("pages/data.py").run()
    at.selectbox(key="data_ds").set_value(d1.id).run()
    at.selectbox(key="data_prev_split").set_value("train").run()
    at.switch_page("pages/evaluate.py").run()
    at.selectbox(key="eval_run").set_value(first.run_id).run()
    at.switch_page("pages/review.py").run()
    at.text_input(key="review_name").input("ana").run()
    at.selectbox(key="review_run").set_value(first.run_id).run()
    at.multiselect(key="review_langs").select("es").run()
    at.selectbox(key="review_type").set_value("PER").run()
    for page in ("home", "runs", "playground", "train"):
        at.switch_page(f"pages/{page}.py").run()
    assert at.selectbox(key="train_ds").value == d1.id  # the dataset chosen on Data
    at.switch_page("pages/data.py").run()
    assert at.selectbox(key="data_ds").value == d1.id and at.selectbox(key="data_prev_split").value == "train"
    at.switch_page("pages/evaluate.py").run()
    assert at.selectbox(key="eval_run").value == first.run_id != second.run_id
    at.switch_page("pages/review.py").run()
    assert at.text_input(key="review_name").value == "ana"
    assert at.selectbox(key="review_run").value == first.run_id
    assert at.multiselect(key="review_langs").value == ["es"] and at.selectbox(key="review_type").value == "PER"
    assert not at.exception


def test_an_unexpected_error_shows_a_code_and_logs_the_traceback(store, monkeypatch):
    from core.runs import store as store_module

    def boom(self, *a, **k):
        raise ValueError("secret /srv/path/in/message")

    monkeypatch.setattr(store_module.RunStore, "list_runs", boom)
    at = app().run()
    assert not at.exception
    [err] = [e.value for e in at.error]
    assert err.startswith("[E323] unexpected error (ValueError)") and "/srv/path" not in err
    log = (store.workspace / "logs" / "app.log").read_text()
    assert "Traceback" in log and "secret /srv/path/in/message" in log


def test_damaged_store_is_a_coded_error_on_every_page_with_a_repair_button(store):
    run = finished_run(store, name="kept")
    store._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    db = store.db_path
    with db.open("r+b") as fh:
        fh.seek(0)
        fh.write(os.urandom(100))  # the header: "file is not a database"
    for page in PAGES:
        at = app().run()
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception
        assert any(e.value.startswith("[E321]") for e in at.error), page
        assert [b.label for b in at.button] == ["Repair the run store"]
    at.button(key="repair_store").click().run()  # the on_click callback repairs before the page reruns
    assert not at.exception and not at.error
    [done] = [s.value for s in at.success]
    assert done.startswith("Repaired the run store: the damaged file is kept as runs.sqlite")
    assert "1 run(s)" in done
    assert sorted(p.name for p in db.parent.iterdir() if p.name.startswith("runs.sqlite.damaged"))
    at.switch_page("pages/runs.py").run()
    assert not at.exception and not at.error
    assert run.run_id in at.dataframe[0].value["run"].tolist()


def test_stopping_and_stalled_and_elapsed_on_train(store):
    live = running_run(store, name="live")
    store.update_run(live.run_id, trained_before=100.0, started=time.time() - 20)
    at = app().run()
    at.switch_page("pages/train.py").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "RUNNING"
    assert metrics["Elapsed"] in ("2m 00s", "2m 0s", "2 min") or metrics["Elapsed"].startswith("2")
    at.button(key="train_stop").click().run()
    assert {m.label: m.value for m in at.metric}["Status"] == "stopping..."
    store.update_run(live.run_id, stop_requested=False, heartbeat=time.time() - 95)
    at.run()
    status = {m.label: m.value for m in at.metric}["Status"]
    assert status.startswith("stalled ") and store.get_run(live.run_id).status == RUNNING


def test_stopped_run_with_a_best_model_is_in_the_playground(store):
    run = store.create_run({"model_name_or_path": "m"}, name="halfway")
    model = store.run_dir(run.run_id) / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "ner_studio.json").write_text('{"step": 120}')
    store.set_status(run.run_id, STOPPED)
    at = app().run()
    at.switch_page("pages/playground.py").run()
    assert not at.exception
    sb = at.selectbox(key="pg_run")
    assert sb.value == run.run_id and "from step 120, stopped" in sb.format_func(run.run_id)


def _stopped_with_best_model(store, step: int = 120, status: str = STOPPED):
    run = store.create_run({"model_name_or_path": "m"}, {"train": ["/data/train.conll"]}, name="halfway")
    model = store.run_dir(run.run_id) / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "ner_studio.json").write_text(json.dumps({"step": step}))
    store.set_status(run.run_id, status)
    return run


@pytest.mark.parametrize("page, key", [("evaluate", "eval"), ("review", "review")])
def test_stopped_run_can_be_scored_then_evaluated_and_reviewed_with_its_step(store, monkeypatch, page, key):
    """The button launches the background scoring job (core.runs.jobs.launch_scoring); once the job has written
    the predictions, the page shows the run, marked with the step and the state its best model comes from."""
    from core.runs import jobs, scoring
    from tests.ui_seed import write_predictions

    run = _stopped_with_best_model(store, 120)
    launched: list[str] = []
    monkeypatch.setattr(jobs, "launch_scoring", lambda rid, s: launched.append(rid) or 4242)
    at = app().run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception
    picker = at.selectbox(key=f"{key}_score_run")
    assert picker.value == run.run_id and "best model from step 120, stopped" in picker.format_func(run.run_id)
    at.button(key=f"{key}_score").click().run()
    assert launched == [run.run_id] and not at.exception
    # what the job leaves behind (tests/runs and tests/train run the real one)
    run_dir = store.run_dir(run.run_id)
    path = write_predictions(run_dir / "predictions_dev.jsonl")
    store.add_artifact(run.run_id, "predictions_dev", path)
    scoring.write_state(run_dir, state="FINISHED", step=120, run_status=STOPPED, splits={"dev": 6})
    at.run()
    assert not at.exception
    sb = at.selectbox(key=f"{key}_run")
    assert sb.value == run.run_id and sb.format_func(run.run_id).endswith(" · from step 120, stopped")
    assert any("scored from step 120: dev (6 sentences)" in c.value for c in at.caption)
    if page == "evaluate":
        assert any("predictions of the run's best model, from step 120, stopped" in c.value for c in at.caption)
        from tests.ui_seed import PRED_SENTENCES

        gold_entities = sum(t.startswith("B-") for _, _, gold, _ in PRED_SENTENCES for t in gold)
        assert {m.label: m.value for m in at.metric}["Support (gold entities)"] == str(gold_entities)


def test_a_running_scoring_job_disables_the_button_and_shows_progress(store, monkeypatch):
    from core.runs import scoring

    run = _stopped_with_best_model(store, 40, FAILED)
    scoring.write_state(store.run_dir(run.run_id), state="RUNNING", pid=os.getpid(), started=time.time() - 3,
                        step=40, run_status=FAILED)
    monkeypatch.setattr("core.runs.jobs.is_scorer_of", lambda pid, rid: True)  # this process stands in for it
    at = app().run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception
    assert at.button(key="eval_score").disabled
    assert any(i.value.startswith("scoring from step 40: running for") for i in at.info)


def test_train_page_says_which_checkpoint_resume_uses(store):
    from core.runs.checkpoints import rotate_in, write_manifest

    run = store.create_run({"model_name_or_path": "m"}, name="paused")
    store.set_status(run.run_id, STOPPED)
    ckpt = store.checkpoint_dir(run.run_id)
    for step in (10, 20):
        new = store.run_dir(run.run_id) / f"new{step}"
        new.mkdir()
        (new / "model.safetensors").write_bytes(b"w" * 64)
        (new / "state.json").write_text(json.dumps({"step": step}))
        write_manifest(new)
        rotate_in(new, ckpt)

    def resume_caption(at):
        return [c.value for c in at.caption if c.value.startswith("Resume: ")]

    at = app().run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert resume_caption(at) == [f"Resume: resume uses the newest checkpoint {ckpt} (step 20)."]
    (ckpt / "model.safetensors").write_bytes(b"w" * 10)  # cut short
    at.run()
    [text] = resume_caption(at)
    assert text.startswith(f"Resume: the newest checkpoint {ckpt} is damaged (model.safetensors has 10 bytes")
    assert text.endswith(f"resume uses the previous checkpoint {ckpt}.prev (step 10).")
    store.update_run(run.run_id, summary={"resumed_from": {"checkpoint": f"{ckpt}.prev", "step": 10,
                                                           "which": "previous", "damaged": []},
                                          "warnings": ["[E324] the newest checkpoint was damaged"]})
    at.run()
    assert any(c.value == f"This attempt resumed from the previous checkpoint {ckpt}.prev (step 10)."
               for c in at.caption)
    assert [w.value for w in at.warning] == ["[E324] the newest checkpoint was damaged"]
