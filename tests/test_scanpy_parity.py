"""Real data: where cellvae computes what scanpy computes (to skip numba kernels that compile on a machine's first
run), the results equal scanpy's on pbmc3k: the seurat_v3 genes and var columns and the log-normalised X of
`preprocess`, and the marker genes of `cluster_markers` (scanpy's Wilcoxon rank_genes_groups)."""
import warnings

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def pbmc3k():
    import cellvae
    from conftest import PBMC3K
    if not PBMC3K.exists(): pytest.skip(f"real data not found at {PBMC3K} (it lives in ../shared beside the repository)")
    adata = cellvae.read_counts(PBMC3K)
    cellvae.preprocess(adata)
    return adata


@pytest.mark.slow
def test_highly_variable_genes_are_scanpys(pbmc3k):
    import anndata as ad
    import scanpy as sc
    ref = ad.AnnData(pbmc3k.layers["counts"].copy(), var=pd.DataFrame(index=pbmc3k.var_names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.highly_variable_genes(ref, n_top_genes=2000, flavor="seurat_v3")
    pd.testing.assert_frame_equal(pbmc3k.var[ref.var.columns], ref.var, check_exact=True)


@pytest.mark.slow
def test_log_normalised_x_is_scanpys(pbmc3k):
    import anndata as ad
    import scanpy as sc
    ref = ad.AnnData(pbmc3k.layers["counts"].copy())
    sc.pp.normalize_total(ref, target_sum=1e4)
    sc.pp.log1p(ref)
    assert (pbmc3k.X != ref.X).nnz == 0 and pbmc3k.X.dtype == ref.X.dtype


@pytest.mark.slow
def test_markers_are_scanpys_wilcoxon(pbmc3k):
    import anndata as ad
    import scanpy as sc
    from cellvae.explain import cluster_markers
    ours = cluster_markers(pbmc3k, "cell_type", n_genes=25)
    detected = np.asarray((pbmc3k.X != 0).sum(0)).ravel() >= 3  # cluster_markers' min_cells
    light = ad.AnnData(pbmc3k.X[:, detected], var=pd.DataFrame(index=pbmc3k.var_names[detected]),
                       obs=pd.DataFrame({"group": pd.Categorical(pbmc3k.obs["cell_type"].astype(str))}, index=pbmc3k.obs_names))
    light.uns["log1p"] = {"base": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.rank_genes_groups(light, "group", method="wilcoxon", use_raw=False, n_genes=25)
    theirs = sc.get.rank_genes_groups_df(light, group=None)
    assert list(ours.group) == list(theirs.group.astype(str)) and list(ours.gene) == list(theirs.names)
    np.testing.assert_array_equal(ours.score.to_numpy(), theirs.scores.to_numpy())
    np.testing.assert_allclose(ours.logfoldchange.to_numpy(), theirs.logfoldchanges.to_numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.pval_adj.to_numpy(), theirs.pvals_adj.to_numpy(), rtol=1e-9, atol=0)
