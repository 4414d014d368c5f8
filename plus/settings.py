"""Typed settings of every stage, each default written once: data, pretraining, fine-tuning, evaluation,
embedding, the report, and the workflow config that holds them.

Every model forbids unknown keys and range-checks its values, so a typo or a batch size of 0 fails with the
key's full path (`models.plus-rnn-base.pretrain.lrr: unknown key`) before any job runs. The JSON schema that
Snakemake validates the workflow config against (workflow/schemas/config.schema.json) is generated from
`WorkflowConfig` by `plus settings-schema` and tested to be current. This module imports no torch, so the
workflow can use it at `snakemake -n` time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from plus.errors import InputError

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]
Shape = Literal["pair", "protein_classification", "protein_regression", "residue_classification"]
Objective = Literal["plus", "mlm", "none"]
ReportObjective = Literal["plus", "mlm", "none", "alignment"]  # alignment: a baseline without an encoder
Precision = Literal["auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true"]
Md5 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Positive = Annotated[int, Field(ge=1)]


class Settings(BaseModel):
    """Base of every settings model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SettingsError(InputError):
    """Settings that fail validation; the message names every bad key by its full path."""


_UNION_TAGS = ("file", "url", "path", "str", "int", "float", "none", "constrained-str", "list", "dict")


def _location(where: str, loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a dotted key path, without its union-member and validator tags."""
    parts = [str(part) for part in loc if not str(part).startswith(("function-", "tagged-union[", "nullable["))]
    parts = [part for part in parts if part not in _UNION_TAGS and not part[:1].isupper()]
    return ".".join([where, *parts]) if where else ".".join(parts)


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required key missing"
    return str(error["msg"]).removeprefix("Value error, ")


SettingsT = TypeVar("SettingsT", bound=BaseModel)


def parse_settings(model: type[SettingsT], data: Any, where: str = "") -> SettingsT:
    """`model` validated from `data`, or a SettingsError listing each problem as `path.to.key: what`."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            line = f"{_location(where, item['loc'])}: {_message(item)}"
            if line not in problems:
                problems.append(line)
        raise SettingsError("; ".join(problems)) from None


def load_settings(model: type[SettingsT], value: str | Path, where: str = "--settings") -> SettingsT:
    """Settings from inline JSON (`{...}`) or a JSON/YAML file, validated: what each command's --settings takes."""
    text = str(value)
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{where}: not valid JSON: {error}") from error
        return parse_settings(model, data, "")
    from plus.io import read_config

    return parse_settings(model, read_config(text, "settings file"), "")


def as_json(settings: BaseModel) -> str:
    """Canonical JSON of settings (sorted keys): equal settings give equal text, so equal Snakemake params."""
    return json.dumps(settings.model_dump(mode="json"), sort_keys=True)


# ------------------------------------------------------------------------------------------------ input files


class UrlSource(Settings):
    """A file downloaded by the workflow (resumable, md5-checked) to resources/downloads/<group>/<name>."""

    url: Annotated[str, StringConstraints(pattern=r"^(https?|ftp|file)://")]
    md5: Md5 | None = None
    md5_list: str | None = Field(None, description="URL of an md5 listing (e.g. a Pfam release's md5_checksums)")
    member: str | None = Field(None, min_length=1, description="a file inside a tar archive")
    name: Name | None = Field(None, description="local file name (default: the URL's last part)")


class PathSource(Settings):
    """A copy the user already holds: checked (md5 if given) and staged like a download."""

    path: str = Field(min_length=1)
    md5: Md5 | None = None
    member: str | None = Field(None, min_length=1, description="a file inside a tar archive")
    name: Name | None = Field(None, description="local file name (default: the path's last part)")


def _source_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "path" if "path" in value and "url" not in value else "url"
    if isinstance(value, UrlSource | PathSource):
        return "url" if isinstance(value, UrlSource) else "path"
    return "file"


FileSpec = Annotated[
    Annotated[Annotated[str, StringConstraints(min_length=1)], Tag("file")]
    | Annotated[UrlSource, Tag("url")]
    | Annotated[PathSource, Tag("path")],
    Discriminator(_source_kind),
]


# ------------------------------------------------------------------------------------------------ synthetic data

SYNTHETIC_TASK_SPLITS: dict[str, tuple[str, ...]] = {
    "homology": ("train", "valid", "test", "test_2.07"),
    "solubility": ("train", "valid", "test"),
    "localization": ("train", "valid", "test"),
    "stability": ("train", "valid", "test"),
    "fluorescence": ("train", "valid", "test"),
    "secstr": ("train", "valid", "test_casp12", "test_cb513", "test_ts115"),
    "transmembrane": ("train", "valid", "test"),
}


def _split_sizes(task: str, splits: tuple[str, ...]) -> type[Settings]:
    """Records per split of one synthetic task (train 400, valid 100, each test split 150 by default)."""
    from pydantic import create_model

    default = {"train": 400, "valid": 100}
    fields: dict[str, Any] = {split: (int, Field(default.get(split, 150), ge=0)) for split in splits}
    return create_model(f"Synthetic{task.title().replace('_', '')}Sizes", __base__=Settings, **fields)


def _task_sizes() -> type[Settings]:
    from pydantic import create_model

    fields: dict[str, Any] = {}
    for task, splits in SYNTHETIC_TASK_SPLITS.items():
        model = _split_sizes(task, splits)
        fields[task] = (model, Field(default_factory=model))
    return create_model("SyntheticTaskSizes", __base__=Settings, **fields)


SyntheticTaskSizes = _task_sizes()


def _ordered_pair(value: tuple[int, int]) -> tuple[int, int]:
    if value[0] > value[1]:
        raise ValueError(f"needs low <= high, got [{value[0]}, {value[1]}]")
    return value


class SyntheticSettings(Settings):
    """`plus synthetic`: the offline demo benchmark (docs/synthetic.md)."""

    seed: int = Field(2020, ge=0)
    n_classes: int = Field(4, ge=2, le=26, description="SCOP-like classes (pairs of similarity 0 need 2)")
    n_families: int = Field(40, ge=1)
    sequences_per_family: int = Field(150, ge=0, description="sequences per family in the mini Pfam")
    hmm_length: tuple[Annotated[int, Field(ge=20)], int] = (60, 140)
    tasks: SyntheticTaskSizes = Field(  # type: ignore[valid-type]
        default_factory=SyntheticTaskSizes, description="records per task and split"
    )
    stability_families: int = Field(6, ge=1)
    fluorescence_test_mutations: tuple[Annotated[int, Field(ge=1)], int] = (4, 6)

    _pairs = field_validator("hmm_length", "fluorescence_test_mutations")(_ordered_pair)

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticSettings:
        if self.n_families < 8 * self.n_classes:
            raise ValueError("n_families must be at least 8 x n_classes (so every similarity level 0..4 has pairs)")
        if self.fluorescence_test_mutations[1] > self.hmm_length[0]:
            raise ValueError("fluorescence_test_mutations exceeds the shortest HMM")
        return self


# ------------------------------------------------------------------------------------------------ Pfam corpus


class PfamSettings(Settings):
    """`plus prepare-pfam`: how Pfam-A.fasta becomes the train/test corpus stores and the SFP test pairs."""

    release: str | None = Field(None, description="Pfam release, recorded in the corpus summary")
    min_length: int = Field(20, ge=1, description="shorter sequences are dropped")
    min_family_size: int = Field(1000, ge=0, description="families with fewer training sequences are dropped")
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 2020
    n_test_pairs: int = Field(100_000, ge=0, description="fixed same-family test pairs (half of them positive)")
    max_length: int | None = Field(None, ge=1, description="longer sequences are dropped (null: none)")

    @field_validator("release", mode="before")
    @classmethod
    def _release_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


class PfamConfig(PfamSettings):
    """The workflow's `pfam` section: the Pfam-A.fasta(.gz) source and the preparation settings."""

    source: FileSpec


# ------------------------------------------------------------------------------------------------ training


class PretrainSettings(Settings):
    """`plus pretrain` hyperparameters (defaults: the authors' PLUS-RNN run config)."""

    batch_pairs: Positive = 64
    lr: float = Field(1e-3, gt=0)
    epochs: Positive = 5
    max_steps: Positive | None = Field(None, description="stop after this many steps (null: epochs decide)")
    grad_clip: float = Field(1.0, gt=0)
    mask_rate: float = Field(0.15, gt=0, lt=1)
    max_masked_per_seq: Positive = 50
    mlm_weight: float = Field(0.7, ge=0)
    sfp_weight: float = Field(0.3, ge=0)
    same_family_prob: float = Field(0.5, ge=0, le=1)
    drop_pair_b_mlm: bool = Field(False, description="the authors' quirk: sequence B's MLM loss dropped")
    val_every_n_steps: Positive = 20_000
    checkpoint_every_n_steps: Positive = 1000
    precision: Precision = Field("auto", description="auto: bf16-mixed on a GPU that supports it, else 32-true")
    num_workers: int = Field(0, ge=0)
    seed: int = 2020
    eval_batch_pairs: Positive = Field(64, description="test pairs per validation batch")
    max_val_pairs: Positive = Field(2000, description="test pairs used for validation during training")


class FinetuneSettings(Settings):
    """`plus finetune` hyperparameters (defaults: the authors' PLUS-RNN run configs)."""

    lr: float = Field(5e-4, gt=0)
    head_lr: float | None = Field(None, gt=0, description="head learning rate (null: lr)")
    batch_size: Positive = 32
    eval_batch_size: Positive = Field(256, description="batch size of validation and test evaluation")
    max_epochs: Positive = 20
    patience: Positive = Field(3, description="early stopping: validations without improvement")
    grad_clip: float = Field(1.0, gt=0)
    mask_rate: float = Field(0.15, gt=0, lt=1)
    max_masked_per_seq: Positive = 50
    precision: Precision = "auto"
    num_workers: int = Field(0, ge=0)
    homology_pairs_per_epoch: Positive = 100_000
    homology_tau: float = Field(0.5, ge=0)
    homology_epochs: Positive = 100
    homology_sampler: Literal["bepler", "plus-original"] = "bepler"
    max_steps: Positive | None = None


class EmbedSettings(Settings):
    """`plus embed` and the Python API's embeddings."""

    representation: Literal["h", "z"] = Field("h", description="h: per-residue states; z: the projection")
    batch_size: Positive = 16


# ------------------------------------------------------------------------------------------------ tasks


class HeadSpec(Settings):
    """Prediction head: which representation it reads (h: encoder states, z: projection) and its width."""

    input: Literal["h", "z"] = "h"
    hidden: Positive = 512
    pooling: Literal["attention", "sum"] = "attention"


def headline_metrics(shape: str, classes: tuple[str, ...]) -> tuple[str, ...]:
    """The metric names an evaluation of a task of this shape (and these classes) reports."""
    from plus.tasks import SCOP_LEVELS, SECSTR8, TOPOLOGY

    if shape == "protein_classification":
        return ("accuracy", "mcc") if len(classes) == 2 else ("accuracy",)
    if shape == "protein_regression":
        return ("spearman", "pearson")
    if shape == "pair":
        return ("accuracy", "pearson", "spearman", *(f"average_precision_{level}" for level in SCOP_LEVELS))
    if tuple(classes) == tuple(SECSTR8):
        return ("accuracy_8class", "accuracy_3class")
    if tuple(classes) == tuple(TOPOLOGY):
        return ("accuracy", "accuracy_protein", "accuracy_protein_segments")
    return ("accuracy",)


class TaskSpec(Settings):
    """Everything fine-tuning and evaluation need to know about a task."""

    name: Name
    shape: Shape
    classes: tuple[str, ...] = Field((), description="class names (protein) or label letters (residue)")
    test_splits: tuple[Annotated[str, StringConstraints(pattern=r"^test")], ...] = Field(("test",), min_length=1)
    head: HeadSpec = HeadSpec()
    aux_mlm_weight: float = Field(0.3, ge=0, le=1, description="weight of the auxiliary MLM loss (0: off)")
    headline_metric: str = "accuracy"
    headline_split: str = "test"
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        if self.shape in ("protein_classification", "residue_classification") and len(self.classes) < 2:
            raise ValueError("a classification task needs at least two classes")
        if self.headline_split not in self.test_splits:
            raise ValueError(
                f"headline_split {self.headline_split!r} is not one of the test splits {list(self.test_splits)}"
            )
        metrics = headline_metrics(self.shape, self.classes)
        if self.headline_metric not in metrics:
            raise ValueError(
                f"headline_metric {self.headline_metric!r} is not reported for this task; one of {list(metrics)}"
            )
        return self

    @property
    def n_outputs(self) -> int:
        from plus.tasks import SCOP_LEVELS

        if self.shape == "pair":
            return len(SCOP_LEVELS)
        if self.shape == "protein_regression":
            return 1
        return len(self.classes)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "task") -> TaskSpec:
        return parse_settings(cls, values, where)


