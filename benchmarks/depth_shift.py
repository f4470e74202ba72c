"""Does a trained model keep cell types apart when a new sample is sequenced at another depth?

Not a test: it prints figures. Run from the repository root (pbmc3k needs ../shared/data/pbmc3k):

    python benchmarks/depth_shift.py                          # every dataset, seeds 0-2, every variant
    python benchmarks/depth_shift.py --datasets pbmc68k --seeds 0 --variants default log1p
    python benchmarks/depth_shift.py --json benchmarks/results/depth-shift-rows.jsonl

The situation it measures: a model trained on one lab's sample encodes another lab's, sequenced shallower or
deeper. For each dataset (`quality.py`'s: pbmc3k, the embedded PBMCs, the 16-type synthetic atlas) and seed, the
cells are split in half, stratified by type: a reference and a query. The model trains on the reference; the query is
encoded at its own depth and with its counts binomially thinned to 1/2 and 1/4 (each count kept with that
probability, seeded), as a shallower run of the same cells would be. A second model trains on the reference thinned
to 1/4 and encodes the query at 1/4, 1/2 and full depth: query cells 2x and 4x deeper than the training data.

Scores: a kNN (k=15) and a logistic-regression classifier fitted on the reference's latent and labels label the
query's latent; F1-macro over the query's cells. A depth-robust model keeps its score when the query's depth moves.

Variants (the rest of the config is the default):
- default: the encoder reads log1p(counts / library x m), m the reference's median library over the model's genes
  (`model.input_target_sum: null`, as scanpy's `normalize_total` without a target), and training thins half of
  each batch's cells to a depth between 1/4 and 1 (`train.depth_augmentation: 0.5`; see the train notebook), Adam at
  4e-3;
- lr2e-3, lr8e-3: the default at Adam's learning rate 2e-3 (the default before) or 8e-3;
- median: the same input, without depth augmentation;
- 1e4: log1p(counts / library x 10,000), without depth augmentation (cellvae's default before December 2026);
- log1p: log1p(counts), scVI's input, without depth augmentation.

median, 1e4 and log1p train at 2e-3, as when they were measured.
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import DATASETS, load  # noqa: E402

BEFORE = {"train.learning_rate": 0.002}  # the variants measured before the learning rate became 4e-3 keep theirs
VARIANTS = {"default": {},
            "lr2e-3": BEFORE,
            "lr8e-3": {"train.learning_rate": 0.008},
            "median": {**BEFORE, "train.depth_augmentation": 0},
            "1e4": {**BEFORE, "model.input_target_sum": 1e4, "train.depth_augmentation": 0},
            "log1p": {**BEFORE, "model.input_transform": "log1p", "train.depth_augmentation": 0}}
QUERY_DEPTHS = {1.0: (1.0, 0.5, 0.25), 0.25: (0.25, 0.5, 1.0)}  # reference depth: query depths


def thin(X, p: float, rng: np.random.Generator):
    "Each count kept with probability `p` (binomial thinning): the same cells sequenced at depth `p`."
    if p == 1.0: return X.copy()
    X = sp.csr_matrix(X, dtype=np.float32, copy=True)
    X.data = rng.binomial(X.data.astype(np.int64), p).astype(np.float32)
    X.eliminate_zeros()
    return X


def halves(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    "A stratified 50/50 split of the cells: reference and query positions."
    from sklearn.model_selection import train_test_split
    return train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)


def model_for(adata, seed: int, variant: str):
    import cellvae
    from cellvae.settings import load_config
    cfg = load_config(env={}, profile=False, overrides={"seed": seed, **VARIANTS[variant]})
    return cellvae.CellVAE.from_config(adata, cfg, labels_key="cell_type"), cfg


def transfer(zr, yr, zq, yq, seed: int) -> dict:
    from cellvae.eval import annotation_scores
    Z, y = np.vstack([zr, zq]), np.concatenate([yr, yq])
    tr, te = np.arange(len(zr)), np.arange(len(zr), len(Z))
    return {f"{m}_f1": annotation_scores(Z, y, method=m, k=15, seed=seed, train_idx=tr, test_idx=te)["f1_macro"]
            for m in ("knn", "logreg")}


def run(args) -> list[dict]:
    import cellvae
    import torch
    from cellvae.settings import load_config
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.datasets:
        raw = load(name)
        if raw is None:
            print(f"{name}: not found, skipped"); continue
        y = raw.obs["cell_type"].astype(str).to_numpy()
        for seed in args.seeds:
            cfg = load_config(env={}, profile=False, overrides={"seed": seed})
            adata = cellvae.preprocess(raw, n_top_genes=cfg.data.n_top_genes, copy=True)
            ref, query = halves(y, seed)
            counts = sp.csr_matrix(adata.layers["counts"], dtype=np.float32)
            for ref_depth, q_depths in QUERY_DEPTHS.items():
                rng = np.random.default_rng([seed, int(ref_depth * 100)])
                a_ref = adata[ref].copy()
                a_ref.layers["counts"] = thin(counts[ref], ref_depth, rng)
                q = {}
                for d in q_depths:  # the query at each depth, built once for every variant
                    q[d] = adata[query].copy()
                    q[d].layers["counts"] = thin(counts[query], d, rng)
                for variant in args.variants:
                    t = time.perf_counter()
                    model, mcfg = model_for(a_ref, seed, variant)
                    hist = model.train_from_config(mcfg, progress=False)
                    zr = model.get_latent()
                    for d in q_depths:
                        row = dict(dataset=name, variant=variant, seed=seed, reference_depth=ref_depth, query_depth=d,
                                   epochs=hist.epochs, seconds=round(time.perf_counter() - t, 1),
                                   **transfer(zr, y[ref], model.get_latent(q[d]), y[query], seed))
                        rows.append(row)
                        print(json.dumps(row), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    "Mean over seeds of the query's kNN / logreg F1 per dataset, variant and reference depth, at each query depth."
    df = pd.DataFrame(rows)
    out = []
    for ref_depth, q_depths in QUERY_DEPTHS.items():
        d0 = df[df["reference_depth"] == ref_depth]
        if d0.empty: continue
        head = " | ".join(f"query x{q / ref_depth:g}" for q in q_depths)
        out += [f"\nreference at depth {ref_depth:g}", f"| dataset | variant | {head} | largest drop |",
                "|---|---|" + "---|" * (len(q_depths) + 1)]
        for (name, variant), d in d0.groupby(["dataset", "variant"], sort=False):
            m = d.groupby("query_depth")[["knn_f1", "logreg_f1"]].mean()
            drop = (m.loc[ref_depth] - m).max()
            cells = " | ".join(f"{m.loc[q, 'knn_f1']:.3f} / {m.loc[q, 'logreg_f1']:.3f}" for q in q_depths)
            out.append(f"| {name} | {variant} | {cells} | {drop['knn_f1']:.3f} / {drop['logreg_f1']:.3f} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--json", help="also write every row to this file (JSON lines)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    rows = run(args)
    if args.json: Path(args.json).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print("\nkNN F1 / logreg F1 of the query, labelled from the reference's latent (mean over seeds)\n" + table(rows))


if __name__ == "__main__":
    main()
