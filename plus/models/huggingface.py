"""Any local Hugging Face transformers checkpoint (ESM-2, ProtBert, ProtT5's encoder, ...) as an encoder.

A model directory (config.json, weights, tokenizer files) is read offline only: HF_HUB_OFFLINE and
TRANSFORMERS_OFFLINE are set and every load passes local_files_only=True, so nothing is ever downloaded.
Encoder-decoder configs (T5: ProtT5) load their encoder alone (AutoModelForTextEncoding); the rest load AutoModel.

Tokens. Batches arrive in our alphabet, where O, U, B and Z were already read as K, C, X and X (ProtT5's own
preprocessing maps U, Z, O, B to X; ours keeps the closer K and C for O and U). At load time each of our residue
letters (A..V, X) is tokenized on its own, which must give one token per letter, and a test string of every letter
is tokenized both as is and with spaces between residues: the first of the two that gives exactly the per-letter
tokens is the form this tokenizer needs (ESM: as is; ProtBert and ProtT5: spaced). A tokenizer that does not give
one token per residue (a BPE vocabulary) is an InputError. A batch then becomes model ids through a lookup table,
and the tokenizer's own special tokens (CLS/BOS before, EOS/SEP after) are put around every sequence; their states
are dropped, so h has exactly one state per residue.

Long sequences. A model accepts at most `max_residues` residues per input (default: the tokenizer's
model_max_length or the config's max_position_embeddings, less the special tokens; ESM-2: 1,022). A longer
sequence is cut into the fewest windows of that size that overlap by at least `window_overlap` residues
(default a quarter of a window), spread evenly from the first residue to the last; each window is encoded as a
sequence of its own (with the special tokens) and every residue takes its state from the window whose centre is
nearest, so it sees at least half the overlap of context on both sides.

`layer` picks the hidden state: -1 (default) the model's last hidden state, 0 the embedding output, k the output of
block k; negative values count from the end as in Python. z = h: there is no projection and no MLM head, so
fine-tuning runs without the auxiliary MLM loss (aux_mlm_weight 0).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from plus.errors import InputError
from plus.io import file_sha256
from plus.models.encoder import Encoder
from plus.tensors import padding_mask
from plus.tokens import MASK, RESIDUE_TOKENS, VOCAB_SIZE

RESIDUE_LETTERS = "ARNDCQEGHILKMFPSTWYVX"  # the letters of our tokens 1..21
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack")
POSITION_OFFSET = {"esm": 2, "roberta": 2, "xlm-roberta": 2}  # positions start after the padding index
UNBOUNDED = 1_000_000  # a model_max_length above this means "not set"


def _transformers() -> Any:
    """The transformers module, imported offline and quiet; a clear error when it is not installed."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import transformers
    except ImportError as error:
        raise InputError("the huggingface encoder needs the transformers package: pip install -e '.[hf]'") from error
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return transformers


def check_model_dir(path: str | os.PathLike[str]) -> Path:
    """The path as a directory holding a config.json, or an InputError naming it."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: Hugging Face model directory not found")
    if not (path / "config.json").is_file():
        raise InputError(f"{path}: no config.json (not a transformers model directory)")
    return path


def weights_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of the weights file of a model directory; of several, the sha256 of their `sha256  name` lines."""
    path = check_model_dir(path)
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    if not files:
        raise InputError(f"{path}: no weights file ({', '.join(WEIGHT_SUFFIXES)})")
    if len(files) == 1:
        return file_sha256(files[0])
    lines = "".join(f"{file_sha256(p)}  {p.name}\n" for p in files)
    return hashlib.sha256(lines.encode()).hexdigest()


