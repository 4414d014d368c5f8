"""Content fingerprints of canonical task splits, checked against the official splits' fingerprints shipped with PLUS.

A split's fingerprint is the sha256 of its rows `sequence, label[, sequence_b]`, tab-separated, one per line,
sorted: ids, row order, file format and path do not enter it. Labels enter as text, regression labels as their
float32 value (TAPE stores float32: a CSV copy printing -0.209999993443489 and TAPE's -0.21 agree). The shipped
table, official_fingerprints.tsv, is written by benchmarks/official_fingerprints.py.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from plus.errors import InputError

METHOD = "sha256 of the sorted rows `sequence TAB label[ TAB sequence_b]`; regression labels as float32"
OFFICIAL_TABLE = Path(__file__).with_name("official_fingerprints.tsv")
COLUMNS = ("task", "split", "dataset", "n", "fingerprint", "from")

# status of one split in summary.json `content`
OFFICIAL = "official"  # matches the shipped fingerprint of this task's split
DIFFERS = "differs"  # this task's split has a shipped fingerprint and this content is not it
DOWNLOADED = "recorded from an official download"  # no shipped fingerprint; the files came from url sources
UNVERIFIED = "unverified"  # no shipped fingerprint; local files


@dataclass(frozen=True)
class OfficialSplit:
    """One row of the shipped table: a task's split, the dataset it is, its size and fingerprint."""

    task: str
    split: str
    dataset: str
    n: int
    fingerprint: str
    origin: str

    @property
    def name(self) -> str:
        return f"{self.dataset} {self.split}"


def _label_text(labels: pd.Series) -> list[str]:
    """Labels as fingerprint text: floats as the repr of their float32 value, everything else as str."""
    if pd.api.types.is_float_dtype(labels):
        return [repr(value) for value in labels.to_numpy(dtype=np.float32).astype(np.float64).tolist()]
    return [str(value) for value in labels.tolist()]


def split_fingerprint(table: pd.DataFrame) -> str:
    """The content fingerprint of one canonical split (columns sequence, label and, for pairs, sequence_b)."""
    missing = [column for column in ("sequence", "label") if column not in table]
    if missing:
        raise InputError(f"fingerprint: the table lacks columns {missing} (has {list(table.columns)})")
    fields = [table["sequence"].astype(str).str.upper().tolist(), _label_text(table["label"])]
    if "sequence_b" in table:
        fields.append(table["sequence_b"].astype(str).str.upper().tolist())
    digest = hashlib.sha256()
    for row in sorted("\t".join(values) for values in zip(*fields, strict=True)):
        digest.update(row.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def read_official(path: Path = OFFICIAL_TABLE) -> tuple[OfficialSplit, ...]:
    """The rows of an official fingerprint table (TSV with a COLUMNS header)."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except OSError as error:
        raise InputError(f"{path}: cannot read the official fingerprint table ({error.strerror})") from error
    found = []
    for number, row in enumerate(rows, start=2):
        if set(COLUMNS) - set(row) or not str(row.get("n", "")).isdigit():
            raise InputError(f"{path}: line {number}: expected columns {list(COLUMNS)} with an integer n")
        found.append(
            OfficialSplit(row["task"], row["split"], row["dataset"], int(row["n"]), row["fingerprint"], row["from"])
        )
    return tuple(found)


@cache
def official_splits() -> tuple[OfficialSplit, ...]:
    """The official fingerprints shipped with PLUS."""
    return read_official(OFFICIAL_TABLE)


def split_status(
    task: str, split: str, fingerprint: str, n: int, downloaded: bool, official: tuple[OfficialSplit, ...]
) -> dict[str, Any]:
    """summary.json's record of one split: fingerprint, n, status and the official split it is (or is not)."""
    record: dict[str, Any] = {"n": n, "fingerprint": fingerprint}
    same = [entry for entry in official if entry.fingerprint == fingerprint]
    mine = [entry for entry in official if (entry.task, entry.split) == (task, split)]
    match = next((entry for entry in same if (entry.task, entry.split) == (task, split)), None)
    if match:
        return {**record, "status": OFFICIAL, "official": match.name, "dataset": match.dataset}
    if mine:
        record.update(status=DIFFERS, official=", ".join(f"{entry.name} ({entry.n} rows)" for entry in mine))
    else:
        record["status"] = DOWNLOADED if downloaded else UNVERIFIED
    if same:
        record["same_content_as"] = [f"{entry.task}/{entry.split} ({entry.name})" for entry in same]
    return record


def content_record(
    task: str, tables: Mapping[str, pd.DataFrame], downloaded_from: list[str] | None = None
) -> dict[str, Any]:
    """summary.json `content`: every split's fingerprint and whether it is an official split."""
    official = official_splits()
    splits = {
        split: split_status(task, split, split_fingerprint(table), len(table), bool(downloaded_from), official)
        for split, table in tables.items()
    }
    record: dict[str, Any] = {"method": METHOD, "splits": splits}
    if downloaded_from:
        record["downloaded_from"] = list(downloaded_from)
    return record
