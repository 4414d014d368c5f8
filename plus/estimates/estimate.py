"""Hours of a job's work on a device class, from measured throughput only."""

from __future__ import annotations

from dataclasses import dataclass

from plus.estimates.reference import ThroughputTable
from plus.estimates.work import Work

NO_MEASUREMENT = "no measurement for this device class"


@dataclass(frozen=True)
class Estimate:
    """Hours on `device_class`, or None with the reason; `sources` are the measurements used."""

    device_class: str
    hours: float | None
    sources: tuple[str, ...] = ()
    missing: str | None = None

    def text(self) -> str:
        return f"unknown ({self.missing})" if self.hours is None else f"{self.hours:,.2f} h"


def estimate(work: Work, preset: str | None, device_class: str, table: ThroughputTable) -> Estimate:
    """Sum over the passes of residues / the measured residues per second of that pass's stage."""
    if not work.passes:
        return Estimate(device_class, None, missing="not planned")
    seconds, sources, unmeasured = 0.0, [], []
    for item in work.passes:
        figure = table.measurement(item.stage, preset, device_class)
        if figure is None:
            unmeasured.append(item.stage)
            continue
        sources.append(figure.source)
        if item.residues is not None:
            seconds += item.residues / figure.residues_per_s
    if unmeasured:
        stages = ", ".join(dict.fromkeys(unmeasured))
        return Estimate(device_class, None, missing=f"{NO_MEASUREMENT}: {stages} of {preset or 'this job'}")
    if work.residues is None:
        return Estimate(device_class, None, tuple(dict.fromkeys(sources)), "residues unknown")
    return Estimate(device_class, seconds / 3600, tuple(dict.fromkeys(sources)))
