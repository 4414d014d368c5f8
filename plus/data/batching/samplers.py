"""Batch samplers: length-bucketed batches (in memory, or a chunk at a time over a corpus), step-indexed batches."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Sampler

from plus.data.batching.permutation import KeyedPermutation
from plus.errors import InputError


class StepIndexedBatches:
    """Endless batches for steps s, s+1, ... where s is the trainer's global step when iteration starts.

    The batch of step s is batch (s mod n) of epoch (s div n) of `batch_sampler` (n batches per epoch), each index
    paired with its epoch. A run resumed from any checkpoint therefore sees exactly the batches an uninterrupted
    run sees, whatever Lightning's epoch bookkeeping does on restart (training is counted in steps).
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
            for batch in batches_from(self.batch_sampler, offset):
                yield [(epoch, int(index)) for index in batch]
                step += 1


def batches_from(batch_sampler: Any, offset: int) -> Iterator[list[int]]:
    """The sampler's batches from batch `offset` of the epoch on: sought directly where it can (`iter_from`)."""
    seek = getattr(batch_sampler, "iter_from", None)
    return seek(offset) if seek is not None else itertools.islice(batch_sampler, offset, None)


class EpochItems(Dataset):
    """Items addressed as (epoch, index); a dataset whose items depend on the epoch is told it (`set_epoch`)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        return self.dataset[index]


class LengthBucketBatchSampler(Sampler[list[int]]):
    """Batches of similar lengths: shuffle, sort within chunks of batch_size * chunk_batches, shuffle batches.

    Deterministic given (seed, epoch). For DDP every rank gets the same number of batches: without drop_last,
    batches are repeated from the start to fill the last round; with drop_last, the remainder is dropped.
    """

    def __init__(
        self,
        lengths: np.ndarray | Sequence[int],
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
        *,
        num_replicas: int = 1,
        rank: int = 0,
        chunk_batches: int = 100,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, not {batch_size}")
        if not 0 <= rank < num_replicas:
            raise InputError(f"rank {rank} is not in [0, num_replicas={num_replicas})")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.num_replicas = num_replicas
        self.rank = rank
        self.chunk_size = batch_size * max(chunk_batches, 1)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _epoch_order(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices sorted by length within each chunk, and the order of the batches (slices of it) this epoch.

        A chunk holds a whole number of batches, so batch b is `order[b * batch_size : (b + 1) * batch_size]`:
        the epoch costs one index array (4 bytes a sequence below 2**31), not a list of per-batch arrays.
        """
        n = len(self.lengths)
        rng = np.random.default_rng([self.seed, self.epoch])
        order = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
        if self.shuffle:
            rng.shuffle(order)  # the permutation rng.permutation(n) would give, without its int64 copy
        for start in range(0, n, self.chunk_size):
            chunk = order[start : start + self.chunk_size]
            chunk[:] = chunk[np.argsort(self.lengths[chunk], kind="stable")]
        n_batches = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        batch_order = rng.permutation(n_batches) if self.shuffle else np.arange(n_batches)
        return order, batch_order

    def _batches_per_rank(self, n_batches: int) -> int:
        if self.drop_last:
            return n_batches // self.num_replicas
        return math.ceil(n_batches / self.num_replicas)

    def __len__(self) -> int:
        n = len(self.lengths)
        n_batches = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return self._batches_per_rank(n_batches)

    def __iter__(self) -> Iterator[list[int]]:
        order, batch_order = self._epoch_order()
        total = self._batches_per_rank(len(batch_order)) * self.num_replicas
        if len(batch_order):
            batch_order = np.resize(batch_order, total)  # repeats batches from the start to fill the last round
        size = self.batch_size
        for batch in batch_order[self.rank : total : self.num_replicas].tolist():
            yield order[batch * size : (batch + 1) * size].tolist()


