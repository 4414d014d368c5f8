"""Settings of the run estimate: the device class, the partition's time limit, how estimates are padded, and the
config's changes to the rules' requests (plus/estimates/requests.yaml)."""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plus.errors import InputError

_UNITS = {"d": 24 * 60, "h": 60, "m": 1, "s": 1 / 60}
_CLOCK = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_UNIT_PARTS = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def _minutes(text: str) -> int:
    """Minutes (rounded up) of a duration, or a ValueError saying what is wrong with it."""
    value = str(text).strip().lower()
    if value and _UNIT_PARTS.sub("", value) == "":
        minutes = sum(float(number) * _UNITS[unit] for number, unit in _UNIT_PARTS.findall(value))
    else:
        match = _CLOCK.match(value)
        if not match:
            raise ValueError(f"cannot read {text!r} as a duration (e.g. 48h, 2d, 1d12h, 90m, 2-00:00:00, 2880)")
        days, first, second, third = (int(part) if part else None for part in match.groups())
        assert first is not None
        if second is None:  # SLURM: a bare number is minutes; "D-HH" is days and hours
            minutes = first * 60 if days is not None else first
        elif third is None:  # "MM:SS", or "D-HH:MM"
            minutes = first * 60 + second if days is not None else first + second / 60
        else:  # "HH:MM:SS"
            minutes = first * 60 + second + third / 60
        minutes += (days or 0) * 24 * 60
    if minutes <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return math.ceil(minutes)


def parse_duration(text: str, where: str = "time limit") -> int:
    """Minutes (rounded up) of 48h, 2d, 1d12h, 90m, a SLURM time (2-00:00:00, 48:00:00, 30:00) or a bare minutes."""
    try:
        return _minutes(text)
    except ValueError as error:
        raise InputError(f"{where}: {error}") from None


class RuleRequest(BaseModel):
    """What a rule's jobs ask SLURM for: the minutes of a first attempt (attempt k asks k x minutes, at most the
    time limit), GPUs, and where given the rule's retries (else the profile's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minutes: int = Field(gt=0, description="runtime of the first attempt; attempt k asks k x this")
    gpus: int = Field(0, ge=0, description="GPUs each job asks for (and the report's GPU hours count)")
    retries: int | None = Field(None, ge=0, description="Snakemake retries of the rule (none: the profile's)")


class RuleRequestChange(BaseModel):
    """A config's change to one rule's row of plus/estimates/requests.yaml: the keys it gives replace the table's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minutes: int | None = Field(None, gt=0)
    gpus: int | None = Field(None, ge=0)
    retries: int | None = Field(None, ge=0)


class PlanSettings(BaseModel):
    """The workflow config's `plan` section (docs/cluster.md, "Runtimes"): the time limit every request is capped at,
    changes to the rules' requests, and how `plus plan` estimates hours. Configured like plus.settings.Settings,
    without importing it (no cycle)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_class: str = Field("h200", description="device class of the GPU rules (pretrain, finetune, evaluate)")
    time_limit: str = Field("48h", description="the partition's time limit, e.g. 48h or 2-00:00:00")
    margin: float = Field(1.2, ge=1, description="assumption: an estimate needs its hours times this factor")
    overhead_minutes: float = Field(10, ge=0, description="assumption: start-up and resume time of each attempt")
    requests: dict[str, RuleRequestChange] = Field(
        {}, description="rule -> minutes, gpus or retries replacing those of plus/estimates/requests.yaml"
    )

    @field_validator("time_limit")
    @classmethod
    def _readable(cls, value: str) -> str:
        _minutes(value)
        return value

    @model_validator(mode="after")
    def _room_to_work(self) -> PlanSettings:
        if self.time_limit_minutes <= self.overhead_minutes:
            raise ValueError(
                f"time_limit {self.time_limit!r} leaves no time after overhead_minutes {self.overhead_minutes}"
            )
        return self

    @property
    def time_limit_minutes(self) -> int:
        return _minutes(self.time_limit)
