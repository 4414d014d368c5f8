"""Importers for TAPE's task files: raw JSON lists, LMDB databases, and `seq,label` CSV copies.

TAPE LMDB records are pickled dicts. They are read with `plus.data.task_data.safe_pickle.loads`, which refuses
every name but plain data types and numpy array reconstruction, so a crafted database cannot run code. An LMDB
inside an archive is first extracted to a temporary directory by `plus.data.task_data.archives.extract`:
regular files only, streamed in chunks, after checking the declared sizes against a limit and the free disk.
"""

from __future__ import annotations

import importlib
import json
import logging
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from plus.data.task_data import archives, safe_pickle
from plus.data.task_data.declarations import SPLIT, FileKey, Format, FormatOptions, NoOptions
from plus.data.task_data.importers import (
    ORIGIN,
    FileSpec,
    describe,
    new_table,
    open_text,
    read_delimited,
    spec_member,
    spec_path,
)
from plus.data.task_data.importers.labels import ss8_ints_to_letters
from plus.errors import InputError
from plus.tasks import UNLABELLED

log = logging.getLogger(__name__)


class TapeOptions(FormatOptions):
    """Options of the `tape_json` and `tape_lmdb` formats."""

    label_field: str = Field(
        description="record field used as label (e.g. one of stability_score, log_fluorescence, or ss8: ints 0-7 -> "
        "GHIBESTC, positions where valid_mask is false -> '.'); one-element lists are unwrapped"
    )
    valid_mask: Literal["respect", "ignore"] = Field(
        "respect",
        description="ss8 only: respect = residues with valid_mask false become '.' (unscored); ignore = every "
        "residue keeps its ss8 label and is scored, as in the PLUS authors' files",
    )


