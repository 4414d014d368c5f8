"""FLIP per-residue splits (J-SNACKKB/FLIP, e.g. splits/secondary_structure/splits.zip): parallel FASTA files.

The layout (FLIP's README for secondary_structure, and the files in its splits.zip): `sequences.fasta` holds
every sequence (`>ID`); a labels file (`sampled.fasta`) holds one label string per residue for the records of
that split, with the split in its header, `>ID SET=train|test VALIDATION=True|False`; an optional
`mask.fasta` holds one 0/1 per residue (0 = unresolved: the label becomes ".", excluded from loss and metric).
Files are joined by ID. Records with VALIDATION=True form the `valid` split (FLIP: "may be used for
validation"). Sequences that the labels file does not name are not part of the split file and are counted in
`dropped`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from plus.data.fasta import read_fasta
from plus.data.task_data.declarations import FileKey, Format, FormatOptions
from plus.data.task_data.importers import ORIGIN, FileSpec, describe, new_table, open_text, truncation_warnings
from plus.data.task_data.importers.labels import apply_mask
from plus.errors import InputError

TRUE, FALSE = "true", "false"


class FlipOptions(FormatOptions):
    """Options of the `flip_fasta` format."""

    sets: dict[Any, Any] = Field({"train": "train", "test": "test"}, description="SET value -> split name")
    validation_split: str | None = Field(
        "valid", description="split of records with VALIDATION=True (null: they stay in their SET's split)"
    )

    @field_validator("sets")
    @classmethod
    def _sets_name_splits(cls, sets: dict[Any, Any]) -> dict[Any, Any]:
        if not sets or not all(
            isinstance(key, str) and isinstance(value, str) and value for key, value in sets.items()
        ):
            raise ValueError(f"options.sets must map SET values to split names, got {sets!r}")
        return sets


def _records(spec: FileSpec) -> tuple[dict[str, tuple[str, str, int]], list[str]]:
    """`{id: (header, body, line)}` of a FASTA file (a repeated id is an error) and its truncation warnings."""
    name = describe(spec)
    found: dict[str, tuple[str, str, int]] = {}
    with open_text(spec) as handle:
        for record in read_fasta(handle, name=name):
            fields = record.header.split()
            if not fields:
                raise InputError(f"{name}: line {record.line}: empty header")
            if fields[0] in found:
                raise InputError(f"{name}: line {record.line}: id {fields[0]!r} already on line {found[fields[0]][2]}")
            found[fields[0]] = (record.header, record.sequence, record.line)
        notes = truncation_warnings(handle)
    if not found:
        raise InputError(f"{name}: no FASTA records")
    return found, notes


def _tags(header: str, where: str) -> dict[str, str]:
    """The `KEY=value` fields of a header (after the id), keys upper-cased."""
    tags = {}
    for field in header.split()[1:]:
        key, equals, value = field.partition("=")
        if not equals:
            raise InputError(f"{where}: header field {field!r} is not KEY=value")
        tags[key.upper()] = value
    return tags


def _split_of(tags: Mapping[str, str], options: FlipOptions, where: str) -> str:
    sets = options.sets
    if "SET" not in tags:
        raise InputError(f"{where}: header has no SET=... field")
    if tags["SET"] not in sets:
        raise InputError(f"{where}: SET={tags['SET']} is not one of {sorted(sets)} (options.sets)")
    validation = tags.get("VALIDATION", "False").lower()
    if validation not in (TRUE, FALSE):
        raise InputError(f"{where}: VALIDATION={tags['VALIDATION']} is not True or False")
    if validation == TRUE and options.validation_split is not None:
        return options.validation_split
    return sets[tags["SET"]]


def _read_flip(files: dict[str, FileSpec], options: FlipOptions) -> dict[str, pd.DataFrame]:
    sequences, notes = _records(files["sequences"])
    labels, label_notes = _records(files["labels"])
    masks, mask_notes = _records(files["mask"]) if "mask" in files else ({}, [])
    names = {key: describe(spec) for key, spec in files.items()}
    rows: dict[str, list[tuple[str, str, str, str]]] = {}
    masked = 0
    for record_id, (header, label, line) in labels.items():
        where = f"{names['labels']}: line {line}"
        split = _split_of(_tags(header, where), options, where)
        if record_id not in sequences:
            raise InputError(f"{where}: id {record_id!r} has no sequence in {names['sequences']}")
        sequence = sequences[record_id][1]
        if len(label) != len(sequence):
            raise InputError(
                f"{where}: {record_id!r} has {len(label)} labels but its sequence has {len(sequence)} residues"
            )
        if masks:
            if record_id not in masks:
                raise InputError(f"{where}: id {record_id!r} has no mask in {names['mask']}")
            mask, mask_line = masks[record_id][1], masks[record_id][2]
            mask_where = f"{names['mask']}: line {mask_line}"
            if len(mask) != len(sequence) or set(mask) - {"0", "1"}:
                raise InputError(f"{mask_where}: mask of {record_id!r} must be {len(sequence)} characters 0 or 1")
            keep = np.frombuffer(mask.encode(), dtype=np.uint8) == ord("1")
            masked += int((~keep).sum())
            label = apply_mask(label, keep)
        rows.setdefault(split, []).append((record_id, sequence, label, where))
    unlabelled = len(set(sequences) - set(labels))
    tables = {}
    for split, records in rows.items():
        columns = dict(zip(("id", "sequence", "label", ORIGIN), zip(*records, strict=True), strict=True))
        tables[split] = new_table(columns, warnings=notes + label_notes + mask_notes)
    first = next(iter(tables.values()))
    first.attrs["mapped"] = {"residues masked by mask file": masked} if masked else {}
    first.attrs["dropped"] = {"sequences not in the labels file": unlabelled} if unlabelled else {}
    return tables


import_flip_fasta = Format(
    "flip_fasta",
    _read_flip,
    "FLIP per-residue splits: sequences.fasta, a labels FASTA with `SET=`/`VALIDATION=` headers, an optional mask.",
    (
        FileKey("sequences", "FASTA of every sequence, `>ID` (FLIP: sequences.fasta)", required=True),
        FileKey(
            "labels",
            "FASTA of per-residue label strings, `>ID SET=train|test VALIDATION=True|False` (e.g. sampled.fasta)",
            required=True,
        ),
        FileKey("mask", "FASTA of per-residue 0/1, 0 = unresolved -> '.' (FLIP: mask.fasta)"),
    ),
    FlipOptions,
    details="Files are joined by ID; sequences the labels file does not name are counted in `dropped`.",
)
