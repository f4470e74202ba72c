"""Where `cellvae pipeline` spends its time: each stage's seconds on pbmc3k, from the run's own metrics.json.

Not a test: it prints a table. It runs the pipeline as a user does (`cellvae pipeline DATA --labels-key
cell_type`, through whichever cellvae this python imports, defaults otherwise, no machine profile) in a fresh temporary folder and process, and
reads `timings` from the run's metrics.json (the report stage comes after its `total`). Run from the repository root:

    python benchmarks/pipeline_profile.py                        # pbmc3k (or the embedded PBMCs without ../shared)
    PYTHONPATH=/path/to/old/checkout python benchmarks/pipeline_profile.py   # the same for another version
    python benchmarks/pipeline_profile.py --repeat 2
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PBMC3K = ROOT.parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"


def run_once(data: Path | None) -> tuple[dict, float]:
    "One pipeline run in a fresh folder and process: its stage timings and the process's wall seconds."
    with tempfile.TemporaryDirectory() as d:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELLVAE_")}
        args = [sys.executable, "-c", "import sys; from cellvae.cli import app; sys.argv[0] = 'cellvae'; app()", "pipeline", *([str(data), "--labels-key", "cell_type"] if data else []),
                "--output-dir", "runs", "--run-id", "p", "--quiet"]
        t = time.perf_counter()
        subprocess.run(args, cwd=d, env=env, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t
        timings = json.loads((Path(d) / "runs" / "p" / "metrics.json").read_text())["timings"]
    return {k: v for k, v in timings.items() if isinstance(v, (int, float))}, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1, help="runs (each stage: the median)")
    args = ap.parse_args()
    import cellvae
    data = PBMC3K if PBMC3K.exists() else None
    runs = [run_once(data) for _ in range(args.repeat)]
    import numpy as np
    stages = sorted({k for t, _ in runs for k in t if k != "total"}, key=lambda k: -np.median([t.get(k, 0) for t, _ in runs]))
    print(f"cellvae {cellvae.__version__} from {Path(cellvae.__file__).parent}; data: {data or 'the embedded PBMCs'}; "
          f"{args.repeat} run(s), median seconds")
    print(f"{'stage':<18} {'seconds':>8}")
    for k in stages: print(f"{k:<18} {np.median([t.get(k, 0) for t, _ in runs]):>8.2f}")
    print(f"{'total (metrics)':<18} {np.median([t['total'] for t, _ in runs]):>8.2f}")
    print(f"{'process wall':<18} {np.median([w for _, w in runs]):>8.2f}")


if __name__ == "__main__":
    main()
