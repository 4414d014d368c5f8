"""Importing one task: run its sources' importers, merge, map or drop labels, carve valid, cut lengths, write.

Config keys besides `task` and `sources`: `label_map` (`{old: new}`; `{old: null}` drops those records, counted
in summary.json `dropped`), `valid_from_train` (`{fraction, seed}`), `max_length` (`{keep_ends: N}`),
`expected_sizes` (`{split: n}`), and for tasks with many classes `classes_file` (a text file, one class per
line) or `classes_from_data: true` (the distinct labels of the imported train split); either replaces the task's
`classes` and is recorded in summary.json `classes`. `check_task_config` checks all of it without reading data.

summary.json `content` holds each split's content fingerprint, taken before any max_length cut, and whether it is
an official split (plus.data.task_data.fingerprint); `downloaded_from` (the hosts, set by the workflow when every
file of the task is a url source) marks fingerprints without a shipped counterpart as recorded from a download.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from plus.data.task_data.canonical import (
    apply_max_length,
    carve_valid,
    merge_tables,
    required_splits,
    validate_split,
    write_task,
)
from plus.data.task_data.classes import classes_in_data, read_classes_file
from plus.data.task_data.fingerprint import content_record
from plus.data.task_data.importers import check_source, describe, import_source, source_files, spec_path
from plus.errors import InputError
from plus.io import file_md5, require
from plus.settings import ImportJob, LocalSource
from plus.tasks import TaskSpec, resolve_task

log = logging.getLogger(__name__)

CONFIG_KEYS = (
    "task",
    "sources",
    "valid_from_train",
    "expected_sizes",
    "max_length",
    "label_map",
    "classes_file",
    "classes_from_data",
    "downloaded_from",
)


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


def check_label_map(label_map: Any, where: str) -> dict[str, str | None]:
    """The label map as `{old: new or None}`; InputError unless it maps labels to labels or null (drop)."""
    if not isinstance(label_map, Mapping):
        raise InputError(f"{where}: label_map must be a mapping of old label -> new label (or null to drop)")
    result: dict[str, str | None] = {}
    for old, new in label_map.items():
        if isinstance(new, (Mapping, list)):
            raise InputError(f"{where}: label_map.{old}: must be a label or null, not {new!r}")
        result[str(old)] = None if new is None else str(new)
    return result


def apply_label_map(
    tables: dict[str, pd.DataFrame], label_map: Mapping[str, Any], where: str
) -> dict[str, pd.DataFrame]:
    """Rename labels `{old: new}` (counted in attrs['mapped']) and drop `{old: null}` (counted in attrs['dropped'])."""
    mapping = check_label_map(label_map, where)
    renames = {old: new for old, new in mapping.items() if new is not None}
    drops = [old for old, new in mapping.items() if new is None]
    result = {}
    for split, table in tables.items():
        labels = table["label"].astype(str)
        mapped = dict(table.attrs.get("mapped", {}))
        dropped = dict(table.attrs.get("dropped", {}))
        for old, n in labels[labels.isin(list(renames))].value_counts().items():
            key = f"label {old} -> {renames[old]}"
            mapped[key] = mapped.get(key, 0) + int(n)
        for old, n in labels[labels.isin(drops)].value_counts().items():
            key = f"label {old} (label_map: null)"
            dropped[key] = dropped.get(key, 0) + int(n)
        attrs = {**table.attrs, "mapped": mapped, "dropped": dropped}
        keep = ~labels.isin(drops).to_numpy()
        table = table[keep].reset_index(drop=True)
        hits = labels[keep].reset_index(drop=True).isin(list(renames))
        table.loc[hits, "label"] = labels[keep].reset_index(drop=True)[hits].map(renames)
        table.attrs = attrs
        result[split] = table
    return result


def _carve_settings(carve: Any, where: str) -> tuple[float, int]:
    try:
        return float(carve["fraction"]), int(carve.get("seed", 0))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InputError(f"{where}: valid_from_train must be {{fraction: F, seed: S}} ({error})") from error


def _expected_sizes(config: Mapping[str, Any], where: str) -> Mapping[str, int]:
    expected = config.get("expected_sizes") or {}
    if not isinstance(expected, Mapping) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in expected.values()
    ):
        raise InputError(f"{where}: expected_sizes must be a mapping of split -> integer count")
    return expected


def check_task_config(config: Mapping[str, Any], where: str) -> TaskSpec:
    """Every check of an import config that needs no data file: keys, task, sources, label_map, carving, sizes.

    Returns the task spec. `classes_file` is checked for existence only when it is a local path that exists
    already (the workflow may still have to make it).
    """
    if not isinstance(config, Mapping):
        raise InputError(f"{where}: a task import config must be a mapping")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise InputError(f"{where}: unknown config keys {unknown} (known: {list(CONFIG_KEYS)})")
    spec = task_spec(require(dict(config), "task", where), where)
    sources = require(dict(config), "sources", where)
    if not isinstance(sources, list) or not sources:
        raise InputError(f"{where}: sources must be a non-empty list of {{format, files, options}}")
    for index, source in enumerate(sources):
        check_source(source, f"{where}: sources[{index}]")
    if config.get("label_map"):
        check_label_map(config["label_map"], where)
    if config.get("valid_from_train"):
        fraction, _ = _carve_settings(config["valid_from_train"], where)
        if not 0 < fraction < 1:
            raise InputError(f"{where}: valid_from_train.fraction must be between 0 and 1, got {fraction!r}")
    if config.get("max_length") and not isinstance(config["max_length"], Mapping):
        raise InputError(f"{where}: max_length must be a mapping such as {{keep_ends: 1000}}")
    _expected_sizes(config, where)
    if config.get("classes_file") is not None and config.get("classes_from_data"):
        raise InputError(f"{where}: give classes_file or classes_from_data, not both")
    if config.get("classes_file") is not None and not isinstance(config["classes_file"], (str, os.PathLike)):
        raise InputError(f"{where}: classes_file must be a path, not {config['classes_file']!r}")
    if not isinstance(config.get("classes_from_data", False), bool):
        raise InputError(f"{where}: classes_from_data must be true or false")
    _downloaded_from(config, where)
    return spec


def import_task(config: Mapping[str, Any], out_dir: str | os.PathLike[str], where: str) -> dict[str, Any]:
    """Import a task from a config mapping, checked first by `check_task_config`; write out_dir (see `import_job`)."""
    spec = check_task_config(config, where)
    carve = config.get("valid_from_train")
    return _import(
        spec,
        config["sources"],
        out_dir,
        where,
        label_map=check_label_map(config["label_map"], where) if config.get("label_map") else {},
        valid_from_train=_carve_settings(carve, where) if carve else None,
        classes_file=config.get("classes_file"),
        classes_from_data=bool(config.get("classes_from_data")),
        max_length=dict(config["max_length"]) if config.get("max_length") else None,
        expected_sizes=_expected_sizes(config, where),
        downloaded_from=_downloaded_from(config, where),
    )


def import_job(job: ImportJob, out_dir: str | os.PathLike[str], where: str) -> dict[str, Any]:
    """What `plus import-task` runs: a typed job (validated by plus.settings), each source checked by its format."""
    for index, source in enumerate(job.sources):
        check_source(source, f"{where}: sources[{index}]")
    carve = job.valid_from_train
    return _import(
        job.task,
        job.sources,
        out_dir,
        where,
        label_map=dict(job.label_map),
        valid_from_train=(carve.fraction, carve.seed) if carve else None,
        classes_file=job.classes_file,
        classes_from_data=job.classes_from_data,
        max_length=job.max_length.model_dump() if job.max_length else None,
        expected_sizes=dict(job.expected_sizes),
        downloaded_from=list(job.downloaded_from),
    )


def _import(
    spec: TaskSpec,
    sources: Sequence[Mapping[str, Any] | LocalSource],
    out_dir: str | os.PathLike[str],
    where: str,
    *,
    label_map: Mapping[str, str | None],
    valid_from_train: tuple[float, int] | None,
    classes_file: str | os.PathLike[str] | None,
    classes_from_data: bool,
    max_length: dict[str, Any] | None,
    expected_sizes: Mapping[str, int],
    downloaded_from: list[str],
) -> dict[str, Any]:
    """Run every source, merge, map labels, carve valid, set the classes, cut lengths, validate and write out_dir."""
    parts = []
    checksums: dict[str, str] = {}
    for index, source in enumerate(sources):
        tables = import_source(source, f"{where}: sources[{index}]")
        if isinstance(source, LocalSource):
            fmt, files = source.format, source_files(source)
        else:
            fmt, files = source["format"], source["files"]
        for split, table in tables.items():
            log.info("%s: %s %s: %d records", spec.name, fmt, split, len(table))
        parts.append(tables)
        for spec_value in files.values():
            for name, md5 in source_md5s(spec_path(spec_value), describe(spec_value)).items():
                checksums.setdefault(name, md5)
    repeated = _repeated_splits(parts)
    if repeated:
        log.info("%s: splits %s come from more than one source and are concatenated", spec.name, repeated)
    tables = merge_tables(parts)
    extra: dict[str, Any] = {}
    if label_map:
        tables = apply_label_map(tables, label_map, where)
    if valid_from_train:
        fraction, seed = valid_from_train
        tables = carve_valid(tables, fraction, seed)
        extra["valid_from_train"] = {"fraction": fraction, "seed": seed}
    if classes_file is not None:
        spec = _with_classes(spec, read_classes_file(classes_file), where)
        extra["classes"] = {"from": str(classes_file), "names": list(spec.classes)}
    elif classes_from_data:
        spec = _with_classes(spec, classes_in_data(tables, where=where), where)
        extra["classes"] = {"from": "train data", "names": list(spec.classes)}
    if set(tables) == set(required_splits(spec)):  # else write_task says which splits are missing or extra
        extra["content"] = _content(spec, tables, downloaded_from)
    if max_length:
        tables = apply_max_length(tables, max_length, spec)
        extra["max_length"] = max_length
    return write_task(out_dir, spec, tables, sources=checksums, expected_sizes=expected_sizes, extra=extra)


def source_md5s(path: Path, name: str) -> dict[str, str]:
    """summary.json `source` entries of one source: `name` -> md5 of a file; of a directory (an LMDB database
    given as its directory), `name/relative path` -> md5 of each file under it."""
    if not path.is_dir():
        return {name: file_md5(path)}
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return {f"{name.rstrip('/')}/{p.relative_to(path).as_posix()}": file_md5(p) for p in files}


def _downloaded_from(config: Mapping[str, Any], where: str) -> list[str]:
    hosts = config.get("downloaded_from") or []
    if not isinstance(hosts, list) or not all(isinstance(host, str) for host in hosts):
        raise InputError(f"{where}: downloaded_from must be a list of host names")
    return hosts


def _content(spec: TaskSpec, tables: Mapping[str, pd.DataFrame], downloaded_from: list[str]) -> dict[str, Any]:
    """summary.json `content` of the task's splits as validated (canonical sequences and label types)."""
    clean = {split: validate_split(table, split, spec)[0] for split, table in tables.items()}
    return content_record(spec.name, clean, downloaded_from)


def _with_classes(spec: TaskSpec, classes: tuple[str, ...], where: str) -> TaskSpec:
    """The task spec with its classes replaced (validated again: the headline metric may depend on them)."""
    return TaskSpec.from_dict({**spec.to_dict(), "classes": list(classes)}, f"{where}: task")


def _repeated_splits(parts: list[dict[str, pd.DataFrame]]) -> list[str]:
    seen: dict[str, int] = {}
    for tables in parts:
        for split in tables:
            seen[split] = seen.get(split, 0) + 1
    return sorted(split for split, n in seen.items() if n > 1)
