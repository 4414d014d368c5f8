"""`plus models`: list the model presets with their sizes."""

from __future__ import annotations

import argparse
import json
from typing import Any


def preset_summaries() -> dict[str, dict[str, Any]]:
    """{preset: {"kind", "parameters", "d_h", "d_z", and the config fields}}, built without allocating weights."""
    import torch

    from plus.models import PRESETS, build_encoder, count_parameters

    summaries = {}
    for name, config in PRESETS.items():
        with torch.device("meta"):
            encoder = build_encoder(config)
        summaries[name] = {
            "kind": config.kind,
            "parameters": count_parameters(encoder),
            "d_h": encoder.d_h,
            "d_z": encoder.d_z,
            **config.model_dump(exclude={"kind"}),
        }
    return summaries


def list_models(args: argparse.Namespace) -> int:
    summaries = preset_summaries()
    if args.json:
        print(json.dumps(summaries, indent=2))
        return 0
    header = f"{'preset':<16} {'kind':<4} {'layers':>6} {'hidden':>6} {'d_h':>5} {'d_z':>5} {'parameters':>12}"
    print(header)
    print("-" * len(header))
    for name, s in summaries.items():
        print(
            f"{name:<16} {s['kind']:<4} {s['layers']:>6} {s['hidden']:>6} {s['d_h']:>5} {s['d_z']:>5} "
            f"{s['parameters']:>12,}"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list model presets and their parameter counts")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=list_models)
