"""Importing one task: run its sources' importers, merge, map labels, carve valid, cut lengths, write."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from plus.data.task_data.canonical import apply_max_length, carve_valid, merge_tables, write_task
from plus.data.task_data.importers import describe, import_source, spec_path
from plus.errors import InputError
from plus.io import file_md5, require
from plus.tasks import TaskSpec, resolve_task

log = logging.getLogger(__name__)

CONFIG_KEYS = ("task", "sources", "valid_from_train", "expected_sizes", "max_length", "label_map")


def task_spec(value: Any, where: str) -> TaskSpec:
    """The TaskSpec of a config's `task` entry: a TaskSpec.to_dict() mapping or a built-in task's name."""
    try:
        if isinstance(value, str):
            return resolve_task(value)
        if isinstance(value, Mapping):
            return TaskSpec.from_dict(dict(value))
    except (TypeError, ValueError) as error:
        raise InputError(f"{where}: task: {error}") from error
    raise InputError(f"{where}: task must be a mapping (TaskSpec) or a task name, not {type(value).__name__}")


def apply_label_map(
    tables: dict[str, pd.DataFrame], label_map: Mapping[str, str], where: str
) -> dict[str, pd.DataFrame]:
    """Rename labels `{old: new}`; the number of records renamed is counted in attrs['mapped']."""
    if not isinstance(label_map, Mapping):
        raise InputError(f"{where}: label_map must be a mapping of old label -> new label")
    mapping = {str(old): str(new) for old, new in label_map.items()}
    result = {}
    for split, table in tables.items():
        labels = table["label"].astype(str)
        hits = labels.isin(list(mapping))
        mapped = dict(table.attrs.get("mapped", {}))
        for old, n in labels[hits].value_counts().items():
            key = f"label {old} -> {mapping[old]}"
            mapped[key] = mapped.get(key, 0) + int(n)
        table = table.copy()
        table.loc[hits, "label"] = labels[hits].map(mapping)
        table.attrs["mapped"] = mapped
        result[split] = table
    return result


def import_task(config: Mapping[str, Any], out_dir: str | os.PathLike[str], where: str) -> dict[str, Any]:
    """Run every source of a task config, merge, carve/cap/map as configured, validate and write out_dir."""
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        log.warning("%s: ignoring config keys %s (known: %s)", where, unknown, list(CONFIG_KEYS))
    spec = task_spec(require(dict(config), "task", where), where)
    sources = require(dict(config), "sources", where)
    if not isinstance(sources, list) or not sources:
        raise InputError(f"{where}: sources must be a non-empty list of {{format, files, options}}")
    parts = []
    checksums: dict[str, str] = {}
    for index, source in enumerate(sources):
        label = f"{where}: sources[{index}]"
        tables = import_source(source, label)
        for split, table in tables.items():
            log.info("%s: %s %s: %d records", spec.name, source["format"], split, len(table))
        parts.append(tables)
        for spec_value in source["files"].values():
            checksums.setdefault(describe(spec_value), file_md5(spec_path(spec_value)))
    repeated = _repeated_splits(parts)
    if repeated:
        log.info("%s: splits %s come from more than one source and are concatenated", spec.name, repeated)
    tables = merge_tables(parts)
    extra: dict[str, Any] = {}
    if config.get("label_map"):
        tables = apply_label_map(tables, config["label_map"], where)
    carve = config.get("valid_from_train")
    if carve:
        try:
            fraction, seed = float(carve["fraction"]), int(carve.get("seed", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InputError(f"{where}: valid_from_train must be {{fraction: F, seed: S}} ({error})") from error
        tables = carve_valid(tables, fraction, seed)
        extra["valid_from_train"] = {"fraction": fraction, "seed": seed}
    if config.get("max_length"):
        if not isinstance(config["max_length"], Mapping):
            raise InputError(f"{where}: max_length must be a mapping such as {{keep_ends: 1000}}")
        tables = apply_max_length(tables, config["max_length"], spec)
        extra["max_length"] = dict(config["max_length"])
    expected = config.get("expected_sizes") or {}
    if not isinstance(expected, Mapping) or not all(isinstance(n, int) for n in expected.values()):
        raise InputError(f"{where}: expected_sizes must be a mapping of split -> integer count")
    return write_task(out_dir, spec, tables, sources=checksums, expected_sizes=expected, extra=extra)


def _repeated_splits(parts: list[dict[str, pd.DataFrame]]) -> list[str]:
    seen: dict[str, int] = {}
    for tables in parts:
        for split in tables:
            seen[split] = seen.get(split, 0) + 1
    return sorted(split for split, n in seen.items() if n > 1)
