"""The run estimate as text (tables on stdout) and as JSON: the report of `plus plan`."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from plus.estimates import slurm
from plus.estimates.estimate import NO_MEASUREMENT
from plus.estimates.run import JobEstimate, RunEstimate
from plus.estimates.tables import jobs_frame, totals_by_model, totals_by_rule

COUNTING = (
    "pretrain: steps (epochs x train sequences // batch_pairs, or ceil under last_batch keep, or max_steps) x "
    "batch_pairs x 2 sequences x mean "
    "length; + validations (every val_every_n_steps, max_val_pairs pairs) and the final test pairs, twice for "
    "MLM + SFP (masked and unmasked).",
    "finetune: at most max_epochs x the train split's residues (early stopping may end sooner); homology: all "
    "homology_epochs x pairs_per_epoch x 2 x mean length; + one validation pass per epoch.",
    "evaluate: the test splits' residues (homology: and the valid pairs, which fit the accuracy thresholds).",
    "Attempts: the attempts the estimate needs when each attempt but the last runs to the time limit and the next "
    "resumes from its checkpoint (estimate x margin + overhead per attempt).",
    "Runtime per attempt: what the rule asks for, attempt x its minutes in plus/estimates/requests.yaml (changed by "
    "the config's plan.requests), at most the time limit, for each attempt its retries allow; a job whose estimate "
    "those requests do not cover is listed under Warnings.",
)


def _si(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.0f}"


def _hours(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "unknown"
    if value < 0.01:
        return "<0.01"
    return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def requests_text(minutes: tuple[int, ...] | list[int]) -> str:
    """Runtime requests per attempt, runs of equal values folded: `48:00 x2, 12:30`."""
    parts: list[list[int]] = []
    for value in minutes:
        if parts and parts[-1][0] == value:
            parts[-1][1] += 1
        else:
            parts.append([value, 1])
    return ", ".join(_clock(v) + (f" x{n}" if n > 1 else "") for v, n in parts)


class Legend:
    """Numbered sources, in order of first use."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def refs(self, sources: list[str] | tuple[str, ...]) -> str:
        numbers = [self.numbers.setdefault(source, len(self.numbers) + 1) for source in dict.fromkeys(sources)]
        return ",".join(str(n) for n in numbers)

    def lines(self) -> list[str]:
        return [f"[{number}] {source}" for source, number in self.numbers.items()]


def _job_sources(job: JobEstimate) -> list[str]:
    sources = [source for item in job.work.passes for source in item.sources]
    for found in (job.device, job.reference):
        if found is not None:
            sources += list(found.sources)
    return sources


def _total_hours(row: pd.Series, column: str, unknown: str, why: str) -> str:
    if row["timed_jobs"] == 0:
        return "-"
    if row[unknown] == row["timed_jobs"]:
        return f"unknown ({why})"
    text = _hours(row[column])
    return f">= {text} ({row[unknown]} of {row['timed_jobs']} unknown)" if row[unknown] else text


def _residues_total(row: pd.Series) -> str:
    if row["planned_jobs"] == 0:
        return "-"
    if row["residues_unknown"] == row["planned_jobs"]:
        return "unknown"
    return _si(row["residues"]) + (f" (+{row['residues_unknown']} unknown)" if row["residues_unknown"] else "")


def _totals_text(frame: pd.DataFrame, key: str, device: str, reference: str) -> str:
    shown = pd.DataFrame(
        {
            key: frame[key],
            "jobs": frame["jobs"],
            "residues": [_residues_total(row) for _, row in frame.iterrows()],
            "hours": [_total_hours(row, "hours", "hours_unknown", NO_MEASUREMENT) for _, row in frame.iterrows()],
            "on": frame["device_class"].fillna("-"),
            "resubmissions": [
                "-" if row["timed_jobs"] == 0 else ("unknown" if row["resubmissions_unknown"] else row["resubmissions"])
                for _, row in frame.iterrows()
            ],
            f"{reference} h": [
                _total_hours(row, "reference_hours", "reference_unknown", f"not measured on {reference}")
                for _, row in frame.iterrows()
            ],
        }
    )
    return shown.to_string(index=False)


def _headline(run: RunEstimate, job: JobEstimate) -> str:
    device, reference = job.device, job.reference
    assert device is not None and reference is not None
    limit = run.settings.time_limit
    text = f"{job.name}: {_si(job.work.residues)} residues. On {device.device_class}: "
    if device.hours is None:
        text += f"unknown ({device.missing}); its rule asks for {requests_text(job.runtime_minutes)}."
    else:
        attempts = job.attempts or 1
        text += f"{_hours(device.hours)} h, {attempts} attempts ({attempts - 1} resubmissions) under {limit}."
    if reference.device_class == device.device_class:
        return text
    if reference.hours is not None:
        attempts = slurm.attempts(reference.hours, run.settings)
        text += (
            f" On {reference.device_class}: {_hours(reference.hours)} h, {attempts} attempts "
            f"({(attempts or 1) - 1} resubmissions) under {limit}."
        )
    else:
        text += f" On {reference.device_class}: unknown ({reference.missing})."
    return text


