"""`plus audit-leakage`: each test sequence's highest identity to the training split, and exact duplicates."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def run_audit(args: argparse.Namespace) -> int:
    from plus.analysis.leakage import audit_task

    if args.top_k < 1 or args.threads < 1:
        from plus.errors import InputError

        raise InputError("--top-k and --threads must be at least 1")
    summary = audit_task(
        args.data,
        args.out,
        reference=args.reference,
        splits=args.splits,
        top_k=args.top_k,
        threads=args.threads,
        hits_path=args.hits,
    )
    for split, stats in summary["splits"].items():
        log.info(
            "%s %s: n=%d, median identity %.3f, bins %s",
            summary["task"],
            split,
            stats["n"],
            stats["median"],
            stats["bins"],
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit-leakage",
        help="identity of every test sequence to its nearest training sequence (pyopal), and duplicates",
        description=__doc__,
    )
    parser.add_argument("--data", type=Path, required=True, help="canonical task directory (results/tasks/T)")
    parser.add_argument("--out", type=Path, required=True, help="output directory: identity.parquet, summary.json")
    parser.add_argument("--reference", default="train", help="split audited against (default: train)")
    parser.add_argument("--splits", nargs="+", help="splits to audit (default: every split named test*)")
    parser.add_argument("--top-k", type=int, default=10, help="best-scoring hits aligned in full (default: 10)")
    parser.add_argument("--threads", type=int, default=1, help="alignment threads (default: 1)")
    parser.add_argument(
        "--hits", type=Path, help="hits.parquet of `plus align-task`: read instead of searching (its --top-k is used)"
    )
    parser.set_defaults(handler=run_audit)
