"""A run's predictions.parquet as the report's statistics read it: rows keyed for pairing, and the task spec."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from plus.errors import InputError
from plus.report.collect import ReportData, TaskInfo
from plus.tasks import BUILTIN_TASKS, UNLABELLED, TaskSpec
from plus.tasks.shapes import SHAPES

KEY = "_row"


def read_predictions(path: Path) -> pd.DataFrame:
    """A predictions table with `split`, `id`, `target`, plus KEY: split, id and occurrence of that id in the split
    (table order), so two runs' rows pair up even where ids repeat (pairs of the same first domain)."""
    try:
        table = pd.read_parquet(path)
    except Exception as error:
        raise InputError(f"{path}: cannot read predictions: {error}") from error
    missing = [c for c in ("split", "id", "target") if c not in table.columns]
    if missing:
        raise InputError(f"{path}: predictions lack columns {missing}")
    return with_row_keys(table)


def with_row_keys(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with the KEY column: split, id and occurrence of that id within the split."""
    occurrence = table.groupby(["split", "id"], sort=False).cumcount()
    keys = table["split"].astype(str) + "\t" + table["id"].astype(str) + "\t" + occurrence.astype(str)
    return table.assign(**{KEY: keys.to_numpy()})


def run_predictions(data: ReportData, model: str, task: str) -> dict[int, pd.DataFrame]:
    """Seed -> predictions of one model on one task."""
    keys = sorted((k for k in data.predictions if k.model == model and k.task == task), key=lambda k: k.seed)
    return {key.seed: read_predictions(data.predictions[key]) for key in keys}


def report_task_spec(task: TaskInfo, frames: list[pd.DataFrame], planned: TaskSpec | None = None) -> TaskSpec:
    """The task's spec as the plan resolved it (`planned`, the report job's), its classes read from the predictions
    where they come from the data; without one (a report built outside the workflow), the built-in spec of the
    task, else one built from its shape and the labels seen in its predictions."""
    if planned is not None:
        if planned.classes_from_data and not planned.classes:
            classes = _seen_classes(task.shape, frames)
            return TaskSpec.from_dict({**planned.to_dict(), "classes": list(classes)}, f"task {task.name!r}")
        return planned
    builtin = BUILTIN_TASKS.get(task.name)
    if builtin is not None and builtin.shape == task.shape:
        return builtin
    values = {
        "name": task.name,
        "shape": task.shape,
        "classes": list(_seen_classes(task.shape, frames)),
        "test_splits": [task.headline_split],
        "headline_metric": task.headline_metric,
        "headline_split": task.headline_split,
    }
    return TaskSpec.from_dict(values, f"task {task.name!r} as its evaluations describe it")


def _seen_classes(shape: str, frames: list[pd.DataFrame]) -> tuple[str, ...]:
    """The class names (protein) or label letters (residue) in the predictions' targets and predictions."""
    classes: tuple[str, ...] = ()
    if not SHAPES[shape].classified:
        return classes
    if not SHAPES[shape].per_residue:
        seen = set()
        for frame in frames:
            seen |= set(frame["target"].astype(str)) | set(frame["prediction"].astype(str))
        classes = tuple(sorted(seen))
    else:
        seen = set()
        for frame in frames:
            seen |= set("".join(frame["target"].astype(str))) | set("".join(frame["prediction"].astype(str)))
        classes = tuple(sorted(seen - {UNLABELLED}))
    return classes
