"""One object per task shape: what its labels are, how they batch, the head and loss, predictions and metrics.

A task's shape (`TaskSpec.shape`) names one of `SHAPES`; everything that differs between shapes is a method or a
flag here, so code elsewhere asks the shape (`spec.task_shape`) instead of comparing names. Heavy libraries
(torch, the metric modules) are imported inside the methods: settings and planning read the shapes cheaply.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from plus.errors import InputError, short_list
from plus.tasks.alphabets import PAIR_LEVELS, SCOP_LEVELS, UNLABELLED

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch
    from torch import nn

    from plus.data.batching.task_examples import TargetScaling
    from plus.models.encoder import Encoder
    from plus.settings import TaskSpec

NameRecord = Callable[[int], str]  # how an error message names the record at a row position


def _first(mask: Any) -> int:
    import numpy as np

    return int(np.flatnonzero(np.asarray(mask))[0])


def _show(value: Any) -> str:
    """repr of a value as the user wrote it (numpy scalars as plain Python values)."""
    import numpy as np

    return repr(value.item() if isinstance(value, np.generic) else value)


def _stripped(labels: pd.Series) -> pd.Series:
    return labels.map(lambda v: v.strip() if isinstance(v, str) else v)


class TaskShape:
    """What every shape answers; the flags say how its examples look (one protein, its residues, or a pair)."""

    name: ClassVar[str]
    pairs: ClassVar[bool] = False  # examples are two proteins
    per_residue: ClassVar[bool] = False  # a label per residue
    classified: ClassVar[bool] = False  # labels are the task's classes
    scalar: ClassVar[bool] = False  # one number per example (the head's last dimension is dropped)
    score_column: ClassVar[str | None] = None  # the numeric prediction column, for tasks that predict a number
    target_dtype: ClassVar[str] = "long"

    @property
    def per_protein(self) -> bool:
        """One label per single protein (a pooled head; inputs may be cut to `max_input_residues`)."""
        return not (self.pairs or self.per_residue)

    def n_outputs(self, spec: TaskSpec) -> int:
        return len(spec.classes)

    def metric_names(self, spec: TaskSpec) -> tuple[str, ...]:
        """The metrics an evaluation of this task reports (a headline is one of them)."""
        raise NotImplementedError

    def columns(self, split: str) -> tuple[str, ...]:
        """The columns a split's canonical table has on disk."""
        return ("id", "sequence", "label")

    def unique_ids(self, split: str) -> bool:
        """Whether a split's ids must be unique (a protein appears once; a pair split may repeat a protein)."""
        return True

    def check_labels(self, labels: pd.Series, sequences: pd.Series, split: str, spec: TaskSpec, record: NameRecord):
        """The label column in its canonical type; an InputError naming the first bad record.

        A protein-level label (class, number, similarity, fold) loses surrounding whitespace; a per-residue label
        string is taken as it is (a space there is a letter, and an error)."""
        raise NotImplementedError

    def label_summary(self, labels: pd.Series, split: str, spec: TaskSpec) -> dict[str, Any]:
        """A split's label statistics for summary.json."""
        raise NotImplementedError

    def encode_labels(self, frame: pd.DataFrame, spec: TaskSpec, scaling: TargetScaling) -> list[Any]:
        """Canonical labels as model targets."""
        return [int(label) for label in frame["label"]]

    def collate(self, batch: list[tuple[Any, ...]]) -> dict[str, torch.Tensor]:
        """A training or validation batch: padded tokens, lengths and targets."""

        from plus.tensors import pad_tokens

        tokens, lengths = pad_tokens([item[0] for item in batch])
        target = self._targets([item[1] for item in batch])
        return {"tokens": tokens, "lengths": lengths, "target": target}

    def _targets(self, labels: list[Any]) -> torch.Tensor:
        import torch

        return torch.tensor(labels, dtype=getattr(torch, self.target_dtype))

    def build_head(self, spec: TaskSpec, encoder: Encoder) -> nn.Module:
        """The head the task spec asks for, reading the encoder's h (d_h) or its projection z (d_z).

        A head without an MLP (hidden None, the authors' PLUS-TFM heads) is Dropout(encoder dropout) -> Linear."""
        from plus.models.heads import ProteinHead

        d_in, dropout = _head_input(spec, encoder)
        return ProteinHead(d_in, spec.head.hidden, self.n_outputs(spec), pooling=spec.head.pooling, dropout=dropout)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The task loss of fp32 logits."""
        import torch.nn.functional as F

        return F.cross_entropy(logits, target)

    def predict(self, logits: torch.Tensor, scaling: TargetScaling) -> dict[str, np.ndarray]:
        """A batch's predictions in target units (per item arrays)."""
        import torch

        return {"log_probs": torch.log_softmax(logits, dim=-1).cpu().numpy()}

    def prediction_columns(self, spec: TaskSpec, outputs: Sequence[dict[str, np.ndarray]]) -> dict[str, Any]:
        """The prediction columns of predictions.parquet (docs/design.md), one value per output."""
        raise NotImplementedError

    def metrics(self, spec: TaskSpec, frame: pd.DataFrame, where: str, checked: bool, **pair: Any) -> dict[str, Any]:
        """The metrics of one split's predictions (pair tasks take `homology_thresholds` and `homology_score`)."""
        raise NotImplementedError


