"""Start-up cost of the processes the workflow's jobs run: importing what each command needs, in fresh processes.

Every Snakemake job is a new `plus` process, so its imports are paid once per job (the demo runs 21 evaluate and
21 finetune jobs). Each module list is imported `--repeats` times in a fresh interpreter; prints ONE JSON line
with the median seconds per list and each list's ratio to `torch` alone (the floor every training or evaluation
job pays), measured in the same run.

    python benchmarks/job_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from machine_load import LoadWatch, stamp

IMPORTS = {
    "torch": "torch",
    "lightning": "lightning",
    "evaluate_job": "plus.inference.evaluate",  # `plus evaluate`
    "python_api": "plus.api",  # `import plus.api; plus.load(...)`
    "finetune_job": "plus.training.finetune",  # `plus finetune` (Lightning)
    "report_job": "plus.report.build",  # `plus report`
}


def import_seconds(module: str) -> float:
    """Wall seconds of `python -c 'import module'` in a fresh interpreter."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    watch = LoadWatch()
    medians = {
        name: statistics.median(import_seconds(module) for _ in range(args.repeats)) for name, module in IMPORTS.items()
    }
    result = {
        "repeats": args.repeats,
        "median_s": {name: round(value, 3) for name, value in medians.items()},
        "ratio_to_torch": {name: round(value / medians["torch"], 2) for name, value in medians.items()},
    }
    print(json.dumps(stamp(result, watch)))


if __name__ == "__main__":
    main()
