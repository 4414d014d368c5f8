"""Benchmark `plus prepare-pfam` on a generated Pfam-like Pfam-A.fasta.gz (see pfam_like.py): time and peak RSS.

Each run is a fresh child process, so the peak RSS is that of the preparation alone (imports included). The input
is gzip-compressed, as Pfam ships it, and the preparation reads the .gz. Prints one JSON line per size, with the
medians over --repeats runs (each run listed): `peak_rss_mb` (ru_maxrss: anonymous and file-backed pages
together) and `peak_anon_mb` (private memory, sampled every 20 ms). Baseline (the authors' loader, on the
reference machine): 1M Pfam-like sequences in 16 s with 1.98 GB peak RSS. With --workdir, generated inputs are
kept there and reused by later runs, and with --keep-output the prepared corpus stays in WORKDIR/prepared-N (for
pretrain_loader_memory.py).

    python benchmarks/pfam_prep.py --sequences 1000000 5000000 15000000 --workdir /tmp/scale --keep-output
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine_load import LoadWatch, stamp
from process_memory import AnonPeak, peak_rss_mb, rss_mb

MEASURED = ("seconds", "peak_rss_mb", "peak_anon_mb")


def run_once(input_path: Path, out_dir: Path, config: dict) -> dict:
    """Run the preparation in this process and report time and memory."""
    from plus.data.corpus.pfam import prepare_pfam
    from plus.settings import PfamSettings

    after_import = rss_mb()
    start = time.perf_counter()
    with AnonPeak() as anon:
        summary = prepare_pfam(input_path, out_dir, PfamSettings(**config), progress=False)
    seconds = time.perf_counter() - start
    read = summary["counts"]["read"]
    return {
        "benchmark": "pfam_prep",
        "sequences": read,
        "seconds": round(seconds, 2),
        "sequences_per_s": round(read / seconds),
        "peak_rss_mb": peak_rss_mb(),
        "peak_anon_mb": anon.mb,
        "rss_after_imports_mb": after_import["rss_mb"],
        "input_gz_mb": round(input_path.stat().st_size / 2**20, 1),
        "kept_sequences": summary["counts"]["kept"],
        "train_sequences": summary["splits"]["train"]["sequences"],
        "families_seen": summary["families"]["seen"],
        "families_kept": summary["families"]["kept"],
        "test_pairs": summary["test_pairs"]["n"],
        "baseline": {"sequences": 1_000_000, "seconds": 16.0, "peak_rss_mb": 1980.0},
    }


def summarise(runs: list[dict]) -> dict:
    """The first run's line with time and memory replaced by their medians over the runs, and every run's."""
    medians = {key: statistics.median(run[key] for run in runs) for key in MEASURED}
    line = {**runs[0], **medians, "sequences_per_s": round(runs[0]["sequences"] / medians["seconds"])}
    return {**line, "repeats": len(runs), "runs": [{key: run[key] for key in MEASURED} for run in runs]}


def input_file(workdir: Path, n: int, families: int, seed: int) -> Path:
    """The generated input for these settings, made unless an earlier run left it in `workdir`."""
    path = workdir / f"Pfam-A.n{n}.f{families}.s{seed}.fasta.gz"
    if not path.is_file():
        # In a child of its own: a child's ru_maxrss starts from its parent's RSS at the fork, so generating in
        # this process would raise the peak RSS the preparation runs report (to 330 MB at 1M sequences).
        start = time.perf_counter()
        generator = Path(__file__).with_name("pfam_like.py")
        options = ["--sequences", str(n), "--families", str(families), "--seed", str(seed)]
        subprocess.run([sys.executable, str(generator), str(path), *options], check=True, stdout=sys.stderr)
        print(f"generated {path} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, nargs="+", default=[1_000_000], help="input sizes to run")
    parser.add_argument("--families", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated input")
    parser.add_argument("--min-family-size", type=int, default=1000)
    parser.add_argument("--n-test-pairs", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, help="keep generated inputs here (default: a temporary directory)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per size; the line gives their medians")
    parser.add_argument("--keep-output", action="store_true", help="keep WORKDIR/prepared-N (needs --workdir)")
    parser.add_argument("--child", nargs=3, metavar=("INPUT", "OUT", "CONFIG_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        input_path, out_dir, config = args.child
        print(json.dumps(run_once(Path(input_path), Path(out_dir), json.loads(config))))
        return 0
    if args.keep_output and args.workdir is None:
        parser.error("--keep-output needs --workdir")
    config = {"min_family_size": args.min_family_size, "n_test_pairs": args.n_test_pairs, "seed": 0}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workdir = args.workdir or Path(tmp)
        for n in args.sequences:
            input_path = input_file(workdir, n, args.families, args.seed)
            out_dir = (workdir if args.keep_output else Path(tmp)) / f"prepared-{n}"
            child = [sys.executable, __file__, "--child", str(input_path), str(out_dir), json.dumps(config)]
            runs = []
            watch = LoadWatch()
            for _ in range(args.repeats):
                result = subprocess.run(child, check=True, capture_output=True, text=True)
                runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(json.dumps(stamp(summarise(runs), watch)), flush=True)
            if not args.keep_output:
                shutil.rmtree(out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
