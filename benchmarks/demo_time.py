"""Wall time and CPU time of a whole workflow run (the demo by default), and where the CPU goes by rule.

Copies the workflow files into a scratch directory, runs `snakemake --cores N` there (with any `--configfile`),
and prints ONE JSON line with the machine's load beside it:
- `wall_s`, and `cpu_s`: user + system seconds of snakemake and every job it ran (getrusage of the children);
  `cpu_s / wall_s` near the cores given means the cores were busy all along;
- `jobs` and, per rule, its jobs and their summed wall seconds from Snakemake's benchmark files;
- with `--startup-repeats R > 0`, the median seconds of importing what a finetune, pretrain, evaluate and report
  job imports (benchmarks/job_startup.py, same run) and `startup_s_estimate`: those times the rule's job count,
  the part of the run every job pays before it computes anything.

    python benchmarks/demo_time.py --cores 2 --startup-repeats 3
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from demo_job_memory import jobs_by_rule
from job_startup import import_seconds
from machine_load import LoadWatch, stamp

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "envs", "slurm", "profiles")
# What each rule's command imports before its work (the modules of job_startup.py)
RULE_IMPORTS = {
    "finetune": "plus.training.finetune",
    "pretrain": "plus.training.pretrain",
    "probe": "plus.training.probe",
    "evaluate": "plus.inference.evaluate",
    "report": "plus.report.build",
}


def rule_walls(benchmarks: Path) -> dict[str, dict[str, float]]:
    """{rule: {"jobs": n, "wall_s": summed `s`}} of the benchmark TSVs under `benchmarks`."""
    return {
        rule: {"jobs": len(jobs), "wall_s": round(sum(jobs.values()), 2)}
        for rule, jobs in jobs_by_rule(benchmarks, "s").items()
    }


def children_cpu_s() -> float:
    """User + system seconds of every waited-for child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_workflow(workdir: Path, cores: int, configfiles: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of `snakemake --cores` in `workdir`; exits with snakemake's status if it fails."""
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "-q"]
    if configfiles:
        command += ["--configfile", *configfiles]
    cpu, start = children_cpu_s(), time.perf_counter()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        print(result.stdout[-2000:] + result.stderr[-2000:], file=sys.stderr)
        raise SystemExit(result.returncode)
    return wall, children_cpu_s() - cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", nargs="*", default=[], help="config files (default: the demo's)")
    parser.add_argument("--startup-repeats", type=int, default=0, help="time each rule's imports this many times")
    parser.add_argument("--workdir", type=Path, help="run here (kept) instead of in a removed scratch directory")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="demo_time_"))
    workdir.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source, target = ROOT / name, workdir / name
        shutil.copytree(source, target, dirs_exist_ok=True) if source.is_dir() else shutil.copy2(source, target)
    watch = LoadWatch()
    wall, cpu = run_workflow(workdir, args.cores, [str(Path(path).resolve()) for path in args.configfile])
    rules = rule_walls(workdir / "results" / "benchmarks")
    result: dict[str, Any] = {
        "cores": args.cores,
        "configfiles": args.configfile,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpu_per_wall": round(cpu / wall, 2),
        "jobs": sum(int(entry["jobs"]) for entry in rules.values()),
        "rules": rules,
    }
    if args.startup_repeats > 0:
        imports = {
            rule: round(statistics.median(import_seconds(module) for _ in range(args.startup_repeats)), 2)
            for rule, module in RULE_IMPORTS.items()
            if rule in rules
        }
        estimate = sum(imports[rule] * rules[rule]["jobs"] for rule in imports)
        result |= {"import_s": imports, "startup_s_estimate": round(estimate, 1)}
    if args.workdir is None:
        shutil.rmtree(workdir)
    print(json.dumps(stamp(result, watch)))


if __name__ == "__main__":
    main()