def _requests_text(run: RunEstimate) -> str:
    """One row per rule of the DAG: its minutes, GPUs, retries and the runtime of each attempt."""
    rules = list(run.requests.rules)
    table = pd.DataFrame(
        {
            "rule": rules,
            "minutes": [run.requests.request(rule).minutes for rule in rules],
            "gpus": [run.requests.gpus(rule) for rule in rules],
            "retries": [
                "profile" if run.requests.retries(rule) is None else run.requests.retries(rule) for rule in rules
            ],
            "runtime per attempt": [requests_text(run.requests.attempt_minutes(rule)) for rule in rules],
        }
    )
    return table.to_string(index=False)


def _warnings(jobs: list[JobEstimate]) -> list[str]:
    """Timed jobs that cannot finish under the limit, if any."""
    lines = [f"  {job.name}: {job.note}" for job in jobs if job.device is not None and job.note]
    return ["", "Warnings:", *lines] if lines else []


def render_text(run: RunEstimate, jobs: list[JobEstimate], config: str) -> str:
    """Settings, the job table, totals per stage and per model, the pretraining headlines, sources and notes."""
    settings, device = run.settings, run.settings.device_class
    reference = run.reference_class
    classes = run.throughput.device_classes
    legend = Legend()
    table = pd.DataFrame(
        {
            "job": [job.name for job in jobs],
            "residues": [_si(job.work.residues) if job.work.passes else "-" for job in jobs],
            "src": [legend.refs(_job_sources(job)) for job in jobs],
            "on": [job.device.device_class if job.device else "-" for job in jobs],
            "hours": [_hours(job.device.hours) if job.device else "-" for job in jobs],
            "attempts": ["-" if job.device is None else (str(job.attempts) if job.attempts else "?") for job in jobs],
            "runtime per attempt": [requests_text(job.runtime_minutes) if job.device else job.note for job in jobs],
            f"{reference} h": [_hours(job.reference.hours) if job.reference else "-" for job in jobs],
        }
    )
    frame = jobs_frame(jobs)
    jobs_text = table.to_string(index=False)
    notes = dict.fromkeys(n for job in jobs for n in job.work.notes)
    lines = [
        f"Run plan of {config} (sizes from {run.results}/ where its summary.json files exist)",
        f"GPU rules on {device}: {classes[device].description}",
        f"Reference CPU {reference}: {classes[reference].description}",
        f"Time limit {settings.time_limit} ({settings.time_limit_minutes} min); an attempt needs estimate x margin "
        f"{settings.margin} + {settings.overhead_minutes:g} min start-up (assumptions); runtime requests: attempt x "
        "the rule's minutes (plus/estimates/requests.yaml), at most the limit",
        "",
        "Jobs (src: the sources below; hours on the device class in `on`):",
        jobs_text,
        "",
        "Requests per rule (plus/estimates/requests.yaml with the config's plan.requests):",
        _requests_text(run),
        "",
        "Sources:",
        *[f"  {line}" for line in legend.lines()],
        "",
        "How residues are counted:",
        *[f"  {line}" for line in COUNTING],
        "",
        "Notes:",
        *[f"  {note}" for note in notes],
        "",
        "Totals per stage:",
        _totals_text(totals_by_rule(frame), "rule", device, reference),
        "",
        "Totals per model (pretrain + finetune + evaluate):",
        _totals_text(totals_by_model(frame), "model", device, reference),
        "",
        "Pretraining:",
        *(
            [f"  {_headline(run, job)}" for job in jobs if job.rule == "pretrain"]
            or ["  none: no model is pretrained here"]
        ),
        *_warnings(jobs),
    ]
    return "\n".join(lines) + "\n"


def _estimate_json(found: Any) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "device_class": found.device_class,
        "hours": found.hours,
        "missing": found.missing,
        "sources": found.sources,
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def render_json(run: RunEstimate, jobs: list[JobEstimate], config: str) -> dict[str, Any]:
    """Everything of the text, machine-readable: settings, every job with its passes and sources, the totals."""
    frame = jobs_frame(jobs)
    return {
        "config": config,
        "results": str(run.results),
        "settings": {**run.settings.model_dump(), "time_limit_minutes": run.settings.time_limit_minutes},
        "device_class": {
            "name": run.settings.device_class,
            **run.throughput.device_classes[run.settings.device_class].model_dump(),
        },
        "reference_class": {
            "name": run.reference_class,
            **run.throughput.device_classes[run.reference_class].model_dump(),
        },
        "requests": {rule: request.model_dump() for rule, request in run.requests.rules.items()},
        "jobs": [
            {
                "rule": job.rule,
                "model": job.model,
                "task": job.task,
                "seed": job.seed,
                "preset": job.preset,
                "residues": job.work.residues,
                "passes": [
                    {
                        "what": p.what,
                        "stage": p.stage,
                        "residues": p.residues,
                        "formula": p.formula,
                        "sources": p.sources,
                    }
                    for p in job.work.passes
                ],
                "notes": list(job.work.notes),
                "device": _estimate_json(job.device),
                "reference": _estimate_json(job.reference),
                "attempts": job.attempts,
                "resubmissions": None if job.attempts is None else job.attempts - 1,
                "runtime_minutes": list(job.runtime_minutes),
                "note": job.note,
            }
            for job in jobs
        ],
        "totals": {"rule": _records(totals_by_rule(frame)), "model": _records(totals_by_model(frame))},
        "counting": list(COUNTING),
    }
