"""One workflow config -> the settings of every job: Pfam preparation, downloads, pretraining per model, import
per task, fine-tuning and evaluation per (model, task, seed), and the report.

The Snakemake rules call `plan_workflow(config)` once and pass each job its settings (as canonical JSON) on the
command line; a job writes them into its own output directory as config.json. Paths of inputs and outputs are
not settings: the rules give them to the commands.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from plus.errors import InputError
from plus.estimates.requests import RuleRequests, rule_requests
from plus.fidelity import merged
from plus.models.specs import encoder_spec_class
from plus.paths import RESULTS, ModelPaths, TaskPaths
from plus.settings import (
    EmbedTaskJob,
    EncoderSpec,
    EvaluateJob,
    EvaluateSettings,
    FinetuneJob,
    FinetuneSettings,
    ImportJob,
    ModelEntry,
    PathSource,
    PfamConfig,
    PfamSettings,
    PlusEncoderSpec,
    PretrainJob,
    PretrainSettings,
    RandomEncoderSpec,
    ReportJob,
    ReportModel,
    ReportRun,
    SettingsError,
    SyntheticSettings,
    TaskEntry,
    TaskSpec,
    UrlSource,
    WorkflowConfig,
    as_json,
    encoder_inputs,
    parse_settings,
    spec_has_mlm_head,
)
from plus.tasks import layout_for, representation_for, resolve_task

DOWNLOAD_DIR = "resources/downloads"
SYNTHETIC_DIR = "resources/synthetic"  # where rule synthetic writes the demo data
CORPUS_DIR = "results/pfam"  # one directory per corpus under it, named by corpus_key
CORPUS_KEY_LENGTH = 12
EMBEDDINGS_DIR = "results/embeddings"  # a probe's frozen states: <EMBEDDINGS_DIR>/<embedding_key>/<task>
EMBEDDING_KEY_LENGTH = 12
BASELINE = "alignment-nn"  # the report's nearest-neighbour alignment baseline
IMPORT_KEYS = (
    "sources",
    "expected_sizes",
    "valid_from_train",
    "max_length",
    "label_map",
    "classes_file",
    "classes_from_data",
)


@dataclass(frozen=True)
class Download:
    """One file the download step fetches (url) or stages (path), and where it lands."""

    group: str
    name: str
    source: UrlSource | PathSource

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def target(self) -> str:
        return f"{DOWNLOAD_DIR}/{self.key}"

    def arguments(self) -> list[str]:
        """`plus download` arguments (each a separate word; the rule quotes them)."""
        words = ["--url", self.source.url] if isinstance(self.source, UrlSource) else ["--path", self.source.path]
        if self.source.md5:
            words += ["--md5", self.source.md5]
        if isinstance(self.source, UrlSource) and self.source.md5_list:
            words += ["--md5-list", self.source.md5_list]
        return words


def _local_name(source: UrlSource | PathSource) -> str:
    """File name of a downloaded or staged source: `name`, else the last part of its url or path."""
    if source.name:
        return source.name
    where = source.url if isinstance(source, UrlSource) else source.path
    name = os.path.basename(where.split("?")[0].rstrip("/"))
    if not name:
        raise InputError(f"config source {where!r}: cannot tell a file name from it; give a `name`")
    return name


def local_path(group: str, spec: Any) -> str:
    """The file on disk that a config file spec stands for (the download target for url/path specs)."""
    if isinstance(spec, str):
        return spec
    return f"{DOWNLOAD_DIR}/{group}/{_local_name(spec)}"


def _local_file(group: str, spec: Any) -> str | dict[str, str]:
    """A file value for the import settings: a path, or {path, member} for a file inside an archive."""
    path = local_path(group, spec)
    if not isinstance(spec, str) and spec.member:
        return {"path": path, "member": spec.member}
    return path


def embedding_key(job: EmbedTaskJob) -> str:
    """A short hash of an embed-task job's settings: the encoder spec, the task (its splits), representation,
    layout, dtype and batch budget. The spec names weights by path, not by content: hashing a large weights file
    whenever the workflow is planned (`snakemake -n`) would be slow, and a changed file at the same path reruns the
    job anyway (it is the job's input); the manifest records the weights' sha256 when the states are computed."""
    return hashlib.sha256(as_json(job).encode()).hexdigest()[:EMBEDDING_KEY_LENGTH]


def corpus_key(settings: PfamSettings, source: Any) -> str:
    """A short hash of a corpus's preparation settings and its source (a path or a url/path spec)."""
    spec = source if isinstance(source, str) else source.model_dump(mode="json")
    text = json.dumps({"settings": settings.model_dump(mode="json"), "source": spec}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:CORPUS_KEY_LENGTH]


@dataclass(frozen=True)
class WorkflowPlan:
    """The per-job settings of a whole workflow config (see the module docstring)."""

    config: WorkflowConfig
    task_specs: dict[str, TaskSpec]
    downloads: dict[str, Download]
    requests: RuleRequests  # what each rule's jobs ask SLURM for: runtime per attempt, GPUs, retries

    @property
    def models(self) -> list[str]:
        return list(self.config.models)

    @property
    def tasks(self) -> list[str]:
        return list(self.config.tasks)

    @property
    def seeds(self) -> list[int]:
        return list(self.config.seeds)

    @property
    def synthetic(self) -> SyntheticSettings:
        return self.config.synthetic

    @property
    def corpora(self) -> list[str]:
        """The key of every Pfam corpus the models pretrain on: the shared one and one per other length limit; none
        when nothing is pretrained here."""
        return sorted(self._corpus_settings()) if self.pretrained_models else []

    @property
    def shared_corpus(self) -> str:
        """The key of the corpus prepared with the pfam section's own settings."""
        return corpus_key(self.pfam(), self._pfam_config().source)

    def corpus_of(self, model: str) -> str:
        """The key of the corpus a model pretrains on."""
        limit = self.config.models[model].corpus_max_length
        return self.shared_corpus if limit is None else corpus_key(self._limited(limit), self._pfam_config().source)

    def corpus_dir(self, corpus: str) -> str:
        """Where a corpus is prepared: keyed by its settings and source, so configs never share one by mistake."""
        return f"{CORPUS_DIR}/{corpus}"

    def pfam(self, corpus: str | None = None) -> PfamSettings:
        """The preparation settings of a corpus by key (default: the shared pfam section's)."""
        if corpus is None:
            return PfamSettings(**self._pfam_config().model_dump(exclude={"source"}))
        try:
            return self._corpus_settings()[corpus]
        except KeyError:
            raise InputError(f"no Pfam corpus {corpus!r} in this config (known: {', '.join(self.corpora)})") from None

    def _limited(self, max_length: int) -> PfamSettings:
        return self.pfam().model_copy(update={"max_length": max_length})

    def _corpus_settings(self) -> dict[str, PfamSettings]:
        limits = {self.config.models[model].corpus_max_length for model in self.pretrained_models} - {None}
        found = {self.shared_corpus: self.pfam()}
        for limit in limits:
            settings = self._limited(limit)
            found[corpus_key(settings, self._pfam_config().source)] = settings
        return found

    def _pfam_config(self) -> PfamConfig:
        if self.config.pfam is None:
            raise InputError("config pfam: no Pfam section (no model is pretrained here)")
        return self.config.pfam

    @property
    def pfam_input(self) -> str:
        source = self._pfam_config().source
        if not isinstance(source, str) and source.member:
            raise InputError("config pfam.source: `member` is not supported; give the Pfam-A.fasta(.gz) itself")
        return local_path("pfam", source)

    @property
    def pretrained_models(self) -> list[str]:
        """The models whose encoder the workflow pretrains (PLUS presets without a checkpoint path, objective plus or
        mlm); a model of objective none is initialised where it is fine-tuned."""
        return [model for model, entry in self.config.models.items() if entry.needs_pretraining]

    def models_with(self, protocol: str) -> list[str]:
        return [model for model, entry in self.config.models.items() if entry.protocol == protocol]

    def pretrain(self, model: str) -> PretrainJob:
        entry = self.config.models[model]
        training = PretrainSettings(
            **{
                **self.config.pretrain.model_dump(),
                **entry.protocol_layer("pretrain"),
                **entry.pretrain.model_dump(exclude_unset=True),
            }
        )
        preset = entry.preset or entry.encoder.preset
        return PretrainJob(
            name=model, objective=entry.objective, preset=preset, architecture=entry.architecture, training=training
        )

    def encoder_spec(self, model: str) -> EncoderSpec:
        """The model's encoder as the commands open it: a model pretrained here reads its pretraining output."""
        entry = self.config.models[model]
        if entry.needs_pretraining:
            return PlusEncoderSpec(path=ModelPaths(RESULTS, model).encoder)
        if entry.pretrained_here:  # objective none: the preset's seeded initialisation, made by the job that uses it
            like = PlusEncoderSpec(preset=entry.preset or entry.encoder.preset, architecture=entry.architecture)
            return RandomEncoderSpec(type="random", like=like, seed=self.pretrain(model).training.seed)
        return entry.encoder

    def encoder_inputs(self, model: str) -> list[str]:
        """The files or directories a model's encoder is read from (none for the parameter-free controls)."""
        return encoder_inputs(self.encoder_spec(model))

    def embed_task(self, model: str, task: str) -> EmbedTaskJob:
        """The states a probe of `model` on `task` trains on, computed once for every seed: the task as configured
        (not the model's head) with the representation and layout its head reads filled in, so that it depends on
        what the states are only, and models with the same encoder and states get equal jobs."""
        spec = self.task_spec(model, task)
        return EmbedTaskJob(
            encoder=self.encoder_spec(model),
            task=self.task_specs[task],
            representation=representation_for(spec),
            layout=layout_for(spec),
        )

    def embedding_key(self, model: str, task: str) -> str:
        """A short hash of embed_task(model, task): equal for probes whose states are the same (EMBEDDINGS_DIR)."""
        return embedding_key(self.embed_task(model, task))

    def embedding_dir(self, model: str, task: str) -> str:
        """Where the states of a probe of `model` on `task` are stored, shared by every model with the same key."""
        return f"{EMBEDDINGS_DIR}/{self.embedding_key(model, task)}/{task}"

    def embedding_jobs(self) -> dict[tuple[str, str], EmbedTaskJob]:
        """One embed-task job per distinct (key, task) over every probed model and task."""
        jobs: dict[tuple[str, str], EmbedTaskJob] = {}
        for model in self.models_with("probe"):
            for task in self.tasks:
                job = self.embed_task(model, task)
                jobs.setdefault((embedding_key(job), task), job)
        return jobs

    def embedding_model(self, key: str, task: str) -> str:
        """A probed model whose states on `task` have this key (the first in the config)."""
        for model in self.models_with("probe"):
            if task in self.tasks and self.embedding_key(model, task) == key:
                return model
        raise InputError(f"no probed model's states on {task!r} have the key {key!r}")

    def import_task(self, task: str) -> ImportJob:
        entry = self.config.tasks[task]
        sources = [
            {
                "format": source.format,
                "files": {key: _local_file(task, spec) for key, spec in source.files.items()},
                "options": source.options,
            }
            for source in entry.sources
        ]
        settings = entry.model_dump(include=set(IMPORT_KEYS) - {"sources"})
        settings["downloaded_from"] = self.download_hosts(task) or []
        return parse_settings(ImportJob, {**settings, "sources": sources, "task": self.task_specs[task]})

    def import_inputs(self, task: str) -> list[str]:
        """Every local file the import of one task reads."""
        entry = self.config.tasks[task]
        paths = {local_path(task, spec) for source in entry.sources for spec in source.files.values()}
        return sorted(paths)

    def local_sources(self) -> list[tuple[str, str]]:
        """(config key, path) of every local file the config names: a plain path, or the `path` of a staged copy."""
        pfam = self.config.pfam
        specs = [("pfam.source", pfam.source)] if pfam is not None and self.pretrained_models else []
        for task, entry in self.config.tasks.items():
            for index, source in enumerate(entry.sources):
                specs += [(f"tasks.{task}.sources.{index}.files.{key}", spec) for key, spec in source.files.items()]
        found = [(key, spec) for key, spec in specs if isinstance(spec, str)]
        return found + [(f"{key}.path", spec.path) for key, spec in specs if isinstance(spec, PathSource)]

    def check_local_sources(self, made: Collection[str] = ()) -> None:
        """An InputError naming the config key of the first local file that is missing and that no rule makes:
        `made` lists the paths rules of the workflow write, besides the downloads."""
        produced = {os.path.normpath(path) for path in [*made, *(d.target for d in self.downloads.values())]}
        for key, path in self.local_sources():
            if os.path.normpath(path) not in produced and not os.path.exists(path):
                raise InputError(f"{key}: no such file {path!r}")

    def task_spec(self, model: str, task: str) -> TaskSpec:
        """The task as a model fine-tunes it: the model's head override applied; no auxiliary MLM for an encoder
        without an MLM head."""
        spec = self.task_specs[task]
        entry = self.config.models[model]
        protocol = entry.protocol_layer("tasks").get(task)
        if protocol is not None:
            values = merged(spec.to_dict(), protocol)
            spec = parse_settings(TaskSpec, values, f"models.{model}.fidelity ({entry.fidelity}), task {task}")
        if task in entry.heads:
            head = {**spec.head.model_dump(), **entry.heads[task].model_dump(exclude_unset=True)}
            spec = parse_settings(TaskSpec, {**spec.to_dict(), "head": head}, f"models.{model}.heads.{task}")
        values = spec.to_dict()
        override = entry.tasks.get(task)
        if override is not None:
            if override.head is not None:
                values["head"] = {**values["head"], **override.head.model_dump(exclude_unset=True)}
            if override.aux_mlm_weight is not None:
                values["aux_mlm_weight"] = override.aux_mlm_weight
            if override.file_order is not None:
                values["file_order"] = override.file_order
        if not spec_has_mlm_head(entry.encoder):
            values["aux_mlm_weight"] = 0.0
        return parse_settings(TaskSpec, values, f"models.{model}.tasks.{task}")

    def finetune_settings(self, model: str) -> FinetuneSettings:
        entry = self.config.models[model]
        return FinetuneSettings(
            **{
                **self.config.finetune.model_dump(),
                **entry.protocol_layer("finetune"),
                **entry.finetune.model_dump(exclude_unset=True),
            }
        )

    def evaluate_settings(self, model: str) -> EvaluateSettings:
        """How a model's evaluations score: the run-wide settings, its fidelity's, its own `evaluate` entry."""
        entry = self.config.models[model]
        return EvaluateSettings(
            **{
                **self.config.evaluate.model_dump(),
                **entry.protocol_layer("evaluate"),
                **entry.evaluate.model_dump(exclude_unset=True),
            }
        )

    def finetune(self, model: str, task: str, seed: int) -> FinetuneJob:
        return FinetuneJob(
            model=model,
            task=self.task_spec(model, task),
            seed=int(seed),
            training=self.finetune_settings(model),
            encoder=self.encoder_spec(model),
        )

    def evaluate(self, model: str, task: str, seed: int) -> EvaluateJob:
        return EvaluateJob(
            **self.evaluate_settings(model).model_dump(),
            model=model,
            task=self.task_spec(model, task),
            seed=int(seed),
            batch_size=self.finetune_settings(model).eval_batch_size,
        )

    def runs(self) -> list[ReportRun]:
        """Every (model, task, seed) evaluation the report must find, in table order (the baseline: seed 0)."""
        runs = [ReportRun(model=m, task=t, seed=s) for m in self.models for t in self.tasks for s in self.seeds]
        if self.config.report.alignment_baseline:
            runs += [ReportRun(model=BASELINE, task=t, seed=0) for t in self.tasks]
        return runs

    def download_hosts(self, task: str) -> list[str] | None:
        """The hosts a task's files are downloaded from when all of them are url sources, else None."""
        specs = [spec for source in self.config.tasks[task].sources for spec in source.files.values()]
        if specs and all(isinstance(spec, UrlSource) for spec in specs):
            return sorted({spec.url.split("/")[2] for spec in specs if "://" in spec.url})
        return None

    def task_provenance(self, task: str) -> dict[str, str]:
        """Where a task's data comes from: downloaded (official sources), or local files (the report infers
        synthetic data from the generator's manifest, official data from its content fingerprints)."""
        hosts = self.download_hosts(task)
        return {} if hosts is None else {"kind": "official", "detail": f"downloaded from {', '.join(hosts)}"}

    def report_context(self) -> dict[str, Any]:
        """What the HTML report's captions say of this run, from the resolved settings (not the raw config)."""
        report = self.report()
        models = []
        for model in report.models:
            entry = self.config.models.get(model.name)
            description = {**model.model_dump(exclude={"encoder_key"}), "pretraining": None}
            description["origin"] = _origin(model, entry)
            if model.objective == "alignment":
                description["protocol"] = "none"
            if entry is not None and entry.needs_pretraining:
                description["pretraining"] = self.pretrain(model.name).training.model_dump(mode="json")
            models.append(description)
        pfam = None
        if self.pretrained_models and self.config.pfam is not None:
            source = self.config.pfam.source
            pfam = {"source": source if isinstance(source, str) else source.model_dump(mode="json", exclude_none=True)}
            pfam["release"] = self.config.pfam.release
        return {
            "seeds": self.seeds,
            "tasks": self.tasks,
            "models": models,
            "pretrained": [m for m in models if m["pretraining"] is not None],
            "pfam": pfam,
            "comparisons": [list(pair) for pair in report.comparisons],
        }

    def replaced_outputs(self) -> list[str]:
        """The synthetic data, task imports and pretrained models in the working directory that another config (or
        an earlier version of this one) made differently at the same path: running this config replaces them."""
        planned: dict[str, tuple[Any, dict[str, str]]] = {}
        if any(path.startswith(f"{SYNTHETIC_DIR}/") for _, path in self.local_sources()):
            planned[SYNTHETIC_DIR] = (self.synthetic, {})
        planned.update({TaskPaths(RESULTS, task).data: (self.import_task(task), {}) for task in self.tasks})
        for model in self.pretrained_models:
            corpus = self.corpus_dir(self.corpus_of(model))
            planned[ModelPaths(RESULTS, model).directory] = (self.pretrain(model), {"train": f"{corpus}/train"})
        replaced = []
        for directory, (settings, inputs) in planned.items():
            record = _run_record(os.path.join(directory, "config.json"))
            if record is None:
                continue
            recorded_inputs = record.get("inputs") or {}
            same_settings = _without_none(record.get("settings")) == _without_none(settings.model_dump(mode="json"))
            if not same_settings or any(recorded_inputs.get(key) != value for key, value in inputs.items()):
                replaced.append(directory)
        return replaced

    def report(self) -> ReportJob:
        models = [
            ReportModel(
                name=name,
                label=entry.label or name,
                objective=entry.objective or ("external" if entry.encoder.trained_elsewhere else "none"),
                preset=entry.preset or getattr(entry.encoder, "preset", None) or entry.encoder.type,
                encoder=entry.encoder.type,
                protocol=entry.protocol,
                encoder_key=as_json(self.encoder_spec(name)),
            )
            for name, entry in self.config.models.items()
        ]
        if self.config.report.alignment_baseline:
            models.append(
                ReportModel(
                    name=BASELINE, label="Alignment NN", objective="alignment", preset="alignment", encoder="none"
                )
            )
        provenance = {task: found for task in self.tasks if (found := self.task_provenance(task))}
        return ReportJob(
            models=models,
            runs=self.runs(),
            leakage_audit=self.config.report.leakage_audit,
            reference_model=self.config.report.reference_model,
            provenance=provenance,
            gpus_per_rule=self.requests.gpus_per_rule(),
            tasks={task: self.task_specs[task] for task in self.tasks},
            bootstrap_resamples=self.config.report.bootstrap_resamples,
            comparisons=self.config.report.comparisons,
            min_train_examples=self.config.report.min_train_examples,
        )


def _origin(model: ReportModel, entry: ModelEntry | None) -> str:
    """Where a model's encoder weights come from, in words (the report's run description)."""
    if model.objective == "alignment":
        return "alignment baseline, no encoder"
    if model.objective in ("plus", "mlm"):
        return f"pretrained here ({'MLM + SFP' if model.objective == 'plus' else 'MLM only'})"
    if entry is not None and entry.pretrained_here:
        return "no pretraining: a seeded random initialisation"
    return encoder_spec_class(model.encoder).origin


def _run_record(path: str) -> dict[str, Any] | None:
    """A job's config.json (plus.io.write_run_record), or None where there is none to read."""
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _without_none(value: Any) -> Any:
    """JSON settings without null values (some jobs record their settings without them)."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def _task_specs(config: WorkflowConfig) -> dict[str, TaskSpec]:
    specs = {}
    for task, entry in config.tasks.items():
        overrides = entry.model_dump(exclude=set(IMPORT_KEYS) | {"head"}, exclude_none=True)
        if entry.head is not None:
            overrides["head"] = entry.head.model_dump(exclude_unset=True)  # an explicit `hidden: null` is kept
        if entry.classes_file is not None or entry.classes_from_data:
            overrides["classes_from_data"] = True
        specs[task] = resolve_task(task, overrides, where=f"tasks.{task}")
    return specs


def _downloads(config: WorkflowConfig) -> dict[str, Download]:
    """Every file fetched or staged by the download step, keyed 'group/name'; one file name, one source."""
    found: dict[str, Download] = {}
    pretrained = any(entry.needs_pretraining for entry in config.models.values())
    specs = [("pfam", config.pfam.source)] if config.pfam is not None and pretrained else []
    for task, entry in config.tasks.items():
        specs += [(task, spec) for source in entry.sources for spec in source.files.values()]
    for group, spec in specs:
        if isinstance(spec, str):
            continue
        fetched = spec.model_copy(update={"member": None})
        download = Download(group, _local_name(spec), fetched)
        known = found.setdefault(download.key, download)
        if known.source != fetched:
            raise InputError(
                f"config: two different sources would both be saved as {download.target}; "
                "give one of them a distinct `name`"
            )
    return found


def _check_references(config: WorkflowConfig) -> None:
    from plus.models.presets import PRESETS, preset_config

    reference = config.report.reference_model
    known = [*config.models, *([BASELINE] if config.report.alignment_baseline else [])]
    if reference is not None and reference not in known:
        raise SettingsError(f"report.reference_model: no model {reference!r} (configured: {', '.join(known)})")
    for index, pair in enumerate(config.report.comparisons):
        for name in pair:
            if name not in known:
                raise SettingsError(f"report.comparisons.{index}: no model {name!r} (configured: {', '.join(known)})")
        if pair[0] == pair[1]:
            raise SettingsError(f"report.comparisons.{index}: a model compared with itself ({pair[0]!r})")

    for model, entry in config.models.items():
        preset = entry.preset or getattr(entry.encoder, "preset", None)
        if preset is not None and preset not in PRESETS:
            raise SettingsError(f"models.{model}.preset: unknown preset {preset!r}; known: {sorted(PRESETS)}")
        if entry.architecture:
            try:
                preset_config(preset, **entry.architecture)
            except InputError as error:
                raise SettingsError(f"models.{model}.architecture: {error}") from None
        for section, task in [*(("heads", t) for t in entry.heads), *(("tasks", t) for t in entry.tasks)]:
            if task not in config.tasks:
                raise SettingsError(
                    f"models.{model}.{section}.{task}: no task {task!r} under config tasks "
                    f"(configured: {', '.join(config.tasks)})"
                )


def _check_sources(tasks: Mapping[str, TaskEntry]) -> None:
    from plus.data.task_data.importers import check_source

    for task, entry in tasks.items():
        for index, source in enumerate(entry.sources):
            try:
                check_source(source, f"tasks.{task}.sources.{index}")
            except InputError as error:
                raise SettingsError(str(error)) from None


def _selected(key: str, names: list[str] | None, configured: Mapping[str, Any]) -> set[str]:
    """The names `run.<key>` selects (every configured one when it gives none); an unknown name is an error."""
    if names is None:
        return set(configured)
    unknown = [name for name in names if name not in configured]
    if unknown:
        listed = ", ".join(map(repr, unknown))
        raise SettingsError(f"run.{key}: unknown {key.removesuffix('s')} {listed}; known: {', '.join(configured)}")
    return set(names)


def select_run(config: WorkflowConfig) -> WorkflowConfig:
    """The config cut to the models and tasks `run` selects (config order kept): the models' overrides of other tasks
    are dropped, and a report.reference_model left out falls back to the default (the first PLUS model)."""
    models = _selected("models", config.run.models, config.models)
    tasks = _selected("tasks", config.run.tasks, config.tasks)
    if not tasks or not (models or config.report.alignment_baseline):
        raise SettingsError("run: selects nothing to run (no task, or no model and no alignment baseline)")
    entries = {
        name: entry.model_copy(
            update={
                "heads": {task: head for task, head in entry.heads.items() if task in tasks},
                "tasks": {task: override for task, override in entry.tasks.items() if task in tasks},
            }
        )
        for name, entry in config.models.items()
        if name in models
    }
    report = config.report
    if report.reference_model not in (None, BASELINE, *models):
        report = report.model_copy(update={"reference_model": None})
    kept = [pair for pair in report.comparisons if set(pair) <= {BASELINE, *models}]
    report = report.model_copy(update={"comparisons": kept})
    return config.model_copy(
        update={
            "models": entries,
            "tasks": {name: entry for name, entry in config.tasks.items() if name in tasks},
            "report": report,
        }
    )


def plan_workflow(config: Mapping[str, Any]) -> WorkflowPlan:
    """Validate a whole workflow config and resolve every job's settings of the models and tasks `run` selects; a
    SettingsError names the bad key."""
    settings = parse_settings(WorkflowConfig, dict(config))
    _check_references(settings)
    _check_sources(settings.tasks)
    settings = select_run(settings)
    try:
        requests = rule_requests(settings.plan)
    except InputError as error:
        raise SettingsError(str(error)) from None
    return WorkflowPlan(settings, _task_specs(settings), _downloads(settings), requests)
