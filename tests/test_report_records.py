"""metrics.json of an evaluation: written and read through one typed record (plus.report.records)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from plus.errors import InputError
from plus.report.collect import load_evaluation
from plus.report.records import EvaluationRecord, write_evaluation


def evaluation() -> dict:
    """What `plus evaluate` puts in metrics.json for a pair task, in its key order."""
    return {
        "task": "homology",
        "model": "m",
        "seed": 1,
        "shape": "pair",
        "splits": {"test": {"accuracy": np.float64(0.75), "pearson": math.nan, "n": np.int64(20)}},
        "headline": {"metric": "accuracy", "split": "test", "value": 0.75},
        "encoder": None,
        "protocol": "finetune",
        "homology_score": "expected_level",
        "homology_thresholds_from": "valid",
        "homology_thresholds": [0.5, 1.5],
    }


def test_written_and_read_back_through_the_same_record(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    write_evaluation(path, evaluation())
    text = path.read_text()
    assert list(json.loads(text.replace("NaN", "null"))) == list(evaluation())  # the writer's key order
    assert '"n": 20' in text and '"pearson": NaN' in text  # a count stays an integer, an undefined metric NaN
    record = EvaluationRecord.read(path)
    assert record.homology_thresholds == [0.5, 1.5] and record.encoder is None
    key, task, rows = load_evaluation(path)
    assert (key.model, key.task, key.seed, task.shape, task.headline_metric) == ("m", "homology", 1, "pair", "accuracy")
    assert [row["metric"] for row in rows] == ["accuracy", "pearson"]  # the count is not a metric


def test_unset_keys_are_left_out(tmp_path: Path) -> None:
    values = {key: value for key, value in evaluation().items() if not key.startswith(("homology", "encoder"))}
    write_evaluation(tmp_path / "metrics.json", values)
    assert set(json.loads((tmp_path / "metrics.json").read_text())) == set(values)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": True}, "seed: Input should be a valid integer"),
        ({"splits": {"test": {"accuracy": math.inf}}}, "splits.test.accuracy: expected a number or NaN"),
        ({"headline": {"metric": "auc", "split": "test"}}, "headline metric 'auc' on split 'test' is not among"),
        ({"splits": {}}, "'splits' must be a non-empty object"),
    ],
)
def test_a_bad_record_is_refused_when_written(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "metrics.json"
    with pytest.raises(InputError, match=f"{path}: .*{message}"):
        write_evaluation(path, {**evaluation(), **change})
    assert not path.exists()
