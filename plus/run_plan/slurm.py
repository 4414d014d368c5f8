"""Attempts and runtime requests under a partition's time limit; each attempt of a training job resumes from its
checkpoint, while other jobs start again and must fit in one attempt."""

from __future__ import annotations

import math

from plus.run_plan.settings import PlanSettings


def need_minutes(hours: float, settings: PlanSettings) -> float:
    """What one attempt would need to finish the whole job: the estimate x margin + the start-up overhead."""
    return hours * 60 * settings.margin + settings.overhead_minutes


def fits(hours: float, settings: PlanSettings) -> bool:
    """Whether the whole job fits in one attempt under the limit."""
    return need_minutes(hours, settings) <= settings.time_limit_minutes


def attempts(hours: float | None, settings: PlanSettings, resumable: bool = True) -> int | None:
    """Attempts a job needs when every attempt but the last runs to the limit (None: time unknown); a job that
    cannot resume is planned as one attempt (see `fits`)."""
    if hours is None:
        return None
    if not resumable:
        return 1
    useful = settings.time_limit_minutes - settings.overhead_minutes
    return max(1, math.ceil(hours * 60 * settings.margin / useful))


def runtime_minutes(hours: float | None, attempt: int, settings: PlanSettings, fallback: int | None = None) -> int:
    """The request of attempt `attempt` (1, 2, ...): attempt x need, at most the limit. Unknown time: attempt x
    `fallback` (the rule's request before the plan), at most the limit; without a fallback, the limit."""
    limit = settings.time_limit_minutes
    if hours is None:
        return limit if fallback is None else min(limit, max(attempt, 1) * fallback)
    return min(limit, math.ceil(max(attempt, 1) * need_minutes(hours, settings)))


def retries(planned: list[int | None], settings: PlanSettings) -> int:
    """Snakemake `retries` for a rule: its most planned resubmissions + the spare ones; where any job's time is
    unknown, at least fallback_attempts - 1 (the profile's retries before the plan)."""
    known = [n - 1 + settings.spare_retries for n in planned if n is not None]
    unknown = [settings.fallback_attempts - 1] if any(n is None for n in planned) else []
    return max([*known, *unknown], default=settings.spare_retries)
