"""A frozen encoder that gives exactly what a probe's stored states held, computed on the fly for new sequences."""

from __future__ import annotations

from typing import Literal

import torch

from plus.models.encoder import Encoder
from plus.tensors import padding_mask

STORED_DTYPES = {"float16": torch.float16, "float32": torch.float32}


class FrozenStates(Encoder):
    """h = the wrapped encoder's h or z, rounded to the stored dtype; pooled: their float64 sum per sequence [B, 1, d].

    This is what `plus embed-task` writes and a CachedEncoder reads back, so a probe's head sees the same input on
    new sequences as at training: `project` is the identity and d_z = d_h = the stored width, as for CachedEncoder.
    """

    predicts_masked_tokens = False

    def __init__(
        self,
        encoder: Encoder,
        representation: Literal["h", "z"],
        layout: Literal["residues", "pooled"] = "residues",
        dtype: str = "float16",
    ) -> None:
        super().__init__()
        self.inner = encoder.eval().requires_grad_(False)
        self.representation = representation
        self.pooled = layout == "pooled"
        self.stored_dtype = torch.float32 if self.pooled else STORED_DTYPES[dtype]
        self.d_h = self.d_z = encoder.d_h if representation == "h" else encoder.d_z

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.inner(tokens, lengths)
        states = (h if self.representation == "h" else self.inner.project(h)).float()
        states = states * padding_mask(lengths.to(states.device), states.shape[1])[:, :, None].to(states.dtype)
        if self.pooled:
            return states.double().sum(dim=1, keepdim=True).float()
        return states.to(self.stored_dtype).float()
