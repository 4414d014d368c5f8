"""PLUS-RNN: token embedding, exact bidirectional LSTM over right-padded batches, projection and MLM decoder.

Unlike the authors' code, no start/stop tokens are added around a sequence (they add them and then drop their
outputs); h covers exactly the residues. The MLM decoder scores the whole 25-token vocabulary (the authors': 21).
The reverse direction of every layer starts at each sequence's own last residue, as with a PackedSequence, but
the encoder runs plain LSTM calls over padded batches, which use the fused oneDNN kernels on CPU and cuDNN on GPU:
per layer, a forward LSTM over the right-padded batch (exact for valid positions because padding comes after
them) and a forward LSTM with the reverse-direction weights over each sequence reversed within its own length,
reversed back afterwards. On CPU, a large batch is encoded in length-sorted groups of `rnn_bucket_size`
sequences, each trimmed to its own longest sequence, so little time goes into padding (each sequence's result
does not depend on its group, so this too is exact).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from plus.models.configs import RNNConfig
from plus.models.encoder import Encoder
from plus.tensors import gather_positions, padding_mask, reverse_within_length_index
from plus.tokens import PAD, VOCAB_SIZE


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether oneDNN can run bf16 kernels (LSTM included) on this CPU (AVX-512 BF16 or AMX)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class PlusRNN(Encoder):
    """Embedding(25 -> embed_dim) -> `layers`-layer biLSTM (hidden per direction) -> h [B, L, 2*hidden].

    Pairs are encoded one sequence at a time (the base class's encode_pair) and compared by their projections.
    """

    def __init__(self, config: RNNConfig) -> None:
        super().__init__()
        if not isinstance(config, RNNConfig):
            raise TypeError(f"PlusRNN needs an RNNConfig, not {type(config).__name__}")
        self.config = config
        self.d_h = 2 * config.hidden
        self.d_z = config.proj_dim or self.d_h
        self.embed = nn.Embedding(VOCAB_SIZE, config.embed_dim, padding_idx=PAD)
        # The parameters live in a standard stacked biLSTM (the authors' layout); forward runs them per direction.
        self.lstm = nn.LSTM(
            config.embed_dim,
            config.hidden,
            num_layers=config.layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.proj = nn.Linear(self.d_h, config.proj_dim) if config.proj_dim else nn.Identity()
        self.decoder = nn.Linear(self.d_h, VOCAB_SIZE)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-residue representations h [B, L, d_h] of right-padded tokens; zero at padded positions."""
        lengths = lengths.to(tokens.device)
        h = self._padded_in_buckets(self.embed(tokens), lengths)
        return h * padding_mask(lengths, tokens.shape[1])[:, :, None].to(h.dtype)

    def _padded_in_buckets(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        size = self.config.rnn_bucket_size
        if x.device.type != "cpu" or not size or x.shape[0] <= size:
            return self._padded(x, lengths)
        order = torch.argsort(lengths, descending=True)
        outputs = []
        for start in range(0, len(order), size):
            index = order[start : start + size]
            width = int(lengths[index].max())
            h = self._padded(x[index, :width], lengths[index])
            outputs.append(nn.functional.pad(h, (0, 0, 0, x.shape[1] - width)))
        return torch.cat(outputs)[torch.argsort(order)]

    def _padded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, max_len, _ = x.shape
        reverse = reverse_within_length_index(lengths, max_len)
        zeros = x.new_zeros(1, batch, self.config.hidden)
        dropout = self.lstm.dropout
        for layer in range(self.config.layers):
            if layer > 0 and dropout > 0 and self.training:
                x = nn.functional.dropout(x, dropout, training=True)
            forward_out = self._run_direction(x, layer, "", zeros)
            backward_out = self._run_direction(gather_positions(x, reverse), layer, "_reverse", zeros)
            x = torch.cat([forward_out, gather_positions(backward_out, reverse)], dim=2)
        return x

    def _run_direction(self, x: torch.Tensor, layer: int, suffix: str, zeros: torch.Tensor) -> torch.Tensor:
        weights = [
            getattr(self.lstm, f"{name}_l{layer}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        ]
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and not cpu_has_native_bf16():
            with torch.autocast("cpu", enabled=False):  # oneDNN has no bf16 LSTM on this CPU: run it in fp32
                out, _, _ = torch.lstm(
                    x.float(), (zeros.float(), zeros.float()), weights, True, 1, 0.0, self.training, False, True
                )
            return out
        out, _, _ = torch.lstm(x, (zeros, zeros), weights, True, 1, 0.0, self.training, False, True)
        return out

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """z = Linear(h) [B, L, d_z] (the 100-d space the SSA score works in)."""
        return self.proj(h)

    def mlm_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Token logits [B, L, VOCAB_SIZE] for masked language modelling."""
        return self.decoder(h)
