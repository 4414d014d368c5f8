"""Config validation, wildcard constraints, resolved configs and target lists shared by every rule file."""

import json
import os
import re
import shlex

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

try:
    from plus.data.synthetic import FILES as SYNTHETIC_DATA_FILES
    from plus.tasks import BUILTIN_TASKS, resolve_task
except ImportError as error:
    raise WorkflowError(
        "the workflow needs the `plus` package in the Python that runs Snakemake: "
        "`pip install -e '.[workflow]'` from the repository root"
    ) from error


for _task, _entry in (config.get("tasks") or {}).items():
    if _task not in BUILTIN_TASKS and not (
        isinstance(_entry, dict) and "shape" in _entry
    ):
        raise WorkflowError(
            f"config tasks.{_task}: not a built-in task ({', '.join(BUILTIN_TASKS)}) and no `shape` given; "
            "a typo, or a new task that must define its shape (and classes) in its config entry"
        )

validate(config, schema="../schemas/config.schema.yaml", set_default=True)

SYNTHETIC_DIR = "resources/synthetic"
DOWNLOAD_DIR = "resources/downloads"
# What `plus synthetic` writes, declared so that a config path under resources/synthetic/ is made by rule synthetic.
SYNTHETIC_FILES = [f"{SYNTHETIC_DIR}/{name}" for name in SYNTHETIC_DATA_FILES]
PFAM_DIR = "results/pfam"
TASK_IMPORT_KEYS = (
    "sources",
    "expected_sizes",
    "valid_from_train",
    "max_length",
    "label_map",
)
PFAM_PREP_KEYS = (
    "release",
    "min_length",
    "min_family_size",
    "test_fraction",
    "seed",
    "n_test_pairs",
    "max_length",
)

MODELS = list(config["models"])
TASKS = list(config["tasks"])
SEEDS = [str(seed) for seed in config["seeds"]]


def as_json(value):
    """Canonical JSON text of a resolved config (sorted keys, so equal configs give equal params)."""
    return json.dumps(value, sort_keys=True)


def _resolve_task_spec(task):
    """TaskSpec.to_dict() of a configured task: built-in spec plus the config's overrides."""
    entry = config["tasks"][task]
    overrides = {
        key: value for key, value in entry.items() if key not in TASK_IMPORT_KEYS
    }
    try:
        return resolve_task(task, overrides).to_dict()
    except (TypeError, ValueError) as error:
        raise WorkflowError(f"config tasks.{task}: {error}") from error


TASK_SPECS = {task: _resolve_task_spec(task) for task in TASKS}

for _model, _entry in config["models"].items():
    for _task in _entry["heads"]:
        if _task not in config["tasks"]:
            raise WorkflowError(
                f"config models.{_model}.heads.{_task}: no task {_task!r} under config tasks "
                f"(configured: {', '.join(TASKS)})"
            )


# ---------------------------------------------------------------- source files and downloads


def _local_name(spec):
    """File name of a downloaded or staged source: `name`, else the last part of its url or path."""
    if "name" in spec:
        return spec["name"]
    where = spec.get("url") or spec["path"]
    name = os.path.basename(where.split("?")[0].rstrip("/"))
    if not name:
        raise WorkflowError(
            f"config source {where!r}: cannot tell a file name from it; give a `name`"
        )
    return name


def _collect_downloads():
    """Every file fetched by the download step, keyed 'group/name', with its url, md5, md5_list or path."""
    found = {}
    specs = [("pfam", config["pfam"]["source"])]
    for task, entry in config["tasks"].items():
        for source in entry["sources"]:
            specs.extend((task, spec) for spec in source["files"].values())
    for group, spec in specs:
        if isinstance(spec, str):
            continue
        fetch = {
            key: spec[key] for key in ("url", "md5", "md5_list", "path") if key in spec
        }
        key = f"{group}/{_local_name(spec)}"
        if found.setdefault(key, fetch) != fetch:
            raise WorkflowError(
                f"config: two different sources would both be saved as {DOWNLOAD_DIR}/{key}; "
                "give one of them a distinct `name`"
            )
    return found


DOWNLOADS = _collect_downloads()


def local_path(group, spec):
    """The file on disk that a config file spec stands for (the download output for url/path specs)."""
    if isinstance(spec, str):
        return spec
    return f"{DOWNLOAD_DIR}/{group}/{_local_name(spec)}"


