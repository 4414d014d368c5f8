"""`plus report`: tables, figures and summary.md from the outputs of a run's jobs, found from the report's job."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="comparison tables, figures and summary.md from a results directory",
        description=__doc__,
    )
    parser.add_argument(
        "--settings",
        required=True,
        help="ReportJob (models in table order, every run it reads, the results root) as inline JSON or a JSON/YAML "
        "file",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="the results root every input is found under (plus.paths; default: the settings' results)",
    )
    parser.add_argument("--published", type=Path, required=True, help="published results TSV")
    parser.add_argument("--tables", type=Path, required=True, help="output directory for tables")
    parser.add_argument("--figures", type=Path, required=True, help="output directory for figures")
    parser.add_argument("--summary", type=Path, required=True, help="output Markdown summary")
    parser.add_argument(
        "--workers",
        type=int,
        help="at most this many processes for the paired bootstraps, started only where they finish sooner than one "
        "(default 1; the results do not depend on it)",
    )
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from plus.errors import InputError
    from plus.report.build import build_report
    from plus.report.collect import collect
    from plus.settings import ReportJob, load_settings

    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers {args.workers}: must be at least 1")
    job = load_settings(ReportJob, args.settings)
    data = collect(job, args.published, args.results)
    written = build_report(
        data,
        args.tables,
        args.figures,
        args.summary,
        bootstrap_resamples=job.bootstrap_resamples,
        comparisons=job.comparisons,
        **({} if args.workers is None else {"workers": args.workers}),
    )
    log.info("wrote %d report files; summary at %s", len(written), args.summary)
    return 0
