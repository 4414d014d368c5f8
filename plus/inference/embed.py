"""FASTA -> per-residue and per-protein embeddings of any checkpoint, through the Python API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from plus.api import DEFAULT_MAX_RESIDUES, load, sequence_problem
from plus.data.fasta import read_fasta
from plus.errors import InputError
from plus.io import atomic_path

SEQUENCES_PER_CHUNK = 1024  # sequences embedded between writes (and progress-bar updates)

Writer = Callable[[str, np.ndarray, np.ndarray], None]


def read_named_sequences(fasta: Path) -> list[tuple[str, str]]:
    """(id, sequence) of every record, the id being the header's first word; InputError on a bad record."""
    records: list[tuple[str, str]] = []
    first_line: dict[str, int] = {}
    for record in read_fasta(fasta):
        where = f"{fasta}: line {record.line}"
        if not record.header:
            raise InputError(f"{where}: empty header (a record needs an id after '>')")
        name = record.header.split()[0]
        problem = sequence_problem(record.sequence)
        if problem:
            raise InputError(f"{where}: record {name!r}: {problem}")
        if name in first_line:
            raise InputError(f"{where}: duplicate id {name!r} (first at line {first_line[name]})")
        first_line[name] = record.line
        records.append((name, record.sequence))
    if not records:
        raise InputError(f"{fasta}: no FASTA records")
    return records


@contextmanager
def embedding_writer(path: Path, kind: str, representation: str) -> Iterator[Writer]:
    """write(id, residues, protein) into `path`: kind ".h5" writes datasets as they come, ".npz" saves at the end."""
    if kind == ".h5":
        with h5py.File(path, "w") as handle:
            handle.attrs["representation"] = representation

            def write_h5(name: str, residues: np.ndarray, protein: np.ndarray) -> None:
                handle.create_dataset(f"{name}/residues", data=residues)
                handle.create_dataset(f"{name}/protein", data=protein)

            yield write_h5
        return
    arrays: dict[str, np.ndarray] = {}

    def write_npz(name: str, residues: np.ndarray, protein: np.ndarray) -> None:
        arrays[f"{name}/residues"] = residues
        arrays[f"{name}/protein"] = protein

    yield write_npz
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def embed_fasta(
    model_path: Path,
    fasta: Path,
    out: Path,
    representation: str = "h",
    max_residues: int = DEFAULT_MAX_RESIDUES,
    device: str | None = None,
) -> int:
    """Write `{id}/residues` ([L, d]) and `{id}/protein` (mean over residues) for every record; return the count."""
    if out.suffix not in (".h5", ".npz"):
        raise InputError(f"{out}: output must end in .h5 or .npz")
    if representation not in ("h", "z"):
        raise InputError(f"representation must be 'h' or 'z', not {representation!r}")
    records = sorted(read_named_sequences(fasta), key=lambda r: len(r[1]))
    model = load(model_path, device)
    with atomic_path(out) as tmp, embedding_writer(tmp, out.suffix, representation) as write:
        with tqdm(total=len(records), desc="embedding", unit="seq") as progress:
            for start in range(0, len(records), SEQUENCES_PER_CHUNK):
                batch = model.batch(records[start : start + SEQUENCES_PER_CHUNK])
                embeddings = model.embed(batch, representation, max_residues).numpy()
                for name, residues, protein in zip(
                    embeddings.ids, embeddings.residues, embeddings.proteins, strict=True
                ):
                    write(name, residues, protein)
                progress.update(len(batch))
    return len(records)
