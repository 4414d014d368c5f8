"""Named, seeded random streams: each random draw of training comes from a generator fixed by (seed, step, name, rank).

The stream's seed is a hash of all four values, so streams of different steps, purposes or DDP ranks are unrelated
(no arithmetic like seed * K + step, where two purposes can land on the same seed), and a run resumed at any step
draws what an uninterrupted run draws.
"""

from __future__ import annotations

import hashlib
import json
import operator

import torch

_PERSON = b"plus-streams"  # BLAKE2b personalisation: these seeds differ from other uses of the same hash


def stream_seed(seed: int, step: int, name: str, rank: int = 0) -> int:
    """A 63-bit seed (0 <= s < 2**63) from the BLAKE2b hash of (seed, step, name, rank)."""
    if not isinstance(name, str):
        raise TypeError(f"a random stream's name must be a str, not {type(name).__name__}")
    key = json.dumps([operator.index(seed), operator.index(step), name, operator.index(rank)])
    digest = hashlib.blake2b(key.encode(), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "big") >> 1


def random_stream(seed: int, step: int, name: str, device: torch.device | str, rank: int = 0) -> torch.Generator:
    """A torch.Generator on `device` seeded with stream_seed(seed, step, name, rank)."""
    return torch.Generator(device=device).manual_seed(stream_seed(seed, step, name, rank))
