"""Padding collation and a DataLoader whose position inside an epoch survives a checkpoint."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from plus.tokens import PAD


def pad_tokens(sequences: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token arrays with PAD into a LongTensor [B, L] and return it with the lengths [B]."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    width = int(lengths.max()) if len(sequences) else 1
    tokens = torch.full((len(sequences), max(width, 1)), PAD, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        tokens[row, : len(sequence)] = torch.from_numpy(np.asarray(sequence, dtype=np.int64))
    return tokens, lengths


def pad_labels(labels: Sequence[np.ndarray], fill: int = -100) -> torch.Tensor:
    """Right-pad per-residue integer labels into a LongTensor [B, L] filled with `fill`."""
    width = max((len(label) for label in labels), default=1)
    out = torch.full((len(labels), max(width, 1)), fill, dtype=torch.long)
    for row, label in enumerate(labels):
        out[row, : len(label)] = torch.from_numpy(np.asarray(label, dtype=np.int64))
    return out


class _SkippingBatchSampler:
    """Wraps a batch sampler and drops the first `skip` batches of the next pass only."""

    def __init__(self, batch_sampler: Any) -> None:
        self.inner = batch_sampler
        self.skip = 0

    def __iter__(self) -> Iterator[Any]:
        skip, self.skip = self.skip, 0
        for position, batch in enumerate(self.inner):
            if position >= skip:
                yield batch

    def __len__(self) -> int:
        return len(self.inner)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch)


class ResumableDataLoader(DataLoader):
    """A DataLoader over a batch sampler that records how many batches of the epoch were served.

    Lightning stores `state_dict()` in its checkpoints and calls `load_state_dict()` on resume, so a run killed
    mid-epoch continues with the next unseen batch instead of replaying the epoch from its start.
    """

    def __init__(self, dataset: Any, batch_sampler: Any, **kwargs: Any) -> None:
        super().__init__(dataset, batch_sampler=_SkippingBatchSampler(batch_sampler), **kwargs)
        self._served = 0

    def __iter__(self) -> Iterator[Any]:
        self._served = self.batch_sampler.skip
        for batch in super().__iter__():
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"served": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        # A checkpoint written at the epoch's last batch has served them all: Lightning resumes that epoch, and
        # the pass must then yield nothing so the epoch ends (the skip applies to that one pass only).
        self.batch_sampler.skip = int(state.get("served", 0))


class StepIndexedBatches:
    """Endless batches for steps s, s+1, ... where s is the trainer's global step when iteration starts.

    The batch of step s is batch (s mod n) of epoch (s div n) of `batch_sampler` (n batches per epoch), each index
    paired with its epoch. A run resumed from any checkpoint therefore sees exactly the batches an uninterrupted
    run sees, whatever Lightning's epoch bookkeeping does on restart (pretraining is counted in steps).
    """

    def __init__(self, batch_sampler: Any, start_step: Callable[[], int]) -> None:
        self.batch_sampler = batch_sampler
        self.start_step = start_step

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step()
        per_epoch = len(self.batch_sampler)
        while True:
            epoch, offset = divmod(step, per_epoch)
            self.batch_sampler.set_epoch(epoch)
            for batch in itertools.islice(self.batch_sampler, offset, None):
                yield [(epoch, int(index)) for index in batch]
                step += 1


class EpochItems(Dataset):
    """Items addressed as (epoch, index) of a dataset whose items depend on the epoch (`set_epoch`)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        self.dataset.set_epoch(epoch)
        return self.dataset[index]
