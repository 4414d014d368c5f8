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
from plus.estimates.settings import PlanSettings
from plus.fidelity import Fidelity, merged, protocol_settings
from plus.models.specs import (  # noqa: F401 (re-exported: plus.settings holds every stage's settings)
    ENCODER_TYPES,
    AuthorsEncoderSpec,
    Blosum62EncoderSpec,
    EncoderSpec,
    HuggingFaceEncoderSpec,
    OneHotEncoderSpec,
    PlusEncoderSpec,
    RandomEncoderSpec,
    WeightedSpec,
    encoder_inputs,
    parse_encoder_spec,
    spec_has_mlm_head,
)
from plus.paths import RESULTS
from plus.settings_base import Settings, SettingsError
from plus.tasks.decoding import DECODINGS, Decoding
from plus.tasks.metrics import metric_entry
from plus.tasks.shapes import SHAPES, TaskShape

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]
Shape = Literal["pair", "protein_classification", "protein_regression", "residue_classification"]
Objective = Literal["plus", "mlm", "none"]
ReportObjective = Literal["plus", "mlm", "none", "external", "alignment"]  # alignment: a baseline, no encoder
Precision = Literal["auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true"]
Md5 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Positive = Annotated[int, Field(ge=1)]
BatchOrder = Literal["length-buckets", "shuffle"]
HomologySampler = Literal["bepler", "plus-original", "authors"]
Pooling = Literal["attention", "sum", "cls"]


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
            location = _location(where, item["loc"])
            line = f"{location}: {_message(item)}" if location else _message(item)
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
    precision: Precision = Field(
        "auto", description="auto: bf16-mixed on a GPU that supports it, else 32-true (the authors trained in fp32)"
    )
    num_workers: int = Field(0, ge=0)
    seed: int = 2020
    eval_batch_pairs: Positive = Field(64, description="test pairs per validation batch")
    max_val_pairs: Positive | None = Field(
        2000, description="test pairs used for validation during training (null: all of them, as the authors)"
    )
    optimizer: Literal["adam", "bert-adam"] = Field(
        "adam",
        description="adam: torch Adam, constant lr; bert-adam: the authors' PLUS-TFM optimiser (linear warm-up over "
        "warmup_fraction of the steps, then linear decay to 0; decoupled weight decay; no bias correction)",
    )
    warmup_fraction: float = Field(0.0, ge=0, lt=1, description="bert-adam: fraction of the steps of linear warm-up")
    weight_decay: float = Field(0.0, ge=0, description="decoupled weight decay on all parameters")
    adam_eps: float = Field(1e-8, gt=0)
    grad_clip_scope: Literal["global", "per-tensor"] = Field(
        "global", description="global: one norm over all gradients; per-tensor: each parameter's clipped on its own"
    )
    mlm_only_inputs: Literal["pairs", "single-sequences"] = Field(
        "pairs",
        description="objective mlm: pairs are still drawn (2 x batch_pairs sequences per step), or batch_pairs "
        "single sequences per step, as the authors' MLM-only ablation",
    )
    mask_count: Literal["round", "authors"] = Field(
        "round",
        description="round: round-half-up(rate*len) capped per sequence; authors: floor(rate*len), for a joint-pair "
        "encoder one cap of int(rate*max_len) per pair shared in proportion to the segment lengths",
    )
    keep: Literal["final", "best"] = Field(
        "final",
        description="model.pt holds the final weights, or the best (lowest validation loss) ones (the authors' "
        "best.pt, the closer guess; which of their two checkpoints they released is unknown)",
    )
    batch_order: BatchOrder = Field(
        "length-buckets",
        description="batches of anchors of similar lengths, or a uniform shuffle per epoch (the authors)",
    )
    sfp_logit_threshold: float = Field(
        0.0, description="SFP accuracy: predict same family above this logit (the authors' RNN: 0.5, a bug)"
    )
    last_batch: Literal["drop", "keep"] = Field(
        "drop",
        description="an epoch's last n mod batch_pairs anchors: dropped (floor(n / batch_pairs) steps an epoch) or "
        "a short batch of their own (ceil, the authors' DataLoader)",
    )

    @model_validator(mode="after")
    def _schedule(self) -> PretrainSettings:
        if self.warmup_fraction > 0 and self.optimizer != "bert-adam":
            raise ValueError("warmup_fraction applies to optimizer bert-adam only")
        return self


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
    precision: Precision = Field("auto", description="as pretrain.precision (the authors: 32-true)")
    num_workers: int = Field(0, ge=0)
    homology_pairs_per_epoch: Positive = 100_000
    homology_tau: float = Field(0.5, ge=0)
    homology_epochs: Positive = 100
    homology_sampler: HomologySampler = Field(
        "bepler",
        description="bepler: a level drawn with weight N_l^tau, then a uniform pair of it; authors: the authors' "
        "HomolgySampler (an epoch's pairs grouped by drawn level; plus/data/batching/task_examples.py); "
        "plus-original: an earlier approximation of it",
    )
    max_steps: Positive | None = None
    homology_batch_size: Positive | None = Field(None, description="pairs per homology batch (null: batch_size)")
    target_scaling: Literal["standardize", "none"] = Field(
        "standardize", description="regression targets z-scored with the training mean/sd, or raw (the authors)"
    )
    batch_order: BatchOrder = Field(
        "length-buckets", description="training batches of similar lengths, or a uniform shuffle per epoch"
    )
    max_input_residues: Positive | None = Field(
        None, description="protein-level inputs keep their first N residues (the authors' PLUS-TFM: 510)"
    )
    grad_clip_scope: Literal["global", "per-module"] = Field(
        "global",
        description="global: one norm over encoder and head; per-module (the authors): the RNN encoder and protein "
        "heads each clipped to grad_clip, residue heads and a transformer encoder not clipped",
    )
    drop_pair_b_mlm: bool = Field(
        False, description="homology: the authors' quirk, (w + w^2) * MLM(A) with sequence B's MLM loss dropped"
    )
    mask_count: Literal["round", "authors"] = Field("round", description="as pretrain.mask_count (authors: theirs)")


