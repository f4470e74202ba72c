"""Milliseconds per training step in float32 and with bfloat16 products (`train.precision`), alternated in one process.

Not a test: it prints figures. The default model (2,000 HVGs, 256 hidden units, zinb, batch 256, depth augmentation
on) takes Adam steps on the same 30 training batches, float32 and bfloat16 in turn (`--rounds` times each), so that
the machine's drift falls on both alike. bfloat16 is fast only where the processor computes it natively (x86 with
AVX512-BF16 or AMX), which is where `train.precision: auto` chooses it; the last line says whether this one does.
Run from the repository root:

    python benchmarks/precision_speed.py                    # pbmc3k (if ../shared is present) and 20,000 synthetic cells, 1 and 2 threads
    python benchmarks/precision_speed.py --threads 2 --rounds 2
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from cellvae.data import DataAdapter, preprocess, read_counts
from cellvae.model import VAE
from cellvae.settings import cpu_bfloat16, defaults
from cellvae.train import _autocast, thin_counts
from synthetic import realistic_counts

T = defaults().train  # the shipped training settings: augmentation, learning rate, batch size
PBMC3K = Path(__file__).resolve().parents[2] / "shared" / "data" / "pbmc3k" / "pbmc3k.h5ad"


def step_ms(model, opt, batches, autocast: bool) -> float:
    "Mean milliseconds of one training step (thinning, forward, backward, Adam) over `batches`."
    t = time.perf_counter()
    for b in batches:
        counts = thin_counts(b["counts"], T.depth_augmentation, T.depth_augmentation_min, b.get("nonzero"))
        with _autocast("cpu", autocast):
            out = model(counts, None, kl_weight=1.0, nonzero=b.get("nonzero"))
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    return (time.perf_counter() - t) / len(batches) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads")
    ap.add_argument("--rounds", type=int, default=4, help="alternations of the two precisions (each: the median)")
    args = ap.parse_args()
    sets = [("pbmc3k", lambda: read_counts(PBMC3K))] if PBMC3K.exists() else []
    sets.append(("synthetic 20,000", lambda: realistic_counts(20_000, n_genes=2000, seed=0)))
    for name, load in sets:
        a = load()
        preprocess(a)
        data = DataAdapter.from_anndata(a, seed=0, batch_size=T.batch_size)
        batches = [b for _, b in zip(range(30), data.train_batches(0))]
        for threads in args.threads:
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            model = VAE(data.n_genes).train()
            opt = torch.optim.Adam(model.parameters(), lr=T.learning_rate, eps=0.01, fused=True)
            step_ms(model, opt, batches[:3], False), step_ms(model, opt, batches[:3], True)  # warm-up
            times = np.array([[step_ms(model, opt, batches, ac) for ac in (False, True)] for _ in range(args.rounds)])
            f32, b16 = np.median(times, axis=0)
            print(f"{name} | {threads} thread(s) | float32 {f32:.1f} ms | bfloat16 {b16:.1f} ms | {f32 / b16:.2f}x")
    print(f"torch {torch.__version__}; native bfloat16 on this CPU: {cpu_bfloat16()}")


if __name__ == "__main__":
    main()
