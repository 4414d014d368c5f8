"""Importers for the protein-level tasks: DeepSol, DeepLoc, TAPE (JSON, LMDB, CSV) and PLUS's own FASTA files.

Formats and their `files` keys:
- `deepsol`: `{train_src, train_tgt, val_src, val_tgt, test_src, test_tgt}` (any subset, in src/tgt pairs);
  one sequence or one 0/1 label per line; `val` becomes split `valid`. Ids are `{split}_{line}`.
- `deeploc`: `{fasta}` with headers `>ACC Location-{M,S,U}[ test]`; label = Location (the membrane tag after the
  last "-" is dropped, as PLUS does); records marked `test` go to split `test`, the others to `train`.
- `tape_json` / `tape_lmdb`: `{split: file}` of TAPE raw JSON lists / LMDB databases; `options.label_field` is
  the record field used as label (`stability_score`, `log_fluorescence`, or `ss8`, whose ints 0-7 become the
  letters GHIBESTC, with positions where `valid_mask` is false becoming "."). One-element lists are unwrapped.
  Ids come from the records' `id` (`{split}_{index}` when absent); repeated ids get a `#k` suffix, counted.
- `tape_csv`: `{split: file}` of `seq,label[,num_mutations]` CSVs. Ids are `{split}_{row}`.
- `plus_fasta` with `options.kind` `label` (`>id LABEL`) or `localization` (`>id Location-M`): `{split: file}`.
"""

from __future__ import annotations

import importlib
import json
import pickle
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
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
from plus.data.task_data.importers.labels import ss8_ints_to_letters
from plus.errors import InputError
from plus.tasks import UNLABELLED

DEEPSOL_PARTS = {"train": "train", "val": "valid", "test": "test"}
DEEPLOC_MEMBRANE_TAGS = ("M", "S", "U")
TAPE_LABEL_FIELDS = ("stability_score", "log_fluorescence", "ss8")


def _read_lines(spec: FileSpec) -> list[str]:
    """All lines of a file without line endings; a final empty line (trailing newline) is not a line."""
    with open_text(spec) as handle:
        try:
            return handle.read().splitlines()
        except UnicodeDecodeError as error:
            raise InputError(f"{describe(spec)}: not a text file ({error.reason})") from error


