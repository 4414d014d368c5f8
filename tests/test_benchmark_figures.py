"""Benchmark figures a user can size jobs from: the load beside each figure, demo job memory, pair memory, speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture
def machine_load(monkeypatch):
    """The benchmarks' shared load helper, imported as the scripts import it."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import machine_load

    return machine_load


def run(script: str, *args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    command = [sys.executable, str(BENCHMARKS / script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)


def json_lines(result: subprocess.CompletedProcess) -> list[dict]:
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.strip().splitlines()]


def test_a_figure_is_marked_when_the_load_exceeds_the_cpu_threads(machine_load, monkeypatch):
    monkeypatch.setattr(machine_load, "cpu_threads", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 1.0, 0.5))
    watch = machine_load.LoadWatch()
    calm = machine_load.stamp({"residues_per_s": 10.0}, watch)
    assert calm["residues_per_s"] == 10.0 and calm["load"]["overloaded"] is False
    assert calm["load"]["cpu_threads"] == 2 and calm["load"]["load_1m_start"] == 1.5
    monkeypatch.setattr(os, "getloadavg", lambda: (2.5, 1.0, 0.5))  # rose above the threads during the measurement
    assert machine_load.stamp({}, watch)["load"]["overloaded"] is True


def test_an_overloaded_figure_is_refused_on_request(machine_load, monkeypatch, capsys):
    monkeypatch.setattr(machine_load, "cpu_threads", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (7.0, 6.0, 5.0))
    monkeypatch.setenv(machine_load.REFUSE_VARIABLE, "1")
    with pytest.raises(SystemExit) as stopped:
        machine_load.stamp({"residues_per_s": 10.0}, machine_load.LoadWatch())
    assert stopped.value.code == machine_load.OVERLOADED_EXIT
    assert "refused: load average 7.0 exceeded the 2 CPU threads" in capsys.readouterr().err


def write_benchmark(path: Path, max_rss: float) -> None:
    """A benchmark TSV as Snakemake writes it (a header and one row)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time"
    path.write_text(f"{header}\n1.0\t0:00:01\t{max_rss}\t2000\t1\t1\t0\t0\t50\t1.0\n")


def test_demo_job_memory_compares_the_median_peak_of_every_rule(tmp_path):
    before, after = tmp_path / "before" / "results", tmp_path / "after"
    for task, rss in (("homology", 700.0), ("secstr", 600.0), ("stability", 500.0)):
        write_benchmark(before / "benchmarks" / "finetune" / "m" / task / "seed0.tsv", rss)
    write_benchmark(before / "benchmarks" / "synthetic.tsv", 120.0)
    write_benchmark(after / "benchmarks" / "finetune" / "m" / "homology" / "seed0.tsv", 650.0)
    records = {line["rule"]: line for line in json_lines(run("demo_job_memory.py", "compare", before, after))}
    assert set(records) == {"finetune", "synthetic"}
    finetune = records["finetune"]
    assert finetune["before"] == {
        "jobs": 3,
        "median_max_rss_mib": 600.0,
        "max_max_rss_mib": 700.0,
        "largest_job": "finetune/m/homology/seed0",
    }
    assert finetune["after"]["jobs"] == 1 and finetune["median_change_mib"] == 50.0
    assert records["synthetic"]["after"] is None and records["synthetic"]["median_change_mib"] is None


def test_demo_job_memory_runs_a_job_and_writes_its_benchmark_file(tmp_path):
    tsv = tmp_path / "benchmarks" / "evaluate" / "job.tsv"
    command = [sys.executable, "-c", "block = bytearray(80 * 2**20); block[::4096] = b'x' * len(block[::4096])"]
    [line] = json_lines(run("demo_job_memory.py", "run", "--tsv", tsv, "--", *command))
    assert line["max_rss_mib"] >= 80 and set(line["load"]) >= {"load_1m_start", "cpu_threads", "overloaded"}
    [record] = json_lines(run("demo_job_memory.py", "compare", tmp_path, tmp_path))
    assert record["rule"] == "evaluate" and record["before"]["max_max_rss_mib"] == round(line["max_rss_mib"], 1)
    failed = run("demo_job_memory.py", "run", "--tsv", tmp_path / "x.tsv", "--", sys.executable, "-c", "exit(4)")
    assert failed.returncode == 4 and not (tmp_path / "x.tsv").exists()


def test_pair_memory_measures_prediction_and_training_in_both_ssa_layouts():
    [line] = json_lines(run("pair_memory.py", "--pairs", 3, "--length", 40))
    assert line["one_block_elements"] == 3 * 40 * 40 and "overloaded" in line["load"]
    for mode in ("predict", "train"):
        for layout in ("one_block", "blocks"):
            record = line[mode][layout]
            assert record["peak_rss_mib"] >= record["rss_before_mib"] > 0 and record["seconds"] > 0


def test_embed_speed_times_both_encoders_embedding_and_training_in_one_run():
    [line] = json_lines(run("embed_speed.py", "--proteins", 3, "--min-length", 10, "--max-length", 20, "--repeats", 1))
    assert set(line["encoders"]) == {"plus-rnn-base", "esm2-12x320"}
    for result in line["encoders"].values():
        assert result["embed_residues_per_s"] > 0 and result["train_residues_per_s"] > 0
        assert len(result["embed_pass_s"]) == len(result["train_pass_s"]) == 1
        assert 10_000_000 < result["parameters"] < 20_000_000  # similar sizes: about 15 M each
    assert set(line["esm2_over_plus"]) == {"embed", "train"} and "overloaded" in line["load"]


def test_demo_time_sums_each_rules_job_walls(tmp_path, benchmark_module):
    demo_time = benchmark_module("demo_time")
    benchmarks = tmp_path / "results" / "benchmarks"
    for task in ("homology", "secstr"):
        write_benchmark(benchmarks / "finetune" / "m" / task / "seed0.tsv", 600.0)
    write_benchmark(benchmarks / "report.tsv", 300.0)
    (benchmarks / "evaluate").mkdir()
    (benchmarks / "evaluate" / "empty.tsv").write_text("s\th:m:s\n")  # a job killed before its row: not counted
    assert demo_time.rule_walls(benchmarks) == {
        "finetune": {"jobs": 2, "wall_s": 2.0},
        "report": {"jobs": 1, "wall_s": 1.0},
    }
