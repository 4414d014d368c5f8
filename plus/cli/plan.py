"""`plus plan`: the run plan of a workflow config as a report: residues, estimated hours and attempts per job, and
the runtime its rule asks for."""

from __future__ import annotations

import argparse
import json


def _plan(args: argparse.Namespace) -> int:
    from plus.estimates.render import render_json, render_text
    from plus.estimates.run import build_run_estimate
    from plus.io import read_config
    from plus.jobs import plan_workflow

    config = read_config(args.config, "workflow config")
    values = dict(config.get("plan") or {})  # the config's `plan` section, the flags over it
    flags = {
        "device_class": args.device_class,
        "time_limit": args.time_limit,
        "margin": args.margin,
        "overhead_minutes": args.overhead_minutes,
    }
    values.update({key: value for key, value in flags.items() if value is not None})
    run = build_run_estimate(plan_workflow(config), values, args.results, args.throughput)
    jobs = run.jobs()
    if args.json:
        print(json.dumps(render_json(run, jobs, str(args.config)), indent=2))
    else:
        print(render_text(run, jobs, str(args.config)), end="")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="the run plan of a workflow config: residues, hours per device class, attempts and runtime requests",
        description=__doc__,
    )
    parser.add_argument("--config", required=True, help="workflow config, e.g. config/paper.yaml")
    parser.add_argument("--device-class", help="device class of the GPU rules (default h200; see throughput.yaml)")
    parser.add_argument("--time-limit", help="the partition's time limit: 48h (default), 2d, 2-00:00:00, minutes")
    parser.add_argument("--results", default="results", help="where the workflow's summary.json files are")
    parser.add_argument("--throughput", help="a site's measured throughput (YAML, the shape of throughput.yaml)")
    parser.add_argument("--margin", type=float, help="an attempt needs estimate x margin (default 1.2)")
    parser.add_argument("--overhead-minutes", type=float, help="start-up time of each attempt (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(handler=_plan)
