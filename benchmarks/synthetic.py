"""Synthetic counts that look like 10x data, for benchmarks: ~7% non-zero, wide library sizes, mostly rare genes.

`cellvae.data.synthetic_counts` draws every gene's abundance from one log-normal(0, 1) and library sizes with sd 0.3 on
the log scale, which leaves ~43% of entries non-zero. Real 10x data is far sparser (pbmc3k: 2.6% over all genes, 9.5%
over its 2,000 HVGs), and sparse kernels, data loading and the likelihood behave differently there, so speed and
quality figures from the old generator do not carry over. `realistic_counts` draws:

- gene abundances log-normal with a large sd, found by bisection so that the expected fraction of non-zero entries is
  `target_density`: most genes are rare (about a fifth are never seen in 20,000 cells, as in a raw 10x matrix) and
  a few carry most counts;
- library sizes log-normal (median 500 over the 2,000 genes, as pbmc3k's HVGs: 477; sd of log 0.55);
- cell types in lineages: 60% of genes belong to one lineage and are nearly off (e^-4) in the others; each type adds
  up and down markers among the abundant genes, so types of one lineage are near each other (PCA-10 kNN F1 ~0.8);
- four continuous programs active in every type, which blur the types;
- negative-binomial noise, with a gene-wise inverse dispersion that grows with abundance.

The 2,000 genes stand for a selection of HVGs, so the median library size is that of pbmc3k's HVGs (477), not of
all its genes (2,200): with it, ~4 counts per non-zero entry (pbmc3k's HVGs: 3.1) and the top 50 genes carry ~67% of
counts (60%). At 2,500 counts over 2,000 genes, 7% non-zero would need ~20 counts per non-zero entry.

Cells are drawn in blocks of 2,048 and stored sparse: 100,000 x 2,000 takes 26 s and 0.55 GB peak.

    from synthetic import realistic_counts, density
    a = realistic_counts(20_000)
    density(a)  # ~0.07
"""
import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

_BLOCK = 2048  # cells drawn at a time; fixed, so that the draw depends on the seed and n_cells only
_OFF = -4.0    # log-fold-change of a lineage's genes in the other lineages (off: ~2% of their level)


def density(adata: ad.AnnData, layer: str | None = "counts") -> float:
    "Fraction of non-zero entries of `adata.layers[layer]` (or of X if there is no such layer)."
    X = adata.layers[layer] if layer in adata.layers else adata.X
    nnz = X.nnz if sp.issparse(X) else np.count_nonzero(X)
    return nnz / (X.shape[0] * X.shape[1])


def _program(rng, genes, n_genes, k, lo, hi):
    "A log-fold-change vector over `n_genes`: `k` of `genes` changed by uniform(lo, hi) on the natural-log scale."
    v = np.zeros(n_genes)
    v[rng.choice(genes, k, replace=False)] = rng.uniform(lo, hi, k)
    return v


def _mean(log_abundance, lib):
    "NB means: each cell's library spread over genes in proportion to exp(log_abundance) (cells x genes)."
    e = np.exp(log_abundance - log_abundance.max(1, keepdims=True))
    return e * (lib / e.sum(1))[:, None]


def _expected_density(mu, theta) -> float:
    "Mean of P(count > 0) under NB(mu, theta) over the entries."
    return float(np.mean(1 - np.exp(theta * (np.log(theta) - np.log(theta + mu)))))


def _calibrate(z, rest, lib, theta, target, lo=0.05, hi=6.0, steps=40) -> float:
    "The sd of log gene abundance giving an expected density of `target` (density falls as the sd grows)."
    f = lambda s: _expected_density(_mean(s * z + rest, lib), theta)
    if not f(hi) <= target <= f(lo):
        raise ValueError(f"target_density={target} is out of reach: between {f(hi):.3f} and {f(lo):.3f} for these library sizes and genes.")
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) > target else (lo, mid)
    return (lo + hi) / 2


