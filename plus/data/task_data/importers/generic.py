"""The generic `table` importer: any CSV, TSV or FASTA file, read through a column mapping from config.

files: `{split: path}`; the options are declared by `TableOptions` below (docs/formats.md lists them).
FASTA files (`.fa`, `.fasta`, `.faa`, or `format: fasta`) take the id from header field 0 and the label (and,
with `split_column: "header_field:N"`, the split) from other whitespace-separated header fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from plus.data.fasta import read_fasta
from plus.data.task_data.declarations import SPLIT, FileKey, Format, FormatOptions
from plus.data.task_data.importers import (
    ORIGIN,
    FileSpec,
    describe,
    new_table,
    open_text,
    read_delimited,
    spec_member,
    spec_path,
    truncation_warnings,
)
from plus.errors import InputError


class TableOptions(FormatOptions):
    """Options of the `table` format."""

    columns: dict[str, Any] | None = Field(
        None,
        description="canonical column -> file column (names, or 0-based positions with header: false) for id "
        "(optional: `{split}_{row}`), sequence, label, and sequence_b/id_b for pairs; required for CSV/TSV",
    )
    sep: str | None = Field(None, description="field separator (null: tab for .tsv/.tab files, comma otherwise)")
    header: bool = Field(True, description="whether the first line names the columns")
    split_column: str | int | None = Field(
        None,
        description="column whose values name each row's split; for FASTA `header_field:N` "
        "(null: the files key is the split)",
    )
    fasta_label: str = Field(
        "header_field:1", description="FASTA only: the label is header field N (field 0 is the id)"
    )
    format: Literal["fasta", "csv", "tsv"] | None = Field(None, description="the file type (null: from the file name)")


FASTA_SUFFIXES = (".fa", ".fasta", ".faa", ".fa.gz", ".fasta.gz", ".faa.gz")
TABLE_COLUMNS = ("id", "sequence", "label", "id_b", "sequence_b")
HEADER_FIELD = "header_field"


def _file_name(spec: FileSpec) -> str:
    """The name whose suffix tells the file type (an archive member's own name; a URL's when not yet local)."""
    if isinstance(spec, Mapping) and "path" not in spec:
        return str(spec.get("member") or spec.get("name") or spec.get("url") or "").lower()
    return str(spec_member(spec) or spec_path(spec)).lower()


def _is_fasta(spec: FileSpec, options: TableOptions) -> bool:
    if options.format is not None:
        return options.format == "fasta"
    return _file_name(spec).endswith(FASTA_SUFFIXES)


def _separator(spec: FileSpec, options: TableOptions) -> str:
    if options.sep is not None:
        return str(options.sep)
    if options.format == "tsv" or _file_name(spec).removesuffix(".gz").endswith((".tsv", ".tab")):
        return "\t"
    return ","


def _header_field(rule: Any, option: str) -> int:
    """N of a `header_field:N` rule (N >= 1; field 0 is the id)."""
    kind, _, number = str(rule).partition(":")
    if kind != HEADER_FIELD or not number.isdigit() or int(number) == 0:
        raise InputError(f"format 'table': {option} must be 'header_field:N' with N >= 1, not {rule!r}")
    return int(number)


def _read_fasta_table(spec: FileSpec, split: str, options: TableOptions) -> dict[str, pd.DataFrame]:
    name = describe(spec)
    field = _header_field(options.fasta_label, "fasta_label")
    split_field = None if options.split_column is None else _header_field(options.split_column, "split_column")
    rows: dict[str, list[tuple[str, str, str, str]]] = {}
    with open_text(spec) as handle:
        for record in read_fasta(handle, name=name):
            fields = record.header.split()
            where = f"{name}: line {record.line}"
            for wanted, what in ((field, "the label"), (split_field, "the split")):
                if wanted is not None and len(fields) <= wanted:
                    raise InputError(f"{where}: header {record.header!r} has no field {wanted} for {what}")
            group = split if split_field is None else fields[split_field]
            rows.setdefault(group, []).append((fields[0], record.sequence, fields[field], where))
        notes = truncation_warnings(handle)
    if not rows:
        raise InputError(f"{name}: no FASTA records")
    return {
        group: new_table(
            dict(zip(("id", "sequence", "label", ORIGIN), zip(*found, strict=True), strict=True)), warnings=notes
        )
        for group, found in rows.items()
    }


def _column_map(options: TableOptions) -> dict[str, Any]:
    columns = options.columns
    if not isinstance(columns, dict) or "sequence" not in columns or "label" not in columns:
        raise InputError("format 'table': options.columns must map at least 'sequence' and 'label' to columns")
    unknown = sorted(set(columns) - set(TABLE_COLUMNS))
    if unknown:
        raise InputError(f"format 'table': options.columns has unknown keys {unknown}; allowed {TABLE_COLUMNS}")
    return columns


def _read_delimited(spec: FileSpec, options: TableOptions) -> tuple[pd.DataFrame, pd.Series]:
    """The file as a frame of strings and, per row, its line number in the file."""
    header = options.header
    frame = read_delimited(spec, sep=_separator(spec, options), header=0 if header else None)
    lines = pd.Series(np.arange(1, len(frame) + 1) + (1 if header else 0))
    return frame, lines


def _read_delimited_table(spec: FileSpec, split: str, options: TableOptions) -> dict[str, pd.DataFrame]:
    name = describe(spec)
    columns = _column_map(options)
    frame, lines = _read_delimited(spec, options)
    wanted = dict(columns)
    split_column = options.split_column
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
        result[str(group)] = new_table(rows, warnings=frame.attrs["warnings"])
    return result


def _read_table(files: dict[str, FileSpec], options: TableOptions) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    for key, spec in files.items():
        if _is_fasta(spec, options):
            found = _read_fasta_table(spec, key, options)
        else:
            found = _read_delimited_table(spec, key, options)
        for split, table in found.items():
            if split in tables:
                notes = tables[split].attrs["warnings"] + table.attrs["warnings"]
                tables[split] = pd.concat([tables[split], table], ignore_index=True)
                tables[split].attrs = {"mapped": {}, "dropped": {}, "warnings": notes}
            else:
                tables[split] = table
    return tables


def _check_table(files: Mapping[str, Any], options: TableOptions) -> None:
    """The option checks that need the files keys: the FASTA rules and (for tables) columns."""
    _header_field(options.fasta_label, "fasta_label")
    fasta = [key for key, spec in files.items() if _is_fasta(spec, options)]
    split_column = options.split_column
    if fasta and split_column is not None and not str(split_column).startswith(f"{HEADER_FIELD}:"):
        raise InputError(
            f"format 'table': files {fasta} are FASTA, where split_column must be 'header_field:N', "
            f"not {split_column!r}"
        )
    if split_column is not None and str(split_column).startswith(f"{HEADER_FIELD}:"):
        _header_field(split_column, "split_column")
    if len(fasta) < len(files):
        _column_map(options)


import_table = Format(
    "table",
    _read_table,
    "Any CSV, TSV or FASTA file read through a column mapping from config (new tasks need no code).",
    (FileKey(SPLIT, "a file of that split, or any name when split_column names each row's split"),),
    TableOptions,
    check=_check_table,
)
