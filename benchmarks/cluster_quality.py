"""Cluster quality on the pbmc3k latent: cellvae's HDBSCAN (as cluster.onnx) against scanpy's Leiden.

Not a test: it prints figures. Run from the repository root:

    python benchmarks/cluster_quality.py                    # trains the default model on pbmc3k first
    python benchmarks/cluster_quality.py --run runs/pbmc3k  # or reads a run folder's encodings.npy and adata.h5ad
    python benchmarks/cluster_quality.py --grid             # also a grid of settings around the default rule

For each clustering it prints ARI and NMI against `obs["cell_type"]`, the number of clusters and the noise
fraction. cellvae's clusters are fitted on all cells and then predicted for the same cells by the exported
`cluster.onnx` with onnxruntime, as `cellvae pipeline` does. Leiden is `sc.pp.neighbors` (15 neighbours) +
`sc.tl.leiden(flavor="igraph")` on the same latent, at resolution 1.0 (scanpy's default) and a few others.
"""
import argparse
import tempfile
import time
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import torch

from cellvae.cluster import cluster, default_cluster_params, export_cluster_model, fit_clusters
from cellvae.data import preprocess, read_counts
from cellvae.eval import cluster_agreement, leiden_clusters
from cellvae.settings import load_config
from cellvae.vae import CellVAE

ROOT = Path(__file__).resolve().parents[1]
PBMC3K = ROOT.parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"


def latent_and_labels(args):
    "The latent and the cell types: from a run folder, or by training the default model on pbmc3k."
    if args.run:
        run = Path(args.run)
        z = np.load(run / "encodings.npy")
        y = ad.read_h5ad(run / "adata.h5ad").obs[args.labels_key].astype(str).to_numpy()
        return z, y, f"run folder {run}"
    if not PBMC3K.exists(): raise SystemExit(f"pbmc3k not found at {PBMC3K}; pass --run DIR")
    cfg = load_config(env={}, profile=False, overrides={"seed": args.seed})
    hvg = preprocess(read_counts(PBMC3K), n_top_genes=cfg.data.n_top_genes, subset=True, copy=True)
    m = CellVAE.from_config(hvg, cfg, labels_key=args.labels_key)
    t = time.perf_counter()
    r = m.train_from_config(cfg, progress=False)
    print(f"trained the default model on pbmc3k: {r.epochs} epochs in {time.perf_counter() - t:.1f} s (seed {args.seed})")
    return m.get_latent(), hvg.obs[args.labels_key].astype(str).to_numpy(), f"default model, seed {args.seed}"


def hdbscan_row(z, y, tmp, **params):
    "Fit, export to ONNX, label the same cells with onnxruntime; agreement with `y`, noise fraction."
    t = time.perf_counter()
    fit = fit_clusters(z, **params)
    path = export_cluster_model(fit, Path(tmp) / "cluster.onnx")
    labels, _ = cluster(path, z)
    dt = time.perf_counter() - t
    p = fit.params
    name = f"hdbscan mcs={p['min_cluster_size']} ms={p['min_samples']} {p['selection']}" + (" +assign" if p["assign_noise"] else "")
    return {"clustering": name, **cluster_agreement(labels, y), "seconds": dt}


def leiden_row(z, y, resolution, seed):
    t = time.perf_counter()
    labels = leiden_clusters(z, resolution=resolution, seed=seed)
    return {"clustering": f"leiden resolution={resolution}", **cluster_agreement(labels, y), "seconds": time.perf_counter() - t}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a run folder (encodings.npy, adata.h5ad) instead of training")
    ap.add_argument("--labels-key", default="cell_type")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--grid", action="store_true", help="also score a grid of HDBSCAN settings")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    z, y, source = latent_and_labels(args)
    print(f"latent: {z.shape[0]:,} cells x {z.shape[1]} ({source}); {len(set(y))} cell types")
    rule = default_cluster_params(len(z))
    print(f"default rule for {len(z):,} cells: {rule}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(hdbscan_row(z, y, tmp))                        # the default, noise assignment on
        rows.append(hdbscan_row(z, y, tmp, assign_noise=False))    # the default, noise left as -1
        if args.grid:
            for sel in ("leaf", "eom"):
                for mcs in (5, 10, 13, 20, 30, 50, 80):
                    for ms in (5, 10, 20):
                        if ms <= mcs: rows.append(hdbscan_row(z, y, tmp, min_cluster_size=mcs, min_samples=ms, selection=sel))
    for res in (0.5, 1.0, 2.0):
        rows.append(leiden_row(z, y, res, args.seed))
    print(f"{'clustering':<40} {'ARI':>6} {'NMI':>6} {'noise':>6} {'clusters':>8} {'s':>6}")
    for r in rows:
        print(f"{r['clustering']:<40} {r['ari']:6.3f} {r['nmi']:6.3f} {r['noise_fraction']:6.1%} {r['n_clusters']:8d} {r['seconds']:6.1f}")


if __name__ == "__main__":
    main()
