"""What the interpretable linear decoder (`model.decoder: linear`, LDVAE's) costs the latent: pbmc3k F1, both decoders.

Not a test: it prints figures. Run from the repository root (needs ../shared/data/pbmc3k):

    python benchmarks/linear_decoder.py                       # seeds 0-2, 1 thread
    python benchmarks/linear_decoder.py --seeds 0 --threads 2

For each seed and decoder: 2,000 seurat_v3 HVGs (`cellvae.preprocess`), the default config with `seed` (and
`model.decoder`) overridden, `CellVAE.from_config` and `train_from_config`, as `benchmarks/quality.py` trains. The
latent mean is scored as there: kNN (k=15) and logistic-regression F1-macro by 5-fold stratified CV (fold seed =
seed) against obs["cell_type"]. Then the table (mean and sd over seeds) and, for the first seed's linear model,
the five genes with the largest positive loading on each latent dimension.
"""
import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import cellvae
from cellvae.core import Keys

PBMC3K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"
DECODERS = ("nonlinear", "linear")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--top", type=int, default=5, help="genes listed per linear dimension")
    args = ap.parse_args()
    if not PBMC3K.exists(): raise SystemExit(f"pbmc3k not found at {PBMC3K}")
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    t_all = time.perf_counter()
    raw = cellvae.read_counts(PBMC3K)
    scores, top_model = {d: [] for d in DECODERS}, None
    for seed in args.seeds:
        for decoder in DECODERS:
            cfg = cellvae.load_config(env={}, profile=False, overrides={"seed": seed, "model.decoder": decoder})
            adata = cellvae.preprocess(raw, n_top_genes=cfg.data.n_top_genes, copy=True)
            t = time.perf_counter()
            model = cellvae.CellVAE.from_config(adata, cfg, labels_key="cell_type")
            hist = model.train_from_config(cfg, progress=False)
            secs = time.perf_counter() - t
            adata.obsm[Keys.LATENT] = model.get_latent()
            s = cellvae.score_representation(adata, use_rep=Keys.LATENT, labels_key="cell_type", k=15, cv=5, seed=seed)
            scores[decoder].append((s["knn"]["f1_macro"], s["logreg"]["f1_macro"]))
            print(f"seed {seed} {decoder:9s}: kNN F1-macro {s['knn']['f1_macro']:.4f}, logreg F1-macro "
                  f"{s['logreg']['f1_macro']:.4f}, {hist.epochs} epochs (best {hist.best_epoch}), {secs:.0f} s", flush=True)
            if decoder == "linear" and top_model is None: top_model = (seed, model)
    print(f"\npbmc3k, seeds {args.seeds}, mean ± sd (ddof=0); torch {torch.__version__}, {args.threads} thread(s), "
          f"{time.perf_counter() - t_all:.0f} s in all")
    print("| `model.decoder` | kNN F1-macro | logreg F1-macro |\n|---|---|---|")
    for decoder, rows in scores.items():
        a = np.array(rows)
        print(f"| {decoder} | {a[:, 0].mean():.3f} ± {a[:, 0].std():.3f} | {a[:, 1].mean():.3f} ± {a[:, 1].std():.3f} |")
    seed, model = top_model
    load = model.get_loadings()
    print(f"\nTop {args.top} genes (largest positive loading) per dimension, linear model, seed {seed}:")
    for dim in load.columns:
        top = load[dim].nlargest(args.top)
        print(f"{dim}: " + ", ".join(f"{g} ({v:.2f})" for g, v in top.items()))


if __name__ == "__main__":
    main()
