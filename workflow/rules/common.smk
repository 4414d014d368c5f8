"""The workflow config resolved into every job's settings (plus.jobs), wildcard constraints and target lists."""

import logging
import os
import re

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.settings.enums import Quietness
from snakemake.utils import validate
from snakemake_interface_logger_plugins.common import LogEvent

try:
    from plus.data.synthetic import FILES as SYNTHETIC_DATA_FILES
    from plus.errors import InputError
    from plus.jobs import (
        BASELINE,
        CORPUS_DIR,
        DOWNLOAD_DIR,
        SYNTHETIC_DIR,
        plan_workflow,
    )
    from plus.launch import training_launcher
    from plus.paths import RESULTS, ModelPaths, RunPaths, TaskPaths
    from plus.report.collect import input_files as report_input_files
    from plus.report.outputs import (
        FIGURE_FORMATS,
        TABLE_FORMATS,
        figure_sections,
        table_caption,
        table_sections,
    )
    from plus.report.job_info import JobSettings
    from plus.settings import as_json
except ImportError as error:
    raise WorkflowError(
        "the workflow needs the `plus` package in the Python that runs Snakemake: "
        "`pip install -e '.[workflow]'` from the repository root"
    ) from error


# What `plus synthetic` writes, declared so that a config path under resources/synthetic/ is made by rule synthetic.
SYNTHETIC_FILES = [f"{SYNTHETIC_DIR}/{name}" for name in SYNTHETIC_DATA_FILES]

try:
    PLAN = plan_workflow(config)
    # Every local source must exist now, unless the synthetic or download step makes it. Snakemake itself would
    # take an existing results/tasks/<task> whose import misses an input for a source file, and reuse it silently.
    PLAN.check_local_sources(made=SYNTHETIC_FILES)
except InputError as error:
    raise WorkflowError(f"config: {error}") from None
validate(config, schema="../schemas/config.schema.json", set_default=False)
# The HTML report's captions (workflow/report/*.rst) read the resolved settings from here, not the raw config.
config["_report"] = PLAN.report_context()
# Tasks and models are named by the user, and their outputs by those names: say so when this config would replace
# the synthetic data, an import or a pretrained model made differently (e.g. by another config in this directory).
if REPLACED := PLAN.replaced_outputs():
    logger.warning(
        f"{', '.join(REPLACED)}: made with other settings or inputs than this config gives; running it replaces "
        "them. To keep both, run each config in its own directory (snakemake -d runs/NAME), or rename the task "
        "or model."
    )

# The rules' path patterns (plus.paths), with {model}, {task} and {seed} wildcards: the report finds each file by
# the same classes.
RUN = RunPaths.wildcards()
PRETRAINED_MODEL = ModelPaths.wildcards()
TASK = TaskPaths.wildcards()
# The alignment baseline is deterministic: one run per task, seed 0.
BASELINE_RUN = RunPaths(RESULTS, BASELINE, "{task}", 0)

# The jobs run `plus --result-fd 3 COMMAND ... 3>&2 > {log} 2>&1`, so the job log gets all output and the
# console one line when a job ends (what ran, its key figure, its wall time, or why it failed; plus.cli.results).
# When `--quiet rules` hides job details (profiles/local), the scheduler's per-round notes go too.
SCHEDULER_ROUND = "Select jobs to execute..."


def not_a_scheduling_round(record: logging.LogRecord) -> bool:
    """Whether a console record is anything but the scheduler's note of a new round or of started jobs."""
    return (
        getattr(record, "event", None) != LogEvent.JOB_STARTED
        and record.getMessage() != SCHEDULER_ROUND
    )


if Quietness.RULES in (workflow.output_settings.quiet or ()):
    for handler in logger.handlers:
        if handler.name == "DefaultStreamHandler":  # Snakemake's console
            handler.addFilter(not_a_scheduling_round)

# Runtime per attempt, GPUs and retries of each rule (plus/estimates/requests.yaml, the config's plan.requests over it)
REQUESTS = PLAN.requests
PFAM_DIR = f"{CORPUS_DIR}/{{corpus}}"  # {corpus}: a hash of its settings and source
MODELS = PLAN.models
PRETRAINING = bool(PLAN.pretrained_models)  # else no pretraining tables or figures
TASKS = PLAN.tasks
SEEDS = [str(seed) for seed in PLAN.seeds]
# (key, task) -> the embed-task job of the probes sharing those states
EMBEDDING_JOBS = PLAN.embedding_jobs()


# ---------------------------------------------------------------- settings of each job (canonical JSON)


def synthetic_settings(wildcards):
    return as_json(PLAN.synthetic)


def pfam_settings(wildcards):
    return as_json(PLAN.pfam(wildcards.corpus))


