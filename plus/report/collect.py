"""Read and check everything a report is built from: evaluation, pretraining and published results."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from plus.errors import InputError
from plus.report.cost import collect_costs, empty_costs
from plus.report.provenance import Provenance, read_summary, task_provenance
from plus.report.records import EvaluationRecord
from plus.settings import ReportJob, ReportSettings, TaskSpec
from plus.tasks import BUILTIN_TASKS
from plus.tasks.shapes import SHAPES

log = logging.getLogger(__name__)

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


def read_json_file(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or an InputError naming the file."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        value = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


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


def runs_from_settings(job: ReportJob) -> list[RunKey]:
    """Every run the report must find, from its settings."""
    return [RunKey(run.model, run.task, run.seed) for run in job.runs]


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


def _task_order(names: Iterable[str]) -> list[str]:
    builtin = [name for name in BUILTIN_TASKS if name in names]
    return builtin + sorted(set(names) - set(builtin))


def _sibling_run(path: Path, runs_by_dir: dict[Path, Any], what: str, metrics_option: str) -> Any:
    directory = path.resolve().parent
    if directory not in runs_by_dir:
        raise InputError(f"{path}: {what} has no metrics.json beside it among {metrics_option}")
    return runs_by_dir[directory]


def collect(
    *,
    evaluations: Sequence[Path],
    predictions: Sequence[Path],
    pretraining: Sequence[Path],
    histories: Sequence[Path],
    published: Path,
    models: dict[str, ModelInfo],
    expected: Sequence[RunKey] | None = None,
    audits: Sequence[Path] = (),
    benchmarks: Sequence[Path] = (),
    gpus_per_rule: Mapping[str, float] | None = None,
    task_specs: Mapping[str, TaskSpec] | None = None,
    provenance: Mapping[str, Any] | None = None,
    task_summaries: Sequence[Path] = (),
    reference_model: str | None = None,
    min_train_examples: int | None = None,
    checkpoints_dir: Path | None = None,
) -> ReportData:
    """Load every input; fail on a missing, duplicated or unexpected run instead of leaving holes.

    Optional: `audits` (identity.parquet of `plus audit-leakage`, summary.json beside it), `benchmarks`
    (Snakemake benchmark TSVs) with `gpus_per_rule` (rule -> GPUs requested), `task_specs` (task -> its spec, as
    the plan resolved it; a task without one is described by its evaluations and predictions), `provenance`
    ({task: {kind, detail}}, overriding what `task_summaries` (results/tasks/{task}/summary.json) imply) and
    `reference_model` (default: the first model pretrained with MLM + SFP, else the first model) and
    `min_train_examples` (default: ReportSettings'; a task trained on fewer has its scores marked) and
    `checkpoints_dir` (results/checkpoints: the attempts.tsv of resumed training jobs, added to their cost).
    """
    if not evaluations:
        raise InputError("--evaluations: no evaluation metrics.json files given")
    tasks: dict[str, TaskInfo] = {}
    task_sources: dict[str, Path] = {}
    run_files: dict[RunKey, Path] = {}
    runs_by_dir: dict[Path, RunKey] = {}
    thresholds: dict[RunKey, list[float]] = {}
    rows = []
    for path in map(Path, evaluations):
        evaluation = EvaluationRecord.read(path)
        key, task, records = evaluation_rows(evaluation)
        if SHAPES[task.shape].pairs:
            thresholds[key] = list(evaluation.homology_thresholds or [])
        if key.model not in models:
            raise InputError(f"{path}: model {key.model!r} is not in --models-json ({sorted(models)})")
        if key in run_files:
            raise InputError(f"{path}: run {key} is also reported by {run_files[key]}")
        if key.task in tasks and tasks[key.task] != task:
            raise InputError(
                f"{path}: task {key.task!r} is described as {task} here but as {tasks[key.task]} "
                f"in {task_sources[key.task]}"
            )
        tasks.setdefault(key.task, task)
        task_sources.setdefault(key.task, path)
        run_files[key] = path
        runs_by_dir[path.resolve().parent] = key
        rows.extend({"model": key.model, "task": key.task, "seed": key.seed, **record} for record in records)

    for name, spec in (task_specs or {}).items():
        if name in tasks and spec.shape != tasks[name].shape:
            raise InputError(
                f"{task_sources[name]}: task {name!r} is evaluated as {tasks[name].shape} here but is "
                f"{spec.shape} in the report's settings"
            )
    seeds = sorted({key.seed for key in run_files})
    task_names = _task_order(tasks)
    if expected is None:
        expected = _default_expected(models, task_names, seeds, run_files)
    missing = [key for key in expected if key not in run_files]
    if missing:
        listed = ", ".join(f"(model={k.model}, task={k.task}, seed={k.seed})" for k in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise InputError(f"missing evaluation metrics.json for expected run(s) {listed}{more}")
    unexpected = sorted(set(run_files) - set(expected), key=lambda k: (k.model, k.task, k.seed))
    if unexpected:
        raise InputError(f"{run_files[unexpected[0]]}: run {unexpected[0]} is not among the expected runs")
    expected_tasks = [key.task for key in expected]
    task_names = sorted(task_names, key=expected_tasks.index)  # the order of the expected runs (the config's)

    prediction_files: dict[RunKey, Path] = {}
    for path in map(Path, predictions):
        key = _sibling_run(path, runs_by_dir, "predictions file", "--evaluations")
        prediction_files[key] = path
    without = [key for key in run_files if key not in prediction_files]
    if without:
        key = without[0]
        raise InputError(
            f"no predictions.parquet given for run (model={key.model}, task={key.task}, seed={key.seed}); "
            f"expected one beside {run_files[key]}"
        )

    pretraining_metrics: dict[str, dict[str, Any]] = {}
    pretraining_dirs: dict[Path, str] = {}
    for path in map(Path, pretraining):
        record = read_json_file(path)
        model = str(_key(record, "model", str(path)))
        if model not in models:
            raise InputError(f"{path}: model {model!r} is not in --models-json ({sorted(models)})")
        if not isinstance(_key(record, "test", str(path)), dict):
            raise InputError(f"{path}: 'test' must be an object of test-set metrics")
        pretraining_metrics[model] = record
        pretraining_dirs[path.resolve().parent] = model
    history_tables: dict[str, pd.DataFrame] = {}
    for path in map(Path, histories):
        model = _sibling_run(path, pretraining_dirs, "history file", "--pretraining")
        history_tables[model] = load_history(path)
    for model in (name for name, info in models.items() if info.pretrained_here):
        if model not in pretraining_metrics:
            raise InputError(f"missing pretraining metrics.json for model {model!r}")
        if model not in history_tables:
            raise InputError(f"missing pretraining history.csv for model {model!r}")

    if reference_model is not None and reference_model not in models:
        raise InputError(f"reference model {reference_model!r} is not among the models ({sorted(models)})")
    audit_tables, audit_summaries = load_audits(audits, task_names)
    return ReportData(
        models=dict(models),
        tasks={name: tasks[name] for name in task_names},
        seeds=seeds,
        scores=pd.DataFrame(rows, columns=["model", "task", "seed", "split", "metric", "value"]),
        predictions=prediction_files,
        pretraining=pretraining_metrics,
        histories=history_tables,
        published=load_published(Path(published)),
        homology_thresholds=thresholds,
        audits=audit_tables,
        audit_summaries=audit_summaries,
        costs=collect_costs(benchmarks, models, task_names, gpus_per_rule, checkpoints_dir),
        gpus_per_rule=dict(gpus_per_rule or {}),
        task_specs={name: spec for name, spec in (task_specs or {}).items() if name in task_names},
        provenance=task_provenance(task_names, task_summaries, provenance),
        reference_model=reference_model,
        task_summaries=load_task_summaries(task_summaries, task_names),
        **({} if min_train_examples is None else {"min_train_examples": min_train_examples}),
    )


def load_task_summaries(paths: Sequence[Path], tasks: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Task -> its summary.json (of `plus import-task`), for the tasks of the report."""
    summaries = {}
    for path in map(Path, paths):
        summary = read_summary(path)
        if str(summary["task"]) in tasks:
            summaries[str(summary["task"])] = summary
    return summaries


def _default_expected(
    models: Mapping[str, ModelInfo], tasks: list[str], seeds: list[int], runs: Mapping[RunKey, Path]
) -> list[RunKey]:
    """Every model x task x seed; an alignment baseline (deterministic) once per task, at the seeds it has."""
    expected = []
    for model, info in models.items():
        for task in tasks:
            if info.objective == "alignment":
                found = sorted(k.seed for k in runs if k.model == model and k.task == task)
                expected += [RunKey(model, task, seed) for seed in found or seeds[:1]]
            else:
                expected += [RunKey(model, task, seed) for seed in seeds]
    return expected


AUDIT_COLUMNS = ("split", "id", "max_identity")


def load_audits(paths: Sequence[Path], tasks: Sequence[str]) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Identity tables of `plus audit-leakage` by task (the summary.json beside each names the task, else the
    directory does); audits of tasks not in the run are skipped."""
    tables: dict[str, pd.DataFrame] = {}
    summaries: dict[str, Any] = {}
    for path in map(Path, paths):
        summary_path = path.parent / "summary.json"
        summary = read_json_file(summary_path) if summary_path.is_file() else {}
        task = str(summary.get("task") or path.parent.name)
        if task not in tasks:
            log.warning("%s: audit of task %r, which this report does not have; skipped", path, task)
            continue
        if task in tables:
            raise InputError(f"{path}: a second leakage audit of task {task!r}")
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
        tables[task] = table.assign(max_identity=identity.astype(float))
        summaries[task] = summary
    return tables, summaries
