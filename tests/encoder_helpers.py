"""Encoders for tests, written locally: tiny Hugging Face models (transformers' own config classes, random
weights, no download) and the layout of the PLUS authors' released PLUS-RNN files."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ESM2_VOCABULARY = ["<cls>", "<pad>", "<eos>", "<unk>", *"LAGVSERTIDPKQNFYMHWCXBUZO", ".", "-", "<null_1>", "<mask>"]
PROTBERT_VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"LAGVESIKRDTPNQFYMHCWXUBZO"]


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def write_tiny_esm2(directory: Path, seed: int = 0, **config: object) -> Path:
    """An ESM-2-architecture masked LM (2 layers x 32, rotary positions) with the ESM-2 vocabulary and tokenizer."""
    _offline()
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(ESM2_VOCABULARY) + "\n")
    tokenizer = EsmTokenizer(vocab_file=str(directory / "vocab.txt"))
    settings = {
        "vocab_size": 33,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "max_position_embeddings": 1026,
        "position_embedding_type": "rotary",
        "pad_token_id": 1,
        "mask_token_id": 32,
        "token_dropout": True,
        "emb_layer_norm_before": False,
        **config,
    }
    torch.manual_seed(seed)
    EsmForMaskedLM(EsmConfig(**settings)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_tiny_protbert(directory: Path, seed: int = 0) -> Path:
    """A BERT with a ProtBert-style vocabulary: one upper-case letter per token, residues separated by spaces."""
    _offline()
    from transformers import BertConfig, BertModel, BertTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(PROTBERT_VOCABULARY) + "\n")
    tokenizer = BertTokenizer(str(directory / "vocab.txt"), do_lower_case=False)
    config = BertConfig(
        vocab_size=len(PROTBERT_VOCABULARY),
        hidden_size=24,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=64,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_tiny_prott5(directory: Path, seed: int = 0) -> Path:
    """A T5 encoder-decoder with a ProtT5-style unigram vocabulary ('▁A' per residue, so residues need spaces)."""
    _offline()
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5Model

    directory.mkdir(parents=True, exist_ok=True)
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(f"▁{a}", -1.0) for a in "ALGVSREDTIPKFQNYMHWCXBOUZ"]
    backend = Tokenizer(models.Unigram(pieces, unk_id=2))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    config = T5Config(
        vocab_size=len(pieces),
        d_model=16,
        d_kv=4,
        d_ff=32,
        num_layers=2,
        num_heads=4,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    torch.manual_seed(seed)
    T5Model(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


class TheirPlusRNN(nn.Module):
    """The layout of the authors' PLUS_RNN (names and shapes of their state dict), with their forward pass."""

    def __init__(self, hidden: int, layers: int, proj: int = 100) -> None:
        super().__init__()
        self.embed = nn.Embedding(22, 21, padding_idx=21)
        self.rnn = nn.LSTM(21, hidden, layers, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(2 * hidden, proj)
        self.decoder = nn.Linear(2 * hidden, 21)
        self.ordinal_weight = nn.Parameter(torch.ones(1, 2))
        self.ordinal_bias = nn.Parameter(torch.zeros(2) + 10)

    def forward(self, residues: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Their input: token 0 before and after each sequence and as padding; outputs of those two dropped."""
        lengths = torch.tensor([len(r) + 2 for r in residues])
        x = torch.zeros(len(residues), int(lengths.max()), dtype=torch.long)
        for row, r in enumerate(residues):
            x[row, 1 : len(r) + 1] = r
        order = torch.argsort(lengths, descending=True)
        packed = pack_padded_sequence(self.embed(x[order]), lengths[order], batch_first=True)
        h = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0]
        h = h[:, 1:-1][torch.argsort(order)]
        return self.fc(h), h


def write_authors_file(path: Path, model: nn.Module, prefix: str = "module.") -> Path:
    """A state dict saved as the authors saved theirs (DataParallel-wrapped: keys start with `module.`)."""
    torch.save(OrderedDict((prefix + k, v) for k, v in model.state_dict().items()), path)
    return path
