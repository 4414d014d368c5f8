"""Settings of the run plan: the device class, the partition's time limit and how requests are padded."""

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


class PlanSettings(BaseModel):
    """How work becomes time and SLURM requests (docs/cluster.md, "Runtimes from the plan"); the future `plan`
    section of the workflow config. Configured like plus.settings.Settings, without importing it (no cycle)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device_class: str = Field("h200", description="device class of the GPU rules (pretrain, finetune, evaluate)")
    time_limit: str = Field("48h", description="the partition's time limit, e.g. 48h or 2-00:00:00")
    margin: float = Field(1.2, ge=1, description="assumption: requests are the estimate times this factor")
    overhead_minutes: float = Field(10, ge=0, description="assumption: start-up and resume time of each attempt")
    fallback_attempts: int = Field(3, ge=1, description="attempts of a job whose time is unknown")
    spare_retries: int = Field(1, ge=0, description="retries beyond the planned resubmissions, for failures")

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
