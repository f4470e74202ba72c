"""Label transfer from a reference to a query: cellvae's annotator.onnx against CellTypist and scANVI.

Not a test: it prints figures. Run from the repository root (pbmc3k needs ../shared/data/pbmc3k):

    python benchmarks/annotate_transfer.py                       # every setting, seeds 0-2
    python benchmarks/annotate_transfer.py --settings halves --seeds 0
    /work/benchvenv/bin/python benchmarks/annotate_transfer.py   # with CellTypist and scvi-tools installed (the bench extra)
    python benchmarks/annotate_transfer.py --throughput          # annotator.onnx cells/s at batch 1,024

Settings (reference -> query):
- halves: pbmc3k split in two halves by a fixed seed (100); both halves keep all 8 types.
- pbmc68k: all of pbmc3k -> the 700 embedded PBMCs, their FACS `bulk_labels` mapped to pbmc3k's coarse types
  (COARSE below; CD34+ progenitors have no pbmc3k type and count as a type the reference never saw).
- batch: synthetic counts, 6 types, the query in another batch (each gene's mean scaled by a log-normal factor,
  sd 0.5), reference and query drawn together so that they share the types.
- leave-out: the pbmc3k halves, with B cells removed from the reference: how many of the query's B cells come
  back Unknown, and how many of the others do.

Methods:
- cellvae: the default (unsupervised) model, its annotator a logistic regression on the latent;
- cellvae semi: the semi-supervised model (`model.classifier: true`), its annotator the classifier;
- CellTypist: `celltypist.train` on the reference's log-normalised values of the same HVGs (`check_expression=False`:
  the HVGs alone do not sum to 10,000), `celltypist.annotate` on the query's log-normalised values of every gene
  with majority voting off (probability per cell, as cellvae);
- scANVI: scvi-tools' SCVI then SCANVI from it with its defaults, `predict` on the query.

Scores (`cellvae.eval.label_metrics`): accuracy and F1-macro over the query cells labelled (not Unknown) and of a
type the reference had, and the Unknown fraction. CellTypist and scANVI never say Unknown.
"""
import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PBMC3K = ROOT.parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"
SETTINGS = ("halves", "pbmc68k", "batch", "leave-out")
COARSE = {  # pbmc68k's bulk_labels -> pbmc3k's types
    "CD14+ Monocyte": "CD14+ Monocytes", "CD19+ B": "B cells", "CD4+/CD25 T Reg": "CD4 T cells",
    "CD4+/CD45RA+/CD25- Naive T": "CD4 T cells", "CD4+/CD45RO+ Memory": "CD4 T cells", "CD56+ NK": "NK cells",
    "CD8+ Cytotoxic T": "CD8 T cells", "CD8+/CD45RA+ Naive Cytotoxic": "CD8 T cells", "Dendritic": "Dendritic cells",
    "CD34+": "CD34+ progenitors"}


