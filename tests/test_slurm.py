"""The workflow on a real single-node SLURM cluster (Debian's slurm-wlm, fake GPUs), started and stopped here.

Needs root (apt and the daemons); installs slurm-wlm and munge with apt where they are missing, and is skipped,
with the reason, where that is impossible. Every non-local job must go through sbatch, and the results must equal
those of a local run of the same (reduced) demo.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from workflow_helpers import copy_workflow

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


def _start(command: list[str], timeout_s: int, output: Path, **kwargs) -> subprocess.Popen[bytes]:
    """Start a command as `_run` runs it, without waiting, its stdout and stderr going to the file `output`."""
    with output.open("wb") as handle:
        return subprocess.Popen(
            ["timeout", "-k", "15", str(timeout_s), *command], stdout=handle, stderr=subprocess.STDOUT, **kwargs
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


def _snakemake_env() -> dict[str, str]:
    """This environment with this interpreter's directory first on PATH (for `plus`), and no SLURM job's variables."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return {key: value for key, value in env.items() if not key.startswith(("SLURM_", "SNAKEMAKE_PROFILE"))}


def snakemake(workdir: Path, *args: str, timeout_s: int) -> subprocess.CompletedProcess[str]:
    """Run snakemake in `workdir` with this interpreter."""
    return _run([sys.executable, "-m", "snakemake", *args], timeout_s, cwd=workdir, env=_snakemake_env())


def start_snakemake(workdir: Path, *args: str, timeout_s: int, output: Path) -> subprocess.Popen[bytes]:
    """Start snakemake in `workdir` as `snakemake` runs it, without waiting for it; its output goes to `output`."""
    command = [sys.executable, "-m", "snakemake", *args]
    return _start(command, timeout_s, output, cwd=workdir, env=_snakemake_env())


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
        logfile = logfile if logfile.is_absolute() else workdir / logfile
        assert logfile.is_file(), f"SLURM log of job {slurm_id} missing: {logfile}"
        assert f"Finished jobid: 0 (Rule: {rule})" in logfile.read_text(), (
            f"{rule} did not finish in SLURM job {slurm_id}"
        )
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
    # SLURM sets CUDA_VISIBLE_DEVICES to the one GPU it allocated; which of the node's GPUs that is, it does not say
    assert gpu[0] in slurm_ids and gpu[1].isdigit(), f"GPU job saw CUDA_VISIBLE_DEVICES={gpu[1]}"
    gpu_record = slurm_job_record(gpu[0])
    assert gpu_record.get("TresPerJob") == "gres:gpu:1", gpu_record  # the plugin asked sbatch for --gpus=1

    devices = json.loads((tmp_path / "results" / "devices" / "toy.json").read_text())
    assert devices["slurm"]["SLURM_JOB_ID"] in slurm_ids
    assert str(devices["cuda_visible_devices"]).isdigit()  # one GPU, whichever SLURM allocated
    assert isinstance(devices["torch"]["device_count"], int)


DEMO_MODELS = ("plus-rnn-tiny", "rnn-tiny-nopretrain")
DEMO_TASKS = ("solubility", "secstr")
# On the command line these replace the profile's set-threads; align_task's must fit the test node's 2 CPUs
DEMO_THREADS = ("--set-threads", "pretrain=1", "finetune=1", "evaluate=1", "align_task=2")


def reduced_demo_config() -> dict:
    """config/config.yaml cut to 2 models x 2 tasks with short fine-tuning.

    The PLUS model pretrains for 2000 steps (2-3 min uninterrupted at 10-18 steps/s on the 2-core test machine),
    long enough that on the cluster its first attempt, given 1 minute, is ended by SLURM (at 60-90 s: slurmctld
    checks time limits every 30 s) and its retry must resume; the other model is not pretrained.
    """
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["models"] = {name: config["models"][name] for name in DEMO_MODELS}
    config["tasks"] = {name: config["tasks"][name] for name in DEMO_TASKS}
    config["pretrain"].update(max_steps=30, val_every_n_steps=10, checkpoint_every_n_steps=10, max_val_pairs=100)
    config["models"][DEMO_MODELS[0]]["pretrain"] = {"max_steps": 2000, "checkpoint_every_n_steps": 20}
    config["finetune"].update(max_epochs=1, max_steps=20)
    return config


