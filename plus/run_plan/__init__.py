"""The run plan of a workflow config: residues per job, hours from measured throughput, SLURM attempts and runtimes.

`plus plan` prints it; the workflow asks `RunPlan.runtime_minutes(rule, attempt, ...)` and `RunPlan.retries(rule)`
for its SLURM requests (docs/cluster.md, "Runtimes from the run plan").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plus.jobs import WorkflowPlan
from plus.run_plan.plan import RunPlan
from plus.run_plan.reference import load_throughput
from plus.run_plan.settings import PlanSettings, parse_duration
from plus.settings import parse_settings

__all__ = ["PlanSettings", "RunPlan", "build_run_plan", "parse_duration"]


def build_run_plan(
    workflow: WorkflowPlan,
    settings: PlanSettings | Mapping[str, Any] | None = None,
    results: str | Path = "results",
    throughput: str | Path | None = None,
) -> RunPlan:
    """A RunPlan of `workflow` (plus.jobs.plan_workflow) with plan settings, a results dir and extra throughput."""
    if not isinstance(settings, PlanSettings):
        settings = parse_settings(PlanSettings, dict(settings or {}), "plan")
    return RunPlan(workflow, settings, results, load_throughput(throughput))