def setting(name: str):
    "(reference, query) AnnData with raw counts in layers['counts'] and obs['cell_type']."
    import cellvae
    if name in ("halves", "leave-out", "pbmc68k") and not PBMC3K.exists(): return None
    if name in ("halves", "leave-out"):
        a = cellvae.read_counts(PBMC3K)
        order = np.random.default_rng(100).permutation(a.n_obs)
        ref, query = a[np.sort(order[: a.n_obs // 2])].copy(), a[np.sort(order[a.n_obs // 2:])].copy()
        if name == "leave-out": ref = ref[ref.obs["cell_type"] != "B cells"].copy()
        return ref, query
    if name == "pbmc68k":
        query = cellvae.load_dataset()
        query.obs["cell_type"] = query.obs["cell_type"].astype(str).map(COARSE)
        return cellvae.read_counts(PBMC3K), query
    if name == "batch":
        a = cellvae.synthetic_counts(n_cells=3000, n_genes=2000, n_types=6, n_batches=2, batch_effect=0.5, seed=100)
        return a[a.obs["batch"] == "batch0"].copy(), a[a.obs["batch"] == "batch1"].copy()
    raise SystemExit(f"unknown setting {name}; choose from {', '.join(SETTINGS)}")


def cellvae_method(ref, query, seed, semi: bool, tmp: Path):
    "Train on the reference, export annotator.onnx, run it on the query: (labels, annotator file, seconds)."
    import cellvae
    from cellvae.annotate import annotate
    cfg = cellvae.load_config(env={}, profile=False, overrides={"seed": seed, "model.classifier": semi})
    r = cellvae.preprocess(ref, copy=True)
    t = time.perf_counter()
    model = cellvae.CellVAE.from_config(r, cfg, labels_key="cell_type")
    model.train_from_config(cfg, progress=False)
    path = tmp / f"annotator-{int(semi)}.onnx"
    model.export_annotator(path)
    res = annotate(path, query, layer="counts", quiet=True)
    return res.table["label"].astype(str).to_numpy(), path, time.perf_counter() - t


def celltypist_method(ref, query, seed):
    try:
        import celltypist
    except ImportError:
        return None
    import cellvae
    r = cellvae.preprocess(ref, copy=True, subset=True)  # the reference's HVGs, log1p of counts per 10,000 over all genes
    q = cellvae.preprocess(query, copy=True)              # every gene (CellTypist checks the 10,000 total, then keeps its own genes)
    m = celltypist.train(r, labels="cell_type", n_jobs=2, max_iter=200, use_SGD=False, check_expression=False)
    pred = celltypist.annotate(q, model=m, majority_voting=False)
    return pred.predicted_labels["predicted_labels"].astype(str).to_numpy()


def scanvi_method(ref, query, seed):
    try:
        import scvi
    except ImportError:
        return None
    import anndata as ad
    import cellvae
    scvi.settings.seed = seed
    r = cellvae.preprocess(ref, copy=True, subset=True)
    q = query[:, [g for g in r.var_names if g in set(query.var_names)]].copy()
    q = ad.AnnData(X=q.layers["counts"], obs=q.obs[[]].assign(cell_type="Unknown"), var=q.var[[]])
    full = ad.concat([ad.AnnData(X=r.layers["counts"], obs=r.obs[["cell_type"]].astype(str), var=r.var[[]]), q], join="outer")
    full.obs["split"] = ["ref"] * r.n_obs + ["query"] * q.n_obs
    scvi.model.SCVI.setup_anndata(full, batch_key="split")
    vae = scvi.model.SCVI(full)
    vae.train(enable_progress_bar=False)
    lvae = scvi.model.SCANVI.from_scvi_model(vae, unlabeled_category="Unknown", labels_key="cell_type")
    lvae.train(max_epochs=20, enable_progress_bar=False)
    return np.asarray(lvae.predict(full[full.obs["split"] == "query"].copy())).astype(str)


def score(truth, pred, reference_types) -> dict:
    from cellvae.eval import label_metrics
    keep = pd.notna(truth)
    m = label_metrics(np.asarray(truth)[keep].astype(str), np.asarray(pred)[keep], reference_labels=reference_types)
    return {k: m[k] for k in ("accuracy", "f1_macro", "unknown_fraction", "unknown_fraction_seen", "unknown_fraction_unseen")}


def throughput(path: Path, n_genes: int, batch: int = 1024, cells: int = 50_000) -> float:
    "annotator.onnx cells/s on random counts, batch by batch, after one warm-up call."
    from cellvae.annotate import open_annotator
    ann = open_annotator(path)
    x = np.random.default_rng(0).poisson(0.3, (batch, n_genes)).astype(np.float32)
    ann(x)
    t = time.perf_counter()
    for _ in range(cells // batch): ann(x)
    return (cells // batch) * batch / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--methods", nargs="+", default=["cellvae", "cellvae semi", "CellTypist", "scANVI"])
    ap.add_argument("--throughput", action="store_true", help="also time annotator.onnx (cells/s at batch 1,024)")
    ap.add_argument("--json", help="write every row to this file")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import torch
    torch.set_num_threads(args.threads)
    rows, tmp = [], Path(tempfile.mkdtemp())
    for name in args.settings:
        pair = setting(name)
        if pair is None: print(f"{name}: pbmc3k not found, skipped"); continue
        ref, query = pair
        types = sorted(set(ref.obs["cell_type"].astype(str)))
        truth = query.obs["cell_type"].to_numpy()
        for seed in args.seeds:
            for method in args.methods:
                t = time.perf_counter()
                if method.startswith("cellvae"):
                    pred, path, _ = cellvae_method(ref, query, seed, method.endswith("semi"), tmp)
                else:
                    pred = (celltypist_method if method == "CellTypist" else scanvi_method)(ref, query, seed)
                    if pred is None: continue
                row = dict(setting=name, method=method, seed=seed, seconds=round(time.perf_counter() - t, 1), **score(truth, pred, types))
                if method == "cellvae" and args.throughput and seed == args.seeds[0]:
                    row["cells_per_s"] = round(throughput(path, len((path.with_suffix(".genes")).read_text().split())))
                rows.append(row)
                print(json.dumps(row), flush=True)
    df = pd.DataFrame(rows)
    cols = [c for c in ("accuracy", "f1_macro", "unknown_fraction", "unknown_fraction_unseen") if c in df]
    print(df.groupby(["setting", "method"], sort=False)[cols].agg(["mean", "std"]).round(3).to_string())
    if args.json: Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
