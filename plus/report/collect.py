"""Read and check everything a report is built from, found from its job (plus.paths): evaluation, pretraining,
task and published results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from plus.errors import InputError
from plus.io import read_json_object
from plus.paths import SUMMARY, ModelPaths, RunPaths, TaskPaths, benchmarks_dir, checkpoints_dir
from plus.report.cost import collect_costs, empty_costs
from plus.report.provenance import Provenance, read_summary, task_provenance
from plus.report.records import EvaluationRecord
from plus.settings import ReportJob, ReportSettings, TaskSpec
from plus.tasks.shapes import SHAPES

PUBLISHED_COLUMNS = ("task", "metric", "split", "model", "value", "source")
HISTORY_COLUMNS = ("step", "train_loss", "train_mlm_accuracy", "val_loss", "val_mlm_accuracy")


@dataclass(frozen=True)
class ModelInfo:
    """A model variant of the run: its config name, display label, pretraining objective, preset (or encoder type),
    encoder type and protocol (finetune or probe)."""

    name: str
    label: str
    objective: str
    preset: str
    encoder: str = "plus"
    protocol: str = "finetune"
    encoder_key: str = ""

    @property
    def pretrained_here(self) -> bool:
        """Whether the run pretrained this model's encoder, so it has pretraining results (a model of objective
        none is initialised where it is fine-tuned: it has none)."""
        return self.encoder == "plus" and self.objective in ("plus", "mlm")


@dataclass(frozen=True)
class TaskInfo:
    """A task as its evaluations describe it: shape and the headline metric the main table shows."""

    name: str
    shape: str
    headline_metric: str
    headline_split: str


@dataclass(frozen=True)
class RunKey:
    model: str
    task: str
    seed: int


@dataclass
class ReportData:
    """Everything a report needs, checked for completeness."""

    models: dict[str, ModelInfo]
    tasks: dict[str, TaskInfo]
    seeds: list[int]
    scores: pd.DataFrame  # one row per (model, task, seed, split, metric): value
    predictions: dict[RunKey, Path]
    pretraining: dict[str, dict[str, Any]]
    histories: dict[str, pd.DataFrame]
    published: pd.DataFrame  # PUBLISHED_COLUMNS plus value_text (the value as written, for its precision)
    homology_thresholds: dict[RunKey, list[float]] = field(default_factory=dict)  # pair tasks, from metrics.json
    audits: dict[str, pd.DataFrame] = field(default_factory=dict)  # task -> identity.parquet rows
    audit_summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> the audit's summary.json
    costs: pd.DataFrame = field(default_factory=empty_costs)  # one row per benchmark file (plus.report.cost)
    gpus_per_rule: dict[str, float] = field(default_factory=dict)  # rule -> GPUs per job, from the plan
    task_specs: dict[str, TaskSpec] = field(default_factory=dict)  # task -> its spec, from the plan (may be empty)
    provenance: dict[str, Provenance] = field(default_factory=dict)  # task -> where its data came from
    reference_model: str | None = None  # the model every other is tested against (None: statistics' default)
    task_summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> its summary.json (import)
    min_train_examples: int = ReportSettings.model_fields["min_train_examples"].default  # fewer: scores marked

    def pretrained(self, model: str) -> bool:
        """Whether the run pretrained a model's encoder: not a random initialisation, an alignment baseline, an
        encoder trained elsewhere or a control."""
        return self.models[model].pretrained_here


def _key(record: dict[str, Any], key: str, source: str) -> Any:
    if key not in record:
        raise InputError(f"{source}: missing key {key!r}")
    return record[key]


def models_from_settings(job: ReportJob) -> dict[str, ModelInfo]:
    """The report's models, in table order, from its settings."""
    return {
        model.name: ModelInfo(
            model.name, model.label, model.objective, model.preset, model.encoder, model.protocol, model.encoder_key
        )
        for model in job.models
    }


def evaluation_rows(record: EvaluationRecord) -> tuple[RunKey, TaskInfo, list[dict[str, Any]]]:
    """An evaluation's run, its task description and its (split, metric, value) records."""
    key = RunKey(record.model, record.task, record.seed)
    task = TaskInfo(key.task, record.shape, record.headline.metric, record.headline.split)
    return key, task, record.metric_rows()


def load_evaluation(path: Path) -> tuple[RunKey, TaskInfo, list[dict[str, Any]]]:
    """One evaluation metrics.json (plus.report.records): its run, its task description and its metric records."""
    return evaluation_rows(EvaluationRecord.read(path))


