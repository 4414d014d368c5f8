"""Speed of the leakage audit's search: seconds per 1000 query sequences against a training set (one thread).

Each query is scored against every training sequence (pyopal Smith-Waterman, score-only mode), then its top-k
hits are aligned in full for the identity (plus.analysis.alignment.AlignmentIndex.nearest_by_identity). Prints ONE
JSON line: the median over `--repeats` of the time per 1000 queries, the alignment cells per second
(query length x training residues / time) and the settings. Sequences are random (uniform residues) with the
given lengths unless real CSV files (column `seq`) are given. Examples:

    python benchmarks/alignment_speed.py --train-size 50000 --train-length 43 50 --query-length 43 50
    python benchmarks/alignment_speed.py --train-size 2000 --train-length 300 600 --query-length 300 600 --queries 20
    python benchmarks/alignment_speed.py --train-csv train.csv --query-csv test.csv --queries 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd

from plus.analysis.alignment import TOP_K, AlignmentIndex

RESIDUES = np.array(list("ARNDCQEGHILKMFPSTWYV"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-size", type=int, default=50000, help="random training sequences")
    parser.add_argument("--train-length", type=int, nargs=2, default=(43, 50), help="min and max length")
    parser.add_argument("--query-length", type=int, nargs=2, default=(43, 50), help="min and max length")
    parser.add_argument("--train-csv", help="real training sequences (column seq) instead of random ones")
    parser.add_argument("--query-csv", help="real query sequences (column seq) instead of random ones")
    parser.add_argument("--queries", type=int, default=100, help="queries timed per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=TOP_K)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def random_sequences(rng: np.random.Generator, n: int, lengths: tuple[int, int]) -> list[str]:
    sizes = rng.integers(lengths[0], lengths[1] + 1, n)
    return ["".join(rng.choice(RESIDUES, size)) for size in sizes]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    if args.train_csv:
        train = pd.read_csv(args.train_csv)["seq"].astype(str).tolist()
    else:
        train = random_sequences(rng, args.train_size, tuple(args.train_length))
    if args.query_csv:
        pool = pd.read_csv(args.query_csv)["seq"].astype(str)
        queries = pool.sample(min(len(pool), args.queries * args.repeats), random_state=args.seed).tolist()
    else:
        queries = random_sequences(rng, args.queries * args.repeats, tuple(args.query_length))
    started = time.perf_counter()
    index = AlignmentIndex(train)
    build = time.perf_counter() - started
    residues = int(index.lengths.sum())
    per_1000, cells = [], []
    for repeat in range(args.repeats):
        batch = queries[repeat * args.queries : (repeat + 1) * args.queries]
        started = time.perf_counter()
        for query in batch:
            index.nearest_by_identity(query, args.top_k)
        seconds = time.perf_counter() - started
        per_1000.append(seconds / len(batch) * 1000)
        cells.append(sum(len(q) for q in batch) * residues / seconds)
    print(
        json.dumps(
            {
                "benchmark": "alignment_speed",
                "seconds_per_1000_queries": round(statistics.median(per_1000), 2),
                "cells_per_s": float(f"{statistics.median(cells):.3g}"),
                "index_build_s": round(build, 3),
                "train_sequences": len(train),
                "train_median_length": float(np.median(index.lengths)),
                "query_median_length": float(np.median([len(q) for q in queries])),
                "queries_per_repeat": args.queries,
                "repeats": args.repeats,
                "top_k": args.top_k,
                "threads": 1,
                "train": args.train_csv or "random",
                "queries_from": args.query_csv or "random",
            }
        )
    )


if __name__ == "__main__":
    main()
