"""Named, seeded random streams: stable, 63-bit, and unrelated across seeds, steps, names and ranks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plus.random_streams import random_stream, stream_seed


def test_stream_seed_is_a_stable_63_bit_hash():
    # pinned: changing the hash or its key changes every mask and dropout draw of every run
    assert stream_seed(2020, 0, "pretrain-mask") == 1691725756624269156
    assert stream_seed(2020, 0, "pretrain-mask", rank=1) == 2533529409228895590
    seeds = [stream_seed(seed, step, "dropout") for seed in range(20) for step in range(50)]
    assert all(0 <= s < 2**63 for s in seeds) and len(set(seeds)) == len(seeds)
    assert max(seeds) > 2**62  # the top bit of the 63 is used
    assert stream_seed(np.int64(7), np.int32(3), "x") == stream_seed(7, 3, "x")


def test_every_part_of_the_key_changes_the_stream():
    base = stream_seed(1, 2, "finetune-mask", 0)
    variants = [
        stream_seed(2, 2, "finetune-mask", 0),
        stream_seed(1, 3, "finetune-mask", 0),
        stream_seed(1, 2, "finetune-val-mask", 0),
        stream_seed(1, 2, "finetune-mask", 1),
        stream_seed(1, 22, "finetune-mask", 0),
        stream_seed(12, 2, "finetune-mask", 0),
    ]
    assert base not in variants and len(set(variants)) == len(variants)
    # no arithmetic aliasing: what seed * K + step schemes confuse stays apart
    assert stream_seed(0, 1_000_003, "dropout") != stream_seed(1, 0, "dropout")
    assert stream_seed(1, 12, "a") != stream_seed(11, 2, "a")
    with pytest.raises(TypeError, match="name"):
        stream_seed(1, 2, 3)
    with pytest.raises(TypeError):
        stream_seed(1.5, 2, "a")


def test_random_stream_is_a_seeded_generator_on_the_device():
    first = torch.rand(8, generator=random_stream(5, 9, "pretrain-mask", "cpu"))
    again = torch.rand(8, generator=random_stream(5, 9, "pretrain-mask", torch.device("cpu")))
    other_rank = torch.rand(8, generator=random_stream(5, 9, "pretrain-mask", "cpu", rank=1))
    assert torch.equal(first, again) and not torch.equal(first, other_rank)
    generator = random_stream(5, 9, "pretrain-mask", "cpu", rank=3)
    assert generator.device.type == "cpu" and generator.initial_seed() == stream_seed(5, 9, "pretrain-mask", 3)
