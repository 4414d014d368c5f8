"""FASTA -> per-residue and per-protein embeddings from a pretrained or fine-tuned encoder."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm import tqdm

from plus.data.fasta import read_fasta
from plus.errors import InputError
from plus.io import atomic_path
from plus.models.checkpoint import load_encoder
from plus.tensors import pad_tokens
from plus.tokens import encode


def embed_fasta(model_path: Path, fasta: Path, out: Path, representation: str = "h", batch_size: int = 16) -> int:
    """Write `{id}/residues` ([L, d]) and `{id}/protein` (mean over residues) for every record; return the count."""
    if out.suffix not in (".h5", ".npz"):
        raise InputError(f"{out}: output must end in .h5 or .npz")
    if representation not in ("h", "z"):
        raise InputError(f"representation must be 'h' or 'z', not {representation!r}")
    encoder = load_encoder(model_path)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    encoder.to(device)
    records = [(r.header.split()[0], encode(r.sequence).tokens, r.line) for r in read_fasta(fasta)]
    if not records:
        raise InputError(f"{fasta}: no sequences")
    ids = [r[0] for r in records]
    duplicates = {i for i in ids if ids.count(i) > 1} if len(set(ids)) != len(ids) else set()
    if duplicates:
        raise InputError(f"{fasta}: duplicate record ids {sorted(duplicates)[:5]}")
    order = np.argsort([len(r[1]) for r in records])
    arrays: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for start in tqdm(range(0, len(order), batch_size), desc="embedding", unit="batch"):
            chosen = [records[i] for i in order[start : start + batch_size]]
            tokens, lengths = pad_tokens([r[1] for r in chosen])
            h = encoder(tokens.to(device), lengths.to(device))
            rep = h if representation == "h" else encoder.project(h)
            rep = rep.float().cpu().numpy()
            for row, (name, _, _) in enumerate(chosen):
                residues = rep[row, : lengths[row]]
                arrays[f"{name}/residues"] = residues
                arrays[f"{name}/protein"] = residues.mean(axis=0)
    with atomic_path(out) as tmp:
        if out.suffix == ".h5":
            with h5py.File(tmp, "w") as handle:
                handle.attrs["representation"] = representation
                for key, value in arrays.items():
                    handle.create_dataset(key, data=value)
        else:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
    return len(records)
