"""The cost table and its summary paragraph: wall, CPU and GPU hours and peak memory per model and task."""

from __future__ import annotations

import math

import pandas as pd

from plus.report.collect import ReportData
from plus.report.cost import aggregate_costs
from plus.report.tables import task_label
from plus.report.writers import Stat, Table

STAGE_ORDER = {"pretraining": 0, "fine-tune + evaluate": 1, "shared": 2}


def _stat(value: float, digits: int = 3) -> Stat | None:
    return None if value is None or math.isnan(value) else Stat(float(value), digits=digits)


def cost_table(data: ReportData) -> Table:
    """One row per model stage: pretraining, fine-tune + evaluate per task (seeds summed), shared jobs."""
    table = Table(
        "cost",
        "Cost per model and task from the jobs' Snakemake benchmark files",
        {
            "Model": "text",
            "Stage": "text",
            "Task": "text",
            "Jobs": "text",
            "Attempts": "text",
            "Wall h": "scalar",
            "CPU h": "scalar",
            "GPU h": "scalar",
            "Peak RSS GB": "scalar",
        },
    )
    aggregated = aggregate_costs(data.costs)
    if not aggregated.empty:
        order = {name: index for index, name in enumerate(data.models)}
        aggregated = aggregated.assign(
            _model=aggregated["model"].map(lambda m: order.get(m, len(order))),
            _stage=aggregated["stage"].map(STAGE_ORDER),
        ).sort_values(["_model", "_stage", "task"], kind="stable")
    for row in aggregated.itertuples():
        table.rows.append(
            {
                "Model": data.models[row.model].label if row.model in data.models else row.model,
                "Stage": row.stage,
                "Task": task_label(row.task) if row.task != "—" else "—",
                "Jobs": str(row.jobs),
                "Attempts": str(row.attempts),
                "Wall h": _stat(row.wall_h),
                "CPU h": _stat(row.cpu_h),
                "GPU h": _stat(row.gpu_h),
                "Peak RSS GB": _stat(row.peak_rss_gb, 2),
            }
        )
    gpus = ", ".join(f"{rule} {count:g}" for rule, count in sorted(data.gpus_per_rule.items())) or "none given"
    table.notes = [
        "Wall and CPU hours: Snakemake's `s` and `cpu_time`, summed over jobs (fine-tune + evaluate: over seeds); "
        "peak RSS: the largest `max_rss` of those jobs.",
        f"GPU h = wall h x GPUs requested by the job's rule (GPUs per rule: {gpus}; other rules count 0): what a "
        "cluster allocates to the job; a run on a machine without GPUs used none.",
        "Attempts: the runs of the jobs, resumed or retried ones included; the earlier attempts of a training job "
        "(its checkpoint directory's attempts.tsv) are added to its wall, CPU and GPU hours, as Snakemake's "
        "benchmark file keeps only the last.",
    ]
    if data.costs.empty:
        table.notes.append("No benchmark files were given.")
    return table


def cost_paragraph(data: ReportData) -> list[str]:
    """Totals and the most expensive stage, in words."""
    costs = data.costs
    if costs.empty:
        return ["No benchmark files were given, so no cost is reported."]
    total_wall = costs["wall_s"].sum() / 3600
    total_cpu = costs["cpu_s"].sum(min_count=1) / 3600
    total_gpu = costs["gpu_s"].sum() / 3600
    peak = costs["max_rss_mb"].max() / 1024
    aggregated = aggregate_costs(costs)
    top = aggregated.sort_values("wall_h", ascending=False).iloc[0]
    label = data.models[top["model"]].label if top["model"] in data.models else top["model"]
    where = f"{label} {top['stage']}" + (f" on {task_label(top['task'])}" if top["task"] != "—" else "")
    cpu = "n/a" if pd.isna(total_cpu) else f"{total_cpu:.2f}"
    return [
        f"{len(costs)} jobs took {total_wall:.2f} wall hours and {cpu} CPU hours, and held {total_gpu:.2f} GPU hours "
        f"(wall x the GPUs their rules request; on a machine without GPUs, none were used) in total; the largest "
        f"job peaked at {peak:.2f} GB resident. The most expensive stage was {where} "
        f"({top['wall_h']:.2f} wall hours over {top['jobs']} job{'s' if top['jobs'] != 1 else ''})."
    ]