class ValidFromTrain(Settings):
    """Carve a deterministic validation split out of train."""

    fraction: float = Field(gt=0, lt=1)
    seed: int = 0


class KeepEnds(Settings):
    """Longer sequences keep their first keep_ends//2 and last keep_ends - keep_ends//2 residues."""

    keep_ends: int = Field(ge=2)


class Source(Settings):
    """One importer run: a format of plus/data/task_data/importers, its files by key, and its options."""

    format: str
    files: dict[str, FileSpec] = Field(min_length=1)
    options: dict[str, Any] = {}


class ArchiveMember(Settings):
    """A file inside a tar archive, read without extracting it."""

    path: str
    member: str


class LocalSource(Settings):
    """A source as an import job reads it: its files resolved to local paths (or archive members)."""

    format: str
    files: dict[str, Annotated[str, StringConstraints(min_length=1)] | ArchiveMember] = Field(min_length=1)
    options: dict[str, Any] = {}


class ImportSettings(Settings):
    """How a task's tables are checked and cut after its sources are read (`plus import-task`)."""

    expected_sizes: dict[str, Positive] = {}
    valid_from_train: ValidFromTrain | None = None
    max_length: KeepEnds | None = None
    label_map: dict[str, str] = {}


class HeadOverride(Settings):
    """A partial HeadSpec: the keys given replace the task's."""

    input: Literal["h", "z"] | None = None
    hidden: Positive | None = None
    pooling: Literal["attention", "sum"] | None = None


