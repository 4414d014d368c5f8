"""A training job resumed by a later invocation costs every attempt, not only the last that Snakemake measured."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from plus.report.cost import aggregate_costs, collect_costs
from plus.training.attempts import ATTEMPTS, read_attempts, recorded_attempt

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_each_attempt_is_a_row_updated_while_it_runs(tmp_path: Path) -> None:
    with pytest.raises(SystemExit), recorded_attempt(tmp_path, update_s=0.05):
        time.sleep(0.3)
        running = read_attempts(tmp_path / ATTEMPTS)
        assert running["status"].tolist() == ["running"] and running["wall_s"].iloc[0] > 0
        raise SystemExit(143)  # what SaveOnSignal raises on SIGTERM
    with pytest.raises(RuntimeError), recorded_attempt(tmp_path):
        raise RuntimeError("a crash")
    with recorded_attempt(tmp_path):
        time.sleep(0.05)
    attempts = read_attempts(tmp_path / ATTEMPTS)
    assert attempts["status"].tolist() == ["interrupted", "failed", "finished"]
    assert attempts["wall_s"].iloc[0] >= 0.3 and attempts["wall_s"].iloc[2] >= 0.05


def _job(root: Path, wall_s: float, attempts: list[tuple[float, str]] | None) -> Path:
    benchmark = root / "benchmarks" / "finetune" / "m" / "stability" / "seed0.tsv"
    benchmark.parent.mkdir(parents=True, exist_ok=True)
    benchmark.write_text(HEADER + f"{wall_s}\t0:00:00\t100\t1\t1\t1\t0\t0\t100\t{wall_s}\n")
    if attempts is not None:
        directory = root / "checkpoints" / "finetune" / "m" / "stability" / "seed0"
        directory.mkdir(parents=True, exist_ok=True)
        rows = [{"started_utc": "2026-01-01T00:00:00Z", "wall_s": w, "cpu_s": w, "status": s} for w, s in attempts]
        pd.DataFrame(rows).to_csv(directory / ATTEMPTS, sep="\t", index=False)
    return benchmark


def test_a_resumed_job_costs_every_attempt(tmp_path: Path) -> None:
    """The case reported: 0.009 h in the benchmark file of the resumed job against 0.083 h uninterrupted."""
    benchmark = _job(tmp_path, 0.009 * 3600, [(0.074 * 3600, "running"), (0.009 * 3600, "finished")])
    costs = collect_costs([benchmark], ["m"], ["stability"], {"finetune": 1}, tmp_path / "checkpoints")
    row = costs.iloc[0]
    assert row["attempts"] == 2
    assert row["wall_s"] / 3600 == pytest.approx(0.083) and row["gpu_s"] / 3600 == pytest.approx(0.083)
    assert row["cpu_s"] / 3600 == pytest.approx(0.083)
    aggregated = aggregate_costs(costs).iloc[0]
    assert aggregated["attempts"] == 2 and aggregated["wall_h"] == pytest.approx(0.083)


@pytest.mark.parametrize(
    ("attempts", "expected_h", "count"),
    [
        (None, 0.009, 1),  # no attempts.tsv (not a training job, or written before it existed): the benchmark only
        ([(0.009 * 3600, "finished")], 0.009, 1),  # an uninterrupted job is not counted twice
        ([(100.0, "interrupted"), (0.009 * 3600, "finished"), (50.0, "failed")], 0.009 + 150 / 3600, 3),
    ],
)
def test_attempts_other_than_the_measured_one_are_added(tmp_path: Path, attempts, expected_h, count) -> None:
    benchmark = _job(tmp_path, 0.009 * 3600, attempts)
    row = collect_costs([benchmark], ["m"], ["stability"], {}, tmp_path / "checkpoints").iloc[0]
    assert row["wall_s"] / 3600 == pytest.approx(expected_h) and row["attempts"] == count
