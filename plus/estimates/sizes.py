"""Dataset sizes for the run plan, each number with its source: from the summary.json files the workflow writes
(results/pfam/<key>/summary.json, results/tasks/<task>/summary.json) when they exist, else from the workflow config
(expected_sizes, the synthetic generator's sizes) and plus/estimates/typical_sizes.yaml."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plus.errors import InputError
from plus.estimates.reference import TypicalSizes
from plus.jobs import WorkflowPlan

SYNTHETIC_DIR = "resources/synthetic/"  # where rule synthetic writes the demo data (workflow/rules/common.smk)
TYPICAL_FILE = "plus/estimates/typical_sizes.yaml"


@dataclass(frozen=True)
class Number:
    """A size and where it comes from; value None: unknown, and the source says why."""

    value: float | None
    source: str


@dataclass(frozen=True)
class SplitSize:
    """Records of a split (pairs for a pair task's valid and test splits) and their mean sequence length."""

    records: Number
    mean_length: Number
    per_record: int = 1

    @property
    def residues(self) -> float | None:
        if self.records.value is None or self.mean_length.value is None:
            return None
        return self.records.value * self.per_record * self.mean_length.value

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.records.source, self.mean_length.source)

    @property
    def length_text(self) -> str:
        return _length(self.mean_length.value)

    def formula(self) -> str:
        pairs = f" x {self.per_record}" if self.per_record != 1 else ""
        return f"{_count(self.records.value)}{pairs} x {self.length_text}"


@dataclass(frozen=True)
class CorpusSize:
    """The Pfam corpus: sequences read, the train and test splits, and the fixed SFP test pairs."""

    read: Number
    train: SplitSize
    test: SplitSize
    test_pairs: Number


def _count(value: float | None) -> str:
    return "?" if value is None else f"{value:,.0f}"


def _length(value: float | None) -> str:
    return "? aa" if value is None else f"{value:,.1f} aa"


def read_summary(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not a readable summary: {error}") from None
    if not isinstance(value, dict) or not isinstance(value.get("splits"), dict):
        raise InputError(f"{path}: a summary needs a 'splits' mapping")
    return value


def _is_synthetic(paths: list[str]) -> bool:
    return bool(paths) and all(path.startswith(SYNTHETIC_DIR) for path in paths)


def _synthetic_length(plan: WorkflowPlan) -> Number:
    low, high = plan.synthetic.hmm_length
    return Number((low + high) / 2, f"assumption: the midpoint of config synthetic.hmm_length [{low}, {high}]")


def corpus_size(plan: WorkflowPlan, results: Path, typical: TypicalSizes) -> CorpusSize:
    """Pfam sizes from the shared corpus's summary.json, else from the synthetic generator's or the paper's count."""
    path = results / Path(plan.corpus_dir(plan.shared_corpus)).relative_to("results") / "summary.json"
    test_pairs = Number(plan.pfam().n_test_pairs, "config pfam.n_test_pairs")
    if path.is_file():
        return _corpus_from_summary(path, read_summary(path))
    fraction = plan.pfam().test_fraction
    if _is_synthetic([plan.pfam_input]):
        synthetic = plan.synthetic
        total = synthetic.n_families * synthetic.sequences_per_family
        read = Number(
            total,
            "at most config synthetic.n_families x synthetic.sequences_per_family "
            "(the generator puts only some families into its Pfam)",
        )
        length = _synthetic_length(plan)
    else:
        read = Number(typical.pfam.sequences.value, typical.pfam.sequences.source)
        length = Number(typical.pfam.mean_length.value, typical.pfam.mean_length.source)
    where = (
        f"before the length and family filters, so an upper bound; the split is config pfam.test_fraction {fraction}"
    )
    train = Number(round(read.value * (1 - fraction)), f"{read.source}; x (1 - test_fraction), {where}")
    test = Number(round(read.value * fraction), f"{read.source}; x test_fraction, {where}")
    return CorpusSize(read, SplitSize(train, length), SplitSize(test, length), test_pairs)


def _corpus_from_summary(path: Path, summary: dict[str, Any]) -> CorpusSize:
    try:
        splits = {
            name: SplitSize(
                Number(summary["splits"][name]["sequences"], f"{path}: splits.{name}.sequences"),
                Number(
                    summary["splits"][name]["tokens"] / max(summary["splits"][name]["sequences"], 1),
                    f"{path}: splits.{name}.tokens / sequences",
                ),
            )
            for name in ("train", "test")
        }
        read = Number(summary["counts"]["read"], f"{path}: counts.read (x the kept sequences' mean length)")
        pairs = Number(summary["test_pairs"]["n"], f"{path}: test_pairs.n")
    except (KeyError, TypeError) as error:
        raise InputError(f"{path}: missing key {error} of a Pfam summary") from None
    return CorpusSize(read, splits["train"], splits["test"], pairs)


def task_splits(plan: WorkflowPlan, task: str) -> tuple[str, ...]:
    return ("train", "valid", *plan.task_specs[task].test_splits)


def task_sizes(plan: WorkflowPlan, task: str, results: Path, typical: TypicalSizes) -> dict[str, SplitSize]:
    """Each split of a task: from its summary.json, else the synthetic generator's sizes or the config's."""
    path = results / "tasks" / task / "summary.json"
    pair = plan.task_specs[task].task_shape.pairs
    sizes = {}
    summary = read_summary(path) if path.is_file() else None
    synthetic = _is_synthetic(plan.import_inputs(task))
    for split in task_splits(plan, task):
        if summary is not None:
            records, length = _from_summary(path, summary, split)
        elif synthetic:
            records, length = _from_synthetic(plan, task, split), _synthetic_length(plan)
        else:
            records, length = _from_config(plan, task, split, path), _typical_length(typical, task, split)
        sizes[split] = SplitSize(records, length, 2 if pair and split != "train" else 1)
    return sizes


def _from_summary(path: Path, summary: dict[str, Any], split: str) -> tuple[Number, Number]:
    stats = summary["splits"].get(split)
    if not isinstance(stats, dict) or "n" not in stats:
        missing = Number(None, f"unknown: {path} has no split {split!r}")
        return missing, missing
    records = Number(stats["n"], f"{path}: splits.{split}.n")
    length = stats.get("length", {})
    if "mean" in length:
        return records, Number(length["mean"], f"{path}: splits.{split}.length.mean")
    if "median" in length:
        source = f"{path}: splits.{split}.length.median, taken as the mean (the summary records no mean)"
        return records, Number(length["median"], source)
    return records, Number(None, f"unknown: {path} has no length of split {split!r}")


def _from_synthetic(plan: WorkflowPlan, task: str, split: str) -> Number:
    sizes = plan.synthetic.tasks.model_dump().get(task, {})
    if split not in sizes:
        return Number(None, f"unknown: the synthetic generator writes no {task} {split} split")
    return Number(sizes[split], f"config synthetic.tasks.{task}.{split} (the generator's size)")


def _from_config(plan: WorkflowPlan, task: str, split: str, summary: Path) -> Number:
    expected = plan.config.tasks[task].expected_sizes
    if split in expected:
        return Number(expected[split], f"config tasks.{task}.expected_sizes.{split}")
    return Number(None, f"unknown: no {summary} yet and no config tasks.{task}.expected_sizes.{split}")


def _typical_length(typical: TypicalSizes, task: str, split: str) -> Number:
    found = typical.task_length(task, split)
    if found is None:
        return Number(None, f"unknown: no typical length of {task} in {TYPICAL_FILE}")
    return Number(found.value, found.source)
