"""Every task shape's object carries a task from canonical labels to metrics; decoding is declared, never guessed.

The contract runs over `SHAPES` itself, so a new shape is tested for free: canonical labels are checked, encoded,
batched, read by the shape's head on a tiny encoder, trained on (a finite loss with gradients), predicted and
scored with every metric the shape promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from plus.data.batching.task_examples import SequenceTaskDataset, TargetScaling
from plus.errors import InputError
from plus.inference.batches import predict_outputs, prediction_columns
from plus.metrics.task import task_metrics
from plus.models.build import build_encoder
from plus.models.task_model import TaskModel
from plus.settings import FinetuneSettings, SettingsError, TaskSpec
from plus.tasks import BUILTIN_TASKS, SECSTR8, SHAPES, TOPOLOGY, resolve_task
from plus.tokens import encode

SPECS = {
    "protein_classification": resolve_task("two", {"shape": "protein_classification", "classes": ["a", "b"]}),
    "protein_regression": resolve_task("number", {"shape": "protein_regression", "headline_metric": "spearman"}),
    "residue_classification": resolve_task("letters", {"shape": "residue_classification", "classes": list("xyz")}),
    "pair": resolve_task("pairs", {"shape": "pair", "aux_mlm_weight": 0.0}),
}


def test_every_shape_has_a_contract_case():
    assert set(SPECS) == set(SHAPES)


def _split(spec: TaskSpec, split: str, rng: np.random.Generator, n: int = 6) -> pd.DataFrame:
    """A canonical split of `n` records as the importers write it."""
    sequences = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=int(rng.integers(5, 12)))) for _ in range(n)]
    frame = pd.DataFrame({"id": [f"{split}{i}" for i in range(n)], "sequence": sequences})
    shape = spec.task_shape
    if shape.pairs and split != "train":
        frame["id_b"] = [f"{split}{i}b" for i in range(n)]
        frame["sequence_b"] = sequences[::-1]
        frame["label"] = [i % 5 for i in range(n)]
    elif shape.pairs:
        frame["label"] = [f"a.{i % 2}.1.{i % 3}" for i in range(n)]
    elif shape.per_residue:
        frame["label"] = ["".join(rng.choice(list(spec.classes), size=len(s))) for s in sequences]
    elif shape.scalar:
        frame["label"] = rng.normal(size=n)
    else:
        frame["label"] = [spec.classes[i % len(spec.classes)] for i in range(n)]
    return frame


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_a_shape_carries_its_task_from_labels_to_metrics(name):
    spec, shape = SPECS[name], SHAPES[name]
    rng = np.random.default_rng(0)
    frame = _split(spec, "test", rng)
    record = lambda position: f"record {position + 1}"  # noqa: E731
    labels = shape.check_labels(frame["label"], frame["sequence"], "test", spec, record)
    assert len(labels) == len(frame) and set(shape.columns("test")) <= set(frame.columns)
    summary = shape.label_summary(labels, "test", spec)
    assert summary and isinstance(next(iter(summary.values())), dict)

    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny")
    model = TaskModel(encoder, spec, FinetuneSettings(), TargetScaling(), seed=0)
    tokens = [encode(s).tokens for s in frame["sequence"]]
    if shape.pairs:
        items = [(a, b, int(label)) for a, b, label in zip(tokens, tokens[::-1], labels, strict=True)]
    else:
        items = list(SequenceTaskDataset(frame.assign(label=labels), spec, TargetScaling()))
    batch = shape.collate(items)
    logits = model.outputs(batch)["logits"]
    loss = model.task_loss(logits, batch["target"])
    loss.backward()
    assert torch.isfinite(loss) and any(p.grad is not None for p in model.head.parameters())

    model.eval()
    outputs = predict_outputs(model, tokens, tokens[::-1] if shape.pairs else None)
    table = pd.DataFrame({"id": frame["id"], "target": labels.to_numpy()})
    for column, values in prediction_columns(spec, outputs).items():
        table[column] = values
    thresholds = [0.5, 1.5, 2.5, 3.5] if shape.pairs else None
    result = task_metrics(spec, table, homology_thresholds=thresholds)
    assert set(shape.metric_names(spec)) <= set(result) and result["n"] == len(frame)


def _residue_predictions(classes: str, n: int = 5) -> tuple[list[np.ndarray], pd.DataFrame]:
    rng = np.random.default_rng(1)
    log_probs = [np.log(rng.dirichlet(np.ones(len(classes)), size=int(rng.integers(20, 40)))) for _ in range(n)]
    targets = ["".join(rng.choice(list(classes), size=len(p))) for p in log_probs]
    return log_probs, pd.DataFrame({"id": [str(i) for i in range(n)], "target": targets})


def _scored(spec: TaskSpec, classes: str) -> tuple[dict[str, list], dict[str, float]]:
    log_probs, table = _residue_predictions(classes)
    columns = prediction_columns(spec, [{"log_probs": p} for p in log_probs])
    return columns, task_metrics(spec, table.assign(**columns))


def test_a_renamed_transmembrane_task_keeps_the_authors_protein_accuracy():
    renamed = resolve_task("topcons_mine", {**BUILTIN_TASKS["transmembrane"].to_dict(), "name": "topcons_mine"})
    columns, metrics = _scored(renamed, TOPOLOGY)
    assert {"topology", "topology_authors"} <= set(columns)
    builtin_columns, builtin_metrics = _scored(BUILTIN_TASKS["transmembrane"], TOPOLOGY)
    assert metrics == builtin_metrics and "accuracy_protein_authors" in metrics


def test_a_custom_eight_class_task_gets_no_q3_unless_it_declares_it():
    plain = resolve_task("dssp8", {"shape": "residue_classification", "classes": list(SECSTR8)})
    columns, metrics = _scored(plain, SECSTR8)
    assert set(columns) == {"prediction"} and set(metrics) == {"accuracy", "n_residues", "n"}
    declared = resolve_task("dssp8", {**plain.to_dict(), "decoding": "secstr_q3", "headline_metric": "accuracy_3class"})
    columns, metrics = _scored(declared, SECSTR8)
    assert "prediction_3class" in columns and {"accuracy_8class", "accuracy_3class"} <= set(metrics)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"shape": "residue_classification", "classes": list("abc"), "decoding": "secstr_q3"}, "decodes the classes"),
        ({"shape": "protein_classification", "classes": ["a", "b"], "decoding": "tm_topology"}, "per-residue tasks"),
        (
            {"shape": "residue_classification", "classes": list("IOM"), "headline_metric": "accuracy_protein"},
            "not reported",
        ),
    ],
)
def test_a_decoding_that_does_not_fit_the_task_is_a_one_line_settings_error(overrides, message):
    with pytest.raises((SettingsError, InputError), match=message) as error:
        resolve_task("custom", overrides)
    assert "\n" not in str(error.value) and "tasks.custom" in str(error.value)


def test_a_checkpoint_written_before_decoding_was_declared_keeps_the_decoding_it_was_made_with():
    from plus.models.task_model import checkpoint_head_fields

    for name in ("secstr", "transmembrane", "localization"):
        record = BUILTIN_TASKS[name].to_dict()
        del record["decoding"]
        checkpoint = {"task": record, "scaling": {"mean": 0.0, "std": 1.0}, "seed": 0, "state_dict": {}}
        spec, _, _ = checkpoint_head_fields(checkpoint, "old.pt")
        assert spec == BUILTIN_TASKS[name]
    renamed = {**BUILTIN_TASKS["transmembrane"].to_dict(), "name": "mine"}
    del renamed["decoding"]
    spec, _, _ = checkpoint_head_fields({"task": renamed, "scaling": {}, "seed": 0, "state_dict": {}}, "old.pt")
    assert spec.decoding == "argmax"


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_metric_a_shape_reports_is_registered_once_with_its_label(name):
    from plus.tasks.metrics import METRICS

    specs = [SPECS[name], *(spec for spec in BUILTIN_TASKS.values() if spec.shape == name)]
    for spec in specs:
        for metric in SHAPES[name].metric_names(spec):
            assert metric in METRICS and METRICS[metric].label, (spec.name, metric)
