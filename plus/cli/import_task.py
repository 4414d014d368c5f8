"""`plus import-task`: one task's data from its official format into canonical tables."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def run_import_task(args: argparse.Namespace) -> int:
    from plus.data.task_data.importing import import_job
    from plus.io import write_run_record
    from plus.settings import ImportJob, load_settings

    job = load_settings(ImportJob, args.settings)
    summary = import_job(job, args.out, f"task {job.task.name}")
    for note in summary.get("warnings") or []:
        log.warning("%s: %s", summary["task"], note)
    write_run_record(args.out, job.model_dump(mode="json", exclude_none=True), {})
    sizes = ", ".join(f"{split} {stats['n']}" for split, stats in summary["splits"].items())
    log.info("%s: wrote %s (%s)", summary["task"], args.out, sizes)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-task",
        help="import a task's files (official formats) into canonical Parquet tables + summary.json",
        description=__doc__,
    )
    parser.add_argument(
        "--settings", required=True, help="ImportJob (task spec + sources) as inline JSON or a JSON/YAML file"
    )
    parser.add_argument(
        "--out",
        required=True,
        help="output directory (written atomically; replaces only a directory plus wrote)",
    )
    parser.set_defaults(handler=run_import_task)
