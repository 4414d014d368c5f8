"""The rules' SLURM requests: the plain table plus/estimates/requests.yaml (minutes per attempt, GPUs, retries per
rule) with the workflow config's `plan.requests` over it.

Kept free of heavy imports: the workflow reads it at `snakemake -n` time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from plus.errors import InputError
from plus.estimates.settings import PlanSettings, RuleRequest
from plus.io import read_config

TABLE = Path(__file__).with_name("requests.yaml")


@dataclass(frozen=True)
class RuleRequests:
    """Every rule's request, and the time limit each attempt's runtime is capped at."""

    rules: dict[str, RuleRequest]
    time_limit_minutes: int

    def request(self, rule: str) -> RuleRequest:
        try:
            return self.rules[rule]
        except KeyError:
            raise InputError(f"rule {rule!r} has no row in {TABLE}") from None

    def runtime_minutes(self, rule: str, attempt: int) -> int:
        """The runtime attempt `attempt` (1, 2, ...) of a job of `rule` asks for: attempt x minutes, capped."""
        return min(self.time_limit_minutes, max(attempt, 1) * self.request(rule).minutes)

    def runtime_resource(self, rule: str) -> Callable[[Any, int], int]:
        """A Snakemake `runtime` resource for `rule`: a function of (wildcards, attempt)."""
        return lambda wildcards, attempt: self.runtime_minutes(rule, attempt)

    def attempt_minutes(self, rule: str) -> tuple[int, ...]:
        """The runtime of every attempt the rule allows (its retries + 1; one where the profile decides)."""
        attempts = (self.request(rule).retries or 0) + 1
        return tuple(self.runtime_minutes(rule, attempt) for attempt in range(1, attempts + 1))

    def gpus(self, rule: str) -> int:
        return self.request(rule).gpus

    def retries(self, rule: str) -> int | None:
        return self.request(rule).retries

    def gpus_per_rule(self) -> dict[str, float]:
        """Rule -> GPUs per job, for the rules that ask for any."""
        return {rule: float(request.gpus) for rule, request in self.rules.items() if request.gpus}


def load_table(path: Path = TABLE) -> dict[str, RuleRequest]:
    """Rule -> its request, from a table in the shape of requests.yaml."""
    rows = read_config(path, "requests table")
    try:
        return {str(rule): RuleRequest.model_validate(row) for rule, row in rows.items()}
    except ValidationError as error:
        raise InputError(f"{path}: {error}") from None


def rule_requests(settings: PlanSettings, table: dict[str, RuleRequest] | None = None) -> RuleRequests:
    """The packaged table (or `table`) with the config's `plan.requests` changes applied; an unknown rule is an
    error naming its key."""
    rows = dict(load_table() if table is None else table)
    for rule, change in settings.requests.items():
        if rule not in rows:
            raise InputError(f"plan.requests.{rule}: no rule {rule!r} (known: {', '.join(rows)})")
        rows[rule] = rows[rule].model_copy(update=change.model_dump(exclude_unset=True))
    return RuleRequests(rows, settings.time_limit_minutes)
