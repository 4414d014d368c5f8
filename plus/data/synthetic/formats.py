"""Writers for the official on-disk formats the synthetic benchmark imitates (deterministic bytes)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from pathlib import Path


def write_text(path: Path, lines: Iterable[str]) -> None:
    """Write lines, each terminated by a newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="\n") as handle:
        for line in lines:
            handle.write(line + "\n")


def write_gzip_text(path: Path, lines: Iterable[str]) -> None:
    """Gzip with no timestamp or file name in the header, so equal content gives equal bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        for line in lines:
            handle.write((line + "\n").encode())


def fasta_lines(records: Iterable[tuple[str, str]], width: int = 60) -> Iterable[str]:
    """FASTA records (header without '>', sequence) wrapped at `width` residues."""
    for header, sequence in records:
        yield ">" + header
        for start in range(0, len(sequence), width):
            yield sequence[start : start + width]


def write_tape_json(path: Path, records: Sequence[dict[str, object]]) -> None:
    """TAPE 'raw' JSON: one list of per-protein dicts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(records)) + "\n")


def write_tsv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Tab-separated table with a header line."""
    write_text(path, ["\t".join(columns), *("\t".join(str(v) for v in row) for row in rows)])


def write_netsurfp_csv(path: Path, rows: Iterable[dict[str, str]]) -> None:
    """NetSurfP-2.0 CSV as the ProtTrans copies have it: comma-separated columns of space-separated values."""
    columns = ("input", "dssp3", "dssp8", "disorder", "cb513_mask")
    write_text(path, [", ".join(columns), *(",".join(row[c] for c in columns) for row in rows)])


def write_3line(path: Path, records: Iterable[tuple[str, str, str]]) -> None:
    """TOPCONS 3-line records: >name, sequence, topology."""
    write_text(path, (line for name, seq, topo in records for line in (">" + name, seq, topo)))
