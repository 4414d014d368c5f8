"""An encoder that reads precomputed states instead of computing them: the frozen encoder of a probe."""

from __future__ import annotations

import numpy as np
import torch

from plus.data.embedding_store import EmbeddingSplit
from plus.errors import InputError
from plus.models.encoder import Encoder


class CachedEncoder(Encoder):
    """h = the stored states of each sequence of the batch, found by its tokens; no parameters (always frozen).

    The stores hold one representation (h or z, chosen when they were written), so `project` is the identity and
    d_z = d_h = the stored width. Pooled stores give one row per sequence: h is [B, 1, d], which a summing
    ProteinHead reduces to exactly what it would compute on the residues.
    """

    predicts_masked_tokens = False

    def __init__(self, stores: list[EmbeddingSplit]) -> None:
        super().__init__()
        if not stores:
            raise ValueError("a cached encoder needs at least one store")
        self.stores = stores
        self.d_h = self.d_z = stores[0].dim
        self.pooled = stores[0].layout == "pooled"
        if any(s.dim != self.d_h or s.layout != stores[0].layout for s in stores):
            raise InputError("embedding stores of one probe must share their width and layout")
        self.lookup: dict[bytes, tuple[int, int]] = {}
        for number, store in enumerate(stores):
            for key, index in store.index.items():
                self.lookup.setdefault(key, (number, index))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        codes = tokens.cpu().numpy().astype(np.uint8)
        width = 1 if self.pooled else tokens.shape[1]
        out = np.zeros((tokens.shape[0], width, self.d_h), dtype=np.float32)
        for row, length in enumerate(lengths.tolist()):
            found = self.lookup.get(codes[row, :length].tobytes())
            if found is None:
                raise InputError("a sequence of this batch is not in the embeddings (computed for other data?)")
            states = self.stores[found[0]].get(found[1])
            out[row, : len(states)] = states
        return torch.from_numpy(out).to(tokens.device)