class EvaluateSettings(Settings):
    """How `plus evaluate` scores homology pairs (docs/fidelity.md); the workflow's `evaluate` section."""

    homology_score: Literal["exceedance-sum", "authors"] = Field(
        "exceedance-sum",
        description="pair score for r/rho/AP/accuracy: sum_k P(level > k), or the authors' sum_k k * p_k",
    )
    homology_thresholds: Literal["dev", "self"] = Field(
        "dev", description="accuracy thresholds fitted on the dev split, or on the test set itself (authors' bug)"
    )


# ------------------------------------------------------------------------------------------------ tasks


class HeadSpec(Settings):
    """Prediction head: which representation it reads (h: encoder states, z: projection) and its width."""

    input: Literal["h", "z"] = "h"
    hidden: Positive | None = Field(512, description="MLP width; null: one Linear (the authors' PLUS-TFM heads)")
    pooling: Pooling = Field(
        "attention", description="attention, sum, or cls: the encoder's [CLS] state (a transformer's), no pooling"
    )


class TaskSpec(Settings):
    """Everything fine-tuning and evaluation need to know about a task."""

    name: Name
    shape: Shape
    classes: tuple[str, ...] = Field((), description="class names (protein) or label letters (residue)")
    test_splits: tuple[Annotated[str, StringConstraints(pattern=r"^test")], ...] = Field(("test",), min_length=1)
    head: HeadSpec = HeadSpec()
    aux_mlm_weight: float = Field(0.3, ge=0, le=1, description="weight of the auxiliary MLM loss (0: off)")
    file_order: bool = Field(False, description="train in file order, no shuffle (the authors' SecStr)")
    decoding: Literal["argmax", "secstr_q3", "tm_topology"] = Field(
        "argmax",
        description="per-residue tasks: argmax letters; secstr_q3: + the paper's Q3 (classes GHIBESTC); "
        "tm_topology: + decoded topologies and protein accuracies (classes IOM)",
    )
    headline_metric: str = "accuracy"
    headline_split: str = "test"
    description: str = ""
    classes_from_data: bool = Field(
        False, description="the classes are read at import (classes_file, or the train labels) into summary.json"
    )

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        shape = self.task_shape
        if shape.classified and len(self.classes) < 2 and not self.classes_from_data:
            raise ValueError("a classification task needs at least two classes")
        alphabet = self.decoder.alphabet
        if self.decoding != "argmax" and not shape.per_residue:
            raise ValueError(f"decoding {self.decoding!r} is for per-residue tasks; this task is {self.shape}")
        if alphabet is not None and tuple(self.classes) != tuple(alphabet) and not self.classes_from_data:
            raise ValueError(
                f"decoding {self.decoding!r} decodes the classes {list(alphabet)}, not {list(self.classes)}"
            )
        if self.headline_split not in self.test_splits:
            raise ValueError(
                f"headline_split {self.headline_split!r} is not one of the test splits {list(self.test_splits)}"
            )
        metrics = [name for name in shape.metric_names(self) if metric_entry(name).headline]
        if self.headline_metric not in metrics:
            raise ValueError(
                f"headline_metric {self.headline_metric!r} is not reported for this task; one of {list(metrics)}"
            )
        return self

    @property
    def task_shape(self) -> TaskShape:
        """The object that owns this shape's labels, batches, head, loss, predictions and metrics."""
        return SHAPES[self.shape]

    @property
    def decoder(self) -> Decoding:
        """How this task's per-residue letters are decoded and scored."""
        return DECODINGS[self.decoding]

    @property
    def n_outputs(self) -> int:
        return self.task_shape.n_outputs(self)

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

    classes_file: str | None = Field(None, description="a text file of the task's classes, one per line")
    classes_from_data: bool = Field(False, description="the task's classes: the distinct labels of its train split")
    expected_sizes: dict[str, Positive] = {}
    valid_from_train: ValidFromTrain | None = None
    max_length: KeepEnds | None = None
    label_map: dict[str, str | None] = Field({}, description="old label -> new label, or null to drop the records")

    @model_validator(mode="after")
    def _one_class_source(self) -> ImportSettings:
        if self.classes_file is not None and self.classes_from_data:
            raise ValueError("give classes_file or classes_from_data, not both")
        return self


