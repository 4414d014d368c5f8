"""Attempts under a partition's time limit, and whether a rule's requests cover an estimate; each attempt of a
training job resumes from its checkpoint, while other jobs start again and must fit in one attempt."""

from __future__ import annotations

import math

from plus.estimates.settings import PlanSettings


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


def covered(hours: float, requests: tuple[int, ...], settings: PlanSettings, resumable: bool = True) -> bool:
    """Whether attempts of these runtimes finish a job of `hours`: a resumable job sums their time after start-up,
    one that starts again needs a single attempt long enough."""
    useful = [minutes - settings.overhead_minutes for minutes in requests]
    need = hours * 60 * settings.margin
    return (sum(useful) if resumable else max(useful, default=0)) >= need