def _unwrap(value: Any) -> Any:
    """TAPE stores scalar labels as one-element lists (or arrays); return the scalar."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _tape_table(records: Iterator[Any], split: str, name: str, options: TapeOptions) -> pd.DataFrame:
    """Canonical rows from TAPE records (dicts with `primary`, the label field and usually `id`).

    With label_field ss8, positions where `valid_mask` is false become unlabelled ('.'), unless options
    valid_mask is "ignore" (the PLUS authors' files label and score every residue: docs/fidelity.md, row 5)."""
    label_field = options.label_field
    respect_mask = options.valid_mask == "respect"
    ids, sequences, labels, origins = [], [], [], []
    unlabelled = scored_despite_mask = 0
    for index, record in enumerate(records):
        where = f"{name}: record {index}"
        if not isinstance(record, dict):
            raise InputError(f"{where}: not a JSON object / dict")
        for key in ("primary", label_field):
            if key not in record:
                raise InputError(f"{where}: no field {key!r} (fields: {sorted(map(str, record))})")
        if label_field == "ss8":
            mask = record.get("valid_mask")
            label = ss8_ints_to_letters(record["ss8"], mask if respect_mask else None, where=where)
            unlabelled += label.count(UNLABELLED)
            if not respect_mask and mask is not None:
                scored_despite_mask += int((~np.asarray(mask).astype(bool)).sum())
        else:
            label = _unwrap(record[label_field])
        record_id = record.get("id")
        ids.append(f"{split}_{index}" if record_id is None else str(_unwrap(record_id)))
        sequences.append(_unwrap(record["primary"]))
        labels.append(label)
        origins.append(where)
    if not ids:
        raise InputError(f"{name}: no records")
    ids, renamed, repeated = _unique_ids(ids)
    warnings = []
    if renamed:
        warnings.append(duplicate_ids_warning(name, renamed, repeated))
        log.warning("%s", warnings[-1])
    return new_table(
        {"id": ids, "sequence": sequences, "label": labels, ORIGIN: origins},
        mapped={
            "duplicate_id_suffixed": renamed,
            "ss8_valid_mask_false_to_unlabelled": unlabelled,
            "ss8_valid_mask_false_kept_labelled": scored_despite_mask,
        },
        warnings=warnings,
    )


def _unique_ids(ids: list[str]) -> tuple[list[str], int, list[str]]:
    """Ids made unique by suffixing repeats with `#2`, `#3`, ...; how many were renamed; the repeated ids."""
    seen: Counter[str] = Counter()
    result = []
    for record_id in ids:
        seen[record_id] += 1
        result.append(record_id if seen[record_id] == 1 else f"{record_id}#{seen[record_id]}")
    return result, sum(n - 1 for n in seen.values()), [record_id for record_id, n in seen.items() if n > 1]


def duplicate_ids_warning(name: str, renamed: int, repeated: list[str]) -> str:
    """The summary.json warning for records whose id repeats an earlier record's (TAPE allows it; kept, renamed)."""
    shown = ", ".join(repr(record_id) for record_id in repeated[:5])
    more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
    return (
        f"{name}: {renamed} records repeat an earlier record's id ({shown}{more}); kept, each renamed with a "
        "#k suffix (mapped: duplicate_id_suffixed)"
    )


def _read_tape_json(files: dict[str, FileSpec], options: TapeOptions) -> dict[str, pd.DataFrame]:
    tables = {}
    for split, spec in files.items():
        name = describe(spec)
        with open_text(spec) as handle:
            try:
                records = json.load(handle)
            except json.JSONDecodeError as error:
                raise InputError(f"{name}: not valid JSON ({error})") from error
        if not isinstance(records, list):
            raise InputError(f"{name}: a TAPE JSON file holds a list of records, not {type(records).__name__}")
        tables[split] = _tape_table(iter(records), split, name, options)
    return tables


def _lmdb_records(path: Path, subdir: bool, name: str) -> Iterator[Any]:
    """The records of a TAPE LMDB database (key `num_examples`, then `0`, `1`, ...), unpickled safely."""
    lmdb = importlib.import_module("lmdb")
    try:
        environment = lmdb.open(str(path), subdir=subdir, max_readers=1, readonly=True, lock=False, readahead=False)
    except lmdb.Error as error:
        raise InputError(f"{name}: not a readable LMDB database ({error})") from error
    try:
        with environment.begin(write=False) as transaction:
            raw_count = _lmdb_get(lmdb, transaction, b"num_examples", name)
            if raw_count is None:
                raise InputError(f"{name}: not a TAPE LMDB database (no 'num_examples' key)")
            count = safe_pickle.loads(raw_count, f"{name}: num_examples")
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise InputError(f"{name}: num_examples is {count!r}, not a count")
            for index in range(count):
                value = _lmdb_get(lmdb, transaction, str(index).encode(), name)
                if value is None:
                    raise InputError(f"{name}: record {index} missing")
                yield safe_pickle.loads(value, f"{name}: record {index}")
    finally:
        environment.close()


def _lmdb_get(lmdb: Any, transaction: Any, key: bytes, name: str) -> bytes | None:
    """One value of an LMDB database; a corrupt database is an InputError naming the key."""
    try:
        return transaction.get(key)
    except lmdb.Error as error:
        raise InputError(f"{name}: key {key.decode()!r}: corrupt LMDB database ({error})") from error


def _extract_lmdb(spec: FileSpec, target: Path) -> tuple[Path, bool]:
    """Extract an LMDB database (a directory or a single file member) from an archive into target.

    Returns the path to open and whether it is a directory (lmdb's `subdir`)."""
    archive_path = spec_path(spec)
    member = str(spec_member(spec)).removeprefix("./").rstrip("/")
    with archives.Archive(archive_path) as archive:
        members = archive.members_under(member)
        if not members:
            names = archive.names()
            similar = sorted({name.split(".lmdb")[0] + ".lmdb" for name in names if ".lmdb" in name})
            raise InputError(f"{archive_path}: archive has no LMDB {member!r}; LMDB members: {similar[:8]}")
        archives.extract(members, target, f"{archive_path}:{member}")
    if len(members) == 1 and members[0].name == member:
        return target / Path(member).name, False
    return target, True


def _read_tape_lmdb(files: dict[str, FileSpec], options: TapeOptions) -> dict[str, pd.DataFrame]:
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
            tables[split] = _tape_table(_lmdb_records(path, subdir, name), split, name, options)
    return tables


def _read_tape_csv(files: dict[str, FileSpec], options: NoOptions) -> dict[str, pd.DataFrame]:
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
            },
            warnings=frame.attrs["warnings"],
        )
    return tables


_SPLIT_FILES = (FileKey(SPLIT, "a file of that split (key = split name, e.g. train, valid, test_cb513)"),)
_RECORDS = (
    "Ids come from the records' `id` (`{split}_{index}` when absent); TAPE allows repeated ids: they are kept "
    "with a `#k` suffix, "
    "counted in `mapped` (duplicate_id_suffixed) and named in summary.json `warnings`."
)

import_tape_json = Format(
    "tape_json",
    _read_tape_json,
    "TAPE raw JSON lists of records (data_raw_pytorch archives), one file per split.",
    _SPLIT_FILES,
    TapeOptions,
    details=_RECORDS,
)
import_tape_lmdb = Format(
    "tape_lmdb",
    _read_tape_lmdb,
    "TAPE LMDB databases (data_pytorch archives), one per split: a path, or a directory/file member of an archive.",
    _SPLIT_FILES,
    TapeOptions,
    details=_RECORDS
    + " Records are unpickled by a restricted unpickler that allows only plain data types and numpy arrays; "
    "any other pickled name is refused (see plus/data/task_data/safe_pickle.py). Needs the `lmdb` package.",
)
import_tape_csv = Format(
    "tape_csv",
    _read_tape_csv,
    "`seq,label[,num_mutations]` CSV copies of TAPE splits, one file per split. Ids are `{split}_{row}`.",
    _SPLIT_FILES,
)