class ResidueVocabulary:
    """How one tokenizer spells our residues: a model id per residue, spacing, special tokens around a sequence."""

    def __init__(self, tokenizer: Any, source: str) -> None:
        ids = {}
        for letter in RESIDUE_LETTERS:
            pieces = tokenizer(letter, add_special_tokens=False)["input_ids"]
            if len(pieces) != 1:
                raise InputError(f"{source}: the tokenizer splits residue {letter!r} into {len(pieces)} tokens")
            ids[letter] = pieces[0]
        probe = RESIDUE_LETTERS + RESIDUE_LETTERS[::-1] + "AAAALLLL"
        expected = [ids[letter] for letter in probe]
        self.spaced = next(
            (
                spaced
                for spaced in (False, True)
                if tokenizer(self._text(probe, spaced), add_special_tokens=False)["input_ids"] == expected
            ),
            None,
        )
        if self.spaced is None:
            raise InputError(f"{source}: the tokenizer does not give one token per residue (not a residue vocabulary)")
        framed = tokenizer(self._text("A", self.spaced), add_special_tokens=True)["input_ids"]
        at = framed.index(ids["A"])
        self.prefix, self.suffix = list(framed[:at]), list(framed[at + 1 :])
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.lookup = np.full(VOCAB_SIZE, -1, dtype=np.int64)
        for token, letter in zip(RESIDUE_TOKENS, RESIDUE_LETTERS, strict=True):
            self.lookup[token] = ids[letter]
        if tokenizer.mask_token_id is not None:
            self.lookup[MASK] = tokenizer.mask_token_id

    @staticmethod
    def _text(residues: str, spaced: bool) -> str:
        return " ".join(residues) if spaced else residues


def model_max_residues(config: Any, tokenizer: Any, n_special: int) -> int | None:
    """Residues one input may hold: the tokenizer's or the positions' limit less the special tokens (None: none)."""
    limits = []
    if 0 < getattr(tokenizer, "model_max_length", UNBOUNDED) < UNBOUNDED:
        limits.append(int(tokenizer.model_max_length))
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        limits.append(int(positions) - POSITION_OFFSET.get(config.model_type, 0))
    return min(limits) - n_special if limits else None