def _head_input(spec: TaskSpec, encoder: Encoder) -> tuple[int, float]:
    d_in = encoder.d_h if spec.head.input == "h" else encoder.d_z
    return d_in, (encoder.config.dropout if spec.head.hidden is None else 0.0)


class ProteinClassification(TaskShape):
    """A class per protein."""

    name = "protein_classification"
    classified = True

    def metric_names(self, spec: TaskSpec) -> tuple[str, ...]:
        return ("accuracy", "mcc") if len(spec.classes) == 2 else ("accuracy",)

    def check_labels(self, labels: pd.Series, sequences: pd.Series, split: str, spec: TaskSpec, record: NameRecord):
        text = _stripped(labels).map(lambda v: v if isinstance(v, str) else str(v))
        bad = ~text.isin(spec.classes).to_numpy()
        if bad.any():
            position = _first(bad)
            raise InputError(
                f"{record(position)}: unknown class {_show(text.iloc[position])} "
                f"(task {spec.name!r} classes: {short_list(spec.classes)})"
            )
        return text

    def label_summary(self, labels: pd.Series, split: str, spec: TaskSpec) -> dict[str, Any]:
        counts = labels.value_counts()
        return {"class_balance": {name: int(counts.get(name, 0)) for name in spec.classes}}

    def encode_labels(self, frame: pd.DataFrame, spec: TaskSpec, scaling: TargetScaling) -> list[Any]:
        index = {name: i for i, name in enumerate(spec.classes)}
        return [index[str(label)] for label in frame["label"]]

    def prediction_columns(self, spec: TaskSpec, outputs: Sequence[dict[str, np.ndarray]]) -> dict[str, Any]:
        import numpy as np

        return {
            "prediction": [spec.classes[int(np.argmax(o["log_probs"]))] for o in outputs],
            "probabilities": [np.exp(o["log_probs"]).tolist() for o in outputs],
        }

    def metrics(self, spec: TaskSpec, frame: pd.DataFrame, where: str, checked: bool, **pair: Any) -> dict[str, Any]:
        from plus.metrics.classification import classification_metrics
        from plus.metrics.task import check_classes

        if not checked:
            check_classes(frame, ("target", "prediction"), spec.classes, where)
        return classification_metrics(
            frame["target"].astype(str).to_numpy(), frame["prediction"].astype(str).to_numpy(), spec.classes
        )


class ProteinRegression(TaskShape):
    """A number per protein (targets standardised in training when the settings say so)."""

    name = "protein_regression"
    scalar = True
    score_column = "prediction"
    target_dtype = "float32"

    def n_outputs(self, spec: TaskSpec) -> int:
        return 1

    def metric_names(self, spec: TaskSpec) -> tuple[str, ...]:
        return ("spearman", "pearson")

    def check_labels(self, labels: pd.Series, sequences: pd.Series, split: str, spec: TaskSpec, record: NameRecord):
        import numpy as np
        import pandas as pd

        labels = _stripped(labels)
        numbers = pd.to_numeric(labels, errors="coerce")
        bad = numbers.isna().to_numpy() | ~np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            position = _first(bad)
            raise InputError(f"{record(position)}: label {_show(labels.iloc[position])} is not a finite number")
        return numbers.astype("float64")

    def label_summary(self, labels: pd.Series, split: str, spec: TaskSpec) -> dict[str, Any]:
        import numpy as np

        values = labels.to_numpy(dtype=float)
        return {
            "label_stats": {
                "mean": float(values.mean()),
                "std": float(values.std()),
                "min": float(values.min()),
                "median": float(np.median(values)),
                "max": float(values.max()),
            }
        }

    def encode_labels(self, frame: pd.DataFrame, spec: TaskSpec, scaling: TargetScaling) -> list[Any]:
        import numpy as np

        return list((frame["label"].to_numpy(dtype=np.float64) - scaling.mean) / scaling.std)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.mse_loss(logits, target.float())

    def predict(self, logits: torch.Tensor, scaling: TargetScaling) -> dict[str, np.ndarray]:
        return {"value": (logits * scaling.std + scaling.mean).cpu().numpy()}

    def prediction_columns(self, spec: TaskSpec, outputs: Sequence[dict[str, np.ndarray]]) -> dict[str, Any]:
        return {"prediction": [float(o["value"]) for o in outputs]}

    def metrics(self, spec: TaskSpec, frame: pd.DataFrame, where: str, checked: bool, **pair: Any) -> dict[str, Any]:
        from plus.metrics.regression import regression_metrics
        from plus.metrics.task import check_floats

        if not checked:
            check_floats(frame, ("target", "prediction"), where)
        return regression_metrics(frame["target"].astype(float), frame["prediction"].astype(float))


