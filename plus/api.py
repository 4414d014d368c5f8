"""The Python API: load any checkpoint or encoder, batch sequences, embed them, and predict with a task model.

`load` takes our model.pt (pretrained, fine-tuned or probe), a Hugging Face model directory (one with a
config.json), or an encoder spec (a dict or one of the specs of plus.settings: plus, plus-authors, huggingface,
onehot, blosum62, random).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from plus.errors import InputError
from plus.inference.batches import embed_tokens, module_device, predict_outputs, prediction_columns
from plus.inference.evaluate import finetuned_module
from plus.models.checkpoint import load_checkpoint, load_encoder
from plus.models.frozen_states import FrozenStates
from plus.models.registry import open_encoder
from plus.settings import Settings, parse_encoder_spec
from plus.tasks import TaskSpec
from plus.tokens import encode, first_non_letter

if TYPE_CHECKING:
    from plus.models.task_model import TaskModel

DEFAULT_MAX_RESIDUES = 16_384  # padded residues per forward pass: bounds activation memory for long inputs

SequenceItem = str | tuple[str, str]  # a sequence, or an (id, sequence) pair
Source = str | os.PathLike[str] | Mapping[str, Any] | Settings  # what `load` opens


def sequence_problem(sequence: str) -> str | None:
    """Why a string is not a protein sequence (empty, or characters other than ASCII letters), or None."""
    if not sequence:
        return "empty sequence"
    if sequence.isascii() and sequence.isalpha():
        return None
    bad = "".join(sorted({c for c in sequence if not (c.isascii() and c.isalpha())}))
    return f"characters other than the letters A-Z: {bad!r}; the first, {first_non_letter(sequence)}"


def _named_sequence(item: Any, label: str, default_id: str) -> tuple[str, str]:
    """(id, sequence) of one user item, or an InputError naming the item by `label`."""
    if isinstance(item, str):
        name, sequence = default_id, item
    elif isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) for x in item):
        name, sequence = item
        label = f"{label} ({name!r})"
    else:
        raise InputError(f"{label}: expected a sequence string or an (id, sequence) pair, got {type(item).__name__}")
    problem = sequence_problem(sequence)
    if problem:
        raise InputError(f"{label}: {problem}")
    return name, sequence


@dataclass(frozen=True)
class Batch:
    """Validated protein sequences, their ids and their tokens; made by `Model.batch`."""

    ids: tuple[str, ...]
    sequences: tuple[str, ...]
    tokens: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, items: Sequence[SequenceItem], name: str = "sequences") -> Batch:
        """A batch of sequences or (id, sequence) pairs; an InputError names a bad item as `name[index]`."""
        if isinstance(items, str):
            items = [items]
        if len(items) == 0:
            raise InputError(f"{name}: no sequences")
        pairs = [_named_sequence(item, f"{name}[{i}]", str(i)) for i, item in enumerate(items)]
        return cls(
            ids=tuple(p[0] for p in pairs),
            sequences=tuple(p[1] for p in pairs),
            tokens=tuple(encode(p[1]).tokens for p in pairs),
        )

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Embeddings:
    """Per-residue ([L_i, d] each) and per-protein ([N, d], mean over residues) embeddings of a batch."""

    ids: tuple[str, ...]
    residues: list[Any]  # torch.Tensor each, or np.ndarray after numpy()
    proteins: Any  # torch.Tensor [N, d], or np.ndarray after numpy()
    representation: str

    def numpy(self) -> Embeddings:
        """The same embeddings as NumPy float32 arrays."""
        return Embeddings(
            self.ids,
            [np.asarray(r) for r in self.residues],
            np.asarray(self.proteins),
            self.representation,
        )


class Model:
    """A loaded model: an encoder alone (pretrained, Hugging Face, control...), or a task model (encoder + head:
    fine-tuned, or a probe's head on its frozen encoder's states)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        encoder: torch.nn.Module,
        head: TaskModel | None,
        source: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.source = source or str(path)  # what messages call the model: its path, or its encoder spec
        self.encoder = encoder
        self.finetuned = head
        self.task: TaskSpec | None = head.spec if head is not None else None

    @property
    def kind(self) -> str:
        """'encoder' (no task head), 'finetuned', or 'probe' (a head on states of a frozen encoder)."""
        if self.finetuned is None:
            return "encoder"
        return "probe" if isinstance(self.finetuned.encoder, FrozenStates) else "finetuned"

    @property
    def device(self) -> torch.device:
        return module_device(self.finetuned if self.finetuned is not None else self.encoder)

    def __repr__(self) -> str:
        task = f", task={self.task.name!r}" if self.task else ""
        return f"plus.Model({self.source!r}, kind={self.kind!r}{task}, device={str(self.device)!r})"

    def batch(self, sequences: Sequence[SequenceItem]) -> Batch:
        """Sequences or (id, sequence) pairs as a batch; ids default to the position ('0', '1', ...)."""
        return Batch.of(sequences)

    def embed(
        self,
        batch: Batch | Sequence[SequenceItem],
        representation: str = "h",
        max_residues: int = DEFAULT_MAX_RESIDUES,
    ) -> Embeddings:
        """h (default) or projected z per residue and per protein, as CPU float32 tensors in batch order.

        Sequences run in length-sorted chunks of at most `max_residues` padded residues (a longer sequence alone).
        """
        if representation not in ("h", "z"):
            raise InputError(f"representation must be 'h' or 'z', not {representation!r}")
        batch = batch if isinstance(batch, Batch) else Batch.of(batch)
        residues = embed_tokens(self.encoder, batch.tokens, representation, max_residues=max_residues)
        proteins = torch.stack([r.mean(dim=0) for r in residues])
        return Embeddings(batch.ids, residues, proteins, representation)

    def predict(self, batch: Batch | Sequence[SequenceItem], max_residues: int = DEFAULT_MAX_RESIDUES) -> pd.DataFrame:
        """One row per protein: `id`, `prediction` and the task's extra columns (as in predictions.parquet).

        Classification: class name and `probabilities` (task class order); regression: the value; per-residue
        tasks: a label letter per residue (secstr adds `prediction_3class`, transmembrane the decoded `topology`).
        """
        head = self._head("predict")
        if head.spec.task_shape.pairs:
            raise InputError(f"{self.source}: {head.spec.name} compares two proteins: use predict_pairs([(a, b), ...])")
        batch = batch if isinstance(batch, Batch) else Batch.of(batch)
        outputs = predict_outputs(head, batch.tokens, max_residues=max_residues)
        return pd.DataFrame({"id": list(batch.ids), **prediction_columns(head.spec, outputs)})

    def predict_pairs(
        self,
        pairs: Sequence[tuple[SequenceItem, SequenceItem]],
        max_residues: int = DEFAULT_MAX_RESIDUES,
    ) -> pd.DataFrame:
        """One row per pair: `id_a`, `id_b`, `expected_level` (0..4) and `p_class` ... `p_family` (P(level > k))."""
        head = self._head("predict_pairs")
        if not head.spec.task_shape.pairs:
            raise InputError(f"{self.source}: {head.spec.name} predicts single proteins: use predict(batch)")
        if len(pairs) == 0:
            raise InputError("pairs: no pairs")
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InputError(f"pairs[{i}]: expected a pair (a, b) of sequences")
        side_a = [_named_sequence(p[0], f"pairs[{i}][0]", str(i)) for i, p in enumerate(pairs)]
        side_b = [_named_sequence(p[1], f"pairs[{i}][1]", str(i)) for i, p in enumerate(pairs)]
        outputs = predict_outputs(
            head,
            [encode(s).tokens for _, s in side_a],
            [encode(s).tokens for _, s in side_b],
            max_residues=max_residues,
        )
        ids = {"id_a": [n for n, _ in side_a], "id_b": [n for n, _ in side_b]}
        return pd.DataFrame({**ids, **prediction_columns(head.spec, outputs)})

    def _head(self, method: str) -> TaskModel:
        if self.finetuned is None:
            raise InputError(
                f"{self.source}: a pretrained encoder has no task head, so it cannot {method}; "
                "load a fine-tuned or probe model.pt, or use embed() for representations"
            )
        return self.finetuned


