"""The seven PLUS tasks (TaskSpec values), their official sources, and tasks added through config."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

from plus.errors import InputError
from plus.settings import HeadSpec, TaskSpec, parse_settings
from plus.tasks.alphabets import LOCALIZATION_CLASSES, SECSTR8, TOPOLOGY

OFFICIAL_TASKS_FILE = Path(__file__).with_name("official_tasks.yaml")


BUILTIN_TASKS: dict[str, TaskSpec] = {
    task.name: task
    for task in (
        TaskSpec(
            name="homology",
            shape="pair",
            test_splits=("test", "test_2.07"),
            aux_mlm_weight=0.3,
            headline_metric="accuracy",
            description="SCOPe 2.06 domain pairs, 5-level structural similarity (Bepler & Berger)",
        ),
        TaskSpec(
            name="solubility",
            shape="protein_classification",
            classes=("0", "1"),
            head=HeadSpec(input="h", hidden=512),
            headline_metric="accuracy",
            description="DeepSol: soluble (1) or insoluble (0) on E. coli expression",
        ),
        TaskSpec(
            name="localization",
            shape="protein_classification",
            classes=LOCALIZATION_CLASSES,
            head=HeadSpec(input="h", hidden=512),
            headline_metric="accuracy",
            description="DeepLoc 1.0: 10 subcellular locations",
        ),
        TaskSpec(
            name="stability",
            shape="protein_regression",
            head=HeadSpec(input="h", hidden=128),
            aux_mlm_weight=0.0,
            headline_metric="spearman",
            description="TAPE stability (Rocklin et al.)",
        ),
        TaskSpec(
            name="fluorescence",
            shape="protein_regression",
            head=HeadSpec(input="z", hidden=512),
            aux_mlm_weight=0.0,
            headline_metric="spearman",
            description="TAPE fluorescence (Sarkisyan et al. avGFP)",
        ),
        TaskSpec(
            name="secstr",
            shape="residue_classification",
            classes=tuple(SECSTR8),
            test_splits=("test_cb513", "test_casp12", "test_ts115"),
            head=HeadSpec(input="h", hidden=512),
            decoding="secstr_q3",
            headline_metric="accuracy_3class",
            headline_split="test_cb513",
            description="TAPE / NetSurfP-2.0 secondary structure, 8 classes (Q3 reported)",
        ),
        TaskSpec(
            name="transmembrane",
            shape="residue_classification",
            classes=tuple(TOPOLOGY),
            head=HeadSpec(input="h", hidden=128),
            decoding="tm_topology",
            headline_metric="accuracy",
            description="TOPCONS2 transmembrane topology (I/O/M)",
        ),
    )
}


def representation_for(spec: TaskSpec) -> Literal["h", "z"]:
    """What a probe's head reads: z for pairs (the alignment space), else the head's input (h or z)."""
    return "z" if spec.task_shape.pairs else spec.head.input


def layout_for(spec: TaskSpec) -> Literal["residues", "pooled"]:
    """Pooled sums only for a protein-level head that sums; per-residue states for everything else."""
    return "pooled" if spec.task_shape.per_protein and spec.head.pooling == "sum" else "residues"


def resolve_task(name: str, overrides: dict[str, Any] | None = None, where: str | None = None) -> TaskSpec:
    """A built-in task with config overrides applied, or a new task defined entirely by config.

    A SettingsError names the bad key under `where` (default `tasks.<name>`)."""
    overrides = {key: value for key, value in (overrides or {}).items() if value is not None}
    where = where or f"tasks.{name}"
    if name in BUILTIN_TASKS:
        base = BUILTIN_TASKS[name].to_dict()
        head = {**base["head"], **overrides.pop("head", {})}  # a head key given as None (hidden: null) is kept
        return parse_settings(TaskSpec, {**base, **overrides, "head": head, "name": name}, where)
    if "shape" not in overrides:
        raise InputError(f"{where}: not a built-in task ({', '.join(BUILTIN_TASKS)}) and no 'shape' given")
    return parse_settings(TaskSpec, {**overrides, "name": name}, where)


@cache
def _official_entries() -> dict[str, dict[str, Any]]:
    import yaml

    return yaml.safe_load(OFFICIAL_TASKS_FILE.read_text())["tasks"]


def official_task_entry(name: str) -> dict[str, Any] | None:
    """A built-in task's official `tasks` entry (sources, import settings; plus/tasks/official_tasks.yaml) or None."""
    entry = _official_entries().get(name)
    return copy.deepcopy(entry) if entry is not None else None


def with_official_defaults(name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """A config's `tasks.<name>` entry with the keys it leaves out taken from the built-in task's official entry;
    `expected_sizes` only when the official sources are kept (they are those files' sizes)."""
    official = official_task_entry(name)
    if official is None:
        return dict(entry)
    if "sources" in entry:
        official.pop("expected_sizes", None)
    return {**official, **entry}
