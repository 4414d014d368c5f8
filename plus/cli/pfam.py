"""`plus prepare-pfam`: Pfam-A.fasta(.gz) -> train/test corpus stores, test pairs and summary.json."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare-pfam",
        help="tokenize and split Pfam-A.fasta into memory-mapped corpus stores",
        description=__doc__,
    )
    parser.add_argument(
        "--settings", help="PfamSettings as inline JSON or a JSON/YAML file (default: the paper's settings)"
    )
    parser.add_argument("--input", required=True, help="Pfam-A.fasta or Pfam-A.fasta.gz")
    parser.add_argument(
        "--out",
        required=True,
        help="output directory (replaced atomically; replaces only a directory plus wrote)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_prepare_pfam)


def run_prepare_pfam(args: argparse.Namespace) -> int:
    from plus.data.corpus.pfam import prepare_pfam
    from plus.io import write_run_record
    from plus.settings import PfamSettings, load_settings

    settings = load_settings(PfamSettings, args.settings) if args.settings else PfamSettings()
    summary = prepare_pfam(args.input, args.out, settings, progress=not args.no_progress)
    write_run_record(args.out, settings.model_dump(mode="json"), {"input": str(args.input)})
    log.info(
        "%s: %d train / %d test sequences in %d families (%d read)",
        args.out,
        summary["splits"]["train"]["sequences"],
        summary["splits"]["test"]["sequences"],
        summary["families"]["kept"],
        summary["counts"]["read"],
    )
    return 0
