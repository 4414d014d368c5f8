"""Homology importers: Bepler & Berger SCOPe 2.06 files and the PLUS authors' versions of them.

* train: ASTRAL FASTA, header `>d1dlwa_ a.1.1.1 (A:) desc {species}` (PLUS: `>d1dlwa_ a.1.1.1`); one row per
  domain, `id` = the domain, `label` = its SCOP sccs `class.fold.superfamily.family` (pairs are sampled in
  training).
* every other split: a pairs TSV with header `sequence_A sequence_B similarity` (Bepler & Berger; the 2.07
  new-entries file has the same columns) or `pdb_id_A pdb_id_B sequence_A sequence_B similarity` (PLUS);
  `similarity` is 0 (different class) .. 4 (same family). `id` is a unique pair id: `{pdb_id_A}|{pdb_id_B}`
  when the file names the domains (a repeated pair gets `#2`, `#3`, ...), otherwise `{split}_{row}` (data
  rows counted from 0); `id_b` is domain B (`pdb_id_B`), otherwise `{split}_{row}_b`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from plus.data.fasta import read_fasta
from plus.data.task_data.declarations import SPLIT, FileKey, Format
from plus.data.task_data.importers import (
    ORIGIN,
    FileSpec,
    describe,
    new_table,
    open_text,
    read_delimited,
    truncation_warnings,
)
from plus.errors import InputError
from plus.tasks import SCOP_LEVELS

SCCS = re.compile(r"[a-z]\.\d+\.\d+\.\d+")
PAIR_COLUMNS = ("sequence_A", "sequence_B", "similarity")
ID_COLUMNS = ("pdb_id_A", "pdb_id_B")
MAX_SIMILARITY = len(SCOP_LEVELS)  # 4 = same family
TRAIN = "train"


def read_domains(spec: FileSpec) -> pd.DataFrame:
    """Single domains of an ASTRAL-style FASTA: `id` = first header token, `label` = the sccs (second token)."""
    name = describe(spec)
    ids, sequences, labels, origins = [], [], [], []
    with open_text(spec) as handle:
        for record in read_fasta(handle, name=name):
            where = f"{name}: line {record.line}"
            tokens = record.header.split()
            if len(tokens) < 2 or not SCCS.fullmatch(tokens[1]):
                raise InputError(
                    f"{where}: header {record.header[:60]!r} must be '>domain sccs ...' with sccs like a.1.1.1"
                )
            if not record.sequence:
                raise InputError(f"{where}: domain {tokens[0]!r} has no sequence")
            ids.append(tokens[0])
            sequences.append(record.sequence.upper())
            labels.append(tokens[1])
            origins.append(where)
        notes = truncation_warnings(handle)
    if not ids:
        raise InputError(f"{name}: no records")
    return new_table({"id": ids, "sequence": sequences, "label": labels, ORIGIN: origins}, warnings=notes)


def read_pairs(spec: FileSpec, split: str, *, require_ids: bool) -> pd.DataFrame:
    """Domain pairs of a pairs TSV with their similarity 0..4 (`require_ids`: pdb_id_A/B columns must exist)."""
    name = describe(spec)
    frame = read_delimited(spec, sep="\t")
    frame.columns = [str(column).strip() for column in frame.columns]
    needed = (*ID_COLUMNS, *PAIR_COLUMNS) if require_ids else PAIR_COLUMNS
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        raise InputError(f"{name}: missing columns {missing}; found {list(frame.columns)}")
    if frame.empty:
        raise InputError(f"{name}: no pairs")
    lines = pd.RangeIndex(2, len(frame) + 2)  # line 1 is the header
    for column in ("sequence_A", "sequence_B"):
        empty = (frame[column].str.strip() == "").to_numpy()
        if empty.any():
            raise InputError(f"{name}: line {lines[empty.argmax()]}: {column} is empty")
    similarity = pd.to_numeric(frame["similarity"].str.strip(), errors="coerce")
    bad = ~similarity.isin(range(MAX_SIMILARITY + 1)).to_numpy()
    if bad.any():
        position = int(bad.argmax())
        raise InputError(
            f"{name}: line {lines[position]}: similarity {frame['similarity'].iloc[position]!r} "
            f"is not an integer 0..{MAX_SIMILARITY}"
        )
    if all(column in frame.columns for column in ID_COLUMNS):
        ids, repeated = pair_ids(frame["pdb_id_A"].str.strip(), frame["pdb_id_B"].str.strip())
        ids_b = frame["pdb_id_B"].str.strip().tolist()
    else:
        ids, repeated = [f"{split}_{row}" for row in range(len(frame))], 0
        ids_b = [f"{pair}_b" for pair in ids]
    return new_table(
        {
            "id": ids,
            "sequence": frame["sequence_A"].str.strip().str.upper().tolist(),
            "label": similarity.astype("int64").tolist(),
            "id_b": ids_b,
            "sequence_b": frame["sequence_B"].str.strip().str.upper().tolist(),
            ORIGIN: [f"{name}: line {line}" for line in lines],
        },
        mapped={"repeated pair ids suffixed": repeated},
        warnings=frame.attrs["warnings"],
    )


def pair_ids(domains_a: pd.Series, domains_b: pd.Series) -> tuple[list[str], int]:
    """Unique pair ids `A|B` (the k-th repeat of a pair gets `#k`) and how many repeats were suffixed."""
    base = domains_a + "|" + domains_b
    occurrence = base.groupby(base).cumcount() + 1
    ids = base.where(occurrence == 1, base + "#" + occurrence.astype(str))
    return ids.tolist(), int((occurrence > 1).sum())


def _read_domains_and_pairs(files: Mapping[str, FileSpec], require_ids: bool) -> dict[str, pd.DataFrame]:
    return {
        split: read_domains(spec) if split == TRAIN else read_pairs(spec, split, require_ids=require_ids)
        for split, spec in files.items()
    }


_TASK_FILES = (
    FileKey(TRAIN, "ASTRAL FASTA of single domains, `>d1dlwa_ a.1.1.1 ...` (label = the sccs)"),
    FileKey(SPLIT, "a pairs TSV of that split (key = split name, e.g. valid, test, test_2.07)"),
)

import_scope_bepler = Format(
    "scope_bepler",
    lambda files, options: _read_domains_and_pairs(files, require_ids=False),
    "Bepler & Berger SCOPe 2.06 files: `train` ASTRAL FASTA, every other split a `sequence_A sequence_B "
    "similarity` pairs TSV.",
    _TASK_FILES,
    details="Pair ids are `{pdb_id_A}|{pdb_id_B}` when the TSV names the domains, otherwise `{split}_{row}`.",
)
import_plus_homology = Format(
    "plus_homology",
    lambda files, options: _read_domains_and_pairs(files, require_ids=True),
    "The PLUS authors' homology files: `train` FASTA `>domain sccs`, other splits TSVs with pdb_id_A/pdb_id_B.",
    _TASK_FILES,
)
import_plus_homology_train = Format(
    "plus_fasta:homology_train",
    lambda files, options: {split: read_domains(spec) for split, spec in files.items()},
    "FASTA `>domain sccs` files by split (single domains labelled by their sccs).",
    (FileKey(SPLIT, "a domain FASTA of that split"),),
)
import_plus_homology_pairs = Format(
    "plus_fasta:homology_pairs",
    lambda files, options: {split: read_pairs(spec, split, require_ids=True) for split, spec in files.items()},
    "TSVs `pdb_id_A pdb_id_B sequence_A sequence_B similarity` by split.",
    (FileKey(SPLIT, "a pairs TSV of that split"),),
)
