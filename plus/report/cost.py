"""What each model and task cost: wall time, CPU and GPU hours and peak memory, from Snakemake benchmark files.

A benchmark file (`results/benchmarks/{rule}/.../{name}.tsv`) has one row per repeat with columns `s`, `h:m:s`,
`max_rss`, `max_vms`, `max_uss`, `max_pss` (MB), `io_in`, `io_out`, `mean_load`, `cpu_time` (s); repeats are
averaged. Its path names the job: the first directory under `benchmarks/` is the rule, and any path part (or the
file stem) equal to a model or task name, or of the form `seed{n}`, names the model, task and seed. Jobs with a
model and no task are that model's pretraining; with a model and a task, its fine-tuning and evaluation (summed
over seeds); with neither, data preparation and reporting shared by all models.
GPU hours = wall hours x the GPUs the rule requested (`gpus_per_rule`; a rule not listed counts 0).

A benchmark file measures only the invocation that finished the job: a job resumed by a later invocation (or
retried) overwrites the file of its earlier attempts. Training jobs record every attempt in
`<checkpoints dir>/<the benchmark file's path under benchmarks/, without .tsv>/attempts.tsv`
(plus.training.attempts); the attempts other than the last finished one are added to the job's wall, CPU and GPU
time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from plus.errors import InputError
from plus.training.attempts import ATTEMPTS, read_attempts

BENCHMARK_COLUMNS = ("s", "max_rss", "cpu_time")
COST_COLUMNS = ("rule", "model", "task", "seed", "file", "attempts", "wall_s", "cpu_s", "gpu_s", "max_rss_mb")
_SEED = re.compile(r"seed(\d+)")


def empty_costs() -> pd.DataFrame:
    return pd.DataFrame(columns=list(COST_COLUMNS))


def read_benchmark(path: Path) -> dict[str, float]:
    """Wall seconds, CPU seconds (mean over repeats) and peak resident MB (max over repeats) of one job."""
    if not path.is_file():
        raise InputError(f"{path}: benchmark file not found")
    try:
        table = pd.read_csv(path, sep="\t")
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as error:
        raise InputError(f"{path}: not a Snakemake benchmark TSV: {error}") from error
    missing = [c for c in BENCHMARK_COLUMNS if c not in table.columns]
    if missing or table.empty:
        raise InputError(f"{path}: benchmark file lacks columns {missing or 'and rows'} (expected {BENCHMARK_COLUMNS})")
    values = {c: pd.to_numeric(table[c], errors="coerce") for c in BENCHMARK_COLUMNS}
    if values["s"].isna().any():
        raise InputError(f"{path}: column 's' (wall seconds) is not a number")
    return {
        "wall_s": float(values["s"].mean()),
        "cpu_s": float(values["cpu_time"].mean()) if values["cpu_time"].notna().any() else math.nan,
        "max_rss_mb": float(values["max_rss"].max()) if values["max_rss"].notna().any() else math.nan,
    }


def _benchmark_parts(path: Path) -> list[str]:
    """The parts of a benchmark file's path under `benchmarks/` (all of it when there is no such directory)."""
    parts = list(path.parts)
    start = max((i for i, p in enumerate(parts) if p == "benchmarks"), default=len(parts) - 2) + 1
    return parts[start:]


def earlier_attempts(path: Path, checkpoints_dir: Path | None) -> tuple[int, float, float]:
    """(attempts, wall s, CPU s) of a job's attempts that its benchmark file does not measure: every recorded
    attempt but the last finished one."""
    if checkpoints_dir is None:
        return 1, 0.0, 0.0
    parts = _benchmark_parts(path)
    attempts = read_attempts(Path(checkpoints_dir).joinpath(*parts[:-1], Path(parts[-1]).stem, ATTEMPTS))
    if attempts.empty:
        return 1, 0.0, 0.0
    finished = [index for index, status in enumerate(attempts["status"]) if status == "finished"]
    if finished:
        attempts = attempts.drop(index=attempts.index[finished[-1]])
    wall = float(pd.to_numeric(attempts["wall_s"], errors="coerce").fillna(0).sum())
    cpu = float(pd.to_numeric(attempts["cpu_s"], errors="coerce").fillna(0).sum())
    return len(attempts) + 1, wall, cpu


def job_of(path: Path, models: Iterable[str], tasks: Iterable[str]) -> tuple[str, str | None, str | None, int | None]:
    """(rule, model, task, seed) named by a benchmark file's path."""
    names = [*_benchmark_parts(path)[:-1], path.stem]
    rule = names[0] if len(names) > 1 else path.stem
    models, tasks = set(models), set(tasks)
    model = next((n for n in names[1:] if n in models), None) or (path.stem if path.stem in models else None)
    task = next((n for n in names[1:] if n in tasks), None)
    seed = next((int(m.group(1)) for n in names if (m := _SEED.fullmatch(n))), None)
    return rule, model, task, seed


def collect_costs(
    paths: Sequence[Path],
    models: Iterable[str],
    tasks: Iterable[str],
    gpus_per_rule: Mapping[str, float] | None,
    checkpoints_dir: Path | None = None,
) -> pd.DataFrame:
    """One row per benchmark file: COST_COLUMNS, earlier attempts recorded under `checkpoints_dir` included."""
    gpus = dict(gpus_per_rule or {})
    models, tasks = list(models), list(tasks)
    rows = []
    for path in map(Path, paths):
        rule, model, task, seed = job_of(path, models, tasks)
        measured = read_benchmark(path)
        attempts, extra_wall, extra_cpu = earlier_attempts(path, checkpoints_dir)
        wall = measured["wall_s"] + extra_wall
        gpu_count = float(gpus.get(rule, 0))
        rows.append(
            {
                "rule": rule,
                "model": model,
                "task": task,
                "seed": seed,
                "file": str(path),
                "attempts": attempts,
                "wall_s": wall,
                "cpu_s": measured["cpu_s"] + extra_cpu,
                "gpu_s": wall * gpu_count,
                "max_rss_mb": measured["max_rss_mb"],
            }
        )
    return pd.DataFrame(rows, columns=list(COST_COLUMNS)) if rows else empty_costs()


def aggregate_costs(costs: pd.DataFrame) -> pd.DataFrame:
    """Per (model, stage, task): jobs, attempts, wall/CPU/GPU hours (summed) and peak RSS in GB (max)."""
    if costs.empty:
        columns = ["model", "stage", "task", "jobs", "attempts", "wall_h", "cpu_h", "gpu_h", "peak_rss_gb"]
        return pd.DataFrame(columns=columns)
    frame = costs.copy()
    frame["stage"] = np.where(
        frame["model"].isna(), "shared", np.where(frame["task"].isna(), "pretraining", "fine-tune + evaluate")
    )
    frame["model"] = frame["model"].fillna("—")
    frame["task"] = frame["task"].fillna("—")
    grouped = frame.groupby(["model", "stage", "task"], sort=False)
    out = grouped.agg(
        jobs=("file", "size"),
        attempts=("attempts", "sum"),
        wall_h=("wall_s", lambda v: v.sum() / 3600),
        cpu_h=("cpu_s", lambda v: v.sum(min_count=1) / 3600),
        gpu_h=("gpu_s", lambda v: v.sum() / 3600),
        peak_rss_gb=("max_rss_mb", lambda v: v.max() / 1024),
    )
    return out.reset_index()
