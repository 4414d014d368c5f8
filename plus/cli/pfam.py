"""`plus prepare-pfam`: Pfam-A.fasta(.gz) -> train/test corpus stores, test pairs and summary.json."""

from __future__ import annotations

import argparse
import logging

from plus.io import read_config

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare-pfam",
        help="tokenize and split Pfam-A.fasta into memory-mapped corpus stores",
        description=__doc__,
    )
    parser.add_argument("--config", required=True, help="JSON/YAML with the Pfam keys (top level or under 'pfam')")
    parser.add_argument("--input", required=True, help="Pfam-A.fasta or Pfam-A.fasta.gz")
    parser.add_argument("--out", required=True, help="output directory (replaced atomically)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_prepare_pfam)


def run_prepare_pfam(args: argparse.Namespace) -> int:
    from plus.data.corpus.pfam import prepare_pfam

    config = read_config(args.config)
    summary = prepare_pfam(args.input, args.out, config, progress=not args.no_progress, config_source=str(args.config))
    log.info(
        "%s: %d train / %d test sequences in %d families (%d read)",
        args.out,
        summary["splits"]["train"]["sequences"],
        summary["splits"]["test"]["sequences"],
        summary["families"]["kept"],
        summary["counts"]["read"],
    )
    return 0
