"""`plus predict`: a fine-tuned or probe model's predictions for a FASTA file (or pairs of its records).

Single-protein tasks predict every record. Pair tasks (homology) read the pairs from a second file: one pair per
line, two FASTA ids separated by tabs or spaces (an `id_a id_b` header line and blank lines are skipped). The
output has the prediction columns of `plus evaluate`'s predictions.parquet: `id` (the header's first word),
`prediction` and the task's extra columns, or `id_a`, `id_b`, `expected_level` and `p_class` ... `p_family`.
Rows follow the input order; sequences run longest-last in chunks, so memory stays bounded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from plus.api import DEFAULT_MAX_RESIDUES, Model, load
from plus.errors import InputError
from plus.inference.embed import read_named_sequences
from plus.io import atomic_path, read_text_file
from plus.tasks import TaskSpec

ITEMS_PER_CHUNK = 1024  # sequences or pairs predicted between progress-bar updates
PAIR_HEADER = ("id_a", "id_b")


def read_pairs(path: Path, known: dict[str, str]) -> list[tuple[str, str]]:
    """(id_a, id_b) of every line of a pairs file; an InputError names a bad line or an id not in the FASTA."""
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        fields = tuple(line.split())
        if not fields or (number == 1 and fields == PAIR_HEADER):
            continue
        if len(fields) != 2:
            raise InputError(f"{path}: line {number}: expected two FASTA ids, found {len(fields)} fields")
        for name in fields:
            if name not in known:
                raise InputError(f"{path}: line {number}: id {name!r} is not a record of the FASTA file")
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise InputError(f"{path}: no pairs")
    return pairs


def task_model(model_path: Path, device: str | None) -> tuple[Model, TaskSpec]:
    """The model at `model_path` and its task; it must have a task head (fine-tuned or probe)."""
    model = load(model_path, device)
    if model.task is None:
        raise InputError(
            f"{model_path}: not a task model (an encoder without a task head); give a fine-tuned or probe model.pt"
        )
    return model, model.task


def chunked_predictions(model: Model, pairs: bool, items: list, lengths: list[int], max_residues: int) -> pd.DataFrame:
    """Predictions of `items` (sequences or pairs) in input order, computed longest-last in chunks with progress."""
    order = np.argsort(lengths, kind="stable")
    tables = []
    with tqdm(total=len(items), desc="predicting", unit="pair" if pairs else "seq") as progress:
        for start in range(0, len(items), ITEMS_PER_CHUNK):
            chunk = [items[i] for i in order[start : start + ITEMS_PER_CHUNK]]
            tables.append(model.predict_pairs(chunk, max_residues) if pairs else model.predict(chunk, max_residues))
            progress.update(len(chunk))
    table = pd.concat(tables, ignore_index=True)
    return table.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


def predict_fasta(
    model_path: Path,
    fasta: Path,
    out: Path,
    pairs: Path | None = None,
    max_residues: int = DEFAULT_MAX_RESIDUES,
    device: str | None = None,
) -> int:
    """Write the model's predictions for every record (or every pair of `pairs`) to `out`; return the row count."""
    if out.suffix != ".parquet":
        raise InputError(f"{out}: output must end in .parquet")
    records = read_named_sequences(fasta)
    sequences = dict(records)
    pair_ids = read_pairs(pairs, sequences) if pairs is not None else None
    model, task = task_model(model_path, device)
    is_pair = task.task_shape.pairs
    if is_pair and pair_ids is None:
        raise InputError(f"{model_path}: {task.name} compares two proteins: give the pairs with --pairs")
    if not is_pair and pair_ids is not None:
        raise InputError(f"{model_path}: {task.name} predicts single proteins: drop --pairs")
    if pair_ids is None:
        table = chunked_predictions(model, False, records, [len(s) for _, s in records], max_residues)
    else:
        items = [((a, sequences[a]), (b, sequences[b])) for a, b in pair_ids]
        lengths = [len(sequences[a]) + len(sequences[b]) for a, b in pair_ids]
        table = chunked_predictions(model, True, items, lengths, max_residues)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        table.to_parquet(tmp, index=False)
    return len(table)