class ResidueClassification(TaskShape):
    """A class letter per residue (`.` unlabelled); decoded and scored as the task's `decoding` says."""

    name = "residue_classification"
    per_residue = True
    classified = True

    def metric_names(self, spec: TaskSpec) -> tuple[str, ...]:
        return spec.decoder.metric_names

    def check_labels(self, labels: pd.Series, sequences: pd.Series, split: str, spec: TaskSpec, record: NameRecord):
        text = labels.map(lambda v: v if isinstance(v, str) else str(v))
        wrong_length = (text.str.len() != sequences.str.len()).to_numpy()
        if wrong_length.any():
            position = _first(wrong_length)
            raise InputError(
                f"{record(position)}: label has {len(text.iloc[position])} letters but the "
                f"sequence has {len(sequences.iloc[position])} residues"
            )
        allowed = "".join(re.escape(letter) for letter in (*spec.classes, UNLABELLED))
        bad = ~text.str.fullmatch(f"[{allowed}]*").to_numpy(dtype=bool)
        if bad.any():
            position = _first(bad)
            letters = sorted(set(text.iloc[position]) - set(spec.classes) - {UNLABELLED})
            raise InputError(
                f"{record(position)}: label letters {letters} are not classes of task "
                f"{spec.name!r} ({''.join(spec.classes)} or {UNLABELLED!r} for unlabelled)"
            )
        return text

    def label_summary(self, labels: pd.Series, split: str, spec: TaskSpec) -> dict[str, Any]:
        counts = Counter("".join(labels))
        return {"class_balance": {name: counts.get(name, 0) for name in (*spec.classes, UNLABELLED)}}

    def encode_labels(self, frame: pd.DataFrame, spec: TaskSpec, scaling: TargetScaling) -> list[Any]:
        import numpy as np

        lookup = np.full(256, -100, dtype=np.int64)
        for i, letter in enumerate(spec.classes):
            lookup[ord(letter)] = i
        lookup[ord(UNLABELLED)] = -100
        return [lookup[np.frombuffer(label.encode(), dtype=np.uint8)] for label in frame["label"]]

    def _targets(self, labels: list[Any]) -> torch.Tensor:
        from plus.tensors import pad_labels

        return pad_labels(labels)

    def build_head(self, spec: TaskSpec, encoder: Encoder) -> nn.Module:
        from plus.models.heads import ResidueHead

        d_in, dropout = _head_input(spec, encoder)
        return ResidueHead(d_in, spec.head.hidden, self.n_outputs(spec), dropout=dropout)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=-100)

    def prediction_columns(self, spec: TaskSpec, outputs: Sequence[dict[str, np.ndarray]]) -> dict[str, Any]:
        import numpy as np

        letters = np.array(list(spec.classes))
        log_probs = [o["log_probs"] for o in outputs]
        columns: dict[str, Any] = {"prediction": ["".join(letters[np.argmax(p, axis=1)]) for p in log_probs]}
        return {**columns, **spec.decoder.columns(log_probs)}

    def metrics(self, spec: TaskSpec, frame: pd.DataFrame, where: str, checked: bool, **pair: Any) -> dict[str, Any]:
        from plus.metrics.task import check_residue_strings

        if not checked:
            check_residue_strings(frame, "target", spec.classes, where, unlabelled_ok=True)
            check_residue_strings(frame, "prediction", spec.classes, where, unlabelled_ok=False)
        try:
            return spec.decoder.metrics(frame, spec.classes, where, checked)
        except ValueError as error:
            raise InputError(f"{where}: {error}") from error


