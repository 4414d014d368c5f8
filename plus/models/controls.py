"""Control encoders without parameters: a residue's one-hot vector or its BLOSUM62 row.

Both map each residue token to a fixed vector (A..V and X; 21 dimensions, in our token order) and anything else
(PAD, MASK, CLS, SEP) to zeros, so a head on them sees the residue identity and nothing learned from context.
"""

from __future__ import annotations

import torch

from plus.models.encoder import Encoder
from plus.tensors import padding_mask
from plus.tokens import AMINO_ACIDS, RESIDUE_TOKENS, VOCAB_SIZE

RESIDUE_LETTERS = AMINO_ACIDS + "X"  # the letters of tokens 1..21


class TableEncoder(Encoder):
    """h[b, t] = table[tokens[b, t]]: a fixed lookup, no parameters, no state dict."""

    predicts_masked_tokens = False

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("table", table.float(), persistent=False)
        self.d_h = self.d_z = table.shape[1]

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.table[tokens]
        return h * padding_mask(lengths.to(tokens.device), tokens.shape[1])[:, :, None].to(h.dtype)


class OneHotEncoder(TableEncoder):
    """h = one-hot of the residue over A..V, X (21 dimensions)."""

    def __init__(self) -> None:
        table = torch.zeros(VOCAB_SIZE, len(RESIDUE_TOKENS))
        for column, token in enumerate(RESIDUE_TOKENS):
            table[token, column] = 1.0
        super().__init__(table)


def blosum62_table() -> torch.Tensor:
    """[VOCAB_SIZE, 21]: row of token t = BLOSUM62 scores of its residue against A..V, X (Biopython's matrix)."""
    from Bio.Align import substitution_matrices

    matrix = substitution_matrices.load("BLOSUM62")
    table = torch.zeros(VOCAB_SIZE, len(RESIDUE_LETTERS))
    for token, letter in zip(RESIDUE_TOKENS, RESIDUE_LETTERS, strict=True):
        table[token] = torch.tensor([float(matrix[letter][other]) for other in RESIDUE_LETTERS])
    return table


class Blosum62Encoder(TableEncoder):
    """h = the residue's BLOSUM62 row over A..V, X (21 dimensions, raw integer scores)."""

    def __init__(self) -> None:
        super().__init__(blosum62_table())
