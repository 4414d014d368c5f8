"""Throughput and memory of embedding real proteins (what `plus embed-task` computes), one encoder per run.

Reads a FASTA file (default: the DeepLoc 1.0 test set, 2,768 proteins of 40..5,654 aa), keeps every N-th
protein (`--every`), and embeds them `--repeats` times through plus.inference.embed_task.encode_sequences:
sorted by length, batched under a residue budget, long proteins alone in their batch (a Hugging Face model cuts
them into windows). Prints ONE JSON line: residues/s (median over the repeats of residues / wall time of the
whole pass), the pass times, peak memory (process peak RSS on CPU; torch.cuda.max_memory_allocated on GPU), the
RSS after loading the model, and the length distribution of the proteins measured. Weights are random (speed
does not depend on them). Encoders:

    plus-rnn-base    our PLUS-RNN BASE (3 x 512 biLSTM, 14.8 M parameters), build_encoder("plus-rnn-base")
    esm2-12x320      an ESM-2-architecture transformer of similar size built locally with transformers
                     (12 layers x 320, 20 heads, FFN 1280, rotary; 14.8 M parameters), loaded as a huggingface
                     encoder from a temporary directory (windows of 1,022 residues, as ESM-2)
    esm2-6x320       the ESM-2 8M architecture (6 x 320; 7.5 M parameters)

    nice -n 19 python benchmarks/embed_throughput.py --encoder plus-rnn-base --every 4
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from machine_load import LoadWatch, stamp

from plus.data.fasta import read_fasta
from plus.inference.embed_task import RESIDUES_PER_BATCH, encode_sequences
from plus.models import build_encoder, count_parameters
from plus.tokens import encode

DEEPLOC = Path("/work/shared/realdata/deeploc/deeploc_test_set.fasta")
ESM2_VOCABULARY = ["<cls>", "<pad>", "<eos>", "<unk>", *"LAGVSERTIDPKQNFYMHWCXBUZO", ".", "-", "<null_1>", "<mask>"]
ESM2_SHAPES = {"esm2-12x320": 12, "esm2-6x320": 6}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", choices=("plus-rnn-base", *ESM2_SHAPES), default="plus-rnn-base")
    parser.add_argument("--fasta", type=Path, default=DEEPLOC)
    parser.add_argument("--every", type=int, default=1, help="keep every N-th protein of the file")
    parser.add_argument("--min-length", type=int, default=0, help="then keep only proteins at least this long")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the proteins")
    parser.add_argument("--residues-per-batch", type=int, default=RESIDUES_PER_BATCH)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    return parser.parse_args(argv)


def esm2_like(layers: int, directory: Path) -> torch.nn.Module:
    """An ESM-2-architecture model with random weights and the ESM-2 vocabulary, loaded as our encoder."""
    from transformers import EsmConfig, EsmModel, EsmTokenizer

    from plus.models.huggingface import load_huggingface_encoder

    (directory / "vocab.txt").write_text("\n".join(ESM2_VOCABULARY) + "\n")
    EsmTokenizer(vocab_file=str(directory / "vocab.txt")).save_pretrained(directory)
    config = EsmConfig(
        vocab_size=33,
        hidden_size=320,
        num_hidden_layers=layers,
        num_attention_heads=20,
        intermediate_size=1280,
        max_position_embeddings=1026,
        position_embedding_type="rotary",
        pad_token_id=1,
        mask_token_id=32,
        token_dropout=True,
        emb_layer_norm_before=False,
    )
    torch.manual_seed(0)
    EsmModel(config, add_pooling_layer=False).save_pretrained(directory)
    return load_huggingface_encoder(directory)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    watch = LoadWatch()
    device = torch.device(args.device)
    sequences = [encode(record.sequence).tokens for record in read_fasta(args.fasta)][:: args.every]
    sequences = [s for s in sequences if len(s) >= args.min_length]
    lengths = np.array([len(s) for s in sequences])
    with tempfile.TemporaryDirectory() as scratch:
        if args.encoder == "plus-rnn-base":
            torch.manual_seed(0)
            encoder = build_encoder("plus-rnn-base")
        else:
            encoder = esm2_like(ESM2_SHAPES[args.encoder], Path(scratch))
        encoder = encoder.to(device).eval()
        loaded_rss = rss_mib()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for _index, _states in encode_sequences(encoder, sequences, "h", args.residues_per_batch, device):
                pass
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else rss_mib()
    line = {
        "encoder": args.encoder,
        "parameters": count_parameters(encoder),
        "d_h": encoder.d_h,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "fasta": str(args.fasta),
        "every": args.every,
        "min_length": args.min_length,
        "proteins": len(sequences),
        "residues": int(lengths.sum()),
        "length": {
            "min": int(lengths.min()),
            "median": float(np.median(lengths)),
            "p90": float(np.percentile(lengths, 90)),
            "max": int(lengths.max()),
            "over_1022": int((lengths > 1022).sum()),
        },
        "residues_per_batch": args.residues_per_batch,
        "repeats": args.repeats,
        "residues_per_s": round(lengths.sum() / statistics.median(seconds), 1),
        "pass_seconds": [round(s, 2) for s in seconds],
        "peak_memory_mib": round(peak, 1),
        "memory_kind": "cuda_max_allocated" if device.type == "cuda" else "process_peak_rss",
        "rss_after_load_mib": round(loaded_rss, 1),
        "torch": torch.__version__,
    }
    print(json.dumps(stamp(line, watch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
