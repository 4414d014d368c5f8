"""Resident memory of the pretraining data loader over a prepared corpus (see pfam_prep.py --keep-output).

Builds what `PfamDataModule.train_dataloader` builds (plus/training/pretrain.py): an SFPPairDataset over the
memory-mapped training store, a LengthBucketBatchSampler (drop_last) wrapped in StepIndexedBatches, and a
DataLoader over EpochItems with collate_sfp_pairs, then draws `--batches` batches. Each corpus runs in a fresh
child process. Prints one JSON line per corpus with RSS (total, anonymous, file-backed; see process_memory.py)
at each stage, the peak RSS and the sampled peak of anonymous memory.

    python benchmarks/pretrain_loader_memory.py /tmp/scale/prepared-1000000 /tmp/scale/prepared-15000000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from process_memory import AnonPeak, peak_rss_mb, rss_mb


def measure(corpus: Path, batches: int, batch_pairs: int, seed: int) -> dict:
    """Build the loader over `corpus`/train, draw `batches` batches, and report memory at each stage."""
    from torch.utils.data import DataLoader

    from plus.data.batching.pfam_pairs import SFPPairDataset, collate_sfp_pairs
    from plus.data.batching.samplers import EpochItems, LengthBucketBatchSampler, StepIndexedBatches
    from plus.data.corpus.store import CorpusStore

    stages = {"imports": rss_mb()}
    with AnonPeak() as anon:
        store = CorpusStore(corpus / "train")
        stages["store_open"] = rss_mb()
        dataset = SFPPairDataset(store, same_family_prob=0.5, seed=seed, max_pair_length=None)
        sampler = LengthBucketBatchSampler(dataset.lengths, batch_pairs, seed, drop_last=True)
        stages["sampler_built"] = rss_mb()
        loader = DataLoader(
            EpochItems(dataset),
            batch_sampler=StepIndexedBatches(sampler, lambda: 0),
            collate_fn=collate_sfp_pairs,
            num_workers=0,
        )
        seconds, residues = [], 0
        iterator = iter(loader)
        for step in range(batches):
            start = time.perf_counter()
            batch = next(iterator)
            seconds.append(time.perf_counter() - start)
            residues += int(batch.len_a.sum() + batch.len_b.sum())
            if step == 0:
                stages["first_batch"] = rss_mb()
        stages["after_batches"] = rss_mb()
    return {
        "benchmark": "pretrain_loader_memory",
        "corpus": str(corpus),
        "train_sequences": len(store),
        "tokens_bin_mb": round((corpus / "train" / "tokens.bin").stat().st_size / 2**20, 1),
        "batches": batches,
        "batch_pairs": batch_pairs,
        "steps_per_epoch": len(sampler),
        "first_batch_s": round(seconds[0], 3),
        "batch_s_median": round(statistics.median(seconds[1:] or seconds), 4),
        "residues_drawn": residues,
        "stages": stages,
        "peak_rss_mb": peak_rss_mb(),
        "peak_anon_mb": anon.mb,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", type=Path, nargs="+", help="prepared corpus directories (holding train/)")
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--batch-pairs", type=int, default=64, help="the authors' RNN batch: 64 pairs")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.corpora[0], args.batches, args.batch_pairs, args.seed)))
        return 0
    for corpus in args.corpora:
        options = ["--batches", str(args.batches), "--batch-pairs", str(args.batch_pairs), "--seed", str(args.seed)]
        child = [sys.executable, __file__, "--child", str(corpus), *options]
        result = subprocess.run(child, check=True, capture_output=True, text=True)
        print(result.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
