"""Prototype: per-gene weights in the count likelihood (issue #13, eighth round). Not part of the library.

Each HVG's log-likelihood term is multiplied by w_g = mean_g^-alpha (its mean raw count over the cells, normalised to
mean 1 over the genes), so lowly expressed genes, which include the markers of small populations, weigh more, as
scaling does for PCA. The likelihood is scVI's dense ZINB formula (cellvae's fused sparse one has no weights).
Scores as quality.py: kNN / logreg F1-macro (k=15, 5-fold), Leiden ARI, cluster.onnx ARI; seeds 0-2, 1 thread.

    PYTHONPATH=. python benchmarks/results/gene_weights_prototype.py 0.25   # alpha; rows: quality-gene_weights_*-prototype-rows.jsonl
"""
import sys, numpy as np, torch, torch.nn.functional as F
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import quality, cellvae.model as M
alpha = float(sys.argv[1])
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
def prepare(a):
    "Each HVG's weight from its mean count in this dataset."
    m = np.asarray(a.layers["counts"][:, a.var["highly_variable"].to_numpy()].mean(0)).ravel()
    w = np.maximum(m, 1e-3) ** -alpha
    W["w"] = torch.tensor(w / w.mean(), dtype=torch.float32)
quality.prototype(dict(alpha=alpha), prepare)
