"""`plus report`: tables, figures and summary.md from a run's evaluation and pretraining metrics."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="comparison tables, figures and summary.md from metrics files",
        description=__doc__,
    )
    parser.add_argument("--evaluations", nargs="+", type=Path, required=True, help="evaluation metrics.json files")
    parser.add_argument(
        "--predictions", nargs="+", type=Path, required=True, help="predictions.parquet beside each evaluation"
    )
    parser.add_argument(
        "--pretraining", nargs="*", type=Path, default=[], help="pretraining metrics.json files (none: none pretrained)"
    )
    parser.add_argument("--histories", nargs="*", type=Path, default=[], help="pretraining history.csv files")
    parser.add_argument("--published", type=Path, required=True, help="published results TSV")
    parser.add_argument(
        "--settings",
        required=True,
        help="ReportJob (models in table order, every run that must be present) as inline JSON or a JSON/YAML file",
    )
    parser.add_argument("--audits", nargs="*", type=Path, default=[], help="identity.parquet of plus audit-leakage")
    parser.add_argument(
        "--task-summaries", nargs="*", type=Path, default=[], help="results/tasks/<task>/summary.json (provenance)"
    )
    parser.add_argument(
        "--benchmarks-dir", type=Path, help="Snakemake's benchmark files (results/benchmarks): the cost table"
    )
    parser.add_argument(
        "--checkpoints-dir",
        type=Path,
        help="training jobs' checkpoint directories (results/checkpoints): attempts.tsv adds resumed jobs' attempts",
    )
    parser.add_argument("--tables", type=Path, required=True, help="output directory for tables")
    parser.add_argument("--figures", type=Path, required=True, help="output directory for figures")
    parser.add_argument("--summary", type=Path, required=True, help="output Markdown summary")
    parser.add_argument(
        "--workers", type=int, help="processes for the paired bootstraps (default 1; the results do not depend on it)"
    )
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from plus.errors import InputError
    from plus.report.build import build_report
    from plus.report.collect import collect, models_from_settings, runs_from_settings
    from plus.settings import ReportJob, load_settings

    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers {args.workers}: must be at least 1")
    job = load_settings(ReportJob, args.settings)
    data = collect(
        evaluations=args.evaluations,
        predictions=args.predictions,
        pretraining=args.pretraining,
        histories=args.histories,
        published=args.published,
        models=models_from_settings(job),
        expected=runs_from_settings(job),
        audits=args.audits,
        task_summaries=args.task_summaries,
        benchmarks=sorted(args.benchmarks_dir.rglob("*.tsv")) if args.benchmarks_dir else (),
        gpus_per_rule=job.gpus_per_rule,
        task_specs=job.tasks,
        provenance=job.provenance,
        reference_model=job.reference_model,
        min_train_examples=job.min_train_examples,
        checkpoints_dir=args.checkpoints_dir,
    )
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
