"""The pretraining batch sampler: a keyed permutation read a chunk at a time, resumable at any batch."""

import itertools
import tracemalloc

import numpy as np
import pytest
from scipy import stats

from plus.data.batching.permutation import KeyedPermutation
from plus.data.batching.samplers import CorpusBatchSampler, RankSlices, StepIndexedBatches
from plus.errors import InputError


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 1025, 6401])
def test_keyed_permutation_is_a_permutation_of_range_n(n):
    values = KeyedPermutation(n, [4, 1])(np.arange(n))
    assert sorted(values.tolist()) == list(range(n))
    assert KeyedPermutation(n, [4, 1])(np.arange(n)).tolist() == values.tolist()
    np.testing.assert_array_equal(KeyedPermutation(n, [4, 1])([n - 1, 0]), values[[n - 1, 0]])
    with pytest.raises(IndexError):
        KeyedPermutation(n, [4, 1])([n])
    assert KeyedPermutation(n, [4, 1])(n - 1).tolist() == [values[n - 1]]  # a scalar position


def test_keyed_permutation_is_close_to_uniform():
    n, keys = 12, 3000
    counts = np.zeros((n, n))
    for key in range(keys):
        counts[np.arange(n), KeyedPermutation(n, [key, 9])(np.arange(n))] += 1
    assert stats.chisquare(counts.ravel()).pvalue > 1e-3  # every position takes every value equally often
    values = KeyedPermutation(100_000, [0, 0])(np.arange(100_000))
    assert abs(np.corrcoef(np.arange(100_000), values)[0, 1]) < 0.02
    assert KeyedPermutation(100_000, [0, 1])(np.arange(100)).tolist() != values[:100].tolist()


def lengths_of(indices):
    return (np.asarray(indices) * 7919) % 997 + 20


def padding(batches):
    lengths = [lengths_of(batch) for batch in batches]
    return 1 - sum(b.sum() for b in lengths) / sum(b.max() * len(b) for b in lengths)


@pytest.mark.parametrize(("n", "batch_size", "chunk_batches"), [(0, 8, 3), (7, 8, 3), (1003, 8, 7), (6400, 64, 100)])
def test_an_epoch_visits_each_sequence_at_most_once_in_full_batches(n, batch_size, chunk_batches):
    sampler = CorpusBatchSampler(n, lengths_of, batch_size, seed=5, chunk_batches=chunk_batches)
    batches = list(sampler)
    assert len(batches) == len(sampler) == n // batch_size and all(len(b) == batch_size for b in batches)
    indices = [i for batch in batches for i in batch]
    assert len(set(indices)) == len(indices) and all(0 <= i < n for i in indices)


def test_length_buckets_cut_padding_and_shuffle_does_not():
    buckets = list(CorpusBatchSampler(5000, lengths_of, 32, seed=0, chunk_batches=20))
    shuffled = list(CorpusBatchSampler(5000, lengths_of, 32, seed=0, chunk_batches=20, length_buckets=False))
    assert padding(buckets) < 0.1 < 0.4 < padding(shuffled)
    assert sorted(sum(buckets, [])) == sorted(sum(shuffled, []))  # the same sequences, only grouped otherwise
    assert sum(shuffled, [])[:64] != list(range(64))


def test_deterministic_given_seed_and_epoch():
    sampler = CorpusBatchSampler(1000, lengths_of, 10, seed=4)
    epoch0 = list(sampler)
    assert list(sampler) == epoch0
    sampler.set_epoch(1)
    assert list(sampler) != epoch0
    assert list(CorpusBatchSampler(1000, lengths_of, 10, seed=5)) != epoch0
    with pytest.raises(InputError, match="batch_size must be >= 1"):
        CorpusBatchSampler(10, lengths_of, 0)


@pytest.mark.parametrize("offset", [0, 1, 6, 7, 50, 69, 125, 126])
def test_iter_from_is_the_epoch_from_that_batch_without_reading_earlier_chunks(offset):
    asked = []

    def counting_lengths_of(indices):
        asked.append(len(indices))
        return lengths_of(indices)

    sampler = CorpusBatchSampler(1003, counting_lengths_of, 8, seed=2, chunk_batches=7)
    whole = list(sampler)
    asked.clear()
    assert list(sampler.iter_from(offset)) == whole[offset:]
    assert sum(asked) <= 1003 - 8 * 7 * (offset // 7) + 8 * 7  # whole chunks before `offset` were skipped


def test_an_epoch_started_keeps_its_order_when_the_epoch_is_set_again():
    sampler = CorpusBatchSampler(1003, lengths_of, 8, seed=2, chunk_batches=7)
    whole = list(sampler)
    batches = sampler.iter_from(3)
    sampler.set_epoch(1)
    assert list(batches) == whole[3:]
    assert list(sampler.iter_from(3)) != whole[3:]
    with pytest.raises(ValueError, match="offset must be >= 0"):
        sampler.iter_from(-1)


def test_step_indexed_batches_resume_across_epochs():
    def stream(start):
        sampler = RankSlices(CorpusBatchSampler(300, lengths_of, 16, seed=1, chunk_batches=4), 16, 2, 1)
        return list(itertools.islice(StepIndexedBatches(sampler, lambda: start), 60 - start))

    whole = stream(0)
    for start in (1, 17, 18, 41):  # 18 batches per epoch
        assert stream(start) == whole[start:]
    assert [epoch for epoch, _ in whole[18]] == [1] * 8 and whole[18] != whole[0]


@pytest.mark.parametrize("n", [100_000, 20_000_000])
def test_memory_is_one_chunk_whatever_the_corpus_size(n):
    sampler = CorpusBatchSampler(n, lengths_of, 64, seed=0)
    tracemalloc.start()
    try:
        batches = sampler.iter_from(len(sampler) // 2)
        for _ in range(250):
            assert len(next(batches)) == 64
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_500_000  # the in-memory order would hold 4 bytes a sequence: 80 MB at 20M


@pytest.mark.parametrize(("n", "batch_size", "chunk_batches"), [(0, 8, 3), (7, 8, 3), (1003, 8, 7), (6400, 64, 100)])
def test_keep_last_visits_every_sequence_once_in_ceil_n_over_b_batches(n, batch_size, chunk_batches):
    sampler = CorpusBatchSampler(n, lengths_of, batch_size, seed=5, chunk_batches=chunk_batches, keep_last=True)
    batches = list(sampler)
    assert len(batches) == len(sampler) == -(-n // batch_size)
    assert sorted(i for batch in batches for i in batch) == list(range(n))
    assert sum(len(b) < batch_size for b in batches) == (n % batch_size > 0)
    offset = len(batches) // 2
    sampler_from = CorpusBatchSampler(n, lengths_of, batch_size, seed=5, chunk_batches=chunk_batches, keep_last=True)
    assert list(sampler_from.iter_from(offset)) == batches[offset:]
