import json
import pickle

import numpy as np
import pytest

import plus.data.corpus.store as store_module
from plus.data.corpus.store import STORE_FILES, CorpusStore, CorpusWriter, write_subset
from plus.errors import InputError


def names(n):
    return [{"accession": f"PF{i:05d}.1", "id": f"Fam{i}"} for i in range(n)]


def random_corpus(n=300, n_families=6, seed=0):
    rng = np.random.default_rng(seed)
    sequences = [rng.integers(1, 22, size=int(rng.integers(0, 40))).astype(np.uint8) for _ in range(n)]
    families = rng.integers(0, n_families - 1, size=n)  # the last family stays empty
    return sequences, families


def build(path, sequences, families, n_families=6):
    with CorpusWriter(path) as writer:
        for tokens, family in zip(sequences, families, strict=True):
            writer.add(tokens, int(family))
        writer.close(names(n_families), {"split": "train"})
    return CorpusStore(path)


def test_round_trip_and_family_index(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "_CHUNK", 17)  # build the index over many chunks
    sequences, families = random_corpus()
    store = build(tmp_path / "s", sequences, families)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted(STORE_FILES)
    assert len(store) == len(sequences)
    for i in (0, 1, 150, len(sequences) - 1, -1):
        np.testing.assert_array_equal(store[i], sequences[i])
        assert store[i].dtype == np.uint8
    np.testing.assert_array_equal(store.lengths_of(np.arange(len(store))), [len(s) for s in sequences])
    assert store.span(1) == (len(sequences[0]), len(sequences[0]) + len(sequences[1]))
    assert [store.family_of(i) for i in range(len(store))] == families.tolist()
    for family in range(5):
        members = np.flatnonzero(families == family)
        assert [store.member(family, k) for k in range(len(members))] == members.tolist()
    with pytest.raises(IndexError):
        store.member(5, 0)  # the empty family
    with pytest.raises(IndexError):
        store.family_of(len(store))
    assert store.family_of(-1) == families[-1]
    with pytest.raises(IndexError, match="family index -1 out of range"):
        store.member(-1, 0)
    np.testing.assert_array_equal(store.families, families)
    assert store.n_families == 6 and store.family_names[2] == {"accession": "PF00002.1", "id": "Fam2"}
    for family in range(6):
        np.testing.assert_array_equal(store.members(family), np.flatnonzero(families == family))
    assert store.family_sizes[5] == 0
    positions = store.position_in_family(np.arange(len(store)))
    np.testing.assert_array_equal(store.members_at(store.families, positions), np.arange(len(store)))
    assert store.meta["n_sequences"] == 300 and store.meta["split"] == "train"
    assert store.meta["n_tokens"] == sum(len(s) for s in sequences)
    with pytest.raises(IndexError):
        store[len(sequences)]


def test_add_many_equals_add(tmp_path):
    sequences, families = random_corpus(n=50)
    one_by_one = build(tmp_path / "a", sequences, families)
    with CorpusWriter(tmp_path / "b") as writer:
        writer.add_many(np.concatenate(sequences[:20]), [len(s) for s in sequences[:20]], families[:20])
        for tokens, family in zip(sequences[20:], families[20:], strict=True):
            writer.add(tokens, int(family))
        writer.close(names(6))
    for name in ("tokens.bin", "offsets.npy", "families.npy", "family_members.npy", "family_offsets.npy"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert len(one_by_one) == 50


def test_store_is_memory_mapped_and_pickles_by_path(tmp_path):
    sequences, families = random_corpus()
    store = build(tmp_path / "s", sequences, families)
    assert isinstance(store.families.base, np.memmap) and not store.families.flags.owndata
    blob = pickle.dumps(store)
    assert len(blob) < 500  # the path, not the data
    copy = pickle.loads(blob)
    np.testing.assert_array_equal(copy[7], sequences[7])


def test_empty_store(tmp_path):
    with CorpusWriter(tmp_path / "e") as writer:
        writer.close(names(2))
    store = CorpusStore(tmp_path / "e")
    assert len(store) == 0 and store.n_families == 2 and list(store.family_sizes) == [0, 0]


def test_failed_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), CorpusWriter(tmp_path / "s") as writer:
        writer.add(np.array([1, 2, 3], dtype=np.uint8), 0)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="family index 3"), CorpusWriter(tmp_path / "s") as writer:
        writer.add(np.array([1, 2, 3], dtype=np.uint8), 3)
        writer.close(names(2))
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_wrong_dtype(tmp_path):
    with CorpusWriter(tmp_path / "s") as writer, pytest.raises(ValueError, match="uint8"):
        writer.add(np.array([1, 2], dtype=np.int64), 0)


def test_close_replaces_an_existing_store(tmp_path):
    build(tmp_path / "s", *random_corpus(n=40))
    store = build(tmp_path / "s", *random_corpus(n=10, seed=1))
    assert len(store) == 10
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_missing_and_incomplete_stores_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="corpus store not found"):
        CorpusStore(tmp_path / "absent")
    build(tmp_path / "s", *random_corpus(n=40))
    (tmp_path / "s" / "family_members.npy").unlink()
    with pytest.raises(InputError, match="incomplete corpus store, missing family_members.npy"):
        CorpusStore(tmp_path / "s")
    build(tmp_path / "t", *random_corpus(n=40))
    tokens = tmp_path / "t" / "tokens.bin"
    tokens.write_bytes(tokens.read_bytes()[:-5])
    with pytest.raises(InputError, match="tokens.bin has .* bytes, offsets say"):
        CorpusStore(tmp_path / "t")
    build(tmp_path / "u", *random_corpus(n=40))
    meta = json.loads((tmp_path / "u" / "meta.json").read_text())
    (tmp_path / "u" / "meta.json").write_text(json.dumps({**meta, "n_sequences": 41}))
    with pytest.raises(InputError, match="index sizes do not match"):
        CorpusStore(tmp_path / "u")


def test_write_subset_renumbers_families(tmp_path):
    sequences, families = random_corpus(n=200)
    source = build(tmp_path / "all", sequences, families)
    keep = families != 1
    family_map = np.array([0, -1, 1, 2, 3, 4])
    subset = write_subset(source, tmp_path / "sub", family_map, names(5), chunk=13)
    store = CorpusStore(subset)
    kept = np.flatnonzero(keep)
    assert len(store) == len(kept)
    for new, old in enumerate(kept):
        np.testing.assert_array_equal(store[new], sequences[old])
        assert store.families[new] == family_map[families[old]]