def windows(length: int, size: int | None, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start, end, own_start, own_end) per window: [start, end) is encoded, [own_start, own_end) kept."""
    if size is None or length <= size:
        return [(0, length, 0, length)]
    count = int(np.ceil((length - size) / (size - overlap))) + 1  # fewest windows overlapping by >= overlap
    starts = [round(k * (length - size) / (count - 1)) for k in range(count)]  # spread evenly, last at the end
    centres = [start + size / 2 for start in starts]
    cuts = [0] + [int(np.ceil((a + b) / 2)) for a, b in zip(centres, centres[1:], strict=False)] + [length]
    return [(start, start + size, cuts[k], cuts[k + 1]) for k, start in enumerate(starts)]


class HuggingFaceEncoder(Encoder):
    """A transformers model reading our token batches: h = its hidden states at `layer`, one per residue."""

    predicts_masked_tokens = False

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        layer: int = -1,
        max_residues: int | None = None,
        window_overlap: int | None = None,
        source: str = "model",
    ) -> None:
        super().__init__()
        self.model = model
        self.vocabulary = ResidueVocabulary(tokenizer, source)
        n_layers = int(model.config.num_hidden_layers)
        if not -(n_layers + 1) <= layer <= n_layers:
            raise InputError(f"{source}: layer {layer} out of range; the model has layers 0..{n_layers}")
        self.layer = layer % (n_layers + 1)
        self.last_layer = self.layer == n_layers
        n_special = len(self.vocabulary.prefix) + len(self.vocabulary.suffix)
        self.max_residues = max_residues or model_max_residues(model.config, tokenizer, n_special)
        if self.max_residues is not None and self.max_residues < 2:
            raise InputError(f"{source}: max_residues must be at least 2, got {self.max_residues}")
        default_overlap = self.max_residues // 4 if self.max_residues else 0
        self.window_overlap = default_overlap if window_overlap is None else window_overlap
        if self.max_residues is not None and not 0 <= self.window_overlap < self.max_residues:
            raise InputError(f"{source}: window_overlap must be in [0, max_residues), got {self.window_overlap}")
        self.d_h = self.d_z = int(model.config.hidden_size)
        self.unused = freeze_unused(self)

    def _hidden_states(self, input_ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention, output_hidden_states=not self.last_layer)
        return out.last_hidden_state if self.last_layer else out.hidden_states[self.layer]

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        ids = self.vocabulary.lookup[tokens.cpu().numpy()]
        if (ids[padding_mask(lengths.cpu(), ids.shape[1]).numpy()] < 0).any():
            raise ValueError("the batch holds tokens a Hugging Face encoder cannot read (only residues and MASK)")
        rows = [
            (b, *window)
            for b, n in enumerate(lengths.tolist())
            for window in windows(int(n), self.max_residues, self.window_overlap)
        ]
        inputs = WindowBatch(ids, rows, self.vocabulary)
        device = tokens.device
        states = self._hidden_states(torch.from_numpy(inputs.ids).to(device), torch.from_numpy(inputs.mask).to(device))
        h = states.new_zeros(tokens.shape[0], tokens.shape[1], states.shape[-1])
        source = tuple(torch.from_numpy(index).to(device) for index in inputs.source)
        target = tuple(torch.from_numpy(index).to(device) for index in inputs.target)
        return h.index_put(target, states[source])


class WindowBatch:
    """Model inputs for windows of a batch (special tokens around each) and where each kept state goes back."""

    def __init__(self, ids: np.ndarray, rows: list[tuple[int, int, int, int, int]], vocab: ResidueVocabulary) -> None:
        n_prefix, n_suffix = len(vocab.prefix), len(vocab.suffix)
        width = max(end - start for _, start, end, _, _ in rows) + n_prefix + n_suffix
        self.ids = np.full((len(rows), width), vocab.pad_id, dtype=np.int64)
        self.mask = np.zeros((len(rows), width), dtype=np.int64)
        source_rows, source_positions, batch_rows, residues = [], [], [], []
        for r, (b, start, end, own_start, own_end) in enumerate(rows):
            n = end - start
            self.ids[r, :n_prefix] = vocab.prefix
            self.ids[r, n_prefix : n_prefix + n] = ids[b, start:end]
            self.ids[r, n_prefix + n : n_prefix + n + n_suffix] = vocab.suffix
            self.mask[r, : n_prefix + n + n_suffix] = 1
            kept = np.arange(own_start, own_end)
            source_rows.append(np.full(len(kept), r))
            source_positions.append(kept - start + n_prefix)
            batch_rows.append(np.full(len(kept), b))
            residues.append(kept)
        self.source = (np.concatenate(source_rows), np.concatenate(source_positions))  # row, position of a state
        self.target = (np.concatenate(batch_rows), np.concatenate(residues))  # where it goes in h


def freeze_unused(encoder: HuggingFaceEncoder) -> list[str]:
    """Stop gradients for parameters h never depends on (a pooler, ESM's contact head) and return their names.

    They would get no gradient anyway; frozen, they do not stall distributed training, which expects every
    trainable parameter to receive one. Found by walking the autograd graph of one short input (no backward)."""
    with torch.enable_grad():
        h = encoder(torch.arange(1, 5)[None, :], torch.tensor([4]))
    reached, seen, stack = set(), set(), [h.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if hasattr(node, "variable"):
            reached.add(id(node.variable))
        stack.extend(child for child, _ in node.next_functions)
    unused = [name for name, p in encoder.model.named_parameters() if p.requires_grad and id(p) not in reached]
    for name in unused:
        encoder.model.get_parameter(name).requires_grad_(False)
    return unused


def load_huggingface_encoder(
    path: str | os.PathLike[str],
    layer: int = -1,
    max_residues: int | None = None,
    window_overlap: int | None = None,
    pretrained: bool = True,
    seed: int = 0,
) -> HuggingFaceEncoder:
    """The model in a local directory, in eval mode; `pretrained=False`: its config freshly initialised (seeded)."""
    path = check_model_dir(path)
    transformers = _transformers()
    try:
        config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
        auto = transformers.AutoModelForTextEncoding if config.is_encoder_decoder else transformers.AutoModel
        if pretrained:
            model = auto.from_pretrained(path, local_files_only=True, dtype=torch.float32)
        else:
            torch.manual_seed(seed)
            model = auto.from_config(config, dtype=torch.float32)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"{path}: cannot load a transformers model from it: {error}") from error
    encoder = HuggingFaceEncoder(model, tokenizer, layer, max_residues, window_overlap, source=str(path))
    return encoder.eval()
