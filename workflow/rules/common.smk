"""The workflow config resolved into every job's settings (plus.jobs), wildcard constraints and target lists."""

import os
import re

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

try:
    from plus.data.synthetic import FILES as SYNTHETIC_DATA_FILES
    from plus.errors import InputError
    from plus.jobs import DOWNLOAD_DIR, plan_workflow
    from plus.report.outputs import (
        FIGURE_FORMATS,
        FIGURES,
        TABLE_FORMATS,
        table_caption,
        table_sections,
    )
    from plus.settings import as_json
except ImportError as error:
    raise WorkflowError(
        "the workflow needs the `plus` package in the Python that runs Snakemake: "
        "`pip install -e '.[workflow]'` from the repository root"
    ) from error


try:
    PLAN = plan_workflow(config)
except InputError as error:
    raise WorkflowError(f"config: {error}") from None
validate(config, schema="../schemas/config.schema.json", set_default=False)

SYNTHETIC_DIR = "resources/synthetic"
# What `plus synthetic` writes, declared so that a config path under resources/synthetic/ is made by rule synthetic.
SYNTHETIC_FILES = [f"{SYNTHETIC_DIR}/{name}" for name in SYNTHETIC_DATA_FILES]
PFAM_DIR = "results/pfam"
MODELS = PLAN.models
TASKS = PLAN.tasks
SEEDS = [str(seed) for seed in PLAN.seeds]


# ---------------------------------------------------------------- settings of each job (canonical JSON)


def synthetic_settings(wildcards):
    return as_json(PLAN.synthetic)


def pfam_settings(wildcards):
    return as_json(PLAN.pfam)


def import_settings(wildcards):
    return as_json(PLAN.import_task(wildcards.task))


def pretrain_settings(wildcards):
    return as_json(PLAN.pretrain(wildcards.model))


def finetune_settings(wildcards):
    return as_json(PLAN.finetune(wildcards.model, wildcards.task, wildcards.seed))


def evaluate_settings(wildcards):
    return as_json(PLAN.evaluate(wildcards.model, wildcards.task, wildcards.seed))


def report_settings(wildcards):
    return as_json(PLAN.report())


# ---------------------------------------------------------------- inputs, params and resources


def pfam_input(wildcards):
    return PLAN.pfam_input


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


def runtime_minutes(base):
    """A `runtime` resource that grows with each retry (a timed-out job resumes from its checkpoint)."""

    def runtime(wildcards, attempt):
        return base * attempt

    return runtime


def memory_mb(base):
    """An `mem_mb` resource that grows with each retry."""

    def mem_mb(wildcards, attempt):
        return base * attempt

    return mem_mb


# ---------------------------------------------------------------- targets


def report_inputs():
    """The files the report reads, as lists by kind."""
    runs = "results/evaluate/{model}/{task}/seed{seed}"
    return {
        "evaluations": expand(
            f"{runs}/metrics.json", model=MODELS, task=TASKS, seed=SEEDS
        ),
        "predictions": expand(
            f"{runs}/predictions.parquet", model=MODELS, task=TASKS, seed=SEEDS
        ),
        "pretraining": expand("results/pretrain/{model}/metrics.json", model=MODELS),
        "histories": expand("results/pretrain/{model}/history.csv", model=MODELS),
    }


def _one_of(values):
    return "|".join(re.escape(value) for value in values)


wildcard_constraints:
    model=_one_of(MODELS),
    task=_one_of(TASKS),
    seed=_one_of(SEEDS),
    group=_one_of(sorted({download.group for download in PLAN.downloads.values()})),
    file=_one_of(sorted({download.name for download in PLAN.downloads.values()})),
