"""Class lists for tasks with too many classes to write into the config: from a file or from the data."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from plus.errors import InputError
from plus.io import read_text_file
from plus.settings import TaskSpec


def read_classes_file(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The classes in a text file, one per line, in file order; blank lines are skipped, repeats are errors."""
    path = Path(path)
    lines = read_text_file(path, "classes file").splitlines()
    classes: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        name = line.strip()
        if not name:
            continue
        if name in first_line:
            raise InputError(f"{path}: line {number}: class {name!r} already listed on line {first_line[name]}")
        first_line[name] = number
        classes.append(name)
    if len(classes) < 2:
        raise InputError(f"{path}: a classification task needs at least two classes, found {len(classes)}")
    return tuple(classes)


def classes_in_data(tables: Mapping[str, pd.DataFrame], split: str = "train", where: str = "task") -> tuple[str, ...]:
    """The distinct labels of one split of imported tables (protein classification), sorted."""
    if split not in tables:
        raise InputError(f"{where}: classes_from_data needs a {split!r} split (the sources made {sorted(tables)})")
    labels = tables[split]["label"]
    if labels.isna().any():
        raise InputError(f"{where}: split {split!r} has records without a label")
    classes = tuple(sorted(set(labels.astype(str).str.strip())))  # labels lose surrounding whitespace (canonical)
    if len(classes) < 2:
        raise InputError(f"{where}: split {split!r} has {len(classes)} distinct label(s); a task needs at least two")
    return classes


def classes_in_task_dir(task_dir: str | os.PathLike[str], split: str = "train") -> tuple[str, ...]:
    """The distinct labels of one split of an imported task directory (`results/tasks/<task>`), sorted."""
    from plus.data.task_data.canonical import read_split

    return classes_in_data({split: read_split(task_dir, split)}, split, str(task_dir))


def with_data_classes(spec: TaskSpec, task_dir: str | os.PathLike[str]) -> TaskSpec:
    """A spec whose classes come from the data (`classes_from_data`) with the classes its import recorded."""
    if not spec.classes_from_data or spec.classes:
        return spec
    import json

    summary = os.path.join(task_dir, "summary.json")
    try:
        names = json.loads(open(summary).read())["classes"]["names"]
    except (OSError, KeyError, ValueError) as error:
        raise InputError(f"{summary}: no classes recorded by the import ({error})") from error
    return TaskSpec.from_dict({**spec.to_dict(), "classes": list(names)}, f"{summary}: classes")