class TaskEntry(ImportSettings):
    """A workflow `tasks` entry: import settings plus TaskSpec fields overriding a built-in task (or defining one)."""

    sources: list[Source] = Field(min_length=1)
    shape: Shape | None = None
    classes: tuple[str, ...] | None = None
    test_splits: tuple[str, ...] | None = None
    head: HeadOverride | None = None
    aux_mlm_weight: float | None = None
    headline_metric: str | None = None
    headline_split: str | None = None
    description: str | None = None


# ------------------------------------------------------------------------------------------------ models


def _partial(model: type[Settings]) -> type[Settings]:
    """A model with the same keys, types and ranges as `model` but nothing required and no defaults filled."""
    from pydantic import create_model
    from pydantic.fields import FieldInfo

    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        partial = FieldInfo.merge_field_infos(info, default=None)
        fields[name] = (info.annotation | None, partial)
    return create_model(f"{model.__name__}Override", __base__=Settings, **fields)


PretrainOverride = _partial(PretrainSettings)
FinetuneOverride = _partial(FinetuneSettings)


class ModelEntry(Settings):
    """A workflow `models` entry: an encoder preset, its pretraining objective and per-model overrides."""

    preset: str = Field(description="a preset of `plus models`")
    objective: Objective = Field(description="plus = MLM+SFP, mlm = MLM only, none = no pretraining")
    label: str | None = Field(None, description="display name in tables and figures (default: the name)")
    pretrain: PretrainOverride = Field(default_factory=PretrainOverride)  # type: ignore[valid-type]
    finetune: FinetuneOverride = Field(default_factory=FinetuneOverride)  # type: ignore[valid-type]
    heads: dict[str, HeadOverride] = Field({}, description="per-task head overrides (the LARGE heads)")


