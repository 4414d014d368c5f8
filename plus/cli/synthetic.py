"""`plus synthetic`: write the embedded synthetic benchmark (mini Pfam + seven tasks) for the offline demo."""

from __future__ import annotations

import argparse
import logging
import time

from plus.io import read_config

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synthetic",
        help="generate the synthetic benchmark (mini Pfam-A.fasta.gz + every task in its official format)",
        description=__doc__,
    )
    parser.add_argument(
        "--config", help="YAML/JSON with sizes under 'synthetic:' or at top level (defaults: the demo sizes)"
    )
    parser.add_argument("--out", required=True, help="output directory (replaced atomically)")
    parser.set_defaults(handler=run_synthetic)


def run_synthetic(args: argparse.Namespace) -> int:
    from plus.data.synthetic import generate

    config = read_config(args.config) if args.config else {}
    started = time.perf_counter()
    manifest = generate(config, args.out, source=str(args.config or "defaults"))
    log.info("wrote %d files to %s in %.1f s", len(manifest["files"]), args.out, time.perf_counter() - started)
    return 0
