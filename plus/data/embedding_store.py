"""Precomputed encoder states of a task's sequences: per split, three memory-mapped .npy files.

`{split}.tokens.npy` (uint8, every distinct sequence's tokens concatenated), `{split}.offsets.npy` (int64, n + 1)
and `{split}.states.npy`: [total residues, d] per residue ("residues" layout) or [n, d], the sum over each
sequence's residues ("pooled" layout, always float32: a float16 sum could overflow). The states file is written
through a memory map, batch by batch, so a split never has to fit in memory, and read the same way, so a probe
touches only the rows of its batch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.lib.format import open_memmap

from plus.errors import InputError

Layout = Literal["residues", "pooled"]
LAYOUTS: tuple[str, ...] = ("residues", "pooled")
PARTS = ("tokens", "offsets", "states")


def split_paths(directory: str | os.PathLike[str], split: str) -> dict[str, Path]:
    """The three files of one split."""
    return {part: Path(directory) / f"{split}.{part}.npy" for part in PARTS}


class EmbeddingWriter:
    """Writes one split: the sequences' tokens now, each sequence's states as they are computed."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        split: str,
        sequences: list[np.ndarray],
        dim: int,
        layout: Layout,
        dtype: str = "float16",
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
        Path(directory).mkdir(parents=True, exist_ok=True)
        paths = split_paths(directory, split)
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tokens = np.concatenate(sequences).astype(np.uint8) if sequences else np.zeros(0, dtype=np.uint8)
        np.save(paths["tokens"], tokens)
        np.save(paths["offsets"], self.offsets)
        rows = int(self.offsets[-1]) if layout == "residues" else len(sequences)
        self.layout = layout
        dtype = "float32" if layout == "pooled" else dtype
        self.states = open_memmap(paths["states"], mode="w+", dtype=np.dtype(dtype), shape=(rows, dim))
        self.written = np.zeros(len(sequences), dtype=bool)

    def put(self, index: int, states: np.ndarray) -> None:
        """States [length, d] of sequence `index` (summed over residues for the pooled layout)."""
        if self.layout == "residues":
            self.states[self.offsets[index] : self.offsets[index + 1]] = states
        else:
            self.states[index] = states.sum(axis=0, dtype=np.float64)
        self.written[index] = True

    def close(self) -> None:
        if not self.written.all():
            raise RuntimeError(f"{int((~self.written).sum())} sequences were never given states")
        self.states.flush()
        del self.states


class EmbeddingSplit:
    """One split's store, memory-mapped, with a lookup from a sequence's tokens to its states."""

    def __init__(self, directory: str | os.PathLike[str], split: str, layout: Layout) -> None:
        paths = split_paths(directory, split)
        missing = [str(path) for path in paths.values() if not path.is_file()]
        if missing:
            raise InputError(f"{missing[0]}: embeddings of split {split!r} not found (run `plus embed-task`)")
        self.tokens = np.load(paths["tokens"], mmap_mode="r")
        self.offsets = np.load(paths["offsets"])
        self.states = np.load(paths["states"], mmap_mode="r")
        self.layout = layout
        self.dim = int(self.states.shape[1])
        tokens = np.asarray(self.tokens)
        bounds = zip(self.offsets[:-1], self.offsets[1:], strict=True)
        self.index = {tokens[start:end].tobytes(): i for i, (start, end) in enumerate(bounds)}

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def get(self, index: int) -> np.ndarray:
        """States of sequence `index`: [length, d] (residues) or [1, d] (pooled)."""
        if self.layout == "residues":
            return np.asarray(self.states[self.offsets[index] : self.offsets[index + 1]])
        return np.asarray(self.states[index : index + 1])