def import_settings(wildcards):
    return as_json(PLAN.import_task(wildcards.task))


def pretrain_settings(wildcards):
    return as_json(PLAN.pretrain(wildcards.model))


def finetune_settings(wildcards):
    return as_json(PLAN.finetune(wildcards.model, wildcards.task, wildcards.seed))


def evaluate_settings(wildcards):
    return as_json(PLAN.evaluate(wildcards.model, wildcards.task, wildcards.seed))


def report_settings(wildcards):
    """The report's settings: JSON in its shell command, a short summary in the HTML report's info pane."""
    return JobSettings(as_json(PLAN.report()))


def task_spec_json(wildcards):
    return as_json(PLAN.task_specs[wildcards.task])


def embed_task_settings(wildcards):
    return as_json(EMBEDDING_JOBS[(wildcards.key, wildcards.task)])


# ---------------------------------------------------------------- inputs, params and resources


def pfam_input(wildcards):
    return PLAN.pfam_input


def pretrain_launcher(wildcards, threads, resources):
    """`env`, or srun with the job's task geometry for a multi-process pretraining job (docs/cluster.md)."""
    try:
        return training_launcher(resources, threads, "pretrain")
    except InputError as error:
        raise WorkflowError(str(error)) from None


def corpus_input(name):
    """A file or store of the Pfam corpus a model pretrains on (`train`, `test` or `test_pairs.parquet`)."""

    def path(wildcards):
        return f"{PLAN.corpus_dir(PLAN.corpus_of(wildcards.model))}/{name}"

    return path


def encoder_inputs(wildcards):
    """The files or directories a model's encoder is read from (its pretraining output for a model pretrained here)."""
    return PLAN.encoder_inputs(wildcards.model)


def baseline_hits(wildcards):
    """The shared search the alignment baseline reads (none for pair tasks: it scores each pair with itself)."""
    if PLAN.task_specs[wildcards.task].shape == "pair":
        return []
    return [TaskPaths(RESULTS, wildcards.task).hits]


def baseline_hits_args(wildcards):
    """`--hits PATH` of plus alignment-baseline, or nothing (the rule quotes each)."""
    return [arg for path in baseline_hits(wildcards) for arg in ("--hits", path)]


def embedding_encoder_inputs(wildcards):
    """The encoder files of the states with this key (those of any model sharing it: the same encoder spec)."""
    return PLAN.encoder_inputs(PLAN.embedding_model(wildcards.key, wildcards.task))


def embedding_dir(wildcards):
    """The stored states a probe of this model on this task reads (shared by models with the same key)."""
    return PLAN.embedding_dir(wildcards.model, wildcards.task)


def import_inputs(wildcards):
    """Every local file the import of one task reads."""
    return PLAN.import_inputs(wildcards.task)


def download_input(wildcards):
    """A staged local source (`path:`) is the download job's input, so a changed file re-runs it."""
    source = PLAN.downloads[f"{wildcards.group}/{wildcards.file}"].source
    return [source.path] if hasattr(source, "path") else []


def download_args(wildcards):
    """Arguments of `plus download` for one file (the rule quotes each)."""
    return PLAN.downloads[f"{wildcards.group}/{wildcards.file}"].arguments()


def output_dir(wildcards, output):
    """The directory a command writes its outputs into: that of the rule's first output."""
    return os.path.dirname(output[0])


def requested_runtime(rule):
    """A `runtime` resource: attempt x the rule's minutes in plus/estimates/requests.yaml, at most plan.time_limit
    (a timed-out training job resumes from its checkpoint with more time)."""
    return REQUESTS.runtime_resource(rule)


def memory_mb(base):
    """An `mem_mb` resource that grows with each retry."""

    def mem_mb(wildcards, attempt):
        return base * attempt

    return mem_mb


# ---------------------------------------------------------------- targets


def report_inputs():
    """The files the report reads, as lists by kind: found from its job (plus.paths) as `plus report` finds them."""
    return report_input_files(PLAN.report())


def _one_of(values):
    """A wildcard constraint matching exactly these values (nothing at all when there are none)."""
    return "|".join(re.escape(value) for value in values) or "(?!)"


PRETRAINED = _one_of(PLAN.pretrained_models)
FINETUNED = _one_of(PLAN.models_with("finetune"))
PROBED = _one_of(PLAN.models_with("probe"))


wildcard_constraints:
    model=_one_of(MODELS),
    task=_one_of(TASKS),
    seed=_one_of(SEEDS),
    corpus=_one_of(PLAN.corpora),
    key=_one_of(sorted({key for key, _ in EMBEDDING_JOBS})),
    group=_one_of(sorted({download.group for download in PLAN.downloads.values()})),
    file=_one_of(sorted({download.name for download in PLAN.downloads.values()})),