def realistic_counts(
    n_cells: int,                  # cells
    n_genes: int = 2000,           # genes
    n_types: int = 8,              # cell types, grouped in lineages
    seed: int = 0,                 # the whole draw is a function of the seed (and n_cells, n_genes, n_types)
    target_density: float = 0.07,  # expected fraction of non-zero entries
    *,
    library_size: float = 500.0,   # median total counts per cell (over these genes: pbmc3k's 2,000 HVGs have 477)
    library_sd: float = 0.55,      # sd of log library size (the realised totals: about the same)
    n_programs: int = 4,           # continuous programs shared by all types
) -> ad.AnnData:
    "Seeded 10x-like raw counts (CSR float32 in X and layers['counts']) with obs['cell_type']."
    if n_cells < 1 or n_genes < 200 or n_types < 2:
        raise ValueError(f"need n_cells >= 1, n_genes >= 200 and n_types >= 2; got {n_cells}, {n_genes}, {n_types}.")
    if not 0 < target_density < 1: raise ValueError(f"target_density must be in (0, 1); got {target_density}.")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n_genes)                              # gene abundance on the log scale, before its sd
    theta = np.clip(np.exp(0.7 * z + rng.normal(0, 0.5, n_genes)), 0.1, 100.0)  # NB inverse dispersion: abundant genes vary less
    n_lineages = max(2, round(np.sqrt(n_types)))
    lineage_of = rng.permutation(np.arange(n_types) % n_lineages)
    owner = rng.choice(n_lineages + 1, n_genes, p=[0.4] + [0.6 / n_lineages] * n_lineages) - 1  # -1: every lineage
    lineage_lfc = np.where((owner[None] >= 0) & (owner[None] != np.arange(n_lineages)[:, None]), _OFF, 0.0)
    expressed = np.flatnonzero(z > 0.5)                           # type markers and programs: genes abundant enough to see
    lfc = np.stack([lineage_lfc[lineage_of[t]] + _program(rng, expressed, n_genes, n_genes // 50, 0.4, 1.6)
                    - _program(rng, expressed, n_genes, n_genes // 100, 0.4, 1.6) for t in range(n_types)])
    loadings = np.stack([_program(rng, expressed, n_genes, n_genes // 40, 0.3, 1.2) for _ in range(n_programs)])
    share = rng.dirichlet(np.ones(n_types)) * 0.9 + 0.1 / n_types  # uneven, none below a tenth of even
    types = rng.choice(n_types, n_cells, p=share / share.sum())
    lib = rng.lognormal(np.log(library_size), library_sd, n_cells)
    activity = rng.normal(0, 0.7, (n_cells, n_programs))
    rest = lambda s: lfc[types[s]] + activity[s] @ loadings         # each cell's log-fold-changes over the gene abundances
    cal = slice(0, min(n_cells, 2000))
    sigma = _calibrate(z, rest(cal), lib[cal], theta, target_density)
    blocks = []
    for i, r in zip(range(0, n_cells, _BLOCK), rng.spawn(-(-n_cells // _BLOCK))):
        s = slice(i, min(i + _BLOCK, n_cells))
        mu = _mean(sigma * z + rest(s), lib[s])
        blocks.append(sp.csr_matrix(r.poisson(r.gamma(theta, mu / theta)).astype(np.float32)))
    X = sp.vstack(blocks, format="csr")
    names = [f"type{t}" for t in range(n_types)]
    obs = pd.DataFrame({"cell_type": pd.Categorical.from_codes(types, names),
                        "lineage": pd.Categorical.from_codes(lineage_of[types], [f"lineage{l}" for l in range(n_lineages)])},
                       index=[f"cell{i}" for i in range(n_cells)])
    adata = ad.AnnData(X=X, obs=obs, var=pd.DataFrame({"lineage": owner}, index=[f"gene{j}" for j in range(n_genes)]))
    adata.layers["counts"] = X.copy()
    adata.uns["realistic_counts"] = {"seed": seed, "target_density": target_density, "gene_log_sd": sigma,
                                     "library_size": library_size, "library_sd": library_sd}
    return adata
