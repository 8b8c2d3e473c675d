"""TrainConfig: unknown keys rejected with a suggestion, values validated with clear messages."""

import pytest

from core.kernel.config import TrainConfig, field_help
from core.kernel.errors import ConfigError


def test_defaults_are_valid_and_every_field_has_help():
    TrainConfig().validate()
    assert all(text for text in field_help().values())


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError, match=r"\[E201\] unknown configuration key 'learning_rat'.*'learning_rate'"):
        TrainConfig.from_dict({"learning_rat": 1e-4})


@pytest.mark.parametrize("key,value,message", [
    ("learning_rate", 0, r"\[E202\] learning_rate = 0.0 is invalid"),
    ("per_device_train_batch_size", 0, "per_device_train_batch_size = 0 is invalid"),
    ("stride", 200, "stride must be 0 to 127"),
    ("precision", "fp8", "precision must be auto, fp32 or bf16"),
    ("num_train_epochs", "three", "num_train_epochs = 'three' is invalid"),
    ("freeze_embeddings", "maybe", "freeze_embeddings = 'maybe' is invalid"),
    ("max_steps", 1.5, "max_steps = 1.5 is invalid"),
    ("device", "tpu", "device must be auto, cpu, cuda or cuda:N"),
])
def test_bad_values_rejected(key, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict({key: value})


def test_strings_from_forms_are_coerced():
    cfg = TrainConfig.from_dict({"learning_rate": "3e-5", "freeze_embeddings": "false", "max_steps": "10"})
    assert cfg.learning_rate == 3e-5 and cfg.freeze_embeddings is False and cfg.max_steps == 10


def test_device_is_stored_in_its_canonical_form():
    assert TrainConfig.from_dict({"device": " CUDA "}).device == "cuda:0"
    assert TrainConfig.from_dict({"device": "cuda:3"}).device == "cuda:3"
    assert TrainConfig.from_dict({}).device == "auto"


def test_report_to_is_validated_with_the_tracker_names():
    assert TrainConfig.from_dict({"report_to": "tensorboard, mlflow"}).report_to == "tensorboard, mlflow"
    assert TrainConfig.from_dict({}).report_to == "none"
    with pytest.raises(ConfigError, match=r"report_to = 'tensorbord' is invalid"):
        TrainConfig.from_dict({"report_to": "tensorbord"})


def test_report_discard_removes_a_code_and_its_count():
    from core.kernel.errors import Report

    r = Report()
    r.add("W110", "a", file="f", line=1)
    r.add("W110", "b", file="f", line=2)
    r.add("W102", "c", file="f", line=3)
    r.discard("W110")
    assert [p.code for p in r.problems] == ["W102"] and r.count("W110") == 0 and r.count("W102") == 1