def _target_device(device: str | torch.device | None) -> torch.device:
    """The torch device asked for (default: a GPU if there is one), or an InputError."""
    try:
        target = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError as error:
        raise InputError(f"device {device!r}: not a torch device ({error})") from error
    if target.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r}: no GPU is available to this process")
    return target


def _open_path(path: Path) -> tuple[torch.nn.Module, TaskModel | None]:
    """The encoder and task head (or None) of a model.pt, or the encoder of a Hugging Face model directory."""
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"{path}: a directory without config.json, so not a Hugging Face model directory")
        return open_encoder({"type": "huggingface", "path": str(path)}), None
    checkpoint = load_checkpoint(path)
    if checkpoint["kind"] != "finetuned":
        return load_encoder(path), None
    if checkpoint.get("protocol") == "probe":
        from plus.inference.probes import probe_predictor

        head = probe_predictor(checkpoint, path)
        return head.encoder.inner, head
    head = finetuned_module(checkpoint, path)
    return head.encoder, head


def load(source: Source, device: str | torch.device | None = None) -> Model:
    """A model in eval mode on `device` (default: GPU if any): our model.pt (pretrained, fine-tuned or probe), a
    Hugging Face model directory (recognised by its config.json), or an encoder spec (dict or plus.settings spec).

    A probe embeds new sequences through the encoder it records (relative paths: see plus.models.spec_paths)."""
    target = _target_device(device)
    if isinstance(source, (Mapping, Settings)):
        value = source.model_dump(mode="json") if isinstance(source, Settings) else dict(source)
        spec = parse_encoder_spec(value)
        text = json.dumps(spec.model_dump(mode="json", exclude_none=True))
        return Model(None, open_encoder(spec).to(target).eval(), None, source=text)
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"plus.load: expected a path or an encoder spec, got {type(source).__name__}")
    encoder, head = _open_path(Path(source))
    if head is not None:
        head.to(target).eval()
    return Model(source, encoder.to(target).eval(), head)
