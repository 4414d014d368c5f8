"""Per-residue task importers: NetSurfP-2.0 CSV and the PLUS secstr FASTA (secondary structure), TOPCONS2 and
PLUS 3-line files (transmembrane topology).

The label conventions (GHIBESTC letters, "." for masked residues, DSSP coil spellings, topology letter map)
are documented in `plus.data.task_data.importers.labels`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, TextIO

import numpy as np
import pandas as pd
from pydantic import Field

from plus.data.fasta import read_fasta
from plus.data.task_data.declarations import SPLIT, FileKey, Format, FormatOptions, NoOptions
from plus.data.task_data.importers import ORIGIN, FileSpec, describe, new_table, open_text, read_delimited
from plus.data.task_data.importers.labels import (
    apply_mask,
    dssp8_to_secstr8,
    map_topology,
    secstr_digits_to_letters,
    topology_map,
)
from plus.data.task_data.splitting import check_fractions, split_by_sequence
from plus.errors import InputError
from plus.tasks import SECSTR8, TOPOLOGY

POOL = "pool"


class NetSurfPOptions(FormatOptions):
    """Options of the `netsurfp_csv` format."""

    mask_column: str | None = Field("cb513_mask", description="0/1 column; residues with 0 become '.' (null: none)")
    mask_disordered: bool = Field(
        True, description="residues with disorder 0 become '.' (their dssp8 is a placeholder C in these files)"
    )
    disorder_column: str = Field("disorder", description="the 0/1 disorder column")
    id_column: str | None = Field(None, description="column holding ids (null: ids are `{id_prefix}_{row}`)")
    id_prefix: str | None = Field(None, description="prefix of generated ids (null: the split name)")


class PoolOptions(FormatOptions):
    """Options of the `plus_3line` format: how `pool` files are split."""

    split: dict[Any, Any] | None = Field(
        None,
        description="split fractions for pool files, e.g. {train: 0.8, valid: 0.1, test: 0.1}; they must sum to 1",
    )
    seed: int = Field(0, description="seed of the pool split")


class TopconsOptions(PoolOptions):
    """Options of the `topcons_3line` format: the topology letter map and the pool split."""

    map: dict[Any, Any] | None = Field(
        None, description="topology letter -> I, O, M or '.' (default: S and any other -> '.')"
    )


# NetSurfP-2.0 / ProtTrans CSV ------------------------------------------------------------------------------


def _read_netsurfp_files(files: dict[str, FileSpec], options: NetSurfPOptions) -> dict[str, pd.DataFrame]:
    return {split: _read_netsurfp(spec, split, options) for split, spec in files.items()}


def _read_netsurfp(spec: FileSpec, split: str, options: NetSurfPOptions) -> pd.DataFrame:
    name = describe(spec)
    mask_column = options.mask_column
    disorder_column = options.disorder_column if options.mask_disordered else None
    id_column = options.id_column
    id_prefix = split if options.id_prefix is None else options.id_prefix
    frame = read_delimited(spec, sep=",", skipinitialspace=True)
    frame.columns = [str(column).strip() for column in frame.columns]
    needed = [c for c in ("input", "dssp8", mask_column, disorder_column, id_column) if c]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"{name}: missing columns {missing}; found {list(frame.columns)}")

    ids, sequences, labels, origins = [], [], [], []
    counts: Counter[str] = Counter()
    for row, values in enumerate(frame.to_dict("records")):
        where = f"{name}: line {row + 2}"
        residues = values["input"].split()
        if not residues or any(len(residue) != 1 for residue in residues):
            raise InputError(f"{where}: 'input' must be single residue letters separated by spaces")
        dssp = values["dssp8"].split()
        _check_length(dssp, residues, "dssp8", where)
        counts.update(f"dssp8 {letter!r} -> C" for letter in dssp if letter not in SECSTR8)
        label = dssp8_to_secstr8(dssp, where=f"{where}: dssp8")
        keep = np.ones(len(residues), dtype=bool)
        if mask_column:
            mask = _binary(values[mask_column].split(), residues, mask_column, where)
            counts[f"residues masked by {mask_column}"] += int((~mask).sum())
            keep &= mask
        if disorder_column:
            ordered = _binary(values[disorder_column].split(), residues, disorder_column, where)
            counts["disordered residues masked"] += int((keep & ~ordered).sum())
            keep &= ordered
        if not keep.any():
            counts["proteins with every residue masked"] += 1
        ids.append(values[id_column] if id_column else f"{id_prefix}_{row}")
        sequences.append("".join(residues).upper())
        labels.append(apply_mask(label, keep))
        origins.append(where)
    if not ids:
        raise InputError(f"{name}: no records")
    return new_table(
        {"id": ids, "sequence": sequences, "label": labels, ORIGIN: origins},
        mapped=counts,
        warnings=frame.attrs["warnings"],
    )


def _check_length(values: list[str], residues: list[str], column: str, where: str) -> None:
    if len(values) != len(residues):
        raise InputError(f"{where}: {column} has {len(values)} entries but the sequence has {len(residues)}")


def _binary(values: list[str], residues: list[str], column: str, where: str) -> np.ndarray:
    _check_length(values, residues, column, where)
    try:
        numbers = np.asarray(values, dtype=float)
    except ValueError as error:
        raise InputError(f"{where}: {column} must hold 0/1 values ({error})") from error
    if not np.isin(numbers, (0.0, 1.0)).all():
        raise InputError(f"{where}: {column} must hold 0/1 values, found {sorted(set(numbers) - {0.0, 1.0})}")
    return numbers == 1.0


# PLUS secstr FASTA: >name:sequence / >name:secstr ----------------------------------------------------------


def _read_plus_secstr_files(files: dict[str, FileSpec], options: NoOptions) -> dict[str, pd.DataFrame]:
    return {split: _read_plus_secstr(spec) for split, spec in files.items()}


def _read_plus_secstr(spec: FileSpec) -> pd.DataFrame:
    name = describe(spec)
    ids, sequences, labels, origins = [], [], [], []
    pending: tuple[str, str, int] | None = None  # (name, sequence, line) of a sequence awaiting its secstr
    with open_text(spec) as handle:
        for record in read_fasta(handle, name=name):
            where = f"{name}: line {record.line}"
            protein, _, flag = record.header.split()[0].rpartition(":") if record.header else ("", "", "")
            if flag not in ("sequence", "secstr") or not protein:
                raise InputError(f"{where}: header must be '>name:sequence' or '>name:secstr', got {record.header!r}")
            if flag == "sequence":
                if pending is not None:
                    raise InputError(f"{name}: line {pending[2]}: '>{pending[0]}:sequence' has no secstr record")
                pending = (protein, record.sequence, record.line)
                continue
            if pending is None or pending[0] != protein:
                raise InputError(f"{where}: '>{protein}:secstr' does not follow a '>{protein}:sequence' record")
            sequence = pending[1]
            if len(record.sequence) != len(sequence):
                raise InputError(
                    f"{where}: secstr of {protein!r} has {len(record.sequence)} labels "
                    f"but its sequence has {len(sequence)} residues"
                )
            ids.append(protein)
            sequences.append(sequence.upper())
            labels.append(secstr_digits_to_letters(record.sequence, where=where))
            origins.append(f"{name}: line {pending[2]}")
            pending = None
    if pending is not None:
        raise InputError(f"{name}: line {pending[2]}: '>{pending[0]}:sequence' has no secstr record")
    if not ids:
        raise InputError(f"{name}: no records")
    return new_table({"id": ids, "sequence": sequences, "label": labels, ORIGIN: origins})


# 3-line topology files: >name / sequence / topology ---------------------------------------------------------


class ThreeLineRecord(NamedTuple):
    """One 3-line record: name (first header token), sequence, topology and the header's line number."""

    name: str
    sequence: str
    topology: str
    line: int


