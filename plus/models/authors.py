"""The PLUS authors' released PLUS-RNN weights (PLUS-RNN_BASE.pt, PLUS-RNN_LARGE.pt) as one of our encoders.

Their file is a plain state dict (keys maybe prefixed `module.`), read with torch.load(weights_only=True) and
converted into our PlusRNN: `embed` -> `embed`, `rnn` -> `lstm` (the same nn.LSTM layout), `fc` -> `proj`,
`decoder` -> `decoder`. BASE or LARGE (or any other size) is read off the shapes.

Alphabets. Theirs has 22 rows: 0 = start/stop (and padding, which packing never reads), 1..20 = A..V in our
order, 21 = X, which is also their MLM mask (a zero, never-trained row: their padding_idx). Ours: PAD 0, A..V
1..20, X 21, MASK 22, CLS 23, SEP 24. Embedding rows: our A..V get theirs, our X and MASK get their row 21
(zeros, as in their model), our CLS and SEP get their start/stop row 0, our PAD stays zero. Their MLM decoder has
21 outputs, for their tokens 0..20 (targets are only ever 1..20, but output 0, start/stop, is part of their MLM
softmax): our decoder's rows for A..V get theirs, our CLS row gets their output 0 (so our softmax has their 21
terms and the MLM log-probabilities of the residues equal theirs), and every other row (PAD, X, MASK, SEP) gets
zero weights and a bias of NEVER, so those tokens are never predicted.
Their ordinal SFP/homology weights (`ordinal_weight`, `ordinal_bias`) are not part of an encoder here and are
dropped: our SFP and homology heads start fresh.

Start and stop tokens. The authors' model saw every sequence as [start] residues [stop] (both token 0) in
pretraining and fine-tuning, and dropped the two outputs. With `add_start_stop=True` (the default for their
weights) we feed exactly that input (CLS and SEP, which carry their start/stop embedding) and drop the same two
outputs, so h and z equal their computation up to float rounding. With `add_start_stop=False` the sequence is fed
bare, as our own PLUS-RNN is trained: both LSTM directions then start from the first/last residue instead of from
the start/stop token, which changes every state near the ends (and, through the recurrence, a little further in).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from plus.errors import InputError
from plus.models.configs import RNNConfig
from plus.models.encoder import Encoder
from plus.models.presets import PRESETS
from plus.models.rnn import PlusRNN
from plus.tensors import padding_mask
from plus.tokens import CLS, MASK, PAD, SEP, VOCAB_SIZE, X

THEIR_ROWS = 22  # embedding rows of their alphabet
THEIR_START_STOP = 0
THEIR_X = 21
THEIR_OUTPUTS = 21  # MLM decoder outputs (their tokens 0..20)
RESIDUES = range(1, 21)  # A..V: the same indices in both alphabets
NEVER = -1.0e4  # decoder bias of tokens their model cannot predict


def read_authors_state(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Their state dict, weights-only, without any DataParallel `module.` prefix; InputError names a bad file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: PLUS authors' weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # arbitrary bytes fail in many ways inside the unpickler
        raise InputError(f"{path}: not a weights-only torch file ({error})") from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: not a plain state dict of tensors (the authors' PLUS-RNN files are)")
    return {name.removeprefix("module."): tensor for name, tensor in state.items()}


def authors_config(state: dict[str, torch.Tensor], source: str = "authors' weights") -> RNNConfig:
    """Our RNN config with the sizes their tensors have (BASE: 3 layers x 512, LARGE: 3 x 1024)."""
    needed = ["embed.weight", "rnn.weight_hh_l0", "fc.weight", "decoder.weight", "decoder.bias"]
    missing = [name for name in needed if name not in state]
    if missing:
        raise InputError(f"{source}: not a PLUS-RNN state dict (missing {missing})")
    hidden = state["rnn.weight_hh_l0"].shape[1]
    layers = 0
    while f"rnn.weight_hh_l{layers}" in state:
        layers += 1
    embed_rows, embed_dim = state["embed.weight"].shape
    proj_dim = state["fc.weight"].shape[0]
    expected = {
        "embed.weight": (THEIR_ROWS, embed_dim),
        "rnn.weight_ih_l0": (4 * hidden, embed_dim),
        "fc.weight": (proj_dim, 2 * hidden),
        "decoder.weight": (THEIR_OUTPUTS, 2 * hidden),
    }
    for name, shape in expected.items():
        if name not in state or tuple(state[name].shape) != shape:
            got = tuple(state[name].shape) if name in state else None
            raise InputError(f"{source}: {name} has shape {got}, expected {shape} (embed rows {embed_rows})")
    return RNNConfig(layers=layers, hidden=hidden, proj_dim=proj_dim, embed_dim=embed_dim)


def authors_variant(config: RNNConfig) -> str | None:
    """'plus-rnn-base' or 'plus-rnn-large' when the sizes are a published preset's, else None."""
    for name in ("plus-rnn-base", "plus-rnn-large"):
        preset = PRESETS[name]
        sizes = (preset.layers, preset.hidden, preset.proj_dim, preset.embed_dim)
        if sizes == (config.layers, config.hidden, config.proj_dim, config.embed_dim):
            return name
    return None


