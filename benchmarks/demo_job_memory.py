"""Peak memory of every kind of demo job, before and after a change, from Snakemake's benchmark files.

`compare BEFORE AFTER` reads the benchmark TSVs (`results/benchmarks/<rule>/.../*.tsv`, written by every rule's
`benchmark:` directive) under two results directories and prints one JSON line per rule: the jobs measured, the
median and largest max_rss (MiB) before and after, and the job with the largest. A rule missing from one side
has null there (e.g. an AFTER directory holding only the jobs re-run by hand).

`run --tsv FILE -- COMMAND...` runs one job's command and writes its benchmark TSV the way Snakemake would name
it, so a job re-run by hand can be compared with a whole demo run. Its max_rss is the exact peak RSS of the
largest process of the command (getrusage); Snakemake samples the process tree's summed RSS every few seconds,
so for a one-process job (every demo job) it reads the same or a little lower. Prints the job's JSON line with
the machine's load beside it.

    python benchmarks/demo_job_memory.py run --tsv /tmp/after/benchmarks/finetune/m/homology/seed0.tsv -- \\
        plus finetune --settings settings.json --data results/tasks/homology --out /tmp/after/ft ...
    python benchmarks/demo_job_memory.py compare results /tmp/after
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from machine_load import LoadWatch, stamp

COLUMNS = ("s", "h:m:s", "max_rss", "cpu_time")


def benchmark_dir(results: Path) -> Path:
    """The benchmark folder of a results directory (or the folder itself when given one)."""
    nested = results / "benchmarks"
    return nested if nested.is_dir() else results


def read_column(path: Path, column: str = "max_rss") -> float | None:
    """A column (max_rss: MiB; s: wall seconds) of a benchmark TSV's last row; None when it has no usable value."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    header, row = lines[0].split("\t"), lines[-1].split("\t")
    if column not in header:
        return None
    try:
        return float(row[header.index(column)])
    except (IndexError, ValueError):
        return None


def jobs_by_rule(results: Path, column: str = "max_rss") -> dict[str, dict[str, float]]:
    """{rule: {job: value of `column`}} of every benchmark TSV (the rule is the first folder, or the file's stem)."""
    root = benchmark_dir(results)
    rules: dict[str, dict[str, float]] = {}
    for path in sorted(root.rglob("*.tsv")):
        relative = path.relative_to(root)
        rule = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        value = read_column(path, column)
        if value is not None:
            rules.setdefault(rule, {})[str(relative.with_suffix(""))] = value
    return rules


def summary(jobs: dict[str, float] | None) -> dict[str, Any] | None:
    """Jobs, median and largest max_rss of one rule's jobs, and the largest job."""
    if not jobs:
        return None
    largest = max(jobs, key=jobs.__getitem__)
    return {
        "jobs": len(jobs),
        "median_max_rss_mib": round(statistics.median(jobs.values()), 1),
        "max_max_rss_mib": round(jobs[largest], 1),
        "largest_job": largest,
    }


def compare(before: Path, after: Path) -> list[dict[str, Any]]:
    """One record per rule found on either side: before and after summaries, and the change of the medians."""
    old, new = jobs_by_rule(before), jobs_by_rule(after)
    records = []
    for rule in sorted(set(old) | set(new)):
        first, second = summary(old.get(rule)), summary(new.get(rule))
        change = None
        if first and second:
            change = round(second["median_max_rss_mib"] - first["median_max_rss_mib"], 1)
        records.append({"rule": rule, "before": first, "after": second, "median_change_mib": change})
    return records


def run(tsv: Path, command: list[str]) -> dict[str, Any]:
    """Run `command`, write its benchmark TSV to `tsv`, return its record; exits with the command's status."""
    watch = LoadWatch()
    start = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(code)
    max_rss = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    clock = time.strftime("%H:%M:%S", time.gmtime(seconds))
    tsv.parent.mkdir(parents=True, exist_ok=True)
    row = (f"{seconds:.2f}", clock, f"{max_rss:.2f}", f"{cpu:.2f}")
    tsv.write_text("\t".join(COLUMNS) + "\n" + "\t".join(row) + "\n")
    figure = {"tsv": str(tsv), "seconds": round(seconds, 2), "max_rss_mib": round(max_rss, 1), "cpu_s": round(cpu, 2)}
    return stamp(figure, watch)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="action", required=True)
    both = commands.add_parser("compare", help="median max_rss per rule of two results directories")
    both.add_argument("before", type=Path)
    both.add_argument("after", type=Path)
    one = commands.add_parser("run", help="run one job's command and write its benchmark TSV")
    one.add_argument("--tsv", type=Path, required=True)
    one.add_argument("command", nargs=argparse.REMAINDER)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.action == "compare":
        for record in compare(args.before, args.after):
            print(json.dumps(record))
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("run: give the job's command after --", file=sys.stderr)
        return 2
    print(json.dumps(run(args.tsv, command)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
