"""Fixtures shared by the test modules."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# The longest modules (measured in CI), started first so that pytest-xdist's workers do not end on them one by one;
# `--dist loadfile --no-loadscope-reorder` (pyproject.toml) keeps each module on one worker, in this order
LONGEST_FIRST = (
    "test_slurm.py",
    "test_demo.py",
    "test_config_shapes.py",
    "test_any_encoder_workflow.py",
    "test_training.py",
    "test_side_by_side.py",
    "test_benchmarks.py",
    "test_console.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, share the cores: each worker, and every process its tests start, gets cores / workers
    threads (a rule sets its own); two workers each running torch on every core slow each other down."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The modules of LONGEST_FIRST first, in that order; the others after them, in their own order."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


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


@pytest.fixture
def benchmark_module() -> Callable[[str], ModuleType]:
    """Import a script of benchmarks/ as a module, with benchmarks/ on sys.path while it imports (as when run)."""

    def load(name: str) -> ModuleType:
        sys.path.insert(0, str(BENCHMARKS))
        try:
            return importlib.import_module(name)
        finally:
            sys.path.remove(str(BENCHMARKS))

    return load
