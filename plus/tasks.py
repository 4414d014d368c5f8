"""Task definitions: the four task shapes, the seven PLUS tasks, and tasks added through config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Shape = Literal["pair", "protein_classification", "protein_regression", "residue_classification"]
SHAPES: tuple[str, ...] = ("pair", "protein_classification", "protein_regression", "residue_classification")

UNLABELLED = "."  # per-residue label character for residues excluded from loss and metrics

SECSTR8 = "GHIBESTC"  # TAPE / NetSurfP-2.0 order; Q3 groups GHI->H, BE->E, STC->C
SECSTR3_OF_8 = "HHHEECCC"
TOPOLOGY = "IOM"  # inside, outside, membrane
LOCALIZATION_CLASSES = (
    "Cell.membrane",
    "Cytoplasm",
    "Endoplasmic.reticulum",
    "Extracellular",
    "Golgi.apparatus",
    "Lysosome/Vacuole",
    "Mitochondrion",
    "Nucleus",
    "Peroxisome",
    "Plastid",
)
SCOP_LEVELS = ("class", "fold", "superfamily", "family")  # similarity 0..4 = how many of these agree


@dataclass(frozen=True)
class HeadSpec:
    """Prediction head: which representation it reads (h: 2H-d, z: projected) and its hidden width."""

    input: Literal["h", "z"] = "h"
    hidden: int = 512
    pooling: Literal["attention", "sum"] = "attention"


@dataclass(frozen=True)
class TaskSpec:
    """Everything the fine-tuning code needs to know about a task."""

    name: str
    shape: Shape
    classes: tuple[str, ...] = ()  # class names (protein) or label letters (residue); empty for regression
    test_splits: tuple[str, ...] = ("test",)
    head: HeadSpec = field(default_factory=HeadSpec)
    aux_mlm_weight: float = 0.3  # 0 disables the auxiliary MLM loss
    headline_metric: str = "accuracy"
    headline_split: str = "test"
    description: str = ""

    @property
    def n_outputs(self) -> int:
        if self.shape == "pair":
            return len(SCOP_LEVELS)  # ordinal logits for 5 levels
        if self.shape == "protein_regression":
            return 1
        return len(self.classes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TaskSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"task {values.get('name', '?')!r}: unknown keys {sorted(unknown)}")
        if values.get("shape") not in SHAPES:
            raise ValueError(f"task {values.get('name', '?')!r}: shape must be one of {SHAPES}")
        values = dict(values)
        values["head"] = HeadSpec(**values.get("head", {}))
        for key in ("classes", "test_splits"):
            if key in values:
                values[key] = tuple(values[key])
        spec = cls(**values)
        if spec.shape in ("protein_classification", "residue_classification") and len(spec.classes) < 2:
            raise ValueError(f"task {spec.name!r}: a classification task needs at least two classes")
        return spec


BUILTIN_TASKS: dict[str, TaskSpec] = {
    task.name: task
    for task in (
        TaskSpec(
            "homology",
            "pair",
            test_splits=("test", "test_2.07"),
            aux_mlm_weight=0.3,
            headline_metric="accuracy",
            description="SCOPe 2.06 domain pairs, 5-level structural similarity (Bepler & Berger)",
        ),
        TaskSpec(
            "solubility",
            "protein_classification",
            classes=("0", "1"),
            head=HeadSpec("h", 512),
            headline_metric="accuracy",
            description="DeepSol: soluble (1) or insoluble (0) on E. coli expression",
        ),
        TaskSpec(
            "localization",
            "protein_classification",
            classes=LOCALIZATION_CLASSES,
            head=HeadSpec("h", 512),
            headline_metric="accuracy",
            description="DeepLoc 1.0: 10 subcellular locations",
        ),
        TaskSpec(
            "stability",
            "protein_regression",
            head=HeadSpec("h", 128),
            aux_mlm_weight=0.0,
            headline_metric="spearman",
            description="TAPE stability (Rocklin et al.)",
        ),
        TaskSpec(
            "fluorescence",
            "protein_regression",
            head=HeadSpec("z", 512),
            aux_mlm_weight=0.0,
            headline_metric="spearman",
            description="TAPE fluorescence (Sarkisyan et al. avGFP)",
        ),
        TaskSpec(
            "secstr",
            "residue_classification",
            classes=tuple(SECSTR8),
            test_splits=("test_cb513", "test_casp12", "test_ts115"),
            head=HeadSpec("h", 512),
            headline_metric="accuracy_3class",
            headline_split="test_cb513",
            description="TAPE / NetSurfP-2.0 secondary structure, 8 classes (Q3 reported)",
        ),
        TaskSpec(
            "transmembrane",
            "residue_classification",
            classes=tuple(TOPOLOGY),
            head=HeadSpec("h", 128),
            headline_metric="accuracy",
            description="TOPCONS2 transmembrane topology (I/O/M)",
        ),
    )
}


def resolve_task(name: str, overrides: dict[str, Any] | None = None) -> TaskSpec:
    """A built-in task with config overrides applied, or a new task defined entirely by config."""
    overrides = dict(overrides or {})
    if name in BUILTIN_TASKS:
        base = BUILTIN_TASKS[name].to_dict()
        head = {**base["head"], **overrides.pop("head", {})}
        return TaskSpec.from_dict({**base, **overrides, "head": head, "name": name})
    if "shape" not in overrides:
        raise ValueError(f"task {name!r} is not built in, so its config entry must give a 'shape'")
    return TaskSpec.from_dict({**overrides, "name": name})
