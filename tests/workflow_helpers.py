"""Running the workflow from tests: a scratch copy of the workflow files and a `snakemake` subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from plus.settings import SYNTHETIC_TASK_SPLITS

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "envs", "slurm", "profiles")

# The smallest synthetic benchmark the workflow tests need (the demo's: 40 families x 150 sequences, and 400 train,
# 100 valid and 150 test records per task): 16 families x 40 sequences; 60 train, 20 valid, 30 per test split.
TINY_SPLIT_SIZES = {"train": 60, "valid": 20}  # every other split (the tests): 30 records
TINY_SYNTHETIC: dict[str, Any] = {
    "n_classes": 2,
    "n_families": 16,
    "sequences_per_family": 40,
    "tasks": {
        task: {split: TINY_SPLIT_SIZES.get(split, 30) for split in splits}
        for task, splits in SYNTHETIC_TASK_SPLITS.items()
    },
}
# The Pfam corpus of TINY_SYNTHETIC: its families have about 32 training sequences (the demo keeps those with 50)
TINY_PFAM: dict[str, Any] = {"min_family_size": 10, "n_test_pairs": 60}


def snakemake_env() -> dict[str, str]:
    """This interpreter's bin directory first on PATH, so rules find its `plus` command."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_snakemake(workdir: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def copy_workflow(destination: Path) -> Path:
    """The workflow files in `destination`, so a run's results/ stay out of the checkout."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name)
        else:
            shutil.copy2(source, destination / name)
    return destination


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    table = output.split("Job stats:", 1)[1]
    counts = {}
    for line in table.splitlines()[3:]:
        fields = line.split()
        if len(fields) != 2 or fields[0] == "total":
            break
        counts[fields[0]] = int(fields[1])
    return counts
