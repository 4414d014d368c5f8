"""The benchmark drivers on CPU at tiny sizes: one JSON line each, finite numbers; gpu_check.sh without a GPU."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plus.tasks import BUILTIN_TASKS

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
GPU_CHECK = BENCHMARKS / "gpu_check.sh"


def run(script, *args, env=None):
    """Run a benchmark script; its stdout lines, parsed as JSON."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    command = [sys.executable, str(BENCHMARKS / script), *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.strip().splitlines()]


def numbers(value):
    """Every number inside nested dicts and lists."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, dict):
        return [x for item in value.values() for x in numbers(item)]
    if isinstance(value, list):
        return [x for item in value for x in numbers(item)]
    return []


def assert_finite(line):
    assert numbers(line) and all(math.isfinite(x) for x in numbers(line)), line


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A tiny generated Pfam-like file prepared by pfam_prep.py, kept for the loader benchmark."""
    workdir = tmp_path_factory.mktemp("pfam")
    options = ["--families", 30, "--min-family-size", 20, "--n-test-pairs", 100, "--workdir", workdir]
    lines = run("pfam_prep.py", "--sequences", 3000, 6000, *options, "--keep-output", "--repeats", 2)
    return workdir, lines


def test_pfam_prep_prints_one_line_per_size(prepared):
    workdir, lines = prepared
    assert [line["sequences"] for line in lines] == [3000, 6000]
    for line in lines:
        assert_finite(line)
        assert 0 < line["kept_sequences"] <= line["sequences"] and line["peak_rss_mb"] >= line["peak_anon_mb"] > 0
        assert line["families_seen"] == 30 and 0 < line["families_kept"] <= 30
        assert line["repeats"] == 2 and len(line["runs"]) == 2
    assert sorted(p.name for p in workdir.glob("Pfam-A.*.fasta.gz")) == [
        "Pfam-A.n3000.f30.s0.fasta.gz",
        "Pfam-A.n6000.f30.s0.fasta.gz",
    ]


def test_pfam_like_records_parse_and_have_zipf_like_families(tmp_path, benchmark_module):
    pfam_like = benchmark_module("pfam_like")
    from plus.data.corpus.pfam import prepare_pfam
    from plus.settings import PfamSettings

    summary = pfam_like.generate(tmp_path / "Pfam-A.fasta.gz", 5000, n_families=50, seed=1)
    assert summary["sequences"] == 5000 and summary["families"] == 50
    settings = PfamSettings(min_family_size=40)
    result = prepare_pfam(tmp_path / "Pfam-A.fasta.gz", tmp_path / "out", settings, progress=False)
    assert result["counts"]["read"] == 5000 and result["families"]["seen"] == 50
    assert 0 < result["families"]["kept"] < 50  # the Zipf tail falls below the filter
    assert result["counts"]["unknown_residues"] == 0


def test_loader_memory_benchmark(prepared):
    workdir, _ = prepared
    lines = run("pretrain_loader_memory.py", workdir / "prepared-6000", "--batches", 20, "--batch-pairs", 8)
    assert len(lines) == 1
    line = lines[0]
    assert_finite({key: value for key, value in line.items() if key != "corpus"})
    assert line["batches"] == 20 and line["residues_drawn"] > 0
    assert set(line["stages"]) == {"imports", "store_open", "sampler_built", "first_batch", "after_batches"}


def test_throughput_benchmark_compares_both_rnn_formulations_on_cpu():
    args = ["--preset", "plus-rnn-tiny", "--pairs", 2, "--steps", 1, "--warmup", 0, "--median-length", 30]
    lines = run("pretrain_throughput.py", *args, "--device", "cpu", "--threads", 1, "--compare-impl")
    assert len(lines) == 1
    assert_finite({key: value for key, value in lines[0].items() if key not in ("preset", "device", "torch")})
    assert lines[0]["residues_per_s"] > 0


@pytest.mark.parametrize("process_per_stage", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_smoke_chain_on_cpu(tmp_path, process_per_stage):
    args = ["--device", "cpu", "--precision", "fp32", "--workdir", tmp_path, "--pretrain-steps", 3]
    args += ["--finetune-epochs", 1, "--sequences-per-family", 8]
    lines = run("gpu_smoke_chain.py", *args, *(["--process-per-stage"] if process_per_stage else []))
    assert len(lines) == 1
    line = lines[0]
    assert line["finite"] is True and line["process_per_stage"] is process_per_stage
    assert line["pretrain"]["steps"] == 3 and line["finetune"]["epochs"] >= 1
    assert 0 <= line["evaluate"]["headline"]["value"] <= 1
    assert_finite(line)


def test_gpu_check_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(GPU_CHECK)]).returncode == 0


def test_gpu_check_refuses_to_run_without_cuda():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(GPU_CHECK)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CUDA" in lines[0]


def test_gpu_check_reports_each_check_and_failures(tmp_path):
    """With a stand-in interpreter that claims one GPU: one tagged line per check, a failed check, no DDP."""
    fake = tmp_path / "python"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        'if [[ "$1" == -c && "$2" == *torch.cuda* ]]; then echo 1; exit 0; fi\n'
        f'if [[ "$1" == -c ]]; then exec {sys.executable} "$@"; fi\n'
        'if [[ "$*" == *plus-rnn-large* ]]; then echo "CUDA out of memory" >&2; exit 3; fi\n'
        "echo '{\"residues_per_s\": 5.0}'\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PYTHON": str(fake)}
    result = subprocess.run(["bash", str(GPU_CHECK)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [line["check"] for line in lines] == [
        "throughput_rnn_base",
        "throughput_rnn_large",
        "throughput_tfm",
        "chain_rnn_1gpu",
        "chain_tfm_1gpu",
        "chain_rnn_ddp2",
    ]
    assert lines[0] == {"check": "throughput_rnn_base", "ok": True, "exit_code": 0, "residues_per_s": 5.0}
    assert lines[1] == {"check": "throughput_rnn_large", "ok": False, "exit_code": 3, "timed_out": False}
    assert lines[5]["skipped"] is True and "DDP needs 2" in lines[5]["reason"]


def test_job_startup_prints_medians_and_ratios():
    [line] = run("job_startup.py", "--repeats", 1)
    assert_finite(line)
    assert set(line["median_s"]) == {"torch", "lightning", "evaluate_job", "python_api", "finetune_job", "report_job"}
    medians, ratios = line["median_s"], line["ratio_to_torch"]
    assert all(value > 0 for value in medians.values())
    for name, value in medians.items():
        assert ratios[name] == pytest.approx(value / medians["torch"], abs=0.02)
    assert medians["lightning"] > medians["torch"]  # Lightning imports torch, and more


def test_report_bootstrap_times_both_worker_counts_and_both_resample_paths():
    [line] = run("report_bootstrap.py", "--resamples", 5, "--repeats", 1, "--scale", 0.5)
    assert_finite(line)
    workers = line["workers"]
    for way in ("2_always", "2_when_worth_it"):
        assert workers[f"ratio_{way}"] == pytest.approx(workers["1"] / workers[way], abs=0.01)
    assert set(line["resample_ms"]) == set(BUILTIN_TASKS) - {"fluorescence"}  # fluorescence: stability's shape again
    assert all(times["checked"] > 0 and times["unchecked"] > 0 for times in line["resample_ms"].values())
