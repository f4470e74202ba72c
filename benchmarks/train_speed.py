"""Training speed and quality: seconds per epoch, cells per second, peak RSS, and kNN F1 on pbmc3k.

Not a test: it prints figures. Run from the repository root:

    python benchmarks/train_speed.py                 # pbmc3k (if ../shared is present), synthetic 20,000 and 100,000 x 2,000
    python benchmarks/train_speed.py --epochs 20 --threads 2
    python benchmarks/train_speed.py --epochs 1 --sizes 5000      # smoke test

The synthetic sets come from `synthetic.realistic_counts` (10x-like: ~7% non-zero, log-normal library sizes, seed 0),
and every row states the density (fraction non-zero) of the counts the models train on (pbmc3k: its 2,000 HVGs).
At the defaults (10 epochs, 1 thread, scvi-tools installed) it takes ~15-20 min on 2 idle cores, most of it at 100,000 cells.

Both tools train scvi-tools' default architecture (one hidden layer of 128 units, batch norm, latent 10, zinb,
batch 128; `--hidden`, `--batch-size` change it for both). Where scvi-tools is installed (`pip install -e ".[bench]"`),
it trains scvi.model.SCVI with the same architecture, likelihood, optimiser settings and number of epochs, and prints
the ratio of cells per second. scvi-tools does not augment, so cellvae's timed runs do not either (depth augmentation
off); `--with-augmentation` adds cellvae's time with its default augmentation. scvi-tools computes in float32, so
cellvae's timed runs do too; `--with-bfloat16` adds cellvae's time with bfloat16 matrix products (`train.precision:
bfloat16`, what `auto` chooses on a CPU with AVX512-BF16 or AMX) and its ratio. The early-stopped run on pbmc3k uses
cellvae's own defaults.
"""
import argparse
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from cellvae.data import preprocess, read_counts
from cellvae.settings import load_config
from cellvae.vae import CellVAE
from synthetic import density, realistic_counts

ROOT = Path(__file__).resolve().parents[1]
PBMC3K = ROOT.parent / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def knn_f1(Z, y) -> float:
    from cellvae.eval import annotation_scores
    return annotation_scores(Z, y, method="knn", k=15, cv=5, seed=0)["f1_macro"]


def time_cellvae(hvg, cfg, epochs, labels_key, augment=0.0, autocast=False):
    "Fixed epochs (no early stopping), `cfg`'s architecture: seconds per epoch, cells per second, latent. `augment`: depth augmentation; `autocast`: bfloat16 products."
    m = CellVAE.from_config(hvg, cfg, labels_key=labels_key)
    t = time.perf_counter()
    r = m.train(max_epochs=epochs, batch_size=cfg.train.batch_size, learning_rate=cfg.train.learning_rate,
                weight_decay=cfg.train.weight_decay, patience=10**6, kl_warmup_epochs=cfg.train.kl_warmup_epochs,
                depth_augmentation=augment, autocast=autocast, progress=False)
    dt = time.perf_counter() - t
    n_train = m.data_info["n_train"]
    return dt / r.epochs, n_train * r.epochs / dt, m.get_latent()