def demo_checkout(where: Path, config: dict) -> Path:
    """A copy of the workflow whose default config is `config`, so local and SLURM runs use the same command."""
    copy_workflow(where)
    (where / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return where


def metrics_files(workdir: Path) -> dict[str, dict]:
    """Every pretraining and evaluation metrics.json of a run, by path relative to the run."""
    found = sorted((workdir / "results").glob("pretrain/*/metrics.json"))
    found += sorted((workdir / "results").glob("evaluate/*/*/seed*/metrics.json"))
    return {str(path.relative_to(workdir)): json.loads(path.read_text()) for path in found}


def differences(local: object, cluster: object, where: str = "") -> list[str]:
    """Where two JSON values differ: exactly for strings, ints and structure, within 1e-9 for floats."""
    if isinstance(local, dict) and isinstance(cluster, dict):
        if set(local) != set(cluster):
            return [f"{where}: keys {sorted(local)} != {sorted(cluster)}"]
        return [line for key in local for line in differences(local[key], cluster[key], f"{where}.{key}")]
    if isinstance(local, list) and isinstance(cluster, list) and len(local) == len(cluster):
        return [
            line
            for i, pair in enumerate(zip(local, cluster, strict=True))
            for line in differences(*pair, f"{where}[{i}]")
        ]
    if isinstance(local, float) and isinstance(cluster, float):
        same = math.isclose(local, cluster, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(local) and math.isnan(cluster))
        return [] if same else [f"{where}: {local!r} != {cluster!r}"]
    return [] if local == cluster else [f"{where}: {local!r} != {cluster!r}"]


def test_reduced_demo_through_slurm_equals_local_run(slurm_cluster: Path, tmp_path: Path) -> None:
    """Every job through sbatch with GPUs requested; a pretraining job that hits its time limit is retried with
    more runtime and resumes from its checkpoint; and the results equal those of a local run bit for bit."""
    local = demo_checkout(tmp_path / "local", reduced_demo_config())
    cluster = demo_checkout(tmp_path / "slurm", reduced_demo_config())
    # the local run alongside the cluster's, which mostly waits on sbatch and status checks
    local_output = tmp_path / "local.out"
    local_run = start_snakemake(local, "--cores", "2", *DEMO_THREADS, timeout_s=1200, output=local_output)
    try:
        result = snakemake(
            cluster,
            "--profile",
            str(PROFILE),
            *DEMO_THREADS,
            "--retries",
            "1",
            "--set-resources",
            "pretrain:runtime=20 * attempt - 19",
            "pretrain:mem_mb=3000",
            "pretrain:gpu=1",
            timeout_s=1200,
        )
        local_run.wait(timeout=1300)
    finally:
        if local_run.poll() is None:
            local_run.terminate()  # `timeout` passes it on to snakemake
            local_run.wait()
    assert local_run.returncode == 0, f"local run failed:\n{_tail(local_output.read_text(), 40)}"
    assert result.returncode == 0, f"SLURM run failed:\n{_tail(result.stderr, 40)}"

    submissions = assert_every_remote_job_went_through_sbatch(cluster)
    log = main_log(cluster)
    jobs = scheduled_jobs(log)
    submitted_rules = Counter(jobs[job][0] for job in submissions)
    n_models, n_tasks = len(DEMO_MODELS), len(DEMO_TASKS)
    assert submitted_rules == {
        "synthetic": 1,
        "prepare_pfam": 1,
        "import_task": n_tasks,
        "pretrain": 1,  # the other model is not pretrained: its initialisation is made where it is fine-tuned
        "finetune": n_models * n_tasks,
        "evaluate": n_models * n_tasks,
        "align_task": n_tasks,
        "audit_leakage": n_tasks,
        "alignment_baseline": n_tasks,
        "report": 1,
    }
    for job, (slurm_id, _) in submissions.items():
        if jobs[job][0] in ("pretrain", "finetune", "evaluate"):
            assert slurm_job_record(slurm_id).get("TresPerJob") == "gres:gpu:1", f"{jobs[job][0]} job {slurm_id}"

    attempts = [
        slurm_job_record(slurm_id)
        for _, slurm_id, logfile in SUBMITTED.findall(log)
        if {"rule_pretrain", DEMO_MODELS[0]} <= set(Path(logfile).parts)
    ]
    states = [record["JobState"] for record in attempts]
    assert states == ["TIMEOUT", "COMPLETED"], (
        f"pretrain attempts ended {states}; if the first COMPLETED, raise max_steps"
    )
    assert [record["TimeLimit"] for record in attempts] == ["00:01:00", "00:21:00"]
    assert "Trying to restart job" in log
    pretrain_log = (cluster / "logs" / "pretrain" / f"{DEMO_MODELS[0]}.log").read_text()
    assert "resuming from" in pretrain_log, _tail(pretrain_log)

    local_metrics, cluster_metrics = metrics_files(local), metrics_files(cluster)
    assert len(local_metrics) == 1 + n_models * n_tasks + n_tasks  # and the alignment baseline per task
    assert set(cluster_metrics) == set(local_metrics)
    assert cluster_metrics[f"results/pretrain/{DEMO_MODELS[0]}/metrics.json"]["steps"] == 2000
    mismatches = [
        line for path in local_metrics for line in differences(local_metrics[path], cluster_metrics[path], path)
    ]
    assert not mismatches, "SLURM results differ from the local run:\n" + "\n".join(mismatches)
    assert (cluster / "results" / "summary.md").is_file()


def test_pretraining_in_two_srun_tasks_trains_with_ddp(slurm_cluster: Path, tmp_path: Path) -> None:
    """A pretraining job given `mpi: srun` and 2 tasks per node is submitted with --ntasks-per-node=2; its command
    starts under srun in 2 processes, and Lightning trains with DDP across SLURM's processes (gloo: a CPU node)."""
    config = reduced_demo_config()
    model = DEMO_MODELS[0]
    config["models"] = {model: {**config["models"][model], "pretrain": {"max_steps": 40}}}
    workdir = demo_checkout(tmp_path / "ddp", config)
    result = snakemake(
        workdir,
        "--profile",
        str(PROFILE),
        *DEMO_THREADS,
        "--set-resources",
        "pretrain:mpi=srun",
        "pretrain:tasks_per_node=2",
        "pretrain:gpu=0",
        "pretrain:mem_mb=1500",
        "--",
        f"results/pretrain/{model}/model.pt",
        timeout_s=900,
    )
    assert result.returncode == 0, f"SLURM run failed:\n{_tail(result.stderr, 40)}"
    submissions = assert_every_remote_job_went_through_sbatch(workdir)
    jobs = scheduled_jobs(main_log(workdir))
    [slurm_id] = [slurm_id for job, (slurm_id, _) in submissions.items() if jobs[job][0] == "pretrain"]
    record = slurm_job_record(slurm_id)
    assert record.get("NumTasks") == "2", record
    pretrain_log = (workdir / "logs" / "pretrain" / f"{model}.log").read_text()
    for rank in (0, 1):
        assert f"GLOBAL_RANK: {rank}, MEMBER: {rank + 1}/2" in pretrain_log, _tail(pretrain_log, 40)
    assert "Starting with 2 processes" in pretrain_log
    metrics = json.loads((workdir / "results" / "pretrain" / model / "metrics.json").read_text())
    assert metrics["steps"] == 40
