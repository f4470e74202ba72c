"""Encode time of 100,000 synthetic cells: one process against a Dask LocalCluster of 2 workers (1 thread each).

    python benchmarks/distributed_encode.py [n_cells]

Counts from `realistic_counts` (2,000 genes, ~7% non-zero) in an .h5ad (CSR); a 2,000 x 256 x 10 encoder (random
weights: the time does not depend on them); encode.batch_size 1,024. Prints a markdown table.
"""
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import realistic_counts  # noqa: E402

from cellvae.distributed import dask_client, encode_file as dask_encode_file  # noqa: E402
from cellvae.encode import encode_file  # noqa: E402
from cellvae.model import VAE, export_encoder  # noqa: E402


def main(n: int = 100_000):
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        a = realistic_counts(n, 2000, seed=0)
        del a.layers["counts"]
        a.write_h5ad(d / "sample.h5ad")
        enc = export_encoder(VAE(2000, hidden_dims=(256,), latent_dim=10).eval(), d / "encoder.onnx", genes=list(a.var_names))
        rows = []
        for threads in (1, None):
            t0 = time.perf_counter()
            encode_file(enc, d / "sample.h5ad", d / "one.npy", threads=threads, quiet=True)
            rows.append((f"1 process, onnxruntime threads={threads or 'all (2)'}", time.perf_counter() - t0))
        t0 = time.perf_counter()
        with dask_client(workers=2) as client:
            t_start = time.perf_counter() - t0
            for i in range(2):
                t1 = time.perf_counter()
                dask_encode_file(enc, d / "sample.h5ad", d / "dask.npy", client=client, quiet=True)
                rows.append((f"LocalCluster(2), 1 thread each: call {i + 1} (running cluster)", time.perf_counter() - t1))
        rows.append(("LocalCluster(2): starting it", t_start))
        diff = np.abs(np.load(d / "dask.npy") - np.load(d / "one.npy")).max()
    print(f"| {n:,} cells | seconds |\n|---|---|")
    for name, t in rows: print(f"| {name} | {t:.1f} |")
    print(f"\nmax abs difference, Dask against one process: {diff:.1e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
