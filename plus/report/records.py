"""An evaluation's metrics.json as one typed record: `plus evaluate`, `plus evaluate-probe` and the alignment baseline
write it through EvaluationRecord, and the report reads it back through the same model.

Kept free of heavy imports: the report's settings and the training commands both import it.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, StrictInt, ValidationError

from plus.errors import InputError
from plus.io import read_json_object, write_json

METRICS_FILE = "metrics.json"

if TYPE_CHECKING:
    from plus.settings import TaskSpec


def evaluation_fields(spec: TaskSpec, model: str, seed: int, splits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The fields every evaluation record starts with: the run, its task's shape, each split's metrics and the
    headline (the task's headline split, else its first test split)."""
    split = spec.headline_split if spec.headline_split in splits else spec.test_splits[0]
    return {
        "task": spec.name,
        "model": model,
        "seed": seed,
        "shape": spec.shape,
        "splits": splits,
        "headline": {"metric": spec.headline_metric, "split": split, "value": splits[split].get(spec.headline_metric)},
    }


def _metric(value: Any) -> int | float:
    """A metric value as written: an int stays an int; NaN is kept (an undefined metric, e.g. a correlation of
    constant predictions); infinities, booleans and anything else are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isinf(value):
        raise ValueError(f"expected a number or NaN, found {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


Metric = Annotated[int | float, PlainValidator(_metric)]


class Headline(BaseModel):
    """The metric and split the main table shows, and its value."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    split: str
    value: Metric | None = None


class EvaluationRecord(BaseModel):
    """metrics.json of one (model, task, seed) evaluation; its keys are written in this order, unset ones left out."""

    model_config = ConfigDict(extra="allow")

    task: str
    model: str
    seed: StrictInt
    shape: str
    splits: dict[str, dict[str, Metric]]
    headline: Headline
    encoder: dict[str, Any] | None = None
    protocol: str | None = None
    baseline: dict[str, Any] | None = None
    homology_score: str | None = None
    homology_thresholds_from: str | None = None
    homology_thresholds: list[float] | None = None

    def metric_rows(self) -> list[dict[str, Any]]:
        """(split, metric, value) of every metric, the example count `n` left out."""
        return [
            {"split": split, "metric": metric, "value": float(value)}
            for split, metrics in self.splits.items()
            for metric, value in metrics.items()
            if metric != "n"
        ]

    def write(self, path: Path) -> None:
        write_json(path, self.model_dump(exclude_unset=True))

    @classmethod
    def from_values(cls, values: dict[str, Any], source: str = METRICS_FILE) -> EvaluationRecord:
        """The record of `values`, or an InputError naming `source` and the first bad key."""
        try:
            record = cls.model_validate(values)
        except ValidationError as error:
            raise InputError(f"{source}: {_problem(error)}") from None
        if not record.splits or any(not metrics for metrics in record.splits.values()):
            raise InputError(f"{source}: 'splits' must be a non-empty object split -> metrics")
        headline = record.headline
        if headline.metric not in record.splits.get(headline.split, {}):
            raise InputError(
                f"{source}: headline metric {headline.metric!r} on split {headline.split!r} "
                "is not among the reported splits"
            )
        return record

    @classmethod
    def read(cls, path: Path) -> EvaluationRecord:
        """The record in a metrics.json file, or an InputError naming the file."""
        values = read_json_object(path)
        return cls.from_values(values, str(path))


def write_evaluation(path: Path, values: dict[str, Any]) -> None:
    """Check an evaluation's metrics against EvaluationRecord and write them as metrics.json."""
    EvaluationRecord.from_values(values, str(path)).write(path)


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "missing":
        return f"missing key {where!r}"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"
