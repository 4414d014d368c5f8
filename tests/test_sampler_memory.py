"""LengthBucketBatchSampler: the same batches as the list-of-arrays version it replaced, in O(4 bytes) per index."""

import math
import tracemalloc

import numpy as np
import pytest

from plus.data.batching.samplers import LengthBucketBatchSampler


def list_of_arrays_batches(lengths, batch_size, seed, epoch, shuffle, drop_last, replicas, rank, chunk_batches):
    """The previous implementation, kept here as the reference for the batches of an epoch."""
    n = len(lengths)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n) if shuffle else np.arange(n)
    chunk_size = batch_size * max(chunk_batches, 1)
    batches = []
    for start in range(0, n, chunk_size):
        chunk = order[start : start + chunk_size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    per_rank = len(batches) // replicas if drop_last else math.ceil(len(batches) / replicas)
    total = per_rank * replicas
    if batches:
        while len(batches) < total:
            batches.extend(batches[: total - len(batches)])
    return [batch.tolist() for batch in batches[rank:total:replicas]]


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize(("n", "replicas"), [(0, 1), (5, 1), (1003, 1), (1003, 3), (640, 4), (20, 8)])
def test_same_batches_as_the_list_of_arrays_version(n, replicas, shuffle, drop_last):
    lengths = np.random.default_rng(n).integers(1, 500, size=n)
    for rank in range(replicas):
        for epoch in (0, 3):
            sampler = LengthBucketBatchSampler(
                lengths,
                8,
                seed=5,
                shuffle=shuffle,
                drop_last=drop_last,
                num_replicas=replicas,
                rank=rank,
                chunk_batches=7,
            )
            sampler.set_epoch(epoch)
            expected = list_of_arrays_batches(lengths, 8, 5, epoch, shuffle, drop_last, replicas, rank, 7)
            assert list(sampler) == expected
            assert len(sampler) == len(expected)


def test_an_epoch_holds_about_four_bytes_per_sequence():
    n = 400_000
    lengths = np.random.default_rng(0).integers(20, 1000, size=n).astype(np.int32)
    sampler = LengthBucketBatchSampler(lengths, 64, seed=0, drop_last=True)
    tracemalloc.start()
    try:
        batches = iter(sampler)
        first = next(batches)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(first) == 64
    assert peak < 5 * n  # the list of per-batch int64 arrays took about 18 bytes per sequence
