"""Prototype: per-gene weights in the count likelihood (issue #13, eighth round). Not part of the library.

Each HVG's log-likelihood term is multiplied by w_g = mean_g^-alpha (its mean raw count over the cells, normalised to
mean 1 over the genes), so lowly expressed genes, which include the markers of small populations, weigh more, as
scaling does for PCA. The likelihood is scVI's dense ZINB formula (cellvae's fused sparse one has no weights).
Scores as quality.py: kNN / logreg F1-macro (k=15, 5-fold), Leiden ARI, cluster.onnx ARI; seeds 0-2, 1 thread.

    PYTHONPATH=. python benchmarks/results/gene_weights_prototype.py 0.25   # alpha; rows: quality-gene_weights_*-prototype-rows.jsonl
"""
import sys, json, time, numpy as np, torch, torch.nn.functional as F
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import quality, cellvae, cellvae.model as M
from cellvae.settings import load_config
alpha = float(sys.argv[1]); torch.set_num_threads(1)
W = {"w": None}
def weighted_ll(x, mu, theta, pi=None, eps=1e-8, nonzero=None):
    log_theta_mu = torch.log(theta + mu + eps)
    pt = theta * (torch.log(theta + eps) - log_theta_mu)
    nz = x * (torch.log(mu + eps) - log_theta_mu) + torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1)
    if pi is None: ll = pt + nz
    else:
        sp = F.softplus(-pi)
        ll = torch.where(x > eps, -sp - pi + pt + nz, F.softplus(pt - pi) - sp)
    return (ll * W["w"]).sum(-1) if W["w"] is not None else ll.sum(-1)
M.count_log_likelihood = weighted_ll
rows = []
for ds in ("pbmc3k", "pbmc68k", "atlas"):
    raw = quality.load(ds); y = raw.obs["cell_type"].astype(str).to_numpy()
    for seed in (0, 1, 2):
        cfg = load_config(env={}, profile=False, overrides={"seed": seed})
        a = cellvae.preprocess(raw, n_top_genes=cfg.data.n_top_genes, copy=True)
        hv = a.var["highly_variable"].to_numpy()
        import scipy.sparse as sp
        C = a.layers["counts"][:, hv]; m = np.asarray(C.mean(0)).ravel()
        w = np.maximum(m, 1e-3) ** -alpha; w = w / w.mean()
        W["w"] = torch.tensor(w, dtype=torch.float32)
        t = time.perf_counter()
        model = cellvae.CellVAE.from_config(a, cfg, labels_key="cell_type")
        hist = model.train_from_config(cfg, progress=False)
        z = model.get_latent()
        row = dict(dataset=ds, seed=seed, alpha=alpha, epochs=hist.epochs, secs=round(time.perf_counter() - t, 1),
                   **quality.scores(z, y, seed), **quality.onnx_clusters(z, y, cfg))
        rows.append(row); print(json.dumps(row), flush=True)
import pandas as pd
df = pd.DataFrame(rows); print(df.groupby("dataset")[["knn_f1", "logreg_f1", "leiden_ari", "onnx_ari"]].mean().round(3))
print("mean", df.groupby("dataset")[["knn_f1", "logreg_f1"]].mean().mean().round(3).to_dict())
