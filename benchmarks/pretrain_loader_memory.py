"""Resident memory of the pretraining data loader over a prepared corpus (see pfam_prep.py --keep-output).

Builds the training loader of a `PfamDataModule` (plus/training/pretrain.py) with its own batch sampler (a
CorpusBatchSampler inside RankSlices, wrapped in StepIndexedBatches) over the training store, its SFP pair dataset
and collation, then draws `--batches` batches from step `--start-step` (a resumed run's first batches). Each corpus
runs in a fresh child process. Prints one JSON line per corpus with RSS (total, anonymous, file-backed; see
process_memory.py) at each stage, the peak RSS and the sampled peak of anonymous memory.

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


def measure(corpus: Path, batches: int, batch_pairs: int, seed: int, start_step: int) -> dict:
    """Build the loader over `corpus`/train, draw `batches` batches, and report memory at each stage."""
    from torch.utils.data import DataLoader

    from plus.data.batching.samplers import EpochItems, StepIndexedBatches
    from plus.settings import PretrainSettings
    from plus.training.pretrain import PfamDataModule

    stages = {"imports": rss_mb()}
    with AnonPeak() as anon:
        settings = PretrainSettings(batch_pairs=batch_pairs, seed=seed)
        data = PfamDataModule(corpus / "train", corpus / "test", corpus / "test_pairs.parquet", settings, None)
        stages["store_open"] = rss_mb()
        sampler = data.batch_sampler()
        stages["sampler_built"] = rss_mb()
        loader = DataLoader(
            EpochItems(data.dataset),
            batch_sampler=StepIndexedBatches(sampler, lambda: start_step),
            collate_fn=data.collate,
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
        "train_sequences": len(data.train_store),
        "tokens_bin_mb": round((corpus / "train" / "tokens.bin").stat().st_size / 2**20, 1),
        "batches": batches,
        "start_step": start_step,
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
    parser.add_argument("--start-step", type=int, default=0, help="draw from this step on, as a resumed run does")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.corpora[0], args.batches, args.batch_pairs, args.seed, args.start_step)))
        return 0
    for corpus in args.corpora:
        options = ["--batches", str(args.batches), "--batch-pairs", str(args.batch_pairs), "--seed", str(args.seed)]
        options += ["--start-step", str(args.start_step)]
        child = [sys.executable, __file__, "--child", str(corpus), *options]
        result = subprocess.run(child, check=True, capture_output=True, text=True)
        print(result.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
