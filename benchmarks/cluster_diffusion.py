"""HDBSCAN on the latent or on its diffusion map: ARI against known labels, on saved latents and on Gaussian blobs.

Not a test: it prints figures. Save the latents first, then run from the repository root:

    python benchmarks/quality.py --skip-baselines --save-latents /tmp/latents
    python benchmarks/cluster_diffusion.py /tmp/latents            # ~3 min

The rules (each fitted on every cell, noise then given to the Euclidean-nearest clustered cell, as
`cluster_levers.py` does; `cluster.onnx` assigns it by mutual reachability instead):
- latent: HDBSCAN on the latent itself, leaf clusters of 0.5% of the cells (`fit_clusters(space="latent")`);
- diffusion t=T mcs F: HDBSCAN on `cellvae.diffusion.DiffusionMap`'s coordinates (20 components, 15 neighbours,
  every cell placed by the Nystrom extension, as `cluster.onnx` does), scaled by lambda^T, leaf clusters of a
  fraction F of the cells; t=16 at 2% is `fit_clusters`' default.

Datasets: the latents `quality.py --save-latents` wrote (NAME-DATASET-SEED.npz: pbmc3k, pbmc68k, atlas) and
8 sets of Gaussian blobs with a known answer (2,000 cells in 6 blobs in 5-d or 12 in 10-d, seeds 0-3, plus 10%
uniform background cells, which are left out of the ARI).
"""
import warnings
from pathlib import Path

import numpy as np

from cluster_levers import DATASETS, hdbscan_labels, latents_args, saved_latents  # the same leaf HDBSCAN and noise assignment


def hdbscan_leaf(x, share):
    "Leaf clusters of `share` of the cells (at least 10), min_samples 10, noise to the nearest clustered cell."
    return hdbscan_labels(x, max(10, round(share * len(x))))


def blobs():
    "8 known-answer sets: (name, points, labels of the first n_labelled points, n_labelled)."
    from sklearn.datasets import make_blobs
    for seed in range(4):
        for dim, centers in ((5, 6), (10, 12)):
            rng = np.random.default_rng(seed)
            x, y = make_blobs(2000, n_features=dim, centers=centers, cluster_std=1.5, random_state=seed)
            yield "blobs", np.vstack([x, rng.uniform(x.min(0), x.max(0), (200, dim))]).astype(np.float32), y, 2000


def latents(folder: Path, name: str, seeds):
    "(dataset, latent, labels, cells scored) of each saved latent."
    for ds, _, z, y in saved_latents(folder, name, seeds): yield ds, z, y, len(z)


def main():
    args = latents_args(__doc__, name="cellvae")
    warnings.simplefilter("ignore")
    from sklearn.metrics import adjusted_rand_score
    from cellvae.diffusion import DiffusionMap
    scores = {}  # rule -> dataset -> [(ari, clusters)]
    for ds, z, y, n in [*latents(args.latents, args.name, args.seeds), *blobs()]:
        rules = {"latent, 0.5%": hdbscan_leaf(z, 0.005)}
        dmap = DiffusionMap.fit(z, time=0)
        coords, evals = dmap.transform(z), dmap.evals.numpy()
        for t in (0, 4, 16, 64):
            for share in (0.015, 0.02, 0.03):
                rules[f"diffusion t={t}, {share:.1%}"] = hdbscan_leaf(coords * evals ** t, share)
        for rule, labels in rules.items():
            scores.setdefault(rule, {}).setdefault(ds, []).append((adjusted_rand_score(y, labels[:n]), len(set(labels))))
        print(f"scored {ds}", flush=True)
    names = [ds for ds in (*DATASETS, "blobs") if ds in next(iter(scores.values()))]
    print(f"\nARI against the known labels, mean over runs (clusters); latents: {args.latents}/{args.name}-*\n")
    print("| rule | " + " | ".join(names) + " | mean | worst run |\n|---|" + "---|" * (len(names) + 2))
    for rule, per in sorted(scores.items(), key=lambda kv: -np.mean([np.mean([a for a, _ in r]) for r in kv[1].values()])):
        m = [np.mean([a for a, _ in per[ds]]) for ds in names]
        c = [np.mean([k for _, k in per[ds]]) for ds in names]
        worst = min(a for ds in names for a, _ in per[ds])
        print(f"| {rule} | " + " | ".join(f"{a:.3f} ({k:.1f})" for a, k in zip(m, c)) + f" | {np.mean(m):.3f} | {worst:.3f} |")


if __name__ == "__main__":
    main()
