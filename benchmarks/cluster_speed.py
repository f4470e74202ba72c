"""Speed and memory of `cluster.onnx` against `hdbscan.approximate_predict`.

For each training size, fits HDBSCAN with cellvae's default rule (`fit_clusters`), exports `cluster.onnx`
twice (noise assignment on, the default; and off, which is exactly `approximate_predict`), then predicts each
query size with onnxruntime (`cellvae.cluster.cluster`) and with `hdbscan.approximate_predict`. Every
prediction runs in a fresh process, so its peak RSS is its own; "delta" is the peak minus the RSS after imports
and loading the queries. The 2,638-point case is pbmc3k (log-normalised PCA-10) when ../shared is present,
with query cells resampled from it plus a little jitter; otherwise, and for other sizes, 10-D blobs with 10%
background noise.

    .venv/bin/python benchmarks/cluster_speed.py
    .venv/bin/python benchmarks/cluster_speed.py --train 2638 --queries 1000 100000 --threads 2
"""
import argparse
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PBMC3K = ROOT.parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"


def pbmc_pca10() -> np.ndarray | None:
    "pbmc3k, normalize_total 1e4 + log1p + PCA-10, or None where the data is absent."
    if not PBMC3K.exists(): return None
    import scanpy as sc
    adata = sc.read_h5ad(PBMC3K)
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    sc.pp.pca(adata, n_comps=10, random_state=0)
    return adata.obsm["X_pca"].astype(np.float32)


def blobs(n: int, seed: int, dim: int = 10) -> np.ndarray:
    "10-D blobs (12 centres) with 10% uniform background noise, float32."
    from sklearn.datasets import make_blobs
    rng = np.random.default_rng(seed)
    x, _ = make_blobs(n - n // 10, n_features=dim, centers=12, cluster_std=1.5, random_state=0)
    x = np.vstack([x, rng.uniform(x.min(0), x.max(0), (n // 10, dim))])
    return x[rng.permutation(len(x))].astype(np.float32)


def data(n_train: int, n_queries: list[int]) -> tuple[np.ndarray, dict[int, np.ndarray], str]:
    "Training points and query sets of each size."
    pbmc = pbmc_pca10() if n_train == 2638 else None
    if pbmc is None:
        return blobs(n_train, 0), {q: blobs(q, 1 + q) for q in n_queries}, "blobs 10-D"
    rng = np.random.default_rng(1)
    jitter = 0.05 * pbmc.std(0)
    resample = lambda q: (pbmc[rng.integers(0, len(pbmc), q)] + rng.normal(size=(q, pbmc.shape[1])) * jitter).astype(np.float32)
    return pbmc, {q: resample(q) for q in n_queries}, "pbmc3k PCA-10"


def worker(method: str, model: str, queries: str, out: str, threads: int, batch_size: int):
    "Run one prediction in this process and print its time and memory as JSON."
    import psutil
    if method == "hdbscan":
        import hdbscan  # noqa: F401  (unpickling needs it)
        clusterer = pickle.loads(Path(model).read_bytes())
        predict = lambda x: hdbscan.approximate_predict(clusterer, x)[0]
    else:
        from cellvae.cluster import cluster
        predict = lambda x: cluster(model, x, batch_size=batch_size, threads=threads)[0]
    x = np.load(queries)
    predict(x[:10])  # load and warm up
    base = psutil.Process().memory_info().rss
    t = time.perf_counter()
    labels = predict(x)
    seconds = time.perf_counter() - t
    np.save(out, labels)
    peak = peak_rss()
    print(json.dumps(dict(seconds=seconds, peak_mb=peak / 2**20, delta_mb=(peak - base) / 2**20)))


def peak_rss() -> int:
    "This process's peak RSS in bytes: VmHWM on Linux (ru_maxrss would include the parent's, inherited across exec)."
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"): return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def run_worker(method, target, queries, out, threads, batch_size) -> dict:
    "One prediction in a fresh process (so that its peak RSS is its own)."
    cmd = [sys.executable, __file__, "--worker", method, target, queries, out, "--threads", threads, "--batch-size", batch_size]
    res = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, nargs="+", default=[2638, 50_000], help="training points")
    ap.add_argument("--queries", type=int, nargs="+", default=[1000, 100_000], help="query cells")
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    ap.add_argument("--batch-size", type=int, default=1024, help="rows per onnxruntime call")
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker: return worker(*args.worker, args.threads, args.batch_size)

    from cellvae.cluster import HDBSCANPredictor, export_cluster_model, fit_clusters
    rows, fits = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n_train in args.train:
            train, queries, source = data(n_train, args.queries)
            t = time.perf_counter()
            fit = fit_clusters(train)
            fit_s = time.perf_counter() - t
            t = time.perf_counter()
            model = export_cluster_model(fit, tmp / f"cluster-{n_train}.onnx")
            export_s = time.perf_counter() - t
            exact = export_cluster_model(HDBSCANPredictor.from_hdbscan(fit.clusterer, assign_noise=False), tmp / f"exact-{n_train}.onnx")
            (tmp / f"clusterer-{n_train}.pkl").write_bytes(pickle.dumps(fit.clusterer))
            fits.append((n_train, source, fit.params, fit.predictor.params["n_clusters"], (fit.labels < 0).mean(), fit_s, export_s, model.stat().st_size))
            for n_q, x in queries.items():
                np.save(tmp / "q.npy", x)
                got = {}
                for method, target in [("hdbscan", tmp / f"clusterer-{n_train}.pkl"), ("onnx exact", exact), ("onnx assign_noise", model)]:
                    out = tmp / f"{method.replace(' ', '_')}.npy"
                    r = run_worker(method.split()[0], target, tmp / "q.npy", out, args.threads, args.batch_size)
                    got[method] = np.load(out)
                    scored = got["hdbscan"] >= 0 if "assign" in method else slice(None)  # noise is meant to differ
                    agree = (got[method][scored] == got["hdbscan"][scored]).mean()
                    rows.append((n_train, n_q, method, r["seconds"], n_q / r["seconds"], r["peak_mb"], r["delta_mb"], agree, (got[method] < 0).mean()))
                    print(*map(_fmt, rows[-1]), sep="\t", file=sys.stderr, flush=True)

    print("\nFit (fit_clusters, default rule) and export (export_cluster_model)")
    print(f"{'train':>7} {'source':<14} {'min_cluster_size':>16} {'min_samples':>11} {'selection':>9} {'clusters':>8} {'noise':>6} {'fit s':>7} {'export s':>8} {'onnx MB':>7}")
    for n, src, p, k, noise, fs, es, size in fits:
        print(f"{n:>7} {src:<14} {p['min_cluster_size']:>16} {p['min_samples']:>11} {p['selection']:>9} {k:>8} {noise:>6.1%} {fs:>7.1f} {es:>8.1f} {size / 2**20:>7.1f}")
    print(f"\nPrediction (onnxruntime threads={args.threads}, batch_size={args.batch_size}; approximate_predict is single-threaded)")
    print("(= hdbscan: labels equal to approximate_predict's; for assign_noise, over the cells it does not call noise)")
    print(f"{'train':>7} {'queries':>8} {'method':<18} {'seconds':>8} {'cells/s':>9} {'peak RSS MB':>11} {'delta MB':>8} {'= hdbscan':>9} {'noise':>6}")
    for n, q, m, s, rate, peak, delta, agree, noise in rows:
        print(f"{n:>7} {q:>8} {m:<18} {s:>8.2f} {rate:>9.0f} {peak:>11.0f} {delta:>8.0f} {agree:>9.4%} {noise:>6.1%}")


def _fmt(v): return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
