"""PLUS-TFM: a BERT-style post-LN Transformer encoder with sinusoidal positions and two segment embeddings."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from plus.models.configs import TransformerConfig
from plus.models.encoder import Encoder, PairEncoding
from plus.tensors import gather_positions, padding_mask
from plus.tokens import CLS, PAD, SEP, VOCAB_SIZE


class OriginalLayerNorm(nn.Module):
    """The authors' LayerNorm (from pytorchic-bert): divides by sqrt(std + eps) instead of sqrt(var + eps)."""

    def __init__(self, dim: int, eps: float = 1e-12) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(-1, keepdim=True)
        std = (x - mean).pow(2).mean(-1, keepdim=True).sqrt()
        return self.weight * (x - mean) / torch.sqrt(std + self.eps) + self.bias


def layer_norm(dim: int, original: bool) -> nn.Module:
    return OriginalLayerNorm(dim) if original else nn.LayerNorm(dim, eps=1e-12)


def sinusoidal_positions(max_len: int, dim: int) -> torch.Tensor:
    """[max_len, dim] fixed sine/cosine position encodings (Vaswani et al.)."""
    position = torch.arange(max_len, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(max_len, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


def _bert_init(module: nn.Module) -> None:
    """BERT's initialisation: N(0, 0.02) weights for linear layers and embeddings, zero biases."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


class TransformerBlock(nn.Module):
    """Post-LN block: x = LN(x + Attn(x)); x = LN(x + FFN(x)), GELU in the feed-forward."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.heads = config.heads
        self.qkv = nn.Linear(config.hidden, 3 * config.hidden)
        self.out = nn.Linear(config.hidden, config.hidden)
        self.norm1 = layer_norm(config.hidden, config.original_layernorm)
        self.ffn = nn.Sequential(nn.Linear(config.hidden, config.ffn), nn.GELU(), nn.Linear(config.ffn, config.hidden))
        self.norm2 = layer_norm(config.hidden, config.original_layernorm)
        self.dropout = nn.Dropout(config.dropout)
        self.attention_dropout = config.dropout

    def forward(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        """x [B, T, d]; attend: bool [B, 1, 1, T], True where a key may be attended to."""
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attend, dropout_p=self.attention_dropout if self.training else 0.0
        )
        x = self.norm1(x + self.dropout(self.out(attended.transpose(1, 2).reshape(batch, length, dim))))
        return self.norm2(x + self.dropout(self.ffn(x)))


class PlusTFM(Encoder):
    """Token + sinusoidal position + segment embeddings -> `layers` post-LN blocks -> h [B, L, hidden].

    A pair is read as one input, `[CLS] a [SEP] b [SEP]`, whose [CLS] state is the pair's joint vector.
    """

    joint_pairs = True

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"PlusTFM needs a TransformerConfig, not {type(config).__name__}")
        self.config = config
        self.d_h = config.hidden
        self.d_z = config.proj_dim or self.d_h
        self.token_embed = nn.Embedding(VOCAB_SIZE, config.hidden)
        self.segment_embed = nn.Embedding(2, config.hidden)
        self.register_buffer("positions", sinusoidal_positions(config.max_len, config.hidden), persistent=False)
        self.embed_norm = layer_norm(config.hidden, config.original_layernorm)
        self.embed_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.layers))
        self.proj = nn.Linear(self.d_h, config.proj_dim) if config.proj_dim else nn.Identity()
        self.mlm_transform = nn.Sequential(
            nn.Linear(config.hidden, config.hidden), nn.GELU(), layer_norm(config.hidden, config.original_layernorm)
        )
        self.mlm_bias = nn.Parameter(torch.zeros(VOCAB_SIZE))
        if config.init == "bert":
            self.apply(_bert_init)

    def encode(self, tokens: torch.Tensor, segments: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Run the blocks over already framed input ([CLS] ... [SEP]) of the given total lengths."""
        length = tokens.shape[1]
        if length > self.config.max_len:
            raise ValueError(f"input of {length} tokens (with [CLS]/[SEP]) exceeds max_len {self.config.max_len}")
        x = self.token_embed(tokens) + self.positions[:length] + self.segment_embed(segments)
        x = self.embed_dropout(self.embed_norm(x))
        attend = padding_mask(lengths, length)[:, None, None, :]
        for block in self.blocks:
            x = block(x, attend)
        return x

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """h [B, L, d_h] for the residues of `[CLS] seq [SEP]`; zero at padded positions (see encode_with_cls)."""
        return self.encode_with_cls(tokens, lengths)[0]

    def encode_with_cls(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h [B, L, d_h] of the residues of `[CLS] seq [SEP]` (zero at padding) and the [CLS] state [B, d_h].

        A sequence longer than max_len - 2 residues is encoded in consecutive windows of that many residues,
        each framed by its own [CLS]/[SEP], and the windows' states are concatenated. (The authors truncate
        protein-level inputs and chunk residue-level ones at 512; windows cover both without dropping residues.)
        """
        lengths = lengths.to(tokens.device)
        window = self.config.max_len - 2
        if tokens.shape[1] <= window:
            return self._encode_window(tokens, lengths)
        parts, cls = [], None
        for start in range(0, tokens.shape[1], window):
            part_lengths = (lengths - start).clamp(min=0, max=window)
            h, window_cls = self._encode_window(tokens[:, start : start + window], part_lengths)
            parts.append(h)
            cls = window_cls if cls is None else cls  # the first window's [CLS]
        return torch.cat(parts, dim=1), cls

    def _encode_window(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, length = tokens.shape
        framed = tokens.new_full((batch, length + 2), PAD)
        framed[:, 0] = CLS
        framed[:, 1 : length + 1] = tokens
        framed[torch.arange(batch, device=tokens.device), lengths + 1] = SEP
        x = self.encode(framed, torch.zeros_like(framed), lengths + 2)
        h = x[:, 1 : length + 1]
        return h * padding_mask(lengths, length)[:, :, None].to(h.dtype), x[:, 0]

    @property
    def max_pair_tokens(self) -> int:
        return self.config.max_len

    def encode_pair(
        self, tokens_a: torch.Tensor, len_a: torch.Tensor, tokens_b: torch.Tensor, len_b: torch.Tensor
    ) -> PairEncoding:
        """h_a [B, La, d_h], h_b [B, Lb, d_h] and joint = [CLS] [B, d_h] of `[CLS] a [SEP] b [SEP]` (segments 0/1)."""
        device = tokens_a.device
        len_a, len_b = len_a.to(device), len_b.to(device)
        batch, max_a = tokens_a.shape
        max_b = tokens_b.shape[1]
        total = len_a + len_b + 3
        width = int(total.max())
        rows = torch.arange(batch, device=device)[:, None]
        position_a = 1 + torch.arange(max_a, device=device)[None, :].expand(batch, -1)
        position_b = (len_a[:, None] + 2 + torch.arange(max_b, device=device)[None, :]).clamp(max=width - 1)
        valid_a, valid_b = padding_mask(len_a, max_a), padding_mask(len_b, max_b)
        framed = tokens_a.new_full((batch, width), PAD)
        framed[:, 0] = CLS
        framed[rows.expand_as(position_a)[valid_a], position_a[valid_a]] = tokens_a[valid_a]
        framed[rows.expand_as(position_b)[valid_b], position_b[valid_b]] = tokens_b[valid_b]
        framed[rows[:, 0], len_a + 1] = SEP
        framed[rows[:, 0], total - 1] = SEP
        segments = (torch.arange(width, device=device)[None, :] >= (len_a + 2)[:, None]).long()
        x = self.encode(framed, segments, total)
        h_a = gather_positions(x, position_a.clamp(max=width - 1)) * valid_a[:, :, None].to(x.dtype)
        h_b = gather_positions(x, position_b) * valid_b[:, :, None].to(x.dtype)
        return PairEncoding(h_a, h_b, joint=x[:, 0])

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """z [B, L, d_z]; the identity when proj_dim is None (the authors' TFM has no projection)."""
        return self.proj(h)

    def mlm_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Linear -> GELU -> LayerNorm -> decoder tied to the token embedding, plus a bias."""
        return self.mlm_transform(h) @ self.token_embed.weight.t() + self.mlm_bias
