"""Memory of building a corpus store's family index: bounded by the chunk size, not by the corpus size."""

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import plus.data.corpus.store as store_module
from plus.data.batching.pfam_pairs import SFPPairDataset
from plus.data.batching.samplers import CorpusBatchSampler
from plus.data.corpus.store import CorpusStore, CorpusWriter

CHUNK = 5000
N_FAMILIES = 40


def close_and_trace(path, families):
    """Write one-residue sequences of the given families; the traced peak of `close` in int64 chunk arrays."""
    with CorpusWriter(path) as writer:
        writer.add_many(np.ones(len(families), np.uint8), np.ones(len(families), np.int64), families)
        tracemalloc.start()
        try:
            writer.close([{"accession": f"PF{i:05d}.1", "id": f"F{i}"} for i in range(N_FAMILIES)])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return peak / (CHUNK * 8)


@pytest.mark.parametrize("n", [4 * CHUNK, 40 * CHUNK])
def test_family_index_memory_is_a_few_chunks_whatever_the_size(tmp_path, monkeypatch, n):
    monkeypatch.setattr(store_module, "_CHUNK", CHUNK)
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, N_FAMILIES + 1) ** 0.7
    families = rng.choice(N_FAMILIES, size=n, p=weights / weights.sum())
    chunks = close_and_trace(tmp_path / "s", families)
    assert chunks < 10  # grouping families 4 chunks at a time, as before, held 22 (4 chunks) to 28 (40 chunks)
    store = CorpusStore(tmp_path / "s")
    for family in range(N_FAMILIES):
        np.testing.assert_array_equal(store.members(family), np.flatnonzero(families == family))


def rss_file_kb():
    """Resident file-backed pages of this process (RssFile), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_reading_every_sequence_maps_no_token_pages(tmp_path):
    rng = np.random.default_rng(1)
    n, length = 40_000, 200  # 8 MB of tokens
    with CorpusWriter(tmp_path / "s") as writer:
        tokens = rng.integers(1, 21, size=n * length).astype(np.uint8)
        writer.add_many(tokens, np.full(n, length), rng.integers(0, 3, size=n))
        writer.close([{"accession": f"PF{i:05d}.1", "id": f"F{i}"} for i in range(3)])
    store = CorpusStore(tmp_path / "s")
    store[0]  # warm up before measuring
    before = rss_file_kb()
    for index in rng.permutation(n):
        assert len(store[index]) == length
    grown_kb = rss_file_kb() - before
    assert grown_kb < 0.1 * n * length / 1024  # through a memory map, 5952 of the 7812 KiB became resident
    np.testing.assert_array_equal(store[5], tokens[5 * length : 6 * length])
    assert store[5].flags.writeable


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
def test_an_epoch_of_the_pretraining_loader_maps_no_index_pages(tmp_path):
    """Lengths, families and family members are read with pread too: an epoch leaves no index file resident."""
    rng = np.random.default_rng(2)
    n, length = 300_000, 4  # 2.3 MiB of offsets, 1.1 MiB of families and 2.3 MiB of family members
    families = rng.integers(0, 50, size=n)
    with CorpusWriter(tmp_path / "s") as writer:
        writer.add_many(rng.integers(1, 21, size=n * length).astype(np.uint8), np.full(n, length), families)
        writer.close([{"accession": f"PF{i:05d}.1", "id": f"F{i}"} for i in range(50)])
    dataset = SFPPairDataset(CorpusStore(tmp_path / "s"), seed=3)
    sampler = CorpusBatchSampler(len(dataset), dataset.store.lengths_of, 64, seed=3)
    for index in next(iter(sampler)):  # warm up (code paths, libraries) before measuring
        dataset[index]
    before = rss_file_kb()
    seen = 0
    for batch in sampler:
        for index in batch:
            anchor, partner, _ = dataset[index]
            seen += len(anchor) + len(partner)
    grown_kb = rss_file_kb() - before
    assert seen == 2 * length * len(sampler) * 64
    assert grown_kb < 256  # through memory maps, the index files' 5.7 MiB became resident as the epoch went
