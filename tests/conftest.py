"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The real task and Pfam files in ../shared/realdata beside the repository; a test needing them fails without."""
    if not REALDATA.is_dir():
        pytest.fail(
            f"the shared real data is missing: {REALDATA} is not a directory. The tests that read official task and "
            "Pfam files expect the shared data folder beside the repository root (../shared/realdata); CI has it.",
            pytrace=False,
        )
    return REALDATA


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Torch on one thread while a test runs: tiny models run much faster that way on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