class HeadOverride(Settings):
    """A partial HeadSpec: the keys given replace the task's."""

    input: Literal["h", "z"] | None = None
    hidden: Positive | None = Field(None, description="given as null: one Linear, no MLP")
    pooling: Pooling | None = None


def _sources_optional(schema: dict[str, Any]) -> None:
    """The raw config may leave out a built-in task's `sources`: WorkflowConfig fills in its official ones."""
    schema["required"] = [key for key in schema.get("required", []) if key != "sources"]
    if not schema["required"]:
        del schema["required"]


class TaskEntry(ImportSettings):
    """A workflow `tasks` entry: import settings plus TaskSpec fields overriding a built-in task (or defining one)."""

    model_config = ConfigDict(json_schema_extra=_sources_optional)

    sources: list[Source] = Field(
        min_length=1, description="default for a built-in task: its official sources (plus/tasks/official_tasks.yaml)"
    )
    shape: Shape | None = None
    classes: tuple[str, ...] | None = None
    test_splits: tuple[str, ...] | None = None
    head: HeadOverride | None = None
    aux_mlm_weight: float | None = None
    file_order: bool | None = None
    headline_metric: str | None = None
    headline_split: str | None = None
    description: str | None = None


# ------------------------------------------------------------------------------------------------ encoders
# The encoder specs, one class per encoder type, are in plus.models.specs (imported above).

Protocol = Literal["finetune", "probe"]
PROTOCOLS: tuple[str, ...] = ("finetune", "probe")


class EmbedTaskJob(Settings):
    """What one `plus embed-task` job computes: one encoder's states for every split of one task."""

    encoder: EncoderSpec
    task: TaskSpec
    representation: Literal["h", "z"] | None = Field(None, description="default: what the task's head reads")
    layout: Literal["residues", "pooled"] | None = Field(None, description="default: pooled only for summing heads")
    dtype: Literal["float16", "float32"] = Field("float16", description="per-residue states (pooled: float32)")
    residues_per_batch: int = Field(8192, ge=1, description="padded residues per forward pass")


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
EvaluateOverride = _partial(EvaluateSettings)


