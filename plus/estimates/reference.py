"""The plan's reference tables: measured throughput (throughput.yaml) and typical sizes (typical_sizes.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from plus.errors import InputError
from plus.io import read_config
from plus.settings import Settings, SettingsError, parse_settings

HERE = Path(__file__).parent
Stage = Literal["pretrain", "finetune", "inference", "prepare_pfam"]


class DeviceClass(Settings):
    """A kind of machine a job runs on."""

    kind: Literal["cpu", "gpu"]
    description: str = Field(min_length=1)


class Measurement(Settings):
    """Residues per second of one stage of one preset (or any preset: null) on one device class."""

    stage: Stage
    preset: str | None = None
    device_class: str
    residues_per_s: float = Field(gt=0)
    source: str = Field(min_length=1, description="how and where it was measured")


class ThroughputTable(Settings):
    """Every measurement the plan may use, and the device classes they were made on."""

    reference: str = Field(description="the CPU class whose hours every plan shows")
    device_classes: dict[str, DeviceClass] = Field(min_length=1)
    measurements: list[Measurement] = []

    @model_validator(mode="after")
    def _consistent(self) -> ThroughputTable:
        if self.reference not in self.device_classes:
            raise ValueError(f"reference {self.reference!r} is not one of the device_classes")
        seen = set()
        for index, item in enumerate(self.measurements):
            if item.device_class not in self.device_classes:
                raise ValueError(f"measurements.{index}: device_class {item.device_class!r} is not declared")
            key = (item.stage, item.preset, item.device_class)
            if key in seen:
                raise ValueError(f"measurements.{index}: a second figure for {key}")
            seen.add(key)
        return self

    def measurement(self, stage: str, preset: str | None, device_class: str) -> Measurement | None:
        """The figure for (stage, preset, class); a preset-free figure (prepare_pfam) serves every preset."""
        found = {m.preset: m for m in self.measurements if m.stage == stage and m.device_class == device_class}
        return found.get(preset, found.get(None))

    def merged(self, other: ThroughputTable) -> ThroughputTable:
        """This table with `other`'s device classes added and its measurements replacing same-key ones."""
        keys = {(m.stage, m.preset, m.device_class) for m in other.measurements}
        kept = [m for m in self.measurements if (m.stage, m.preset, m.device_class) not in keys]
        return ThroughputTable(
            reference=self.reference,
            device_classes={**self.device_classes, **other.device_classes},
            measurements=[*kept, *other.measurements],
        )


class Sourced(Settings):
    """A reference value and where it comes from."""

    value: float = Field(gt=0)
    source: str = Field(min_length=1)


class TypicalTask(Settings):
    """Mean sequence length of a task's splits: one for every split, or per split."""

    mean_length: Sourced | None = None
    splits: dict[str, Sourced] = {}


class TypicalPfam(Settings):
    sequences: Sourced
    mean_length: Sourced


class TypicalSizes(Settings):
    """What a dry run takes before the data exist (typical_sizes.yaml)."""

    pfam: TypicalPfam
    tasks: dict[str, TypicalTask] = {}

    def task_length(self, task: str, split: str) -> Sourced | None:
        entry = self.tasks.get(task)
        if entry is None:
            return None
        return entry.splits.get(split, entry.mean_length)


def _load(model: type[Settings], path: Path, what: str) -> Settings:
    try:
        return parse_settings(model, read_config(path, what))
    except SettingsError as error:
        raise InputError(f"{path}: {error}") from None


def load_throughput(extra: str | Path | None = None) -> ThroughputTable:
    """The packaged measurements, with a site's own file (same shape; reference may be left out) merged in."""
    table = _load(ThroughputTable, HERE / "throughput.yaml", "throughput table")
    assert isinstance(table, ThroughputTable)
    if extra is None:
        return table
    data = read_config(extra, "throughput file")
    data.setdefault("reference", table.reference)
    data["device_classes"] = {**table.device_classes, **data.get("device_classes", {})}
    try:
        return table.merged(parse_settings(ThroughputTable, data))
    except SettingsError as error:
        raise InputError(f"{extra}: {error}") from None


def load_typical_sizes() -> TypicalSizes:
    sizes = _load(TypicalSizes, HERE / "typical_sizes.yaml", "typical sizes")
    assert isinstance(sizes, TypicalSizes)
    return sizes
