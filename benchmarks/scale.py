"""Scale: wall time and peak memory of training, encoding and clustering at 100k and 1M cells (issue #16).

Not a test: it prints a table. Each step runs as users run it, the `cellvae` command in its own process (and, with
`--workers 2`, a Dask LocalCluster of two worker processes), while this script samples the resident memory (RSS) of
the whole process tree every 50 ms: the peak is the largest sum over the command and its children. Run from the
repository root:

    python benchmarks/scale.py                                 # 100,000 and 1,000,000 cells
    python benchmarks/scale.py --sizes 20000 --workdir /tmp/s  # a quick check of the same steps

The data: `benchmarks/synthetic.py`'s `realistic_counts` (10x-like: ~7% non-zero entries, log-normal library sizes
with median 500 over 2,000 genes, 8 types), written once per size as a gzip-compressed `.h5ad` (CSR) in `--workdir`
and reused. The steps, for each size:

- `train, streamed`: `cellvae train` with `data.in_memory: false` (out-of-core: chunks read from the backed file),
  one epoch (`--max-epochs 1`: n_cells / 256 steps);
- `train, in memory` (100k only): the same with `data.in_memory: true`;
- `encode, 1 process` and `encode, LocalCluster(2)`: `cellvae encode` of every cell with the streamed run's
  `encoder.onnx`, then the same with `--workers 2`;
- `train-clusters`: HDBSCAN on the default random subsample (`--num-samples`' default), exported to `cluster.onnx`;
- `cluster, 1 process` and `cluster, LocalCluster(2)`: `cellvae cluster` labels every cell.

Goals on this 2-core machine: 1M cells encoded under 2 GB peak RSS; out-of-core training on 1M cells under 4 GB;
1M cells clustered and labelled end to end under 4 GB.

Measured here (2 cores; benchmarks/results/scale.md has the table and the goals), seconds / peak GB:

    step                         100,000 cells   1,000,000 cells
    train, streamed (1 epoch)     31.5 / 0.83     424.5 / 1.04
    train, in memory (1 epoch)    34.0 / 1.46
    encode, 1 process              4.8 / 0.27      30.8 / 0.44
    encode, LocalCluster(2)       10.3 / 0.98      27.1 / 1.60
    train-clusters (50k sample)   36.2 / 1.44      40.8 / 1.44
    cluster, 1 process            18.3 / 1.32     111.0 / 1.37
    cluster, LocalCluster(2)      27.4 / 3.17     123.4 / 3.24

Time grows about linearly in the cells (10x the cells: training 13x, encoding 6.4x, labelling 6.1x, the fixed
start-up a larger share at 100k); memory hardly grows (streamed training 0.83 -> 1.04 GB).
"""
import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def make_data(n: int, workdir: Path) -> Path:
    "The synthetic sample of `n` cells as a compressed .h5ad (made once, then reused)."
    path = workdir / f"synthetic-{n}.h5ad"
    if path.exists(): return path
    from synthetic import density, realistic_counts
    t = time.perf_counter()
    a = realistic_counts(n, seed=0)
    del a.layers["counts"]  # X holds the raw counts; one copy on disk
    tmp = path.with_name(f".{path.name}.tmp")
    a.write_h5ad(tmp, compression="gzip")
    tmp.rename(path)
    print(f"wrote {path} ({n:,} cells, {density(a, None):.3f} non-zero, {path.stat().st_size / 1e9:.2f} GB) in "
          f"{time.perf_counter() - t:.0f} s", file=sys.stderr)
    return path


def measure(args: list, cwd: Path, env: dict | None = None) -> dict:
    "Run `cellvae *args`; its wall seconds and the peak RSS (GB) of its process tree, sampled every 50 ms."
    cmd = [sys.executable, "-c", "import sys; from cellvae.cli import app; sys.argv[0] = 'cellvae'; app()", *map(str, args)]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CELLVAE_")}, **(env or {})}
    t = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = 0, threading.Event()

    def sample():
        nonlocal peak
        proc = psutil.Process(p.pid)
        while not done.is_set():
            try:
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(q.memory_info().rss for q in tree if q.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = p.communicate()
    done.set(); th.join()
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"cellvae {' '.join(map(str, args))} failed ({p.returncode}):\n{err[-3000:]}")
    return {"seconds": wall, "peak_gb": peak / 1e9}


def run_size(n: int, workdir: Path, workers: int) -> list[tuple[str, dict]]:
    data = make_data(n, workdir)
    d = workdir / f"runs-{n}"
    d.mkdir(exist_ok=True)
    rows = []
    common = ["--max-epochs", 1, "--output-dir", d, "--overwrite", "-q"]
    rows.append(("train, streamed (1 epoch)", measure(["train", data, "--run-id", "stream", *common], d,
                                                      {"CELLVAE_DATA__IN_MEMORY": "false"})))
    if n <= 100_000:
        rows.append(("train, in memory (1 epoch)", measure(["train", data, "--run-id", "memory", *common], d,
                                                           {"CELLVAE_DATA__IN_MEMORY": "true"})))
    enc = d / "stream" / "model" / "encoder.onnx"
    z = d / "encodings.npy"
    rows.append(("encode, 1 process", measure(["encode", enc, data, "--output", z, "-q"], d)))
    rows.append((f"encode, LocalCluster({workers})", measure(["encode", enc, data, "--output", d / "encodings-dask.npy",
                                                               "--workers", workers, "-q"], d)))
    rows.append(("train-clusters (default subsample)", measure(["train-clusters", z, d / "cluster.onnx"], d)))
    rows.append(("cluster, 1 process", measure(["cluster", d / "cluster.onnx", z, "--output", d / "labels.npy"], d)))
    rows.append((f"cluster, LocalCluster({workers})", measure(["cluster", d / "cluster.onnx", z, "--output",
                                                                d / "labels-dask.npy", "--workers", workers], d)))
    import numpy as np
    a, b = np.load(d / "encodings.npy"), np.load(d / "encodings-dask.npy")
    la, lb = np.load(d / "labels.npy"), np.load(d / "labels-dask.npy")
    print(f"{n:,} cells: encodings max |1 process - Dask| = {np.abs(a - b).max():.2e}; labels equal: {bool((la == lb).all())}; "
          f"{len(np.unique(la[la >= 0]))} clusters", file=sys.stderr)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/cellvae-scale"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    table = {n: run_size(n, args.workdir, args.workers) for n in args.sizes}
    print(f"\n| step | " + " | ".join(f"{n:,} cells: s / peak GB" for n in args.sizes) + " |")
    print("|---|" + "---|" * len(args.sizes))
    steps = dict.fromkeys(s for rows in table.values() for s, _ in rows)
    for s in steps:
        cells = []
        for n in args.sizes:
            r = dict(table[n]).get(s)
            cells.append("" if r is None else f"{r['seconds']:.1f} / {r['peak_gb']:.2f}")
        print(f"| {s} | " + " | ".join(cells) + " |")
    print(f"\n{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
