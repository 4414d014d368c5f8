"""The generic `table` importer: any CSV, TSV or FASTA file, read through a column mapping from config.

files: `{split: path}`. options:
- `columns`: canonical column -> column of the file, for `id` (optional: `{split}_{row}` when absent),
  `sequence`, `label`, and for pair tasks `sequence_b` (and `id_b`). Column names, or 0-based positions when
  `header: false`.
- `sep`: field separator (default: tab for .tsv/.tab files, comma otherwise); `header`: true (default) or false.
- `split_column`: a column whose values name each row's split (the files' keys are then only names).
- `fasta_label: "header_field:N"`: for FASTA files (`.fa`, `.fasta`, `.faa`, or `format: fasta`), the label is
  field N (0-based, whitespace-separated; default 1) of the header line; the id is field 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from plus.data.fasta import read_fasta
from plus.data.task_data.importers import (
    ORIGIN,
    FileSpec,
    describe,
    new_table,
    open_text,
    read_delimited,
    require_files,
    spec_member,
    spec_path,
)
from plus.errors import InputError

FASTA_SUFFIXES = (".fa", ".fasta", ".faa", ".fa.gz", ".fasta.gz", ".faa.gz")
TABLE_COLUMNS = ("id", "sequence", "label", "id_b", "sequence_b")
OPTIONS = ("columns", "sep", "header", "split_column", "fasta_label", "format")


def _file_name(spec: FileSpec) -> str:
    return str(spec_member(spec) or spec_path(spec)).lower()


def _is_fasta(spec: FileSpec, options: dict[str, Any]) -> bool:
    if "format" in options:
        if options["format"] not in ("fasta", "csv", "tsv"):
            raise InputError(f"format 'table': options.format must be fasta, csv or tsv, not {options['format']!r}")
        return options["format"] == "fasta"
    return _file_name(spec).endswith(FASTA_SUFFIXES)


def _separator(spec: FileSpec, options: dict[str, Any]) -> str:
    if "sep" in options:
        return str(options["sep"])
    if options.get("format") == "tsv" or _file_name(spec).removesuffix(".gz").endswith((".tsv", ".tab")):
        return "\t"
    return ","


def _fasta_label_field(options: dict[str, Any]) -> int:
    rule = str(options.get("fasta_label", "header_field:1"))
    kind, _, number = rule.partition(":")
    if kind != "header_field" or not number.isdigit() or int(number) == 0:
        raise InputError(f"format 'table': fasta_label must be 'header_field:N' with N >= 1, not {rule!r}")
    return int(number)


def _read_fasta_table(spec: FileSpec, split: str, options: dict[str, Any]) -> pd.DataFrame:
    name = describe(spec)
    field = _fasta_label_field(options)
    ids, sequences, labels, origins = [], [], [], []
    with open_text(spec) as handle:
        for record in read_fasta(handle, name=name):
            fields = record.header.split()
            if len(fields) <= field:
                raise InputError(
                    f"{name}: line {record.line}: header {record.header!r} has no field {field} for the label"
                )
            ids.append(fields[0])
            sequences.append(record.sequence)
            labels.append(fields[field])
            origins.append(f"{name}: line {record.line}")
    if not ids:
        raise InputError(f"{name}: no FASTA records")
    return new_table({"id": ids, "sequence": sequences, "label": labels, ORIGIN: origins})


def _column_map(options: dict[str, Any]) -> dict[str, Any]:
    columns = options.get("columns")
    if not isinstance(columns, dict) or "sequence" not in columns or "label" not in columns:
        raise InputError("format 'table': options.columns must map at least 'sequence' and 'label' to columns")
    unknown = sorted(set(columns) - set(TABLE_COLUMNS))
    if unknown:
        raise InputError(f"format 'table': options.columns has unknown keys {unknown}; allowed {TABLE_COLUMNS}")
    return columns


def _read_delimited(spec: FileSpec, options: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series]:
    """The file as a frame of strings and, per row, its line number in the file."""
    header = bool(options.get("header", True))
    frame = read_delimited(spec, sep=_separator(spec, options), header=0 if header else None)
    lines = pd.Series(np.arange(1, len(frame) + 1) + (1 if header else 0))
    return frame, lines


def _read_delimited_table(spec: FileSpec, split: str, options: dict[str, Any]) -> dict[str, pd.DataFrame]:
    name = describe(spec)
    columns = _column_map(options)
    frame, lines = _read_delimited(spec, options)
    wanted = dict(columns)
    split_column = options.get("split_column")
    if split_column is not None:
        wanted["split"] = split_column
    missing = [source for source in wanted.values() if source not in frame]
    if missing:
        raise InputError(f"{name}: no column(s) {missing} (columns: {list(frame.columns)})")
    for target in ("sequence", "label"):
        empty = (frame[columns[target]].str.strip() == "").to_numpy()
        if empty.any():
            raise InputError(f"{name}: line {lines[empty].iloc[0]}: empty {target} (column {columns[target]!r})")
    data = {target: frame[source].str.strip().to_numpy() for target, source in columns.items()}
    data[ORIGIN] = (f"{name}: line " + lines.astype(str)).to_numpy()
    table = pd.DataFrame(data)
    groups = {split: table} if split_column is None else dict(iter(table.groupby(frame[split_column].to_numpy())))
    result = {}
    for group, rows in groups.items():
        rows = rows.reset_index(drop=True)
        if "id" not in columns:
            rows.insert(0, "id", [f"{group}_{i}" for i in range(1, len(rows) + 1)])
        result[str(group)] = new_table(rows)
    return result


def import_table(files: dict[str, FileSpec], options: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """CSV/TSV/FASTA files read through the column mapping in options (see the module docstring)."""
    require_files(files, "table")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise InputError(f"format 'table': unknown options {unknown}; allowed {OPTIONS}")
    tables: dict[str, pd.DataFrame] = {}
    for key, spec in files.items():
        if _is_fasta(spec, options):
            found = {key: _read_fasta_table(spec, key, options)}
        else:
            found = _read_delimited_table(spec, key, options)
        for split, table in found.items():
            if split in tables:
                tables[split] = pd.concat([tables[split], table], ignore_index=True)
                tables[split].attrs = {"mapped": {}, "dropped": {}}
            else:
                tables[split] = table
    return tables


FORMATS = {"table": import_table}
