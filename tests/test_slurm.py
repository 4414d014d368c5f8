"""The workflow on a real single-node SLURM cluster (Debian's slurm-wlm, fake GPUs), started and stopped here.

Needs root (apt and the daemons); installs slurm-wlm and munge with apt where they are missing, and is skipped,
with the reason, where that is impossible. Every non-local job must go through sbatch, and the results must equal
those of a local run of the same (reduced) demo.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "tests" / "slurm"
PROFILE = HARNESS / "profile"
SLURM_TOOLS = ("munged", "munge", "unmunge", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue", "scontrol", "srun")
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.")
JOB_HEADER = re.compile(r"^(local)?rule (\w+):$")
JOB_ID = re.compile(r"^\s+jobid: (\d+)$")


def _run(command: list[str], timeout_s: int, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a command under `timeout -k` (a stuck snakemake ignores SIGTERM), capturing its output."""
    return subprocess.run(
        ["timeout", "-k", "15", str(timeout_s), *command], capture_output=True, text=True, check=False, **kwargs
    )


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_slurm_installed() -> None:
    """Install slurm-wlm and munge with apt where missing; skip the test, saying why, where that cannot be done."""
    if all(shutil.which(tool) for tool in SLURM_TOOLS):
        return
    if os.geteuid() != 0:
        pytest.skip("SLURM is not installed and installing it (apt-get) needs root")
    if shutil.which("apt-get") is None:
        pytest.skip("SLURM is not installed and apt-get is not available to install slurm-wlm and munge")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "slurm-wlm", "munge"]):
        result = _run(command, 900, env=env)
        if result.returncode != 0:
            pytest.skip(f"`{' '.join(command)}` failed (exit {result.returncode}): {_tail(result.stderr, 3)}")
    missing = [tool for tool in SLURM_TOOLS if not shutil.which(tool)]
    assert not missing, f"apt-get installed slurm-wlm and munge, but these are still missing: {missing}"


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running single-node cluster; its daemons are stopped and /etc/slurm restored afterwards, even on failure."""
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="snakemake-executor-plugin-slurm not installed")
    if os.geteuid() != 0:
        pytest.skip("starting the SLURM daemons (slurmctld/slurmd as SlurmUser=root) needs root")
    ensure_slurm_installed()
    state = tmp_path_factory.mktemp("slurm-state")
    env = {**os.environ, "PLUS_SLURM_DIR": str(state)}
    try:
        started = _run(["bash", str(HARNESS / "start_cluster.sh")], 120, env=env)
        assert started.returncode == 0, f"start_cluster.sh failed:\n{started.stdout}\n{started.stderr}"
        yield state
    finally:
        stopped = _run(["bash", str(HARNESS / "stop_cluster.sh")], 60, env=env)
        assert stopped.returncode == 0, f"stop_cluster.sh failed:\n{stopped.stdout}\n{stopped.stderr}"


def snakemake(workdir: Path, *args: str, timeout_s: int) -> subprocess.CompletedProcess[str]:
    """Run snakemake in `workdir` with this interpreter; its directory goes first on PATH (for `plus`)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env = {key: value for key, value in env.items() if not key.startswith(("SLURM_", "SNAKEMAKE_PROFILE"))}
    return _run([sys.executable, "-m", "snakemake", *args], timeout_s, cwd=workdir, env=env)


def main_log(workdir: Path) -> str:
    """Text of the newest snakemake log of a run in `workdir`."""
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"), key=lambda path: path.stat().st_mtime)
    assert logs, f"no snakemake log in {workdir}/.snakemake/log"
    return logs[-1].read_text()


def scheduled_jobs(log: str) -> dict[int, tuple[str, bool]]:
    """Snakemake job id -> (rule, ran locally) for every job the run scheduled."""
    jobs: dict[int, tuple[str, bool]] = {}
    header: tuple[str, bool] | None = None
    for line in log.splitlines():
        if match := JOB_HEADER.match(line):
            header = (match.group(2), bool(match.group(1)))
        elif header and (match := JOB_ID.match(line)):
            jobs[int(match.group(1))] = header
            header = None
    return jobs


def slurm_submissions(log: str) -> dict[int, tuple[str, Path]]:
    """Snakemake job id -> (SLURM job id, SLURM log file) for every job submitted with sbatch."""
    return {int(job): (slurm_id, Path(logfile)) for job, slurm_id, logfile in SUBMITTED.findall(log)}


