"""`plus embed-task`: one encoder's states for every distinct sequence of every split of a task, computed once.

What is stored follows what the task's head reads. Pair tasks (homology): z per residue of both sides, which the
soft symmetric alignment compares residue by residue. Residue tasks: h or z (the head's input) per residue.
Protein tasks: per residue as well, because the default head attends over residues; only a head that sums
(`pooling: sum`) gets the "pooled" layout, one summed vector per sequence, which gives that head exactly the
same input at a fraction of the disk. Sequences are sorted by length and batched under a residue budget
(count x longest <= residues_per_batch), so memory stays bounded whatever the mix of lengths; a sequence longer
than the budget is encoded alone (Hugging Face models cut it into windows themselves).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from plus.data.embedding_store import EmbeddingWriter
from plus.data.task_data.canonical import read_split, required_splits
from plus.io import atomic_path, write_json
from plus.models.registry import encoder_record, open_encoder
from plus.settings import EmbedTaskJob, parse_settings
from plus.tasks import layout_for, representation_for
from plus.tensors import pad_tokens
from plus.tokens import encode

log = logging.getLogger(__name__)

RESIDUES_PER_BATCH = 8192
MAX_BATCH = 512


def split_sequences(frame: pd.DataFrame) -> list[np.ndarray]:
    """The distinct token sequences of a split (both sides of pairs), in first-seen order."""
    columns = [column for column in ("sequence", "sequence_b") if column in frame]
    seen: dict[bytes, np.ndarray] = {}
    for column in columns:
        for sequence in frame[column]:
            tokens = encode(sequence).tokens
            seen.setdefault(tokens.tobytes(), tokens)
    return list(seen.values())


def residue_budget_batches(lengths: np.ndarray, residues_per_batch: int, max_batch: int = MAX_BATCH) -> list[list[int]]:
    """Indices sorted by length, cut so that count x longest stays within the budget (at least one each)."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index in np.argsort(lengths, kind="stable").tolist():
        if current and ((len(current) + 1) * int(lengths[index]) > residues_per_batch or len(current) == max_batch):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


@torch.no_grad()
def encode_sequences(
    encoder: torch.nn.Module,
    sequences: list[np.ndarray],
    representation: str = "h",
    residues_per_batch: int = RESIDUES_PER_BATCH,
    device: torch.device | str = "cpu",
) -> Iterator[tuple[int, np.ndarray]]:
    """(index, states [length, d] as float32) for every sequence, computed in length-sorted budgeted batches."""
    lengths = np.array([len(s) for s in sequences])
    for batch in residue_budget_batches(lengths, residues_per_batch):
        tokens, batch_lengths = pad_tokens([sequences[i] for i in batch])
        h = encoder(tokens.to(device), batch_lengths.to(device))
        states = (h if representation == "h" else encoder.project(h)).float().cpu().numpy()
        for row, index in enumerate(batch):
            yield index, states[row, : batch_lengths[row]]


def run_embed_task(job: EmbedTaskJob | dict[str, Any], data_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Write every split's store and manifest.json into `out_dir` (atomically, as one directory).

    `job` is what `plus embed-task` runs; a mapping is validated into one first."""
    if not isinstance(job, EmbedTaskJob):
        job = parse_settings(EmbedTaskJob, job, "embed-task settings")
    spec = job.task
    encoder_spec = job.encoder
    representation = job.representation or representation_for(spec)
    layout = job.layout or layout_for(spec)
    dtype = job.dtype
    budget = job.residues_per_batch
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    encoder = open_encoder(encoder_spec).to(device).eval()
    record = encoder_record(encoder_spec)
    dim = encoder.d_h if representation == "h" else encoder.d_z
    splits: dict[str, dict[str, int]] = {}
    with atomic_path(out_dir, directory=True) as tmp:
        for split in required_splits(spec):
            sequences = split_sequences(read_split(data_dir, split))
            writer = EmbeddingWriter(tmp, split, sequences, dim, layout, dtype)
            for index, states in encode_sequences(encoder, sequences, representation, budget, device):
                writer.put(index, states)
            writer.close()
            splits[split] = {"sequences": len(sequences), "residues": int(sum(len(s) for s in sequences))}
            log.info("%s: %d sequences embedded", split, len(sequences))
        manifest = {
            "task": spec.name,
            "encoder": record,
            "representation": representation,
            "layout": layout,
            "dtype": "float32" if layout == "pooled" else dtype,
            "dim": dim,
            "splits": splits,
        }
        write_json(tmp / "manifest.json", manifest)
    return manifest
