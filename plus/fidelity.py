"""The named protocols a config selects with `fidelity:`: the one place that lists the authors' settings.

Each protocol is a set of settings by section (`pretrain`, `finetune`, `evaluate`, and per-task `tasks` entries),
row by row of docs/fidelity.md:

- `authors-method`: the authors' method choices, kept by config/paper_fixed.yaml (rows 6-9, 16, 20, 22, 27, 28);
- `authors`: those and the authors' bugs, as their code runs (config/paper.yaml; rows 17, 18, 25, Q1, Q2, Q4, Q5,
  Q10);
- `fixed`: ours, every key the other two name at its default in plus/settings.py.

Run-wide (`fidelity:` at the top of a config) a protocol lies under the config's own sections, so an overlay such as
config/paper_fixed.yaml still replaces single keys; on a model (`models.<name>.fidelity`) it lies over the run-wide
settings and under the model's own `pretrain`/`finetune`/`evaluate`/`tasks` entries. Settings of the authors'
PLUS-TFM only (BertAdam, [CLS] heads, its corpus) are model entries of config/paper.yaml, not part of a protocol;
the RNN-only quirks here (rows 17, Q1, Q4) are replaced there for plus-tfm by its own entries. Data choices (row 5,
SecStr's disordered residues) are import options of a task, shared by every model: no protocol sets them.
"""

from __future__ import annotations

from typing import Any, Literal

Fidelity = Literal["authors", "authors-method", "fixed"]
FIDELITIES: tuple[str, ...] = ("authors", "authors-method", "fixed")
SECTIONS = ("pretrain", "finetune", "evaluate")
PROTEIN_TASKS = ("solubility", "localization", "stability", "fluorescence")

AUTHORS_METHOD: dict[str, dict[str, Any]] = {
    "pretrain": {
        "mlm_only_inputs": "single-sequences",  # row 7
        "mask_count": "authors",  # row 22
        "batch_order": "shuffle",  # row 27
        "last_batch": "keep",  # row 28
    },
    "finetune": {
        "homology_batch_size": 64,  # row 6
        "target_scaling": "none",  # row 8
        "batch_order": "shuffle",  # row 9
        "grad_clip_scope": "per-module",  # row 16
        "mask_count": "authors",  # row 22
    },
    "evaluate": {"homology_score": "authors"},  # row 20
    "tasks": {"secstr": {"file_order": True}},  # row 9
}

AUTHORS_BUGS: dict[str, dict[str, Any]] = {
    "pretrain": {
        "precision": "32-true",  # Q10
        "drop_pair_b_mlm": True,  # Q1
        "sfp_logit_threshold": 0.5,  # Q4
        "keep": "best",  # row 25
        "max_val_pairs": None,  # row 25
    },
    "finetune": {
        "precision": "32-true",  # Q10
        "drop_pair_b_mlm": True,  # row 17
        "homology_sampler": "authors",  # row 18
    },
    "evaluate": {"homology_thresholds": "self"},  # Q5
    "tasks": {task: {"head": {"pooling": "sum"}} for task in PROTEIN_TASKS},  # Q2
}


def merged(*layers: dict[str, Any]) -> dict[str, Any]:
    """Nested mappings merged key by key, later layers winning (as Snakemake merges config files); the layers are
    not changed."""
    result: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = merged(result[key], value)
            elif isinstance(value, dict):
                result[key] = merged(value)
            else:
                result[key] = value
    return result


def _defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """The same keys at plus/settings.py's defaults: our protocol."""
    from plus.settings import EvaluateSettings, FinetuneSettings, HeadSpec, PretrainSettings, TaskSpec

    models = {"pretrain": PretrainSettings, "finetune": FinetuneSettings, "evaluate": EvaluateSettings}
    result: dict[str, Any] = {
        section: {key: models[section].model_fields[key].default for key in settings.get(section, {})}
        for section in SECTIONS
    }
    tasks: dict[str, Any] = {}
    for task, entry in settings.get("tasks", {}).items():
        tasks[task] = {
            key: {field: HeadSpec.model_fields[field].default for field in value}
            if key == "head"
            else TaskSpec.model_fields[key].default
            for key, value in entry.items()
        }
    result["tasks"] = tasks
    return result


def protocol_settings(name: str) -> dict[str, dict[str, Any]]:
    """The settings a named protocol selects, by section (`pretrain`, `finetune`, `evaluate`, `tasks`)."""
    if name == "authors-method":
        return merged(AUTHORS_METHOD)
    if name == "authors":
        return merged(AUTHORS_METHOD, AUTHORS_BUGS)
    if name == "fixed":
        return _defaults(merged(AUTHORS_METHOD, AUTHORS_BUGS))
    raise ValueError(f"unknown fidelity {name!r}; one of {', '.join(FIDELITIES)}")
