"""Importers for the protein-level tasks: DeepSol, DeepLoc and PLUS's own FASTA files (TAPE: `tape.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import Field, field_validator

from plus.data.fasta import read_fasta
from plus.data.task_data.declarations import SPLIT, FileKey, Format, FormatOptions, NoOptions
from plus.data.task_data.importers import (
    ORIGIN,
    FileSpec,
    describe,
    new_table,
    open_text,
    read_lines,
    truncation_warnings,
)
from plus.errors import InputError

DEEPSOL_PARTS = {"train": "train", "val": "valid", "test": "test"}
DEEPLOC_MEMBRANE_TAGS = ("M", "S", "U")


class DeepLocOptions(FormatOptions):
    """Options of the `deeploc` format."""

    tags: dict[Any, Any] = Field(
        {"test": "test"}, description="third header field -> split, e.g. {test: test, new_test_set: test2}"
    )
    untagged_split: str = Field("train", description="split of records whose header has no third field")

    @field_validator("tags")
    @classmethod
    def _tags_name_splits(cls, tags: dict[Any, Any]) -> dict[Any, Any]:
        if not tags or not all(
            isinstance(key, str) and isinstance(value, str) and value for key, value in tags.items()
        ):
            raise ValueError(f"options.tags must map header tags to split names, got {tags!r}")
        return tags


def _read_deepsol(files: dict[str, FileSpec], options: NoOptions) -> dict[str, pd.DataFrame]:
    tables = {}
    for part, split in DEEPSOL_PARTS.items():
        src, tgt = files.get(f"{part}_src"), files.get(f"{part}_tgt")
        if src is None or tgt is None:
            continue
        (sequences, src_notes), (labels, tgt_notes) = read_lines(src), read_lines(tgt)
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
            },
            warnings=src_notes + tgt_notes,
        )
    return tables


def _check_deepsol(files: Mapping[str, Any], options: NoOptions) -> None:
    for part in DEEPSOL_PARTS:
        if (f"{part}_src" in files) != (f"{part}_tgt" in files):
            raise InputError(f"format 'deepsol': {part}_src and {part}_tgt must be given together")


def _read_deeploc(files: dict[str, FileSpec], options: DeepLocOptions) -> dict[str, pd.DataFrame]:
    tags: Mapping[str, str] = options.tags
    spec = files["fasta"]
    rows: dict[str, list[tuple[str, str, str, str]]] = {}
    name = describe(spec)
    with open_text(spec) as handle:
        for record in read_fasta(handle, name=name):
            fields = record.header.split()
            where = f"{name}: line {record.line}"
            if len(fields) not in (2, 3) or (len(fields) == 3 and fields[2] not in tags):
                raise InputError(
                    f"{where}: header {record.header!r} is not 'ACC Location-M[ TAG]' with TAG one of "
                    f"{sorted(tags)} (options.tags maps tags to splits)"
                )
            location, _, membrane = fields[1].rpartition("-")
            if not location or membrane not in DEEPLOC_MEMBRANE_TAGS:
                raise InputError(
                    f"{where}: location {fields[1]!r} is not 'Location-X' with X in {DEEPLOC_MEMBRANE_TAGS}"
                )
            split = tags[fields[2]] if len(fields) == 3 else options.untagged_split
            rows.setdefault(split, []).append((fields[0], record.sequence, location, where))
        notes = truncation_warnings(handle)
    if not rows:
        raise InputError(f"{name}: no FASTA records")
    return {
        split: new_table(
            dict(zip(("id", "sequence", "label", ORIGIN), zip(*records, strict=True), strict=True)), warnings=notes
        )
        for split, records in rows.items()
    }


def _read_plus_fasta(files: dict[str, FileSpec], kind: str) -> dict[str, pd.DataFrame]:
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
            notes = truncation_warnings(handle)
        if not ids:
            raise InputError(f"{name}: no FASTA records")
        tables[split] = new_table({"id": ids, "sequence": sequences, "label": labels, ORIGIN: origins}, warnings=notes)
    return tables


_SPLIT_FILES = (FileKey(SPLIT, "a FASTA file of that split (key = split name)"),)

import_deepsol = Format(
    "deepsol",
    _read_deepsol,
    "DeepSol line files: one sequence (`*_src`) or one 0/1 label (`*_tgt`) per line, in the same order.",
    tuple(
        FileKey(f"{part}_{kind}", f"{'sequences' if kind == 'src' else '0/1 labels'} of split {split}")
        for part, split in DEEPSOL_PARTS.items()
        for kind in ("src", "tgt")
    ),
    check=_check_deepsol,
    details="Give any subset of the splits, each as a src/tgt pair. Ids are `{split}_{line}`.",
)
import_deeploc = Format(
    "deeploc",
    _read_deeploc,
    "DeepLoc 1.0 FASTA, headers `>ACC Location-{M,S,U}[ TAG]`; label = Location (the membrane tag is dropped).",
    (FileKey("fasta", "the DeepLoc FASTA (e.g. deeploc_data.fasta)", required=True),),
    DeepLocOptions,
    details="A header whose third field is not a key of `tags` is an error.",
)
import_plus_label = Format(
    "plus_fasta:label",
    lambda files, options: _read_plus_fasta(files, "label"),
    "PLUS solubility/stability/fluorescence FASTA: `>id LABEL`, one file per split.",
    _SPLIT_FILES,
)
import_plus_localization = Format(
    "plus_fasta:localization",
    lambda files, options: _read_plus_fasta(files, "localization"),
    "PLUS localization FASTA: `>id Location-M`, one file per split (the tag after the last '-' is dropped).",
    _SPLIT_FILES,
)
