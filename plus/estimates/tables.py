"""The run plan as pandas tables: one row per job, and totals per stage (rule) and per model."""

from __future__ import annotations

import pandas as pd

from plus.estimates.run import GPU_RULES, RULE_ORDER, JobEstimate

JOB_COLUMNS = (
    "rule",
    "model",
    "task",
    "seed",
    "preset",
    "planned",
    "residues",
    "device_class",
    "hours",
    "missing",
    "attempts",
    "resubmissions",
    "runtime_minutes",
    "reference_class",
    "reference_hours",
    "note",
)


def jobs_frame(jobs: list[JobEstimate]) -> pd.DataFrame:
    """One row per job; hours and attempts are NaN where unknown (`missing` says why)."""
    rows = []
    for job in jobs:
        rows.append(
            {
                "rule": job.rule,
                "model": job.model,
                "task": job.task,
                "seed": job.seed,
                "preset": job.preset,
                "planned": bool(job.work.passes),
                "residues": job.work.residues,
                "device_class": job.device.device_class if job.device else None,
                "hours": job.device.hours if job.device else None,
                "missing": job.device.missing if job.device else None,
                "attempts": job.attempts,
                "resubmissions": None if job.attempts is None else job.attempts - 1,
                "runtime_minutes": list(job.runtime_minutes),
                "reference_class": job.reference.device_class if job.reference else None,
                "reference_hours": job.reference.hours if job.reference else None,
                "note": job.note,
            }
        )
    return pd.DataFrame(rows, columns=list(JOB_COLUMNS))


def _summarise(group: pd.DataFrame) -> dict[str, object]:
    planned = group[group["planned"]]
    timed = group[group["device_class"].notna()]
    classes = timed["device_class"].dropna().unique().tolist()
    return {
        "jobs": len(group),
        "residues": float(planned["residues"].sum()),
        "residues_unknown": int(planned["residues"].isna().sum()),
        "planned_jobs": len(planned),
        "device_class": classes[0] if len(classes) == 1 else None,
        "hours": float(timed["hours"].sum()),
        "hours_unknown": int(timed["hours"].isna().sum()),
        "timed_jobs": len(timed),
        "resubmissions": int(timed["resubmissions"].sum()),
        "resubmissions_unknown": int(timed["resubmissions"].isna().sum()),
        "reference_hours": float(timed["reference_hours"].sum()),
        "reference_unknown": int(timed["reference_hours"].isna().sum()),
    }


def totals_by_rule(frame: pd.DataFrame) -> pd.DataFrame:
    """A row per rule in DAG order, then `total (GPU rules)`: the jobs on the chosen device class."""
    rows = [
        {"rule": rule, **_summarise(frame[frame["rule"] == rule])} for rule in RULE_ORDER if rule in set(frame["rule"])
    ]
    gpu = frame[frame["rule"].isin(GPU_RULES)]
    rows.append({"rule": "total (GPU rules)", **_summarise(gpu)})
    return pd.DataFrame(rows)


def totals_by_model(frame: pd.DataFrame) -> pd.DataFrame:
    """A row per model (its pretraining, fine-tuning and evaluation jobs), then the total over the models."""
    per_model = frame[frame["model"].notna()]
    models = list(dict.fromkeys(per_model["model"]))
    rows = [{"model": model, **_summarise(per_model[per_model["model"] == model])} for model in models]
    rows.append({"model": "total", **_summarise(per_model)})
    return pd.DataFrame(rows)