class TaskOverride(Settings):
    """A model's overrides of one task: its head, its auxiliary MLM weight and its training order."""

    head: HeadOverride | None = None
    aux_mlm_weight: float | None = Field(None, ge=0, le=1)
    file_order: bool | None = Field(None, description="train in file order, no shuffle (the authors' SecStr)")


class ModelEntry(Settings):
    """A workflow `models` entry: its encoder (a PLUS preset pretrained here by default), the protocol it is
    benchmarked under, and per-model overrides."""

    encoder: EncoderSpec = Field(  # type: ignore[valid-type]
        default_factory=PlusEncoderSpec,
        description="plus (a preset pretrained here, or a path), plus-authors, huggingface, onehot, blosum62, random",
    )
    protocol: Protocol = Field("finetune", description="finetune: train encoder and head; probe: frozen encoder")
    preset: str | None = Field(None, description="a preset of `plus models` (type plus without a path)")
    objective: Objective | None = Field(
        None, description="plus = MLM+SFP, mlm = MLM only, none = no pretraining (type plus without a path)"
    )
    label: str | None = Field(None, description="display name in tables and figures (default: the name)")
    fidelity: Fidelity | None = Field(
        None,
        description="a named protocol (plus/fidelity.py) over the run-wide settings, under this entry's own: "
        "authors (the authors' code, their bugs included), authors-method (their method choices, our fixes), "
        "fixed (ours); null: the run-wide settings",
    )
    pretrain: PretrainOverride = Field(default_factory=PretrainOverride)  # type: ignore[valid-type]
    finetune: FinetuneOverride = Field(default_factory=FinetuneOverride)  # type: ignore[valid-type]
    evaluate: EvaluateOverride = Field(default_factory=EvaluateOverride)  # type: ignore[valid-type]
    heads: dict[str, HeadOverride] = Field({}, description="per-task head overrides (the LARGE heads)")
    tasks: dict[str, TaskOverride] = Field({}, description="per-task overrides of this model's fine-tuning")
    architecture: dict[str, Any] = Field({}, description="config fields replacing the preset's (e.g. init)")
    corpus_max_length: Positive | None = Field(
        None,
        description="pretrain on a corpus whose sequences longer than this are dropped before the family filter "
        "(the authors' PLUS-TFM: 256); null: the shared corpus",
    )

    def protocol_layer(self, section: str) -> dict[str, Any]:
        """The settings of one section (pretrain, finetune, evaluate, tasks) that this model's fidelity selects."""
        return protocol_settings(self.fidelity).get(section, {}) if self.fidelity is not None else {}

    @property
    def pretrained_here(self) -> bool:
        """Whether the workflow makes this model's encoder (a PLUS preset without a checkpoint path): pretrained, or
        (objective none) initialised where it is fine-tuned."""
        return self.encoder.made_here

    @property
    def needs_pretraining(self) -> bool:
        """Whether the workflow runs a pretraining job for this model (objective plus or mlm)."""
        return self.pretrained_here and self.objective != "none"

    @model_validator(mode="after")
    def _consistent(self) -> ModelEntry:
        if self.pretrained_here:
            if (self.preset or self.encoder.preset) is None or self.objective is None:
                raise ValueError("a PLUS encoder pretrained here needs `preset` and `objective`")
        elif self.objective is not None or self.pretrain.model_fields_set or self.corpus_max_length is not None:
            raise ValueError(
                f"an encoder of type {self.encoder.type!r} with weights of its own is not pretrained here: "
                "leave out objective, pretrain and corpus_max_length"
            )
        return self


