"""The real trainer with a tiny model: fit, stop/resume, worker run, CLI train/predict/evaluate, DDP, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.kernel.config import TrainConfig
from core.data.corpus import Sentence
from core.kernel.errors import StudioError
from core.data.loader import load_corpus
from core.data.splits import hold_out_dev
from core.train.loop import Callbacks, checkpoint_step, epoch_order, fit, language_weights, make_batches

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "demo"


@pytest.fixture(scope="module")
def demo():
    corpus = load_corpus([str(DEMO)])
    return {"train": corpus.by_split("train")[::4], "dev": corpus.by_split("dev")[::4],
            "test": corpus.by_split("test")[::4]}


def _cfg(model_dir: str, **kw) -> TrainConfig:
    base = {"model_name_or_path": model_dir, "max_steps": 12, "eval_steps": 6, "learning_rate": 1e-3,
            "per_device_train_batch_size": 8, "num_threads": 1, "max_seq_length": 64, "stride": 8}
    base.update(kw)
    return TrainConfig.from_dict(base)


def test_fit_saves_best_model_and_reports_metrics(tiny_model_dir, demo, tmp_path):
    rows: list[tuple[int, dict]] = []
    res = fit(_cfg(tiny_model_dir), demo["train"], demo["dev"], str(tmp_path),
              Callbacks(on_metrics=lambda s, m: rows.append((s, m))))
    assert res.status == "FINISHED" and res.steps == 12
    keys = set().union(*(m.keys() for _, m in rows))
    assert {"train_loss", "learning_rate", "grad_norm", "sentences_per_s", "eval_f1", "eval_loss"} <= keys
    langs = {s.lang for s in demo["dev"]}
    assert {f"eval_f1_{lang}" for lang in langs} <= keys
    # transformers folder with the label map, the tokenizer and safetensors weights
    model_dir = Path(res.model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    labels = json.loads((model_dir / "ner_studio.json").read_text())["label_list"]
    assert labels[0] == "O" and {"B-PER", "I-PER", "B-LOC", "B-ORG", "B-MISC"} <= set(labels)
    assert config["id2label"]["0"] == "O" and len(config["id2label"]) == len(labels)
    assert (model_dir / "model.safetensors").exists() and (model_dir / "tokenizer.json").exists()
    assert 0.0 <= res.padding_fraction < 0.5


def test_stop_then_resume_continues_the_same_curve(tiny_model_dir, demo, tmp_path):
    cfg = _cfg(tiny_model_dir, max_steps=10, eval_steps=5)
    steps_seen: list[int] = []
    progress: list[int] = []
    res = fit(cfg, demo["train"], demo["dev"], str(tmp_path),
              Callbacks(on_progress=lambda s, n: progress.append(s), should_stop=lambda: len(progress) >= 4))
    assert res.status == "STOPPED" and res.steps == 4
    assert checkpoint_step(str(tmp_path / "checkpoint")) == 4
    res2 = fit(cfg, demo["train"], demo["dev"], str(tmp_path),
               Callbacks(on_progress=lambda s, n: steps_seen.append(s)), resume=True)
    assert res2.status == "FINISHED" and res2.steps == 10
    assert steps_seen == [5, 6, 7, 8, 9, 10]


def test_resumed_run_logs_the_same_curve_as_an_uninterrupted_one(tiny_model_dir, demo, tmp_path):
    """save_state/load_state keep weights, AdamW, the schedule and the RNG: steps 6-10 train the same (the
    train_loss row of step 10 averages steps 6-10 in both)."""
    cfg = _cfg(tiny_model_dir, max_steps=10, eval_steps=5)

    def rows_of(callbacks_rows):
        return Callbacks(on_metrics=lambda s, m: callbacks_rows.append((s, m)))

    whole: list = []
    fit(cfg, demo["train"], demo["dev"], str(tmp_path / "a"), rows_of(whole))
    parts: list = []
    progress: list[int] = []
    cb = rows_of(parts)
    cb.on_progress, cb.should_stop = (lambda s, n: progress.append(s)), (lambda: len(progress) >= 5)
    assert fit(cfg, demo["train"], demo["dev"], str(tmp_path / "b"), cb).status == "STOPPED"
    fit(cfg, demo["train"], demo["dev"], str(tmp_path / "b"), rows_of(parts), resume=True)

    def at(rows, step, key):
        return [m[key] for s, m in rows if s == step and key in m][-1]

    assert at(parts, 10, "learning_rate") == pytest.approx(at(whole, 10, "learning_rate"), rel=1e-9)
    # same weights, optimizer state and data order; bf16/threaded kernels leave a small difference (0.7% seen)
    assert at(parts, 10, "train_loss") == pytest.approx(at(whole, 10, "train_loss"), rel=0.03)
    assert [s for s, m in parts if "eval_f1" in m] == [5, 10]


def test_nan_loss_ends_with_a_message_saying_what_to_change(tiny_model_dir, demo, tmp_path, monkeypatch):
    import core.train.loop as trainer

    real_build = trainer._build_model

    def poisoned(*args, **kwargs):
        model = real_build(*args, **kwargs)
        import torch

        with torch.no_grad():
            model.classifier.weight.fill_(float("nan"))
        return model

    monkeypatch.setattr(trainer, "_build_model", poisoned)
    with pytest.raises(StudioError, match=r"\[E304\] training loss became nan.*Lower learning_rate"):
        fit(_cfg(tiny_model_dir, max_steps=6), demo["train"], [], str(tmp_path))


def test_a_trainer_used_earlier_in_the_process_does_not_block_the_studios_precision(tiny_model_dir):
    # bench/train_speed.py crashed on its second seed: the Hugging Face Trainer of the first had left accelerate's
    # state at another precision ("AcceleratorState has already been initialized and cannot be changed")
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from core.model.device import use_bf16
    from core.train.loop import _accelerator

    cfg = _cfg(tiny_model_dir, device="cpu")
    want = "bf16" if use_bf16(cfg.precision, "cpu") else "no"
    Accelerator(cpu=True, mixed_precision="no" if want == "bf16" else "bf16")  # what the other library left
    try:
        acc = _accelerator(cfg)
        assert (acc.mixed_precision, acc.device.type) == (want, "cpu")
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


def test_no_training_data_is_a_coded_error(tiny_model_dir, tmp_path):
    with pytest.raises(StudioError, match=r"\[E202\] no training sentences"):
        fit(_cfg(tiny_model_dir), [], [], str(tmp_path))


def test_language_sampling_alpha():
    langs = ["en"] * 90 + ["sw"] * 10
    w = language_weights(langs, 0.0)
    assert w == {"en": 0.5, "sw": 0.5}
    w = language_weights(langs, 0.5)
    assert w["sw"] == pytest.approx(10 ** 0.5 / (90 ** 0.5 + 10 ** 0.5))
    import random

    order = epoch_order(langs, 0.0, random.Random(1))
    assert len(order) == 100
    share_sw = sum(1 for i in order if langs[i] == "sw") / 100
    assert 0.35 < share_sw < 0.65  # upsampled from 0.10 towards 0.5
    assert sorted(epoch_order(langs, 1.0, random.Random(1))) == list(range(100))


def test_batches_respect_budgets_and_cover_every_window():
    import random

    cfg = TrainConfig(per_device_train_batch_size=8, tokens_per_batch=256, max_seq_length=128)
    lengths = [random.Random(i).randint(5, 120) for i in range(300)]
    batches = make_batches(list(range(300)), lengths, cfg, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(300))
    for b in batches:
        assert len(b) <= 8
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 256


def test_hold_out_dev_keeps_documents_together_and_every_language():
    sents = []
    for lang in ("es", "nl"):
        for doc in range(10):
            for k in range(5):
                sents.append(Sentence(tokens=[f"{lang}{doc}{k}"], ner_tags=["O"], lang=lang, doc_id=f"{lang}-{doc}",
                                      source=f"{lang}.txt"))
    train, dev = hold_out_dev(sents, 0.2, seed=1)
    assert len(train) + len(dev) == 100
    assert {s.lang for s in dev} == {"es", "nl"}
    dev_docs = {s.doc_id for s in dev}
    assert not any(s.doc_id in dev_docs for s in train)


def _env(tmp_path) -> dict:
    env = dict(os.environ)
    env["NER_STUDIO_WORKSPACE"] = str(tmp_path / "ws")
    env["PYTHONPATH"] = str(ROOT)
    env["NER_STUDIO_POLL_S"] = "0.2"
    return env


def _cli(args: list[str], env: dict, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_cli_train_worker_to_finished_then_predict_and_evaluate(tiny_model_dir, tmp_path):
    env = _env(tmp_path)
    cfg = json.dumps({"model_name_or_path": tiny_model_dir, "max_steps": 8, "eval_steps": 4,
                      "per_device_train_batch_size": 8, "num_threads": 1, "max_seq_length": 64, "stride": 8,
                      "report_to": "tensorboard"})
    proc = _cli(["train", "--train", str(DEMO / "train.conll"), "--dev", str(DEMO / "dev.conll"),
                 "--test", str(DEMO / "test.conll"), "--max-train-sentences", "120", "--config", cfg, "--json"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "FINISHED" and out["dev_f1"] is not None
    assert set(out["test"]) >= {"overall", "per_language", "per_type"}
    assert set(out["test"]["per_language"]) == {"ar", "de", "en", "es", "hi", "ru", "sw", "zh"}
    assert Path(out["model_dir"], "config.json").exists()
    # metric rows reached the store
    from core.runs.store import RunStore

    store = RunStore(tmp_path / "ws")
    hist = store.metric_history(out["run_id"])
    assert len(hist["train_loss"]) >= 1 and len(hist["eval_f1"]) == 2
    # report_to: the same rows reached TensorBoard event files in the run folder
    events = list((store.run_dir(out["run_id"]) / "trackers").rglob("events.out.tfevents.*"))
    assert events and sum(e.stat().st_size for e in events) > 0
    assert {a.kind for a in store.list_artifacts(out["run_id"])} >= {"model", "predictions_test", "predictions_dev"}
    # predict: one tag per word, character offsets
    pred = _cli(["predict", "--model", out["run_id"], "--text", "Angela Merkel visitó Madrid.", "--json"], env)
    assert pred.returncode == 0, pred.stderr[-2000:]
    p = json.loads(pred.stdout.strip().splitlines()[-1])
    assert p["words"] == ["Angela", "Merkel", "visitó", "Madrid", "."] and len(p["tags"]) == 5
    for e in p["entities"]:
        assert "Angela Merkel visitó Madrid."[e["start"]:e["end"]] == e["text"]
    ev = _cli(["evaluate", "--model", out["model_dir"], "--data", str(DEMO / "test.conll"), "--json"], env)
    assert ev.returncode == 0, ev.stderr[-2000:]
    ev_out = json.loads(ev.stdout.strip().splitlines()[-1])
    assert ev_out["overall"]["support"] == sum(v["support"] for v in ev_out["per_language"].values())


@pytest.mark.slow
def test_kill9_then_resume_finishes(tiny_model_dir, tmp_path):
    from core.runs import jobs
    from core.runs.store import RunStore

    env = _env(tmp_path)
    os.environ["NER_STUDIO_WORKSPACE"] = env["NER_STUDIO_WORKSPACE"]
    try:
        store = RunStore(tmp_path / "ws")
        cfg = _cfg(tiny_model_dir, max_steps=400, eval_steps=200).to_dict()
        run = store.create_run(cfg, {"train": [str(DEMO / "train.conll")], "dev": [str(DEMO / "dev.conll")]})
        pid = jobs.launch(run.run_id, store)
        deadline = time.time() + 120
        while store.get_run(run.run_id).step < 3 and time.time() < deadline:
            time.sleep(0.2)
        assert store.get_run(run.run_id).step >= 3
        os.kill(pid, 9)
        t0 = time.time()
        while store.get_run(run.run_id).status != "FAILED" and time.time() - t0 < 30:
            jobs.check_alive(store)
            time.sleep(0.2)
        failed = store.get_run(run.run_id)
        assert failed.status == "FAILED" and "E307" in failed.error and "train.log" in failed.error
        jobs.resume(run.run_id, store)
        deadline = time.time() + 180
        while store.get_run(run.run_id).status not in ("FINISHED", "FAILED") and time.time() < deadline:
            jobs.check_alive(store)
            time.sleep(0.5)
        done = store.get_run(run.run_id)
        assert done.status == "FINISHED", done.error
        assert done.step == 400
    finally:
        os.environ.pop("NER_STUDIO_WORKSPACE", None)


@pytest.mark.slow
def test_two_process_ddp_on_cpu_with_gloo(tiny_model_dir, tmp_path):
    env = _env(tmp_path)
    cfg = json.dumps({"model_name_or_path": tiny_model_dir, "max_steps": 6, "eval_steps": 3,
                      "per_device_train_batch_size": 8, "num_threads": 1, "max_seq_length": 64, "stride": 8,
                      "ddp_processes": 2, "device": "cpu"})
    proc = _cli(["train", "--train", str(DEMO / "train.conll"), "--dev", str(DEMO / "dev.conll"),
                 "--max-train-sentences", "200", "--config", cfg, "--json"], env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "FINISHED", out
    log = (tmp_path / "ws" / "runs" / out["run_id"] / "train.log").read_text()
    assert "data-parallel training in 2 processes" in log
    assert Path(out["model_dir"], "model.safetensors").exists()


def test_eval_loss_equals_the_models_own_loss(tiny_model_dir):
    import torch
    from transformers import AutoModelForTokenClassification

    from core.model.alignment import collate, encode_words
    from core.model.predictor import Predictor

    pred = Predictor(tiny_model_dir, device="cpu", precision="fp32")
    words = ["Angela", "Merkel", "visitó", "Madrid", "ayer", "."]
    ids = [7, 8, 0, 1, 0, 0]
    _, loss = pred.predict_with_loss([words], [ids])
    model = AutoModelForTokenClassification.from_pretrained(tiny_model_dir).eval()
    enc = collate(encode_words(pred.tokenizer, words, 64, 8, labels=ids), pred.tokenizer.pad_token_id)
    with torch.no_grad():
        ref = model(**enc).loss.item()
    assert loss == pytest.approx(ref, rel=1e-4)


def test_model_card_counts_the_sentences_left_out(tmp_path):
    """A dataset trained on its good sentences says in the card how many were left out, and where."""
    from core.train.loop import write_model_card

    data = {"left_out": {"n_sentences": 2, "n_errors": 3,
                         "sentences": [{"where": "train.conll:7"}, {"where": "train.conll:19"}]}}
    write_model_card(str(tmp_path), TrainConfig(), data, {}, None, None)
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "- **left out**: 2 sentence(s) with errors were not trained on (first: train.conll:7, train.conll:19)" in card
    write_model_card(str(tmp_path), TrainConfig(), {}, {}, None, None)
    assert "left out" not in (tmp_path / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("cpu_dropout", [True, False])
def test_training_runs_in_train_mode_from_the_first_step(tiny_model_dir, demo, tmp_path, monkeypatch, cpu_dropout):
    """Regression: from_pretrained returns an eval-mode model and dropout stayed off until the first dev
    evaluation. Every step before it must run with dropout on, with the studio's CPU dropout or torch's."""
    import torch

    import core.train.loop as loop
    from core.model.dropout import ATTN_IMPLEMENTATION, CpuDropout

    built, seen, logs = [], [], []
    real_build = loop._build_model
    monkeypatch.setattr(loop, "_build_model", lambda *a, **kw: built.append(real_build(*a, **kw)) or built[-1])

    def on_progress(step, total):
        model = built[-1]
        drops = [m for m in model.modules() if isinstance(m, torch.nn.Dropout) and m.p > 0]
        seen.append((step, model.training, all(m.training for m in drops),
                     {type(m) for m in drops}, model.config._attn_implementation))

    res = fit(_cfg(tiny_model_dir, max_steps=3, eval_steps=3, cpu_dropout=cpu_dropout), demo["train"], demo["dev"],
              str(tmp_path), Callbacks(on_progress=on_progress, log=logs.append))
    assert res.status == "FINISHED"
    step, training, drops_training, kinds, attn = seen[0]
    assert step == 1 and training and drops_training
    if cpu_dropout:
        assert kinds == {CpuDropout} and attn == ATTN_IMPLEMENTATION
        assert any(line.startswith("CPU dropout (core.model.dropout): ") for line in logs)
    else:
        assert kinds == {torch.nn.Dropout} and attn != ATTN_IMPLEMENTATION
        assert not any(line.startswith("CPU dropout") for line in logs)
    # the saved model is a plain transformers model
    config = json.loads((Path(res.model_dir) / "config.json").read_text())
    assert ATTN_IMPLEMENTATION not in json.dumps(config)


def test_a_checkpoint_of_a_foreach_optimizer_resumes_on_the_fused_kernel():
    """load_state_dict restores the saved groups' options (torch): an old checkpoint would resume on foreach."""
    import torch

    from core.train.loop import load_checkpoint

    w = torch.nn.Parameter(torch.ones(3))
    old = torch.optim.AdamW([w], lr=0.1, foreach=True)
    w.grad = torch.ones(3)
    old.step()
    saved = old.state_dict()
    new = torch.optim.AdamW([w], lr=0.1, fused=True)

    class Acc:
        def load_state(self, path):
            new.load_state_dict(saved)

    load_checkpoint(Acc(), "ckpt", new)
    assert new.param_groups[0]["fused"] is True and not new.param_groups[0]["foreach"]
    assert new.state[w]["step"].item() == 1.0
    new.step()  # the fused kernel runs on the loaded state
    assert new.state[w]["step"].item() == 2.0
