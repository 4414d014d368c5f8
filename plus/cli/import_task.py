"""`plus import-task`: one task's data from its official format into canonical tables."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def run_import_task(args: argparse.Namespace) -> int:
    from plus.data.task_data.importing import import_task
    from plus.io import read_config

    config = read_config(args.config)
    summary = import_task(config, args.out, str(args.config))
    sizes = ", ".join(f"{split} {stats['n']}" for split, stats in summary["splits"].items())
    log.info("%s: wrote %s (%s)", summary["task"], args.out, sizes)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-task",
        help="import a task's files (official formats) into canonical Parquet tables + summary.json",
        description=__doc__,
    )
    parser.add_argument("--config", required=True, help="resolved task config (JSON/YAML)")
    parser.add_argument("--out", required=True, help="output directory (written atomically)")
    parser.set_defaults(handler=run_import_task)