def read_three_line(handle: TextIO, name: str) -> Iterator[ThreeLineRecord]:
    """Yield the records of a 3-line file; InputError naming the line on a record that is not 3 lines long."""
    lines = ((number, text.strip()) for number, text in enumerate(handle, start=1))
    lines = ((number, text) for number, text in lines if text)
    for number, header in lines:
        if not header.startswith(">") or not header[1:].strip():
            raise InputError(f"{name}: line {number}: expected a '>name' header, got {header[:40]!r}")
        record = header[1:].split()[0]
        body = []
        for _ in range(2):
            entry = next(lines, None)
            if entry is None or entry[1].startswith(">"):
                missing = "sequence" if not body else "topology"
                at = f"line {entry[0]}" if entry else "end of file"
                raise InputError(f"{name}: line {number}: record {record!r} has no {missing} line (found {at})")
            body.append(entry)
        (_, sequence), (topology_line, topology) = body
        if len(topology) != len(sequence):
            raise InputError(
                f"{name}: line {topology_line}: record {record!r}: topology has {len(topology)} letters "
                f"but the sequence has {len(sequence)}"
            )
        yield ThreeLineRecord(record, sequence.upper(), topology, number)


def _read_topcons(files: dict[str, FileSpec], options: TopconsOptions) -> dict[str, pd.DataFrame]:
    mapping = topology_map(options.map)
    tables = {}
    for split, records in _records_by_split(files, options).items():
        rows, counts = [], Counter()
        for record, origin in records:
            label, used = map_topology(record.topology, mapping)
            counts.update(used)
            rows.append((record.name, record.sequence, label, origin))
        tables[split] = _table(rows, counts)
    return tables


