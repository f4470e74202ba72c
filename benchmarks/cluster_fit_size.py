"""HDBSCAN fit time, peak memory and cluster.onnx size against the number of training points (a 10-d latent).

Each size runs in its own process (peak RSS is per process), one thread:
    OMP_NUM_THREADS=1 python benchmarks/cluster_fit_size.py 20000 50000 100000
"""
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def latent(n: int, d: int = 10, k: int = 12, seed: int = 0) -> np.ndarray:
    "A seeded mixture of k anisotropic Gaussian clusters in d dimensions, like a VAE latent."
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (k, d))
    scales = rng.uniform(0.3, 1.0, (k, d))
    which = rng.choice(k, n, p=rng.dirichlet(np.ones(k) * 2))
    return (centers[which] + rng.standard_normal((n, d)) * scales[which]).astype(np.float32)


def one(n: int):
    from cellvae.cluster import export_cluster_model, fit_clusters
    x = latent(n)
    t0 = time.perf_counter()
    fit = fit_clusters(x)
    t_fit = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        p = export_cluster_model(fit, Path(d) / "cluster.onnx")
        t_exp = time.perf_counter() - t0
        mb = p.stat().st_size / 1e6
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tried = ", ".join(f"{size} ({noise:.0%})" for size, noise in fit.params["noise_by_size"].items())
    print(f"| {n:,} | {t_fit:.1f} | {t_exp:.1f} | {rss:.0f} | {mb:.1f} | {len(set(fit.labels)) - (-1 in fit.labels)} | {tried} |", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--one": one(int(sys.argv[2])); sys.exit()
    print("| training points | fit s | export s | peak RSS MB | cluster.onnx MB | clusters | min_cluster_size tried (noise) |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for n in sys.argv[1:]:
        subprocess.run([sys.executable, __file__, "--one", n], check=False)