def time_scvi(hvg, cfg, epochs):
    try:
        import scvi
    except ImportError:
        return None
    scvi.settings.seed = cfg.seed
    a = hvg.copy()
    scvi.model.SCVI.setup_anndata(a, layer="counts")
    # the same architecture (one hidden layer of 128, batch norm, latent 10, no dropout, gene-wise dispersion),
    # likelihood, optimiser settings, KL warm-up, batch size and epochs
    m = scvi.model.SCVI(a, n_hidden=cfg.model.hidden_dims[0], n_layers=len(cfg.model.hidden_dims), n_latent=cfg.model.latent_dim,
                        dropout_rate=cfg.model.dropout, gene_likelihood=cfg.model.likelihood, dispersion="gene")
    t = time.perf_counter()
    m.train(max_epochs=epochs, batch_size=cfg.train.batch_size, train_size=1 - cfg.data.val_fraction, early_stopping=False,
            accelerator="cpu", enable_progress_bar=False, check_val_every_n_epoch=1,
            plan_kwargs={"lr": cfg.train.learning_rate, "weight_decay": cfg.train.weight_decay,
                         "n_epochs_kl_warmup": cfg.train.kl_warmup_epochs})
    dt = time.perf_counter() - t
    return dt / epochs, a.n_obs * (1 - cfg.data.val_fraction) * epochs / dt, m.get_latent_representation()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10, help="epochs timed per dataset (fixed, no early stopping)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--sizes", nargs="+", type=int, default=[20_000, 100_000], help="cells of each synthetic set (2,000 genes)")
    ap.add_argument("--skip-default-run", action="store_true", help="skip the early-stopped default run on pbmc3k")
    ap.add_argument("--hidden", type=int, default=128, help="hidden units of both tools (scvi-tools' default: 128)")
    ap.add_argument("--batch-size", type=int, default=128, help="cells per step of both tools (scvi-tools' default: 128)")
    ap.add_argument("--with-bfloat16", action="store_true",
                    help="also time cellvae with bfloat16 matrix products (scvi-tools computes in float32, so the main ratio is without)")
    ap.add_argument("--with-augmentation", action="store_true",
                    help="also time cellvae with its default depth augmentation (scvi-tools has none, so the ratio is without it)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import scvi
        scvi.settings.num_threads = args.threads  # lightning would otherwise reset torch's threads
    except ImportError:
        pass
    warnings.simplefilter("ignore")
    # scvi-tools' default architecture, as the issue asks: one hidden layer of 128, batch 128 (cellvae's defaults: 256, 256)
    arch = {"model.hidden_dims": [args.hidden], "train.batch_size": args.batch_size}
    cfg = load_config(env={}, profile=False, overrides=arch)
    default_cfg = load_config(env={}, profile=False)
    rows = []
    sets = []
    if PBMC3K.exists():
        sets.append(("pbmc3k", preprocess(read_counts(PBMC3K), n_top_genes=2000, subset=True, copy=True), "cell_type"))
    else:
        print(f"pbmc3k not found at {PBMC3K}: skipped")
    for n in args.sizes:
        syn = realistic_counts(n, n_genes=2000, seed=0)
        preprocess(syn, n_top_genes=2000, subset=True)  # in place: no second copy of 100,000 cells
        sets.append((f"synthetic {n:,} x 2,000", syn, "cell_type"))
    for name, hvg, key in sets:
        y = hvg.obs[key].astype(str).to_numpy()
        spe, cps, Z = time_cellvae(hvg, cfg, args.epochs, key)
        row = {"data": name, "density": f"{density(hvg):.3f}", "s/epoch": f"{spe:.3f}", "cells/s": f"{cps:,.0f}", "peak RSS MB": f"{peak_rss_mb():,.0f}",
               f"kNN F1 at {args.epochs} epochs": f"{knn_f1(Z, y):.4f}"}
        if args.with_bfloat16:
            bspe = time_cellvae(hvg, cfg, args.epochs, key, autocast=True)[0]
            row["s/epoch bfloat16"] = f"{bspe:.3f}"
        if args.with_augmentation:
            row["s/epoch with depth augmentation"] = f"{time_cellvae(hvg, cfg, args.epochs, key, cfg.train.depth_augmentation)[0]:.3f}"
        if name == "pbmc3k" and not args.skip_default_run:
            m = CellVAE.from_config(hvg, default_cfg, labels_key=key)
            t = time.perf_counter()
            r = m.train_from_config(default_cfg, progress=False)
            row["default run"] = f"{r.epochs} epochs, {time.perf_counter() - t:.1f} s"
            row["default run kNN F1"] = f"{knn_f1(m.get_latent(), y):.4f}"
        s = time_scvi(hvg, cfg, args.epochs)
        if s is not None:
            row["scvi s/epoch"], row["scvi cells/s"] = f"{s[0]:.3f}", f"{s[1]:,.0f}"
            row[f"scvi kNN F1 at {args.epochs} epochs"] = f"{knn_f1(s[2], y):.4f}"
            row["speed ratio"] = f"{cps / s[1]:.2f}x"
            if args.with_bfloat16: row["speed ratio bfloat16"] = f"{s[0] / bspe:.2f}x"
        else:
            row["scvi"] = "not installed"
        rows.append(row)
    for row in rows:
        print(" | ".join(f"{k}: {v}" for k, v in row.items()))
    print(f"torch {torch.__version__}, threads {args.threads}, epochs timed {args.epochs}, hidden {args.hidden}, batch {args.batch_size}, "
          "zinb, no depth augmentation in the timed runs unless stated")


if __name__ == "__main__":
    main()
