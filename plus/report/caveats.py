"""Scores the report marks as unreliable: near-constant predictions, too few training examples, or test classes
that training never showed.

A run's predictions (predictions.parquet) are near-constant when, on a test split, their sd is below
NEAR_CONSTANT_SD_RATIO times the targets' sd (regression; the expected SCOP level of a pair task) or when a single
class is predicted (protein and residue classification). A task's training split is too small below
ReportData.min_train_examples examples (report.min_train_examples); that check and the one for test classes absent
from training read the task's summary.json (`plus import-task`): a task without one is not checked for either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from plus.report.collect import ReportData
from plus.report.predictions import read_predictions
from plus.tasks import UNLABELLED
from plus.tasks.shapes import SHAPES

NEAR_CONSTANT_SD_RATIO = 0.05
CAVEAT_MARK = "‡"
CAVEAT_NOTE = (
    f"{CAVEAT_MARK}: unreliable score — near-constant predictions, fewer training examples than "
    "report.min_train_examples, or test classes absent from training (summary.md, section Caveats, names each)."
)


@dataclass(frozen=True)
class Caveat:
    """Why one model's scores on a task (`model` None: every model's) are unreliable."""

    task: str
    reason: str
    model: str | None = None

    def applies(self, model: str, task: str) -> bool:
        return self.task == task and self.model in (None, model)


def _prediction_spread(shape: str, frame: pd.DataFrame) -> str | None:
    """Why one split's predictions are near-constant, or None when they are not."""
    if frame.empty:
        return None
    column = SHAPES[shape].score_column
    if column is not None:
        if column not in frame:
            return None
        predicted = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        target = pd.to_numeric(frame["target"], errors="coerce").to_numpy(dtype=float)
        predicted_sd, target_sd = float(np.nanstd(predicted)), float(np.nanstd(target))
        if target_sd > 0 and predicted_sd < NEAR_CONSTANT_SD_RATIO * target_sd:
            return (
                f"near-constant predictions (sd {predicted_sd:.3g} against the targets' sd {target_sd:.3g}, "
                f"below {NEAR_CONSTANT_SD_RATIO:g} of it)"
            )
        return None
    if "prediction" not in frame:
        return None
    if SHAPES[shape].per_residue:
        classes = set("".join(frame["prediction"].astype(str))) - {UNLABELLED}
    else:
        classes = set(frame["prediction"].astype(str))
    if len(classes) == 1:
        return f"a single predicted class ({next(iter(classes))!r})"
    return None


def prediction_caveats(data: ReportData) -> list[Caveat]:
    """Per model and task: the seeds and splits whose predictions are near-constant."""
    found: dict[tuple[str, str], list[str]] = {}
    for key in sorted(data.predictions, key=lambda k: (k.model, k.task, k.seed)):
        shape = data.tasks[key.task].shape
        table = read_predictions(data.predictions[key])
        for split, frame in table.groupby("split", sort=False):
            reason = _prediction_spread(shape, frame)
            if reason is not None:
                found.setdefault((key.model, key.task), []).append(f"seed {key.seed} {split}: {reason}")
    return [Caveat(task, "; ".join(details), model) for (model, task), details in found.items()]


def _train_classes(split: Mapping[str, Any]) -> set[str]:
    balance = split.get("class_balance") or {}
    return {str(name) for name, count in balance.items() if count and name != UNLABELLED}


def summary_caveats(data: ReportData) -> list[Caveat]:
    """Per task, from its summary.json: too few training examples, test classes absent from training."""
    caveats = []
    for task, summary in data.task_summaries.items():
        splits = summary.get("splits") or {}
        train = splits.get("train")
        if not isinstance(train, Mapping):
            continue
        n = train.get("n")
        if isinstance(n, int) and n < data.min_train_examples:
            minimum = data.min_train_examples
            caveats.append(Caveat(task, f"trained on {n} examples, fewer than report.min_train_examples ({minimum})"))
        if "class_balance" not in train:
            continue
        seen = _train_classes(train)
        for split, record in splits.items():
            if split in ("train", "valid") or not isinstance(record, Mapping):
                continue
            absent = sorted(_train_classes(record) - seen)
            if absent:
                caveats.append(
                    Caveat(task, f"test split {split} has classes never seen in training: {', '.join(absent)}")
                )
    return caveats


def report_caveats(data: ReportData) -> list[Caveat]:
    """Every caveat of the report: task-wide ones first, then per model."""
    return summary_caveats(data) + prediction_caveats(data)


def caveat_mark(caveats: list[Caveat], model: str, task: str) -> str:
    """CAVEAT_MARK when a caveat applies to this model's scores on this task, else nothing."""
    return CAVEAT_MARK if any(caveat.applies(model, task) for caveat in caveats) else ""
