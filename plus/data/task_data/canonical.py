"""Canonical task tables: merge, carve a valid split, cap lengths, validate, write Parquet + summary.json."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from plus.data.task_data.importers import ORIGIN
from plus.data.task_data.splitting import canonical_order
from plus.errors import InputError
from plus.io import atomic_path, write_json
from plus.tasks import TaskSpec
from plus.tokens import encode, first_non_letter

NONCANONICAL = "XBZUOJ"  # letters that are not one of the 20 amino acids, counted per split in summary.json


def required_splits(spec: TaskSpec) -> tuple[str, ...]:
    """The splits every task must have: train, valid and each of its test splits."""
    return ("train", "valid", *spec.test_splits)


def canonical_columns(spec: TaskSpec, split: str) -> tuple[str, ...]:
    """The columns a split's table has on disk (pair tasks: pairs except in train)."""
    return spec.task_shape.columns(split)


def merge_tables(parts: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Concatenate the tables of several sources by split, summing their mapped/dropped counts."""
    by_split: dict[str, list[pd.DataFrame]] = {}
    for tables in parts:
        for split, table in tables.items():
            by_split.setdefault(split, []).append(table)
    merged: dict[str, pd.DataFrame] = {}
    for split, tables in by_split.items():
        table = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
        table.attrs = {
            "mapped": _sum_counts(t.attrs.get("mapped", {}) for t in tables),
            "dropped": _sum_counts(t.attrs.get("dropped", {}) for t in tables),
            "warnings": [note for t in tables for note in t.attrs.get("warnings", [])],
        }
        merged[split] = table
    return merged


def _sum_counts(counts: Any) -> dict[str, int]:
    total: Counter[str] = Counter()
    for count in counts:
        total.update({key: int(n) for key, n in count.items()})
    return {key: n for key, n in total.items() if n}


def carve_valid(tables: dict[str, pd.DataFrame], fraction: float, seed: int) -> dict[str, pd.DataFrame]:
    """Move round(fraction * n) train records, chosen by a seeded hash of their id, into a new valid split."""
    if "train" not in tables:
        raise InputError("valid_from_train: the sources produced no 'train' split to carve from")
    if "valid" in tables:
        raise InputError("valid_from_train: the sources already produced a 'valid' split")
    if not 0 < fraction < 1:
        raise InputError(f"valid_from_train.fraction must be between 0 and 1, got {fraction!r}")
    train = tables["train"]
    keys = train["id"].astype(str).map(lambda i: hashlib.md5(f"{seed}:{i}".encode()).hexdigest())
    order = np.argsort(keys.to_numpy(), kind="stable")
    n_valid = int(round(fraction * len(train)))
    is_valid = np.zeros(len(train), dtype=bool)
    is_valid[order[:n_valid]] = True
    result = dict(tables)
    result["train"] = train[~is_valid].reset_index(drop=True)
    result["valid"] = train[is_valid].reset_index(drop=True)
    result["train"].attrs = dict(train.attrs)
    result["valid"].attrs = {"warnings": list(train.attrs.get("warnings", []))}
    return result


def apply_max_length(
    tables: dict[str, pd.DataFrame], max_length: Mapping[str, Any] | None, spec: TaskSpec
) -> dict[str, pd.DataFrame]:
    """Apply the config's max_length rule: `{keep_ends: N}` keeps the first N//2 and last N - N//2."""
    if not max_length:
        return tables
    if set(max_length) != {"keep_ends"} or not isinstance(max_length["keep_ends"], int):
        raise InputError(f"max_length: only {{keep_ends: <int>}} is supported, got {dict(max_length)!r}")
    limit = max_length["keep_ends"]
    if limit < 2:
        raise InputError(f"max_length.keep_ends must be at least 2, got {limit}")
    head, tail = limit // 2, limit - limit // 2
    result = {}
    for split, table in tables.items():
        table = table.copy()
        columns = ["sequence", "sequence_b"] if "sequence_b" in table else ["sequence"]
        if spec.task_shape.per_residue:
            columns.append("label")
        too_long = np.zeros(len(table), dtype=bool)
        for column in columns:
            values = table[column].astype(str)
            long = (values.str.len() > limit).to_numpy()
            if column != "label":
                too_long |= long
            table.loc[long, column] = values[long].str[:head] + values[long].str[-tail:]
        mapped = dict(table.attrs.get("mapped", {}))
        if too_long.any():
            mapped[f"keep_ends_{limit}"] = mapped.get(f"keep_ends_{limit}", 0) + int(too_long.sum())
        table.attrs["mapped"] = mapped
        result[split] = table
    return result


def _record(table: pd.DataFrame, split: str, position: int) -> str:
    """How an error message names one record: its origin if known, else split, row and id."""
    row = table.iloc[position]
    if ORIGIN in table and isinstance(row[ORIGIN], str):
        return f"{row[ORIGIN]} (id {row['id']!r})"
    return f"split {split!r}, record {position + 1} (id {row['id']!r})"


def _show(value: Any) -> str:
    """repr of a value as the user wrote it (numpy scalars as plain Python values)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first(mask: np.ndarray | pd.Series) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


def _offending(sequence: str) -> str:
    """Why a sequence is not residue letters: empty, or its first other character with position and excerpt."""
    if not sequence:
        return "is empty"
    return f"has {first_non_letter(sequence)}, not a residue letter"


def _check_sequences(table: pd.DataFrame, split: str, column: str) -> tuple[pd.Series, int, Counter[str]]:
    """Upper-cased sequences of a column, the number of residues `encode` maps to X as unknown, and the count of
    each non-canonical letter (NONCANONICAL)."""
    values = table[column]
    missing = values.isna().to_numpy() | ~values.map(lambda v: isinstance(v, str)).to_numpy()
    if missing.any():
        raise InputError(f"{_record(table, split, _first(missing))}: {column} is missing")
    upper = values.str.upper()
    bad = ~upper.str.fullmatch(r"[A-Z]+").to_numpy(dtype=bool)
    if bad.any():
        position = _first(bad)
        raise InputError(f"{_record(table, split, position)}: {column} {_offending(values.iloc[position])}")
    joined = "".join(upper)
    unknown = encode(joined).n_unknown  # letters only by now, so one call counts them all
    return upper, unknown, Counter({letter: joined.count(letter) for letter in NONCANONICAL})


def _check_labels(table: pd.DataFrame, split: str, spec: TaskSpec) -> pd.Series:
    """The label column in its canonical type; InputError naming the first bad record.

    One rule for every importer: a protein-level label (class, number, similarity, fold) loses surrounding
    whitespace; a per-residue label string is taken as it is (a space there is a letter, and an error)."""
    labels = table["label"]
    if labels.isna().any():
        raise InputError(f"{_record(table, split, _first(labels.isna()))}: label is missing")
    return spec.task_shape.check_labels(
        labels, table["sequence"], split, spec, lambda position: _record(table, split, position)
    )


def validate_split(table: pd.DataFrame, split: str, spec: TaskSpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Check one split against the task and return it with canonical columns and types, plus its stats."""
    if len(table) == 0:
        raise InputError(f"split {split!r} of task {spec.name!r} is empty")
    columns = canonical_columns(spec, split)
    missing = [column for column in columns if column not in table]
    if "id_b" in missing and "sequence_b" in table:
        table = table.assign(id_b=[f"{split}_{i}_b" for i in range(len(table))])
        missing.remove("id_b")
    if missing:
        raise InputError(f"split {split!r}: table lacks columns {missing} (has {list(table.columns)})")
    table = table.reset_index(drop=True)
    if table["id"].isna().any():
        raise InputError(f"split {split!r}, record {_first(table['id'].isna()) + 1}: id is missing")
    ids = table["id"].astype(str)
    if spec.task_shape.unique_ids(split) and ids.duplicated().any():
        position = _first(ids.duplicated())
        earlier = int(np.flatnonzero((ids == ids.iloc[position]).to_numpy())[0])
        raise InputError(
            f"{_record(table, split, position)}: id {ids.iloc[position]!r} appears twice (first: "
            f"{_record(table, split, earlier)})"
        )
    sequence, unknown, noncanonical = _check_sequences(table, split, "sequence")
    clean = pd.DataFrame({"id": ids, "sequence": sequence})
    lengths = sequence.str.len()
    if "sequence_b" in columns:
        sequence_b, unknown_b, noncanonical_b = _check_sequences(table, split, "sequence_b")
        noncanonical += noncanonical_b
        clean["id_b"] = table["id_b"].astype(str)
        clean["sequence_b"] = sequence_b
        unknown += unknown_b
        lengths = pd.concat([lengths, sequence_b.str.len()], ignore_index=True)
    clean.insert(2, "label", _check_labels(table.assign(sequence=sequence), split, spec))
    stats: dict[str, Any] = {
        "n": len(clean),
        "length": {"min": int(lengths.min()), "median": float(lengths.median()), "max": int(lengths.max())},
        "unknown_residues": int(unknown),
        "noncanonical_residues": {letter: int(noncanonical[letter]) for letter in NONCANONICAL},
    }
    stats.update(spec.task_shape.label_summary(clean["label"], split, spec))
    return clean, stats


def write_task(
    out_dir: str | os.PathLike[str],
    spec: TaskSpec,
    tables: Mapping[str, pd.DataFrame],
    *,
    sources: Mapping[str, str] | None = None,
    expected_sizes: Mapping[str, int] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate every split, then write `{split}.parquet` and `summary.json` into out_dir atomically."""
    wanted = required_splits(spec)
    missing = [split for split in wanted if split not in tables]
    if missing:
        raise InputError(f"task {spec.name!r}: splits {missing} missing (the sources produced {sorted(tables)})")
    unexpected = sorted(set(tables) - set(wanted))
    if unexpected:
        raise InputError(f"task {spec.name!r}: splits {unexpected} are not splits of the task ({list(wanted)})")
    expected_sizes = dict(expected_sizes or {})
    unknown_expected = sorted(set(expected_sizes) - set(wanted))
    if unknown_expected:
        raise InputError(f"expected_sizes names splits {unknown_expected} the task does not have")
    clean: dict[str, pd.DataFrame] = {}
    split_stats: dict[str, Any] = {}
    for split in wanted:
        clean[split], split_stats[split] = validate_split(tables[split], split, spec)
        for key in ("mapped", "dropped"):
            if tables[split].attrs.get(key):
                split_stats[split][key] = dict(tables[split].attrs[key])
    for split, expected in expected_sizes.items():
        found = len(clean[split])
        if found != expected:
            raise InputError(f"split {split!r}: expected {expected} records, found {found}")
    summary: dict[str, Any] = {
        "task": spec.name,
        "shape": spec.shape,
        "source": dict(sources or {}),
        "splits": split_stats,
        "mapped": _sum_counts(tables[split].attrs.get("mapped", {}) for split in wanted),
        "dropped": _sum_counts(tables[split].attrs.get("dropped", {}) for split in wanted),
        "duplicates_across_splits": duplicates_across_splits(clean),
        "warnings": list(dict.fromkeys(note for split in wanted for note in tables[split].attrs.get("warnings", []))),
        **dict(extra or {}),
    }
    with atomic_path(out_dir, directory=True) as tmp:
        for split, table in clean.items():
            table.to_parquet(Path(tmp) / f"{split}.parquet", index=False)
        write_json(Path(tmp) / "summary.json", summary)
        _make_readable(Path(tmp))
    return summary


def duplicates_across_splits(tables: Mapping[str, pd.DataFrame], examples: int = 5) -> dict[str, Any]:
    """For each pair of splits sharing sequences: how many distinct sequences, and a few ids from each side.

    Pair tables contribute both `sequence` and `sequence_b`; an example id is the record's `id`.
    """
    names = canonical_order(tables)
    first_id: dict[str, dict[str, str]] = {}
    for split in names:
        table = tables[split]
        seen: dict[str, str] = {}
        for column in ("sequence", "sequence_b"):
            if column in table:
                for sequence, record_id in zip(table[column].tolist(), table["id"].astype(str).tolist(), strict=True):
                    seen.setdefault(sequence, record_id)
        first_id[split] = seen
    found: dict[str, Any] = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = sorted(first_id[a].keys() & first_id[b].keys(), key=first_id[a].__getitem__)
            if shared:
                found[f"{a}/{b}"] = {
                    "sequences": len(shared),
                    "examples": [[first_id[a][s], first_id[b][s]] for s in shared[:examples]],
                }
    return found


def _make_readable(directory: Path) -> None:
    """Give the temp dir and its files the usual umask permissions (mkdtemp/mkstemp make them private)."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)
    for path in directory.iterdir():
        path.chmod(0o666 & ~umask)


def read_split(task_dir: str | os.PathLike[str], split: str) -> pd.DataFrame:
    """One split of a canonical task directory."""
    path = Path(task_dir) / f"{split}.parquet"
    if not path.is_file():
        raise InputError(f"{path}: canonical split not found (run `plus import-task`)")
    return pd.read_parquet(path)