def import_deepsol(files: dict[str, FileSpec], options: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """DeepSol `*_src` / `*_tgt` line files -> train/valid/test tables with labels "0"/"1"."""
    require_files(files, "deepsol", [f"{part}_{kind}" for part in DEEPSOL_PARTS for kind in ("src", "tgt")])
    tables = {}
    for part, split in DEEPSOL_PARTS.items():
        src, tgt = files.get(f"{part}_src"), files.get(f"{part}_tgt")
        if src is None and tgt is None:
            continue
        if src is None or tgt is None:
            raise InputError(f"format 'deepsol': {part}_src and {part}_tgt must be given together")
        sequences, labels = _read_lines(src), _read_lines(tgt)
        if len(sequences) != len(labels):
            raise InputError(
                f"{describe(src)} has {len(sequences)} lines but {describe(tgt)} has {len(labels)}: "
                "one label per sequence is required"
            )
        for number, (sequence, label) in enumerate(zip(sequences, labels, strict=True), start=1):
            if not sequence.strip():
                raise InputError(f"{describe(src)}: line {number}: empty sequence")
            if label.strip() not in ("0", "1"):
                raise InputError(f"{describe(tgt)}: line {number}: label {label!r} is not 0 or 1")
        numbers = range(1, len(sequences) + 1)
        tables[split] = new_table(
            {
                "id": [f"{split}_{n}" for n in numbers],
                "sequence": [sequence.strip() for sequence in sequences],
                "label": [label.strip() for label in labels],
                ORIGIN: [f"{describe(src)}: line {n}" for n in numbers],
            }
        )
    return tables


def import_deeploc(files: dict[str, FileSpec], options: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """DeepLoc 1.0 FASTA (`>ACC Location-M[ test]`) -> train and test tables labelled by location."""
    require_files(files, "deeploc", ["fasta"])
    spec = files["fasta"]
    rows: dict[str, list[tuple[str, str, str, str]]] = {"train": [], "test": []}
    name = describe(spec)
    with open_text(spec) as handle:
        for record in read_fasta(handle, name=name):
            fields = record.header.split()
            where = f"{name}: line {record.line}"
            if len(fields) not in (2, 3) or (len(fields) == 3 and fields[2] != "test"):
                raise InputError(f"{where}: header {record.header!r} is not 'ACC Location-M[ test]'")
            location, _, tag = fields[1].rpartition("-")
            if not location or tag not in DEEPLOC_MEMBRANE_TAGS:
                raise InputError(
                    f"{where}: location {fields[1]!r} is not 'Location-X' with X in {DEEPLOC_MEMBRANE_TAGS}"
                )
            split = "test" if len(fields) == 3 else "train"
            rows[split].append((fields[0], record.sequence, location, where))
    if not any(rows.values()):
        raise InputError(f"{name}: no FASTA records")
    return {
        split: new_table(dict(zip(("id", "sequence", "label", ORIGIN), zip(*records, strict=True), strict=True)))
        for split, records in rows.items()
        if records
    }


def _unwrap(value: Any) -> Any:
    """TAPE stores scalar labels as one-element lists (or arrays); return the scalar."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _tape_table(records: Iterator[dict[str, Any]], split: str, name: str, label_field: str) -> pd.DataFrame:
    """Canonical rows from TAPE records (dicts with `primary`, the label field and usually `id`)."""
    ids, sequences, labels, origins = [], [], [], []
    unlabelled = 0
    for index, record in enumerate(records):
        where = f"{name}: record {index}"
        if not isinstance(record, dict):
            raise InputError(f"{where}: not a JSON object")
        for key in ("primary", label_field):
            if key not in record:
                raise InputError(f"{where}: no field {key!r} (fields: {sorted(record)})")
        if label_field == "ss8":
            label = ss8_ints_to_letters(record["ss8"], record.get("valid_mask"), where=where)
            unlabelled += label.count(UNLABELLED)
        else:
            label = _unwrap(record[label_field])
        record_id = record.get("id")
        ids.append(f"{split}_{index}" if record_id is None else str(_unwrap(record_id)))
        sequences.append(_unwrap(record["primary"]))
        labels.append(label)
        origins.append(where)
    if not ids:
        raise InputError(f"{name}: no records")
    ids, renamed = _unique_ids(ids)
    return new_table(
        {"id": ids, "sequence": sequences, "label": labels, ORIGIN: origins},
        mapped={"duplicate_id_suffixed": renamed, "ss8_valid_mask_false_to_unlabelled": unlabelled},
    )


def _unique_ids(ids: list[str]) -> tuple[list[str], int]:
    """Ids made unique by suffixing repeats with `#2`, `#3`, ...; also returns how many were renamed."""
    seen: Counter[str] = Counter()
    result = []
    for record_id in ids:
        seen[record_id] += 1
        result.append(record_id if seen[record_id] == 1 else f"{record_id}#{seen[record_id]}")
    return result, sum(n - 1 for n in seen.values())


def _tape_label_field(options: dict[str, Any], fmt: str) -> str:
    field = options.get("label_field")
    if not isinstance(field, str) or not field:
        raise InputError(f"format {fmt!r}: options.label_field is required (e.g. one of {TAPE_LABEL_FIELDS})")
    return field


def import_tape_json(files: dict[str, FileSpec], options: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """TAPE raw JSON lists, one file per split."""
    require_files(files, "tape_json")
    label_field = _tape_label_field(options, "tape_json")
    tables = {}
    for split, spec in files.items():
        name = describe(spec)
        with open_text(spec) as handle:
            try:
                records = json.load(handle)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise InputError(f"{name}: not valid JSON ({error})") from error
        if not isinstance(records, list):
            raise InputError(f"{name}: a TAPE JSON file holds a list of records, not {type(records).__name__}")
        tables[split] = _tape_table(iter(records), split, name, label_field)
    return tables


def _lmdb_records(path: Path, subdir: bool, name: str) -> Iterator[dict[str, Any]]:
    """The pickled records of a TAPE LMDB database (key `num_examples`, then `0`, `1`, ...)."""
    lmdb = importlib.import_module("lmdb")
    try:
        environment = lmdb.open(str(path), subdir=subdir, max_readers=1, readonly=True, lock=False, readahead=False)
    except lmdb.Error as error:
        raise InputError(f"{name}: not a readable LMDB database ({error})") from error
    try:
        with environment.begin(write=False) as transaction:
            count = transaction.get(b"num_examples")
            if count is None:
                raise InputError(f"{name}: not a TAPE LMDB database (no 'num_examples' key)")
            for index in range(pickle.loads(count)):
                value = transaction.get(str(index).encode())
                if value is None:
                    raise InputError(f"{name}: record {index} missing")
                yield pickle.loads(value)
    finally:
        environment.close()


def _extract_lmdb(spec: FileSpec, target: Path) -> tuple[Path, bool]:
    """Extract an LMDB database (a directory or a single file member) from a tar archive into target.

    Returns the path to open and whether it is a directory (lmdb's `subdir`)."""
    archive_path = spec_path(spec)
    member = str(spec_member(spec)).removeprefix("./").rstrip("/")
    with tarfile.open(archive_path, "r:*") as archive:
        files = [info for info in archive.getmembers() if info.isfile()]
        exact = [info for info in files if info.name.removeprefix("./") == member]
        inside = [info for info in files if info.name.removeprefix("./").startswith(member + "/")]
        if not exact and not inside:
            similar = sorted({info.name.split(".lmdb")[0] + ".lmdb" for info in files if ".lmdb" in info.name})
            raise InputError(f"{archive_path}: archive has no LMDB {member!r}; LMDB members: {similar[:8]}")
        for info in exact or inside:
            source = archive.extractfile(info)
            if source is None:
                raise InputError(f"{archive_path}:{info.name}: not a regular file in the archive")
            (target / Path(info.name).name).write_bytes(source.read())
    if exact:
        return target / Path(member).name, False
    return target, True


def import_tape_lmdb(files: dict[str, FileSpec], options: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """TAPE LMDB databases, one per split (a path, or a member of a tar archive; directory or single file)."""
    require_files(files, "tape_lmdb")
    label_field = _tape_label_field(options, "tape_lmdb")
    try:
        importlib.import_module("lmdb")
    except ImportError as error:
        raise InputError(
            "format 'tape_lmdb' needs the 'lmdb' package: `pip install lmdb`, or use format 'tape_json' "
            "with TAPE's raw JSON archives (data_raw_pytorch/*.tar.gz)"
        ) from error
    tables = {}
    for split, spec in files.items():
        name = describe(spec)
        with tempfile.TemporaryDirectory(prefix="tape_lmdb_") as scratch:
            if spec_member(spec) is not None:
                path, subdir = _extract_lmdb(spec, Path(scratch))
            else:
                path = spec_path(spec)
                if not path.exists():
                    raise InputError(f"{path}: LMDB database not found")
                subdir = path.is_dir()
            tables[split] = _tape_table(_lmdb_records(path, subdir, name), split, name, label_field)
    return tables


def import_tape_csv(files: dict[str, FileSpec], options: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """`seq,label[,num_mutations]` CSV copies of TAPE splits, one file per split."""
    require_files(files, "tape_csv")
    tables = {}
    for split, spec in files.items():
        name = describe(spec)
        frame = read_delimited(spec)
        missing = [column for column in ("seq", "label") if column not in frame]
        if missing:
            raise InputError(f"{name}: no column(s) {missing} (columns: {list(frame.columns)})")
        rows = pd.Series(np.arange(1, len(frame) + 1))
        lines = (rows + 1).astype(str)  # line 1 is the header
        empty = (frame["label"].str.strip() == "").to_numpy()
        if empty.any():
            raise InputError(f"{name}: line {lines[empty].iloc[0]}: empty label")
        tables[split] = new_table(
            {
                "id": (f"{split}_" + rows.astype(str)).to_numpy(),
                "sequence": frame["seq"].to_numpy(),
                "label": frame["label"].to_numpy(),
                ORIGIN: (f"{name}: line " + lines).to_numpy(),
            }
        )
    return tables


def _plus_fasta(files: dict[str, FileSpec], kind: str) -> dict[str, pd.DataFrame]:
    require_files(files, f"plus_fasta:{kind}")
    tables = {}
    for split, spec in files.items():
        name = describe(spec)
        ids, sequences, labels, origins = [], [], [], []
        with open_text(spec) as handle:
            for record in read_fasta(handle, name=name):
                where = f"{name}: line {record.line}"
                fields = record.header.split()
                if len(fields) != 2:
                    raise InputError(f"{where}: header {record.header!r} is not '>id LABEL'")
                label = fields[1]
                if kind == "localization":
                    label, dash, _tag = label.rpartition("-")
                    if not dash or not label:
                        raise InputError(f"{where}: label {fields[1]!r} is not 'Location-X'")
                ids.append(fields[0])
                sequences.append(record.sequence)
                labels.append(label)
                origins.append(where)
        if not ids:
            raise InputError(f"{name}: no FASTA records")
        tables[split] = new_table({"id": ids, "sequence": sequences, "label": labels, ORIGIN: origins})
    return tables


def import_plus_label(files: dict[str, FileSpec], options: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """PLUS solubility/stability/fluorescence FASTA: `>id LABEL`."""
    return _plus_fasta(files, "label")


def import_plus_localization(files: dict[str, FileSpec], options: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """PLUS localization FASTA: `>id Location-M` (the tag after the last '-' is dropped)."""
    return _plus_fasta(files, "localization")


FORMATS = {
    "deepsol": import_deepsol,
    "deeploc": import_deeploc,
    "tape_json": import_tape_json,
    "tape_lmdb": import_tape_lmdb,
    "tape_csv": import_tape_csv,
    "plus_fasta:label": import_plus_label,
    "plus_fasta:localization": import_plus_localization,
}
