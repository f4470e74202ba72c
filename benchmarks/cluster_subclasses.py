"""The cortex (`zeisel`) clustered and scored against its 47 published subclasses as well as its 7 classes.

Not a test: it prints one line per seed. `cluster.epsilon: 1` finds 23-27 clusters on the cortex, where the benchmark's
labels have 7 classes, and its ARI against them falls; this says whether the extra clusters are the published
subclasses (Zeisel et al. 2015, `obs['subclass']`) or arbitrary cuts. Rules: `cluster.onnx` as fitted by default and
with `cluster.epsilon` 1 (`quality.onnx_labels`: fitted, exported, run with onnxruntime), and Leiden on the latent at
resolutions 0.5, 1.0 and 2.0. Save the latents first, then run from the repository root:

    python benchmarks/quality.py --skip-baselines --datasets zeisel --save-latents /tmp/latents
    python benchmarks/cluster_subclasses.py /tmp/latents
"""
import warnings

import numpy as np

from cluster_levers import latents_args, saved_latents
from cluster_recovery import recovery
from public_data import load_public
from quality import onnx_labels


def main():
    args = latents_args(__doc__)
    warnings.simplefilter("ignore")
    from sklearn.metrics import adjusted_rand_score as ari, normalized_mutual_info_score as nmi
    from cellvae.eval import leiden_clusters
    from cellvae.settings import load_config
    obs = load_public("zeisel").obs
    classes, subclasses = obs["cell_type"].astype(str).to_numpy(), obs["subclass"].astype(str).to_numpy()
    cfgs = {"cluster.onnx": load_config(env={}, profile=False),
            "cluster.onnx, epsilon 1": load_config(env={}, profile=False, overrides={"cluster.epsilon": 1.0})}
    print(f"{len(set(classes))} classes, {len(set(subclasses))} subclasses; per rule: clusters, ARI against the classes, "
          "then ARI / NMI / type recovery against the subclasses")
    for ds, seed, z, y in saved_latents(args.latents, args.name, args.seeds):
        if ds != "zeisel": continue
        assert (y == classes).all(), "the saved latent's cells are not the cortex file's, in order"
        rules = {name: onnx_labels(z, cfg) for name, cfg in cfgs.items()}
        rules |= {f"Leiden {r}": leiden_clusters(z, resolution=r, seed=seed) for r in (0.5, 1.0, 2.0)}
        print(f"seed {seed}: " + " | ".join(f"{k}: {len(set(l))}, {ari(classes, l):.2f}; {ari(subclasses, l):.2f} / "
                                             f"{nmi(subclasses, l):.2f} / {recovery(subclasses, l):.2f}" for k, l in rules.items()), flush=True)


if __name__ == "__main__":
    main()