def slurm_job_record(slurm_id: str) -> dict[str, str]:
    """`scontrol show job` as key=value pairs (finished jobs stay listed for MinJobAge seconds)."""
    result = _run(["scontrol", "show", "job", "--oneliner", slurm_id], 30)
    assert result.returncode == 0, f"scontrol show job {slurm_id}: {result.stderr}"
    return dict(field.split("=", 1) for field in result.stdout.split() if "=" in field)


def assert_every_remote_job_went_through_sbatch(workdir: Path) -> dict[int, tuple[str, Path]]:
    """Each non-local job has its own SLURM job id, its SLURM log, and SLURM recorded it as COMPLETED."""
    log = main_log(workdir)
    jobs = scheduled_jobs(log)
    remote = {job for job, (_, local) in jobs.items() if not local}
    submissions = slurm_submissions(log)
    assert remote, "the run scheduled no non-local job"
    assert set(submissions) == remote, (
        f"jobs scheduled for SLURM {sorted(remote)} != jobs submitted with sbatch {sorted(submissions)}"
    )
    slurm_ids = [slurm_id for slurm_id, _ in submissions.values()]
    assert len(set(slurm_ids)) == len(remote), f"SLURM job ids are not distinct: {slurm_ids}"
    for job, (slurm_id, logfile) in submissions.items():
        rule = jobs[job][0]
        assert logfile.name == f"{slurm_id}.log" and f"rule_{rule}" in logfile.parts, logfile
        assert (workdir / logfile).is_file() or logfile.is_file(), f"SLURM log of job {slurm_id} missing: {logfile}"
        record = slurm_job_record(slurm_id)
        assert record["JobState"] == "COMPLETED", f"SLURM job {slurm_id} ({rule}): {record['JobState']}"
        assert record["Comment"].startswith(f"rule_{rule}"), record["Comment"]
    return submissions


TOY_SNAKEFILE = """
localrules: all, summarize

rule all:
    input: "results/summary.txt", "results/devices/toy.json"

rule make:
    output: "results/{part}.txt"
    shell: "echo {wildcards.part} ${{SLURM_JOB_ID:-none}} > {output}"

rule gpu_job:
    output: "results/gpu.txt"
    resources: gpu=1
    shell: "echo ${{SLURM_JOB_ID:-none}} ${{CUDA_VISIBLE_DEVICES:-none}} > {output}"

rule summarize:
    input: "results/a.txt", "results/b.txt", "results/gpu.txt"
    output: "results/summary.txt"
    shell: "cat {input} > {output}"

include: "GPU_SMOKE_RULES"
"""


def test_toy_workflow_runs_every_job_through_sbatch_with_fake_gpus(slurm_cluster: Path, tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(
        TOY_SNAKEFILE.replace("GPU_SMOKE_RULES", str(REPO / "workflow" / "rules" / "gpu_smoke.smk"))
    )
    result = snakemake(tmp_path, "--profile", str(PROFILE), timeout_s=300)
    assert result.returncode == 0, f"snakemake failed:\n{_tail(result.stderr, 40)}"

    submissions = assert_every_remote_job_went_through_sbatch(tmp_path)
    slurm_ids = {slurm_id for slurm_id, _ in submissions.values()}
    assert len(submissions) == 4  # make a, make b, gpu_job, gpu_smoke; all and summarize are local
    lines = (tmp_path / "results" / "summary.txt").read_text().split("\n")
    part_a, part_b, gpu = (line.split() for line in lines[:3])
    assert part_a[1] in slurm_ids and part_b[1] in slurm_ids and part_a[1] != part_b[1]
    assert gpu[0] in slurm_ids and gpu[1] == "0", f"GPU job saw CUDA_VISIBLE_DEVICES={gpu[1]}"
    gpu_record = slurm_job_record(gpu[0])
    assert gpu_record.get("TresPerJob") == "gres:gpu:1", gpu_record  # the plugin asked sbatch for --gpus=1

    devices = json.loads((tmp_path / "results" / "devices" / "toy.json").read_text())
    assert devices["slurm"]["SLURM_JOB_ID"] in slurm_ids
    assert devices["cuda_visible_devices"] == "0"
    assert isinstance(devices["torch"]["device_count"], int)
