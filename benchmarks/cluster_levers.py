"""Cluster levers for issue #13: what HDBSCAN sees, and how its tree is cut, against Leiden on the same latents.

Not a test: it prints a table. It reads latents saved by `benchmarks/quality.py --save-latents DIR` (one
`<name>-<dataset>-<seed>.npz` per run, with `latent` and `labels`) and scores each clustering rule by ARI
against the cell types, mean over the seeds (number of clusters in brackets):

    python benchmarks/quality.py --skip-baselines --save-latents /tmp/latents      # the default model's latents
    python benchmarks/cluster_levers.py /tmp/latents --name default

Rules (noise cells, where a rule leaves any, join their Euclidean-nearest clustered cell; cellvae's `assign_noise`
uses the mutual-reachability-nearest one, so its row here approximates cluster.onnx, whose own ARI is in quality.md):
- leiden: `cellvae.eval.leiden_clusters` at resolution 0.5 and 1.0, and the better of the two for each run
  (the baseline of #13, which picks the resolution with the labels);
- hdbscan: cellvae's rule (leaf selection, `min_cluster_size` 0.5% of the cells with a floor of 10,
  `min_samples` 10) on the latent;
- smooth: the same HDBSCAN on the latent averaged over each cell's k nearest neighbours, `steps` times;
- umap: HDBSCAN on a UMAP of the latent (30 neighbours, min_dist 0, 2 or 10 components), as umap's docs
  suggest for clustering;
- diffmap: HDBSCAN on scanpy's diffusion map of the latent's 15-neighbour graph (10 or 20 components);
- merge: fine HDBSCAN leaves (min_cluster_size 0.1-0.5%, min_samples 5 or 10) merged greedily while the
  modularity of the latent's 15-neighbour graph (the objective Leiden optimises) rises, at resolution
  0.5 or 1.0. A leaf-to-cluster table on top of HDBSCAN would stay exportable to ONNX.
"""
import argparse
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from quality import DATASETS  # the labelled datasets quality.py saves latents of


def latents_args(doc: str, name: str = "default", blobs: bool = False) -> argparse.Namespace:
    "The command line of a script that reads `saved_latents`: the folder, the configuration's name, the seeds (and `--blobs`)."
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("latents", type=Path, help="the folder of quality.py --save-latents")
    ap.add_argument("--name", default=name, help="the configuration's name in the file names")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    if blobs: ap.add_argument("--blobs", action="store_true", help="also the 8 Gaussian-blob sets of cluster_diffusion.py")
    return ap.parse_args()


def saved_latents(folder: Path, name: str, seeds):
    "(dataset, seed, latent, labels) of each `quality.py --save-latents` file NAME-DATASET-SEED.npz in `folder`; missing ones are skipped."
    for ds in DATASETS:
        for seed in seeds:
            f = folder / f"{name}-{ds}-{seed}.npz"
            if not f.exists():
                print(f"{f}: not found, skipped"); continue
            d = np.load(f, allow_pickle=True)
            yield ds, seed, d["latent"], d["labels"].astype(str)


def assign_noise(x, lab):
    "Noise (-1) cells take the label of their Euclidean-nearest clustered cell."
    from sklearn.neighbors import NearestNeighbors
    lab = lab.copy()
    if (lab < 0).any() and (lab >= 0).any():
        i = NearestNeighbors(n_neighbors=1).fit(x[lab >= 0]).kneighbors(x[lab < 0])[1][:, 0]
        lab[lab < 0] = lab[lab >= 0][i]
    return lab


def hdbscan_labels(x, min_cluster_size, min_samples=10, selection="leaf"):
    import hdbscan
    c = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, cluster_selection_method=selection).fit(x)
    return assign_noise(x, c.labels_)


def smooth(x, k, steps):
    "Each cell replaced by the mean of its k nearest neighbours (itself included), `steps` times."
    from sklearn.neighbors import NearestNeighbors
    idx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x)[1]
    for _ in range(steps): x = x[idx].mean(1)
    return x


