"""How much the seed moves the default model's pbmc3k score: kNN F1-macro of the latent mean, one training per seed.

Not a test: it prints figures. Run from the repository root (needs ../shared/data/pbmc3k):

    python benchmarks/f1_seeds.py                      # seeds 0-5, 1 thread (as tests/test_pbmc3k.py)
    python benchmarks/f1_seeds.py --seeds 0 1 2 --threads 2
    CELLVAE_MODEL__LIKELIHOOD=nb python benchmarks/f1_seeds.py   # any config override, as for the CLI

Each seed sets the initial weights, the train/validation split and the batch order, as `cellvae train --seed`
does. The score is `tests/test_pbmc3k.py`'s: k=15, 5-fold stratified CV against obs["cell_type"].
"""
import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from cellvae.data import preprocess, read_counts
from cellvae.eval import annotation_scores
from cellvae.settings import load_config
from cellvae.vae import CellVAE

PBMC3K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(6)))
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args()
    if not PBMC3K.exists(): raise SystemExit(f"pbmc3k not found at {PBMC3K}")
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    cfg = load_config(env=dict(os.environ), profile=False)
    hvg = preprocess(read_counts(PBMC3K), n_top_genes=cfg.data.n_top_genes, subset=True, copy=True)
    y = hvg.obs["cell_type"].astype(str).to_numpy()
    scores = []
    for seed in args.seeds:
        cfg = load_config(env={**os.environ, "CELLVAE_SEED": str(seed)}, profile=False)
        model = CellVAE.from_config(hvg, cfg, labels_key="cell_type")
        t = time.perf_counter()
        r = model.train_from_config(cfg, progress=False)
        s = annotation_scores(model.get_latent(), y, method="knn", k=15, cv=5, seed=0)
        scores.append(s["f1_macro"])
        print(f"seed {seed}: kNN F1-macro {s['f1_macro']:.4f}, accuracy {s['accuracy']:.4f}, {r.epochs} epochs "
              f"(best {r.best_epoch}), {time.perf_counter() - t:.1f} s", flush=True)
    print(f"mean {np.mean(scores):.4f}, min {min(scores):.4f}, max {max(scores):.4f} over {len(scores)} seeds; "
          f"torch {torch.__version__}, threads {args.threads}")


if __name__ == "__main__":
    main()
