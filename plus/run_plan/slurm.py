"""Attempts and runtime requests under a partition's time limit; each attempt resumes from its checkpoint."""

from __future__ import annotations

import math

from plus.run_plan.settings import PlanSettings


def need_minutes(hours: float, settings: PlanSettings) -> float:
    """What one attempt would need to finish the whole job: the estimate x margin + the start-up overhead."""
    return hours * 60 * settings.margin + settings.overhead_minutes


def attempts(hours: float | None, settings: PlanSettings) -> int | None:
    """Attempts a job needs when every attempt but the last runs to the limit (None: time unknown)."""
    if hours is None:
        return None
    useful = settings.time_limit_minutes - settings.overhead_minutes
    if useful <= 0:
        return None
    return max(1, math.ceil(hours * 60 * settings.margin / useful))


def runtime_minutes(hours: float | None, attempt: int, settings: PlanSettings) -> int:
    """The request of attempt `attempt` (1, 2, ...): attempt x need, at most the limit; unknown time: the limit."""
    limit = settings.time_limit_minutes
    if hours is None:
        return limit
    return min(limit, math.ceil(max(attempt, 1) * need_minutes(hours, settings)))


def retries(planned: list[int | None], settings: PlanSettings) -> int:
    """Snakemake `retries` for a rule: its most resubmissions (unknown: the fallback attempts) + the spare ones."""
    most = max((settings.fallback_attempts if n is None else n for n in planned), default=1)
    return most - 1 + settings.spare_retries