class ReportSettings(Settings):
    """What the comparison report adds beside the models' results (docs/comparisons.md)."""

    leakage_audit: bool = Field(
        True, description="audit each test sequence's identity to training (plus audit-leakage)"
    )
    alignment_baseline: bool = Field(True, description="add the nearest-neighbour alignment baseline as a model row")
    reference_model: str | None = Field(None, description="model every other is tested against (default: first PLUS)")
    bootstrap_resamples: Positive = Field(1000, description="paired bootstrap resamples when fewer than 2 seeds")
    comparisons: list[tuple[Name, Name]] = Field(
        [],
        description="more paired tests, each [model, against] (e.g. one encoder under two protocols), besides every "
        "model against reference_model: results/tables/pairs.*",
    )
    min_train_examples: Positive = Field(
        100, description="a task trained on fewer examples has its scores marked in the report as unreliable"
    )


# ------------------------------------------------------------------------------------------------ the workflow


class RunSelection(Settings):
    """The part of the config a run plans: the models and tasks named (each default: all); nothing else is planned."""

    models: list[Name] | None = Field(None, min_length=1, description="names under `models` (null: every model)")
    tasks: list[Name] | None = Field(None, min_length=1, description="names under `tasks` (null: every task)")


class WorkflowConfig(Settings):
    """The whole workflow config (config/config.yaml: the offline demo; config/paper.yaml: the reproduction)."""

    seeds: list[Annotated[int, Field(ge=0)]] = Field([0], min_length=1, description="fine-tuning seeds")
    fidelity: Fidelity | None = Field(
        None,
        description="a named protocol (plus/fidelity.py) under the pretrain, finetune, evaluate and tasks sections: "
        "authors, authors-method or fixed (docs/fidelity.md); null: those sections alone",
    )
    synthetic: SyntheticSettings = SyntheticSettings()
    pfam: PfamConfig | None = Field(None, description="the pretraining corpus; needed when a model is pretrained here")
    pretrain: PretrainSettings = PretrainSettings()
    finetune: FinetuneSettings = FinetuneSettings()
    evaluate: EvaluateSettings = EvaluateSettings()
    plan: PlanSettings = Field(default_factory=PlanSettings, description="run plan: device class and time limit")
    report: ReportSettings = ReportSettings()
    models: dict[Name, ModelEntry] = Field({}, description="the encoders benchmarked (none: alignment baseline only)")
    tasks: dict[Name, TaskEntry] = Field(
        min_length=1,
        description="a built-in task's keys left out take its official ones (plus/tasks/official_tasks.yaml)",
    )
    run: RunSelection = Field(
        default_factory=RunSelection, description="plan only these models and tasks (plus.jobs.select_run)"
    )

    @model_validator(mode="before")
    @classmethod
    def _protocol_under_sections(cls, config: Any) -> Any:
        """A run-wide fidelity's settings under the config's own sections (its tasks: configured ones only)."""
        if not isinstance(config, dict) or config.get("fidelity") not in ("authors", "authors-method", "fixed"):
            return config
        protocol = protocol_settings(config["fidelity"])
        config = dict(config)
        for section in ("pretrain", "finetune", "evaluate"):
            own = config.get(section)
            if own is None or isinstance(own, dict):
                config[section] = merged(protocol[section], own or {})
        tasks = config.get("tasks")
        if isinstance(tasks, dict):
            config["tasks"] = {
                name: merged(protocol["tasks"].get(name, {}), entry) if isinstance(entry, dict) else entry
                for name, entry in tasks.items()
            }
        return config

    @field_validator("tasks", mode="before")
    @classmethod
    def _official_defaults(cls, tasks: Any) -> Any:
        from plus.tasks import with_official_defaults

        if not isinstance(tasks, dict):
            return tasks
        return {
            name: with_official_defaults(name, entry) if isinstance(entry, dict) else entry
            for name, entry in tasks.items()
        }

    @field_validator("seeds")
    @classmethod
    def _unique(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct")
        return seeds

    @model_validator(mode="after")
    def _something_to_run(self) -> WorkflowConfig:
        if not self.models and not self.report.alignment_baseline:
            raise ValueError("models: no model and report.alignment_baseline false: nothing to benchmark")
        return self

    @model_validator(mode="after")
    def _corpus_if_pretrained(self) -> WorkflowConfig:
        pretrained = [name for name, entry in self.models.items() if entry.needs_pretraining]
        if pretrained and self.pfam is None:
            raise ValueError(
                f"pfam: required key missing: models {', '.join(pretrained)} are pretrained here (objective plus or "
                "mlm); give the Pfam source, or objective none"
            )
        return self


# ------------------------------------------------------------------------------------------------ per-job settings


class PretrainJob(Settings):
    """What one `plus pretrain` job runs."""

    name: Name
    objective: Objective
    preset: str
    architecture: dict[str, Any] = Field({}, description="config fields replacing the preset's")
    training: PretrainSettings = PretrainSettings()


class ImportJob(ImportSettings):
    """What one `plus import-task` job runs: the resolved task and its sources with local file paths."""

    task: TaskSpec
    sources: list[LocalSource] = Field(min_length=1)
    downloaded_from: list[str] = Field([], description="hosts of the task's url sources, when all its files are")


class FinetuneJob(Settings):
    """What one `plus finetune` (or `plus probe`) job runs."""

    model: str
    task: TaskSpec
    seed: int = 0
    training: FinetuneSettings = FinetuneSettings()
    encoder: EncoderSpec = Field(  # type: ignore[valid-type]
        description="the encoder to fine-tune (a model pretrained here: its results/pretrain/<model>/model.pt)"
    )


class EvaluateJob(EvaluateSettings):
    """What one `plus evaluate` job runs."""

    model: str
    task: TaskSpec
    seed: int = 0
    batch_size: Positive = FinetuneSettings.model_fields["eval_batch_size"].default


class ReportModel(Settings):
    """How the report shows one model."""

    name: str
    label: str
    objective: ReportObjective = Field(
        description="how the encoder was pretrained: here (plus/mlm), not at all (none), elsewhere (external); "
        "alignment: a baseline without an encoder"
    )
    preset: str = Field(description="the architecture: a preset, or the encoder type")
    encoder: str = Field("plus", description="encoder type")
    protocol: Protocol = "finetune"
    encoder_key: str = Field("", description="the encoder's identity: models sharing it differ only in protocol")


class ReportRun(Settings):
    """One (model, task, seed) run the report must find."""

    model: str
    task: str
    seed: int


class ReportJob(Settings):
    """What `plus report` builds: every model (in table order) and every run it must find, under a results root
    whose layout is plus.paths'."""

    models: list[ReportModel] = Field(min_length=1, description="in table order")
    runs: list[ReportRun] = Field(
        min_length=1, description="in table order; a run's kind (finetune, probe, alignment) is its model's"
    )
    results: str = Field(RESULTS, description="the results root every input is found under (plus.paths)")
    leakage_audit: bool = Field(False, description="read each task's leakage audit (results/audit/<task>)")
    reference_model: str | None = None
    provenance: dict[str, dict[str, str]] = Field({}, description="task -> {kind, detail} of its data")
    gpus_per_rule: dict[str, float] = Field({}, description="GPUs each rule's jobs ask for (for GPU hours)")
    tasks: dict[str, TaskSpec] = Field({}, description="task -> its spec as the workflow resolved it")
    bootstrap_resamples: Positive = ReportSettings.model_fields["bootstrap_resamples"].default
    comparisons: list[tuple[str, str]] = Field([], description="more paired tests: [model, against]")
    min_train_examples: Positive = ReportSettings.model_fields["min_train_examples"].default

    @model_validator(mode="after")
    def _runs_of_known_models(self) -> ReportJob:
        names = [model.name for model in self.models]
        unknown = sorted({run.model for run in self.runs} - set(names))
        if unknown:
            raise ValueError(f"runs of models {unknown}, which are not among the models {names}")
        return self


def workflow_schema() -> dict[str, Any]:
    """The JSON schema of the workflow config, as Snakemake validates it (workflow/schemas/config.schema.json)."""
    schema = WorkflowConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = (
        "Configuration of the PLUS workflow (config/config.yaml: offline demo; config/paper.yaml: the reproduction). "
        "Generated from plus.settings.WorkflowConfig by `plus settings-schema`; do not edit by hand."
    )
    return schema
