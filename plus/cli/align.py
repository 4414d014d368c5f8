"""`plus align-task`: one Smith-Waterman search of a task's test splits against training, for the leakage audit
and the alignment baseline (both read it with --hits)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run_align_task(args: argparse.Namespace) -> int:
    from plus.analysis.search import search_task

    test_splits: tuple[str, ...] = ()
    if args.task_spec:
        from plus.cli.baseline import load_task_spec

        spec = load_task_spec(args.task_spec)
        test_splits = () if spec.task_shape.pairs else spec.test_splits
    result = search_task(
        args.data, args.out, test_splits=test_splits, reference=args.reference, top_k=args.top_k, threads=args.threads
    )
    log.info(
        "%d queries of %s against %d %s sequences in %.1f s",
        result["queries"],
        ", ".join(result["splits"]),
        result["n_reference"],
        result["reference_split"],
        result["seconds"],
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "align-task",
        help="search a task's test splits against training once (hits.parquet for audit-leakage, alignment-baseline)",
        description=__doc__,
    )
    parser.add_argument("--data", type=Path, required=True, help="canonical task directory (results/tasks/T)")
    parser.add_argument("--out", type=Path, required=True, help="output file (hits.parquet)")
    parser.add_argument(
        "--task-spec", help="TaskSpec (as for alignment-baseline): its test splits are searched too (default: test*)"
    )
    parser.add_argument("--reference", default="train", help="split searched against (default: train)")
    parser.add_argument("--top-k", type=int, default=10, help="best-scoring hits aligned in full (default: 10)")
    parser.add_argument("--threads", type=int, default=1, help="alignment threads (default: 1)")
    parser.set_defaults(handler=run_align_task)