def modularity_merge(conn, leaves, resolution=1.0):
    "Merge clusters greedily (largest modularity gain first) while the graph's modularity rises."
    n_leaves = leaves.max() + 1
    member = sp.csr_matrix((np.ones(len(leaves)), (np.arange(len(leaves)), leaves)), shape=(len(leaves), n_leaves))
    A = np.asarray((member.T @ conn @ member).todense()); two_m = A.sum(); d = A.sum(1)
    groups = {i: [i] for i in range(n_leaves)}
    while len(groups) > 1:
        keys = list(groups)
        gain = A[np.ix_(keys, keys)] / two_m - resolution * np.outer(d[keys], d[keys]) / two_m**2
        np.fill_diagonal(gain, -np.inf)
        i, j = np.unravel_index(np.argmax(gain), gain.shape)
        if gain[i, j] <= 0: break
        a, b = keys[i], keys[j]
        A[a] += A[b]; A[:, a] += A[:, b]; A[b] = 0; A[:, b] = 0; d[a] += d[b]; d[b] = 0
        groups[a] += groups.pop(b)
    table = np.empty(n_leaves, int)
    for g, members in enumerate(groups.values()): table[members] = g
    return table[leaves]


def rules(z, seed):
    "Every rule's labels for one latent: {name: labels}."
    import anndata as ad
    import scanpy as sc
    import umap
    from cellvae.eval import leiden_clusters, neighbor_graph
    n, out = len(z), {}
    mcs = lambda f: max(10, int(f * n))
    out["leiden 0.5"], out["leiden 1.0"] = (leiden_clusters(z, resolution=r, seed=seed) for r in (0.5, 1.0))
    out["hdbscan (cellvae's rule)"] = hdbscan_labels(z, mcs(0.005))
    for k, steps in ((15, 1), (30, 2)):
        for sel in ("leaf", "eom"): out[f"smooth k={k} x{steps} {sel}"] = hdbscan_labels(smooth(z, k, steps), mcs(0.005), selection=sel)
    for nc in (2, 10):
        u = umap.UMAP(n_components=nc, n_neighbors=30, min_dist=0.0, random_state=seed).fit_transform(z)
        for f in (0.005, 0.02):
            for sel in ("leaf", "eom"): out[f"umap-{nc} mcs {f:.1%} {sel}"] = hdbscan_labels(u, mcs(f), selection=sel)
    a = ad.AnnData(z.astype(np.float32)); sc.pp.neighbors(a, n_neighbors=15, use_rep="X")
    for nc in (10, 20):
        sc.tl.diffmap(a, n_comps=nc + 1); e = a.obsm["X_diffmap"][:, 1:]
        for f in (0.01, 0.02): out[f"diffmap-{nc} mcs {f:.0%} leaf"] = hdbscan_labels(e, mcs(f))
    conn = neighbor_graph(z, n_neighbors=15)[2]
    for f, ms in ((0.001, 5), (0.002, 10), (0.005, 5)):
        fine = hdbscan_labels(z, max(5, int(f * n)), ms)
        for r in (0.5, 1.0): out[f"merge leaves {f:.1%} ms {ms} res {r}"] = modularity_merge(conn, fine, r)
    return out


def main():
    args = latents_args(__doc__)
    warnings.simplefilter("ignore")
    from sklearn.metrics import adjusted_rand_score
    scores = {}  # rule -> dataset -> [(ari, clusters)]
    for ds, s, z, y in saved_latents(args.latents, args.name, args.seeds):
        labels = rules(z, s)
        best = max(("leiden 0.5", "leiden 1.0"), key=lambda k: adjusted_rand_score(y, labels[k]))
        labels = {"leiden, the better resolution": labels[best], **labels}
        for k, lab in labels.items(): scores.setdefault(k, {}).setdefault(ds, []).append((adjusted_rand_score(y, lab), len(set(lab))))
        print(f"scored {ds} seed {s}", flush=True)
    print(f"\nARI against the cell types, mean over seeds {args.seeds} (clusters); latents: {args.latents}/{args.name}-*\n")
    names = [ds for ds in DATASETS if ds in next(iter(scores.values()))]
    print("| rule | " + " | ".join(names) + " | mean |\n|---|" + "---|" * (len(names) + 1))
    for k, per in scores.items():
        m = [np.mean([a for a, _ in per[ds]]) for ds in names]
        c = [np.mean([n for _, n in per[ds]]) for ds in names]
        print(f"| {k} | " + " | ".join(f"{a:.3f} ({n:.1f})" for a, n in zip(m, c)) + f" | {np.mean(m):.3f} |")


if __name__ == "__main__":
    main()