# ------------------------------------------------------------------------------------------------ the workflow


class WorkflowConfig(Settings):
    """The whole workflow config (config/config.yaml: the offline demo; config/paper.yaml: the reproduction)."""

    seeds: list[Annotated[int, Field(ge=0)]] = Field([0], min_length=1, description="fine-tuning seeds")
    synthetic: SyntheticSettings = SyntheticSettings()
    pfam: PfamConfig
    pretrain: PretrainSettings = PretrainSettings()
    finetune: FinetuneSettings = FinetuneSettings()
    models: dict[Name, ModelEntry] = Field(min_length=1)
    tasks: dict[Name, TaskEntry] = Field(min_length=1)

    @field_validator("seeds")
    @classmethod
    def _unique(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct")
        return seeds


# ------------------------------------------------------------------------------------------------ per-job settings


class PretrainJob(Settings):
    """What one `plus pretrain` job runs."""

    name: Name
    objective: Objective
    preset: str
    training: PretrainSettings = PretrainSettings()


class ImportJob(ImportSettings):
    """What one `plus import-task` job runs: the resolved task and its sources with local file paths."""

    task: TaskSpec
    sources: list[LocalSource] = Field(min_length=1)


class FinetuneJob(Settings):
    """What one `plus finetune` job runs."""

    model: str
    task: TaskSpec
    seed: int = 0
    training: FinetuneSettings = FinetuneSettings()


class EvaluateJob(Settings):
    """What one `plus evaluate` job runs."""

    model: str
    task: TaskSpec
    seed: int = 0
    batch_size: Positive = FinetuneSettings.model_fields["eval_batch_size"].default


class ReportModel(Settings):
    """How the report shows one model."""

    name: str
    label: str
    objective: ReportObjective
    preset: str


class ReportRun(Settings):
    """One (model, task, seed) run the report must find."""

    model: str
    task: str
    seed: int


class ReportJob(Settings):
    """What `plus report` builds: every model (in table order) and every run it must find."""

    models: list[ReportModel] = Field(min_length=1, description="in table order")
    runs: list[ReportRun] = Field(min_length=1)


def workflow_schema() -> dict[str, Any]:
    """The JSON schema of the workflow config, as Snakemake validates it (workflow/schemas/config.schema.json)."""
    schema = WorkflowConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = (
        "Configuration of the PLUS workflow (config/config.yaml: offline demo; config/paper.yaml: the reproduction). "
        "Generated from plus.settings.WorkflowConfig by `plus settings-schema`; do not edit by hand."
    )
    return schema
