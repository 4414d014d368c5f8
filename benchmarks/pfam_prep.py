"""Benchmark `plus prepare-pfam` on a generated Pfam-like Pfam-A.fasta.gz: sequences/s and peak RSS.

Each size runs in a fresh child process, so the peak RSS is that of the preparation alone (imports included).
Prints one JSON line per size. Baseline (the authors' loader, on the reference machine): 1M Pfam-like sequences
in 16 s with 1.98 GB peak RSS.

    python benchmarks/pfam_prep.py --sequences 200000 1000000
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

AMINO_ACIDS = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", dtype=np.uint8)
BACKGROUND = np.array(
    [8.3, 5.5, 4.1, 5.5, 1.4, 3.9, 6.7, 7.1, 2.3, 5.9, 9.7, 5.8, 2.4, 3.9, 4.7, 6.6, 5.4, 1.1, 2.9, 6.9]
)
CHUNK_RECORDS = 50_000


def generate(path: Path, n_sequences: int, n_families: int = 3000, seed: int = 0) -> None:
    """Write a Pfam-A.fasta.gz-like file: Pfam headers, lognormal domain lengths, Zipf-like family sizes."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_families + 1) ** 0.9
    weights /= weights.sum()
    probabilities = BACKGROUND / BACKGROUND.sum()
    with gzip.open(path, "wb", compresslevel=1) as out:
        for start in range(0, n_sequences, CHUNK_RECORDS):
            n = min(CHUNK_RECORDS, n_sequences - start)
            lengths = np.clip(rng.lognormal(np.log(130), 0.6, size=n).astype(np.int64), 8, 2000)
            families = rng.choice(n_families, size=n, p=weights)
            residues = AMINO_ACIDS[rng.choice(20, size=int(lengths.sum()), p=probabilities)].tobytes()
            parts, offset = [], 0
            for k in range(n):
                i, length, family = start + k, int(lengths[k]), int(families[k])
                sequence = residues[offset : offset + length]
                offset += length
                wrapped = b"\n".join(sequence[j : j + 60] for j in range(0, length, 60))
                header = f">S{i}_SPEC/1-{length} A{i}.1 PF{family:05d}.7;Fam{family};\n".encode()
                parts.append(header + wrapped + b"\n")
            out.write(b"".join(parts))


def run_once(input_path: Path, out_dir: Path, config: dict) -> dict:
    """Run the preparation in this process and report time and peak RSS."""
    from plus.data.corpus.pfam import prepare_pfam

    start = time.perf_counter()
    summary = prepare_pfam(input_path, out_dir, config, progress=False)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read = summary["counts"]["read"]
    return {
        "benchmark": "pfam_prep",
        "sequences": read,
        "seconds": round(seconds, 2),
        "sequences_per_s": round(read / seconds),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "input_mb": round(input_path.stat().st_size / 2**20, 1),
        "kept_sequences": summary["counts"]["kept"],
        "families_kept": summary["families"]["kept"],
        "baseline": {"sequences": 1_000_000, "seconds": 16.0, "peak_rss_mb": 1980.0},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, nargs="+", default=[1_000_000], help="input sizes to run")
    parser.add_argument("--families", type=int, default=3000)
    parser.add_argument("--min-family-size", type=int, default=1000)
    parser.add_argument("--n-test-pairs", type=int, default=100_000)
    parser.add_argument("--workdir", help="where to keep generated inputs (default: a temporary directory)")
    parser.add_argument("--child", nargs=3, metavar=("INPUT", "OUT", "CONFIG_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        input_path, out_dir, config = args.child
        print(json.dumps(run_once(Path(input_path), Path(out_dir), json.loads(config))))
        return 0
    config = {"min_family_size": args.min_family_size, "n_test_pairs": args.n_test_pairs, "seed": 0}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for n in args.sequences:
            input_path = Path(tmp) / f"Pfam-A.{n}.fasta.gz"
            start = time.perf_counter()
            generate(input_path, n, args.families)
            print(f"generated {n} sequences in {time.perf_counter() - start:.1f} s", file=sys.stderr)
            child = [
                sys.executable,
                __file__,
                "--child",
                str(input_path),
                str(Path(tmp) / f"out{n}"),
                json.dumps(config),
            ]
            result = subprocess.run(child, check=True, capture_output=True, text=True)
            print(result.stdout.strip().splitlines()[-1], flush=True)
            input_path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
