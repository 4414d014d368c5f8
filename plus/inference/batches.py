"""Batched inference shared by evaluation and the Python API: length-sorted batches, embeddings, predictions."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from plus.settings import TaskSpec
from plus.tensors import pad_tokens

if TYPE_CHECKING:
    from plus.models.task_model import TaskModel


def module_device(module: nn.Module) -> torch.device:
    """Where a module's parameters (else its buffers) live; CPU for a module with neither (a parameter-free control)."""
    for tensor in chain(module.parameters(), module.buffers()):
        return tensor.device
    return torch.device("cpu")


def length_batches(
    lengths: Sequence[int] | Sequence[Sequence[int]],
    max_items: int | None = None,
    max_residues: int | None = None,
) -> list[list[int]]:
    """Indices grouped in length order so that no batch exceeds `max_items` items or `max_residues` padded residues.

    `lengths` is one length per item, or one row per item for pairs (each column is padded on its own). An item
    alone over the residue budget forms a batch by itself.
    """
    if len(lengths) == 0:
        return []
    widths = np.asarray(lengths, dtype=np.int64).reshape(len(lengths), -1)
    order = np.argsort(widths.sum(axis=1), kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    widest = np.zeros(widths.shape[1], dtype=np.int64)
    for index in order.tolist():
        wider = np.maximum(widest, widths[index])
        full = (max_items is not None and len(current) >= max_items) or (
            max_residues is not None and (len(current) + 1) * int(wider.sum()) > max_residues
        )
        if current and full:
            batches.append(current)
            current, wider = [], widths[index]
        current.append(index)
        widest = wider
    if current:
        batches.append(current)
    return batches


@torch.no_grad()
def embed_tokens(
    encoder: nn.Module,
    tokens: Sequence[np.ndarray],
    representation: str = "h",
    max_items: int | None = None,
    max_residues: int | None = None,
) -> list[torch.Tensor]:
    """Per-residue representations ([L_i, d] float32 CPU tensors, input order): h, or z = encoder.project(h)."""
    if representation not in ("h", "z"):
        raise ValueError(f"representation must be 'h' or 'z', not {representation!r}")
    device = module_device(encoder)
    out: list[Any] = [None] * len(tokens)
    for indices in length_batches([len(t) for t in tokens], max_items, max_residues):
        padded, lengths = pad_tokens([tokens[i] for i in indices])
        h = encoder(padded.to(device), lengths.to(device))
        rep = (h if representation == "h" else encoder.project(h)).float().cpu()
        for row, index in enumerate(indices):
            out[index] = rep[row, : int(lengths[row])].clone()  # a copy, so the padded batch can be freed
    return out


def predict_outputs(
    module: TaskModel,
    tokens: Sequence[np.ndarray],
    tokens_b: Sequence[np.ndarray] | None = None,
    max_items: int | None = None,
    max_residues: int | None = None,
) -> list[dict[str, np.ndarray]]:
    """`TaskModel.predict_batch` outputs per input (pairs when `tokens_b` is given), in input order."""
    device = module_device(module)
    if tokens_b is None:
        lengths: list[Any] = [len(t) for t in tokens]
    else:
        lengths = [(len(a), len(b)) for a, b in zip(tokens, tokens_b, strict=True)]
    per_residue = module.spec.task_shape.per_residue
    outputs: list[Any] = [None] * len(tokens)
    for indices in length_batches(lengths, max_items, max_residues):
        if tokens_b is None:
            padded, lens = pad_tokens([tokens[i] for i in indices])
            batch = {"tokens": padded.to(device), "lengths": lens.to(device)}
        else:
            padded_a, len_a = pad_tokens([tokens[i] for i in indices])
            padded_b, len_b = pad_tokens([tokens_b[i] for i in indices])
            batch = {
                "tokens_a": padded_a.to(device),
                "len_a": len_a.to(device),
                "tokens_b": padded_b.to(device),
                "len_b": len_b.to(device),
            }
        predicted = module.predict_batch(batch)
        for row, index in enumerate(indices):
            value = {key: array[row] for key, array in predicted.items()}
            if per_residue:
                value["log_probs"] = value["log_probs"][: len(tokens[index])]
            outputs[index] = value
    return outputs


def prediction_columns(spec: TaskSpec, outputs: Sequence[dict[str, np.ndarray]]) -> dict[str, Any]:
    """The prediction columns of predictions.parquet (docs/design.md) for the task's shape, one value per output."""
    return spec.task_shape.prediction_columns(spec, outputs)