class CorpusBatchSampler(Sampler[list[int]]):
    """Batches of a corpus too large to hold an epoch's order in memory: it keeps one chunk of it at a time.

    Epoch e visits the sequences in the order of a keyed permutation of (seed, e) (see KeyedPermutation); the last
    n mod batch_size of that order are left out this epoch, or with `keep_last` form a short batch of their own
    (ceil(n / batch_size) batches, as a torch DataLoader without drop_last; it comes anywhere in its chunk's
    shuffled batch order, not last). The order is cut into chunks of batch_size * chunk_batches positions, taken
    in a shuffled order. A chunk is cut into batches, sorted by length first when `length_buckets` (so a batch
    holds sequences of similar length), and its batches come in a shuffled order; without
    length buckets every batch is a uniform draw, as in a plain shuffle. Lengths are asked of `lengths_of` a chunk
    at a time. Deterministic given (seed, epoch); `iter_from(b)` starts at batch b without reading the chunks before.
    """

    def __init__(
        self,
        n: int,
        lengths_of: Callable[[np.ndarray], np.ndarray],
        batch_size: int,
        seed: int = 0,
        *,
        length_buckets: bool = True,
        chunk_batches: int = 100,
        keep_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, not {batch_size}")
        self.n, self.lengths_of, self.batch_size, self.seed = n, lengths_of, batch_size, seed
        self.length_buckets = length_buckets
        self.keep_last = keep_last
        self.chunk_batches = max(chunk_batches, 1)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size) if self.keep_last else self.n // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        return self.iter_from(0)

    def iter_from(self, offset: int) -> Iterator[list[int]]:
        """Batches `offset`, `offset` + 1, ... of this epoch (the epoch set now, whatever `set_epoch` does later)."""
        if offset < 0:
            raise ValueError(f"offset must be >= 0, not {offset}")
        return self._batches(self.epoch, offset)

    def _batches(self, epoch: int, offset: int) -> Iterator[list[int]]:
        n_batches = len(self)
        n_chunks = math.ceil(n_batches / self.chunk_batches)
        chunk_order = np.random.default_rng([self.seed, epoch, 1]).permutation(n_chunks)
        sizes = np.minimum(self.chunk_batches, n_batches - chunk_order * self.chunk_batches)
        ends = np.cumsum(sizes)
        first = int(np.searchsorted(ends, offset, side="right"))
        skip = offset - (int(ends[first - 1]) if first else 0)
        permutation = KeyedPermutation(self.n, [self.seed, epoch, 0])
        for chunk in chunk_order[first:].tolist():
            yield from self._chunk_batches(permutation, epoch, chunk)[skip:]
            skip = 0

    def _chunk_batches(self, permutation: KeyedPermutation, epoch: int, chunk: int) -> list[list[int]]:
        """The batches of chunk `chunk`, in their shuffled order."""
        size = self.batch_size
        start = chunk * self.chunk_batches * size
        stop = min(start + self.chunk_batches * size, len(self) * size, self.n)
        indices = permutation(np.arange(start, stop))
        if self.length_buckets:
            indices = indices[np.argsort(self.lengths_of(indices), kind="stable")]
        batches = [indices[k : k + size].tolist() for k in range(0, len(indices), size)]
        order = np.random.default_rng([self.seed, epoch, 2, chunk]).permutation(len(batches))
        return [batches[b] for b in order]


class RankSlices:
    """Each global batch of `batch_sampler` cut into `num_replicas` equal slices; rank r yields slice r.

    The configured batch is the batch of the whole run whatever the number of processes (as the authors'
    DataParallel splits it over GPUs): the union of the ranks' batches of a step is the one-process batch. A last,
    short batch is filled cyclically from its own items so every rank gets the same number of items.
    """

    def __init__(self, batch_sampler: Any, batch_size: int, num_replicas: int = 1, rank: int = 0) -> None:
        if batch_size % num_replicas:
            raise InputError(f"batch size {batch_size} is not divisible by the {num_replicas} training processes")
        if not 0 <= rank < num_replicas:
            raise InputError(f"rank {rank} is not in [0, num_replicas={num_replicas})")
        self.batch_sampler = batch_sampler
        self.num_replicas = num_replicas
        self.rank = rank

    def set_epoch(self, epoch: int) -> None:
        self.batch_sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[list[int]]:
        return self.iter_from(0)

    def iter_from(self, offset: int) -> Iterator[list[int]]:
        """This rank's slices of the global batches from batch `offset` of the epoch on."""
        for batch in batches_from(self.batch_sampler, offset):
            per_rank = math.ceil(len(batch) / self.num_replicas)
            filled = list(itertools.islice(itertools.cycle(batch), per_rank * self.num_replicas))
            yield filled[self.rank * per_rank : (self.rank + 1) * per_rank]


class ShuffledBatchSampler(Sampler[list[int]]):
    """A uniform shuffle per epoch cut into batches (or, with shuffle=False, the items in file order);
    deterministic given (seed, epoch)."""

    def __init__(self, n: int, batch_size: int, seed: int = 0, shuffle: bool = True, drop_last: bool = False) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, not {batch_size}")
        self.n, self.batch_size, self.seed, self.shuffle, self.drop_last = n, batch_size, seed, shuffle, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = (
            np.random.default_rng([self.seed, self.epoch]).permutation(self.n) if self.shuffle else np.arange(self.n)
        )
        for i in range(len(self)):
            yield order[i * self.batch_size : (i + 1) * self.batch_size].tolist()
