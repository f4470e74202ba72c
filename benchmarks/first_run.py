"""The first run after installing against later ones: numba compiles its kernels once per environment.

Not a test: it prints figures. It runs `cellvae pipeline` twice in fresh processes with `NUMBA_CACHE_DIR` set to an
empty folder: the first run compiles every numba kernel the pipeline reaches (as a user's first run after
`pip install` does), the second finds them cached. It prints each run's wall time and its stages from metrics.json,
and which cellvae ran: `-m cellvae` takes the working folder's package first, so to time another checkout, run
this from a folder without one, with PYTHONPATH set to that checkout.

    python benchmarks/first_run.py                   # the README's first command (the embedded PBMCs)
    python benchmarks/first_run.py pbmc3k.h5ad --labels-key cell_type
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args, out, cache):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cellvae", "pipeline", *args, "--output-dir", str(out), "--quiet"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    metrics = json.loads(next(Path(out).glob("*/metrics.json")).read_text())
    return wall, {k: v for k, v in metrics["timings"].items() if k != "train_epochs"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pipeline_args", nargs="*", help="passed to `cellvae pipeline` (none: the embedded PBMCs)")
    ap.add_argument("--labels-key")
    args = ap.parse_args()
    extra = args.pipeline_args + (["--labels-key", args.labels_key] if args.labels_key else [])
    tmp = Path(tempfile.mkdtemp())
    where = subprocess.run([sys.executable, "-c", "import cellvae; print(cellvae.__version__, cellvae.__file__)"],
                           capture_output=True, text=True, check=True).stdout.strip()  # what `-m cellvae` runs from here
    rows = [(state, *run(extra, tmp / state, tmp / "numba-cache")) for state in ("first", "warm")]
    stages = sorted(set(rows[0][2]) | set(rows[1][2]), key=lambda k: -rows[0][2].get(k, 0))
    print(f"cellvae {where}")
    print(f"cellvae pipeline {' '.join(extra) or '(embedded PBMCs)'}: seconds, first run (empty numba cache) and warm")
    print(f"{'':<18} {'first':>7} {'warm':>7}")
    print(f"{'process wall':<18} {rows[0][1]:>7.1f} {rows[1][1]:>7.1f}")
    for k in stages: print(f"{k:<18} {rows[0][2].get(k, 0):>7.2f} {rows[1][2].get(k, 0):>7.2f}")


if __name__ == "__main__":
    main()
