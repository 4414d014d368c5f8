import numpy as np
import pytest
import torch
from scipy import stats

from plus.data.batching.pfam_pairs import SFPPairDataset, TestPairDataset, collate_sfp_pairs
from plus.data.batching.samplers import LengthBucketBatchSampler
from plus.data.corpus.pfam import sample_test_pairs
from plus.data.corpus.store import CorpusStore, CorpusWriter
from plus.errors import InputError

FAMILY_SIZES = [2, 5, 10, 20, 40, 80, 160, 1]  # very unequal, so "uniform over families" is testable


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("sampling") / "store"
    rng = np.random.default_rng(0)
    families = rng.permutation(np.repeat(np.arange(len(FAMILY_SIZES)), FAMILY_SIZES))
    with CorpusWriter(path) as writer:
        for family in families:
            length = int(rng.integers(20, 300))
            writer.add(np.full(length, family + 1, dtype=np.uint8), int(family))  # the token says the family
        writer.close([{"accession": f"PF{i}", "id": f"F{i}"} for i in range(len(FAMILY_SIZES))])
    return CorpusStore(path)


def draws(dataset, n, epoch=0):
    dataset.set_epoch(epoch)
    return [dataset[i % len(dataset)] for i in range(n)]


def test_pairs_are_labelled_by_family(store):
    dataset = SFPPairDataset(store, seed=3)
    assert len(dataset) == len(store)
    for index, (a, b, same) in enumerate(draws(dataset, len(store))):
        np.testing.assert_array_equal(a, store[index])
        assert same == int(a[0] == b[0])


def test_same_family_rate_is_the_configured_probability(store):
    pairs = draws(SFPPairDataset(store, seed=1), 3000)
    rate = np.mean([same for _, _, same in pairs])
    assert abs(rate - 0.5) < 0.04  # 5 standard deviations
    pairs = draws(SFPPairDataset(store, same_family_prob=0.2, seed=1), 3000)
    assert abs(np.mean([same for _, _, same in pairs]) - 0.2) < 0.04


def test_negatives_are_uniform_over_families_not_sizes(store):
    dataset = SFPPairDataset(store, same_family_prob=0.0, seed=5)
    anchor_family = 6  # the largest family: the other 7 should come up equally often
    anchors = store.members(anchor_family)
    partner_families = []
    for epoch in range(10):
        dataset.set_epoch(epoch)
        partner_families += [int(dataset[int(i)][1][0]) - 1 for i in anchors]
    counts = np.bincount(partner_families, minlength=len(FAMILY_SIZES))
    assert counts[anchor_family] == 0
    others = np.delete(counts, anchor_family)
    assert stats.chisquare(others).pvalue > 1e-3
    sizes = np.delete(np.array(FAMILY_SIZES), anchor_family)
    assert stats.chisquare(others, sizes / sizes.sum() * others.sum()).pvalue < 1e-6


def test_same_family_partner_is_uniform_within_family(store):
    dataset = SFPPairDataset(store, same_family_prob=1.0, seed=2)
    family = 5
    anchor = int(store.members(family)[0])
    hits = []
    for epoch in range(1200):
        dataset.set_epoch(epoch)
        hits.append(dataset.partner(anchor)[0])
    members = store.members(family)
    assert set(hits) <= set(members.tolist())
    counts = np.array([hits.count(int(m)) for m in members])
    assert stats.chisquare(counts).pvalue > 1e-3


def test_deterministic_given_seed_epoch_index(store):
    first = SFPPairDataset(store, seed=7)
    second = SFPPairDataset(store, seed=7)
    for epoch in (0, 3):
        for a, b in zip(draws(first, 100, epoch), draws(second, 100, epoch), strict=True):
            np.testing.assert_array_equal(a[1], b[1])
            assert a[2] == b[2]
    labels = [[same for _, _, same in draws(first, 200, epoch)] for epoch in (0, 1)]
    assert labels[0] != labels[1]
    other_seed = [same for _, _, same in draws(SFPPairDataset(store, seed=8), 200, 0)]
    assert other_seed != labels[0]


def test_max_pair_length_is_respected(store):
    dataset = SFPPairDataset(store, seed=0, max_pair_length=300)
    for a, b, _ in draws(dataset, 300):
        assert len(a) + len(b) + 3 <= 300


def test_needs_two_families_for_negatives(tmp_path):
    with CorpusWriter(tmp_path / "one") as writer:
        writer.add(np.ones(30, dtype=np.uint8), 0)
        writer.close([{"accession": "PF1", "id": "A"}, {"accession": "PF2", "id": "B"}])
    with pytest.raises(InputError, match="at least 2 families"):
        SFPPairDataset(CorpusStore(tmp_path / "one"))
    assert len(SFPPairDataset(CorpusStore(tmp_path / "one"), same_family_prob=1.0)) == 1


