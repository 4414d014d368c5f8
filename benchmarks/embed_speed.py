"""Residues per second of PLUS-RNN BASE and an ESM-2-shaped model of similar size, embedding and training, in one run.

Both encoders get the same random proteins (`--proteins` of `--min-length`..`--max-length` residues, seeded),
batched as `plus embed-task` batches them (length-sorted, count x longest <= `--residues-per-batch`). Each repeat
times, for each encoder in turn, one embedding pass (inference mode, states copied to CPU as embed-task does) and
one training pass (train mode; per batch: forward, mean-pooled states -> Linear -> MSE, backward, Adam step). The
passes of both encoders and both kinds alternate within every repeat, so load that comes and goes during the run
hits all four alike: the ratios (training / embedding of one encoder, ESM-2 / PLUS of one kind) are steadier than
the speeds. Prints ONE JSON line: per encoder its parameters, median residues/s of each kind, the median of the
per-repeat training/embedding ratios and every pass time; the ESM-2/PLUS ratios; and the machine's load.

Weights are random (speed does not depend on them). Encoders (as embed_throughput.py builds them):

    plus-rnn-base    our PLUS-RNN BASE (3 x 512 biLSTM; 14.8 M parameters), build_encoder("plus-rnn-base")
    esm2-12x320      ESM-2 architecture, 12 layers x 320 (20 heads, FFN 1280, rotary; about 14.8 M parameters),
                     built with transformers.EsmConfig and loaded as our huggingface encoder

    nice -n 19 python benchmarks/embed_speed.py --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from embed_throughput import esm2_like
from machine_load import LoadWatch, stamp

from plus.inference.embed_task import encode_sequences, residue_budget_batches
from plus.models import build_encoder, count_parameters
from plus.tensors import pad_tokens

ENCODERS = ("plus-rnn-base", "esm2-12x320")
KINDS = ("embed", "train")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proteins", type=int, default=48)
    parser.add_argument("--min-length", type=int, default=50)
    parser.add_argument("--max-length", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (each: every encoder, both kinds)")
    parser.add_argument("--residues-per-batch", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def random_proteins(count: int, low: int, high: int, seed: int) -> list[np.ndarray]:
    """`count` random token sequences (the 20 standard residues) of uniform lengths in [low, high]."""
    rng = np.random.default_rng(seed)
    return [rng.integers(1, 21, size=int(n)).astype(np.int64) for n in rng.integers(low, high + 1, size=count)]


def embed_pass(encoder: torch.nn.Module, proteins: list[np.ndarray], budget: int) -> float:
    """Seconds to embed every protein (states to CPU, as embed-task)."""
    encoder.eval()
    start = time.perf_counter()
    with torch.inference_mode():
        for _ in encode_sequences(encoder, proteins, "h", budget):
            pass
    return time.perf_counter() - start


def train_pass(
    encoder: torch.nn.Module, head: torch.nn.Linear, optimizer: torch.optim.Optimizer, proteins: list, budget: int
) -> float:
    """Seconds of one training step per budgeted batch over every protein (forward, loss, backward, Adam)."""
    encoder.train()
    lengths = np.array([len(p) for p in proteins])
    start = time.perf_counter()
    for batch in residue_budget_batches(lengths, budget):
        tokens, batch_lengths = pad_tokens([proteins[i] for i in batch])
        h = encoder(tokens, batch_lengths)
        valid = (torch.arange(h.shape[1])[None, :] < batch_lengths[:, None]).to(h.dtype)[:, :, None]
        pooled = (h * valid).sum(dim=1) / batch_lengths[:, None].to(h.dtype)
        loss = head(pooled).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    proteins = random_proteins(args.proteins, args.min_length, args.max_length, args.seed)
    residues = int(sum(len(p) for p in proteins))
    watch = LoadWatch()
    with tempfile.TemporaryDirectory() as scratch:
        torch.manual_seed(args.seed)
        encoders = {"plus-rnn-base": build_encoder("plus-rnn-base"), "esm2-12x320": esm2_like(12, Path(scratch))}
        heads = {name: torch.nn.Linear(encoder.d_h, 1) for name, encoder in encoders.items()}
        optimizers = {
            name: torch.optim.Adam([*encoder.parameters(), *heads[name].parameters()], lr=1e-5)
            for name, encoder in encoders.items()
        }
        seconds: dict[str, dict[str, list[float]]] = {name: {kind: [] for kind in KINDS} for name in encoders}
        for name, encoder in encoders.items():  # untimed warm-up of both kinds
            embed_pass(encoder, proteins[:2], args.residues_per_batch)
            train_pass(encoder, heads[name], optimizers[name], proteins[:2], args.residues_per_batch)
        for _ in range(args.repeats):
            for name, encoder in encoders.items():
                seconds[name]["embed"].append(embed_pass(encoder, proteins, args.residues_per_batch))
                pass_time = train_pass(encoder, heads[name], optimizers[name], proteins, args.residues_per_batch)
                seconds[name]["train"].append(pass_time)
    results: dict[str, Any] = {}
    for name, times in seconds.items():
        ratios = [embed / train for embed, train in zip(times["embed"], times["train"], strict=True)]
        results[name] = {
            "parameters": count_parameters(encoders[name]),
            "embed_residues_per_s": round(residues / statistics.median(times["embed"]), 1),
            "train_residues_per_s": round(residues / statistics.median(times["train"]), 1),
            "train_over_embed": round(statistics.median(ratios), 4),
            "embed_pass_s": [round(s, 3) for s in times["embed"]],
            "train_pass_s": [round(s, 3) for s in times["train"]],
        }
    esm, rnn = seconds["esm2-12x320"], seconds["plus-rnn-base"]
    line = {
        "benchmark": "embed_speed",
        "threads": torch.get_num_threads(),
        "proteins": len(proteins),
        "residues": residues,
        "length": {"min": args.min_length, "max": args.max_length},
        "residues_per_batch": args.residues_per_batch,
        "repeats": args.repeats,
        "encoders": results,
        "esm2_over_plus": {
            kind: round(statistics.median([r / e for r, e in zip(rnn[kind], esm[kind], strict=True)]), 4)
            for kind in KINDS
        },
        "torch": torch.__version__,
    }
    print(json.dumps(stamp(line, watch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
