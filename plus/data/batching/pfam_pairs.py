"""Same-family-prediction pair datasets over the corpus store, the fixed test-pair table and their collation."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from plus.data.corpus.store import CorpusStore
from plus.errors import InputError
from plus.tensors import pad_tokens

PAIR_SPECIAL_TOKENS = 3  # CLS, SEP, SEP around a pair in the transformer
MAX_PARTNER_TRIES = 10
TEST_PAIR_COLUMNS = ("index_a", "index_b", "same_family")

Pair = tuple[np.ndarray, np.ndarray, int]


class PairBatch(NamedTuple):
    """A padded batch of pairs: token LongTensors (batch, max_len), lengths and 0/1 same-family labels."""

    tokens_a: torch.Tensor
    len_a: torch.Tensor
    tokens_b: torch.Tensor
    len_b: torch.Tensor
    same_family: torch.Tensor


def uniforms(*key: int, n: int = 3) -> tuple[float, ...]:
    """`n` uniform [0, 1) numbers that are a pure function of the integer key (counter-based, ~1 us)."""
    digest = hashlib.blake2b(",".join(map(str, key)).encode(), digest_size=8 * n).digest()
    return tuple(int.from_bytes(digest[8 * k : 8 * k + 8], "little") / 2.0**64 for k in range(n))


class SFPPairDataset(Dataset):
    """Item i: anchor i and a partner from its family (probability `same_family_prob`) or from another family.

    The partner of a same-family pair is uniform over the anchor's family (it may be the anchor itself, as
    in the authors' code); otherwise a different family is drawn uniformly over families, then a uniform
    member. Draws are a pure function of (seed, epoch, index). With `max_pair_length`, a pair must satisfy
    len(a) + len(b) + 3 <= max_pair_length; the partner is redrawn up to 10 times, then the anchor moves on
    to i+1.
    """

    def __init__(
        self,
        store: CorpusStore,
        same_family_prob: float = 0.5,
        seed: int = 0,
        max_pair_length: int | None = None,
    ) -> None:
        if not 0.0 <= same_family_prob <= 1.0:
            raise InputError(f"same_family_prob must be in [0, 1], not {same_family_prob}")
        if len(store) == 0:
            raise InputError(f"{store.path}: the corpus store is empty")
        self.store = store
        self.same_family_prob = same_family_prob
        self.seed = seed
        self.max_pair_length = max_pair_length
        self.epoch = 0
        self._nonempty = np.flatnonzero(store.family_sizes > 0)
        self._position_of = np.searchsorted(self._nonempty, np.arange(store.n_families))
        if same_family_prob < 1.0 and len(self._nonempty) < 2:
            raise InputError(f"{store.path}: different-family pairs need at least 2 families with sequences")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.store)

    def partner(self, index: int, attempt: int = 0) -> tuple[int, int]:
        """Draw (partner index, same_family) for anchor `index` in this epoch (`attempt` numbers redraws)."""
        store = self.store
        family = store.family_of(index)
        same, family_u, member_u = uniforms(self.seed, self.epoch, index, attempt)
        label = 1
        if same >= self.same_family_prob:
            nonempty = self._nonempty
            draw = min(int(family_u * (len(nonempty) - 1)), len(nonempty) - 2)
            draw += draw >= self._position_of[family]
            family, label = int(nonempty[draw]), 0
        size = int(store.family_sizes[family])
        return store.member(family, min(int(member_u * size), size - 1)), label

    def __getitem__(self, index: int) -> Pair:
        n = len(self.store)
        for shift in range(n):
            anchor = (index + shift) % n
            for attempt in range(MAX_PARTNER_TRIES):
                partner, same = self.partner(anchor, attempt)
                if self._fits(anchor, partner):
                    return self.store[anchor], self.store[partner], same
        raise InputError(f"{self.store.path}: no pair fits max_pair_length={self.max_pair_length}")

    def _fits(self, anchor: int, partner: int) -> bool:
        if self.max_pair_length is None:
            return True
        return self.store.length(anchor) + self.store.length(partner) + PAIR_SPECIAL_TOKENS <= self.max_pair_length


class TestPairDataset(Dataset):
    """Fixed test pairs (`test_pairs.parquet`) over a store: item -> (tokens_a, tokens_b, same_family)."""

    __test__ = False  # not a pytest class despite the name

    def __init__(self, store: CorpusStore, pairs_path: str | os.PathLike[str]) -> None:
        self.store = store
        try:
            table = pd.read_parquet(pairs_path)
        except (OSError, ValueError) as error:
            raise InputError(f"{pairs_path}: cannot read test pairs ({error})") from error
        missing = [column for column in TEST_PAIR_COLUMNS if column not in table.columns]
        if missing:
            raise InputError(f"{pairs_path}: missing columns {', '.join(missing)}")
        self.index_a = table["index_a"].to_numpy(np.int64)
        self.index_b = table["index_b"].to_numpy(np.int64)
        self.same_family = table["same_family"].to_numpy(np.int64)
        n = len(store)
        in_range = (self.index_a >= 0) & (self.index_a < n) & (self.index_b >= 0) & (self.index_b < n)
        bad = np.flatnonzero(~in_range)
        if len(bad):
            raise InputError(f"{pairs_path}: row {bad[0]}: index out of range for {store.path} (n={n})")

    def __len__(self) -> int:
        return len(self.index_a)

    def __getitem__(self, index: int) -> Pair:
        return self.store[self.index_a[index]], self.store[self.index_b[index]], int(self.same_family[index])

    @property
    def lengths(self) -> np.ndarray:
        """Longer sequence of each pair, for length bucketing."""
        return np.maximum(self.store.lengths_of(self.index_a), self.store.lengths_of(self.index_b))


def collate_sfp_pairs(batch: Sequence[Pair]) -> PairBatch:
    """Pad a list of (tokens_a, tokens_b, same_family) into a PairBatch (padding token 0)."""
    tokens_a, len_a = pad_tokens([item[0] for item in batch])
    tokens_b, len_b = pad_tokens([item[1] for item in batch])
    same = torch.tensor([int(item[2]) for item in batch], dtype=torch.long)
    return PairBatch(tokens_a, len_a, tokens_b, len_b, same)


class SequenceBatch(NamedTuple):
    """A padded batch of single sequences (the MLM-only ablation's input): tokens (batch, max_len) and lengths."""

    tokens: torch.Tensor
    lengths: torch.Tensor


class SingleSequenceDataset(Dataset):
    """Item i: training sequence i alone, no partner (the authors' MLM-only ablation: single sequences per step)."""

    def __init__(self, store: CorpusStore, max_length: int | None = None) -> None:
        if len(store) == 0:
            raise InputError(f"{store.path}: the corpus store is empty")
        self.store = store
        self.max_length = max_length

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> np.ndarray:
        tokens = self.store[index]
        return tokens if self.max_length is None else tokens[: self.max_length]


def collate_corpus_sequences(batch: Sequence[np.ndarray]) -> SequenceBatch:
    """Pad corpus token arrays into one SequenceBatch (pretraining on single sequences, no same-family pairs)."""
    tokens, lengths = pad_tokens(list(batch))
    return SequenceBatch(tokens, lengths)