def _read_plus_3line(files: dict[str, FileSpec], options: PoolOptions) -> dict[str, pd.DataFrame]:
    tables = {}
    for split, records in _records_by_split(files, options).items():
        for record, origin in records:
            other = sorted(set(record.topology) - set(TOPOLOGY))
            if other:
                raise InputError(
                    f"{origin}: record {record.name!r}: topology letters {other} are not I, O or M "
                    f"(format topcons_3line maps them)"
                )
        tables[split] = _table([(r.name, r.sequence, r.topology, origin) for r, origin in records], {})
    return tables


def _read_records(spec: FileSpec) -> list[tuple[ThreeLineRecord, str]]:
    name = describe(spec)
    with open_text(spec) as handle:
        records = [(record, f"{name}: line {record.line}") for record in read_three_line(handle, name)]
    if not records:
        raise InputError(f"{name}: no records")
    return records


def _is_pool(key: str) -> bool:
    return key == POOL or key.startswith(f"{POOL}_")


def _check_pool(files: Mapping[str, Any], options: PoolOptions) -> None:
    """Pool files and options.split go together (checked without reading the files)."""
    pools = [key for key in files if _is_pool(key)]
    if not pools:
        if options.split is not None:
            raise InputError("options.split applies only to 'pool' files")
        return
    if len(pools) != len(files):
        raise InputError(f"'pool' files cannot be combined with per-split files {sorted(files)}")
    if options.split is None:
        raise InputError("a 'pool' file needs options.split, e.g. {train: 0.8, valid: 0.1, test: 0.1}")
    check_fractions(options.split, "options.split")


def _records_by_split(files: dict[str, FileSpec], options: PoolOptions) -> dict[str, list[tuple[ThreeLineRecord, str]]]:
    """Records per split: one file per split, or `pool` / `pool_*` files concatenated and split by fractions."""
    pools = sorted(key for key in files if _is_pool(key))
    if not pools:
        return {split: _read_records(spec) for split, spec in files.items()}
    records = [record for key in pools for record in _read_records(files[key])]
    sequences = [record.sequence for record, _ in records]
    parts = split_by_sequence(sequences, options.split, options.seed, "options.split")
    return {split: [records[i] for i in indices] for split, indices in parts.items()}


def _table(rows: list[tuple[str, str, str, str]], counts: Mapping[str, int]) -> pd.DataFrame:
    ids, sequences, labels, origins = ([row[i] for row in rows] for i in range(4))
    return new_table({"id": ids, "sequence": sequences, "label": labels, ORIGIN: origins}, mapped=counts)


_POOL_FILES = (
    FileKey(SPLIT, "a 3-line file of that split (key = split name)"),
    FileKey(POOL, "one 3-line file to split by options.split (instead of per-split files)"),
    FileKey(f"{POOL}_*", "several pool files, concatenated before splitting"),
)
_POOL_DETAILS = (
    "A pool is split by a seeded hash of each sequence, cut at the cumulative fractions in the order train, "
    "valid, test, then other names sorted: the result depends only on the data and the seed, and identical "
    "sequences always share a split."
)

import_netsurfp_csv = Format(
    "netsurfp_csv",
    _read_netsurfp_files,
    "NetSurfP-2.0 / ProtTrans CSVs (`input, dssp3, dssp8, disorder, cb513_mask`, space-separated per residue).",
    (FileKey(SPLIT, "a CSV of that split (key = split name, e.g. test_cb513)"),),
    NetSurfPOptions,
    details="dssp8 coil spellings `-`, ` `, `L` and polyproline `P` become C; each mapping is counted.",
)
import_plus_secstr = Format(
    "plus_fasta:secstr",
    _read_plus_secstr_files,
    "The PLUS authors' secstr FASTA: `>name:sequence`, then `>name:secstr` with digits 0-7 (GHIBESTC order).",
    (FileKey(SPLIT, "a FASTA file of that split (key = split name)"),),
)
import_topcons_3line = Format(
    "topcons_3line",
    _read_topcons,
    "TOPCONS2 3-line files (`>name`, sequence, topology); I, O, M kept, other letters mapped by options.map.",
    _POOL_FILES,
    TopconsOptions,
    check=_check_pool,
    details=_POOL_DETAILS,
)
import_plus_3line = Format(
    "plus_3line",
    _read_plus_3line,
    "The PLUS authors' transmembrane 3-line files: topology letters must be I, O or M only.",
    _POOL_FILES,
    PoolOptions,
    check=_check_pool,
    details=_POOL_DETAILS,
)