def local_file(group, spec):
    """A file value for an import config: a path, or {path, member} for a file inside an archive."""
    path = local_path(group, spec)
    if isinstance(spec, dict) and "member" in spec:
        return {"path": path, "member": spec["member"]}
    return path


def download_input(wildcards):
    """A staged local source (`path:`) is the download job's input, so a changed file re-runs it."""
    fetch = DOWNLOADS[f"{wildcards.group}/{wildcards.file}"]
    return [fetch["path"]] if "path" in fetch else []


def download_args(wildcards):
    """Arguments of `plus download` for one file."""
    fetch = DOWNLOADS[f"{wildcards.group}/{wildcards.file}"]
    options = {
        "url": "--url",
        "path": "--path",
        "md5": "--md5",
        "md5_list": "--md5-list",
    }
    return " ".join(
        f"{flag} {shlex.quote(fetch[key])}"
        for key, flag in options.items()
        if key in fetch
    )


# ---------------------------------------------------------------- resolved configs


def synthetic_config_json(wildcards):
    return as_json({"synthetic": config["synthetic"]})


def pfam_input(wildcards):
    source = config["pfam"]["source"]
    if isinstance(source, dict) and "member" in source:
        raise WorkflowError(
            "config pfam.source: `member` is not supported; give the Pfam-A.fasta(.gz) itself"
        )
    return local_path("pfam", source)


def pfam_config_json(wildcards):
    return as_json({"pfam": {key: config["pfam"][key] for key in PFAM_PREP_KEYS}})


def import_config(task):
    """The resolved config `plus import-task` reads (docs/design.md, the import contract)."""
    entry = config["tasks"][task]
    resolved = {
        "task": TASK_SPECS[task],
        "sources": [
            {
                "format": source["format"],
                "files": {
                    key: local_file(task, spec) for key, spec in source["files"].items()
                },
                "options": source["options"],
            }
            for source in entry["sources"]
        ],
    }
    for key in TASK_IMPORT_KEYS[1:]:
        if key in entry:
            resolved[key] = entry[key]
    return resolved


def import_config_json(wildcards):
    return as_json(import_config(wildcards.task))


def import_inputs(wildcards):
    """Every local file the import of one task reads."""
    entry = config["tasks"][wildcards.task]
    paths = {
        local_path(wildcards.task, spec)
        for source in entry["sources"]
        for spec in source["files"].values()
    }
    return sorted(paths)


def pretrain_config(model):
    """results/pretrain/{model}/config.json (docs/design.md, "Resolved configs")."""
    entry = config["models"][model]
    return {
        "name": model,
        "objective": entry["objective"],
        "model": {"preset": entry["preset"]},
        "data": {
            "train": f"{PFAM_DIR}/train",
            "test": f"{PFAM_DIR}/test",
            "test_pairs": f"{PFAM_DIR}/test_pairs.parquet",
        },
        "training": {**config["pretrain"], **entry["pretrain"]},
    }


def pretrain_config_json(wildcards):
    return as_json(pretrain_config(wildcards.model))


def finetune_config(model, task, seed):
    """results/finetune/{model}/{task}/seed{seed}/config.json (docs/design.md, "Resolved configs")."""
    entry = config["models"][model]
    spec = dict(TASK_SPECS[task])
    spec["head"] = {**spec["head"], **entry["heads"].get(task, {})}
    return {
        "model": model,
        "task": spec,
        "seed": int(seed),
        "data": f"results/tasks/{task}",
        "encoder": f"results/pretrain/{model}/model.pt",
        "training": {**config["finetune"], **entry["finetune"]},
    }


def finetune_config_json(wildcards):
    return as_json(finetune_config(wildcards.model, wildcards.task, wildcards.seed))


# ---------------------------------------------------------------- params and resources


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


def expected_runs():
    """Every (model, task, seed) fine-tuning run the config asks for."""
    return [
        {"model": m, "task": t, "seed": int(s)}
        for m in MODELS
        for t in TASKS
        for s in SEEDS
    ]


def model_labels():
    """name -> {label, objective, preset} of every configured model, for the report."""
    return {
        name: {
            "label": entry.get("label", name),
            "objective": entry["objective"],
            "preset": entry["preset"],
        }
        for name, entry in config["models"].items()
    }


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
    group=_one_of(sorted({key.split("/", 1)[0] for key in DOWNLOADS})),
    file=_one_of(sorted({key.split("/", 1)[1] for key in DOWNLOADS})),
