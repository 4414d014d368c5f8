"""Speed of the leakage audit's search: seconds per 1000 query sequences against a training set (one thread).

Each query is scored against every training sequence (pyopal Smith-Waterman, score-only mode), then its top-k
hits are aligned in full for the identity (plus.analysis.alignment.AlignmentIndex.nearest_by_identity). Prints ONE
JSON line: the median over `--repeats` of the time per 1000 queries, the alignment cells per second
(query length x training residues / time) and the settings. Sequences are random (uniform residues) with the
given lengths unless real CSV files (column `seq`) are given. Examples:

    python benchmarks/alignment_speed.py --train-size 50000 --train-length 43 50 --query-length 43 50
    python benchmarks/alignment_speed.py --train-size 2000 --train-length 300 600 --query-length 300 600 --queries 20
    python benchmarks/alignment_speed.py --train-csv train.csv --query-csv test.csv --queries 100

With --compare, times the workflow's comparison section instead, alternating in one run (median over
`--repeats`): `before`, the leakage audit and the alignment baseline each searching on its own (as the workflow
ran them until align_task), and `after`, one shared search (plus align-task) then both reading its hits. The
task is a protein_regression task (TaskSpec `stability`) made of the CSVs (`seq,label`; `--queries` sampled test
rows, 0: all; every training row), and both ways must write byte-identical outputs. Example (TAPE stability):

    python benchmarks/alignment_speed.py --compare --train-csv ../shared/realdata/tape_stability/train.csv \
        --query-csv ../shared/realdata/tape_stability/test.csv --queries 500 --repeats 3 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from machine_load import LoadWatch, stamp

from plus.analysis.alignment import TOP_K, AlignmentIndex
from plus.analysis.baseline import run_alignment_baseline
from plus.analysis.leakage import audit_task
from plus.analysis.search import search_task
from plus.tasks import resolve_task

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
    parser.add_argument("--compare", action="store_true", help="time audit + baseline before and after align_task")
    parser.add_argument("--threads", type=int, default=1, help="alignment threads (--compare)")
    return parser.parse_args(argv)


def random_sequences(rng: np.random.Generator, n: int, lengths: tuple[int, int]) -> list[str]:
    sizes = rng.integers(lengths[0], lengths[1] + 1, n)
    return ["".join(rng.choice(RESIDUES, size)) for size in sizes]


def write_task(root: Path, train_csv: str, query_csv: str, queries: int, seed: int) -> Path:
    """A canonical protein task (train, valid, test Parquet) of the CSVs: every training row, `queries` test rows."""
    root.mkdir(parents=True)
    train = pd.read_csv(train_csv)
    test = pd.read_csv(query_csv)
    if queries:
        test = test.sample(min(queries, len(test)), random_state=seed).sort_index()
    for split, table in (("train", train), ("valid", train.head(2)), ("test", test)):
        frame = pd.DataFrame(
            {
                "id": [f"{split}{i}" for i in range(len(table))],
                "sequence": table["seq"].astype(str).to_numpy(),
                "label": table["label"].astype(float).to_numpy(),
            }
        )
        frame.to_parquet(root / f"{split}.parquet", index=False)
    return root


OUTPUTS = ("audit/identity.parquet", "baseline/metrics.json", "baseline/predictions.parquet")


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """Seconds of the comparison section before and after the shared search, alternated in one process."""
    if not (args.train_csv and args.query_csv):
        raise SystemExit("--compare needs --train-csv and --query-csv")
    spec = resolve_task("stability")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        task = write_task(root / "task", args.train_csv, args.query_csv, args.queries, args.seed)
        times: dict[str, list[float]] = {
            name: [] for name in ("audit", "baseline", "search", "audit_hits", "baseline_hits")
        }

        def timed(name: str, function: Any, *positional: Any, **keywords: Any) -> None:
            started = time.perf_counter()
            function(*positional, **keywords)
            times[name].append(time.perf_counter() - started)

        def run_before(out: Path) -> None:
            timed("audit", audit_task, task, out / "audit", top_k=args.top_k, threads=args.threads)
            timed("baseline", run_alignment_baseline, task, spec, out / "baseline", threads=args.threads)

        def run_after(out: Path) -> None:
            hits = out / "hits.parquet"
            timed(
                "search", search_task, task, hits, test_splits=spec.test_splits, top_k=args.top_k, threads=args.threads
            )
            timed("audit_hits", audit_task, task, out / "audit", threads=args.threads, hits_path=hits)
            timed(
                "baseline_hits",
                run_alignment_baseline,
                task,
                spec,
                out / "baseline",
                threads=args.threads,
                hits_path=hits,
            )

        identical = True
        for repeat in range(args.repeats):  # alternated: before first on even repeats, after first on odd ones
            before, after = root / f"before{repeat}", root / f"after{repeat}"
            for run, out in ((run_before, before), (run_after, after))[:: 1 if repeat % 2 == 0 else -1]:
                run(out)
            identical &= all((before / f).read_bytes() == (after / f).read_bytes() for f in OUTPUTS)
        n_queries = len(pd.read_parquet(task / "test.parquet"))
        n_train = len(pd.read_parquet(task / "train.parquet"))
    before_s = [a + b for a, b in zip(times["audit"], times["baseline"], strict=True)]
    after_s = [a + b + c for a, b, c in zip(times["search"], times["audit_hits"], times["baseline_hits"], strict=True)]
    return {
        "benchmark": "alignment_speed_compare",
        "before_s": {
            "audit": round(statistics.median(times["audit"]), 2),
            "baseline": round(statistics.median(times["baseline"]), 2),
            "total": round(statistics.median(before_s), 2),
        },
        "after_s": {
            "search": round(statistics.median(times["search"]), 2),
            "audit": round(statistics.median(times["audit_hits"]), 2),
            "baseline": round(statistics.median(times["baseline_hits"]), 2),
            "total": round(statistics.median(after_s), 2),
        },
        "ratio_before_over_after": round(statistics.median(b / a for b, a in zip(before_s, after_s, strict=True)), 2),
        "outputs_identical": identical,
        "all_s": {name: [round(t, 2) for t in values] for name, values in times.items()},
        "queries": n_queries,
        "train_sequences": n_train,
        "repeats": args.repeats,
        "threads": args.threads,
        "top_k": args.top_k,
        "train": args.train_csv,
        "queries_from": args.query_csv,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.compare:
        print(json.dumps(compare(args)))
        return
    watch = LoadWatch()
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
            stamp(
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
                },
                watch,
            )
        )
    )


if __name__ == "__main__":
    main()