class Pair(TaskShape):
    """Two proteins and their structural similarity 0..4 (SCOP levels shared); train holds domains and sccs."""

    name = "pair"
    pairs = True
    score_column = "expected_level"

    def n_outputs(self, spec: TaskSpec) -> int:
        return len(SCOP_LEVELS)

    def metric_names(self, spec: TaskSpec) -> tuple[str, ...]:
        return ("accuracy", "pearson", "spearman", *(f"average_precision_{level}" for level in SCOP_LEVELS))

    def columns(self, split: str) -> tuple[str, ...]:
        return super().columns(split) if split == "train" else ("id", "sequence", "label", "id_b", "sequence_b")

    def unique_ids(self, split: str) -> bool:
        return split == "train"

    def check_labels(self, labels: pd.Series, sequences: pd.Series, split: str, spec: TaskSpec, record: NameRecord):
        import pandas as pd

        labels = _stripped(labels)
        if split == "train":
            text = labels.astype(str)
            if (text.str.strip() == "").any():
                raise InputError(f"{record(_first(text.str.strip() == ''))}: empty label")
            return text
        numbers = pd.to_numeric(labels, errors="coerce")
        bad = ~numbers.isin(range(PAIR_LEVELS)).to_numpy()
        if bad.any():
            position = _first(bad)
            raise InputError(
                f"{record(position)}: similarity {_show(labels.iloc[position])} is not an integer 0..{PAIR_LEVELS - 1}"
            )
        return numbers.astype("int64")

    def label_summary(self, labels: pd.Series, split: str, spec: TaskSpec) -> dict[str, Any]:
        if split == "train":
            return {"label_stats": {"distinct_labels": int(labels.nunique())}}
        counts = labels.value_counts()
        return {"class_balance": {str(level): int(counts.get(level, 0)) for level in range(PAIR_LEVELS)}}

    def collate(self, batch: list[tuple[Any, ...]]) -> dict[str, torch.Tensor]:
        import torch

        from plus.tensors import pad_tokens

        tokens_a, len_a = pad_tokens([item[0] for item in batch])
        tokens_b, len_b = pad_tokens([item[1] for item in batch])
        target = torch.tensor([item[2] for item in batch], dtype=torch.long)
        return {"tokens_a": tokens_a, "len_a": len_a, "tokens_b": tokens_b, "len_b": len_b, "target": target}

    def build_head(self, spec: TaskSpec, encoder: Encoder) -> nn.Module:
        from plus.models.heads import PairHead

        return PairHead(n_levels=self.n_outputs(spec) + 1)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        from plus.objectives.ordinal import ordinal_loss

        return ordinal_loss(logits, target)

    def predict(self, logits: torch.Tensor, scaling: TargetScaling) -> dict[str, np.ndarray]:
        from plus.objectives.ordinal import exceedance_probabilities

        return {"exceedance": exceedance_probabilities(logits).cpu().numpy()}

    def prediction_columns(self, spec: TaskSpec, outputs: Sequence[dict[str, np.ndarray]]) -> dict[str, Any]:
        import numpy as np

        exceedance = np.array([o["exceedance"] for o in outputs]).reshape(len(outputs), len(SCOP_LEVELS))
        columns: dict[str, Any] = {"expected_level": exceedance.sum(axis=1)}
        for k, level in enumerate(SCOP_LEVELS):
            columns[f"p_{level}"] = exceedance[:, k]
        return columns

    def metrics(self, spec: TaskSpec, frame: pd.DataFrame, where: str, checked: bool, **pair: Any) -> dict[str, Any]:
        from plus.metrics.homology import homology_metrics
        from plus.metrics.task import pair_scores

        thresholds = pair.get("homology_thresholds")
        scores = pair_scores(frame, pair.get("homology_score", "exceedance-sum"), where, checked)
        try:
            if isinstance(thresholds, str):
                if thresholds != "self":
                    raise ValueError(f"homology_thresholds must be 4 floats or 'self', not {thresholds!r}")
                return homology_metrics(frame["target"], scores, thresholds_from="self")
            return homology_metrics(frame["target"], scores, thresholds=thresholds)
        except ValueError as error:
            raise InputError(f"{where}: {error}") from error


SHAPES: dict[str, TaskShape] = {
    shape.name: shape for shape in (ProteinClassification(), ProteinRegression(), ResidueClassification(), Pair())
}
