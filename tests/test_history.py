"""The training history: each attempt's append-only log, and the merge of attempts after resumes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
import yaml
from lightning.fabric.utilities.data import AttributeDict

from plus.errors import InputError
from plus.training.history import START_STEP, attempt_logger, record_attempt_start, training_history


def log_attempt(checkpoint_dir: Path, start: int, rows: list[dict[str, float]]) -> Path:
    """One attempt starting at step `start` that logs `rows` (each with its step); returns its log directory."""
    logger = attempt_logger(checkpoint_dir)
    record_attempt_start(SimpleNamespace(logger=logger), start)
    for row in rows:
        logger.log_metrics({key: value for key, value in row.items() if key != "step"}, step=int(row["step"]))
    return Path(logger.log_dir)


def train(step: int, loss: float) -> dict[str, float]:
    return {"step": step, "epoch": step // 10, "train_loss": loss}


def val(step: int, loss: float) -> dict[str, float]:
    return {"step": step, "epoch": step // 10, "val_loss": loss}


def test_the_log_only_grows(tmp_path: Path) -> None:
    """Each logged row is appended to metrics.jsonl, a new metric too: the bytes written before are never rewritten."""
    logger = attempt_logger(tmp_path)
    metrics = Path(logger.log_dir) / "metrics.jsonl"
    assert metrics == tmp_path / "logs" / "version_0" / "metrics.jsonl"
    before = b""
    logged = [
        (9, {"train_loss": torch.tensor(0.75), "epoch": 0}),
        (19, {"train_loss": 0.5, "epoch": 1}),
        (19, {"val_loss": torch.tensor(0.625), "val_accuracy": 0.25, "epoch": 1}),  # new keys
        (29, {"train_loss": 0.25, "epoch": 2}),
    ]
    for step, values in logged:
        logger.log_metrics(values, step=step)
        now = metrics.read_bytes()
        assert now.startswith(before) and len(now) > len(before)
        before = now
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert rows[2] == {"step": 19, "val_loss": 0.625, "val_accuracy": 0.25, "epoch": 1.0}
    assert attempt_logger(tmp_path).version == 1  # the next attempt logs beside it


def test_a_line_cut_short_by_a_kill_is_skipped(tmp_path: Path) -> None:
    """The first attempt was killed while writing a row, then resumed from step 20: the merged history has the
    first attempt's rows below 20 and the second's from 20 on, nothing of the cut line."""
    first = log_attempt(tmp_path, 0, [train(9, 0.9), train(19, 0.8), val(19, 1.5), train(29, 0.7)])
    with (first / "metrics.jsonl").open("a") as log:
        log.write('{"step": 39, "train_lo')
    log_attempt(tmp_path, 20, [train(29, 0.6), train(39, 0.5), val(39, 1.2)])

    history = training_history(tmp_path, steps_per_epoch=10)
    expected = pd.DataFrame(
        {
            "step": [9, 19, 29, 39],
            "epoch": [0, 1, 2, 3],
            "train_loss": [0.9, 0.8, 0.6, 0.5],
            "val_loss": [float("nan"), 1.5, float("nan"), 1.2],
        }
    )
    pd.testing.assert_frame_equal(history, expected)


def test_a_bad_line_before_the_last_is_an_error(tmp_path: Path) -> None:
    """Only the last line can be cut short by a kill: a broken line before it is not skipped silently."""
    first = log_attempt(tmp_path, 0, [train(9, 0.9)])
    with (first / "metrics.jsonl").open("a") as log:
        log.write('{"step": 19, "train_lo\n{"step": 29, "train_loss": 0.7}\n')
    with pytest.raises(InputError, match="line 2 is not JSON"):
        training_history(tmp_path, steps_per_epoch=10)


def test_an_attempt_of_the_previous_code_merges_as_before(tmp_path: Path) -> None:
    """A checkpoint directory whose first attempt wrote metrics.csv (Lightning's CSVLogger), resumed by this code:
    the same history as two attempts both logged by this code."""
    first = [train(9, 0.9), train(19, 0.8), val(19, 1.5), train(29, 0.7)]
    second = [train(29, 0.6), train(39, 0.5), val(39, 1.2)]
    old = tmp_path / "old"
    attempt = old / "logs" / "version_0"
    attempt.mkdir(parents=True)
    (attempt / "hparams.yaml").write_text(f"{START_STEP}: 0\n")
    pd.DataFrame(first)[["epoch", "step", "train_loss", "val_loss"]].to_csv(attempt / "metrics.csv", index=False)
    assert log_attempt(old, 20, second) == old / "logs" / "version_1"

    new = tmp_path / "new"
    log_attempt(new, 0, first)
    log_attempt(new, 20, second)
    history = training_history(old, steps_per_epoch=10)
    pd.testing.assert_frame_equal(history, training_history(new, steps_per_epoch=10))
    assert history["step"].tolist() == [9, 19, 29, 39] and history["train_loss"].tolist() == [0.9, 0.8, 0.6, 0.5]


def test_the_start_step_survives_more_hyperparameters(tmp_path: Path) -> None:
    """Lightning logs the module's (here empty) hparams after the start step is recorded: the step stays, and
    values that are not YAML scalars are kept as text."""
    logger = attempt_logger(tmp_path)
    record_attempt_start(SimpleNamespace(logger=logger), 30)
    logger.log_hyperparams({})
    logger.log_hyperparams(AttributeDict())
    logger.log_hyperparams(AttributeDict(layers=[1, 2], path=tmp_path))
    hparams = yaml.safe_load((Path(logger.log_dir) / "hparams.yaml").read_text())
    assert hparams == {START_STEP: 30, "layers": "[1, 2]", "path": str(tmp_path)}
    assert sorted(path.name for path in Path(logger.log_dir).iterdir()) == ["hparams.yaml"]  # no temporary left
    assert training_history(tmp_path, steps_per_epoch=10).empty