def test_collate_pairs_pads_with_zero():
    batch = [
        (np.array([1, 2, 3], np.uint8), np.array([4], np.uint8), 1),
        (np.array([5], np.uint8), np.array([6, 7], np.uint8), 0),
    ]
    out = collate_sfp_pairs(batch)
    assert out.tokens_a.dtype == torch.long and out.tokens_a.tolist() == [[1, 2, 3], [5, 0, 0]]
    assert out.len_a.tolist() == [3, 1] and out.len_b.tolist() == [1, 2]
    assert out.tokens_b.tolist() == [[4, 0], [6, 7]] and out.same_family.tolist() == [1, 0]


def padding_fraction(lengths, batches):
    padded = sum(len(batch) * lengths[batch].max() for batch in batches)
    return 1 - lengths.sum() / padded


def test_bucketing_reduces_padding_and_covers_every_index():
    lengths = np.random.default_rng(0).integers(20, 1000, size=5000)
    sampler = LengthBucketBatchSampler(lengths, batch_size=32, seed=0, chunk_batches=20)
    batches = [np.array(b) for b in sampler]
    assert len(batches) == len(sampler) == 157
    assert sorted(np.concatenate(batches).tolist()) == list(range(5000))
    rng = np.random.default_rng(1)
    random_batches = np.array_split(rng.permutation(5000), 157)
    assert padding_fraction(lengths, batches) < 0.1 < 0.4 < padding_fraction(lengths, random_batches)


def test_bucketing_is_deterministic_and_changes_with_epoch():
    lengths = np.arange(1000) % 97
    sampler = LengthBucketBatchSampler(lengths, batch_size=10, seed=4)
    epoch0 = list(sampler)
    assert list(sampler) == epoch0
    sampler.set_epoch(1)
    assert list(sampler) != epoch0
    unshuffled = LengthBucketBatchSampler(lengths, batch_size=10, seed=4, shuffle=False)
    assert list(unshuffled) == list(unshuffled) and len(list(unshuffled)) == 100


def test_drop_last():
    sampler = LengthBucketBatchSampler(np.ones(105), batch_size=10, seed=0, drop_last=True)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 10 and all(len(b) == 10 for b in batches)


@pytest.mark.parametrize(("n", "replicas", "drop_last"), [(1000, 4, False), (1003, 3, False), (1003, 3, True)])
def test_ddp_ranks_partition_the_batches(n, replicas, drop_last):
    lengths = np.random.default_rng(0).integers(1, 500, size=n)
    per_rank = [
        list(
            LengthBucketBatchSampler(
                lengths, batch_size=8, seed=9, drop_last=drop_last, num_replicas=replicas, rank=rank
            )
        )
        for rank in range(replicas)
    ]
    sizes = {len(batches) for batches in per_rank}
    assert len(sizes) == 1  # every rank takes the same number of steps
    assert sizes.pop() == len(LengthBucketBatchSampler(lengths, 8, 9, drop_last=drop_last, num_replicas=replicas))
    indices = [i for batches in per_rank for batch in batches for i in batch]
    if drop_last:
        assert len(indices) == len(set(indices))  # disjoint
    else:
        assert set(indices) == set(range(n))  # complete; a few batches repeat to even out the ranks
        assert len(indices) - n < replicas * 8


def test_test_pairs_table(store, tmp_path):
    pairs = sample_test_pairs(store, 400, seed=0)
    assert list(pairs.columns) == ["index_a", "index_b", "same_family"]
    assert pairs["same_family"].sum() == 200
    families = np.asarray(store.families)
    same = families[pairs["index_a"]] == families[pairs["index_b"]]
    np.testing.assert_array_equal(same, pairs["same_family"].to_numpy() == 1)
    singleton = store.members(7)[0]
    self_pairs = pairs["index_a"] == pairs["index_b"]
    assert (pairs.loc[self_pairs, "index_a"] == singleton).all()  # only a 1-member family pairs with itself
    assert sample_test_pairs(store, 400, seed=0).equals(pairs)
    assert not sample_test_pairs(store, 400, seed=1).equals(pairs)
    pairs.to_parquet(tmp_path / "pairs.parquet")
    dataset = TestPairDataset(store, tmp_path / "pairs.parquet")
    a, b, label = dataset[3]
    np.testing.assert_array_equal(a, store[int(pairs["index_a"][3])])
    np.testing.assert_array_equal(b, store[int(pairs["index_b"][3])])
    assert label == pairs["same_family"][3] and len(dataset) == 400
    assert (dataset.lengths >= store.lengths_of(pairs["index_a"])).all()


def test_test_pairs_out_of_range_is_a_clear_error(store, tmp_path):
    pairs = sample_test_pairs(store, 10, seed=0)
    pairs.loc[4, "index_b"] = len(store)
    pairs.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="row 4: index out of range"):
        TestPairDataset(store, tmp_path / "bad.parquet")