def load_published(path: Path) -> pd.DataFrame:
    """Published results TSV (task, metric, split, model, value, source), one source per row."""
    if not path.is_file():
        raise InputError(f"{path}: published results file not found")
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in PUBLISHED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing columns {missing}; expected {list(PUBLISHED_COLUMNS)}")
    values = []
    for index, row in table.iterrows():
        line = f"{path}: line {int(index) + 2}"
        for column in PUBLISHED_COLUMNS:
            if not row[column].strip():
                raise InputError(f"{line}: empty {column!r}")
        try:
            value = float(row["value"])
        except ValueError as error:
            raise InputError(f"{line}: value {row['value']!r} is not a number") from error
        values.append(value)
    table = table[list(PUBLISHED_COLUMNS)].copy()
    table["value_text"] = table["value"].str.strip()
    table["value"] = values
    duplicated = table.duplicated(["task", "metric", "split", "model"], keep=False)
    if duplicated.any():
        first = table[duplicated].iloc[0]
        raise InputError(
            f"{path}: more than one value for {first['model']!r} on {first['task']} {first['metric']} "
            f"({first['split']})"
        )
    return table


def load_history(path: Path) -> pd.DataFrame:
    """A pretraining history.csv (rows may be absent for the no-pretraining variant)."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        history = pd.read_csv(path)
    except pd.errors.EmptyDataError as error:
        raise InputError(f"{path}: empty file, expected a header with {list(HISTORY_COLUMNS)}") from error
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise InputError(f"{path}: missing columns {missing}")
    return history


def run_paths(job: ReportJob, results: str) -> dict[RunKey, RunPaths]:
    """Each run of the report's job and where its files are."""
    return {RunKey(run.model, run.task, run.seed): RunPaths(results, run.model, run.task, run.seed) for run in job.runs}


def pretraining_paths(job: ReportJob, results: str) -> dict[str, ModelPaths]:
    """Each model of the report's job pretrained here and where its pretraining files are."""
    return {name: ModelPaths(results, name) for name, info in models_from_settings(job).items() if info.pretrained_here}


def input_files(job: ReportJob) -> dict[str, list[str]]:
    """Every file (or task directory) the report reads, by kind, under the job's results root: the report rule's
    inputs."""
    runs = run_paths(job, job.results).values()
    pretrained = pretraining_paths(job, job.results).values()
    tasks = [TaskPaths(job.results, task) for task in dict.fromkeys(run.task for run in job.runs)]
    return {
        "evaluations": [paths.evaluation for paths in runs],
        "predictions": [paths.predictions for paths in runs],
        "pretraining": [paths.metrics for paths in pretrained],
        "histories": [paths.history for paths in pretrained],
        "tasks": [paths.data for paths in tasks],
        "audits": [paths.audit for paths in tasks] if job.leakage_audit else [],
    }


def _describe(key: RunKey) -> str:
    return f"run (model={key.model}, task={key.task}, seed={key.seed})"


def _missing_files(wanted: Sequence[tuple[str, str]]) -> None:
    """An InputError naming the first of the (owner, path) pairs whose file is absent, and how many more are."""
    missing = [(owner, path) for owner, path in wanted if not Path(path).is_file()]
    if missing:
        owner, path = missing[0]
        more = f" (and {len(missing) - 1} more missing files)" if len(missing) > 1 else ""
        raise InputError(f"{owner}: {path}: file not found{more}")


