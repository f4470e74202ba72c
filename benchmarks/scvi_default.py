"""Train scvi-tools' SCVI the way a scanpy user does, with its defaults; write the latent and what was trained.

The scvi-tools side of `time_to_model.py`, run as a whole child process so that its wall clock includes imports and
reading the data. Needs scvi-tools (`/work/benchvenv`, or `pip install -e ".[bench]"`):

    python benchmarks/scvi_default.py DATA.h5ad OUT_DIR --seed 0 --threads 2 [--max-epochs N]

Raw counts in X; 2,000 seurat_v3 HVGs on the counts when there are more genes (as `cellvae.preprocess` chooses
them), `SCVI.setup_anndata(layer="counts")`, `SCVI(a).train()`: scvi-tools' max_epochs heuristic (400 below 20,000
cells), no early stopping. Writes OUT_DIR/latent.npy and OUT_DIR/scvi.json (epochs, max_epochs, versions).
"""
import argparse
import json
from pathlib import Path

import anndata as ad
import numpy as np
import scanpy as sc
import scvi

N_TOP_GENES = 2000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="an .h5ad of raw counts in X")
    ap.add_argument("out", type=Path, help="folder for latent.npy and scvi.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--max-epochs", type=int, default=None, help="default: scvi-tools' heuristic; set only for smoke tests")
    args = ap.parse_args()
    scvi.settings.seed = args.seed
    if args.threads: scvi.settings.num_threads = args.threads
    a = ad.read_h5ad(args.data)
    a.layers["counts"] = a.X.copy()
    if a.n_vars > N_TOP_GENES:
        sc.pp.highly_variable_genes(a, n_top_genes=N_TOP_GENES, flavor="seurat_v3", layer="counts", subset=True)
    scvi.model.SCVI.setup_anndata(a, layer="counts")
    m = scvi.model.SCVI(a)
    m.train(max_epochs=args.max_epochs)
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "latent.npy", m.get_latent_representation())
    info = {"epochs": int(m.history["elbo_train"].shape[0]), "max_epochs": args.max_epochs,
            "scvi_version": scvi.__version__, "genes": a.n_vars}
    (args.out / "scvi.json").write_text(json.dumps(info))


if __name__ == "__main__":
    main()
