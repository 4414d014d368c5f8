"""`plus devices`: report the accelerators a job can see (a smoke check for GPU requests on a cluster)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
from typing import Any

from plus.io import write_json

SLURM_VARIABLES = ("SLURM_JOB_ID", "SLURM_JOB_PARTITION", "SLURM_JOB_GPUS", "SLURM_GPUS", "SLURM_STEP_GPUS")


def nvidia_smi_devices() -> list[str] | None:
    """The lines of `nvidia-smi -L` (one per visible GPU), or None where nvidia-smi is not installed."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return None
    try:
        result = subprocess.run([program, "-L"], capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return ["nvidia-smi -L timed out after 60 s"]
    if result.returncode != 0:
        return [f"nvidia-smi -L failed (exit {result.returncode}): {result.stderr.strip()}"]
    return [line for line in result.stdout.splitlines() if line.strip()]


def torch_devices() -> dict[str, Any]:
    """What PyTorch sees: its version and CUDA build, and the name of every CUDA device it can use."""
    import torch

    available = torch.cuda.is_available()
    count = torch.cuda.device_count() if available else 0
    return {
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cuda_available": available,
        "device_count": count,
        "devices": [torch.cuda.get_device_name(index) for index in range(count)],
    }


def device_report() -> dict[str, Any]:
    """Host, SLURM allocation variables, CUDA_VISIBLE_DEVICES, nvidia-smi and PyTorch views of the devices."""
    return {
        "hostname": socket.gethostname(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "slurm": {name: os.environ[name] for name in SLURM_VARIABLES if name in os.environ},
        "nvidia_smi": nvidia_smi_devices(),
        "torch": torch_devices(),
    }


def report_devices(args: argparse.Namespace) -> int:
    report = device_report()
    if args.out:
        write_json(args.out, report)
    print(json.dumps(report, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "devices",
        help="report the GPUs this process can see",
        description="Print (and with --out, write) the devices a job sees: `nvidia-smi -L` where installed, "
        "CUDA_VISIBLE_DEVICES, the SLURM allocation variables and torch.cuda.device_count().",
    )
    parser.add_argument("--out", help="JSON file to write")
    parser.set_defaults(handler=report_devices)
