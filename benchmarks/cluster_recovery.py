"""Clusters scored two ways on saved latents: ARI, and how well each known type is found by some one cluster.

Not a test: it prints a table. ARI rewards matching the large types and barely sees a rare one merged away; the
recovery score here is the mean over types of the best F1 of any single cluster against that type (a type no cluster
isolates scores low whatever its size). Save the latents first, then run from the repository root:

    python benchmarks/quality.py --skip-baselines --save-latents /tmp/latents
    python benchmarks/cluster_recovery.py /tmp/latents            # ~3 min for five datasets
    python benchmarks/cluster_recovery.py /tmp/latents --blobs    # and the 8 Gaussian-blob sets of cluster_diffusion.py

Rules: `cluster.onnx` as cellvae fits it by default (`fit_clusters`' rule, exported and run with onnxruntime, noise
assigned by mutual reachability), and the same with `cluster.epsilon: 1` (leaf clusters from 0.5% of the cells,
merged below the median core distance); HDBSCAN on the latent's diffusion map at t = 16 (as `cluster.onnx` fits it; min_samples 10, noise to the
Euclidean-nearest clustered cell, as `cluster_diffusion.py` does): leaf clusters of at least 1, 1.5, 2 (the default)
or 3% of the cells, and excess-of-mass clusters of at least 0.5, 1 or 2%; and Leiden on the latent at resolutions 0.5
and 1.0 (`cellvae.eval.leiden_clusters`).
"""
import warnings

import numpy as np

from cluster_diffusion import blobs
from cluster_levers import hdbscan_labels, latents_args, saved_latents
from quality import onnx_labels


def recovery(y: np.ndarray, labels: np.ndarray) -> float:
    "Mean over the types in `y` of the best F1 of any one cluster in `labels` against that type."
    types, yi = np.unique(y, return_inverse=True)
    _, li = np.unique(labels, return_inverse=True)
    both = np.zeros((len(types), li.max() + 1))
    np.add.at(both, (yi, li), 1)
    f1 = 2 * both / (both.sum(1, keepdims=True) + both.sum(0, keepdims=True))
    return float(f1.max(1).mean())


def main():
    args = latents_args(__doc__, blobs=True)
    warnings.simplefilter("ignore")
    from sklearn.metrics import adjusted_rand_score
    from cellvae.diffusion import DiffusionMap
    from cellvae.eval import leiden_clusters
    from cellvae.settings import load_config
    cfg = load_config(env={}, profile=False)
    cfg_eps = load_config(env={}, profile=False, overrides={"cluster.epsilon": 1.0})
    scores = {}  # rule -> dataset -> [(ari, recovery, clusters)]
    sets = [(ds, seed, z, y, len(z)) for ds, seed, z, y in saved_latents(args.latents, args.name, args.seeds)]
    if args.blobs: sets += [(ds, i, x, y, n) for i, (ds, x, y, n) in enumerate(blobs())]  # the first n points labelled
    for ds, seed, z, y, n in sets:
        dmap = DiffusionMap.fit(z, time=0)
        coords = dmap.transform(z) * dmap.evals.numpy() ** 16
        size = lambda share: max(10, round(share * len(z)))
        rules = {"cluster.onnx (the default rule)": onnx_labels(z, cfg)}
        rules["cluster.onnx, epsilon 1 (cluster.epsilon: 1)"] = onnx_labels(z, cfg_eps)
        rules |= {f"HDBSCAN leaf, {share:.1%}": hdbscan_labels(coords, size(share)) for share in (0.01, 0.015, 0.02, 0.03)}
        rules.update({f"HDBSCAN eom, {share:.1%}": hdbscan_labels(coords, size(share), selection="eom") for share in (0.005, 0.01, 0.02)})
        rules.update({f"Leiden {r}": leiden_clusters(z, resolution=r, seed=seed) for r in (0.5, 1.0)})
        for rule, lab in rules.items():
            scores.setdefault(rule, {}).setdefault(ds, []).append((adjusted_rand_score(y, lab[:n]), recovery(y, lab[:n]), len(set(lab))))
        print(f"scored {ds} seed {seed}", flush=True)
    names = list(next(iter(scores.values())))
    print(f"\nARI / type recovery (clusters), mean over seeds {args.seeds}; latents: {args.latents}/{args.name}-*\n")
    print("| rule | " + " | ".join(names) + " | mean |\n|---|" + "---|" * (len(names) + 1))
    for rule, per in scores.items():
        cells = [np.mean(per[ds], 0) for ds in names]
        print(f"| {rule} | " + " | ".join(f"{a:.3f} / {r:.3f} ({n:.1f})" for a, r, n in cells)
              + f" | {np.mean([c[0] for c in cells]):.3f} / {np.mean([c[1] for c in cells]):.3f} |")


if __name__ == "__main__":
    main()