def convert_authors_state(state: dict[str, torch.Tensor], config: RNNConfig) -> dict[str, torch.Tensor]:
    """Their tensors renamed and re-indexed into our PlusRNN's state dict (see the module docstring)."""
    theirs = state["embed.weight"].float()
    embed = torch.zeros(VOCAB_SIZE, config.embed_dim)
    embed[list(RESIDUES)] = theirs[list(RESIDUES)]
    embed[X] = embed[MASK] = theirs[THEIR_X]
    embed[CLS] = embed[SEP] = theirs[THEIR_START_STOP]
    embed[PAD] = 0.0
    decoder_weight = torch.zeros(VOCAB_SIZE, 2 * config.hidden)
    decoder_bias = torch.full((VOCAB_SIZE,), NEVER)
    ours, their_outputs = [CLS, *RESIDUES], [THEIR_START_STOP, *RESIDUES]
    decoder_weight[ours] = state["decoder.weight"].float()[their_outputs]
    decoder_bias[ours] = state["decoder.bias"].float()[their_outputs]
    converted = {"embed.weight": embed, "decoder.weight": decoder_weight, "decoder.bias": decoder_bias}
    converted["proj.weight"], converted["proj.bias"] = state["fc.weight"], state["fc.bias"]
    for name, tensor in state.items():
        if name.startswith("rnn."):
            converted["lstm." + name.removeprefix("rnn.")] = tensor
    return converted


class AuthorsPlusRNN(Encoder):
    """Our PlusRNN holding the authors' weights, optionally fed their start/stop tokens around each sequence."""

    def __init__(self, config: RNNConfig, add_start_stop: bool = True) -> None:
        super().__init__()
        self.rnn = PlusRNN(config)
        self.config = config
        self.add_start_stop = add_start_stop
        self.d_h, self.d_z = self.rnn.d_h, self.rnn.d_z

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = lengths.to(tokens.device)
        if not self.add_start_stop:
            return self.rnn(tokens, lengths)
        batch, width = tokens.shape
        framed = torch.full((batch, width + 2), PAD, dtype=tokens.dtype, device=tokens.device)
        framed[:, 0] = CLS
        framed[:, 1 : width + 1] = tokens
        framed[torch.arange(batch, device=tokens.device), lengths + 1] = SEP
        h = self.rnn(framed, lengths + 2)[:, 1 : width + 1]
        return h * padding_mask(lengths, width)[:, :, None].to(h.dtype)

    def project(self, h: torch.Tensor) -> torch.Tensor:
        return self.rnn.project(h)

    def mlm_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.rnn.mlm_logits(h)


def load_authors_encoder(path: str | os.PathLike[str], add_start_stop: bool = True) -> AuthorsPlusRNN:
    """The authors' PLUS-RNN file converted into our encoder, in eval mode."""
    state = read_authors_state(path)
    config = authors_config(state, source=str(path))
    encoder = AuthorsPlusRNN(config, add_start_stop=add_start_stop)
    try:
        encoder.rnn.load_state_dict(convert_authors_state(state, config))
    except RuntimeError as error:
        raise InputError(f"{path}: weights do not fit a PLUS-RNN of their own sizes: {error}") from error
    return encoder.eval()