def collect(job: ReportJob, published: Path, results: str | Path | None = None) -> ReportData:
    """Everything the report reads, found from its job under the results root (the job's unless given; layout:
    plus.paths): each run's evaluation and predictions, each pretrained model's metrics and history, each task's
    import summary (provenance; optional) and leakage audit (when the job reads them), and every benchmark file
    with the attempts of resumed training jobs (cost). A missing or inconsistent file is an InputError naming it.
    """
    root = str(job.results if results is None else results)
    models = models_from_settings(job)
    if job.reference_model is not None and job.reference_model not in models:
        raise InputError(f"reference model {job.reference_model!r} is not among the models ({sorted(models)})")
    runs = run_paths(job, root)
    if len(runs) < len(job.runs):
        raise InputError("the report's settings list a run more than once")
    _missing_files([(_describe(k), f) for k, paths in runs.items() for f in (paths.evaluation, paths.predictions)])
    pretrained = pretraining_paths(job, root)
    _missing_files([(f"model {m!r}", f) for m, paths in pretrained.items() for f in (paths.metrics, paths.history)])

    tasks: dict[str, TaskInfo] = {}
    task_sources: dict[str, str] = {}
    thresholds: dict[RunKey, list[float]] = {}
    rows = []
    for key, paths in runs.items():
        evaluation = EvaluationRecord.read(Path(paths.evaluation))
        found, task, records = evaluation_rows(evaluation)
        if found != key:
            raise InputError(f"{paths.evaluation}: records {_describe(found)}, not the {_describe(key)} it is of")
        if key.task in tasks and tasks[key.task] != task:
            raise InputError(
                f"{paths.evaluation}: task {key.task!r} is described as {task} here but as {tasks[key.task]} "
                f"in {task_sources[key.task]}"
            )
        spec = job.tasks.get(key.task)
        if spec is not None and spec.shape != task.shape:
            raise InputError(
                f"{paths.evaluation}: task {key.task!r} is evaluated as {task.shape} here but is {spec.shape} in the "
                "report's settings"
            )
        if SHAPES[task.shape].pairs:
            thresholds[key] = list(evaluation.homology_thresholds or [])
        tasks.setdefault(key.task, task)
        task_sources.setdefault(key.task, paths.evaluation)
        rows.extend({"model": key.model, "task": key.task, "seed": key.seed, **record} for record in records)

    pretraining_metrics = {model: load_pretraining(Path(paths.metrics), model) for model, paths in pretrained.items()}
    task_names = list(tasks)
    summaries = [Path(TaskPaths(root, task).summary) for task in task_names]
    summaries = [path for path in summaries if path.is_file()]
    audits = {task: load_audit(TaskPaths(root, task)) for task in task_names} if job.leakage_audit else {}
    return ReportData(
        models=models,
        tasks=tasks,
        seeds=sorted({key.seed for key in runs}),
        scores=pd.DataFrame(rows, columns=["model", "task", "seed", "split", "metric", "value"]),
        predictions={key: Path(paths.predictions) for key, paths in runs.items()},
        pretraining=pretraining_metrics,
        histories={model: load_history(Path(paths.history)) for model, paths in pretrained.items()},
        published=load_published(Path(published)),
        homology_thresholds=thresholds,
        audits={task: table for task, (table, _) in audits.items()},
        audit_summaries={task: summary for task, (_, summary) in audits.items()},
        costs=collect_costs(
            sorted(Path(benchmarks_dir(root)).rglob("*.tsv")),
            models,
            task_names,
            job.gpus_per_rule,
            Path(checkpoints_dir(root)),
        ),
        gpus_per_rule=dict(job.gpus_per_rule),
        task_specs={name: spec for name, spec in job.tasks.items() if name in tasks},
        provenance=task_provenance(task_names, summaries, job.provenance),
        reference_model=job.reference_model,
        task_summaries={str(summary["task"]): summary for summary in map(read_summary, summaries)},
        min_train_examples=job.min_train_examples,
    )


def load_pretraining(path: Path, model: str) -> dict[str, Any]:
    """A pretraining metrics.json of `model`, checked to name it and to hold an object of test-set metrics."""
    record = read_json_object(path)
    if _key(record, "model", str(path)) != model:
        raise InputError(f"{path}: records model {record['model']!r}, not the {model!r} it is of")
    if not isinstance(_key(record, "test", str(path)), dict):
        raise InputError(f"{path}: 'test' must be an object of test-set metrics")
    return record


AUDIT_COLUMNS = ("split", "id", "max_identity")


def load_audit(paths: TaskPaths) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A task's identity table of `plus audit-leakage` and the summary.json beside it (empty where there is none)."""
    path = Path(paths.audit)
    if not path.is_file():
        raise InputError(f"task {paths.task!r}: {path}: leakage audit not found")
    summary_path = path.parent / SUMMARY
    summary = read_json_object(summary_path) if summary_path.is_file() else {}
    try:
        table = pd.read_parquet(path)
    except Exception as error:
        raise InputError(f"{path}: cannot read identity table: {error}") from error
    missing = [c for c in AUDIT_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: identity table lacks columns {missing}")
    identity = pd.to_numeric(table["max_identity"], errors="coerce")
    if identity.isna().any() or (identity < 0).any() or (identity > 1).any():
        raise InputError(f"{path}: max_identity must be numbers in [0, 1]")
    return table.assign(max_identity=identity.astype(float)), summary
